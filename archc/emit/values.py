"""The vocabulary the class emitter works with: cases, values, the code of a class.

A *case* is one concrete context of a class being written: one instance of the block
(and, inside an emitted loop, one iteration of it). A *value* is a tensor flowing
through ``forward``: the variable holding it, its sizes as verified expressions, and
the graph node it is in every case.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from ..ir.graph import Node, Path
from ..ops.base import Op
from ..spec import model as m
from ..spec.expr import UNKNOWN
from ..spec.loader import BlockRef
from .symbolic import Sym


class Unsupported(Exception):
    """This class cannot be written once for all its instances (the caller specialises).
    ``span`` locates the entry at fault, for the error when even a specialised class cannot
    be written."""

    def __init__(self, message: str, span: Any = None):
        super().__init__(message)
        self.span = span


@dataclass
class Case:
    owner: Path  # the class instance's module path
    env: MutableMapping[str, Any]  # the names its expressions read, with their values (a ChainMap)
    site: tuple = ()  # inline calls and loop iterations entered so far


@dataclass
class Val:
    var: str | None  # the forward variable holding it
    dims: tuple[Sym, ...]  # its sizes, as verified expressions (None: no expression)
    ids: list[str]  # the graph node it is, per case


@dataclass
class ClassCode:
    name: str
    base: str  # nn.Module or nn.Sequential
    doc: str
    signature: list[str]
    init: list[str]
    forward: list[str] | None
    out_channels: Sym = None  # in the class's own parameter names, for callers to substitute
    params: list[str] = field(default_factory=list)  # spec parameter names, in signature order
    last_norms: list[str] = field(default_factory=list)  # zeroed by init's zero_init_residual
    returns_tuple: bool = False


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, text: str) -> None:
        self.lines.append(text)


class DimRef:
    """Stands for input ``i``'s dimension ``d`` when asking an op for its constructor arguments."""

    def __init__(self, i: int, d: int):
        self.i, self.d = i, d


class AttrRef:
    """Stands for an attribute's value when asking an op for its constructor arguments."""

    def __init__(self, name: str):
        self.name = name


class AttrRefs(dict):  # type: ignore[type-arg]
    """An op's attributes where every attribute reads as a reference to itself."""

    def __init__(self, op: Op):
        super().__init__({f: AttrRef(f) for f in op.Attrs.model_fields})

    def __getattr__(self, name: str) -> AttrRef:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


MISSING = object()
PENDING = "__archc_pending__"  # the module just appended to an nn.Sequential being built


def marker_value(value: Any, node: Node) -> Any:
    """The concrete value a constructor-argument marker has for one node."""
    if isinstance(value, DimRef):
        return node.in_shapes[value.i][value.d]  # type: ignore[index]
    if isinstance(value, AttrRef):
        return getattr(node.attrs, value.name)
    return value


def same(a: Any, b: Any) -> bool:
    numbers = isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
        and not isinstance(b, bool)
    return (type(a) is type(b) or numbers) and a == b


def annotation(declared: str | None, values: list[Any]) -> str:
    """The Python annotation of a block parameter: its declared type, or its values' type."""
    kind = declared
    if kind is None:
        sample = next((v for v in values if v is not None and v is not UNKNOWN), None)
        kind = "block" if isinstance(sample, BlockRef) else {bool: "bool", int: "int", float: "float", str: "str",
                                                             tuple: "list"}.get(type(sample), "int")
    return {"int": "int", "float": "float", "bool": "bool", "str": "str", "list": "tuple[int, ...]",
            "block": "type[nn.Module]"}[kind]


def literal(value: Any, class_name: Any) -> str:
    """Source for a validated value: ``repr`` of numbers, text, booleans, tuples; a class name for a block."""
    if isinstance(value, BlockRef):
        return class_name(value)
    if isinstance(value, tuple):
        inner = ", ".join(literal(v, class_name) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, (bool, int, float, str)) or value is None:
        return repr(value)
    raise Unsupported(f"cannot write {type(value).__name__} values")


def body_items(b: m.BodyFields) -> list[Any]:
    """The entries directly inside a block or container body."""
    out: list[Any] = []
    for body in (b.layers, b.each):
        if isinstance(body, m.Call):
            out.append(body)
        elif isinstance(body, m.Seq):
            out += list(body.items)
    if b.parallel:
        out += list(b.parallel)
    if b.residual:
        out += [*b.residual.body, *b.residual.then]
    return out


def entries_of(body: m.Call | m.Seq | None) -> tuple[m.Entry, ...]:
    if body is None:
        raise Unsupported("a container without layers")
    return (body,) if isinstance(body, m.Call) else body.items
