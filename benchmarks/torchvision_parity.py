"""Fidelity: archc's torchvision-layout specs compute exactly what torchvision's models compute.

    python benchmarks/torchvision_parity.py [--device cuda] [--models all] [--batch 2] [--json FILE]
    python benchmarks/torchvision_parity.py --device cpu --self-check [--models resnet18] [--input 3x64x64]

For each of the 15 classic models: build torchvision's own model (``weights=None``;
GoogLeNet with ``aux_logits=True, init_weights=True, transform_input=False``) and
archc's (``archc.build(name)``), copy torchvision's state_dict into the archc module
with ``strict=True``, and compare the two in eval mode on the same random batch:

- fp32 (TF32 off): the largest absolute difference, relative to the output's scale
  (the largest absolute output of torchvision's model), must be at most 1e-5;
- bf16 autocast: the same measure must be at most 1e-2 (bf16 keeps 8 significant
  bits, a relative step of 2^-8 ≈ 0.004; identical networks run identical kernels, so
  in practice the difference is zero, and a wrong layer shows up as O(1)).

GoogLeNet is compared once more in training mode with dropout off (batch-norm batch
statistics, auxiliary heads running): the (logits, aux2, aux1) tuples must agree.

Needs a CUDA GPU and torchvision for the real run (with the CPU-only torch wheel used in
development, torchvision imports only behind the shim in tests/conftest.py, and the CPU
comparison lives in tests/zoo/test_torchvision.py). ``--self-check`` runs the same logic
without torchvision: the reference is a second archc build of each spec, and the
candidate gets its state_dict with ``strict=True``; tests/zoo/test_parity_script.py
runs it on a small spec. Prints a table, then the results as JSON (also written to
``--json FILE``). Exit status 1 if any comparison fails. Results and the command
belong in docs/benchmarks.md, section "Fidelity (torchvision parity)".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

MODELS = ["alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
          "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
TOL_FP32 = 1e-5
TOL_BF16 = 1e-2


def torchvision_factory() -> Callable[[str], nn.Module]:
    import torchvision

    def make(name: str) -> nn.Module:
        if name == "googlenet":
            return torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True,
                                                transform_input=False)
        return getattr(torchvision.models, name)(weights=None)

    return make


def archc_factory(input_shape: tuple[int, ...] | None) -> Callable[[str], nn.Module]:
    import archc

    def make(name: str) -> nn.Module:
        return archc.build(name, input=input_shape)

    return make


def outputs(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    out = model(x)
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for t in out if isinstance(t, torch.Tensor)]  # GoogLeNetOutputs / (logits, aux2, aux1)


def difference(ref: list[torch.Tensor], got: list[torch.Tensor]) -> tuple[float, float]:
    """Largest absolute difference, and the same relative to the reference's largest |output|."""
    if len(ref) != len(got) or any(a.shape != b.shape for a, b in zip(ref, got)):
        return float("inf"), float("inf")
    diff = max((a.float() - b.float()).abs().max().item() for a, b in zip(ref, got))
    scale = max(a.float().abs().max().item() for a in ref)
    return diff, diff / scale if scale > 0 else diff


def compare(name: str, reference: nn.Module, candidate: nn.Module, device: torch.device, batch: int,
            shape: tuple[int, ...], seed: int) -> dict[str, Any]:
    start = time.perf_counter()
    candidate.load_state_dict(reference.state_dict(), strict=True)
    reference.to(device).eval()
    candidate.to(device).eval()
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, *shape, generator=gen).to(device)
    row: dict[str, Any] = {"model": name, "params": sum(p.numel() for p in candidate.parameters()),
                           "input": [batch, *shape]}
    with torch.no_grad():
        ref, got = outputs(reference, x), outputs(candidate, x)
        row["fp32_max_abs"], row["fp32_rel"] = difference(ref, got)
        row["output_scale"] = max(a.abs().max().item() for a in ref)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            ref16, got16 = outputs(reference, x), outputs(candidate, x)
        row["bf16_max_abs"], row["bf16_rel"] = difference(ref16, got16)
        row["bf16_vs_fp32_rel"] = difference(ref, ref16)[1]  # for scale: what bf16 itself costs
    row["fp32_ok"] = row["fp32_rel"] <= TOL_FP32
    row["bf16_ok"] = row["bf16_rel"] <= TOL_BF16
    if name == "googlenet":
        # training mode: batch statistics and both aux heads; dropout off so both sides agree
        for model in (reference, candidate):
            model.train()
            for m in model.modules():
                if isinstance(m, nn.Dropout):
                    m.p = 0.0
        with torch.no_grad():
            ref, got = outputs(reference, x), outputs(candidate, x)
        row["train_outputs"] = len(got)
        row["train_max_abs"], row["train_rel"] = difference(ref, got)
        row["train_ok"] = len(ref) == 3 and row["train_rel"] <= TOL_FP32
    row["seconds"] = round(time.perf_counter() - start, 2)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (the real run) or cpu")
    parser.add_argument("--models", default="all", help="comma-separated names, or 'all' (the 15 models)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--input", default=None, metavar="CxHxW",
                        help="input shape (default: each spec's, 3x224x224); self-check only, since "
                             "torchvision's GoogLeNet heads and the classifiers are built for 224")
    parser.add_argument("--self-check", action="store_true",
                        help="compare archc with a second archc build instead of torchvision (no torchvision needed)")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the results here")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA device; run with --device cpu --self-check to exercise the script")
    names = MODELS if args.models == "all" else args.models.split(",")
    shape = tuple(int(s) for s in args.input.lower().replace("×", "x").split("x")) if args.input else None
    if shape is not None and not args.self_check:
        parser.error("--input is for --self-check; the torchvision comparison runs at 3x224x224")
    # "fp32" means fp32: no TF32 on Ampere and later, and deterministic algorithm choices
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True

    candidate_of = archc_factory(shape)
    reference_of = candidate_of if args.self_check else torchvision_factory()
    info = {"mode": "self-check" if args.self_check else "torchvision", "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "torch": torch.__version__, "torchvision": None if args.self_check else _torchvision_version(),
            "tolerances": {"fp32_rel": TOL_FP32, "bf16_rel": TOL_BF16}, "results": []}
    print(f"{info['mode']} on {info['device_name']}; torch {info['torch']}"
          + (f", torchvision {info['torchvision']}" if info["torchvision"] else ""))
    head = f"{'model':<12} {'params':>12} {'fp32 max|Δ|':>12} {'rel':>9} {'bf16 max|Δ|':>12} {'rel':>9}  result"
    print(head + "\n" + "─" * len(head))
    ok = True
    for name in names:
        torch.manual_seed(args.seed)
        reference = reference_of(name)
        torch.manual_seed(args.seed + 1)  # a different init, so a copy that fails to land shows
        candidate = candidate_of(name)
        row = compare(name, reference, candidate, device, args.batch, shape or (3, 224, 224), args.seed)
        passed = row["fp32_ok"] and row["bf16_ok"] and row.get("train_ok", True)
        ok &= passed
        info["results"].append(row)
        print(f"{name:<12} {row['params']:>12,} {row['fp32_max_abs']:>12.3g} {row['fp32_rel']:>9.2g} "
              f"{row['bf16_max_abs']:>12.3g} {row['bf16_rel']:>9.2g}  {'ok' if passed else 'FAIL'}"
              + (f" (train, 3 outputs: rel {row['train_rel']:.2g})" if "train_rel" in row else ""))
        del reference, candidate
        if device.type == "cuda":
            torch.cuda.empty_cache()
    info["passed"] = ok
    text = json.dumps(info, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0 if ok else 1


def _torchvision_version() -> str:
    import torchvision

    return torchvision.__version__


if __name__ == "__main__":
    sys.exit(main())
