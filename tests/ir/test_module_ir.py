"""The module IR describes exactly the network lowering checks and counts.

For every spec the repository holds (shipped specs, docs, the suite's own specs, one network
per op sample, the issue-13 reproducers) and for generated specs covering every construct
(tests/specgen.py), the module IR (archc/ir/define.py: each block definition lowered once
with symbols) is instantiated for the spec's parameter values (archc/ir/instantiate.py) and
compared, node by node, with the graph :mod:`archc.ir.lower` gives: same ids in the same
order, ops, attributes, module paths, inputs, shapes, scopes and heads.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import archc
from archc.ir.define import Definer
from archc.ir.graph import Graph
from archc.ir.instantiate import instantiate
from archc.ir.module import Instance, Loop, walk
from archc.spec.loader import shipped_names
from archc.sym import to_python

from ..conftest import ROOT
from ..emit.test_oracle import DOC_BLOCKS, DOC_FILES, OP_CASES, SUITE, op_spec
from ..specgen import Case, cases
from ..test_differential import REPRODUCERS

EXAMPLES = int(os.environ.get("ARCHC_DIFFERENTIAL_EXAMPLES", "300"))


def differences(a: Graph, b: Graph) -> list[str]:
    """What differs between two graphs (empty: the same network, the same names)."""
    out = []
    if list(a.nodes) != list(b.nodes):
        only_a = [n for n in a.nodes if n not in b.nodes][:5]
        only_b = [n for n in b.nodes if n not in a.nodes][:5]
        out.append(f"node ids differ: lowering only {only_a}, module IR only {only_b}; "
                   f"{len(a.nodes)} vs {len(b.nodes)} nodes")
        if only_a or only_b:
            return out
        out.append(f"order: {list(a.nodes)[:40]} vs {list(b.nodes)[:40]}")
    for nid, x in a.nodes.items():
        y = b.nodes.get(nid)
        if y is None:
            continue
        for what in ("op_name", "attrs", "scope", "inputs", "shape", "in_shapes", "module", "training_only", "role"):
            if getattr(x, what) != getattr(y, what):
                out.append(f"{nid}: {what} {getattr(x, what)!r} vs {getattr(y, what)!r}")
    if list(a.scopes) != list(b.scopes):
        out.append(f"scopes differ: {list(a.scopes)[:20]} vs {list(b.scopes)[:20]}")
    for path, s in a.scopes.items():
        t = b.scopes.get(path)
        if t is None:
            continue
        for what in ("kind", "label", "input", "output", "training_only", "block", "args", "mode"):
            if getattr(s, what) != getattr(t, what):
                out.append(f"scope {path}: {what} {getattr(s, what)!r} vs {getattr(t, what)!r}")
    if a.output != b.output:
        out.append(f"output {a.output} vs {b.output}")
    if sorted((h.name, h.node) for h in a.heads) != sorted((h.name, h.node) for h in b.heads):
        out.append(f"heads {a.heads} vs {b.heads}")
    return out


def check(program: Any, **overrides: Any) -> Any:
    graph = archc.lower(program, **overrides)
    definer = Definer(program, graph)
    ir = definer.run()
    again = instantiate(ir, definer.definition, graph.name, graph.params)
    found = differences(graph, again)
    assert not found, "\n".join(found[:30])
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
