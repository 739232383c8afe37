"""``archc bench`` on the CPU, on a tiny spec: every mode runs and reports what the docs say;
settings that cannot run are clear errors (exit 2). Nothing is asserted about the timings."""

from __future__ import annotations

import io
import json
import re

import pytest
import torch

import archc.bench as bench
from archc.bench import Progress, Settings, Timing, measure, percentile

from .conftest import ROOT

TINY = """
archc: 1
name: tiny
input: [3, 16, 16]
params: {classes: 5}
blocks:
  Res:
    params: {c: int, stride: 1}
    residual:
      body: [conv1: conv(c, 3, stride=stride, padding=1, bias=false), bn1: bn(), relu,
             conv2: conv(c, 3, padding=1, bias=false), bn2: bn()]
      shortcut: {downsample: [conv(c, 1, stride=stride, bias=false), bn()]}
      then: relu
layers:
  - stem: conv(8, 3, padding=1)
  - res: Res(16, stride=2)
  - aux: {from: res, training_only: true, layers: [adaptive_avgpool(1), flatten, linear(classes)]}
  - pool: adaptive_avgpool(1)
  - flatten
  - dropout: dropout(0.2)
  - fc: linear(classes)
"""

QUICK = ["--device", "cpu", "--batch", "2", "--iters", "2", "--warmup", "1"]


@pytest.fixture
def tiny(spec_file):
    return spec_file(TINY, "tiny.yaml")


def documented_json_keys() -> set[str]:
    """The top-level keys docs/cli.md lists under `archc bench`'s --format."""
    section = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8").split("## `archc bench`")[1].split("\n## ")[0]
    item = section.split("- `--format`")[1].split("\n- ")[0]
    nested = {"median", "p90", "mean", "min", "max", "text", "json", "null"}
    return set(re.findall(r"`([a-z_0-9]+)`", item)) - nested


@pytest.mark.parametrize("extra", [
    [],
    ["--mode", "train"],
    ["--mode", "train", "--dtype", "bf16", "--channels-last"],
    ["--inference", "--dtype", "bf16", "--channels-last"],
    ["--dtype", "fp16"],
])
def test_runs_in_each_mode_and_reports_the_documented_keys(cli, tiny, extra: list[str]) -> None:
    result = cli("bench", tiny, *QUICK, *extra, "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert set(report) == documented_json_keys()
    assert set(report["latency_ms"]) == {"median", "p90", "mean", "min", "max"}
    assert report["spec"] == "tiny" and report["device"] == "cpu" and report["batch"] == 2
    assert report["iters"] == 2 and report["warmup"] == 1 and report["input"] == [3, 16, 16]
    assert report["mode"] == ("train" if "train" in extra else "infer")
    assert report["inference"] == ("--inference" in extra)
    assert report["images_per_s"] > 0 and report["peak_memory_bytes"] is None
    # parameters as torch counts them, of the network that ran
    model = archc_build(tiny, inference="--inference" in extra)
    assert report["params"] == sum(p.numel() for p in model.parameters())
    assert result.err == "", "no progress bar when stderr is not a terminal"


def archc_build(path, inference: bool) -> torch.nn.Module:
    import archc

    return archc.build(path, inference=inference)


def test_torch_compile(cli, tiny) -> None:
    result = cli("bench", tiny, *QUICK, "--compile", "--format", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["compile"] is True


def test_text_report(cli, tiny) -> None:
    result = cli("bench", tiny, *QUICK, "--set", "classes=3", "--input", "3x8x8")
    assert result.code == 0, result.err
    out = result.out
    assert out.startswith("tiny on ") and "(cpu, torch " in out
    assert "batch 2, fp32, infer, eager, input 3×8×8" in out
    assert re.search(r"throughput +[\d,.]+ images/s", out)
    assert re.search(r"latency +[\d.]+ ms median, [\d.]+ ms p90 per step \(2 timed after 1 warm-up\)", out)
    assert "peak memory  n/a on the CPU" in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_error(cli, tiny) -> None:
    result = cli("bench", tiny, "--device", "cuda")
    assert result.code == 2
    assert "error[E801]: --device cuda: CUDA is not available" in result.err and "--device cpu" in result.err
    assert "Traceback" not in result.err


def test_unsupported_autocast_is_a_clear_error(cli, tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "autocast_works", lambda device, dtype: False)
    result = cli("bench", tiny, *QUICK, "--dtype", "fp16")
    assert result.code == 2
    assert "error[E802]: fp16 autocast does not work on cpu" in result.err and "bf16" in result.err


@pytest.mark.parametrize(("args", "message"), [
    (["--inference", "--mode", "train"], "error[E802]: --inference builds a network for inference only"),
    (["--batch", "0"], "--batch: must be at least 1, got 0"),
    (["--iters", "x"], "--iters: expected a whole number, got 'x'"),
    (["--warmup", "-1"], "--warmup: must be at least 0, got -1"),
    (["--dtype", "fp8"], "invalid choice: 'fp8'"),
    (["--mode", "eval"], "invalid choice: 'eval'"),
    (["--set", "nope=1"], "error[E309]"),
])
def test_bad_settings_exit_2(cli, tiny, args: list[str], message: str) -> None:
    result = cli("bench", tiny, "--device", "cpu", *args)
    assert result.code == 2
    assert message in result.err and "Traceback" not in result.err


def test_a_spec_error_exits_2(cli, spec_file) -> None:
    bad = spec_file("archc: 1\nname: bad\ninput: [3, 8, 8]\nlayers:\n  - conv(4, 9)\n", "bad.yaml")
    result = cli("bench", bad, *QUICK)
    assert result.code == 2 and "error[E503]" in result.err


# --- the timing logic ----------------------------------------------------------------------------


def test_measure_runs_warmup_then_timed_steps() -> None:
    calls = []
    bar = Progress(5, "x", io.StringIO(), enabled=False)
    timing = measure(lambda: calls.append(1), Settings(iters=3, warmup=2), bar)
    assert len(calls) == 5 and len(timing.seconds) == 3 and bar.done == 5
    assert timing.peak_memory_bytes is None


def test_throughput_and_latency_statistics() -> None:
    timing = Timing([0.1, 0.2, 0.3, 0.4], batch=8)
    assert timing.images_per_s == pytest.approx(8 * 4 / 1.0)
    lat = timing.latency_ms()
    assert lat["median"] == pytest.approx(250) and lat["min"] == pytest.approx(100)
    assert lat["p90"] == pytest.approx(400) and lat["mean"] == pytest.approx(250)
    assert percentile(list(range(1, 11)), 90) == 9 and percentile([5.0], 90) == 5.0


def test_progress_bar_draws_on_a_terminal_only() -> None:
    out = io.StringIO()
    bar = Progress(4, "tiny: infer", out, enabled=True)
    for _ in range(4):
        bar.advance()
    bar.close()
    text = out.getvalue()
    assert "\rtiny: infer [" + "-" * 30 + "] 0/4" in text and "[" + "#" * 30 + "] 4/4" in text
    assert text.endswith("\r")  # the line is cleared for what follows
    quiet = io.StringIO()  # a StringIO is not a terminal
    Progress(4, "x", quiet).advance()
    assert quiet.getvalue() == ""
