"""Budgets that bound the work and memory of any spec: nesting, steps, sizes, counts.

Each is an error with a location, never a crash: in particular, however deeply a spec
nests blocks and containers, archc reports E604 (or E103 while reading) and never runs
out of Python stack, including with raised limits.
"""

from __future__ import annotations

import pytest

import archc
from archc.diagnostics import ArchcError, Reporter
from archc.ir.lower import Lowerer
from archc.limits import Limits
from tests.test_fuzz import hang_guard

from .walk import Walker

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


@pytest.mark.parametrize("form", [form for form in FORMS if form.startswith("block")])
def test_python_s_stack_running_out_is_reported_by_instantiation(form: str) -> None:
    # with a raised limit, the definer defers a block it runs out of stack writing (Instance.stack), and
    # instantiation reports where the stack runs out (E604), as the walk it fell back on did
    make, _ = FORMS[form]
    limits = Limits(max_depth=10**6, max_nesting=10**6)
    low = Lowerer(archc.load("t.yaml", text=make(400), limits=limits), Reporter(), limits=limits)
    with pytest.raises(ArchcError) as err:
        low.run()
    (d,) = err.value.diagnostics
    assert d.code == "E604" and "Python's stack" in (d.hint or "")


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


def test_lists_are_bounded_so_doubling_cannot_explode() -> None:
    # b: a + a, c: b + b, ...: thirty doublings of ten values would be 10 * 2^30 values
    params = "{a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]" + "".join(
        f", p{k}: {'a' if k == 0 else f'p{k - 1}'} + {'a' if k == 0 else f'p{k - 1}'}" for k in range(30)) + "}"
    assert "E404" in codes(HEAD + f"params: {params}\nlayers: [relu]\n", Limits())


def test_hundreds_of_errors_stop_lowering_and_suggestions_stay_cheap() -> None:
    # 3,000 blocks and 3,000 calls of unknown blocks: a did-you-mean over every block for every
    # call took 53 s; lowering now stops when the reporter is full, and suggestions are bounded
    text = HEAD + "blocks:\n" + "".join(f"  B{k}: {{layers: [relu]}}\n" for k in range(3000)) + "layers:\n" + "".join(
        f"  - x{k}: Bx{k}()\n" for k in range(3000))
    with hang_guard(20):
        found = codes(text, Limits())
    assert found == ["E300"] * 200  # the reporter keeps 200


def test_the_blocks_a_did_you_mean_offers_are_listed_once_per_scope() -> None:
    # the module IR lists them for each call of nothing (its E300's candidates): once per call, 3,000
    # calls in a file of 3,000 blocks went over 9 million names (3.7 s instead of 1.2)
    class Counted(dict):  # the file's blocks, counting how often they are gone over
        passes = 0

        def __iter__(self):  # type: ignore[no-untyped-def]
            Counted.passes += 1
            return super().__iter__()

    text = HEAD + "blocks:\n" + "".join(f"  B{k}: {{layers: [relu]}}\n" for k in range(300)) + "layers:\n" + "".join(
        f"  - x{k}: Bx{k}()\n" for k in range(300))
    program = archc.load("t.yaml", text=text)
    object.__setattr__(program.unit, "blocks", Counted(program.unit.blocks))
    with pytest.raises(ArchcError) as err:
        archc.lower(program)
    assert err.value.codes == ["E300"] * 200
    assert Counted.passes < 30  # not once per call


def test_many_uses_of_a_shared_module_are_named_in_linear_time() -> None:
    # the k-th use of a shared relu looked for a free name from 1 up: 40,000 uses took minutes
    text = HEAD + ("layers:\n  - a: conv(3, 1)\n  - {repeat: 20000, each: relu}\n"
                   "  - {repeat: 20000, each: 'dropout(i * 0.00001)'}\n")
    with hang_guard(30):
        graph = archc.lower(archc.load("t.yaml", text=text))
    assert "relu#19999" in graph.nodes and "dropout_19999" in graph.nodes


def test_block_instances_share_the_file_s_names_instead_of_copying_them() -> None:
    # copying every block of the file into each instance's names took 4.7 GB for 45,000 instances of
    # a file with 3,000 blocks
    from collections import ChainMap

    text = HEAD + "blocks:\n" + "".join(f"  B{k}: {{layers: [relu]}}\n" for k in range(50)) + (
        "layers:\n  - s: {repeat: 3, each: B0()}\n")
    program = archc.load("t.yaml", text=text)
    # the walk (archc/ir/lower.py), which lowering falls back on where the module IR cannot vouch
    graph = Walker(program, Reporter()).run()
    instances = [s for s in graph.scopes.values() if s.block == "B0"]
    assert len(instances) == 3
    for scope in instances:
        assert isinstance(scope.env, ChainMap) and any(m is program.unit.blocks for m in scope.env.maps)
    # the module IR's instantiation, lowering's graph here, keeps no names at all
    graph = archc.lower(program)
    assert graph.derivation is not None
    assert [s.env for s in graph.scopes.values() if s.block == "B0"] == [None] * 3


def test_a_chain_far_past_the_limit_is_reported_by_instantiation() -> None:
    # the module IR's definer wrote every block of a chain before instantiating it: 90 of them ran out
    # of Python's stack under pytest and lowering fell back on the walk. A call past the limit wherever
    # it runs is now deferred to where it runs (Instance.deferred), which instantiation never reaches
    for n in (90, 150, 400):
        low = Lowerer(archc.load("t.yaml", text=chain(n, "layers: [b: {prev}]")), Reporter())
        with pytest.raises(ArchcError) as err:
            low.run()
        assert err.value.codes == ["E604"]


def never_called(n: int, also: str = "") -> str:
    """A chain of n blocks behind a `when:` that is false by default, and ``also`` after it."""
    blocks = "".join(f"  B{k}: {{layers: [b: B{k - 1}()]}}\n" for k in range(1, n))
    return (HEAD + "params: {deep: false}\nblocks:\n  B0: {layers: [r: relu]}\n" + blocks
            + f"layers:\n  - c: conv(3, 1)\n  - {{when: deep, layers: [s: B{n - 1}()]}}\n" + also)


def test_compile_refuses_a_chain_past_the_limit_that_is_never_called_instead_of_crashing() -> None:
    # valid as it stands (the chain is called only with deep=true, E604 then); compiling it ran the
    # definer out of Python's stack: "internal error: RecursionError"
    program = archc.load("t.yaml", text=never_called(200))
    assert archc.analyze(program).totals.params == 12
    with pytest.raises(ArchcError) as err:
        archc.compile_source(program)
    (d,) = err.value.diagnostics
    assert d.code == "E720" and "past the nesting limit" in d.message and d.span.line > 60
    assert "max_nesting" in (d.hint or "")
    with pytest.raises(ArchcError) as err:  # raised past what Python's stack allows: refused all the same
        archc.compile_source(program, limits=Limits(max_nesting=1000))
    assert err.value.codes == ["E720"] and "Python's stack" in str(err.value)
    with pytest.raises(ArchcError) as err:
        archc.lower(program, deep=True)
    assert err.value.codes == ["E604"]


def test_a_block_written_with_a_call_deferred_is_written_again_where_it_runs_with_more_room() -> None:
    # B60 is first written deep inside the chain that is never called, with its calls past the limit
    # deferred; called from the network itself it fits (61 levels), and is written again there
    import torch

    program = archc.load("t.yaml", text=never_called(115, "  - t: B60()\n"))
    module = archc.build(program)
    depth, m = 0, module.t
    while hasattr(m, "b"):
        depth, m = depth + 1, m.b
    assert depth == 60 and isinstance(m.r, torch.nn.ReLU)
    x = torch.randn(1, 3, 8, 8)
    assert torch.equal(module(x), torch.relu(module.c(x)))


def test_a_repeat_written_out_for_its_values_is_bounded_by_what_it_writes() -> None:
    # a network written for its values (a str parameter chooses a layer) writes every repeat out; one
    # of 60,000 entries that write nothing (`when: false`) was refused as past the node limit, and
    # lowering fell back on the walk
    text = HEAD + """params: {n: 60000, act: "'RE'"}
blocks:
  ConvAct:
    params: {act: str = 'RE'}
    layers: [conv: conv(4, 1), {when: act == 'RE', layers: relu}]
layers:
  - a: ConvAct(act)
  - {repeat: n, each: {when: false, layers: [relu]}}
"""
    program = archc.load("t.yaml", text=text)
    low = Lowerer(program, Reporter())
    graph = low.run()
    assert list(graph.nodes) == ["input", "a.conv", "a.relu"]


UNROLLED = """blocks:
  B:
    params: {mode: str}
    layers: [{when: mode == 'a', layers: relu}]
  E:
    layers: [{when: false, layers: relu}]
layers:
  - conv(4, 1)
  - B('a')
  - B('b')
"""


def test_a_repeat_written_out_past_the_node_limit_is_written_once_where_it_can_be() -> None:
    # a network written for its values (a str parameter varies between calls) writes its repeats out;
    # one whose copies would write more entries than the node limit is written once, its index a
    # symbol, and instantiated as the walk expands it (the walk had lowered it alone)
    program = archc.load("t.yaml", text=HEAD + UNROLLED + "  - {repeat: 150, each: [E(), relu]}\n")
    limits = Limits(max_nodes=200)
    low = Lowerer(program, Reporter(), limits=limits)
    graph = low.run()
    walked = Walker(program, Reporter(), limits=limits).run()
    assert list(graph.nodes) == list(walked.nodes)
    assert [n.shape for n in graph.nodes.values()] == [n.shape for n in walked.nodes.values()]
    assert len(graph.nodes) == 2 + 1 + 150  # input, conv, B('a')'s relu, a relu per repeat (shared: #k)
    # past the node limit, as the walk foresees it: before anything is made
    reporter = Reporter()
    with pytest.raises(ArchcError):
        Lowerer(program, reporter, limits=Limits(max_nodes=100)).run()
    assert [d.code for d in reporter.diagnostics] == ["E600"]
    assert reporter.diagnostics[0].span.line == HEAD.count("\n") + UNROLLED.count("\n") + 1


def test_a_repeat_that_must_be_written_out_past_the_node_limit_is_refused() -> None:
    # each copy calls the str block with another value: it cannot be written once, and written out it
    # passes the node limit's worth of entries: E600 at the repeat, which says why and what to raise
    program = archc.load("t.yaml", text=HEAD + UNROLLED + "  - {repeat: 150, index: i, each: B(['a', 'b'][i % 2])}\n")
    reporter = Reporter()
    low = Lowerer(program, reporter, limits=Limits(max_nodes=100))
    with pytest.raises(ArchcError):
        low.run()
    (diag,) = reporter.diagnostics
    assert diag.code == "E600"
    assert diag.message == "this repeat, written out once per index, writes more than 100 entries"
    assert "--limit max_nodes=N" in (diag.hint or "")
    # within the limit, the same network is lowered: a B per copy, whose relu is there in every other one
    graph = Lowerer(program, Reporter(), limits=Limits(max_nodes=1000)).run()
    walked = Walker(program, Reporter(), limits=Limits(max_nodes=1000)).run()
    assert list(graph.nodes) == list(walked.nodes) == ["input", "0", "1.0", *(f"{k}.0" for k in range(3, 153, 2))]


def test_a_repeat_written_once_whose_shared_module_varies_is_refused() -> None:
    # written once (its copies would write too much), a repeat whose unnamed dropout has other
    # arguments in each repeat cannot share one `self.dropout`: E600 at the repeat, not a crash
    text = HEAD + UNROLLED + "  - {repeat: 150, index: i, each: [dropout(i * 0.001), {when: false, layers: relu}]}\n"
    program = archc.load("t.yaml", text=text.replace("  - conv(4, 1)\n", "  - a: conv(4, 1)\n")
                         .replace("  - B('a')\n  - B('b')\n", "  - b1: B('a')\n  - b2: B('b')\n"))
    reporter = Reporter()
    with pytest.raises(ArchcError):
        Lowerer(program, reporter, limits=Limits(max_nodes=200)).run()
    (diag,) = reporter.diagnostics
    assert diag.code == "E600" and diag.message.endswith("writes more than 200 entries")
    # written out (within the limit), each use is a module of its own, as the walk makes them
    graph = Lowerer(program, Reporter(), limits=Limits(max_nodes=1000)).run()
    walked = Walker(program, Reporter(), limits=Limits(max_nodes=1000)).run()
    assert list(graph.nodes) == list(walked.nodes) and list(graph.nodes)[-1] == "dropout_149"


def test_the_errors_before_a_repeat_refused_so_are_reported_with_it() -> None:
    # an error instantiation met before it reached the repeat is kept, and reported first
    text = HEAD + UNROLLED + "  - {repeat: 150, index: i, each: [dropout(i * 0.001), {when: false, layers: relu}]}\n"
    program = archc.load("t.yaml", text=text.replace(
        "  - conv(4, 1)\n", "  - a: conv(4, 1)\n  - bad: {from: a, layers: conv(4, 99)}\n  - back: {from: a}\n")
        .replace("  - B('a')\n  - B('b')\n", "  - b1: B('a')\n  - b2: B('b')\n"))
    reporter = Reporter()
    with pytest.raises(ArchcError):
        Lowerer(program, reporter, limits=Limits(max_nodes=200)).run()
    assert [d.code for d in reporter.diagnostics] == ["E503", "E600"]
