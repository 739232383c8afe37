"""The node and step limits in the module IR's instantiation: counted exactly as the walk of
archc/ir/lower.py counts them, and foreseen by a lower bound over the module IR
(archc/ir/estimate.py), so that a network far past a limit is refused before anything is made.

The walk's counts are the reference for the steps (entries visited and repeats made, absent
entries included: docs/untrusted-specs.md); the nodes are the graph's. A lower bound is only
trustworthy if it never exceeds what instantiation makes: that is checked on every shipped
spec, on the fuzzer's specs and on generated specs of every construct.
"""

from __future__ import annotations

import os
import textwrap
import time
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

import archc
from archc.diagnostics import ArchcError, Reporter
from archc.ir import instantiate as inst
from archc.ir.estimate import Estimate, reads
from archc.ir.lower import Lowerer
from archc.ir.module import Loop, walk
from archc.limits import Limits

from ..specgen import Case, cases
from ..test_fuzz import specs as fuzzed_specs
from .test_expansion import EXPONENTIAL, WIDE
from .walk import Walker

EXAMPLES = int(os.environ.get("ARCHC_DIFFERENTIAL_EXAMPLES", "300"))
HEAD = "archc: 1\nname: t\ninput: [3, 8, 8]\n"
BIG = Limits(max_nodes=10**12, max_steps=10**12, max_repeat=2000)


class Seen:
    """What lowering's instantiation counted (its steps), and its lower bound of the network before
    it made anything."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.steps: int | None = None
        self.bound: tuple[int, int] | None = None
        run = inst.Instantiator.run

        def spy(instantiator: inst.Instantiator, params: Any) -> Any:
            if instantiator.limits is not None:  # lowering's, not a pass's
                net = instantiator.ir.network
                self.bound = Estimate(instantiator.ir, BIG).bound(net.body, net.tail, dict(params))
            graph = run(instantiator, params)
            if instantiator.limits is not None:
                self.steps = instantiator.steps
            return graph

        monkeypatch.setattr(inst.Instantiator, "run", spy)


def both(program_text: str | None = None, *, path: Any = None, overrides: Any = None,
         monkeypatch: pytest.MonkeyPatch) -> tuple[Lowerer, Walker, Seen] | None:
    """Lower a valid spec both ways (None where it has an error); what instantiation counted."""
    seen = Seen(monkeypatch)
    load = (lambda: archc.load(path, limits=BIG)) if path is not None else \
        (lambda: archc.load("t.yaml", text=program_text, limits=BIG))
    try:
        program = load()
    except ArchcError:
        return None
    direct = Lowerer(program, Reporter(sources=dict(program.sources)), limits=BIG, overrides=overrides)
    try:
        graph = direct.run()
    except ArchcError:
        return None
    walked = Walker(load(), Reporter(), limits=BIG, overrides=overrides)
    walked.run()
    assert seen.bound is not None and seen.steps is not None
    # the bound holds: never more nodes (the input node aside) or steps than instantiation takes
    assert seen.bound[0] + 1 <= len(graph.nodes) and seen.bound[1] <= seen.steps, (seen.bound, seen.steps)
    return direct, walked, seen


@pytest.mark.parametrize("name", archc.spec.loader.shipped_names())
def test_steps_are_the_walks_and_the_bound_holds_on_shipped_specs(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    found = both(path=name, monkeypatch=monkeypatch)
    assert found is not None
    direct, walked, seen = found
    assert seen.steps == walked.steps  # every entry visited, present or not, and every repeat
    assert len(direct.graph.nodes) == len(walked.graph.nodes)
    assert seen.bound is not None and seen.bound[0] > 0 and seen.bound[1] > 0


@settings(max_examples=EXAMPLES // 2, deadline=None, database=None,
          derandomize=not os.environ.get("ARCHC_DIFFERENTIAL_RANDOM"),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(fuzzed_specs)
def test_steps_are_the_walks_and_the_bound_holds_on_fuzzed_specs(doc: dict) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        found = both(yaml.safe_dump(doc, sort_keys=False), monkeypatch=monkeypatch)
    if found is not None:
        assert found[2].steps == found[1].steps


@settings(max_examples=EXAMPLES // 2, deadline=None, database=None,
          derandomize=not os.environ.get("ARCHC_DIFFERENTIAL_RANDOM"),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(cases())
def test_steps_are_the_walks_and_the_bound_holds_on_generated_specs(tmp_path_factory: pytest.TempPathFactory,
                                                                     case: Case) -> None:
    path = case.write(tmp_path_factory.getbasetemp() / "estimate")
    with pytest.MonkeyPatch.context() as monkeypatch:
        found = both(path=path, overrides=case.overrides, monkeypatch=monkeypatch)
    assert found is not None, case.files[case.main]
    assert found[2].steps == found[1].steps, case.files[case.main]


def refused(text: str, limits: Limits | None = None) -> tuple[Lowerer, float]:
    program = archc.load("t.yaml", text=textwrap.dedent(text), limits=limits)
    low = Lowerer(program, Reporter(sources=dict(program.sources)), limits=limits)
    start = time.perf_counter()
    with pytest.raises(ArchcError):
        low.run()
    return low, time.perf_counter() - start


def test_a_network_far_past_the_node_limit_is_refused_by_instantiation_before_any_node() -> None:
    low, seconds = refused(EXPONENTIAL)
    assert seconds < 0.5
    (diag,) = low.r.diagnostics
    assert diag.code == "E600" and diag.span.line == 8  # L3's repeat: 100 × 100 × 100 nodes
    assert [n.message for n in diag.notes] == [
        *(f"in block 'L{k}'" for k in range(9, 2, -1)),
        # L1: 100 repeats of a step, L0()'s entry and conv: 300 steps; L2: 100 × (2 + 300); L3: 100 × (2 + 30,200)
        "counted before expanding: this repeat makes at least 1,000,000 nodes (100 × 10,000) in 3,020,200 steps"]


def test_a_repeat_of_nothing_is_refused_by_its_steps() -> None:
    low, seconds = refused(HEAD + "layers:\n  - s: {repeat: 100000, each: [{repeat: 100000, "
                                  "each: [{when: false, layers: relu}]}]}\n")
    assert seconds < 0.5
    (diag,) = low.r.diagnostics
    assert diag.code == "E605"
    assert diag.notes[-1].message == ("counted before expanding: this repeat makes at least 0 nodes "
                                      "(100,000 × 0) in 20,000,200,000 steps")


def test_a_count_read_from_a_shape_is_refused_at_its_loop() -> None:
    low, _ = refused(WIDE)
    assert len(low.graph.nodes) < 10
    (diag,) = low.r.diagnostics
    assert diag.code == "E600" and "in block 'Wide' called as 'w'" in diag.notes[0].message


def test_the_limits_are_exact_where_nothing_foresees_them() -> None:
    # a block passed as a parameter is found only where it runs: the bound counts none of its nodes,
    # and instantiation stops at the node one past the limit, as the walk's exact count would
    text = HEAD + """\
blocks:
  R: {layers: [relu, relu]}
  A:
    params: {b: block, n: int}
    repeat: n
    each: [b()]
layers:
  - a: A(R, 30)
"""
    program = archc.load("t.yaml", text=text)
    assert len(archc.lower(program, limits=Limits(max_nodes=61)).nodes) == 61  # the input and 60 relus
    low, _ = refused(text, Limits(max_nodes=60))
    (diag,) = low.r.diagnostics
    assert diag.code == "E600" and diag.span.line == 5 and "counted before" not in diag.notes[-1].message
    # steps: the network's entry, and 30 repeats of a step, the entry `b()` and R's two: 121 in all,
    # which the walk counts too (it refuses 120 before expanding: its estimate looks into the block passed)
    for lowerer in (Lowerer, Walker):
        assert lowerer(archc.load("t.yaml", text=text), Reporter(), limits=Limits(max_steps=121)).run()
        with pytest.raises(ArchcError) as err:
            lowerer(archc.load("t.yaml", text=text), Reporter(), limits=Limits(max_steps=120)).run()
        assert err.value.codes == ["E605"]
    low, _ = refused(text, Limits(max_steps=120))
    assert "counted before" not in low.r.diagnostics[0].notes[-1].message


def test_an_index_read_anywhere_is_found() -> None:
    program = archc.load("t.yaml", text=HEAD + "layers:\n  - s: {repeat: 3, each: [{repeat: i, each: relu}]}\n"
                                              "  - t: {repeat: 3, each: [{when: i > 0, layers: relu}]}\n"
                                              "  - u: {repeat: 3, each: relu}\n", limits=BIG)
    low = Lowerer(program, Reporter(), limits=BIG)
    low.run()
    ir = low.graph.derivation.ir  # type: ignore[union-attr]
    loops = [st for st in walk(ir.network.body) if isinstance(st, Loop)]
    # s's loop (the inner count is i), the inner one (its relu reads no index), t's (a condition), u's
    assert [reads(loop.body, loop.index) for loop in loops] == [True, False, True, False]
