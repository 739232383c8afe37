"""``archc diagram SPEC``: the network as a Graphviz picture (SVG, PNG, PDF or DOT)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ._common import EXIT_OK, add_spec_options, count_arg, limits, overrides

# The same as archc.render's FORMATS and SHOW_CHOICES (a test keeps them equal): building the
# parser must not import archc.render, which imports the graphviz package, for every command.
FORMATS = ("svg", "png", "pdf", "dot")
SHOW = ("shapes", "params", "macs", "names")


def show_arg(text: str) -> frozenset[str]:
    parts = {p.strip() for p in text.split(",") if p.strip()}
    unknown = sorted(parts - set(SHOW))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown value(s) {', '.join(unknown)}; choose from {', '.join(SHOW)}")
    return frozenset(parts)


def names_arg(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def file_stem(name: str) -> str:
    """The default output file's stem: the spec's name, with anything but letters, digits, ``_.-`` replaced."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "diagram"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "diagram", help="draw the network as a Graphviz picture (svg, png, pdf or dot)",
        description="Draw SPEC with Graphviz: ops coloured by family with their output shapes, blocks as labelled "
                    "clusters with their totals, residual shortcuts and training-only heads drawn apart. "
                    "Writes SPECNAME.FORMAT in the current folder unless -o says otherwise; --format dot without "
                    "-o prints the DOT text on stdout. svg, png and pdf need the Graphviz `dot` program; dot does not. "
                    "A picture beyond the diagram budgets (--limit max_diagram_*=N) is folded to the deepest depth "
                    "that fits when --depth is not given, else refused (E606); dot is stopped after max_dot_seconds "
                    "(E711).")
    p.add_argument("spec", metavar="SPEC", help="a spec file or a shipped spec name")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="where to write the picture; '-' for stdout (default: SPECNAME.FORMAT, or stdout for "
                        "--format dot)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="picture format (default: taken from -o's extension, else svg)")
    p.add_argument("--depth", type=count_arg(1), metavar="N",
                   help="fold scopes at depth N and deeper into single boxes with their summed parameters and MACs "
                        "(as in `archc table --depth N`)")
    p.add_argument("--fold", type=names_arg, action="append", metavar="BLOCK[,BLOCK]",
                   help="fold every instance of these blocks into single boxes, at any depth (repeatable), "
                        "e.g. --fold BasicConv2d")
    p.add_argument("--expand-repeats", action="store_true",
                   help="draw every folded block on its own instead of merging identical consecutive ones "
                        "into one 'Block ×N' box")
    p.add_argument("--direction", choices=("TB", "LR"), default="TB",
                   help="layout direction: TB top to bottom (default), LR left to right")
    p.add_argument("--show", type=show_arg, default=frozenset({"shapes"}), metavar="LIST",
                   help="what op boxes show besides the op, comma-separated from shapes, params, macs, names "
                        "(default: shapes); block boxes and clusters always show their totals")
    add_spec_options(p)
    p.set_defaults(func=run)


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    if args.output and args.output != "-":
        ext = Path(args.output).suffix.lstrip(".").lower()
        if ext in FORMATS:
            return ext
    return "svg"


def run(args: argparse.Namespace) -> int:
    from ..api import load, lower
    from ..output import write_output
    from ..render import export, layout, picture

    fmt = _format(args)
    budget = limits(args)
    program = load(args.spec, limits=budget)
    graph = lower(program, input=args.input, limits=budget, **overrides(args))
    fold = [name for group in (args.fold or []) for name in group]
    chosen = layout(graph, depth=args.depth, fold=fold, expand_repeats=args.expand_repeats, limits=budget)
    if chosen.full is not None:
        print(f"note: {chosen.note()}; --limit max_diagram_{chosen.over}=N draws more "
              "(see docs/untrusted-specs.md)", file=sys.stderr)
    dot = picture(chosen, direction=args.direction, show=args.show)
    data = export(dot, fmt, timeout=budget.max_dot_seconds)
    target = args.output or (None if fmt == "dot" else f"{file_stem(program.name)}.{fmt}")
    if target is None or target == "-":
        if fmt == "dot":
            sys.stdout.write(data.decode("utf-8"))
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        return EXIT_OK
    path = write_output(target, data, inputs=program.files)
    print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK
