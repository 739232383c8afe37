"""The expansion estimate: a lower bound found before expanding, so that huge specs are
refused before anything is allocated, and no valid spec is refused by mistake."""

from __future__ import annotations

import textwrap
import time

import pytest
from hypothesis import HealthCheck, given, settings

import archc
from archc.diagnostics import ArchcError, Reporter
from archc.ir.lower import Lowerer
from archc.limits import Limits
from archc.spec.expr import ShapeView
from tests.test_fuzz import specs  # the fuzzer's generator of random specs

from .expansion import Estimator
from .walk import Walker

HEAD = "archc: 1\nname: t\ninput: [3, 8, 8]\n"
ABORTS = {"E306", "E600", "E602", "E603", "E604", "E605"}  # errors that stop lowering at once


def lowerer(text: str, limits: Limits | None = None, *, direct: bool = True) -> Lowerer:
    program = archc.load("t.yaml", text=textwrap.dedent(text), limits=limits)
    return (Lowerer if direct else Walker)(program, Reporter(sources=dict(program.sources)), limits=limits)


def refuse(text: str, limits: Limits | None = None) -> tuple[list[str], Lowerer, float]:
    """Lower ``text``, expecting a refusal; return the codes, the lowerer and the seconds it took."""
    low = lowerer(text, limits)
    start = time.perf_counter()
    with pytest.raises(ArchcError) as err:
        low.run()
    return err.value.codes, low, time.perf_counter() - start


EXPONENTIAL = HEAD + "blocks:\n  L0: {layers: [c: conv(3, 1)]}\n" + "".join(
    f"  L{k}: {{repeat: 100, each: L{k - 1}()}}\n" for k in range(1, 10)) + "layers:\n  - s: L9()\n"


def test_exponential_blocks_are_refused_before_any_node_exists() -> None:
    # 100^9 convolutions from twelve lines
    codes, low, seconds = refuse(EXPONENTIAL)
    assert codes == ["E600"]
    assert len(low.graph.nodes) == 1  # refused when only the input node existed
    assert seconds < 0.5
    diag = low.r.diagnostics[0]
    assert diag.span.line == 8  # L3: the first repeat whose bound (100 x 100 x 100 nodes) passes 50,000
    assert "counted before expanding" in diag.notes[-1].message


def test_many_calls_without_repeat_are_refused_too() -> None:
    calls = ", ".join(f"x{k}: L{{k}}()" for k in range(50))
    text = HEAD + "blocks:\n  L0: {layers: [relu]}\n" + "".join(
        f"  L{k}: {{layers: [{calls.replace('{k}', str(k - 1))}]}}\n" for k in range(1, 6)) + "layers:\n  - s: L5()\n"
    codes, low, seconds = refuse(text)
    assert codes == ["E600"] and len(low.graph.nodes) == 1 and seconds < 0.5


def test_a_huge_repeat_of_nothing_is_refused_by_steps() -> None:
    # creates no node at all, but would loop 10^10 times
    text = HEAD + ("layers:\n  - relu\n"
                   "  - {repeat: 100000, each: [{repeat: 100000, each: [{when: false, layers: relu}]}]}\n")
    codes, low, seconds = refuse(text)
    assert codes == ["E605"] and len(low.graph.nodes) == 1 and seconds < 0.5


def test_index_dependent_growth_is_summed_until_it_passes_the_limit() -> None:
    # sum(range(100000)) ~ 5e9 nodes: the estimate adds repeats until it passes 50,000
    text = HEAD + "layers:\n  - s: {repeat: 100000, each: [{repeat: i, each: relu}]}\n"
    codes, low, seconds = refuse(text)
    assert codes == ["E600"] and len(low.graph.nodes) == 1 and seconds < 0.5
    assert "its first" in low.r.diagnostics[0].notes[-1].message


# `input.channels` inside a block is unknown before lowering; the repeat checks when it gets there
WIDE = HEAD + textwrap.dedent("""\
    blocks:
      Wide:
        layers:
          - r: {repeat: input.channels, each: [{repeat: input.channels, each: relu}]}
    layers:
      - c: conv(1000, 1)
      - w: Wide()
    """)


def test_counts_known_only_from_shapes_are_checked_at_the_repeat() -> None:
    codes, low, seconds = refuse(WIDE)
    assert codes == ["E600"]
    assert len(low.graph.nodes) < 10 and seconds < 0.5  # 1000 x 1000 relus were never made


def test_limits_are_exact_at_the_boundary() -> None:
    text = HEAD + "layers:\n  - s: {repeat: 99, each: relu}\n"  # input + 99 nodes
    assert len(archc.lower(archc.load("t.yaml", text=text), limits=Limits(max_nodes=100)).nodes) == 100
    codes, _, _ = refuse(text, Limits(max_nodes=99))
    assert codes == ["E600"]


@pytest.mark.parametrize("name", archc.spec.loader.shipped_names())
def test_estimate_is_a_lower_bound_on_shipped_specs(name: str) -> None:
    # the walk's own counts (the module IR's instantiation does not take steps the same way)
    low = Walker(archc.load(name), Reporter())
    graph = low.run()
    est = Estimator(Limits())
    unit = low.program.unit
    env = {**unit.blocks, **graph.params, "input": ShapeView(graph.input_shape)}
    nodes, steps = est.entries(unit.spec.layers, env)
    assert 0 < nodes + 1 <= len(graph.nodes)
    assert 0 < steps <= low.steps


def test_recursion_gives_no_verdict_and_lowering_reports_it_once() -> None:
    text = HEAD + "blocks:\n  A: {repeat: 100000, each: [a: A()]}\nlayers:\n  - x: A()\n"
    codes, _, seconds = refuse(text)
    assert codes == ["E306"] and seconds < 0.5


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(specs)
def test_estimate_never_exceeds_what_lowering_makes(doc: dict) -> None:
    """The soundness that makes a refusal trustworthy: whatever the estimate counts, lowering makes."""
    import yaml

    text = yaml.safe_dump(doc, sort_keys=False)
    big = Limits(max_nodes=10**12, max_steps=10**12, max_repeat=2000)
    try:
        # the walk's own counts (the module IR's instantiation, which lowers a spec with an error too
        # now, does not take steps the same way)
        low = lowerer(text, big, direct=False)
    except ArchcError:
        return
    try:
        low.run()
    except ArchcError as err:
        if set(err.codes) & ABORTS:  # lowering stopped early: its counts are partial
            return
        if "E303" in err.codes:  # a clashing name: lowering skips the entry, the estimate counts it as written
            return
    unit = low.program.unit
    if unit.spec.layers is None or low.graph.input_shape == ():
        return
    params_env = low.graph.params
    est = Estimator(big)
    env = {**unit.blocks, **params_env, "input": ShapeView(low.graph.input_shape)}
    try:
        nodes, steps = est.entries(unit.spec.layers, env)
    except Exception as exc:  # GiveUp: no verdict, nothing to compare
        if type(exc).__name__ == "GiveUp":
            return
        raise
    assert nodes + 1 <= len(low.graph.nodes) or (nodes == 0 and not low.graph.nodes)
    assert steps <= low.steps
