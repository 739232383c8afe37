"""Specs archc accepts and then builds wrong, found by generated specs and not fixed yet: each is
an expected failure that must keep failing the way it does (``strict``), so that the fix shows
here, and is then moved to tests/test_differential.py's reproducers."""

from __future__ import annotations

import pytest

import archc

from .agreement import InferenceDiffers, agree

KNOWN = [
    ("dead_in_some_instances_only", """
archc: 1
name: g
input: [1, 8, 8]
blocks:
  B:
    params: {f: true}
    layers:
      - c: conv(1, 1)
      - j: {from: input, when: f}
layers:
  - r: {repeat: 2, each: 'B(i == 0)'}
""", InferenceDiffers, "a layer whose output nothing reads in some instances of its block (where `j` passes the "
                       "input on) and something reads in others: the concrete inference pass drops it where it is "
                       "dead, the IR pass cannot write the class once (E720 'treats the instances of ... "
                       "differently' / 'keeps ... in some instances only'); found by random runs of "
                       "cases(sizes=True) and of blocks with computed strides. The plain network builds and agrees"),
]


@pytest.mark.parametrize("text", [pytest.param(t, id=n, marks=pytest.mark.xfail(raises=f, strict=True, reason=why))
                                  for n, t, f, why in KNOWN])
def test_known_failure(text: str) -> None:
    agree(archc.load("known.yaml", text=text))
