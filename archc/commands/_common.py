"""Options and output helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

EXIT_OK, EXIT_ERROR, EXIT_INTERNAL = 0, 2, 70


def shape_arg(text: str) -> tuple[int, ...]:
    parts = text.replace("×", "x").replace(",", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 3x224x224, got {text!r}") from None
    if not shape or any(d < 1 for d in shape):
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return shape


def setting_arg(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    return name.strip(), value.strip()


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


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


def add_spec_options(p: argparse.ArgumentParser) -> None:
    """--set and --input, which every command that lowers a spec accepts."""
    p.add_argument("--set", action="append", type=setting_arg, metavar="NAME=VALUE",
                   help="override a spec parameter (repeatable), e.g. --set num_classes=10")
    p.add_argument("--input", type=shape_arg, metavar="CxHxW", help="override the input shape, e.g. 3x32x32")


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    from ..ir.params import SetValue

    return {name: SetValue(value) for name, value in (getattr(args, "set", None) or [])}


def print_diagnostics(diags: Sequence[Any], sources: dict[str, str], fmt: str = "text") -> None:
    if not diags:
        return
    if fmt == "json":
        print(json.dumps([d.to_json() for d in diags], indent=2), file=sys.stderr)
    else:
        print("\n".join(d.render(sources) for d in diags), file=sys.stderr)
