"""Options and output helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

# docs/cli.md lists them; 74 is sysexits.h's EX_IOERR
EXIT_OK, EXIT_ERROR, EXIT_INTERNAL, EXIT_IO = 0, 2, 70, 74
EXIT_CHANGES = 1  # archc fmt --check: some file is not in standard form (as black and ruff format --check)


# A whole number as --set (and Python source) reads it: ASCII digits, single underscores between
# them (1_000). int() alone would also take Arabic-Indic or full-width digits, which --set refuses.
_WHOLE = re.compile(r"[0-9]+(?:_[0-9]+)*")
_MAX_DIGITS = 30  # past any limit or size; int() of thousands of digits is slow or refused


def whole_number(text: str) -> int | None:
    """``text`` as a non-negative whole number written with ASCII digits, or None."""
    if not _WHOLE.fullmatch(text) or len(text) > 2 * _MAX_DIGITS:
        return None
    return int(text)


def _not_ascii_digits(text: str) -> str:
    """The reason a number was refused, when it is that some character is not an ASCII digit."""
    odd = next((c for c in text if c.isdigit() and not c.isascii()), None)
    return f" ('{odd}' U+{ord(odd):04X} is not an ASCII digit 0-9)" if odd else ""


def shape_arg(text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.replace("×", "x").replace(",", "x").split("x")]
    if all(whole_number(p.removeprefix("-")) is not None for p in parts) and any(p.startswith("-") for p in parts):
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    sizes = [whole_number(p) for p in parts]
    if any(size is None for size in sizes):
        raise argparse.ArgumentTypeError(f"expected sizes like 3x224x224, got {text!r}"
                                         + _not_ascii_digits(text))
    shape = tuple(size for size in sizes if size is not None)
    if any(d < 1 for d in shape):
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return shape


def setting_arg(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    from ..diagnostics import describe_char, first_invisible

    at = first_invisible(name)
    if at >= 0:  # the value is an expression, whose parser names such characters itself
        raise argparse.ArgumentTypeError(f"invisible character {describe_char(name[at])} at column {at + 1} of "
                                         f"the name {name.strip()!r}; delete it")
    return name.strip(), value.strip()


def count_arg(minimum: int = 1) -> Callable[[str], int]:
    """A whole number of at least ``minimum`` (depths, batch sizes, iterations)."""

    def parse(text: str) -> int:
        value = whole_number(text.strip())
        if value is None:
            if text.strip().startswith("-") and whole_number(text.strip()[1:]) is not None:
                raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text.strip()}")
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}"
                                             + _not_ascii_digits(text))
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return parse


def list_arg(choices: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    """A comma-separated list of some of ``choices`` (or ``all``), in the order given."""

    def parse(text: str) -> tuple[str, ...]:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if parts == ["all"]:
            return tuple(choices)
        unknown = [p for p in parts if p not in choices]
        if unknown or not parts:
            raise argparse.ArgumentTypeError(f"unknown column(s) {', '.join(unknown) or text!r}; choose from "
                                             f"{', '.join(choices)}, or all")
        return tuple(dict.fromkeys(parts))

    return parse


def add_count_options(p: argparse.ArgumentParser) -> None:
    """--count: the counting convention of the figures (docs/counting.md)."""
    from ..ops.base import CONVENTIONS

    p.add_argument("--count", choices=CONVENTIONS, default="macs",
                   help="counting convention: macs (default; torchvision, FlopCounterMode / 2), flops (2 × MACs), "
                        "fvcore, ptflops (those tools' totals), all (every arithmetic operation)")


_SUFFIX = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def limit_arg(text: str) -> tuple[str, int]:
    """``NAME=VALUE`` for one of :class:`~archc.limits.Limits`: a positive integer, with
    optional ``_`` separators between digits and a k/M/G/T suffix (powers of 1000), e.g. ``max_nodes=1M``."""
    from ..limits import Limits

    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    names = Limits.names()
    if not sep or name not in names:
        from ..diagnostics import suggest

        hint = suggest(name, names) if sep else None
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE with NAME one of {', '.join(names)}; got {text!r}" + (f" ({hint})" if hint else ""))
    scale = _SUFFIX.get(value[-1:].lower(), 1) if value else 1
    number = whole_number(value[:-1] if scale != 1 else value)
    if number is None or number * scale < 1:
        raise argparse.ArgumentTypeError(f"{name} must be a positive integer (e.g. {name}=500000, {name}=500_000 "
                                         f"or {name}=500k), got {value!r}" + _not_ascii_digits(value))
    return name, number * scale


def add_spec_options(p: argparse.ArgumentParser) -> None:
    """--set, --input and --limit, which every command that lowers a spec accepts."""
    p.add_argument("--set", action="append", type=setting_arg, metavar="NAME=VALUE",
                   help="override a spec parameter (repeatable), e.g. --set num_classes=10")
    p.add_argument("--input", type=shape_arg, metavar="CxHxW", help="override the input shape, e.g. 3x32x32")
    add_limit_option(p)


def add_limit_option(p: argparse.ArgumentParser) -> None:
    """--limit NAME=N: change one of archc.limits.Limits (repeatable)."""
    p.add_argument("--limit", action="append", type=limit_arg, metavar="NAME=N",
                   help="change a safety limit (repeatable), e.g. --limit max_nodes=500k; "
                        "see docs/untrusted-specs.md for the names and defaults")


def limits(args: argparse.Namespace) -> Any:
    """The :class:`~archc.limits.Limits` the command line asks for (the defaults, changed by --limit)."""
    from ..limits import Limits

    return Limits().with_(**dict(getattr(args, "limit", None) or []))


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    from ..ir.params import SetValue

    return {name: SetValue(value) for name, value in (getattr(args, "set", None) or [])}


STDIN = "-"  # a SPEC argument that means: read the spec from standard input


def spec_source(spec: str, budget: Any, strict_yaml: bool = False) -> Any:
    """A SPEC argument as the API takes it: ``-`` is the spec on standard input, loaded (and
    named ``<stdin>`` in errors, its ``extends:`` and ``imports:`` relative to the working
    directory); anything else is passed on as written."""
    if spec != STDIN:
        return spec
    from ..spec.loader import STDIN_NAME, load, read_stdin

    return load(STDIN_NAME, text=read_stdin(budget), limits=budget, strict_yaml=strict_yaml)


def print_diagnostics(diags: Sequence[Any], sources: dict[str, str], fmt: str = "text") -> None:
    if not diags:
        return
    if fmt == "json":
        print(json.dumps([d.to_json() for d in diags], indent=2), file=sys.stderr)
    else:
        print("\n".join(d.render(sources) for d in diags), file=sys.stderr)
