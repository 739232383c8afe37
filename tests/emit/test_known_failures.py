"""Specs archc accepts and then builds wrong, found by generated specs and not fixed yet: each is
an expected failure that must keep failing the way it does (``strict``), so that the fix shows
here, and is then moved to tests/test_differential.py's reproducers."""

from __future__ import annotations

import pytest

import archc

from .agreement import BuildFails, EvalDiffers, agree

KNOWN = [
    ("from_input_under_when", """
archc: 1
name: a
input: [2, 8, 8]
params: {flag: true}
layers:
- n1: conv(3, 1)
- n6: {from: input, layers: [conv(3, 1)], when: flag}
""", EvalDiffers, "a named entry that reads `input` by name under a `when:`: the emitted forward feeds it the "
                  "running value (`out = out if self.n6 is None else self.n6(out)`), so eval fails on 3 channels"),
    ("projection_after_absent_repeat", """
archc: 1
name: c
input: [3, 6, 6]
params: {flag: true}
layers:
- n2: {repeat: 1, each: [conv(2, 1)], when: not flag}
- n3: {residual: {body: [c: conv(4, 1)], shortcut: {downsample: [conv(4, 1)]}}}
""", BuildFails, "a named repeat left out by its `when:`, then a residual with a projection: the emitted "
                 "__init__ reads `in_channels` that nothing assigned (UnboundLocalError)"),
]


@pytest.mark.parametrize("text", [pytest.param(t, id=n, marks=pytest.mark.xfail(raises=f, strict=True, reason=why))
                                  for n, t, f, why in KNOWN])
def test_known_failure(text: str) -> None:
    agree(archc.load("known.yaml", text=text))
