"""The ``archc`` command: argument parsing and output only; the work is in :mod:`archc.api`.

Exit codes: 0 success, 2 an error in a spec or on the command line (reported as
``file:line:col: error[CODE]: message`` on stderr), 70 an internal error (a bug
in archc: please report it; ``ARCHC_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import __version__
from .diagnostics import ArchcError, Reporter

EXIT_OK, EXIT_ERROR, EXIT_INTERNAL = 0, 2, 70


def _shape(text: str) -> tuple[int, ...]:
    parts = text.replace("×", "x").replace(",", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 3x224x224, got {text!r}") from None
    if not shape or any(d < 1 for d in shape):
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return shape


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    return name.strip(), value.strip()


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    from .ir.lower import SetValue

    return {name: SetValue(value) for name, value in (args.set or [])}


def _add_spec_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", type=_setting, metavar="NAME=VALUE",
                   help="override a spec parameter (repeatable), e.g. --set num_classes=10")
    p.add_argument("--input", type=_shape, metavar="CxHxW", help="override the input shape, e.g. 3x32x32")


def cmd_validate(args: argparse.Namespace) -> int:
    from .api import lower
    from .ops.base import fmt_shape

    status = EXIT_OK
    overrides = _overrides(args)
    for spec in args.specs:
        r = Reporter()
        try:
            graph = lower(spec, input=args.input, reporter=r, **overrides)
        except ArchcError as err:
            status = EXIT_ERROR
            _print_diagnostics(err.diagnostics, err.sources, args.format)
            continue
        _print_diagnostics(r.warnings, r.sources, args.format)
        if args.format == "text":
            out = graph.nodes[graph.output].shape if graph.output else None
            print(f"{spec}: ok ({len(graph.nodes) - 1} nodes, output {fmt_shape(out)})")
    return status


def _print_diagnostics(diags: Sequence[Any], sources: dict[str, str], fmt: str) -> None:
    if not diags:
        return
    if fmt == "json":
        import json

        print(json.dumps([d.to_json() for d in diags], indent=2), file=sys.stderr)
    else:
        print("\n".join(d.render(sources) for d in diags), file=sys.stderr)


def cmd_table(args: argparse.Namespace) -> int:
    from .analysis.table import render
    from .api import analyze

    report = analyze(args.spec, input=args.input, **_overrides(args))
    sys.stdout.write(render(report, args.format, args.depth))
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from .api import analyze
    from .spec.loader import shipped_names

    rows = []
    for name in shipped_names():
        report = analyze(name)
        doc = (report.doc.strip().splitlines() or [""])[0]
        rows.append((name, f"{report.totals.params:,}", f"{report.totals.macs:,}", doc))
    head = ("Spec", "Parameters", "MACs", "Description")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    for k, r in enumerate([head, *rows]):
        print(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip())
        if k == 0:
            print("  ".join("─" * w for w in widths) + "  " + "─" * 11)
    return EXIT_OK


def cmd_ops(args: argparse.Namespace) -> int:
    from .ops import registry
    from .ops.registry import describe

    for op in registry():
        sig = ", ".join(k if v is ... else f"{k}={v!r}" for k, v in describe(op).items())
        aliases = f"  (also: {', '.join(op.aliases)})" if op.aliases else ""
        target = op.torch_class or ("torch.cat" if op.name == "concat" else "+")
        print(f"{op.name}({sig})  -> {target}  [{op.family}]{aliases}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archc",
        description="A declarative architecture-spec compiler for PyTorch: validate, count, draw and emit networks "
                    "written in YAML.",
        epilog="A SPEC is a path to a .yaml file or the name of a shipped spec (see `archc list`).")
    parser.add_argument("--version", action="version", version=f"archc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("validate", help="check specs and infer every shape; exit 2 on any error",
                       description="Check each SPEC: structure, types, names, references and every tensor shape. "
                                   "Every error is reported with its file:line:col.")
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.add_argument("--format", choices=("text", "json"), default="text", help="how to print diagnostics")
    _add_spec_options(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("table", help="per-module output shape, parameters and MACs, with totals",
                       description="Print one row per module path: op, output shape, parameters, MACs; then totals.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--depth", type=int, metavar="N", help="fold scopes deeper than N into one row with summed figures")
    p.add_argument("--format", choices=("text", "markdown", "csv", "json"), default="text")
    _add_spec_options(p)
    p.set_defaults(func=cmd_table)

    p = sub.add_parser("list", help="the shipped specs with their parameters and MACs",
                       description="List every shipped spec: parameters, MACs and the first line of its doc.")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("ops", help="the ops a spec can use, with their arguments",
                       description="List every registered op: arguments with defaults, the PyTorch module it becomes.")
    p.set_defaults(func=cmd_ops)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ArchcError as err:
        _print_diagnostics(err.diagnostics, err.sources, getattr(args, "format", "text")
                           if getattr(args, "format", "text") == "json" else "text")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (archc table x | head): not an error
        return EXIT_OK
    except Exception as err:  # a bug in archc: say so plainly
        if os.environ.get("ARCHC_DEBUG"):
            raise
        print(f"archc: internal error: {type(err).__name__}: {err}\n"
              "This is a bug in archc, not in your spec; please report it with the spec attached. "
              "Set ARCHC_DEBUG=1 to see the traceback.", file=sys.stderr)
        return EXIT_INTERNAL
