"""``archc ops``: every op a spec can use, with its arguments and the PyTorch module it becomes."""

from __future__ import annotations

import argparse

from ._common import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ops", help="the ops a spec can use, with their arguments",
                       description="List every registered op: arguments with defaults, the PyTorch module it becomes.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..ops import registry
    from ..ops.registry import describe

    for op in registry():
        sig = ", ".join(k if v is ... else f"{k}={v!r}" for k, v in describe(op).items())
        aliases = f"  (also: {', '.join(op.aliases)})" if op.aliases else ""
        target = op.torch_class or ("torch.cat" if op.name == "concat" else "+")
        print(f"{op.name}({sig})  -> {target}  [{op.family}]{aliases}")
    return EXIT_OK
