"""The table: rows per module path, folding, formats, totals."""

from __future__ import annotations

import csv
import io
import json

import archc
from archc.analysis.table import render


def test_depth_folds_deeper_scopes_into_summed_rows() -> None:
    report = archc.analyze("resnet50")
    full = {r.path: r for r in report.rows}
    folded = report.folded(1)
    assert [r.path for r in folded][:5] == ["conv1", "bn1", "relu", "maxpool", "layer1"]
    assert all(r.depth <= 1 for r in folded)
    inside = [r for r in report.rows if r.path.startswith("layer2.") and not r.container]
    assert full["layer2"].params == sum(r.params for r in inside)
    assert full["layer2"].macs == sum(r.macs for r in inside)
    # folding loses nothing: top-level rows add up to the totals
    assert sum(r.params for r in folded) == report.totals.params
    assert sum(r.macs for r in folded) == report.totals.macs


def test_shared_relu_appears_at_each_use() -> None:
    rows = [r for r in archc.analyze("resnet50").rows if r.path == "layer1.0.relu"]
    assert [r.shape for r in rows] == [(64, 56, 56), (64, 56, 56), (256, 56, 56)]


def test_json_format_is_complete(cli) -> None:
    doc = json.loads(cli("table", "googlenet", "--format", "json").out)
    assert doc["totals"]["params"] == 13_004_888 and doc["totals"]["macs"] == 1_498_376_192
    assert doc["totals"]["params_without_heads"] == 6_624_904
    assert doc["input"] == [3, 224, 224] and doc["output"] == [1000]
    assert [h["name"] for h in doc["heads"]] == ["aux2", "aux1"]
    row = next(r for r in doc["rows"] if r["path"] == "inception4a.branch2.1.conv")
    macs = 96 * 208 * 9 * 14 * 14
    # a bias-free conv: fvcore and ptflops count its MACs, FLOPs and `all` twice that
    assert row == {"path": "inception4a.branch2.1.conv", "depth": 4, "kind": "conv", "op": "conv 3×3",
                   "output": [208, 14, 14], "params": 96 * 208 * 9, "macs": macs,
                   "training_only": False, "container": False, "line": row["line"],
                   "counts": {"macs": macs, "flops": 2 * macs, "fvcore": macs, "ptflops": macs, "all": 2 * macs},
                   "output_bytes": 208 * 14 * 14 * 4, "rf": row["rf"], "stride": row["stride"],
                   "trainable": 96 * 208 * 9}  # nothing frozen: every parameter trains
    assert len(row["rf"]) == len(row["stride"]) == 2  # values: tests/analysis/test_receptive.py
    assert doc["count"] == "macs" and doc["batch"] == 1 and doc["dtype"] == "fp32"
    assert doc["totals"]["counts"]["macs"] == doc["totals"]["macs"]
    assert set(doc["totals"]["memory"]) == {"batch", "dtype", "bytes_per_element", "inference_peak_bytes", "training"}
    assert any(r["training_only"] for r in doc["rows"] if r["path"].startswith("aux1"))


def test_csv_and_markdown(cli) -> None:
    rows = list(csv.DictReader(io.StringIO(cli("table", "resnet50", "--format", "csv", "--depth", "1").out)))
    assert rows[0] == {"path": "conv1", "depth": "1", "kind": "conv", "op": "conv 7×7/2", "output": "64x112x112",
                       "params": "9408", "macs": "118013952", "training_only": "0", "flops": str(2 * 118013952),
                       "fvcore": "118013952", "ptflops": "118013952", "all": str(2 * 118013952),
                       "output_bytes": str(64 * 112 * 112 * 4), "rf": "7x7", "stride": "2x2", "trainable": "9408"}
    md = cli("table", "resnet50", "--format", "markdown", "--depth", "1").out
    assert "| Module | Op | Output | Params | MACs |" in md and "| `fc` | linear | 1000 | 2,049,000 |" in md


def test_overrides_and_input(cli) -> None:
    report = archc.analyze("resnet50", num_classes=10, input=(3, 64, 64))
    assert report.output_shape == (10,)
    assert report.totals.params == 25_557_032 - 2048 * 990 - 990
    out = cli("table", "resnet50", "--set", "num_classes=10", "--input", "3x64x64", "--depth", "1").out
    assert "fc       linear" in out and "10 " in out
    assert render(report, "text").count("\n") > 50


def test_markdown_escapes_spec_text(spec_file, cli) -> None:
    path = spec_file('archc: 1\nname: "<script>alert(1)</script> | x"\ninput: [3, 4, 4]\nlayers: [relu]\n')
    md = cli("table", path, "--format", "markdown").out
    assert "<script>" not in md and "&lt;script&gt;" in md and "\\|" in md


def test_a_negative_depth_is_a_usage_error(cli) -> None:
    # --depth 0 means totals only (docs/cli.md); a negative depth used to do the same silently
    for args in (["table", "resnet50"], ["diff", "resnet34", "resnet50"]):
        for depth, message in (("-1", "must be at least 0, got -1"), ("x", "expected a whole number, got 'x'")):
            result = cli(*args, "--depth", depth)
            assert result.code == 2 and "usage:" in result.err and f"--depth: {message}" in result.err, result.err
