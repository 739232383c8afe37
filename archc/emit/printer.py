"""Python source for values of the module IR: symbolic sizes, attributes, literals.

A symbol prints as the name the class it appears in gives it: a constructor argument
(``planes``, ``in_channels``), a running variable (a loop's ``in_channels``), or the
attribute a built child exposes (``self.layer1.out_channels``). :class:`Printer` holds
that mapping for one class and records which symbols were printed, so a class asks
for exactly the constructor arguments its code reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..sym import Sym, SymBlock, SymList, free_symbols, is_symbolic, rename, to_python


class Unprintable(Exception):
    """A value that has no Python source here (a symbol no variable holds)."""


class Printer:
    def __init__(self, names: dict[str, str], block_name: Callable[[Any], str]):
        self.names = names  # symbol -> source
        self.block_name = block_name  # a block value (BlockRef) -> its class name
        self.used: set[str] = set()
        self.site = 0  # the statement being written (its place in the body)
        self.last: dict[str, int] = {}  # symbol -> the last statement that printed it

    def child(self) -> Printer:
        out = Printer(dict(self.names), self.block_name)
        out.used = self.used  # one record per class
        out.last = self.last
        return out

    def __call__(self, value: Any) -> str:
        if isinstance(value, tuple):
            return literal(value, self.block_name, self)
        if isinstance(value, SymBlock):
            return self._name(value.name)
        if isinstance(value, (Sym, SymList)) or is_symbolic(value):
            free = sorted(free_symbols(value))
            mapping: dict[str, str] = {}
            texts: dict[str, str] = {}
            for k, name in enumerate(free):
                text = self._name(name)
                if text != name:
                    # a placeholder symbol (of the same kind), replaced by the source after printing:
                    # the sources are names, attributes and subscripts (``self.layer1.out_channels``),
                    # which bind as tightly as a name, so precedence holds
                    placeholder = f"__archc_{k}__"
                    mapping[name] = placeholder
                    texts[placeholder] = text
            out = to_python(rename(value, mapping) if mapping else value)
            if texts:
                out = re.sub(r"__archc_\d+__", lambda m: texts[m.group(0)], out)
            return out
        return literal(value, self.block_name, self)

    def _name(self, symbol: str) -> str:
        self.used.add(symbol)
        self.last[symbol] = max(self.last.get(symbol, -1), self.site)
        try:
            return self.names[symbol]
        except KeyError:
            raise Unprintable(f"no variable holds {symbol}") from None


def literal(value: Any, block_name: Callable[[Any], str], printer: Printer | None = None) -> str:
    """Source for a concrete value: numbers, text, booleans, None, tuples, a block's class."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, float, str)):
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(printer(v) if printer is not None else literal(v, block_name) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if type(value).__name__ == "BlockRef":
        return block_name(value)
    raise Unprintable(f"cannot write {type(value).__name__} values")
