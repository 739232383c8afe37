"""Every name an expression reads is defined where it is written, run or not.

The walk (:mod:`archc.ir.lower`) evaluates the expressions of what it builds, so it reports an
undefined name there. It never evaluates what it leaves out: a `when:` that is false, a repeat
of 0, a block whose every call passes a value that skips a branch, the operand a short-circuit
skips (`true or x`), a block only passed along or named as a default. Emission writes those
once for all instances (a loop, an `if`, a block's class) and needs their names
(:mod:`archc.ir.define`: "every name resolves"), so such a spec validated and then failed at
``compile``. This check reads every expression of the network's layers and of each block they
reach, without evaluating anything, and yields each name that its scope does not define: the
parameters in scope, ``input``, the enclosing repeats' indexes, the blocks visible in the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..diagnostics import Span
from ..spec import model as m
from ..spec.expr import Attr, CallExpr, Expr, Name, walk
from ..spec.loader import BlockRef, Unit

__all__ = ["Undefined", "undefined_names"]


@dataclass(frozen=True)
class Undefined:
    name: str
    span: Span
    scope: frozenset[str]  # the names defined there, for a hint


def undefined_names(unit: Unit, params: frozenset[str]) -> Iterator[Undefined]:
    """The undefined names of the network's layers, then of each block they reach (each once)."""
    checker = _Checker()
    layers = unit.spec.layers or ()
    yield from checker.entries(layers, _scope(unit, params))
    while checker.pending:
        block = checker.pending.pop()
        defn = block.defn
        checker.defaults(defn, block.unit)
        yield from checker.body(defn, _scope(block.unit, frozenset(p.name for p in defn.params)))


@dataclass(frozen=True)
class _Scope:
    unit: Unit
    names: frozenset[str]  # parameters, `input`, indexes: the names that are values here

    def defines(self, name: str) -> bool:
        return name in self.names or name in self.unit.blocks

    def with_index(self, index: str) -> _Scope:
        return _Scope(self.unit, self.names | {index})


def _scope(unit: Unit, params: frozenset[str]) -> _Scope:
    return _Scope(unit, params | {"input"})


class _Checker:
    def __init__(self) -> None:
        self.seen: set[int] = set()  # the blocks reached, by id (a block reached twice is read once)
        self.pending: list[BlockRef] = []

    def reach(self, name: str, scope: _Scope) -> None:
        """A block named where it is visible (called, or passed as a value) is checked too, unless a
        parameter of that name hides it."""
        block = scope.unit.blocks.get(name)
        if block is not None and name not in scope.names and id(block.defn) not in self.seen:
            self.seen.add(id(block.defn))
            self.pending.append(block)

    def expr(self, node: Expr | CallExpr, loc: m.Loc, scope: _Scope) -> Iterator[Undefined]:
        for n in walk(node):
            if not isinstance(n, (Name, Attr)):
                continue
            where = n if isinstance(n, Name) else n.base  # `input.channels` reads `input`
            self.reach(where.id, scope)
            if not scope.defines(where.id):
                yield Undefined(where.id, loc.at(where.off, where.end), scope.names - {"input"})

    def call(self, call: m.Call, scope: _Scope) -> Iterator[Undefined]:
        self.reach(call.call.callee, scope)
        yield from self.expr(call.call, call.loc, scope)

    def code(self, code: m.Code | None, scope: _Scope) -> Iterator[Undefined]:
        if code is not None:
            yield from self.expr(code.expr, code.loc, scope)

    def entries(self, items: tuple[m.Entry, ...], scope: _Scope) -> Iterator[Undefined]:
        for item in items:
            yield from self.entry(item, scope)

    def entry(self, item: m.Entry | m.Seq | None, scope: _Scope) -> Iterator[Undefined]:
        if item is None:
            return
        if isinstance(item, m.Call):
            yield from self.call(item, scope)
        elif isinstance(item, m.Seq):
            yield from self.entries(item.items, scope)
        elif isinstance(item, m.Named):
            for part in item.template or ():
                if isinstance(part, m.Code):
                    yield from self.code(part, scope)
            yield from self.entry(item.value, scope)
        else:
            yield from self.code(item.when, scope)
            yield from self.body(item, scope)

    def body(self, b: m.BodyFields, scope: _Scope) -> Iterator[Undefined]:
        """A block's body or a container's: layers, branches, a residual or a repeat."""
        yield from self.entry(b.layers, scope)
        yield from self.entries(b.parallel or (), scope)
        if b.residual is not None:
            yield from self.entries(b.residual.body, scope)
            yield from self.entry(b.residual.shortcut, scope)
            yield from self.code(b.residual.when, scope)
            yield from self.entries(b.residual.then, scope)
        if b.repeat is not None:
            yield from self.code(b.repeat, scope)
            yield from self.entry(b.each, scope.with_index(b.index))

    def defaults(self, defn: m.BlockDef, unit: Unit) -> None:
        """The blocks the parameters' defaults name are emitted too (a block-typed parameter's
        default); the defaults' own names are lowering's to check."""
        for decl in defn.params:
            if decl.default is not None:
                for n in walk(decl.default.expr):
                    if isinstance(n, Name):
                        self.reach(n.id, _scope(unit, frozenset()))
