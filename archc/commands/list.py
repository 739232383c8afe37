"""``archc list``: the shipped specs with their parameters, MACs and the first line of their doc."""

from __future__ import annotations

import argparse

from ._common import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="the shipped specs with their parameters and MACs",
                       description="List every shipped spec: parameters, MACs and the first line of its doc.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis.table import first_line
    from ..api import analyze
    from ..spec.loader import shipped_names

    rows = []
    for name in shipped_names():
        report = analyze(name)
        rows.append((name, f"{report.totals.params:,}", f"{report.totals.macs:,}", first_line(report.doc)))
    head = ("Spec", "Parameters", "MACs", "Description")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    for k, r in enumerate([head, *rows]):
        print(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip())
        if k == 0:
            print("  ".join("─" * w for w in widths) + "  " + "─" * 11)
    return EXIT_OK
