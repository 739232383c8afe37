"""`archc table` options of issue 7: --count, --batch, --dtype, --optimizer, --columns."""

from __future__ import annotations

import csv
import io
import json

import archc


def test_count_changes_the_column_and_adds_a_total(cli) -> None:
    report = archc.analyze("resnet50")
    out = cli("table", "resnet50", "--count", "fvcore", "--depth", "1").out
    header = next(line for line in out.splitlines() if line.startswith("Module"))
    assert header.split()[-2:] == ["fvcore", "flops"]
    assert f"fvcore flops:         {report.totals.costs['fvcore']:,}" in out
    assert f"MACs:                 {report.totals.macs:,}" in out  # the contract's figure stays
    fc = next(line for line in out.splitlines() if line.startswith("fc "))
    assert fc.split()[-1] == f"{2048 * 1000:,}"  # fvcore ignores the bias
    ptflops = cli("table", "resnet50", "--count", "ptflops", "--depth", "1").out
    fc = next(line for line in ptflops.splitlines() if line.startswith("fc "))
    assert fc.split()[-1] == f"{2048 * 1000 + 1000:,}"  # ptflops counts it


def test_columns_choose_and_order_the_text_columns(cli) -> None:
    out = cli("table", "resnet50", "--depth", "1", "--columns", "rf,stride,output").out
    header = next(line for line in out.splitlines() if line.startswith("Module"))
    assert header.split() == ["Module", "RF", "Stride", "Output"]
    conv1 = next(line for line in out.splitlines() if line.startswith("conv1 "))
    assert conv1.split() == ["conv1", "7", "2", "64×112×112"]  # a 7×7 convolution, stride 2
    every = cli("table", "resnet50", "--depth", "1", "--columns", "all", "--batch", "2", "--dtype", "fp16").out
    header = next(line for line in every.splitlines() if line.startswith("Module"))
    assert header.split() == ["Module", "Op", "Output", "Params", "Trainable", "MACs", "Memory", "RF", "Stride"]
    conv1 = next(line for line in every.splitlines() if line.startswith("conv1 "))
    assert f"{2 * 64 * 112 * 112 * 2 / 2**20:,.2f} MiB" in conv1
    md = cli("table", "resnet50", "--depth", "1", "--format", "markdown", "--columns", "output,memory").out
    assert "| Module | Output | Memory |" in md
    page = cli("table", "resnet50", "--depth", "1", "--format", "html", "--columns", "rf").out
    assert ">RF</th>" in page and ">Params</th>" not in page


def test_memory_options_in_totals_and_json(cli) -> None:
    out = cli("table", "resnet50", "--depth", "0", "--batch", "64", "--dtype", "bf16", "--optimizer", "sgd").out
    assert "peak of activations (batch 64, bfloat16)" in out and "(batch 64, bfloat16, SGD)" in out
    assert "optimizer state 0 B" in out
    doc = json.loads(cli("table", "resnet50", "--format", "json", "--batch", "8", "--dtype", "fp16",
                         "--optimizer", "momentum").out)
    t = doc["totals"]
    memory = archc.analyze("resnet50").memory(8, "fp16", "momentum")
    assert t["memory"] == memory.to_json()
    assert t["memory"]["training"]["optimizer_state"] == t["trainable"] * 2
    assert doc["rows"][0]["output_bytes"] == 8 * 64 * 112 * 112 * 2
    rows = list(csv.DictReader(io.StringIO(cli("table", "resnet50", "--format", "csv", "--batch", "8").out)))
    assert rows[0]["output_bytes"] == str(8 * 64 * 112 * 112 * 4)


def test_bad_values_are_usage_errors(cli) -> None:
    for args in (["--columns", "rf,bogus"], ["--batch", "0"], ["--dtype", "fp8"], ["--count", "gflops"]):
        result = cli("table", "resnet50", *args)
        assert result.code == 2 and "usage:" in result.err, args
