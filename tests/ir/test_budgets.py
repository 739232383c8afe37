"""Budgets that bound the work and memory of any spec: nesting, steps, sizes, counts.

Each is an error with a location, never a crash: in particular, however deeply a spec
nests blocks and containers, archc reports E604 (or E103 while reading) and never runs
out of Python stack, including with raised limits.
"""

from __future__ import annotations

import pytest

import archc
from archc.diagnostics import ArchcError
from archc.limits import Limits

EXPR = "-" * 190 + "1"  # an expression near the default limit of parts, evaluated at the innermost level
HEAD = "archc: 1\nname: t\ninput: [3, 8, 8]\n"


def chain(n: int, body: str) -> str:
    """n blocks, each calling the previous one through ``body`` (with {prev} in it)."""
    lines = [HEAD + "blocks:", f"  B0: {{params: {{k: {EXPR}}}, layers: [r: relu]}}"]
    lines += [f"  B{k}: {{{body.format(prev=f'B{k - 1}()')}}}" for k in range(1, n)]
    return "\n".join(lines) + f"\nlayers:\n  - s: B{n - 1}()\n"


def nested(n: int, form: str) -> str:
    inner = f"{{repeat: {EXPR} + 2, each: relu}}"
    for _ in range(n):
        inner = form.format(inner=inner)
    return HEAD + f"layers:\n  - {inner}\n"


# (spec for nesting level n, nesting counted for it): every way of nesting lowering knows
FORMS = {
    "block layers": (lambda n: chain(n, "layers: [b: {prev}]"), lambda n: n),
    "block parallel": (lambda n: chain(n, "parallel: {{a: {prev}}}"), lambda n: n),
    "block residual": (lambda n: chain(n, "residual: {{body: [b: {prev}]}}"), lambda n: n),
    "block repeat": (lambda n: chain(n, "repeat: 1, each: [{{layers: [{prev}]}}]"), lambda n: 2 * n - 1),
    "layers": (lambda n: nested(n, "{{layers: [{inner}]}}"), lambda n: n + 1),
    "sequential": (lambda n: nested(n, "{{a: [{inner}]}}"), lambda n: n + 1),
    "parallel": (lambda n: nested(n, "{{parallel: {{a: {inner}}}}}"), lambda n: n + 1),
    "residual": (lambda n: nested(n, "{{residual: {{body: [r: {inner}]}}}}"), lambda n: n + 1),
    "repeat": (lambda n: nested(n, "{{repeat: 1, each: [{inner}]}}"), lambda n: n + 1),
}


def codes(text: str, limits: Limits) -> list[str]:
    try:
        archc.lower(archc.load("t.yaml", text=text, limits=limits), limits=limits)
    except ArchcError as err:
        return err.codes
    return []


@pytest.mark.parametrize("form", list(FORMS))
def test_nesting_up_to_the_default_limit_works_and_beyond_is_e604(form: str) -> None:
    make, depth = FORMS[form]
    limits = Limits(max_depth=10_000)  # let YAML nest as deep as the expansion
    n = max(k for k in range(1, 200) if depth(k) <= limits.max_nesting)
    assert codes(make(n), limits) == []  # the deepest allowed nesting fits on Python's stack
    assert codes(make(n + 1), limits) == ["E604"]


@pytest.mark.parametrize("form", list(FORMS))
def test_raised_limits_still_give_a_diagnostic_not_a_crash(form: str) -> None:
    make, _ = FORMS[form]
    limits = Limits(max_depth=10**6, max_nesting=10**6)
    assert codes(make(400), limits) in (["E604"], ["E103"])


def test_the_e604_diagnostic_points_into_the_chain() -> None:
    with pytest.raises(ArchcError) as err:
        archc.lower(archc.load("t.yaml", text=chain(100, "layers: [b: {prev}]")))
    (d,) = err.value.diagnostics
    assert d.code == "E604" and d.span.line == 41  # the 65th nested call (to B35), written in B36 on line 41
    assert any("more levels" in n.message for n in d.notes)  # the chain of 64 calls, shortened


def test_tensor_sizes_are_bounded() -> None:
    def first(text: str, **limits: int) -> str:
        return codes(HEAD.replace("[3, 8, 8]", "[3, 32, 32]") + text, Limits(**limits))[0]

    assert first("layers:\n  - c: conv(1000000000, 1)\n") == "E601"
    assert first("layers:\n  - c: conv(4, 1, padding=10000000)\n") == "E601"
    assert first("layers:\n  - c: conv(4, 1, padding=100000000)\n") == "E602"  # MACs are counted first
    assert first("layers:\n  - c: conv(4096, 1)\n", max_numel=1_000_000) == "E601"
    assert first("layers:\n  - flatten\n  - fc: linear(100000000)\n") == "E601"
    assert codes("archc: 1\nname: t\ninput: [3, 100000000, 100000000]\nlayers: [relu]\n", Limits()) == ["E601"]


def test_parameters_and_macs_are_bounded() -> None:
    text = HEAD + "layers:\n  - c: conv(4096, 7)\n  - d: conv(4096, 1)\n"
    assert codes(text, Limits(max_params=10**6)) == ["E602"]
    assert codes(text, Limits(max_macs=10**6)) == ["E602"]


def test_a_numel_error_says_numel() -> None:
    with pytest.raises(ArchcError) as err:
        archc.lower(archc.load("t.yaml", text=HEAD + "layers:\n  - c: conv(4096, 1)\n"),
                    limits=Limits(max_numel=100_000))
    assert "elements" in err.value.diagnostics[0].message
