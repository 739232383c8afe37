"""How big an instantiation will be, found before making it: a lower bound on the nodes it
will make and on the steps it will take (Limits.max_nodes, Limits.max_steps), from the module
IR and the values known where it starts.

A spec can describe far more than it takes to write: ``repeat: 100000`` of a block that
repeats another 100,000 times, or ten blocks that each repeat the previous one a hundred
times (100^9 layers from a dozen lines). Instantiation counts nodes and steps exactly as it
makes them (:mod:`archc.ir.instantiate`), so nothing is ever allocated past a limit; this
module lets it refuse such a spec at once, before making anything, and say why:

- a layer makes one node, and so does a merge of two or more values that are certainly there
  (a residual's add, a concat of branches or of `from:` names), and a stand-in after an error;
- each entry of a list that instantiation visits is a step (:attr:`Stmt.visits`, a definition's
  or a body's ``tail``), and so is each repeat of a loop;
- a block instance makes what its definition's body makes, computed once per definition and
  argument values (its input's sizes unknown there);
- a loop makes its count times what one repeat makes: computed once with its index unknown
  where the body does not read the index, else summed over the index, stopping as soon as a
  limit is passed;
- whatever depends on a value not known yet counts as nothing: a `when:` that cannot be decided,
  a count that reads a size, the instance of a block-typed parameter (which block it holds is
  found only where it runs), a residual's projection shortcut (taken where the shapes differ).

Because it is a lower bound, a spec it refuses really does pass a limit. Instantiation runs it
once for the network before making any node, and again at each loop, once the loop's count and
its surroundings' sizes are known. Its own work is bounded: past :data:`WORK` statements, nested
deeper than the nesting limit, or at a block that uses itself (an error instantiation reports),
it gives up without a verdict and the exact counts take over.
"""

from __future__ import annotations

import contextlib
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import fields
from typing import Any

from pydantic import BaseModel

from ..diagnostics import Note, Span
from ..limits import Limits
from ..spec.expr import UNKNOWN
from ..sym import evaluate, free_symbols, is_symbolic
from .module import Container, Fault, GenName, If, Instance, Layer, Loop, Merge, ModuleIR, Stmt, walk

__all__ = ["WORK", "Bound", "Estimate", "GiveUp", "TooBig"]

WORK = 200_000  # statements the estimate may visit before it gives up (~0.2 s)

Size = tuple[int, int]  # (nodes, steps)


class TooBig(Exception):
    """The lower bound passed a limit: ``what`` is "nodes" or "steps"."""

    def __init__(self, what: str, count: int, span: Span, detail: str, trace: tuple[Note, ...]):
        super().__init__(what)
        self.what, self.count, self.span, self.detail, self.trace = what, count, span, detail, trace


class GiveUp(Exception):
    """The estimate would cost too much (or nest too deep) to be worth finishing (the tests'
    reference walk's estimate, tests/ir/expansion.py, gives up the same way)."""


class _Known(Mapping[str, Any]):
    """``env`` where a name in ``hidden``, or a value an error left unknown, is missing (a KeyError
    to archc.sym.evaluate: the expression's value is not known)."""

    def __init__(self, env: Mapping[str, Any], hidden: frozenset[str] = frozenset()):
        self.env, self.hidden = env, hidden

    def __getitem__(self, name: str) -> Any:
        if name in self.hidden:
            raise KeyError(name)
        value = self.env[name]
        if value is UNKNOWN:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return (name for name in self.env if name not in self.hidden)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _value(value: Any, env: Mapping[str, Any]) -> Any:
    """``value`` in ``env``, or UNKNOWN where it reads a name not known there (or is an error)."""
    if not is_symbolic(value):
        return value
    try:
        return evaluate(value, env)
    except Exception:  # a name not known here, or an error instantiation reports where it runs
        return UNKNOWN


def _symbols(value: Any) -> Iterator[str]:
    """The names of the symbols anywhere in a statement's field (expressions, attributes, tuples)."""
    if isinstance(value, GenName):  # a name each repeat makes: its parts
        yield from _symbols(value.parts)
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _symbols(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _symbols(v)
    elif isinstance(value, BaseModel):  # an op's attributes
        for v in dict(value).values():
            yield from _symbols(v)
    elif is_symbolic(value):
        yield from free_symbols(value)


_PLAIN = frozenset({"out", "span", "body", "visits", "tail", "marks", "checks", "entry", "shape", "carried", "op",
                    "candidates", "visible", "rest"})


def reads(body: list[Stmt], name: str) -> bool:
    """Does any statement of ``body`` (nested ones included, not looking into blocks) read the
    symbol ``name``? (A name made in each repeat, ``layer{i + 1}``, reads its index too.)"""
    for stmt in walk(body):
        for f in fields(stmt):
            if f.name not in _PLAIN and name in _symbols(getattr(stmt, f.name)):
                return True
        if stmt.entry is not None and name in _symbols(stmt.entry.name):
            return True
    return False


class Bound:
    """Lower bounds on (nodes, steps), checked against ``limits`` as they are summed: what the
    estimate over the module IR (:class:`Estimate`) and the tests' reference walk's over the spec
    (tests/ir/expansion.py) share.

    ``base`` is what exists already (nodes made and steps taken before the estimate); a bound is
    checked as ``base + bound``. What a block makes is kept between runs (``memo``: it is found
    with its input's sizes unknown, so it holds wherever the block runs with the same arguments)."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.memo: dict[Any, Size] = {}
        self.work = 0
        self.depth = 0
        self.active: list[Any] = []  # block definitions being estimated (a block that uses itself)
        self.trace: list[Note] = []
        self.base: Size = (0, 0)

    def _run(self, estimate: Callable[[], Size], base: Size, depth: int) -> None:
        """``base``: nodes and steps made so far; ``depth``: the nesting the estimate starts at."""
        self.work, self.depth, self.base = 0, depth, base
        self.active.clear()
        self.trace.clear()
        with contextlib.suppress(GiveUp, RecursionError):  # no verdict: the exact counts take over
            estimate()

    def _check(self, size: Size, span: Span, detail: str, *values: int) -> Size:
        """``size`` (plus the base) against the limits; ``detail`` (formatted with ``values``) says
        where the count comes from."""
        nodes, steps = self.base[0] + size[0], self.base[1] + size[1]
        for what, count, limit in (("nodes", nodes, self.limits.max_nodes), ("steps", steps, self.limits.max_steps)):
            if count > limit:
                raise TooBig(what, count, span, detail.format(*values), tuple(self.trace))
        return size

    def _visit(self) -> None:
        self.work += 1
        if self.work > WORK:
            raise GiveUp()

    def nest(self) -> None:
        """One more level of nesting (undo with ``self.depth -= 1``)."""
        self.depth += 1
        if self.depth > self.limits.max_nesting:
            raise GiveUp()  # lowering reports it, where it is passed


class Estimate(Bound):
    """The lower bound over the module IR (see the module docstring)."""

    def __init__(self, ir: ModuleIR, limits: Limits):
        super().__init__(limits)
        self.ir = ir

    # --- entry points -----------------------------------------------------------------------

    def network(self, body: list[Stmt], tail: tuple[Span, ...], env: Mapping[str, Any], base: Size,
                depth: int) -> None:
        """Raise :class:`TooBig` if the network's statements certainly pass a limit."""
        self._run(lambda: self.body(body, _Known(env), tail), base, depth)

    def bound(self, body: list[Stmt], tail: tuple[Span, ...], env: Mapping[str, Any]) -> Size | None:
        """The lower bound of a definition's body (without checking it against the limits); None where
        the estimate gives up."""
        self.work, self.depth, self.base = 0, 0, (0, 0)
        try:
            return self.body(body, _Known(env), tail)
        except (GiveUp, RecursionError):
            return None

    def loop(self, stmt: Loop, count: int, env: Mapping[str, Any], base: Size, depth: int) -> None:
        """At a loop whose count is known: ``count`` times a lower bound of one repeat."""
        self._run(lambda: self._times(stmt, count, self._each(stmt, _Known(env, frozenset((stmt.index,))))),
                  base, depth)

    # --- statements ---------------------------------------------------------------------------

    def body(self, stmts: list[Stmt], env: Mapping[str, Any], tail: tuple[Span, ...] = ()) -> Size:
        nodes = steps = 0
        at: Span | None = None  # the entry the statements belong to
        for stmt in stmts:
            self._visit()
            n, s = self.stmt(stmt, env)
            s += len(stmt.visits)
            at = stmt.visits[-1] if stmt.visits else at
            nodes, steps = nodes + n, steps + s
            if n or s > 1:
                self._check((nodes, steps), at or stmt.span,
                            "the entries up to here make at least {:,} nodes in {:,} steps", nodes, steps)
        return nodes, steps + len(tail)

    def stmt(self, stmt: Stmt, env: Mapping[str, Any]) -> Size:
        if isinstance(stmt, (Layer, Fault)):
            return 1, 0
        if isinstance(stmt, Merge):
            there = sum(1 for p in stmt.present if _value(p, env) is True)
            return (1 if there > 1 else 0), 0
        if isinstance(stmt, (Container, If)):
            if isinstance(stmt, If) and (stmt.shortcut or _value(stmt.cond, env) is not True):
                return 0, 0
            self.nest()
            try:
                return self.body(stmt.body, env, stmt.tail)
            finally:
                self.depth -= 1
        if isinstance(stmt, Loop):
            return self.repeat(stmt, env)
        if isinstance(stmt, Instance):
            return self.instance(stmt, env)
        return 0, 0  # a head: the value it returns is made already

    def _each(self, stmt: Loop, env: Mapping[str, Any]) -> Size:
        nodes, steps = self.body(stmt.body, env, stmt.tail)
        return nodes, steps

    def _times(self, stmt: Loop, count: int, one: Size) -> Size:
        size = (count * one[0], count * (one[1] + 1))  # each repeat is a step of its own
        return self._check(size, stmt.span, "this repeat makes at least {:,} nodes ({:,} × {:,}) in {:,} steps",
                           size[0], count, one[0], size[1])

    def repeat(self, stmt: Loop, env: Mapping[str, Any]) -> Size:
        count = _value(stmt.count, env)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= self.limits.max_repeat:
            return 0, 0  # unknown, or an error instantiation reports
        hidden = env.hidden if isinstance(env, _Known) else frozenset()
        base = env.env if isinstance(env, _Known) else env
        unknown = _Known(base, hidden | {stmt.index})
        if not reads(stmt.body, stmt.index):
            return self._times(stmt, count, self._each(stmt, unknown))
        self._times(stmt, count, self._each(stmt, unknown))  # cheap first: any index makes at least this
        nodes = steps = 0
        for i in range(count):
            n, s = self._each(stmt, _Known(ChainMap({stmt.index: i}, base), hidden - {stmt.index}))
            nodes, steps = nodes + n, steps + s + 1
            self._check((nodes, steps), stmt.span,
                        "its first {:,} repeats make at least {:,} nodes in {:,} steps", i + 1, nodes, steps)
        return nodes, steps

    def instance(self, stmt: Instance, env: Mapping[str, Any]) -> Size:
        if stmt.block is None:
            return 0, 0  # the block a parameter holds is found where it runs
        if stmt.recursive or stmt.block in self.active:
            raise GiveUp()  # a block that uses itself: an error instantiation reports, where it is
        d = self.ir.definitions[stmt.block]
        args = {name: _value(value, env) for name, value in stmt.args.items()}
        key = (stmt.block, tuple(sorted(args.items(), key=lambda kv: kv[0])))
        try:
            found = self.memo.get(key)
        except TypeError:  # an argument that cannot be a key (a list): not kept
            key, found = None, None
        if found is not None:
            return found
        inner = _Known({name: value for name, value in args.items() if value is not UNKNOWN})
        self.active.append(stmt.block)
        self.trace.append(Note(f"in block '{d.name}'", stmt.span))
        self.nest()
        try:
            size = self.body(d.body, inner, d.tail)
        finally:
            self.active.pop()
            self.trace.pop()
            self.depth -= 1
        if key is not None:
            self.memo[key] = size
        return size
