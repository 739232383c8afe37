"""The ``archc`` command: argument parsing and output only; the work is in :mod:`archc.api`.

Each subcommand lives in :mod:`archc.commands` (one module each). Standard output
and error are wrapped for the command (:func:`archc.output.console`): a stream that
cannot encode Unicode gets ASCII, and one that fails is a clean error. Exit codes
(``EXIT_CODES``, also in ``archc --help`` and docs/cli.md): 0 success; 1 ``archc fmt --check``
found a file not in standard form; 2 an error in a
spec or on the command line (reported as ``file:line:col: error[CODE]: message`` on
stderr); 70 an internal error (a bug in archc: please report it; ``ARCHC_DEBUG=1``
shows the traceback); 74 output could not be written (disk full, an I/O error, a
closed or full standard output); 130 interrupted. A reader that stops early
(``archc table x | head``) is not an error.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Iterator, Sequence

from . import __version__
from .commands import COMMANDS
from .commands._common import EXIT_CHANGES, EXIT_ERROR, EXIT_INTERNAL, EXIT_IO, EXIT_OK, print_diagnostics
from .diagnostics import ArchcError, Diagnostic
from .output import StreamError, WriteError, console, discard

EXIT_CODES = (
    (EXIT_OK, "success"),
    (EXIT_CHANGES, "archc fmt --check: a file is not in standard form"),
    (EXIT_ERROR, "an error in a spec or on the command line (the message says where)"),
    (EXIT_INTERNAL, "an internal error: a bug in archc (ARCHC_DEBUG=1 shows the traceback)"),
    (EXIT_IO, "output could not be written: disk full, I/O error, standard output or error closed or full"),
    (130, "interrupted"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archc",
        description="A declarative architecture-spec compiler for PyTorch:\n"
                    "validate, count, draw and emit networks written in YAML.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="A SPEC is a path to a .yaml file or the name of a shipped spec (see `archc list`).\n\n"
               "exit codes:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES))
    parser.add_argument("--version", action="version", version=f"archc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f".commands.{name}", __package__).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    with console() as (out, err):
        try:
            try:
                code = _run(argv)
            except SystemExit:  # argparse's --help, --version and usage errors: flush them too
                out.flush()
                raise
            out.flush()
            return code
        except BrokenPipeError:  # the reader went away (archc table x | head): not an error
            discard(sys.__stdout__)  # what is still buffered goes nowhere, without a second failure at exit
            return EXIT_OK
        except StreamError as failure:
            for stream in (out, err):
                if stream.failed:
                    discard(sys.__stdout__ if stream is out else sys.__stderr__)
            if not err.failed:
                with _quiet():
                    print(Diagnostic("E700", str(failure), None,
                                     f"send standard {failure.name} somewhere that takes it: a file on a disk "
                                     "with space, or a program that reads it").render(),
                          file=sys.stderr)
            return EXIT_IO


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    fmt = "json" if getattr(args, "format", "text") == "json" and args.command == "validate" else "text"
    try:
        return int(args.func(args))
    except ArchcError as err:
        print_diagnostics(err.diagnostics, err.sources, fmt)  # a failing stderr: StreamError, exit 74
        return EXIT_IO if isinstance(err, WriteError) else EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except (BrokenPipeError, StreamError):  # main() reports these
        raise
    except Exception as err:  # a bug in archc: say so plainly
        if os.environ.get("ARCHC_DEBUG"):
            raise
        with _quiet():  # stderr failing too: the exit code still says what happened
            print(f"archc: internal error: {type(err).__name__}: {err}\n"
                  "This is a bug in archc, not in your spec; please report it with the spec attached. "
                  "Set ARCHC_DEBUG=1 to see the traceback.", file=sys.stderr)
        return EXIT_INTERNAL


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Report on stderr if it can be written; when it cannot, there is no one to tell."""
    try:
        yield
    except StreamError as failure:
        if failure.name != "error":
            raise
