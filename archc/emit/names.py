"""Safe identifiers for generated code (after torch.fx's ``_Namespace``).

Spec names are validated when parsed (identifiers, no keywords, nothing nn.Module
already uses), so attribute names are used as written: they are state_dict keys.
Everything the emitter names itself — classes, constructor arguments, locals —
goes through a :class:`Namespace`, which turns any string into a valid identifier
that is unique in its scope and shadows no Python keyword, builtin, or name the
generated module imports (``torch``, ``nn``). Renames are deterministic (suffix
``_``, then ``_2``…), so the source is byte-identical across runs.
"""

from __future__ import annotations

import builtins
import keyword
import re

# Names the generated module itself uses; nothing may shadow them.
RESERVED = frozenset({"torch", "nn", "annotations", "self", "super", "build", "INPUT_SHAPE", "__name__", "__file__",
                      "math", "_make_divisible"}
                     | set(dir(builtins)) | set(keyword.kwlist) | set(keyword.softkwlist))


def camel(name: str) -> str:
    """``resnet50`` -> ``ResNet50``-like class names: words capitalised, separators dropped."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", name) if w]
    text = "".join(w[:1].upper() + w[1:] for w in words) or "Network"
    return text if text[0].isalpha() else f"Net{text}"


class Namespace:
    """Unique, safe identifiers within one scope (a module, a class body, a function)."""

    def __init__(self, parent: Namespace | None = None, reserved: frozenset[str] = RESERVED):
        self.parent = parent
        self.reserved = reserved
        self.used: set[str] = set()

    def taken(self, name: str) -> bool:
        scope: Namespace | None = self
        while scope is not None:
            if name in scope.used:
                return True
            scope = scope.parent
        return name in self.reserved

    def claim(self, wanted: str) -> str:
        """A fresh identifier close to ``wanted``."""
        base = re.sub(r"\W", "_", wanted) or "v"
        if base[0].isdigit():
            base = f"v{base}"
        name = base
        k = 1
        while self.taken(name) or keyword.iskeyword(name):
            name = f"{base}_" if k == 1 else f"{base}_{k}"
            k += 1
        self.used.add(name)
        return name

    def reserve(self, name: str) -> None:
        """Mark a name as used as it is (spec attribute names, which are state_dict keys)."""
        self.used.add(name)
