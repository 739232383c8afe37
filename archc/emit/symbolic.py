"""Symbolic sizes for generic classes, always checked against the concrete graph.

A block's class is written once but instantiated many times with different
arguments, so a size such as a batch norm's feature count must be an expression
of the block's parameters (``planes * 4``), not a number. Expressions are our own
spec AST (:mod:`archc.spec.expr`): spec expressions are used as written, derived
ones (a concat's channels = the sum of its branches') are built here. Every
candidate is *verified*: evaluated for every instance the graph holds and compared
with the concrete size lowering inferred; only a candidate that matches everywhere
is emitted. :class:`Raw` stands for a value only known when the module is built
(``layers[-1].out_channels``), which the class that defines it guarantees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..spec.expr import (
    UNKNOWN,
    Attr,
    BinOp,
    BoolOp,
    Compare,
    Const,
    Expr,
    ExprError,
    Func,
    IfExp,
    Index,
    ListLit,
    Name,
    Unary,
    evaluate,
    to_source,
    walk,
)


@dataclass(frozen=True, slots=True)
class Raw(Expr):
    """Python source for a value known only at build time; never evaluated here."""

    code: str


Sym = Expr | None


def const(value: Any) -> Const:
    return Const(0, 0, value)


def name(identifier: str) -> Name:
    return Name(0, 0, identifier)


def binop(op: str, a: Sym, b: Sym) -> Sym:
    if a is None or b is None:
        return None
    if isinstance(a, Const) and isinstance(b, Const) and isinstance(a.value, int) and isinstance(b.value, int):
        return const({"+": a.value + b.value, "*": a.value * b.value, "-": a.value - b.value}[op])
    if op == "*" and isinstance(a, Const) and a.value == 1:
        return b
    if op == "*" and isinstance(b, Const) and b.value == 1:
        return a
    if op == "+" and isinstance(b, Const) and b.value == 0:
        return a
    return BinOp(0, 0, op, a, b)


def total(items: Iterable[Sym], op: str = "+") -> Sym:
    out: Sym = None
    for item in items:
        if item is None:
            return None
        out = item if out is None else binop(op, out, item)
    return out


def substitute(expr: Expr, mapping: Mapping[str, Expr]) -> Expr:
    """Replace names (and ``input.<field>``) by expressions, e.g. an inline block's
    parameters by the arguments of its call."""
    def sub(e: Expr) -> Expr:
        if isinstance(e, Name):
            return mapping.get(e.id, e)
        if isinstance(e, Attr):
            return mapping.get(f"input.{e.attr}", e)
        if isinstance(e, BinOp):
            return BinOp(e.off, e.end, e.op, sub(e.left), sub(e.right))
        if isinstance(e, Unary):
            return Unary(e.off, e.end, e.op, sub(e.operand))
        if isinstance(e, BoolOp):
            return BoolOp(e.off, e.end, e.op, tuple(sub(v) for v in e.values))
        if isinstance(e, Compare):
            return Compare(e.off, e.end, sub(e.left), e.ops, tuple(sub(r) for r in e.rights))
        if isinstance(e, IfExp):
            return IfExp(e.off, e.end, sub(e.test), sub(e.body), sub(e.orelse))
        if isinstance(e, Func):
            return Func(e.off, e.end, e.func, tuple(sub(a) for a in e.args))
        if isinstance(e, ListLit):
            return ListLit(e.off, e.end, tuple(sub(i) for i in e.items))
        if isinstance(e, Index):
            return Index(e.off, e.end, sub(e.value), sub(e.index))
        return e

    return sub(expr)


def fold(expr: Expr) -> Expr:
    """Constant parts evaluated: ``stride if 0 == 0 else 1`` is ``stride``, ``2 * 3 + c`` is ``6 + c``."""
    if isinstance(expr, (Const, Name, Attr, Raw)):
        return expr
    if not free_names(expr) and not has_raw(expr):
        value = value_of(expr, {})
        if value is not UNKNOWN and (value is None or isinstance(value, (bool, int, float, str))):
            return const(value)
        return expr
    if isinstance(expr, IfExp):
        test = fold(expr.test)
        if isinstance(test, Const) and isinstance(test.value, bool):
            return fold(expr.body if test.value else expr.orelse)
        return IfExp(expr.off, expr.end, test, fold(expr.body), fold(expr.orelse))
    if isinstance(expr, BinOp):
        return BinOp(expr.off, expr.end, expr.op, fold(expr.left), fold(expr.right))
    if isinstance(expr, Compare):
        return Compare(expr.off, expr.end, fold(expr.left), expr.ops, tuple(fold(r) for r in expr.rights))
    if isinstance(expr, BoolOp):
        return BoolOp(expr.off, expr.end, expr.op, tuple(fold(v) for v in expr.values))
    if isinstance(expr, Unary):
        return Unary(expr.off, expr.end, expr.op, fold(expr.operand))
    if isinstance(expr, Func):
        return Func(expr.off, expr.end, expr.func, tuple(fold(a) for a in expr.args))
    return expr


def free_names(expr: Expr) -> set[str]:
    """Names an expression reads (``input.channels`` counts as one name)."""
    return {e.id if isinstance(e, Name) else f"input.{e.attr}" for e in walk(expr) if isinstance(e, (Name, Attr))}


def has_raw(expr: Expr) -> bool:
    return any(isinstance(e, Raw) for e in walk(expr))


def render(expr: Expr, names: Mapping[str, str]) -> str | None:
    """Python source, or None if the expression reads a name the class does not have."""
    if isinstance(expr, Raw):
        return expr.code
    if has_raw(expr):
        return _render_raw(expr, names)
    if not free_names(expr) <= set(names):
        return None
    return to_source(expr, lambda n: names[n])


def _render_raw(expr: Expr, names: Mapping[str, str]) -> str | None:
    # Raw parts render as their code; the rest as usual. Only + and * combine them.
    if isinstance(expr, Raw):
        return expr.code
    if isinstance(expr, BinOp):
        left, right = _render_raw(expr.left, names), _render_raw(expr.right, names)
        if left is None or right is None:
            return None
        wrap = (lambda s: s) if expr.op == "+" else (lambda s: f"({s})" if " " in s else s)
        return f"{wrap(left)} {expr.op} {wrap(right)}"
    return render(expr, names)


def value_of(expr: Expr, env: Mapping[str, Any]) -> Any:
    """The expression's value in one instance, or UNKNOWN where it cannot be computed here."""
    if has_raw(expr):
        return UNKNOWN
    try:
        return evaluate(expr, env)
    except ExprError:
        return UNKNOWN


def first_verified(candidates: Iterable[Sym], cases: Iterable[tuple[Mapping[str, Any], Any]],
                   renderable: Callable[[Expr], bool]) -> Sym:
    """The first candidate that renders in the class and equals the concrete value in every case.
    A :class:`Raw` candidate is trusted: the class that defines it guarantees it."""
    cases = list(cases)
    for cand in candidates:
        if cand is None or not renderable(cand):
            continue
        if has_raw(cand):
            return cand
        if all(_equal(value_of(cand, env), want) for env, want in cases):
            return cand
    return None


def _equal(got: Any, want: Any) -> bool:
    if got is UNKNOWN:
        return False
    if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)):
        return len(got) == len(want) and all(_equal(a, b) for a, b in zip(got, want))
    numbers = (isinstance(got, (int, float)) and isinstance(want, (int, float)) and not isinstance(got, bool)
               and not isinstance(want, bool))
    return (type(got) is type(want) or numbers) and got == want
