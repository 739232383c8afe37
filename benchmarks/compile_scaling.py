"""Does `archc compile` cost time linear in the network's size, like `archc table`?

    python benchmarks/compile_scaling.py [--runs 3] [--depths 1202,6002,24002]

For `resnet_cifar` at each depth (He et al. 2016, §4.2: 6n+2 layers, 3 stages of n basic
blocks), a fresh `python -m archc table` process and a fresh `python -m archc compile`
process (writing the module to a temporary file), both with the node and step limits
raised far enough for the largest depth. Reported: median and minimum wall time, the
ratio compile / table per depth, and each command's growth from one depth to the next
(linear cost grows like the depth).

The target (issue 13): compile at depth 24002 within 2× of table at the same depth. Before
the fix, finding what one loop iteration made scanned the whole graph, so compile was
quadratic: 6.5 s for table, 52 s for compile at depth 24002. Results and the command
belong in docs/benchmarks.md, section "Compile cost".
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 2.0
LIMITS = ["--limit", "max_nodes=1000000", "--limit", "max_steps=10000000"]


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--depths", default="1202,6002,24002",
                        help="comma-separated depths 6n+2 of resnet_cifar (default: 1202,6002,24002)")
    args = parser.parse_args()
    depths = [int(d) for d in args.depths.split(",")]

    archc = [sys.executable, "-m", "archc"]
    print(f"cold processes, {args.runs} runs each; Python {sys.version.split()[0]}")
    print(f"{'depth':>6} {'table s':>8} {'compile s':>10} {'compile/table':>14}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "net.py")
        for depth in depths:
            setting = ["resnet_cifar", "--set", f"depth={depth}", *LIMITS]
            table = [timed([*archc, "table", *setting, "--depth", "1"]) for _ in range(args.runs)]
            compile_ = [timed([*archc, "compile", *setting, "-o", out]) for _ in range(args.runs)]
            t, c = statistics.median(table), statistics.median(compile_)
            rows.append((depth, t, c))
            verdict = f"  target {TARGET_RATIO:.0f}×: {'ok' if c <= TARGET_RATIO * t else 'SLOW'}"
            print(f"{depth:>6} {t:>8.2f} {c:>10.2f} {c / t:>14.2f}{verdict}  (min {min(table):.2f} / "
                  f"{min(compile_):.2f})")
    for (d0, t0, c0), (d1, t1, c1) in itertools.pairwise(rows):
        print(f"depth ×{d1 / d0:.1f}: table ×{t1 / t0:.1f}, compile ×{c1 / c0:.1f}")


if __name__ == "__main__":
    main()
