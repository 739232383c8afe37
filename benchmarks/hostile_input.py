"""How long archc takes to refuse (or accept) hostile specs, each in a fresh process.

    python benchmarks/hostile_input.py [--runs 3] [--part corpus|worst|all]

``corpus``: every spec in tests/corpus through ``python -m archc validate`` and
``python -m archc table`` (with the spec's ``# args:``); reported: the median and the
maximum over the specs of each one's median wall time, and the slowest specs.

``worst``: specs built here to cost as much as the default limits allow, each run
with ``python -m archc validate``: the largest file of the slowest kind to parse, the
most nodes and steps lowering will make, exponential expansions refused by the
bound computed before expanding, and the deepest nesting. Reported: wall time and
peak resident memory (``ru_maxrss`` from ``wait4``) and the exit code.

Results and the command that produced them belong in docs/benchmarks.md ("Hostile input").
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archc.limits import Limits  # noqa: E402

HEAD = "archc: 1\nname: worst\ninput: [3, 32, 32]\n"


def run(cmd: list[str]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS (KiB) and exit code of one process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def corpus(runs: int) -> None:
    # the W-code cases are valid specs that get a warning, not hostile ones
    specs = [p for p in sorted((ROOT / "tests" / "corpus").glob("*.yaml"))
             if not p.read_bytes().startswith(b"# expect: W")]
    print(f"{len(specs)} corpus specs, {runs} run(s) each, median per spec")
    for command in ("validate", "table"):
        timed = []
        for spec in specs:
            lines = spec.read_bytes().decode("utf-8", "replace").splitlines()
            args = next((shlex.split(x[7:]) for x in lines[1:4] if x.startswith("# args:")), [])
            commands = next((x[11:].split() for x in lines[1:4] if x.startswith("# commands:")), ["validate", "table"])
            if command not in commands:  # a spec only compile refuses: timed as compile
                args = ["-o", os.devnull, *args]
            walls, codes = [], set()
            for _ in range(runs):
                cmd = command if command in commands else commands[0]
                wall, _, code = run([sys.executable, "-m", "archc", cmd, str(spec.relative_to(ROOT)), *args])
                walls.append(wall)
                codes.add(code)
            assert codes == {2}, (spec.name, codes)
            timed.append((statistics.median(walls), min(walls), spec.name))
        timed.sort()
        medians, minimums = [t[0] for t in timed], [t[1] for t in timed]
        print(f"  {command}: per-spec median: median {statistics.median(medians):.3f} s, max {max(medians):.3f} s; "
              f"per-spec best: max {max(minimums):.3f} s; slowest: "
              + ", ".join(f"{n} {t:.3f} s" for t, _, n in timed[-3:]))


def worst_cases(folder: Path) -> dict[str, str]:
    limits = Limits()
    cap = limits.max_bytes - 200
    # the slowest kind of file to read per byte: flow lists of one-character scalars (each list
    # within the 1,000 values a list may hold)
    row = "[" + ", ".join(["1"] * 500) + "]"
    rows = (cap - len(HEAD) - 40) // (len(row) + 12)
    cases = {
        "largest file (flow lists of 1-char scalars)":
            HEAD + "params:\n" + "".join(f"  p{k}: {row}\n" for k in range(rows)) + "layers: [relu]\n",
        # the most nodes lowering makes without an error: a repeat just under max_nodes
        "largest network (max_nodes - 1 relus)":
            HEAD + f"layers:\n  - s: {{repeat: {limits.max_nodes - 2}, each: relu}}\n",
        "largest network of convolutions (max_nodes - 1)":
            HEAD + f"layers:\n  - s: {{repeat: {limits.max_nodes - 2}, each: conv(3, 1)}}\n",
        # the most steps without a node: absent entries, just under max_steps
        "most steps (~max_steps absent entries)":
            HEAD + "layers:\n  - relu\n  - s: {repeat: 1000, each: [{repeat: "
            + str(limits.max_steps // 2000 - 2) + ", each: [{when: false, layers: relu}]}]}\n",
        "exponential: 100^9 convolutions (refused)":
            HEAD + "blocks:\n  L0: {layers: [c: conv(3, 1)]}\n"
            + "".join(f"  L{k}: {{repeat: 100, each: L{k - 1}()}}\n" for k in range(1, 10)) + "layers:\n  - s: L9()\n",
        "10^10 absent entries (refused)":
            HEAD + "layers:\n  - relu\n"
                   "  - {repeat: 100000, each: [{repeat: 100000, each: [{when: false, layers: relu}]}]}\n",
        "count from a shape: 1000 x 1000 (refused at the repeat)":
            HEAD + "blocks:\n  W:\n    layers:\n      - r: {repeat: input.channels, each: "
                   "[{repeat: input.channels, each: relu}]}\nlayers:\n  - c: conv(1000, 1)\n  - w: W()\n",
        "3,000 blocks, 45,000 instances of one":
            HEAD + "blocks:\n" + "".join(f"  B{k}: {{layers: [relu]}}\n" for k in range(3000))
            + "layers:\n  - s: {repeat: 45000, each: B0()}\n",
        "3,000 blocks, 3,000 calls of misspelt ones (200 errors)":
            HEAD + "blocks:\n" + "".join(f"  B{k}: {{layers: [relu]}}\n" for k in range(3000))
            + "layers:\n" + "".join(f"  - x{k}: Bx{k}()\n" for k in range(3000)),
        "40,000 uses of a shared relu":
            HEAD + "layers:\n  - a: conv(3, 1)\n  - {repeat: 40000, each: relu}\n",
        "deepest nesting allowed (64 blocks)":
            HEAD + "blocks:\n  B0: {layers: [r: relu]}\n"
            + "".join(f"  B{k}: {{layers: [b: B{k - 1}()]}}\n" for k in range(1, 64)) + "layers:\n  - s: B63()\n",
        "nesting too deep: 1000 blocks (refused)":
            HEAD + "blocks:\n  B0: {layers: [r: relu]}\n"
            + "".join(f"  B{k}: {{layers: [b: B{k - 1}()]}}\n" for k in range(1, 1000)) + "layers:\n  - s: B999()\n",
    }
    paths = {}
    for k, (name, text) in enumerate(cases.items()):
        assert len(text.encode()) <= limits.max_bytes, (name, len(text))
        path = folder / f"worst{k}.yaml"
        path.write_text(text, encoding="utf-8")
        paths[name] = str(path)
    return paths


def worst(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print(f"worst cases at the default limits, {runs} run(s) each")
        print("| spec | bytes | exit | median wall | best wall | peak RSS |")
        print("|---|---|---|---|---|---|")
        for name, path in worst_cases(Path(tmp)).items():
            results = [run([sys.executable, "-m", "archc", "validate", path]) for _ in range(runs)]
            wall = statistics.median(r[0] for r in results)
            best = min(r[0] for r in results)
            rss = max(r[1] for r in results) / 1024
            print(f"| {name} | {os.path.getsize(path):,} | {results[0][2]} | {wall:.2f} s | {best:.2f} s "
                  f"| {rss:.0f} MiB |")


def main() -> None:
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--part", choices=("corpus", "worst", "all"), default="all")
    args = parser.parse_args()
    if args.part in ("corpus", "all"):
        corpus(args.runs)
    if args.part in ("worst", "all"):
        worst(args.runs)


if __name__ == "__main__":
    main()
