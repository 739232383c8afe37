"""The GPU scripts in benchmarks/ run their whole logic on the CPU: compare_torchvision.py's
--dry-run (archc against a second archc build, no torchvision) and gpu_emission.py's
--device cpu; compile_scaling.py on small depths. The figures are not checked, only that
every case ran and was reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import compare_torchvision, gpu_emission

from .test_bench import TINY

ROOT = Path(__file__).resolve().parent.parent


def test_compare_torchvision_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, spec = tmp_path / "compare.json", tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    code = compare_torchvision.main(["--dry-run", "--models", str(spec), "--inference-model", str(spec),
                                     "--rounds", "1", "--input", "3x16x16", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["reference"] == "archc (dry run)" and report["environment"]["device"] == "cpu"
    assert report["settings"]["dtype"] == "bf16" and report["settings"]["channels_last"] is True
    assert report["correctness"] == [{"model": str(spec), "max_rel_error_fp32": 0.0}]  # the same network
    assert [(r["mode"], r["backend"]) for r in report["parity"]] == [("infer", "eager"), ("train", "eager")]
    for row in report["parity"]:
        assert len(row["archc_images_per_s"]) == len(row["reference_images_per_s"]) == 1
        assert row["ratio"] == pytest.approx(row["archc_median"] / row["reference_median"])
    variants = [r["variant"] for r in report["inference_variant"]]
    assert variants == ["folded, float32 weights", "folded, bf16 weights"]
    assert all(r["max_rel_error_fp32"] < 1e-4 for r in report["inference_variant"])
    printed = capsys.readouterr().out
    assert "ratio" in printed and "inference variant" in printed


def test_compare_torchvision_refuses_cuda_without_it(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert compare_torchvision.main(["--models", "resnet50"]) == 2
    assert "--dry-run" in capsys.readouterr().err


def test_gpu_emission_on_the_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    code = gpu_emission.main(["--device", "cpu", "--batch", "2", "--input", "3x64x64", "--backends", "eager",
                              "--iters", "1"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    rows = [line.split() for line in printed.splitlines() if line.startswith(("resnet50", "googlenet"))]
    assert [(r[0], r[1], r[2]) for r in rows] == [("resnet50", "eager", "ok"), ("googlenet", "eager", "ok")]


def test_compile_scaling_runs_on_small_depths() -> None:
    # the benchmark of docs/benchmarks.md ("Compile cost"), on depths small enough for CI
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compile_scaling.py"), "--runs", "1",
                           "--depths", "20,38"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("target 2×") == 2 and "depth ×1.9" in proc.stdout
