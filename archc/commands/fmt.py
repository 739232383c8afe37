"""``archc fmt SPEC...``: rewrite specs into standard YAML, in place, changing nothing else.

Older specs write ``[conv(planes, 1, stride=2), bn()]``, which only archc reads as two
items (W110). ``fmt`` quotes each such item (``["conv(planes, 1, stride=2)", bn()]``)
and leaves every other byte as it was: comments, spacing, line endings, key order. The
result is checked before it is written: archc must read the same values from it, and
it must hold no such item any more.
"""

from __future__ import annotations

import argparse
import sys

from ._common import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, add_limit_option, limits, print_diagnostics


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fmt", help="rewrite specs into standard YAML in place (quote flow items only archc reads)",
                       description="Quote every flow-list item that only archc reads as one (W110), such as "
                                   "conv(64, 3, stride=2) inside [...], so that every YAML reader (editors, "
                                   "formatters, yaml.safe_load) sees what archc sees. Nothing else changes: "
                                   "comments, spacing and line endings are kept byte for byte. Files are "
                                   "rewritten atomically, and only when something changes.",
                       epilog="Exit status: 0 done (or, with --check, nothing to change); 1 with --check, some "
                              "file needs rewriting; 2 a file cannot be read or is not valid YAML.")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="spec files to rewrite")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if some file would change (for pre-commit hooks and CI)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the result to FILE ('-': standard output) instead of over SPEC (one SPEC only)")
    add_limit_option(p)
    p.set_defaults(func=run, parser=p)


def run(args: argparse.Namespace) -> int:
    if args.output and len(args.specs) > 1:
        args.parser.error("-o/--output takes one SPEC")
    if args.output and args.check:
        args.parser.error("--check writes nothing; leave out -o/--output")
    from ..diagnostics import ArchcError

    status = EXIT_OK
    for spec in args.specs:  # one file's error does not stop the others
        try:
            code = _one(spec, args)
        except ArchcError as err:
            print_diagnostics(err.diagnostics, err.sources)
            code = EXIT_ERROR
        status = max(status, code)
    return status


def _one(spec: str, args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..diagnostics import Reporter
    from ..output import write_output
    from ..spec.loader import Loader
    from ..spec.source import archc_only_items, parse_yaml, standard_form

    path = Path(spec)
    r = Reporter()
    budget = limits(args)
    text = Loader(r, budget)._read(path, spec, None)  # bounded, and a located error if not UTF-8
    if text is not None:
        parse_yaml(spec, text, r, max_bytes=budget.max_bytes, max_depth=budget.max_depth)
    if r.errors or text is None:
        print_diagnostics(r.errors, r.sources)
        return EXIT_ERROR
    items = archc_only_items(text)
    fixed = standard_form(text, items)
    _verify(spec, text, fixed, budget.max_depth)
    n = f"{len(items)} flow item{'s' if len(items) != 1 else ''}"
    if args.check:
        if items:
            print(f"{spec}: {n} only archc reads as one; run `archc fmt {spec}`", file=sys.stderr)
            return EXIT_CHANGES
        return EXIT_OK
    if args.output == "-":
        sys.stdout.write(fixed)
        return EXIT_OK
    if args.output:
        write_output(args.output, fixed)
        print(f"wrote {args.output} ({n} quoted)", file=sys.stderr)
        return EXIT_OK
    if not items:
        print(f"{spec}: already standard YAML", file=sys.stderr)
        return EXIT_OK
    write_output(path, fixed)
    print(f"{spec}: quoted {n}", file=sys.stderr)
    return EXIT_OK


def _verify(name: str, before: str, after: str, max_depth: int) -> None:
    """The rewrite must mean what the file meant and be standard YAML; a rewrite that is not
    (a bug) is refused before anything is written."""
    from ..diagnostics import ArchcError, Diagnostic, Reporter
    from ..spec.source import parse_yaml, plain

    size = 4 * len(after) + 1  # the file passed max_bytes; the quotes it gained must not fail it now
    old, new = Reporter(), Reporter()
    a = parse_yaml(name, before, old, max_bytes=size, max_depth=max_depth)
    b = parse_yaml(name, after, new, max_bytes=size, max_depth=max_depth)
    same = a is not None and b is not None and plain(a) == plain(b) and not new.diagnostics
    if not same:
        raise ArchcError([Diagnostic("E110", "archc fmt could not rewrite this file without changing its meaning; "
                                             "it was left as it was", None,
                                     "quote its flow items by hand, or write those lists one '- ' item a line")])
