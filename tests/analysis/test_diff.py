"""`archc diff A B`: rows matched by module path, deltas, totals, formats, per-side settings."""

from __future__ import annotations

import csv
import io
import json

import pytest

from archc.spec.loader import shipped_names

# ResNet-34 from the ResNet-50 spec: BasicBlock, 3-4-6-3 (He et al. 2016, Table 1).
RESNET34 = ("--set-a", "block=BasicBlock")


def test_resnet34_against_resnet50(cli, reference) -> None:
    doc = json.loads(cli("diff", "resnet50", "resnet50", *RESNET34, "--format", "json").out)
    r34, r50 = reference["resnet34"], reference["resnet50"]
    assert doc["totals"]["params"] == {"a": r34["num_params"], "b": r50["num_params"],
                                       "delta": r50["num_params"] - r34["num_params"]}
    assert doc["totals"]["count"] == {"a": r34["macs"], "b": r50["macs"], "delta": r50["macs"] - r34["macs"]}
    assert doc["count"] == "macs" and doc["a"]["name"] == doc["b"]["name"] == "resnet50"
    rows = {(r["path"], r["status"]): r for r in doc["rows"]}
    stem = rows[("conv1", "same")]
    assert stem["a"] == stem["b"] and stem["delta"] == {"params": 0, "count": 0}
    conv3 = rows[("layer1.0.conv3", "added")]  # a bottleneck's third convolution: only in B
    assert conv3["a"] is None and conv3["b"]["op"] == "conv 1×1" and conv3["delta"]["params"] == 64 * 256
    conv1 = rows[("layer1.0.conv1", "changed")]  # 3×3 in a basic block, 1×1 in a bottleneck
    assert (conv1["a"]["op"], conv1["b"]["op"]) == ("conv 3×3", "conv 1×1")
    assert conv1["delta"]["params"] == 64 * 64 * 1 - 64 * 64 * 9
    layer4 = rows[("layer4", "changed")]
    assert (layer4["a"]["output"], layer4["b"]["output"]) == ([512, 7, 7], [2048, 7, 7])
    # B's new rows sit inside their block, after the row that precedes them in B
    paths = [r["path"] for r in doc["rows"]]
    assert paths.index("layer1.0.bn2") < paths.index("layer1.0.conv3") < paths.index("layer1.1")


def test_text_depth_and_only_changed(cli) -> None:
    out = cli("diff", "resnet50", "resnet50", *RESNET34, "--depth", "1").out
    lines = out.splitlines()
    assert "Params A" in lines[2] and "Δ MACs" in lines[2]
    assert any(line.startswith("~  layer4 ") and "512×7×7 → 2048×7×7" in line for line in lines)
    assert "Parameters: A 21,797,672, B 25,557,032, Δ +3,759,360 (×1.172)" in out
    changed = cli("diff", "resnet50", "resnet50", *RESNET34, "--depth", "1", "--only-changed").out
    assert "conv1 " not in changed and "layer1 " in changed


def test_identical_specs_differ_nowhere(cli) -> None:
    doc = json.loads(cli("diff", "googlenet", "googlenet", "--format", "json", "--count", "ptflops").out)
    assert {r["status"] for r in doc["rows"]} == {"same"}
    assert doc["totals"]["count"]["delta"] == 0 and doc["count"] == "ptflops"
    assert doc["totals"]["count"]["a"] == doc["a"]["counts"]["ptflops"]


def test_shared_and_per_side_settings(cli) -> None:
    doc = json.loads(cli("diff", "resnet50", "resnet50", "--set", "num_classes=10", "--input-b", "3x64x64",
                         "--format", "json").out)
    assert doc["a"]["output"] == doc["b"]["output"] == [10]
    assert doc["a"]["input"] == [3, 224, 224] and doc["b"]["input"] == [3, 64, 64]
    fc = next(r for r in doc["rows"] if r["path"] == "fc")
    assert fc["status"] == "same" and fc["a"]["params"] == 2048 * 10 + 10
    conv1 = next(r for r in doc["rows"] if r["path"] == "conv1")
    assert conv1["status"] == "changed" and conv1["b"]["output"] == [64, 32, 32]


def test_other_formats(cli) -> None:
    rows = list(csv.DictReader(io.StringIO(cli("diff", "resnet50", "resnet50", *RESNET34, "--format", "csv",
                                               "--depth", "1").out)))
    assert rows[0]["path"] == "conv1" and rows[0]["status"] == "same" and rows[0]["delta_params"] == "0"
    md = cli("diff", "resnet50", "resnet50", *RESNET34, "--format", "markdown", "--depth", "1").out
    assert "| ~ | `layer4` |" in md
    page = cli("diff", "resnet50", "googlenet", "--format", "html", "--depth", "1").out
    assert page.startswith("<!DOCTYPE html>") and 'title="added"' in page and 'title="removed"' in page


PAIRS = [(a, b) for a, b in (("resnet34", "resnet50"), ("vgg16", "vgg16_bn")) if {a, b} <= set(shipped_names())]


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_shipped_pairs(cli, reference, a: str, b: str) -> None:
    """The issue's examples, once the zoo ships them: totals are torchvision's."""
    doc = json.loads(cli("diff", a, b, "--format", "json").out)
    assert doc["totals"]["params"]["a"] == reference[a]["num_params"]
    assert doc["totals"]["params"]["b"] == reference[b]["num_params"]
    assert doc["totals"]["count"]["delta"] == reference[b]["macs"] - reference[a]["macs"]
    assert any(r["status"] != "same" for r in doc["rows"])
    if b == "vgg16_bn":  # 13 batch norms inserted, nothing else changes
        assert sorted({r["status"] for r in doc["rows"] if r["depth"] == 2}) == ["added", "same"]


def test_numbered_layers_are_aligned_by_content(cli, spec_file) -> None:
    """Inserting batch norms renumbers an nn.Sequential: layers pair by what they are."""
    head = "archc: 1\nname: n\ninput: [3, 16, 16]\n"
    a = spec_file(head + "layers: [conv(4, 3), relu, conv(4, 3), relu, maxpool(2)]\n", "a.yaml")
    b = spec_file(head + "layers: [conv(4, 3), bn(), relu, conv(4, 3), bn(), relu, maxpool(2)]\n", "b.yaml")
    doc = json.loads(cli("diff", a, b, "--format", "json").out)
    pairs = [(r["path_a"], r["path_b"], r["status"]) for r in doc["rows"]]
    assert pairs == [("0", "0", "same"), (None, "1", "added"), ("1", "2", "same"), ("2", "3", "same"),
                     (None, "4", "added"), ("3", "5", "same"), ("4", "6", "same")]
    assert doc["totals"]["params"]["delta"] == 2 * (2 * 4)
    assert "1 → 2" in cli("diff", a, b).out
