"""``archc validate SPEC...``: check specs and infer every shape; exit 2 on any error."""

from __future__ import annotations

import argparse
import sys

from ._common import EXIT_ERROR, EXIT_OK, STDIN, add_spec_options, limits, overrides, print_diagnostics, spec_source


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check specs and infer every shape; exit 2 on any error",
                       description="Check each SPEC: structure, types, names, references and every tensor shape. "
                                   "Every error is reported with its file:line:col, sorted by position.")
    p.add_argument("specs", nargs="+", metavar="SPEC",
                   help="spec files or shipped spec names; - reads a spec from stdin")
    p.add_argument("--format", choices=("text", "json"), default="text", help="how to print diagnostics")
    p.add_argument("--strict-yaml", action="store_true",
                   help="make a flow item that only archc reads as one (W110) an error (E110): the spec must mean "
                        "the same to every YAML reader; `archc fmt` fixes it")
    add_spec_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..api import lower
    from ..diagnostics import ArchcError, Reporter
    from ..ops.base import fmt_shape
    from ..spec.loader import STDIN_NAME

    if args.specs.count(STDIN) > 1:
        print("archc validate: error: '-' (the spec on standard input) can be given once", file=sys.stderr)
        return EXIT_ERROR
    status = EXIT_OK
    for spec in args.specs:
        r = Reporter()
        try:
            budget = limits(args)
            graph = lower(spec_source(spec, budget, args.strict_yaml), input=args.input, reporter=r, limits=budget,
                          strict_yaml=args.strict_yaml, **overrides(args))
        except ArchcError as err:
            status = EXIT_ERROR
            print_diagnostics(err.diagnostics, err.sources, args.format)
            continue
        print_diagnostics(r.warnings, r.sources, args.format)
        if args.format == "text":
            out = graph.nodes[graph.output].shape if graph.output else None
            name = STDIN_NAME if spec == STDIN else spec
            print(f"{name}: ok ({len(graph.nodes) - 1} nodes, output {fmt_shape(out)})")
    return status
