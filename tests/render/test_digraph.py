"""The DOT text: byte-stable (a golden file), labels as expected, spec text escaped."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import graphviz
import pytest

import archc
from archc.render import build, draw, escape, export
from archc.render.style import human

GOLDEN = Path(__file__).parent / "golden"
SMALL = GOLDEN / "small.yaml"
UPDATE = bool(os.environ.get("ARCHC_UPDATE_GOLDEN"))
needs_dot = pytest.mark.skipif(shutil.which("dot") is None and not os.environ.get("CI"),
                               reason="the Graphviz `dot` program is not installed (CI installs it)")

HOSTILE = '"]; evil [shape=none label="pwned"] <b>bold</b> & \'q\' \\N \\G {braces} </font>'


@pytest.mark.parametrize(("name", "options"), [("small.dot", {}), ("small_depth2.dot", {"depth": 2}),
                                               ("small_lr_all.dot", {"direction": "LR",
                                                                     "show": ["shapes", "params", "macs", "names"]})])
def test_golden_dot(name: str, options: dict) -> None:
    """The DOT text of a small spec, byte for byte. After an intended change, regenerate
    with ARCHC_UPDATE_GOLDEN=1 and review the diff (and the picture)."""
    source = archc.diagram(SMALL, **options).source
    golden = GOLDEN / name
    if UPDATE:
        golden.write_text(source, encoding="utf-8")
    assert source == golden.read_text(encoding="utf-8")


def test_dot_is_deterministic() -> None:
    assert archc.diagram("googlenet").source == archc.diagram("googlenet").source


def test_api_returns_a_digraph_that_jupyter_displays() -> None:
    d = archc.diagram("resnet50", depth=2)
    assert isinstance(d, graphviz.Digraph)
    assert callable(getattr(d, "_repr_mimebundle_", None))  # Jupyter's inline display hook


@needs_dot
def test_jupyter_display_is_svg() -> None:
    bundle = archc.diagram(SMALL, depth=1)._repr_mimebundle_()
    assert "image/svg+xml" in bundle and "<svg" in bundle["image/svg+xml"]


def _line(source: str, text: str) -> str:
    """The label of the first node statement containing ``text`` (its tooltip left out)."""
    return next(line for line in source.splitlines() if text in line).split(" tooltip=")[0]


def test_node_labels_carry_op_shape_and_requested_figures() -> None:
    plain = _line(archc.diagram("resnet50").source, "<b>conv 7×7/2</b>")
    assert "64×112×112" in plain and "params" not in plain and "MACs" not in plain
    full = _line(archc.diagram("resnet50", show=["shapes", "params", "macs"]).source, "<b>conv 7×7/2</b>")
    params, macs = 64 * 3 * 7 * 7, 64 * 112 * 112 * 3 * 7 * 7  # bias-free 7×7/2 conv, 3 -> 64 channels
    assert f"{human(params)} params · {human(macs)} MACs" in full
    no_shapes = _line(archc.diagram("resnet50", show=["params"]).source, "<b>conv 7×7/2</b>")
    assert "64×112×112" not in no_shapes and "MACs" not in no_shapes
    names = _line(archc.diagram("resnet50", show=["names"]).source, "<b>conv 3×3/2</b>")
    assert ">conv2<" in names  # layer2.0.conv2, named relative to its block


def test_cluster_labels_name_the_block_its_arguments_and_totals() -> None:
    src = archc.diagram("resnet50").source
    assert "<b>layer1.0</b> · Bottleneck(planes=64, stride=1)" in src
    assert "<b>downsample</b> · projection shortcut" in src
    g = archc.diagram("googlenet").source
    assert "<b>aux1</b> · InceptionAux(num_classes=1000)" in g and "training only" in g


def test_repeat_boxes_are_labelled_with_the_count() -> None:
    src = archc.diagram("resnet50", depth=2).source
    for label in ("Bottleneck ×2", "Bottleneck ×3", "Bottleneck ×5"):
        assert f"<b>{label}</b>" in src
    assert "Bottleneck ×" not in archc.diagram("resnet50", depth=2, expand_repeats=True).source


def test_legend_lists_the_families_and_edges_in_the_picture() -> None:
    src = archc.diagram(SMALL).source
    for title in ("convolution", "normalisation", "activation", "pooling", "linear", "add / concat",
                  "identity shortcut", "projection shortcut", "into a training-only head"):
        assert title in src
    lenet_like = archc.diagram("resnet50", depth=1).source
    assert "identity shortcut" not in lenet_like and "folded block" in lenet_like


def test_numbers_are_three_significant_figures() -> None:
    assert [human(n) for n in (0, 999, 9408, 75008, 14964736, 4089184256)] == [
        "0", "999", "9.41 k", "75.0 k", "15.0 M", "4.09 G"]


def test_escape_helpers() -> None:
    assert escape.html('<b>"x" & \'y\'</b>') == "&lt;b&gt;&quot;x&quot; &amp; &#x27;y&#x27;&lt;/b&gt;"
    assert escape.html("a\nb\x00c\x1b") == "a bc"
    assert escape.html("x" * 300, 10) == "x" * 9 + "…"
    assert escape.attr("\\N") == "\\\\N"
    assert escape.graph_name('"]; x') == "g_____x"
    assert escape.graph_name("") == "network"


def _hostile_spec(spec_file) -> Path:
    text = f"""
        archc: 1
        name: 'evil"]; x [label="pwn'
        doc: |
          <b>bold</b> & "quotes" 'single' \\N \\G {{braces}} ]; evil [shape=none] <<TABLE>>
          second line </font></b>
        input: [3, 8, 8]
        blocks:
          Tagged:
            params: {{tag: 'plain'}}
            layers: [conv(4, 3, padding=1), relu]
        layers:
          - first: Tagged(tag={HOSTILE!r})
          - pool: adaptive_avgpool(1)
        """
    return spec_file(text)


STATEMENT = re.compile(r"(digraph \w+ \{|graph \[|node \[|edge \[|label=<|subgraph cluster_\d+ \{|color=|"
                       r"n\d+ \[|n\d+ -> n\d+( \[|$)|\}$)")


TOOLTIP = re.compile(r' tooltip="(?:[^"\\]|\\.)*"')


def _assert_no_injection(source: str) -> None:
    # tooltips are quoted strings with every quote and backslash escaped; take them out
    source = TOOLTIP.sub("", source)
    # no spec text broke out of its label: every line is a statement archc writes
    assert "<b>bold</b>" not in source and "&lt;b&gt;bold&lt;/b&gt;" in source
    assert '"]; evil' not in source and "&quot;]; evil" in source
    assert '"pwned"' not in source
    for line in source.splitlines():
        assert STATEMENT.match(line.strip()), line


def test_hostile_spec_text_is_escaped_in_dot(spec_file) -> None:
    source = archc.diagram(_hostile_spec(spec_file)).source
    _assert_no_injection(source)
    assert source.startswith("digraph evil____x__label__pwn {")


def _rename(graph, prefix: str) -> None:
    """Give every node id (and so every name shown) a hostile prefix, keeping the graph consistent."""
    new = {nid: prefix + nid for nid in graph.nodes}
    graph.nodes = {new[nid]: node for nid, node in graph.nodes.items()}
    for node in graph.nodes.values():
        node.id = new[node.id]
        node.inputs = tuple(new[i] for i in node.inputs)
        node.scope = (prefix, *node.scope)
    graph.scopes = {(prefix, *p) if p else p: s for p, s in graph.scopes.items()}
    for path, scope in graph.scopes.items():
        scope.path = path
        scope.input = new[scope.input]
        scope.output = new.get(scope.output or "")
        if scope.block:
            scope.block = scope.label = prefix
            scope.args = {prefix: prefix}
    graph.output, graph.input = new[graph.output], new[graph.input]
    for head in graph.heads:
        head.node, head.name = new[head.node], prefix + head.name


def test_hostile_ir_strings_are_escaped() -> None:
    """Defence in depth: even names the spec language would refuse never reach DOT raw."""
    graph = archc.lower(SMALL)
    _rename(graph, HOSTILE)
    graph.name = graph.doc = HOSTILE
    for options in ({"show": ["shapes", "names"]}, {"depth": 2}, {"depth": 3, "show": ["names"]}):
        _assert_no_injection(draw(graph, **options).source)


@needs_dot
def test_hostile_spec_renders_as_text(spec_file, tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    d = archc.diagram(_hostile_spec(spec_file))
    svg = export(d, "svg")
    root = ET.fromstring(svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "<b>bold</b>" in texts and "]; evil [shape=none]" in texts
    assert HOSTILE.split(" {")[0][:30] in texts
    nodes = root.findall(".//svg:g[@class='node']", ns)
    assert len(nodes) == len(build(archc.lower(_hostile_spec(spec_file))).items)
