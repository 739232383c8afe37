"""Where a cold `archc table resnet50` spends its time and memory, stage by stage.

    python benchmarks/table_breakdown.py [--spec resnet50] [--runs 5]

Each run is a fresh process that reads its own resident memory (VmRSS) after each
stage; the median of the runs is printed. Linux only (reads /proc/self/status).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

STAGES = r"""
import json, sys, time
t0 = time.perf_counter()
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
marks = [("Python started", 0.0, rss())]
import pydantic
marks.append(("import pydantic", time.perf_counter() - t0, rss()))
import archc.cli
marks.append(("import archc", time.perf_counter() - t0, rss()))
import archc
program = archc.load(sys.argv[1])
marks.append(("load and validate the spec", time.perf_counter() - t0, rss()))
graph = archc.lower(program)
marks.append(("lower: instantiate, infer shapes", time.perf_counter() - t0, rss()))
from archc.analysis.report import analyze_graph
from archc.analysis.table import render
render(analyze_graph(graph), "text")
marks.append(("count and render the table", time.perf_counter() - t0, rss()))
print(json.dumps(marks))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default="resnet50")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import archc  # byte-compiled first, as installing from a wheel does (see table_vs_torchinfo.py)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(archc.__file__).parent)], check=True,
                   stdout=subprocess.DEVNULL)
    runs = [json.loads(subprocess.run([sys.executable, "-c", STAGES, args.spec], capture_output=True, text=True,
                                      check=True).stdout) for _ in range(args.runs)]
    print(f"{args.spec}: median of {args.runs} fresh processes")
    print(f"{'stage':36} {'+wall s':>8} {'RSS MiB':>8} {'+MiB':>6}")
    prev_t = prev_m = 0.0
    for k, (name, _, _) in enumerate(runs[0]):
        t = statistics.median(r[k][1] for r in runs)
        mem = statistics.median(r[k][2] for r in runs)
        print(f"{name:36} {t - prev_t:8.3f} {mem:8.1f} {mem - prev_m if k else 0:6.1f}")
        prev_t, prev_m = t, mem


if __name__ == "__main__":
    main()
