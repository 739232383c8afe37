"""The module IR describes exactly the network lowering checks and counts.

For every spec the repository holds (shipped specs, docs, the suite's own specs, one network
per op sample, the issue-13 reproducers) and for generated specs covering every construct
(tests/specgen.py), the module IR (archc/ir/define.py: each block definition lowered once
with symbols) is instantiated for the spec's parameter values (archc/ir/instantiate.py) and
compared, node by node, with the graph the reference walk gives (tests/ir/walk.py, lowering as
it was before the module IR): same ids in the same order, ops, attributes, module paths, inputs,
shapes, scopes and heads.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import archc
from archc.diagnostics import ArchcError, Reporter
from archc.ir.define import Definer
from archc.ir.derive import NotDerivable, derived, differences
from archc.ir.instantiate import instantiate
from archc.ir.module import Instance, Loop, walk
from archc.spec.loader import shipped_names
from archc.sym import to_python

from ..conftest import ROOT
from ..emit.test_oracle import DOC_BLOCKS, DOC_FILES, OP_CASES, SUITE, op_spec
from ..specgen import Case, cases
from ..test_differential import REPRODUCERS
from .walk import Walker

EXAMPLES = int(os.environ.get("ARCHC_DIFFERENTIAL_EXAMPLES", "300"))


def walked(program: Any, **overrides: Any) -> Any:
    """The graph of the reference walk of the spec (tests/ir/walk.py), never the module IR's."""
    return Walker(program, Reporter(sources=dict(program.sources)), overrides=overrides).run()


def check(program: Any, **overrides: Any) -> Any:
    graph = walked(program, **overrides)
    definer = Definer(program, graph)
    ir = definer.run()
    again = instantiate(ir, definer.definition, graph.name, graph.params)
    found = differences(graph, again)
    assert not found, "\n".join(found[:30])
    # what emission is handed: the same IR, checked the same way by the lowering stage
    assert derived(graph).plain.nodes.keys() == graph.nodes.keys()
    # what lowering hands every later stage: the IR's own instantiation, made with the walk's
    # checks, equal to the walk's graph in everything (the notes and the points read by name too)
    made = archc.lower(program, **overrides)
    assert made.derivation is not None, "lowering walked the spec instead of instantiating its module IR"
    found = differences(graph, made)
    assert not found, "\n".join(found[:30])
    assert (made.doc, made.class_name, made.file, made.frozen, made.frozen_norms, [h.name for h in made.heads]) == (
        graph.doc, graph.class_name, graph.file, graph.frozen, graph.frozen_norms, [h.name for h in graph.heads])
    return ir


@pytest.mark.parametrize("name", shipped_names())
def test_shipped_spec(name: str) -> None:
    check(archc.load(name))


@pytest.mark.parametrize("path", DOC_FILES)
def test_doc_spec_file(path: str) -> None:
    check(archc.load(ROOT / path))


@pytest.mark.parametrize(("path", "index", "text"), DOC_BLOCKS, ids=[f"{f}#{k}" for f, k, _ in DOC_BLOCKS])
def test_doc_block(path: str, index: int, text: str) -> None:
    check(archc.load(f"{Path(path).stem}_{index}.yaml", text=text))


@pytest.mark.parametrize(("path", "line", "text"), SUITE, ids=[f"{p}:{n}" for p, n, _ in SUITE])
def test_suite_spec(path: str, line: int, text: str) -> None:
    check(archc.load("suite.yaml", text=text))


@pytest.mark.parametrize(("name", "call", "shapes"), OP_CASES, ids=[f"{c[0]}:{c[1]}" for c in OP_CASES])
def test_op_sample(name: str, call: str, shapes: list[tuple[int, ...]]) -> None:
    check(archc.load("op_sample.yaml", text=op_spec(call, shapes)))


@pytest.mark.parametrize("text", [t for _, t, _, _ in REPRODUCERS], ids=[n for n, _, _, _ in REPRODUCERS])
def test_reproducer(text: str) -> None:
    check(archc.load("repro.yaml", text=text))


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          derandomize=not os.environ.get("ARCHC_DIFFERENTIAL_RANDOM"),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(cases())
def test_generated_spec(tmp_path_factory: pytest.TempPathFactory, case: Case) -> None:
    path = case.write(tmp_path_factory.getbasetemp() / "module_ir")
    try:
        check(archc.load(path), **case.overrides)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{case.show()}") from err


# --- what the module IR says, read as a person would --------------------------------------------


def test_a_bottleneck_is_written_once_with_its_parameters() -> None:
    ir = check(archc.load("resnet50"))
    block = ir.definitions["Bottleneck"]
    assert [p.name for p in block.params] == ["planes", "stride"]
    assert [to_python(d) for d in block.out_shape] == ["planes * 4", "(in_height - 1) // stride + 1",
                                                       "(in_width - 1) // stride + 1"]
    shortcut = [s for s in walk(block.body) if type(s).__name__ == "If"]
    assert [to_python(s.cond) for s in shortcut] == ["stride != 1 or in_channels != planes * 4"]


def test_a_stage_is_a_loop_over_a_block_parameter() -> None:
    ir = check(archc.load("resnet50"))
    stage = ir.definitions["Stage"]
    loops = [s for s in stage.body if isinstance(s, Loop)]
    assert len(loops) == 1 and to_python(loops[0].count) == "depth"
    (inst,) = [s for s in walk(loops[0].body) if isinstance(s, Instance)]
    assert inst.param == "block" and to_python(inst.args["stride"]) == "stride if i == 0 else 1"
    layers = [s for s in ir.network.body if isinstance(s, Instance)]
    assert [to_python(s.args["depth"]) for s in layers] == ["depths[0]", "depths[1]", "depths[2]", "depths[3]"]


# --- specs the module IR cannot write once: still lowered into it, written per instance ---------

PER_INSTANCE = {
    # a str parameter choosing a layer (met by writers of specs from the docs alone), in blocks
    # called directly, through another block's repeat, and in a repeat of the network
    "str parameter": """
        archc: 1
        name: acts
        input: [3, 16, 16]
        blocks:
          Unit:
            params: {c: int, act: str}
            layers:
              - conv: conv(c, 3, padding=1)
              - {when: act == 'RE', layers: [relu]}
              - {when: act == 'HS', layers: [hardswish]}
          Stage:
            params: {n: int, act: str}
            repeat: n
            each: ["Unit(8 * (i + 1), act)"]
        layers:
          - a: Unit(8, 'RE')
          - b: Unit(8, 'HS')
          - s: Stage(3, 'RE')
          - r: {repeat: 2, each: ["Unit(4, 'HS')"]}
          - pool: adaptive_avgpool(1)
    """,
    # a stride of 2 on a size of 1 changes no shape, so the walk adds the identity, where the
    # block written once takes its projection under `stride != 1 or in_channels != planes`
    "projection on a size of 1": """
        archc: 1
        name: tiny
        input: [4, 1, 1]
        blocks:
          Basic:
            params: {planes: int, stride: 1}
            residual:
              body:
                - conv1: conv(planes, 3, stride=stride, padding=1)
              shortcut: {downsample: ["conv(planes, 1, stride=stride)"]}
        layers:
          - a: Basic(4, 2)
          - b: Basic(8, 2)
    """,
}


@pytest.mark.parametrize(("text", "where"), [(PER_INSTANCE["str parameter"], (7, 22)),
                                             (PER_INSTANCE["projection on a size of 1"], (8, 5))],
                         ids=list(PER_INSTANCE))
def test_a_spec_that_cannot_be_written_once_is_still_the_instantiation_of_its_module_ir(
        text: str, where: tuple[int, int]) -> None:
    program = archc.load("spec.yaml", text=textwrap.dedent(text))
    made = archc.lower(program)
    # the graph the table counts is the module IR's, written for these values: the walk's in everything
    assert isinstance(made.derivation, NotDerivable), "lowering walked the spec instead"
    found = differences(walked(program), made)
    assert not found, "\n".join(found[:30])
    # and emission refuses it where the spec says what cannot be written once
    with pytest.raises(ArchcError) as err:
        archc.compile_source(program)
    (d,) = err.value.diagnostics
    assert d.code == "E720" and (d.span.line, d.span.col) == where, d.render(err.value.sources)


PASSED_INLINE = """\
archc: 1
name: t
input: [8, 8, 8]
blocks:
  Q: {inline: true, params: {c: 4}, layers: [relu, 'dropout(0.1)']}
  S:
    params: {blk: block = Q}
    layers: [c: conv(8, 1), blk(c=4), e: conv(8, 1)]
layers:
  - s1: S()
"""


def test_an_inline_block_passed_into_a_list_that_names_its_layers_names_them_after_their_ops() -> None:
    # as a direct call of Q would: the module IR wrote the block passed in its own list's mode and
    # numbered them (s1.1, s1.2), where the walk named them s1.relu, s1.dropout
    program = archc.load("t.yaml", text=PASSED_INLINE)
    check(program)
    assert list(archc.lower(program).nodes) == ["input", "s1.c", "s1.relu", "s1.dropout", "s1.e"]
