"""Cold `archc table resnet50` vs torchinfo's summary of the same network, each in a fresh process.

    python benchmarks/table_vs_torchinfo.py [--runs 15] [--spec resnet50]

Both sides start a new Python process per run; runs alternate so that machine load
hits both alike. Reported: median and minimum wall time, and peak resident memory
(``ru_maxrss`` from ``wait4``) of each process. The torchinfo side imports torch,
builds the network as an ``nn.Module`` from the PyTorch source that
``archc compile`` emits (so both sides describe the same network), and calls
``torchinfo.summary`` on a 1×3×224×224 input. archc's package is byte-compiled first,
as installing it from a wheel does.

Results and the command that produced them belong in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TORCHINFO = """
import importlib.util, sys
import torch, torchinfo
spec = importlib.util.spec_from_file_location("net", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
model = mod.build().eval()
torchinfo.summary(model, input_size=(1, *mod.INPUT_SHAPE), depth=10, verbose=1)
"""


def run(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode() if proc.stderr else status}")
    return wall, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--spec", default="resnet50")
    args = parser.parse_args()

    # pip byte-compiles a package it installs from a wheel, as it did torch and torchinfo;
    # an editable checkout (with PYTHONDONTWRITEBYTECODE set, as on our machines) would
    # compile archc's source in every run instead, ~0.05 s no user pays.
    import archc
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(archc.__file__).parent)], check=True,
                   stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        module = Path(tmp) / "net.py"
        subprocess.run([sys.executable, "-m", "archc", "compile", args.spec, "-o", str(module)], check=True)
        script = Path(tmp) / "torchinfo_summary.py"
        script.write_text(TORCHINFO)
        commands = {
            "archc table": [sys.executable, "-m", "archc", "table", args.spec],
            "torchinfo summary": [sys.executable, str(script), str(module)],
        }
        for cmd in commands.values():  # warm the OS file cache for both
            run(cmd)
        results: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                results[name].append(run(cmd))

    print(f"{args.spec}, {args.runs} cold runs each, alternating; python {sys.version.split()[0]}")
    print(f"{'':20} {'median s':>9} {'min s':>7} {'peak RSS MiB':>13}")
    summary = {}
    for name, rows in results.items():
        walls = [w for w, _ in rows]
        peak = max(m for _, m in rows) / 1024
        summary[name] = (statistics.median(walls), peak)
        print(f"{name:20} {statistics.median(walls):9.3f} {min(walls):7.3f} {peak:13.1f}")
    (a_wall, a_mem), (t_wall, t_mem) = summary["archc table"], summary["torchinfo summary"]
    print(f"archc is {t_wall / a_wall:.1f}x faster and uses {t_mem / a_mem:.1f}x less memory")


if __name__ == "__main__":
    main()
