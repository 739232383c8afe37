"""archc's inference peak-memory figure against what PyTorch allocates on a CUDA GPU.

    python benchmarks/memory_vs_cuda.py [--spec resnet50] [--batch 64] [--dtype fp32] [--runs 3]
    python benchmarks/memory_vs_cuda.py --device cpu [--batch 8]     # the CPU comparison
    python benchmarks/memory_vs_cuda.py --dry-run                    # the logic, on CPU, small

What is compared (the acceptance of issue 7: within 10%):

- archc: ``archc.analyze(spec).memory(batch, dtype).inference_peak``, computed from the
  graph without torch: the largest total of live activation tensors during one inference
  pass, the input batch included, the weights excluded (docs/counting.md, "Memory").
- CUDA: the network built by ``archc.build(spec)``, moved to the GPU (and to the dtype),
  in eval mode; ``torch.cuda.memory_allocated()`` after that is the weights. The input
  batch is allocated, the peak statistics are reset, one forward pass runs under
  ``torch.no_grad()``, and ``torch.cuda.max_memory_allocated() - weights`` is the figure
  (it includes the input, as archc's does). One pass runs first as a warm-up (cuDNN
  picks its algorithms); the figure is the largest over ``--runs`` measured passes.
- CPU (``--device cpu``): no allocator statistics exist, so two measurements: the
  tensors aten ops allocate, followed storage by storage with a dispatch mode (the
  tests' oracle; this one is checked), and, for information, every allocation the CPU
  allocator sees during the pass (``torch.profiler`` with ``profile_memory=True``: its
  ``[memory]`` events summed in time order), which also counts the temporaries inside
  convolution kernels and the re-laid-out weights oneDNN makes on every call.

Prints one line per measurement with the ratio torch / archc; exits 1 when a checked
figure is more than ``--tolerance`` (default 10%) away from archc's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def archc_figure(spec: str, batch: int, dtype: str, input_shape: tuple[int, ...] | None = None) -> int:
    import archc

    memory = archc.analyze(spec, input=input_shape).memory(batch, dtype)
    if memory is None:
        raise SystemExit(f"{spec}: a shape is unknown, so there is no memory figure")
    return memory.inference_peak


def _model_and_input(spec: str, batch: int, dtype: str, device: str, input_shape: tuple[int, ...] | None):
    import torch

    import archc

    torch_dtype = getattr(torch, DTYPES[dtype])
    model = archc.build(spec, input=input_shape).eval().to(device=device, dtype=torch_dtype)
    shape = archc.analyze(spec, input=input_shape).input_shape
    return model, (batch, *shape), torch_dtype


def measure_cuda(spec: str, batch: int, dtype: str, runs: int, input_shape: tuple[int, ...] | None) -> int:
    """max_memory_allocated − weights over one inference pass (input included), largest of ``runs``."""
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run on a GPU machine, or use --device cpu / --dry-run")
    model, shape, torch_dtype = _model_and_input(spec, batch, dtype, "cuda", input_shape)
    torch.cuda.synchronize()
    weights = torch.cuda.memory_allocated()
    x = torch.randn(shape, device="cuda", dtype=torch_dtype)
    with torch.no_grad():
        model(x)  # warm-up: cuDNN chooses its algorithms, lazy state is created
    torch.cuda.synchronize()
    peaks = []
    for _ in range(runs):
        torch.cuda.reset_peak_memory_stats()
        with torch.no_grad():
            y = model(x)
        torch.cuda.synchronize()
        peaks.append(torch.cuda.max_memory_allocated() - weights)
        del y
    return max(peaks)


def measure_cpu(spec: str, batch: int, dtype: str, input_shape: tuple[int, ...] | None) -> dict[str, int]:
    """Tensor-level (dispatch mode) and allocator-level (profiler) peaks of one pass on CPU,
    each with the input batch added."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from tests.measure import inference_peak

    model, shape, torch_dtype = _model_and_input(spec, batch, dtype, "cpu", input_shape)
    x = torch.randn(shape, dtype=torch_dtype)
    input_bytes = x.numel() * x.element_size()
    tensors = inference_peak(model, [x]) + input_bytes
    with torch.no_grad():
        model(x)  # warm-up
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            model(x)
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]")
    live = peak = 0
    for _, n_bytes in events:
        live += n_bytes
        peak = max(peak, live)
    return {"tensors (dispatch mode)": tensors, "allocator (torch.profiler)": peak + input_bytes}


def _shape(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.replace("×", "x").split("x"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default="resnet50")
    parser.add_argument("--batch", type=int, default=None, help="default 64 (CUDA), 8 (CPU), 2 (dry run)")
    parser.add_argument("--dtype", choices=tuple(DTYPES), default="fp32")
    parser.add_argument("--input", type=_shape, default=None, help="override the input shape, e.g. 3x64x64")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=0.10)
    parser.add_argument("--dry-run", action="store_true",
                        help="check the logic without a GPU: CPU, batch 2, input 3x64x64 unless given")
    args = parser.parse_args(argv)
    device = "cpu" if args.dry_run else args.device
    batch = args.batch or (2 if args.dry_run else 8 if device == "cpu" else 64)
    input_shape = args.input or ((3, 64, 64) if args.dry_run else None)

    expected = archc_figure(args.spec, batch, args.dtype, input_shape)
    checked: dict[str, int] = {}
    info: dict[str, int] = {}
    if device == "cuda":
        import torch

        figure = measure_cuda(args.spec, batch, args.dtype, args.runs, input_shape)
        checked[f"CUDA max_memory_allocated - weights ({torch.cuda.get_device_name()})"] = figure
    else:
        cpu = measure_cpu(args.spec, batch, args.dtype, input_shape)
        checked["CPU tensors (dispatch mode)"] = cpu.pop("tensors (dispatch mode)")
        info = {f"CPU {k}, for information: also kernel temporaries and weight re-layouts": v for k, v in cpu.items()}
    shown = "x".join(map(str, input_shape)) if input_shape else "the spec's input"
    print(f"{args.spec}, batch {batch}, {args.dtype}, {shown}")
    print(f"  archc inference peak: {expected:>14,} bytes ({expected / 2**20:,.1f} MiB)")
    ok = True
    for what, value in checked.items():
        ratio = value / expected
        within = abs(ratio - 1) <= args.tolerance
        ok &= within
        print(f"  {what}: {value:,} bytes ({value / 2**20:,.1f} MiB), torch / archc = {ratio:.3f} "
              f"({'within' if within else 'NOT within'} {args.tolerance:.0%})")
    for what, value in info.items():
        print(f"  {what}: {value:,} bytes ({value / 2**20:,.1f} MiB), torch / archc = {value / expected:.3f}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
