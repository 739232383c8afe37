"""Cold `archc table` on the zoo: ResNet-1202 for CIFAR, and every shipped spec.

    python benchmarks/zoo_table.py [--runs 5] [--all]

Each run is a fresh `python -m archc table SPEC` process writing the full table (every
module, all depths) to /dev/null, so Python's start-up, imports, loading the YAML,
lowering, shape inference, counting and printing are all included; torch is never
imported. Reported: median and minimum wall time over the runs.

The target (issue 4): `resnet_cifar` at depth 1202 (He et al. 2016, §4.2: 3 stages of
200 basic blocks, 19.4 M parameters, ~4,000 graph nodes) in under 2 s. `--all` adds
one row per shipped spec at its defaults, and `archc list`, which analyses them all.
Results and the command belong in docs/benchmarks.md, section "Zoo".
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

TARGET_S = 2.0


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--all", action="store_true", help="also every shipped spec, and archc list")
    args = parser.parse_args()

    archc = [sys.executable, "-m", "archc"]
    cases: dict[str, list[str]] = {"resnet_cifar depth=1202": [*archc, "table", "resnet_cifar", "--set", "depth=1202"]}
    if args.all:
        from archc.spec.loader import shipped_names

        cases.update({name: [*archc, "table", name] for name in shipped_names()})
        cases["archc list"] = [*archc, "list"]
    print(f"cold processes, {args.runs} runs each; Python {sys.version.split()[0]}")
    print(f"{'case':<26} {'median s':>9} {'min s':>7}")
    for name, cmd in cases.items():
        times = [timed(cmd) for _ in range(args.runs)]
        verdict = ""
        if "depth=1202" in name:
            verdict = f"  target {TARGET_S:.0f} s: {'ok' if statistics.median(times) < TARGET_S else 'SLOW'}"
        print(f"{name:<26} {statistics.median(times):>9.2f} {min(times):>7.2f}{verdict}")


if __name__ == "__main__":
    main()
