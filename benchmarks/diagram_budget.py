"""The worst `archc diagram` within the default diagram budgets: time and peak memory, Graphviz included.

    python benchmarks/diagram_budget.py [--runs 3] [--case NAME ...] [--keep DIR]

Graphviz's `dot` costs grow faster than the picture, each in its own way (see
archc/render/budget.py): boxes in one cluster, clusters side by side, clusters far
down a tall picture, many arrows. For each way this script builds the largest spec
whose picture still fits every default budget (``max_diagram_nodes``, ``_edges``,
``_clusters``, ``_cluster_ranks`` of archc.limits.Limits), so archc draws it in full,
and measures in fresh processes:

- ``archc diagram SPEC -o OUT.svg``: wall time, and the peak resident memory of the
  larger of archc and `dot` (``ru_maxrss`` from ``wait4``, which covers the child);
- `dot -Tsvg` alone on the same DOT text: wall and CPU time, peak memory;
- ``archc diagram SPEC --format dot``: archc's own part (no Graphviz).

Plus two references: ResNet-1202 for CIFAR in full (the deepest shipped network), and
the spec of issue 15 (one ``parallel`` of 2,000 branches ``[conv(2, 1), relu, conv(2, 1)]``),
which archc now folds to fit (its note says how). Results and this command belong in
docs/untrusted-specs.md ("Diagrams"), whose worst case docs/diagrams.md quotes.

On a shared machine wall times stretch with the load; CPU times (archc's and dot's
together, from ``wait4``) are what a quiet machine's wall times would be.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEAD = "archc: 1\nname: {name}\ninput: [3, 8, 8]\n"
BRANCH = ['"conv(2, 1)"', "relu", '"conv(2, 1)"']  # quoted: standard YAML reads a call's commas as separators


def parallel(n: int, layers: int = 3) -> str:
    """One `parallel` of n branches, each a list of ``layers`` layers (a cluster each)."""
    branch = "[" + ", ".join((BRANCH * layers)[:layers]) + "]"
    rows = [f"        b{k}: {branch}" for k in range(n)]
    return HEAD.format(name=f"parallel{n}") + "layers:\n  - p:\n      parallel:\n" + "\n".join(rows) + "\n"


def wide(n: int) -> str:
    """One `parallel` of n single layers: n boxes side by side in one cluster."""
    rows = [f"        b{k}: relu" for k in range(n)]
    return HEAD.format(name=f"wide{n}") + "layers:\n  - p:\n      parallel:\n" + "\n".join(rows) + "\n"


def one_cluster(n: int) -> str:
    """n layers in a row inside one cluster (a named repeat)."""
    return HEAD.format(name=f"column{n}") + f"layers:\n  - s: {{repeat: {n}, each: relu}}\n"


def low_clusters(n: int, blocks: int = 990) -> str:
    """n layers in a row, then ``blocks`` small block instances: clusters far down the picture."""
    return (HEAD.format(name=f"low{n}") + "blocks:\n  B:\n    layers: [relu, relu]\n"
            f"layers:\n  - {{repeat: {n}, each: relu}}\n  - s: {{repeat: {blocks}, each: B()}}\n")


def dense(n: int) -> str:
    """n layers, each adding up every earlier one (`from:`): n(n-1)/2 arrows."""
    rows = ["  - a0: relu"]
    rows += [f"  - a{k}: {{from: [{', '.join(f'a{j}' for j in range(k))}], merge: add, layers: relu}}"
             for k in range(1, n)]
    return HEAD.format(name=f"dense{n}") + "layers:\n" + "\n".join(rows) + "\n"


# name: (what, spec of size N, an N too large for any budget, the answer for the defaults)
FAMILIES: dict[str, tuple[str, Callable[[int], str], int, int]] = {
    "parallel": ("one parallel of N branches [conv(2, 1), relu, conv(2, 1)]", parallel, 5000, 999),
    "parallel6": ("one parallel of N branches of 6 layers", lambda n: parallel(n, 6), 5000, 749),
    "wide": ("one parallel of N single layers", wide, 20_000, 4497),
    "column": ("N layers in a row in one cluster", one_cluster, 20_000, 4498),
    "low_clusters": ("N layers, then 990 two-layer block instances", low_clusters, 20_000, 1025),
    "dense": ("N layers, each adding every earlier one (from:)", dense, 400, 25),
}


def size_of(text: str) -> dict[str, int]:
    """The picture's size drawn in full (no budget applied), as archc.render.budget measures it.

    Computed in a child process: this one must stay small, because a process forked from
    a large one starts with its peak memory (``ru_maxrss``) and would spoil the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(text)
        out = subprocess.run([sys.executable, __file__, "--size-of", str(path)], cwd=ROOT, check=True,
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    return json.loads(out)


def _print_size(path: str) -> None:
    import archc
    from archc.limits import Limits
    from archc.render.budget import measure
    from archc.render.fold import build

    graph = archc.lower(path, limits=Limits().with_(max_bytes=10**8, max_nodes=10**7))
    size = measure(build(graph))
    print(json.dumps({**vars(size), "fits": not size.over(Limits()), "defaults": {
        k: getattr(Limits(), k) for k in Limits.names() if k.startswith("max_diagram_")}}))


def largest_fitting(make: Callable[[int], str], hi: int, guess: int | None = None) -> int:
    """The largest N whose picture fits every default diagram budget: ``guess`` if it fits and
    ``guess + 1`` does not (two checks), else a binary search."""
    if guess is not None and size_of(make(guess))["fits"] and not size_of(make(guess + 1))["fits"]:
        return guess
    lo = 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if size_of(make(mid))["fits"]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def run(cmd: list[str], stdin: Path | None = None) -> tuple[float, float, int, int]:
    """Wall seconds, CPU seconds, peak RSS (MiB, the process or its largest reaped child) and exit code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    with open(stdin or os.devnull, "rb") as src:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=src, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, os.waitstatus_to_exitcode(status)


def median_run(cmd: list[str], runs: int, stdin: Path | None = None) -> tuple[float, float, int, int]:
    results = [run(cmd, stdin) for _ in range(runs)]
    return (statistics.median(r[0] for r in results), statistics.median(r[1] for r in results),
            max(r[2] for r in results), max(r[3] for r in results))


def measure_case(name: str, spec: str, extra: list[str], runs: int, tmp: Path) -> None:
    archc_cmd = [sys.executable, "-m", "archc", "diagram", spec, *extra]
    dot_file, svg = tmp / f"{name}.dot", tmp / f"{name}.svg"
    subprocess.run([*archc_cmd, "--format", "dot", "-o", str(dot_file)], cwd=ROOT, check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.DEVNULL)
    full = median_run([*archc_cmd, "-o", str(svg)], runs)
    dot = median_run(["dot", "-Tsvg", "-o", os.devnull], runs, stdin=dot_file)
    own = median_run([*archc_cmd, "--format", "dot", "-o", os.devnull], runs)
    print(f"  archc diagram: {full[0]:5.2f} s (CPU {full[1]:5.2f} s, archc and dot), peak {full[2]:4d} MiB, "
          f"exit {full[3]}\n  dot alone:     {dot[0]:5.2f} s (CPU {dot[1]:5.2f} s), peak {dot[2]:4d} MiB"
          f"\n  archc alone:   {own[0]:5.2f} s (CPU {own[1]:5.2f} s), peak {own[2]:4d} MiB (--format dot)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--case", action="append", choices=[*FAMILIES, "resnet1202", "issue15"],
                        help="measure only these (repeatable; default: all)")
    parser.add_argument("--keep", type=Path, help="write the generated specs and DOT files into this folder")
    parser.add_argument("--size-of", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.size_of:
        _print_size(args.size_of)
        return 0
    d = size_of(one_cluster(1))["defaults"]
    print("default budgets: " + ", ".join(f"{k} {v:,}" for k, v in d.items()) +
          f"; {args.runs} run(s), medians; load average {os.getloadavg()[0]:.1f}; Python {sys.version.split()[0]}")
    chosen = args.case or [*FAMILIES, "resnet1202", "issue15"]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = args.keep or Path(tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        for name in chosen:
            if name == "resnet1202":
                print("resnet1202: resnet_cifar --set depth=1202, in full")
                measure_case(name, "resnet_cifar", ["--set", "depth=1202"], args.runs, tmp)
                continue
            if name == "issue15":
                spec = tmp / "issue15.yaml"
                spec.write_text(parallel(2000))
                print("issue15: one parallel of 2,000 branches [conv(2, 1), relu, conv(2, 1)], folded to fit")
                measure_case(name, str(spec), [], args.runs, tmp)
                continue
            what, make, hi, guess = FAMILIES[name]
            n = largest_fitting(make, hi, guess)
            spec = tmp / f"{name}.yaml"
            spec.write_text(make(n))
            s = size_of(make(n))
            print(f"{name}: {what}, N = {n:,}: {s['nodes']:,} boxes, {s['edges']:,} arrows over {s['edge_ranks']:,} "
                  f"ranks, {s['clusters']:,} clusters, {s['cluster_ranks']:,} cluster ranks; spec "
                  f"{spec.stat().st_size / 1024:.0f} KiB")
            measure_case(name, str(spec), [], args.runs, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
