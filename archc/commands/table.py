"""``archc table SPEC``: per-module output shape, parameters and MACs, with totals."""

from __future__ import annotations

import argparse
import sys

from ._common import EXIT_OK, add_spec_options, overrides


def register(sub: argparse._SubParsersAction) -> None:
    from ..analysis.table import FORMATS

    p = sub.add_parser("table", help="per-module output shape, parameters and MACs, with totals",
                       description="Print one row per module path: op, output shape, parameters, MACs; then totals.")
    p.add_argument("spec", metavar="SPEC", help="a spec file or a shipped spec name")
    p.add_argument("--depth", type=int, metavar="N", help="fold scopes deeper than N into one row with summed figures")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    add_spec_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis.table import render
    from ..api import analyze

    report = analyze(args.spec, input=args.input, **overrides(args))
    sys.stdout.write(render(report, args.format, args.depth))
    return EXIT_OK
