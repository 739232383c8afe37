"""``archc diff A B``: two specs (or one spec with two settings) side by side, per module path."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import (
    EXIT_OK,
    STDIN,
    add_count_options,
    add_limit_option,
    count_arg,
    limits,
    overrides,
    setting_arg,
    shape_arg,
    spec_source,
)


def register(sub: argparse._SubParsersAction) -> None:
    from ..analysis.table import FORMATS

    p = sub.add_parser("diff", help="compare two specs per module path: parameters, MACs, output shapes",
                       description="Compare A and B row by row, matching rows by module path: op, output shape, "
                                   "parameters and MACs (or another counting convention) of each side, with deltas; "
                                   "then the totals. Exits 0 whether or not they differ.")
    p.add_argument("a", metavar="A", help="a spec file or a shipped spec name; - reads a spec from stdin")
    p.add_argument("b", metavar="B", help="a spec file or a shipped spec name (may be A again, with --set-b); - reads "
                                          "a spec from stdin")
    p.add_argument("--depth", type=count_arg(0), metavar="N",
                   help="fold scopes deeper than N into one row with summed figures (0: totals only)")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    add_count_options(p)
    p.add_argument("--only-changed", action="store_true", help="leave out rows that are the same on both sides")
    p.add_argument("--set", action="append", type=setting_arg, metavar="NAME=VALUE",
                   help="override a spec parameter on both sides (repeatable)")
    p.add_argument("--input", type=shape_arg, metavar="CxHxW", help="override the input shape on both sides")
    for side in ("a", "b"):
        p.add_argument(f"--set-{side}", action="append", type=setting_arg, metavar="NAME=VALUE",
                       help=f"override a spec parameter of {side.upper()} only (repeatable; wins over --set)")
        p.add_argument(f"--input-{side}", type=shape_arg, metavar="CxHxW",
                       help=f"override the input shape of {side.upper()} only (wins over --input)")
    add_limit_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis.diff import Edit, diff_reports, render
    from ..api import analyze, load
    from ..diagnostics import ArchcError, Diagnostic

    reports = []
    budget = limits(args)
    if args.a == args.b == STDIN:
        # standard input holds one spec and is read once
        raise ArchcError([Diagnostic("E100", "standard input holds one spec, but both A and B are '-'", None,
                                     "read one side from stdin and name the other, e.g. `archc diff - resnet50`")])
    programs = []
    for side in ("a", "b"):
        settings = argparse.Namespace(set=(args.set or []) + (getattr(args, f"set_{side}") or []))
        shape = getattr(args, f"input_{side}") or args.input
        spec = getattr(args, side)
        program = spec_source(spec, budget) if spec == STDIN else load(spec, limits=budget)
        programs.append(program)
        reports.append(analyze(program, input=shape, limits=budget, **overrides(settings)))
    # what a variant's replace: and drop: change, and the other side does not: why rows differ
    # (and what it freezes: the paths of its `freeze:`, which the other side does not freeze)
    made = [{(k, p, s) for k, p, s in _edits(program)} for program in programs]
    edits = {side: [Edit(k, p, s.file, s.line, s.col) for k, p, s in _edits(program) if (k, p, s) not in other]
             for side, program, other in zip(("a", "b"), programs, reversed(made))}
    diff = diff_reports(reports[0], reports[1], args.count, edits)
    sys.stdout.write(render(diff, args.format, args.depth, args.only_changed))
    return EXIT_OK


def _edits(program: Any) -> list[tuple[str, str, Any]]:
    freeze = program.freeze
    frozen = [("freeze", item.text, item.span) for item in freeze.modules] if freeze is not None else []
    return [*program.edits, *frozen]
