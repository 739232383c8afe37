"""archc's emitted networks against torchvision's own, in one process, alternating, same settings.

    python benchmarks/compare_torchvision.py                       # on a GPU: the issue's acceptance runs
    python benchmarks/compare_torchvision.py --dry-run             # anywhere: the logic, on the CPU, no torchvision

For each model (default: resnet50, resnet152, vgg16, googlenet, alexnet; a model is a
shipped spec whose torchvision namesake has the same layout), for each mode (inference,
and a training step: forward, cross-entropy, backward, SGD) and each backend (eager, and
``torch.compile``): both networks are built with fresh weights, torchvision's weights
are loaded into archc's network (strict: the same keys and shapes) and the two outputs
compared in float32, then both are prepared with the same settings (by default bf16
autocast, channels_last, batch 256, ``torch.backends.cudnn.benchmark`` on) and timed in
``--rounds`` rounds of ``--iters`` steps each, alternating which goes first. A step is
timed with CUDA events (see archc/bench.py, which ``archc bench`` uses too). Reported per
case: the median over rounds of each side's images/s and their ratio archc / torchvision
(the issue asks for at least 0.98).

Then the inference variant of ResNet-50 (``--inference-model``; ``archc compile --inference``: batch norms
folded, built from torchvision's weights with ``fold_state_dict``) against torchvision's
eager inference under the same settings (the issue asks for at least 1.15×), after
checking that its float32 outputs equal torchvision's within 1e-4 relative. It runs
twice: with float32 weights under autocast, and with its weights cast once to the
autocast dtype (what ``archc bench --inference`` does); with ``--backends`` including
compile, also under ``torch.compile``.

``--dry-run`` exercises all of this without a GPU or torchvision: the reference is a
second archc build of the same spec, on the CPU, batch 2, a 64×64 input, one step per
round, eager only, and only the models that are shipped specs (any spec file works as a
model there). A CPU test runs it on a tiny spec.

Everything goes to standard output as a table and, with ``--json FILE``, to a JSON file
with the settings, the environment (GPU, torch, torchvision, CUDA, cuDNN) and every
round's figure. Results and the exact command belong in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

import archc
from archc.bench import Settings, device_name, measure, prepare, torch_dtype
from archc.spec.loader import shipped_names

MODELS = ("resnet50", "resnet152", "vgg16", "googlenet", "alexnet")
PARITY, SPEEDUP, TOLERANCE = 0.98, 1.15, 1e-4


def reference_builder(dry_run: bool, input_shape: tuple[int, ...] | None) -> Callable[[str], torch.nn.Module]:
    """torchvision's model of that name, or (dry run) a second archc build."""
    if dry_run:
        return lambda name: archc.build(name, input=input_shape)
    import torchvision

    def build(name: str) -> torch.nn.Module:
        # GoogLeNet as archc's googlenet spec: heads on, no input re-normalisation
        extra = {"aux_logits": True, "init_weights": True, "transform_input": False} if name == "googlenet" else {}
        return getattr(torchvision.models, name)(weights=None, **extra)
    return build


def relative_error(reference: Any, other: Any) -> float:
    reference = reference[0] if isinstance(reference, (tuple, list)) else reference
    other = other[0] if isinstance(other, (tuple, list)) else other
    return ((reference.float() - other.float()).abs().max() / reference.float().abs().max().clamp_min(1e-12)).item()


def outputs_match(a: torch.nn.Module, b: torch.nn.Module, shape: tuple[int, ...], device: str) -> float:
    """Max relative difference of two networks' eval-mode outputs in float32."""
    x = torch.randn(2, *shape, device=device)
    a, b = a.to(device).eval(), b.to(device).eval()
    with torch.inference_mode():
        return relative_error(a(x), b(x))


def free() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def alternate(steps: dict[str, Callable[[], Any]], s: Settings, rounds: int) -> dict[str, list[float]]:
    """Warm each up, then time them in turns (the first one alternates): images/s per round."""
    for step in steps.values():
        measure(step, replace(s, iters=1))  # s.warmup untimed steps (and compilation), one timed
    out: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            out[name].append(measure(steps[name], replace(s, warmup=0)).images_per_s)
    return out


def parity(name: str, ref_build: Callable[[str], torch.nn.Module], s: Settings, args: argparse.Namespace,
           shape: tuple[int, ...], log: Callable[[str], None]) -> tuple[float, list[dict[str, Any]]]:
    rows = []
    ours, theirs = archc.build(name, input=args.input), ref_build(name)
    ours.load_state_dict(theirs.state_dict())  # strict: the same layout, key for key
    error = outputs_match(theirs, ours, shape, s.device)
    log(f"{name}: outputs match the reference's within {error:.1e} (float32, eval)")
    for mode in args.modes:
        for backend in args.backends:
            case = replace(s, mode=mode, compile=backend == "compile")
            steps = {"archc": prepare(ours, shape, case), "reference": prepare(theirs, shape, case)}
            ips = alternate(steps, case, args.rounds)
            a, t = statistics.median(ips["archc"]), statistics.median(ips["reference"])
            rows.append({"model": name, "mode": mode, "backend": backend, "archc_images_per_s": ips["archc"],
                         "reference_images_per_s": ips["reference"], "archc_median": a, "reference_median": t,
                         "ratio": a / t, "meets_target": a / t >= PARITY})
            log(f"{name:10} {mode:6} {backend:8} archc {a:10.1f}  reference {t:10.1f}  ratio {a / t:.3f}")
            del steps
            free()
    return error, rows


def optimised(name: str, ref_build: Callable[[str], torch.nn.Module], s: Settings, args: argparse.Namespace,
              shape: tuple[int, ...], log: Callable[[str], None]) -> list[dict[str, Any]]:
    """The inference variant (of ResNet-50 by default) against the reference's inference."""
    theirs = ref_build(name)
    fast = archc.build(name, input=args.input, inference=True, state_dict=theirs.state_dict())
    error = outputs_match(theirs, fast, shape, s.device)
    log(f"{name} inference variant: outputs match within {error:.1e} (float32, eval)")
    rows = []
    cast = s.dtype != "fp32"
    variants = [("folded, float32 weights", fast, None)]
    if cast:
        low = archc.build(name, input=args.input, inference=True, state_dict=theirs.state_dict())
        variants.append((f"folded, {s.dtype} weights", low.to(torch_dtype(s.dtype)), torch_dtype(s.dtype)))
    for backend in args.backends:
        case = replace(s, mode="infer", compile=backend == "compile")
        reference = prepare(theirs, shape, case)
        eager_reference = reference if backend == "eager" else prepare(theirs, shape, replace(case, compile=False))
        for label, model, dtype in variants:
            steps = {"archc": prepare(model, shape, case, input_dtype=dtype), "reference": reference}
            if backend != "eager":
                steps["reference_eager"] = eager_reference
            ips = alternate(steps, case, args.rounds)
            a = statistics.median(ips["archc"])
            t_eager = statistics.median(ips.get("reference_eager", ips["reference"]))
            row = {"model": name, "variant": label, "backend": backend, "max_rel_error_fp32": error,
                   "archc_images_per_s": ips["archc"], "archc_median": a,
                   "reference_images_per_s": ips["reference"], "reference_median": statistics.median(ips["reference"]),
                   "reference_eager_median": t_eager, "speedup_vs_reference_eager": a / t_eager,
                   "meets_target": a / t_eager >= SPEEDUP and error < TOLERANCE}
            rows.append(row)
            log(f"{name} inference variant ({label}, {backend}): {a:10.1f} images/s, "
                f"{a / t_eager:.3f}x the reference's eager {t_eager:.1f}")
            free()
    return rows


def environment(s: Settings, dry_run: bool) -> dict[str, Any]:
    env = {"device": s.device, "device_name": device_name(s.device), "torch": torch.__version__,
           "python": platform.python_version(), "cuda": torch.version.cuda,
           "cudnn": torch.backends.cudnn.version() if s.device == "cuda" else None}
    if not dry_run:
        import torchvision

        env["torchvision"] = torchvision.__version__
    return env


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=None, help=f"comma-separated (default: {','.join(MODELS)})")
    p.add_argument("--modes", default="infer,train", help="comma-separated from infer, train (default: both)")
    p.add_argument("--backends", default=None, help="comma-separated from eager, compile (default: both)")
    p.add_argument("--device", default=None, help="cuda (default) or cpu")
    p.add_argument("--batch", type=int, default=None, help="images per step (default 256)")
    p.add_argument("--dtype", default="bf16", choices=("fp32", "bf16", "fp16"), help="autocast dtype (default bf16)")
    p.add_argument("--no-channels-last", action="store_true", help="keep the default memory format")
    p.add_argument("--rounds", type=int, default=None, help="timed rounds per case, alternating (default 5)")
    p.add_argument("--iters", type=int, default=None, help="steps per round (default 20)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps before the rounds (default 10)")
    p.add_argument("--input", default=None, help="input shape CxHxW (default: the spec's)")
    p.add_argument("--inference-model", default="resnet50",
                   help="the model whose inference variant is compared (default resnet50)")
    p.add_argument("--skip-inference", action="store_true", help="leave out the inference-variant comparison")
    p.add_argument("--json", default=None, metavar="FILE", help="also write every figure to FILE")
    p.add_argument("--dry-run", action="store_true",
                   help="CPU, no torchvision: archc against a second archc build, tiny settings")
    args = p.parse_args(argv)

    dry = args.dry_run
    args.device = args.device or ("cpu" if dry else "cuda")
    args.input = tuple(int(v) for v in args.input.split("x")) if args.input else ((3, 64, 64) if dry else None)
    models = args.models.split(",") if args.models else [m for m in MODELS if not dry or m in shipped_names()]
    args.modes = args.modes.split(",")
    args.backends = (args.backends or ("eager" if dry else "eager,compile")).split(",")
    args.rounds = args.rounds or (2 if dry else 5)
    s = Settings(device=args.device, batch=args.batch or (2 if dry else 256), dtype=args.dtype,
                 channels_last=not args.no_channels_last, iters=args.iters or (1 if dry else 20),
                 warmup=(1 if dry else 10) if args.warmup is None else args.warmup)
    if s.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: run on a GPU, or pass --dry-run (or --device cpu)", file=sys.stderr)
        return 2
    torch.backends.cudnn.benchmark = True
    ref_build = reference_builder(dry, args.input)

    def log(line: str) -> None:
        print(line, flush=True)

    log(f"{'dry run: archc against archc' if dry else 'archc against torchvision'} on {device_name(s.device)}; "
        f"{s.describe()}; {args.rounds} rounds of {s.iters} steps, alternating")
    results, checks, fast = [], [], []
    for name in models:
        shape = args.input or archc.analyze(name).input_shape
        error, rows = parity(name, ref_build, s, args, shape, log)
        checks.append({"model": name, "max_rel_error_fp32": error})
        results += rows
        free()
    if not args.skip_inference and "infer" in args.modes:
        name = args.inference_model
        fast = optimised(name, ref_build, s, args, args.input or archc.analyze(name).input_shape, log)
    report = {"command": " ".join(["python", "benchmarks/compare_torchvision.py", *(argv or sys.argv[1:])]),
              "reference": "archc (dry run)" if dry else "torchvision", "settings": {
                  "batch": s.batch, "dtype": s.dtype, "channels_last": s.channels_last, "iters": s.iters,
                  "warmup": s.warmup, "rounds": args.rounds, "input": list(args.input) if args.input else None,
                  "cudnn_benchmark": True},
              "environment": environment(s, dry), "correctness": checks, "parity": results,
              "inference_variant": fast, "targets": {"parity": PARITY, "inference_speedup": SPEEDUP}}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
