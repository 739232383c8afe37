"""Folding rules: what the diagram of a network shows at each level of detail.

The structure is checked against the networks' definitions (ResNet-50: 3-4-6-3
bottlenecks per stage, a projection shortcut only in the first block of each stage,
He et al. 2016, Table 1 and §3.3; GoogLeNet: nine Inception modules and two auxiliary
classifiers, Szegedy et al. 2015, Table 1 and §5); figures of folded boxes are
checked against `archc table`'s rows for the same module path, computed here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import archc
from archc.analysis.report import analyze_graph
from archc.diagnostics import ArchcError
from archc.render import build, draw
from archc.render.fold import Cluster, Item, Options, View

SMALL = Path(__file__).parent / "golden" / "small.yaml"


@pytest.fixture(scope="module")
def resnet50():
    return archc.lower("resnet50")


@pytest.fixture(scope="module")
def googlenet():
    return archc.lower("googlenet")


def boxes(level: list[Item | Cluster]) -> list[Item]:
    return [x for x in level if isinstance(x, Item)]


def cluster(view: View, path: str) -> Cluster:
    found = [c for c in view.clusters if ".".join(c.scope.path) == path]
    assert found, f"no cluster {path}; clusters: {[c.scope.path for c in view.clusters]}"
    return found[0]


def names(items: list[Item]) -> list[str]:
    return [".".join(i.scopes[0].path) if i.scopes else (i.node.id if i.node else i.title) for i in items]


def test_merges_record_their_role(resnet50, googlenet) -> None:
    roles = {n.id: n.role for g in (resnet50, googlenet) for n in g.nodes.values() if n.op_name in ("add", "concat")}
    assert roles["layer1.0:add"] == "residual"
    assert roles["inception3a:concat"] == "parallel"
    assert {n.role for n in resnet50.nodes.values() if n.op_name not in ("add", "concat")} == {""}


def test_full_view_draws_every_node_and_every_block_as_a_cluster(resnet50) -> None:
    view = build(resnet50)
    ops = [i for i in view.items if i.kind in ("op", "input")]
    assert len(ops) == len(resnet50.nodes)
    block_scopes = {p for p, s in resnet50.scopes.items() if p}
    assert {c.scope.path for c in view.clusters} == block_scopes
    assert not [i for i in view.items if i.kind in ("block", "repeat")]


def test_depth_one_folds_each_stage_into_one_box(resnet50) -> None:
    view = build(resnet50, Options(depth=1))
    assert view.clusters == []
    stages = [i for i in view.items if i.kind == "block"]
    assert names(stages) == ["layer1", "layer2", "layer3", "layer4"]  # different args: not merged
    rows = {r.path: r for r in analyze_graph(resnet50).rows}
    for item in stages:
        row = rows[".".join(item.scopes[0].path)]
        assert (item.params, item.macs, item.shape) == (row.params, row.macs, row.shape)


def test_depth_two_merges_identical_consecutive_blocks(resnet50) -> None:
    view = build(resnet50, Options(depth=2))
    rows = {r.path: r for r in analyze_graph(resnet50).rows}
    for stage, depth in (("layer1", 3), ("layer2", 4), ("layer3", 6), ("layer4", 3)):
        first, rest = boxes(cluster(view, stage).children)
        # the first block differs (a stride or a wider input, and its projection shortcut)
        assert first.kind == "block" and names([first]) == [f"{stage}.0"]
        assert rest.kind == "repeat" and len(rest.scopes) == depth - 1
        assert [s.path[-1] for s in rest.scopes] == [str(k) for k in range(1, depth)]
        assert rest.params == sum(rows[f"{stage}.{k}"].params for k in range(1, depth))
        assert rest.macs == sum(rows[f"{stage}.{k}"].macs for k in range(1, depth))
        assert rest.shape == rows[stage].shape


def test_expand_repeats_keeps_every_block(resnet50) -> None:
    view = build(resnet50, Options(depth=2, expand_repeats=True))
    assert [len(boxes(cluster(view, s).children)) for s in ("layer1", "layer2", "layer3", "layer4")] == [3, 4, 6, 3]
    assert not [i for i in view.items if i.kind == "repeat"]


def test_folding_by_block_name_at_any_depth(googlenet) -> None:
    view = build(googlenet, Options(fold=frozenset({"BasicConv2d"})))
    folded = [i for i in view.items if i.kind == "block"]
    expected = [p for p, s in googlenet.scopes.items() if s.block == "BasicConv2d"]
    assert sorted(i.scopes[0].path for i in folded) == sorted(expected)
    assert not any(i.node is not None and i.node.op_name == "conv" for i in view.items)
    # Inception modules stay clusters, their branches side by side into a concat
    inception = cluster(view, "inception3a")
    assert [c.scope.path[-1] for c in inception.children if isinstance(c, Cluster)] == ["branch2", "branch3",
                                                                                         "branch4"]
    concat = [i for i in boxes(inception.children) if i.node is not None and i.node.op_name == "concat"]
    assert len(concat) == 1


def test_heads_are_training_only_clusters_with_their_own_outputs(googlenet) -> None:
    view = build(googlenet)
    heads = [c for c in view.clusters if c.role == "head"]
    assert [c.scope.path for c in heads] == [("aux1",), ("aux2",)]
    outputs = [i for i in view.items if i.kind == "output"]
    assert [(i.title, i.training_only) for i in outputs] == [("output", False), ("aux2", True), ("aux1", True)]
    into_heads = [e for e in view.edges if e.kind == "head"]
    assert into_heads and all(e.dst.training_only for e in into_heads)
    assert not [e for e in view.edges if e.kind == "head" and not e.dst.training_only]


def test_shortcuts_identity_and_projection(resnet50) -> None:
    view = build(resnet50)
    identity = [e for e in view.edges if e.kind == "identity"]
    projection = [e for e in view.edges if e.kind == "projection"]
    # 16 bottlenecks, one projection per stage (§3.3, option B): 12 identity shortcuts
    assert len(identity) == 12
    assert all(e.dst.node is not None and e.dst.node.op_name == "add" for e in identity)
    # input -> conv, conv -> bn, bn -> add on each of the 4 projections
    assert len(projection) == 12
    shortcuts = [c for c in view.clusters if c.role == "shortcut"]
    assert [".".join(c.scope.path) for c in shortcuts] == [f"layer{k}.0.downsample" for k in range(1, 5)]


def test_folded_shortcut_keeps_its_style(resnet50) -> None:
    view = build(resnet50, Options(depth=3))
    projection = [e for e in view.edges if e.kind == "projection"]
    assert {e.src.kind for e in projection} >= {"block"}  # the folded downsample box feeds the add
    assert len([e for e in view.edges if e.kind == "identity"]) == 12


def test_a_tap_inside_a_run_stops_the_merge(spec_file) -> None:
    path = spec_file("""
        archc: 1
        name: tapped
        input: [8, 8, 8]
        blocks:
          Unit:
            params: {c: int}
            layers: [conv(c, 3, padding=1), relu]
        layers:
          - a: Unit(8)
          - b: Unit(8)
          - c: Unit(8)
          - d: Unit(8)
          - e: Unit(8)
          - probe: {from: b, training_only: true, layers: [flatten, linear(2)]}
        """)
    view = build(archc.lower(path), Options(depth=1))
    runs = [(i.kind, [".".join(s.path) for s in i.scopes]) for i in view.items if i.scopes]
    assert runs == [("repeat", ["a", "b"]), ("repeat", ["c", "d", "e"]), ("block", ["probe"])]


def test_the_output_block_is_not_swallowed(spec_file) -> None:
    path = spec_file("""
        archc: 1
        name: tail
        input: [4, 8, 8]
        blocks:
          Unit:
            params: {c: int}
            layers: [conv(c, 3, padding=1), relu]
        layers:
          - a: Unit(4)
          - b: Unit(4)
        """)
    view = build(archc.lower(path), Options(depth=1))
    (run,) = [i for i in view.items if i.scopes]
    assert run.kind == "repeat" and len(run.scopes) == 2
    assert [e.src for e in view.edges if e.dst.kind == "output"] == [run]


def test_parallel_branches_get_order_hints(googlenet) -> None:
    view = build(googlenet, Options(fold=frozenset({"BasicConv2d"})))
    hints = [(a, b) for a, b in view.hints if b.scopes and b.scopes[0].path[0] == "inception3a"]
    # branch1 -> branch2's second box, branch2 -> branch3's, branch3 -> branch4's
    assert [".".join(b.scopes[0].path) if b.scopes else b.node.id for _, b in hints] == [
        "inception3a.branch2.1", "inception3a.branch3.1", "inception3a.branch4.1"]


def test_options_are_checked(resnet50) -> None:
    with pytest.raises(ValueError, match="depth"):
        draw(resnet50, depth=0)
    with pytest.raises(ValueError, match="direction"):
        draw(resnet50, direction="BT")
    with pytest.raises(ValueError, match="show"):
        draw(resnet50, show=["flops"])
    with pytest.raises(ArchcError) as err:
        draw(resnet50, fold=["Botleneck"])
    assert err.value.codes == ["E300"] and "did you mean 'Bottleneck'" in err.value.render()


def test_small_spec_views() -> None:
    graph = archc.lower(SMALL)
    full = build(graph)
    assert {c.role for c in full.clusters} == {"block", "sequential", "shortcut", "head"}
    folded = build(graph, Options(depth=2))
    stage = cluster(folded, "stage")
    assert [(i.kind, len(i.scopes)) for i in boxes(stage.children)] == [("repeat", 2), ("block", 1)]
