"""How long `archc diagram` takes on a very deep network: ResNet-1202 for CIFAR, drawn in full and folded.

    python benchmarks/diagram_scale.py [--runs 5] [--spec resnet_cifar] [--set depth=1202]

Each run is a fresh `python -m archc diagram SPEC -o OUT.svg` process (start-up,
loading, lowering, folding, drawing, Graphviz's `dot` and writing the file all
included), once with every node drawn and once with `--depth 2` (stages as
clusters, blocks folded, identical blocks merged). Reported: median and minimum
wall time, and the size of the picture. A second table splits one in-process run
into its stages, to show where the time goes.

The spec is the shipped ``resnet_cifar`` (He et al. 2016, §4.2) at depth 1202 unless
``--spec``/``--set`` say otherwise. The targets (issue 5): full under 30 s, folded
under 2 s. Results and the command that produced them belong in docs/benchmarks.md,
section "Diagrams".
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"full": 30.0, "folded (--depth 2)": 2.0}


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def stages(spec: str, settings: list[str], depth: int | None) -> dict[str, float]:
    """One in-process run split into lower / fold / draw / dot (seconds)."""
    import archc
    from archc.commands._common import overrides
    from archc.render import build, export
    from archc.render.digraph import Drawer
    from archc.render.fold import Options

    sets = overrides(argparse.Namespace(set=[tuple(s.split("=", 1)) for s in settings]))
    out: dict[str, float] = {}
    t = time.perf_counter()
    graph = archc.lower(spec, **sets)
    out["lower"] = time.perf_counter() - t
    t = time.perf_counter()
    view = build(graph, Options(depth=depth))
    out["fold"] = time.perf_counter() - t
    t = time.perf_counter()
    dot = Drawer(view, frozenset({"shapes"}), "TB").digraph()
    source = dot.source
    out["draw"] = time.perf_counter() - t
    t = time.perf_counter()
    export(dot, "svg")
    out["dot -Tsvg"] = time.perf_counter() - t
    out["nodes drawn"] = len(view.items)
    out["clusters"] = len(view.clusters)
    out["DOT KiB"] = len(source.encode()) / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--spec", default="resnet_cifar")
    parser.add_argument("--set", action="append", default=None, metavar="NAME=VALUE",
                        help="parameter overrides passed to archc (default: depth=1202 for resnet_cifar)")
    args = parser.parse_args()
    if args.set is None:
        args.set = ["depth=1202"] if args.spec == "resnet_cifar" else []

    sets = [x for s in args.set for x in ("--set", s)]
    cases = {"full": [], "folded (--depth 2)": ["--depth", "2"]}
    print(f"spec: {args.spec} {' '.join(args.set)}; {args.runs} runs each; Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'case':<20} {'median s':>9} {'min s':>7} {'target s':>9} {'SVG KiB':>8}")
        for name, extra in cases.items():
            out = Path(tmp) / "net.svg"
            cmd = [sys.executable, "-m", "archc", "diagram", args.spec, "-o", str(out), *sets, *extra]
            times = [timed(cmd) for _ in range(args.runs)]
            ok = "ok" if statistics.median(times) < TARGETS[name] else "SLOW"
            print(f"{name:<20} {statistics.median(times):>9.2f} {min(times):>7.2f} {TARGETS[name]:>9.0f} "
                  f"{out.stat().st_size / 1024:>8.0f}  {ok}")
    print("\nwhere the time goes (one in-process run, seconds):")
    for name, depth in (("full", None), ("folded (--depth 2)", 2)):
        parts = stages(args.spec, args.set, depth)
        print(f"  {name:<20} " + "  ".join(f"{k} {v:.2f}" if isinstance(v, float) and k != "DOT KiB"
                                          else f"{k} {v:.0f}" for k, v in parts.items()))


if __name__ == "__main__":
    main()
