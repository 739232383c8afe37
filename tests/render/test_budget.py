"""Diagram budgets (archc/render/budget.py): what is handed to Graphviz is counted, checked
against the DOT text and Graphviz's own layout, folded to fit or refused with a located E606."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import archc
from archc.diagnostics import ArchcError
from archc.limits import Limits
from archc.render import layout
from archc.render.budget import MEASURES, measure, ranks
from archc.render.fold import Options, build
from archc.spec.loader import shipped_names
from benchmarks.diagram_budget import dense, low_clusters, one_cluster, parallel

from .test_cli import needs_dot

NODE = re.compile(r"^\s*(n\d+) \[", re.M)
EDGE = re.compile(r"^\s*(n\d+) -> (n\d+)", re.M)


def dot_counts(source: str) -> tuple[int, int, int]:
    """Boxes, arrows and clusters as written in the DOT text itself."""
    return len(NODE.findall(source)), len(EDGE.findall(source)), source.count("subgraph cluster_")


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("spec", ["resnet50", "googlenet", "alexnet"])
def test_the_counts_are_what_the_dot_text_holds(spec: str) -> None:
    graph = archc.lower(spec)
    for depth in (None, 2):
        view = build(graph, Options(depth=depth))
        size = measure(view)
        source = archc.diagram(spec, depth=depth).source
        assert (size.nodes, size.edges, size.clusters) == dot_counts(source)


def test_counts_of_a_parallel_follow_its_shape(tmp_path: Path) -> None:
    # n branches of 3 layers: 3n boxes + input, concat, output; arrows: n in, 2n inside, n out,
    # one to the output, n - 1 invisible ones ordering the branches; clusters: p and each branch.
    n = 7
    size = measure(build(archc.lower(write(tmp_path, parallel(n)))))
    assert (size.nodes, size.edges, size.clusters) == (3 * n + 3, 5 * n, n + 1)
    assert size.edge_ranks == 0  # every arrow joins neighbouring ranks
    # ranks: input 0, the three layers 1-3, concat 4; each branch reaches down to rank 3, p (which
    # holds the concat that closes it) to rank 4: 4n + 5
    assert size.cluster_ranks == 4 * n + 5


def test_arrows_over_ranks_are_counted(tmp_path: Path) -> None:
    # dense(n): layer k adds up every earlier one, so most arrows skip over the layers between
    view = build(archc.lower(write(tmp_path, dense(4))))
    rank = ranks(view)
    spans = sum(rank[id(e.dst)] - rank[id(e.src)] - 1 for e in view.edges)
    assert measure(view).edge_ranks == spans > 0


@needs_dot
@pytest.mark.parametrize("make", [lambda: dense(6), lambda: low_clusters(5, 4), lambda: parallel(5)],
                         ids=["dense", "low clusters", "parallel"])
def test_ranks_are_graphviz_ranks(tmp_path: Path, make) -> None:
    """Graphviz's own layout (``dot -Tplain``: a rank is a row of equal y) has as many ranks as
    archc counts, and its arrows pass over no more ranks than archc counts (network simplex
    can only shorten them)."""
    graph = archc.lower(write(tmp_path, make()))
    view = build(graph)
    source = archc.diagram(str(tmp_path / "spec.yaml")).source
    plain = subprocess.run(["dot", "-Tplain"], input=source, capture_output=True, text=True, check=True).stdout
    ys = {f[1]: float(f[3]) for f in (line.split() for line in plain.splitlines()) if f[0] == "node"}
    rows = sorted(set(ys.values()), reverse=True)
    row = {name: rows.index(y) for name, y in ys.items()}
    rank = ranks(view)
    assert len(rows) == max(rank.values()) + 1
    key = {id(item): item.key for item in view.items}
    graphviz_spans = sum(max(row[key[id(e.dst)]] - row[key[id(e.src)]] - 1, 0) for e in view.edges)
    assert graphviz_spans <= measure(view).edge_ranks


@pytest.mark.parametrize("spec", shipped_names())
def test_every_shipped_spec_fits_the_default_budgets_in_full(spec: str) -> None:
    chosen = layout(archc.lower(spec))
    assert chosen.full is None and chosen.view.options.depth is None


def test_resnet1202_fits_in_full() -> None:
    chosen = layout(archc.lower("resnet_cifar", depth=1202))
    assert chosen.full is None and chosen.size.nodes == 4212


def test_over_budget_without_a_depth_folds_to_the_deepest_that_fits(tmp_path: Path) -> None:
    path = write(tmp_path, parallel(30))  # 93 boxes in full; depth 2 folds each branch: 33
    limits = Limits().with_(max_diagram_nodes=50)
    chosen = layout(archc.lower(path), limits=limits)
    assert chosen.full is not None and chosen.full.nodes == 93 and chosen.over == "nodes"
    assert chosen.view.options.depth == 2 and chosen.view.options.auto and chosen.size.nodes == 33
    assert "max_diagram_nodes" in chosen.note() and "--depth 2" in chosen.note()
    source = archc.diagram(path, limits=limits).source
    assert dot_counts(source)[0] == 33
    assert "scopes at depth 2 and deeper folded into single boxes to stay within the diagram budget" in source


def test_over_budget_at_an_asked_depth_is_refused_at_the_container(tmp_path: Path) -> None:
    path = write(tmp_path, parallel(30))
    with pytest.raises(ArchcError) as err:
        archc.diagram(path, depth=3, limits=Limits().with_(max_diagram_nodes=50))
    (diag,) = err.value.diagnostics
    assert diag.code == "E606" and diag.span is not None
    assert (diag.span.line, diag.span.col) == (6, 7)  # `parallel:` of p
    assert "93 boxes" in diag.message and "max_diagram_nodes is 50" in diag.message and "'p'" in diag.message
    assert "--depth 2 fits" in (diag.hint or "") and "--limit max_diagram_nodes=N" in (diag.hint or "")


@pytest.mark.parametrize(("name", "make", "value"), [
    ("nodes", lambda: one_cluster(40), 30),
    ("edges", lambda: dense(8), 20),
    ("edge_ranks", lambda: dense(8), 10),
    ("clusters", lambda: parallel(12), 10),
    ("cluster_ranks", lambda: low_clusters(30, 10), 200),
])
def test_every_budget_is_enforced(tmp_path: Path, name: str, make, value: int) -> None:
    assert name in MEASURES
    path = write(tmp_path, make())
    graph = archc.lower(path)
    assert getattr(measure(build(graph)), name) > value
    with pytest.raises(ArchcError) as err:
        layout(graph, depth=9, limits=Limits().with_(**{f"max_diagram_{name}": value}))
    (diag,) = err.value.diagnostics
    assert diag.code == "E606" and f"max_diagram_{name} is {value}" in diag.message
    assert diag.span is not None and diag.span.file == str(path)


def test_boxes_at_the_top_level_cannot_be_folded(tmp_path: Path) -> None:
    path = write(tmp_path, "archc: 1\nname: t\ninput: [3, 8, 8]\nlayers:\n  - {repeat: 60, each: relu}\n")
    with pytest.raises(ArchcError) as err:
        archc.diagram(path, limits=Limits().with_(max_diagram_nodes=50))
    (diag,) = err.value.diagnostics
    assert diag.code == "E606" and (diag.span.line, diag.span.col) == (5, 14)  # the repeat's count
    assert "this repeat accounts for 60" in diag.message and "even --depth 1 does not fit" in (diag.hint or "")


def test_the_issue_15_spec_is_folded_to_fit(tmp_path: Path) -> None:
    """One parallel of 2,000 branches [conv(2, 1), relu, conv(2, 1)] took dot 20 s and 1 GB."""
    chosen = layout(archc.lower(write(tmp_path, parallel(2000))))
    assert chosen.full is not None and chosen.full.nodes == 6003
    assert not chosen.size.over(Limits()) and chosen.view.options.depth == 2


def test_cli_folds_with_a_note_or_refuses_writing_nothing(cli, tmp_path: Path) -> None:
    path = write(tmp_path, parallel(30))
    out = tmp_path / "p.dot"
    result = cli("diagram", path, "--format", "dot", "-o", out, "--limit", "max_diagram_nodes=50")
    assert result.code == 0, result.err
    assert "note: the full picture has 93 boxes (max_diagram_nodes is 50): drawn with --depth 2" in result.err
    assert dot_counts(out.read_text())[0] == 33
    out.unlink()
    result = cli("diagram", path, "--depth", "3", "-o", out, "--limit", "max_diagram_nodes=50")
    assert result.code == 2 and f"{path}:6:7: error[E606]" in result.err and "Traceback" not in result.err
    assert not out.exists() and list(tmp_path.iterdir()) == [path]
