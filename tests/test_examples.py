"""The examples in examples/ run as a user runs them, and do what they say.

examples/finetune_ddp.py (issue 14): a torchvision resnet18 checkpoint (random weights, saved
as users save them) ported onto a variant with frozen stages and a new head, fine-tuned under
``torchrun --nproc_per_node=2`` with DistributedDataParallel on gloo. The script itself checks
what fine-tuning promises (frozen tensors bit-identical, trainable ones changed, loss finite
and falling, both processes holding the same parameters) and exits 1 otherwise; here the
exit code and its report are checked, and the report's figures against torch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
import torchvision

import archc

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "finetune_ddp.py"


def test_finetune_ddp_under_torchrun(tmp_path) -> None:
    checkpoint = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), checkpoint)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             str(EXAMPLE), "--checkpoint", str(checkpoint), "--samples", "128", "--epochs", "3"],
                            capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr[-3000:]
    for check in ("frozen tensors bit-identical", "trainable tensors changed", "loss finite and falling",
                  "every process holds the same parameters"):
        assert f"ok  {check}" in out, out
    assert "FAILED" not in out and "2 processes" in out
    # the report's figures, against torch's view of the same variant
    model = archc.build(str(ROOT / "examples" / "resnet18_shapes.yaml"))
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    assert f"({frozen:,} parameters frozen)" in out
    total = len(model.state_dict())
    assert f"transferred {total - 2}/{total} tensors; new: fc.weight 4×512, fc.bias 4" in out
