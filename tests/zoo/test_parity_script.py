"""benchmarks/torchvision_parity.py without a GPU or torchvision: its --self-check mode.

The real comparison (archc against torchvision's own modules, on CUDA) cannot run here;
this exercises the same code path with a second archc build as the reference, and shows
that the comparison does catch a network that computes something else.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import archc
from benchmarks import torchvision_parity as parity


def test_self_check_mode_passes_and_reports(tmp_path: Path, capsys) -> None:
    out = tmp_path / "parity.json"
    code = parity.main(["--device", "cpu", "--self-check", "--models", "resnet18,googlenet", "--input", "3x64x64",
                        "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads(out.read_text())
    assert report["mode"] == "self-check" and report["passed"] is True
    rows = {r["model"]: r for r in report["results"]}
    assert rows["resnet18"]["params"] == archc.analyze("resnet18").totals.params
    assert rows["resnet18"]["fp32_rel"] == 0 and rows["resnet18"]["bf16_ok"]
    assert rows["googlenet"]["train_outputs"] == 3 and rows["googlenet"]["train_ok"]
    assert "resnet18" in printed and "FAIL" not in printed


def test_the_comparison_catches_a_different_network(spec_file) -> None:
    def net(act: str) -> torch.nn.Module:
        path = spec_file(f"""
            archc: 1
            name: n
            input: [3, 8, 8]
            layers:
              - c1: conv(4, 3, padding=1)
              - {act}
              - pool: adaptive_avgpool(1)
              - flatten
              - fc: linear(5)
            """, name=f"{act}.yaml")
        return archc.build(path)

    # same state_dict layout (the copy succeeds with strict=True), different function
    row = parity.compare("n", net("relu"), net("tanh"), torch.device("cpu"), 2, (3, 8, 8), 0)
    assert not row["fp32_ok"] and not row["bf16_ok"] and row["fp32_rel"] > 1e-3


def test_the_real_run_needs_cuda_or_self_check(capsys) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(SystemExit) as exc:
        parity.main(["--models", "resnet18"])
    assert exc.value.code == 2 and "--self-check" in capsys.readouterr().err
