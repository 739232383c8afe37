"""The ``archc`` command: argument parsing and output only; the work is in :mod:`archc.api`.

Each subcommand lives in :mod:`archc.commands` (one module each). Exit codes: 0
success, 2 an error in a spec or on the command line (reported as
``file:line:col: error[CODE]: message`` on stderr), 70 an internal error (a bug in
archc: please report it; ``ARCHC_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from . import __version__
from .commands import COMMANDS
from .commands._common import EXIT_ERROR, EXIT_INTERNAL, EXIT_OK, print_diagnostics
from .diagnostics import ArchcError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archc",
        description="A declarative architecture-spec compiler for PyTorch: validate, count, draw and emit networks "
                    "written in YAML.",
        epilog="A SPEC is a path to a .yaml file or the name of a shipped spec (see `archc list`).")
    parser.add_argument("--version", action="version", version=f"archc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f".commands.{name}", __package__).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    fmt = "json" if getattr(args, "format", "text") == "json" and args.command == "validate" else "text"
    try:
        return int(args.func(args))
    except ArchcError as err:
        print_diagnostics(err.diagnostics, err.sources, fmt)
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
