"""``archc ops``: every op a spec can use, with its arguments and the PyTorch module it becomes."""

from __future__ import annotations

import argparse
import sys

from ._common import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ops", help="the ops a spec can use, with their arguments",
                       description="List every registered op: arguments with defaults, the PyTorch module it "
                                   "becomes. --format markdown prints the op reference (docs/ops.md), with an "
                                   "example of each op lowered and emitted by archc.")
    p.add_argument("--format", choices=("text", "markdown"), default="text",
                   help="text (one line per op, the default) or markdown (the full reference)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..ops import reference

    sys.stdout.write(reference.markdown() if args.format == "markdown" else reference.text())
    return EXIT_OK
