"""Timing networks: the logic behind ``archc bench``, shared with the scripts in benchmarks/.

One *step* is what a benchmark repeats: a forward pass (``infer``: under
``torch.inference_mode``), or a training step (``train``: forward, cross-entropy loss,
backward, SGD update). :func:`prepare` turns a module and :class:`Settings` into such
a step on a fixed random batch; :func:`measure` runs warm-up steps, then timed ones,
each timed on its own (CUDA events on a GPU, ``time.perf_counter`` on the CPU), and
returns a :class:`Timing`. Reduced precision is autocast (``bf16``, ``fp16``), as in
mixed-precision training; fp16 training adds a gradient scaler.

Nothing here imports torch at module level: ``archc bench --help`` stays fast.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from .diagnostics import ArchcError, Diagnostic

DEVICES = ("cuda", "cpu")
DTYPES = ("fp32", "bf16", "fp16")
MODES = ("infer", "train")
DEFAULTS = {"cuda": {"batch": 256, "iters": 50, "warmup": 10}, "cpu": {"batch": 16, "iters": 10, "warmup": 3}}
AUX_WEIGHT = 0.3  # weight of auxiliary heads' losses in training (GoogLeNet, Szegedy et al. 2015, §5)


def error(code: str, message: str, hint: str | None = None) -> ArchcError:
    return ArchcError([Diagnostic(code, message, None, hint)])


@dataclass
class Settings:
    device: str = "cpu"
    batch: int = 16
    dtype: str = "fp32"
    mode: str = "infer"
    compile: bool = False
    channels_last: bool = False
    iters: int = 10
    warmup: int = 3

    def describe(self) -> str:
        precision = "fp32" if self.dtype == "fp32" else f"{self.dtype} autocast"
        parts = [f"batch {self.batch}", precision, self.mode, "torch.compile" if self.compile else "eager"]
        if self.channels_last:
            parts.append("channels_last")
        return ", ".join(parts)


@dataclass
class Timing:
    seconds: list[float]  # one entry per timed step
    batch: int
    peak_memory_bytes: int | None = None  # torch.cuda.max_memory_allocated; None on the CPU
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def images_per_s(self) -> float:
        total = sum(self.seconds)
        return self.batch * len(self.seconds) / total if total > 0 else math.inf

    def latency_ms(self) -> dict[str, float]:
        ms = sorted(s * 1000 for s in self.seconds)
        return {"median": statistics.median(ms), "p90": percentile(ms, 90), "mean": statistics.fmean(ms),
                "min": ms[0], "max": ms[-1]}


def percentile(sorted_values: list[float], q: float) -> float:
    """The nearest-rank percentile of sorted values (p90 of 10 values is the 9th)."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# --- settings --------------------------------------------------------------------------------


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def check_settings(s: Settings) -> None:
    """Refuse settings this machine cannot run, with a reason (exit 2 in the CLI)."""
    import torch

    if s.device not in DEVICES:
        raise error("E801", f"unknown device {s.device!r}", f"use one of {', '.join(DEVICES)}")
    if s.device == "cuda" and not torch.cuda.is_available():
        why = "this torch has no CUDA support" if torch.version.cuda is None else "no CUDA device is visible"
        raise error("E801", f"--device cuda: CUDA is not available ({why}, torch {torch.__version__})",
                    "run on a machine with an NVIDIA GPU and a CUDA build of torch, or use --device cpu")
    if s.dtype not in DTYPES:
        raise error("E802", f"unknown dtype {s.dtype!r}", f"use one of {', '.join(DTYPES)}")
    if s.mode not in MODES:
        raise error("E802", f"unknown mode {s.mode!r}", f"use one of {', '.join(MODES)}")
    if s.batch < 1 or s.iters < 1 or s.warmup < 0:
        raise error("E802", "batch and iterations must be at least 1, warm-up at least 0")
    if s.dtype != "fp32" and not autocast_works(s.device, s.dtype):
        raise error("E802", f"{s.dtype} autocast does not work on {s.device} with torch {torch.__version__}",
                    "use --dtype bf16 or fp32 on this device" if s.dtype == "fp16" else "use --dtype fp32")


def torch_dtype(name: str) -> Any:
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


def autocast_works(device: str, dtype: str) -> bool:
    """Can this torch run a small convolution forward and backward under this autocast?"""
    import torch

    try:
        conv = torch.nn.Conv2d(2, 2, 3).to(device)
        with torch.autocast(device, dtype=torch_dtype(dtype)):
            out = conv(torch.randn(1, 2, 5, 5, device=device))
        out.float().sum().backward()
    except (RuntimeError, TypeError, ValueError, AssertionError):
        return False
    return True


# --- running ---------------------------------------------------------------------------------


def prepare(model: Any, input_shape: tuple[int, ...], s: Settings, *, seed: int = 0,
            input_dtype: Any = None) -> Callable[[], Any]:
    """Move the model to the device (and memory format), set its mode, compile it if asked; return
    a function that runs one step on a fixed random batch (float32 unless ``input_dtype``)."""
    import contextlib

    import torch

    torch.manual_seed(seed)
    device = torch.device(s.device)
    memory_format = torch.channels_last if s.channels_last and len(input_shape) == 3 else torch.contiguous_format
    model = model.to(device, memory_format=memory_format)
    x = torch.randn(s.batch, *input_shape, device=device, dtype=input_dtype).contiguous(memory_format=memory_format)
    runner = torch.compile(model) if s.compile else model

    def amp() -> Any:
        return torch.autocast(s.device, dtype=torch_dtype(s.dtype)) if s.dtype != "fp32" else contextlib.nullcontext()

    if s.mode == "infer":
        model.eval()

        def infer() -> Any:
            with torch.inference_mode(), amp():
                return runner(x)
        return infer

    model.eval()  # the output's size, for the targets (eval: the main output only, no statistics updated)
    with torch.no_grad(), amp():
        probe = model(x[:1])
    model.train()
    first = probe[0] if isinstance(probe, (tuple, list)) else probe
    classes = first.shape[1] if first.dim() == 2 else None
    targets = torch.randint(0, classes, (s.batch,), device=device) if classes else None
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    scaler = torch.amp.GradScaler(s.device) if s.dtype == "fp16" and s.device == "cuda" else None

    def loss_of(out: Any) -> Any:
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        losses = [torch.nn.functional.cross_entropy(o.float(), targets) if targets is not None
                  else o.float().square().mean() for o in outs]
        return losses[0] + AUX_WEIGHT * sum(losses[1:]) if len(losses) > 1 else losses[0]

    def train() -> Any:
        with amp():
            loss = loss_of(runner(x))
        optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        return loss

    return train


def measure(step: Callable[[], Any], s: Settings, progress: Progress | None = None) -> Timing:
    """Warm-up steps, then ``s.iters`` steps each timed on its own."""
    import torch

    cuda = s.device == "cuda"
    for _ in range(s.warmup):
        step()
        if progress:
            progress.advance()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    seconds: list[float] = []
    if cuda:
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                  for _ in range(s.iters)]
        for start, end in events:
            start.record()
            step()
            end.record()
            if progress:
                progress.advance()
        torch.cuda.synchronize()
        seconds = [start.elapsed_time(end) / 1000 for start, end in events]
        peak = int(torch.cuda.max_memory_allocated())
    else:
        for _ in range(s.iters):
            t0 = time.perf_counter()
            step()
            seconds.append(time.perf_counter() - t0)
            if progress:
                progress.advance()
        peak = None
    return Timing(seconds, s.batch, peak)


def run_guarded(what: Callable[[], Any], s: Settings) -> Any:
    """Run a benchmark, turning the failures a user can fix into clear errors."""
    import torch

    try:
        return what()
    except torch.cuda.OutOfMemoryError:
        raise error("E802", f"out of GPU memory at batch {s.batch}", "lower --batch") from None
    except Exception as err:
        if s.compile and type(err).__module__.startswith("torch._dynamo"):
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise error("E802", f"torch.compile failed: {first}", "run without --compile") from None
        raise


def peak_rss_bytes() -> int | None:
    """The process's peak resident memory so far (all of it: Python, torch, the model)."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def device_name(device: str) -> str:
    import platform

    import torch

    if device == "cuda":
        return str(torch.cuda.get_device_name())
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


# --- progress --------------------------------------------------------------------------------


class Progress:
    """A one-line text bar on a terminal (``stream``), redrawn in place; silent elsewhere."""

    WIDTH = 30

    def __init__(self, total: int, label: str, stream: IO[str] | None = None, enabled: bool | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total, self.label, self.done = max(total, 1), label, 0
        self._draw()

    def advance(self, n: int = 1) -> None:
        self.done = min(self.total, self.done + n)
        self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        filled = self.WIDTH * self.done // self.total
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * (len(self.label) + self.WIDTH + 24) + "\r")
            self.stream.flush()


# --- archc bench -----------------------------------------------------------------------------


def bench_spec(spec: Any, s: Settings, *, inference: bool = False, input: tuple[int, ...] | None = None,
               progress: bool | None = None, stream: IO[str] | None = None, limits: Any = None,
               **overrides: Any) -> dict[str, Any]:
    """Build a spec's network and time it: the report ``archc bench`` prints (see docs/cli.md)."""
    from ._torch import require_torch
    from .api import analyze, build, load

    torch = require_torch("archc bench")

    check_settings(s)
    if inference and s.mode == "train":
        raise error("E802", "--inference builds a network for inference only (batch norms folded, no dropout)",
                    "time training with the plain network: leave out --inference")
    program = load(spec, limits=limits)
    report = analyze(program, input=input, limits=limits, **overrides)
    if s.device == "cuda":
        torch.backends.cudnn.benchmark = True  # let cuDNN pick its fastest kernels, as benchmarks do
    torch.manual_seed(0)
    model = build(program, input=input, inference=inference, limits=limits, **overrides)
    input_dtype = None
    if inference and s.dtype != "fp32":
        # autocast would cast every weight on every call; the folded network holds them in that precision
        input_dtype = torch_dtype(s.dtype)
        model = model.to(input_dtype)
    bar = Progress(s.warmup + s.iters, f"{program.name}: {s.mode}", stream, progress)
    try:
        timing = run_guarded(lambda: measure(prepare(model, report.input_shape, s, input_dtype=input_dtype), s,
                                             bar), s)
    finally:
        bar.close()
    return {
        "spec": program.name,
        "device": s.device,
        "device_name": device_name(s.device),
        "torch": torch.__version__,
        "batch": s.batch,
        "dtype": s.dtype,
        "mode": s.mode,
        "compile": s.compile,
        "channels_last": s.channels_last,
        "inference": inference,
        "input": list(report.input_shape),
        "params": sum(p.numel() for p in model.parameters()),
        "iters": s.iters,
        "warmup": s.warmup,
        "images_per_s": timing.images_per_s,
        "latency_ms": timing.latency_ms(),
        "peak_memory_bytes": timing.peak_memory_bytes,
        "peak_memory_source": "torch.cuda.max_memory_allocated" if s.device == "cuda" else None,
        "peak_rss_bytes": peak_rss_bytes(),
    }


def format_text(r: dict[str, Any]) -> str:
    s = Settings(r["device"], r["batch"], r["dtype"], r["mode"], r["compile"], r["channels_last"])
    variant = " (inference variant)" if r["inference"] else ""
    lat = r["latency_ms"]
    if r["peak_memory_bytes"] is not None:
        memory = f"{_size(r['peak_memory_bytes'])} (torch.cuda.max_memory_allocated, timed steps)"
    else:
        memory = "n/a on the CPU"
        if r["peak_rss_bytes"] is not None:
            memory += f"; process peak RSS {_size(r['peak_rss_bytes'])}"
    return "\n".join([
        f"{r['spec']}{variant} on {r['device_name']} ({r['device']}, torch {r['torch']})",
        f"  settings     {s.describe()}, input {'×'.join(map(str, r['input']))}",
        f"  throughput   {r['images_per_s']:,.1f} images/s",
        f"  latency      {lat['median']:.2f} ms median, {lat['p90']:.2f} ms p90 per step "
        f"({r['iters']} timed after {r['warmup']} warm-up)",
        f"  peak memory  {memory}",
    ]) + "\n"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)
