"""Issue 3's GPU checks: the emitted networks train and infer on a GPU as people run them.

    python benchmarks/gpu_emission.py                              # on a GPU
    python benchmarks/gpu_emission.py --device cpu --batch 2 --input 3x64x64 --backends eager   # dry run

For each model (default: resnet50 and googlenet, built by ``archc.build``, i.e. from
exactly the source ``archc compile`` writes), for each backend (eager, and
``torch.compile``): the network and its input in channels_last, bf16 autocast, and
``--iters`` training steps (forward, cross-entropy, backward, SGD; GoogLeNet's
auxiliary heads included, weighted 0.3), then one eval-mode forward. A case passes when
every loss is finite, every parameter received a finite gradient, the convolution
weights are still channels_last, the training outputs were computed in bf16 and the eval
output has the expected shape and is finite. Printed: a table with the outcome, the last
loss, the median step time and the peak GPU memory. Exit status 1 if a case failed.

``--device cpu`` runs the same checks on the CPU (bf16 autocast works there too), which
is how a CPU test exercises this script.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from dataclasses import replace
from typing import Any

import torch

import archc
from archc.bench import Settings, device_name, prepare


def check(name: str, backend: str, s: Settings, input_shape: tuple[int, ...] | None) -> dict[str, Any]:
    torch.manual_seed(0)
    model = archc.build(name, input=input_shape)
    shape = input_shape or archc.analyze(name).input_shape
    classes = archc.analyze(name, input=input_shape).output_shape[0]
    outputs: list[torch.Tensor] = []
    if backend == "eager":  # no hook under torch.compile: it would be traced into the graph
        model.register_forward_hook(lambda _m, _i, out: outputs.append(out[0] if isinstance(out, tuple) else out))
    case = replace(s, mode="train", compile=backend == "compile")
    step = prepare(model, shape, case)
    problems: list[str] = []
    losses, times = [], []
    for _ in range(s.iters):
        if s.device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            loss = step()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            import time

            t0 = time.perf_counter()
            loss = step()
            times.append((time.perf_counter() - t0) * 1000)
        losses.append(float(loss.detach()))
    if not all(math.isfinite(v) for v in losses):
        problems.append(f"loss not finite: {losses}")
    grads = [(n, p.grad) for n, p in model.named_parameters()]
    missing = [n for n, g in grads if g is None]
    if missing:
        problems.append(f"{len(missing)} parameters without a gradient, e.g. {missing[0]}")
    elif not all(bool(torch.isfinite(g).all()) for _, g in grads):
        problems.append("a gradient is not finite")
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    if not all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs):
        problems.append("a convolution's weight is no longer channels_last")
    if outputs and outputs[-1].dtype != torch.bfloat16:
        problems.append(f"the training output is {outputs[-1].dtype}, not bfloat16")
    model.eval()
    runner = torch.compile(model) if backend == "compile" else model
    with torch.inference_mode(), torch.autocast(s.device, dtype=torch.bfloat16):
        x = torch.randn(2, *shape, device=s.device).contiguous(memory_format=torch.channels_last)
        out = runner(x)
    if tuple(out.shape) != (2, classes) or not bool(torch.isfinite(out.float()).all()):
        problems.append(f"eval output {tuple(out.shape)} (expected (2, {classes})) or not finite")
    peak = torch.cuda.max_memory_allocated() / 2**20 if s.device == "cuda" else None
    return {"model": name, "backend": backend, "ok": not problems, "problems": problems, "loss": losses[-1],
            "median_ms": statistics.median(times), "peak_mib": peak}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    p.add_argument("--models", default="resnet50,googlenet", help="comma-separated specs")
    p.add_argument("--backends", default="eager,compile", help="comma-separated from eager, compile")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--iters", type=int, default=3, help="training steps per case (the first one compiles)")
    p.add_argument("--input", default=None, help="input shape CxHxW (default: the spec's)")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: run on a GPU, or pass --device cpu for a dry run", file=sys.stderr)
        return 2
    shape = tuple(int(v) for v in args.input.split("x")) if args.input else None
    s = Settings(device=args.device, batch=args.batch, dtype="bf16", mode="train", channels_last=True, iters=args.iters,
                 warmup=0)
    print(f"{device_name(s.device)} ({s.device}), torch {torch.__version__}; {s.describe()}; train steps, then eval")
    print(f"{'model':12} {'backend':8} {'result':7} {'last loss':>10} {'ms/step':>9} {'peak MiB':>9}")
    failed = 0
    for name in args.models.split(","):
        for backend in args.backends.split(","):
            if s.device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            r = check(name, backend, s, shape)
            failed += not r["ok"]
            peak = f"{r['peak_mib']:9.0f}" if r["peak_mib"] is not None else f"{'n/a':>9}"
            print(f"{name:12} {backend:8} {'ok' if r['ok'] else 'FAILED':7} {r['loss']:10.4f} {r['median_ms']:9.1f} "
                  f"{peak}")
            for problem in r["problems"]:
                print(f"    {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
