"""How unnamed entries get their module names.

A list is lowered in one of two modes:

- **sequential** (a list under a name, a repeat, or a list of unnamed layers): an
  unnamed entry is named by its position, exactly as ``nn.Sequential`` numbers its
  children (``features.0``, ``features.1`` …); named entries keep their names and
  take a position too.
- **module** (a block body with named layers, a residual, the network's top level
  when it names layers): an unnamed layer without parameters is named after its op
  and shared by every identical use, as torchvision shares ``self.relu``; an
  unnamed layer with parameters is an error, because its name would become a
  state_dict key that nobody chose.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ..spec import model as m


def list_mode(items: tuple[m.Entry, ...], *, named_list: bool = False) -> str:
    """How a list names its entries. A list under a name is ``sequential`` unless it reads
    named points (``from:``) or has side heads, which an ``nn.Sequential`` cannot express;
    a body list (the top level, a block's layers) is ``module`` as soon as it names an entry."""
    stack: list[m.Entry] = list(items)
    while stack:
        item = stack.pop()
        if isinstance(item, m.Named):
            if not named_list:
                return "module"
            if isinstance(item.value, m.Container) and (item.value.from_ or item.value.training_only):
                return "module"
        if isinstance(item, m.Container):
            if item.from_ or item.training_only or item.flat:  # branches side by side: no nn.Sequential
                return "module"
            if item.kind in ("layers", "repeat") and not isinstance(item.layers or item.each, m.Call):
                body = item.layers if item.layers is not None else item.each
                if isinstance(body, m.Seq):
                    stack.extend(body.items)
    return "sequential"


class Namer:
    """Names for the entries of one container."""

    def __init__(self, mode: str, reserved: set[str] | None = None):
        self.mode = mode
        self.position = 0
        self.reserved = set(reserved or ())  # names the spec gives to entries of this container
        self.shared: dict[str, tuple[str, Any]] = {}  # auto name -> (op, attrs) it stands for
        self.names: dict[tuple[str, Any], str] = {}  # (op, attrs) -> its auto name
        self.next_k: dict[str, int] = {}  # op -> the suffix to try next (names are never freed)

    def take(self) -> str:
        """The next position (every entry takes one, named or not)."""
        self.position += 1
        return str(self.position - 1)

    def unnamed(self, op_name: str, attrs: Any, stateful: bool) -> tuple[str, bool]:
        """(name, ok) for an unnamed op. ``ok`` is False for a stateful op in a module body."""
        if self.mode == "sequential":
            return self.take(), True
        if stateful:
            return self.take(), False
        key = (op_name, attrs)
        try:
            known = self.names.get(key)
        except TypeError:  # attributes that cannot be hashed: look through the names
            known = next((n for n, v in self.shared.items() if v == key), None)
        if known is not None:
            return known, True
        k = self.next_k.get(op_name, 0)  # counting from 0 each time was quadratic in the uses
        name = op_name if k == 0 else f"{op_name}_{k}"
        while name in self.shared or name in self.reserved:
            k += 1
            name = f"{op_name}_{k}"
        self.next_k[op_name] = k + 1
        self.shared[name] = key
        with contextlib.suppress(TypeError):
            self.names[key] = name
        return name, True


def made_name(parts: tuple[object, ...]) -> str | None:
    """The name a generated name's parts make (``denselayer{i + 1}``), or None where they cannot
    name a layer: a part that is no whole number or text, or a name the parser refuses (lowering's
    walk reports which, E304)."""
    from ..spec.parser import generated_name_problem

    if any(isinstance(p, bool) or not isinstance(p, (int, str)) for p in parts):
        return None
    name = "".join(str(p) for p in parts)
    return None if generated_name_problem(name) else name


def scope_names(items: tuple[m.Entry, ...]) -> set[str]:
    """The names the spec gives to entries of one list, with those of the branches of a `parallel:`
    list in it (whose entries are this list's too, see :func:`flat_branches`)."""
    names = set()
    for item in items:
        if isinstance(item, m.Named):
            names.add(item.name)
        elif isinstance(item, m.Container) and item.flat and item.parallel is not None:
            names |= scope_names(flat_branches(item.parallel))
    return names


def flat_branches(branches: tuple[m.Entry, ...]) -> tuple[m.Entry, ...]:
    """The entries a `parallel:` list puts into its enclosing list: each branch, and the entries of a
    branch written as an unnamed group (`- layers: [...]`), which is spliced as any unnamed group is."""
    out: list[m.Entry] = []
    for branch in branches:
        if isinstance(branch, m.Container) and branch.kind == "layers" and isinstance(branch.layers, m.Seq):
            out.extend(branch.layers.items)
        else:
            out.append(branch)
    return tuple(out)


def list_namer(items: tuple[m.Entry, ...], *, named_list: bool = False, mode: str | None = None) -> Namer:
    """The namer of one list of entries (its named entries' names reserved)."""
    return Namer(mode or list_mode(items, named_list=named_list), scope_names(items))


def body_namer(b: m.BodyFields) -> Namer:
    """How the entries of a block's or container's body are named."""
    kind = b.kind
    if kind == "layers":
        assert b.layers is not None
        return list_namer((b.layers,) if isinstance(b.layers, m.Call) else b.layers.items)
    if kind == "repeat":
        return Namer("sequential")
    if kind == "residual":
        assert b.residual is not None
        return list_namer((*b.residual.body, *b.residual.then), mode="module")
    assert b.parallel is not None
    return Namer("module", scope_names(flat_branches(b.parallel)) if b.flat else None)
