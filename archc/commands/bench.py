"""``archc bench SPEC``: time the emitted network on a device (images/s, latency, peak memory)."""

from __future__ import annotations

import argparse
import json
import sys

from ..bench import DEFAULTS, DEVICES, DTYPES, MODES
from ._common import EXIT_OK, add_spec_options, count_arg, limits, overrides


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench", help="time the network: images/s, latency and peak memory, for inference or a training step",
        description="Build SPEC's network (exactly what `archc compile` writes) with fresh weights and time it on "
                    "a fixed random batch: warm-up steps, then timed steps (CUDA events on a GPU). A step is a "
                    "forward pass (--mode infer) or forward, loss, backward and an SGD update (--mode train). "
                    "Prints images/s, median and p90 latency per step, and peak GPU memory. A progress bar shows "
                    "on stderr when it is a terminal.")
    p.add_argument("spec", metavar="SPEC", help="a spec file or a shipped spec name")
    p.add_argument("--device", choices=DEVICES, default=None,
                   help="where to run (default: cuda if available, else cpu)")
    p.add_argument("--batch", type=count_arg(1), metavar="N",
                   help=f"images per step (default: {DEFAULTS['cuda']['batch']} on cuda, "
                        f"{DEFAULTS['cpu']['batch']} on cpu)")
    p.add_argument("--dtype", choices=DTYPES, default="fp32",
                   help="fp32 (default), or bf16/fp16 autocast (mixed precision)")
    p.add_argument("--mode", choices=MODES, default="infer",
                   help="infer: forward under inference_mode (default); train: forward, loss, backward, SGD step")
    p.add_argument("--compile", action="store_true", help="run the network under torch.compile")
    p.add_argument("--channels-last", action="store_true",
                   help="channels_last memory format for the network and the input")
    p.add_argument("--inference", action="store_true",
                   help="time the inference variant (`archc compile --inference`): batch norms folded, dropout "
                        "and training-only heads removed; infer mode only")
    p.add_argument("--iters", type=count_arg(1), metavar="N",
                   help=f"timed steps (default: {DEFAULTS['cuda']['iters']} on cuda, {DEFAULTS['cpu']['iters']} "
                        "on cpu)")
    p.add_argument("--warmup", type=count_arg(0), metavar="N",
                   help=f"untimed steps first (default: {DEFAULTS['cuda']['warmup']} on cuda, "
                        f"{DEFAULTS['cpu']['warmup']} on cpu)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    add_spec_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._torch import require_torch
    from ..bench import Settings, bench_spec, default_device, format_text

    require_torch("archc bench")  # before default_device() asks torch for a GPU
    device = args.device or default_device()
    defaults = DEFAULTS[device]
    settings = Settings(device=device, batch=args.batch or defaults["batch"], dtype=args.dtype, mode=args.mode,
                        compile=args.compile, channels_last=args.channels_last,
                        iters=args.iters or defaults["iters"],
                        warmup=defaults["warmup"] if args.warmup is None else args.warmup)
    result = bench_spec(args.spec, settings, inference=args.inference, input=args.input, limits=limits(args),
                        **overrides(args))
    if args.format == "json":
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        sys.stdout.write(format_text(result))
    return EXIT_OK
