"""``archc table SPEC``: per-module output shape, parameters and MACs (or another counting
convention), memory, receptive field and effective stride, with totals."""

from __future__ import annotations

import argparse
import sys

from ._common import EXIT_OK, add_count_options, add_spec_options, count_arg, limits, list_arg, overrides, spec_source


def register(sub: argparse._SubParsersAction) -> None:
    from ..analysis.memory import DTYPES, OPTIMIZERS
    from ..analysis.table import COLUMNS, DEFAULT_COLUMNS, FORMATS

    p = sub.add_parser("table", help="per-module output shape, parameters and MACs, with totals",
                       description="Print one row per module path: op, output shape, parameters, MACs (or another "
                                   "counting convention), and on request output memory, receptive field and effective "
                                   "stride; then totals, with the inference peak and a training estimate of memory.")
    p.add_argument("spec", metavar="SPEC", help="a spec file, a shipped spec name, or - to read the spec from stdin")
    p.add_argument("--depth", type=count_arg(0), metavar="N",
                   help="fold scopes deeper than N into one row with summed figures (0: totals only)")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    add_count_options(p)
    p.add_argument("--batch", type=count_arg(1), default=1, metavar="N",
                   help="batch size of the memory figures (default: 1)")
    p.add_argument("--dtype", choices=tuple(DTYPES), default="fp32",
                   help="element type of activations, weights, gradients and optimizer state (default: fp32)")
    p.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default="adam",
                   help="optimizer of the training memory estimate (default: adam)")
    p.add_argument("--columns", type=list_arg(COLUMNS), default=DEFAULT_COLUMNS, metavar="LIST",
                   help=f"columns of the text, markdown and html tables, comma-separated from {', '.join(COLUMNS)}, "
                        f"or all (default: {','.join(DEFAULT_COLUMNS)}); csv and json have every column")
    add_spec_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..api import analyze

    budget = limits(args)
    report = analyze(spec_source(args.spec, budget), input=args.input, limits=budget, **overrides(args))
    # the same rendering as the API's report.render() and str(report): there is no other
    sys.stdout.write(report.render(args.format, args.depth, count=args.count, batch=args.batch, dtype=args.dtype,
                                   optimizer=args.optimizer, columns=args.columns))
    return EXIT_OK
