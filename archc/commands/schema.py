"""``archc schema``: the JSON Schema of spec files, for editors (completion, hover, checks)."""

from __future__ import annotations

import argparse
import sys

from ._common import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of spec files, for editors",
                       description="Print the JSON Schema (draft-07) of the YAML form of a spec. Point your editor "
                                   "at it, e.g. with the first line `# yaml-language-server: $schema=FILE` in a "
                                   "spec, for completion of keys and ops, hover help and structural checks.")
    p.add_argument("-o", "--output", metavar="FILE", help="write the schema to FILE instead of standard output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..spec.schema import render_schema

    text = render_schema()
    if args.output:
        from ..output import write_output

        write_output(args.output, text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK
