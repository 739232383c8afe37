"""`archc diagram` end to end: real Graphviz output, files, stdout, errors, imports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from archc.cli import build_parser
from archc.spec.loader import shipped_names

SMALL = Path(__file__).parent / "golden" / "small.yaml"
SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None and not os.environ.get("CI"),
                               reason="the Graphviz `dot` program is not installed (CI installs it)")


def parse_svg(path: Path) -> tuple[dict[str, str], list[str], list[ET.Element]]:
    """Cluster labels (title -> text), node texts, and edge groups of a Graphviz SVG."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    clusters, nodes, edges = {}, [], []
    for g in root.iter(f"{SVG}g"):
        text = " ".join("".join(t.itertext()) for t in g.iter(f"{SVG}text"))
        if g.get("class") == "cluster":
            clusters[g.findtext(f"{SVG}title")] = text
        elif g.get("class") == "node":
            nodes.append(text)
        elif g.get("class") == "edge":
            edges.append(g)
    return clusters, nodes, edges


def cluster_text(clusters: dict[str, str], start: str) -> str:
    found = [t for t in clusters.values() if t.startswith(start + " ") or t == start]
    assert found, f"no cluster labelled {start!r}"
    return found[0]


@needs_dot
def test_resnet50_svg(cli, tmp_path: Path) -> None:
    out = tmp_path / "r.svg"
    result = cli("diagram", "resnet50", "-o", out)
    assert result.code == 0, result.err
    clusters, nodes, edges = parse_svg(out)
    for stage, blocks in (("layer1", 3), ("layer2", 4), ("layer3", 6), ("layer4", 3)):  # Table 1: 3-4-6-3
        assert "Stage(block=Bottleneck" in cluster_text(clusters, stage)
        for k in range(blocks):
            assert "Bottleneck(planes=" in cluster_text(clusters, f"{stage}.{k}")
    assert sum("projection shortcut" in t for t in clusters.values()) == 4
    assert "conv 7×7/2 64×112×112" in nodes and "maxpool 3×3/2 64×56×56" in nodes
    assert nodes.count("+") == 16  # one residual add per bottleneck
    dashed = [e for e in edges if e.find(f"{SVG}path").get("stroke-dasharray")]
    assert len(dashed) == 12  # identity shortcuts: 16 blocks less the 4 with a projection


@needs_dot
def test_googlenet_svg(cli, tmp_path: Path) -> None:
    out = tmp_path / "g.svg"
    assert cli("diagram", "googlenet", "-o", out, "--fold", "BasicConv2d").code == 0
    clusters, nodes, _ = parse_svg(out)
    modules = ["3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]  # Table 1
    for m in modules:
        assert "Inception(c1=" in cluster_text(clusters, f"inception{m}")
    assert sum(n.startswith("concat ") for n in nodes) == len(modules)
    assert sum(t == "branch2" for t in clusters.values()) == len(modules)
    for head in ("aux1", "aux2"):
        text = cluster_text(clusters, head)
        assert "InceptionAux" in text and "training only" in text
        assert f"{head} (training only) 1000" in nodes
    assert "output 1000" in nodes
    assert any(n.startswith("conv1 BasicConv2d conv 7×7/2 → bn → relu 64×112×112") for n in nodes)


@needs_dot
@pytest.mark.parametrize(("fmt", "magic"), [("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_binary_formats(cli, tmp_path: Path, fmt: str, magic: bytes) -> None:
    out = tmp_path / f"net.{fmt}"
    assert cli("diagram", SMALL, "-o", out, "--depth", "1").code == 0  # format taken from the extension
    assert out.read_bytes().startswith(magic)


@needs_dot
def test_default_file_is_named_after_the_spec(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("diagram", SMALL, "--direction", "LR")
    assert result.code == 0 and result.out == ""
    assert (tmp_path / "small.svg").read_text().lstrip().startswith("<?xml")
    assert "small.svg" in result.err


def test_dot_format_goes_to_stdout(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("diagram", SMALL, "--format", "dot", "--depth", "2", "--show", "shapes,params")
    assert result.code == 0
    assert result.out.startswith("digraph small {") and "Residual ×2" in result.out
    assert list(tmp_path.iterdir()) == []
    assert cli("diagram", SMALL, "-o", tmp_path / "x.dot").code == 0
    assert (tmp_path / "x.dot").read_text().startswith("digraph small {")


@needs_dot
def test_svg_to_stdout(cli) -> None:
    result = cli("diagram", SMALL, "-o", "-", "--depth", "1")
    assert result.code == 0 and "<svg" in result.out


def test_never_overwrites_the_spec(cli, spec_file) -> None:
    path = spec_file(SMALL.read_text())
    before = path.read_text()
    result = cli("diagram", path, "--format", "dot", "-o", path)
    assert result.code == 2 and "E700" in result.err
    assert path.read_text() == before


def test_missing_graphviz(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = cli("diagram", SMALL, "-o", tmp_path / "x.svg")
    assert result.code == 2
    assert "error[E710]" in result.err and "`dot`" in result.err
    assert "apt-get install graphviz" in result.err and "brew install graphviz" in result.err
    assert "--format dot" in result.err
    assert not (tmp_path / "x.svg").exists()
    ok = cli("diagram", SMALL, "--format", "dot")  # needs no Graphviz
    assert ok.code == 0 and ok.out.startswith("digraph")


def test_bad_options_are_usage_errors(cli) -> None:
    for args in (["--depth", "0"], ["--depth", "x"], ["--show", "flops"], ["--direction", "BT"],
                 ["--format", "jpg"]):
        result = cli("diagram", SMALL, *args)
        assert result.code == 2, args
        assert "usage:" in result.err
    unknown = cli("diagram", SMALL, "--format", "dot", "--fold", "Residul")
    assert unknown.code == 2 and "E300" in unknown.err and "did you mean 'Residual'" in unknown.err


def test_every_option_has_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    diagram = sub.choices["diagram"]
    for action in diagram._actions:
        assert action.help, action.option_strings or action.dest


def test_diagram_does_not_import_torch() -> None:
    script = (
        "import os, sys\n"
        "from archc.cli import main\n"
        "import archc\n"
        "code = main(['diagram', 'googlenet', '--format', 'dot', '-o', os.devnull])\n"
        "archc.diagram('resnet50', depth=2).source\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy'))\n"
        "print('CODE', code, 'HEAVY', heavy)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "CODE 0 HEAVY []" in proc.stdout, proc.stdout[-500:]


def test_docs_describe_every_option() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "diagrams.md").read_text(encoding="utf-8")
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for action in sub.choices["diagram"]._actions:
        for flag in action.option_strings:
            if flag not in ("-h", "--help"):
                assert f"`{flag}" in docs or f"{flag} " in docs, flag


@pytest.mark.parametrize("spec", shipped_names())
def test_every_shipped_spec_draws(spec: str) -> None:
    import archc

    source = archc.diagram(spec, depth=2).source
    assert source.startswith(f"digraph {spec} {{")


def test_cli_choices_match_the_render_stage() -> None:
    from archc.commands import diagram
    from archc.render import FORMATS, SHOW_CHOICES

    assert diagram.FORMATS == FORMATS and diagram.SHOW == SHOW_CHOICES
