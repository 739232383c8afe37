"""How big a spec's expansion will be, found before expanding it: the walk's estimate
(tests/ir/walk.py, the reference lowering the tests compare archc's with; archc's own is
archc/ir/estimate.py, from the module IR).

A spec can describe far more than it takes to write: ``repeat: 100000`` of a block
that repeats another 100,000 times, or ten blocks that each repeat the previous one a
hundred times (100^9 layers from a dozen lines). Lowering counts nodes as it creates
them, but would allocate up to the limit first; this module computes a *lower bound*
on the nodes lowering will create, and on the entries it will visit (``steps``: a
repeat of entries that all turn out absent creates nothing, yet takes time), from the
spec alone:

- an op call makes one node; a merge (residual add, concat of two or more branches
  or ``from:`` names) one more;
- a block call makes what its body makes, computed once per block and argument values;
- ``repeat: N`` makes N times what one repeat makes (computed once when the body does
  not read the index, else summed over the index, stopping as soon as the limit is passed);
- whatever depends on a value not known yet (a tensor shape inside a block, a ``when:``
  that reads one) counts as nothing, which keeps the bound a lower bound.

Because it is a lower bound, a spec it rejects really does exceed the limit (an entry
whose name clashes with another, E303, counts as written, though lowering then skips
it). Lowering runs it once for the whole network before creating any node, and again
at each repeat, once the repeat's count and its surroundings' shapes are known. Its
own work is bounded: past :data:`archc.ir.estimate.WORK` visits, nested deeper than the nesting limit,
or at a block that calls itself (an error lowering reports), it gives up without a
verdict and lowering's exact counting takes over.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from archc.diagnostics import Note, Reporter
from archc.ir.estimate import Bound, GiveUp, Size
from archc.ir.params import block_args, with_names
from archc.spec import model as m
from archc.spec.expr import UNKNOWN, ExprError, ShapeView, evaluate, names_in
from archc.spec.loader import BlockRef


def _quiet(expr: Any, loc: m.Loc, env: Mapping[str, Any], trace: tuple[Note, ...]) -> Any:
    try:
        return evaluate(expr, env)
    except (ExprError, RecursionError):
        return UNKNOWN


def _items(body: m.Call | m.Seq) -> tuple[m.Entry, ...]:
    return (body,) if isinstance(body, m.Call) else body.items


class Estimator(Bound):
    """The walk's lower bound over the spec (see the module docstring)."""

    # --- entry points -----------------------------------------------------------------

    def network(self, items: tuple[m.Entry, ...], env: Mapping[str, Any], base: Size, depth: int) -> None:
        """Raise :class:`TooBig` if the network's layers certainly exceed a limit."""
        self._run(lambda: self.entries(items, env), base, depth)

    def repeat_check(self, b: m.BodyFields, count: int, env: Mapping[str, Any], base: Size, depth: int) -> None:
        """At a repeat whose count is known: ``count`` times a lower bound of one repeat."""
        self._run(lambda: self._times(b, count, self._each(b, with_names(env, {b.index: UNKNOWN}))), base, depth)

    # --- the language ---------------------------------------------------------------------

    def entries(self, items: tuple[m.Entry, ...], env: Mapping[str, Any]) -> Size:
        nodes = steps = 0
        for item in items:
            n, s = self.entry(item, env)
            nodes, steps = nodes + n, steps + s
            if n or s > 1:
                self._check((nodes, steps), item.span,
                            "the entries up to here make at least {:,} nodes in {:,} steps", nodes, steps)
        return nodes, steps

    def entry(self, item: m.Entry, env: Mapping[str, Any]) -> Size:
        self._visit()
        if isinstance(item, m.Call):
            n, s = self.call(item, env, inline=True)
        elif isinstance(item, m.Named):
            n, s = self.value(item.value, env)
        else:
            n, s = self.container(item, env, in_list=True)
        return n, s + 1

    def value(self, v: m.Call | m.Seq | m.Container, env: Mapping[str, Any]) -> Size:
        if isinstance(v, m.Call):
            return self.call(v, env, inline=False)
        if isinstance(v, m.Seq):
            self.nest()
            try:
                return self.entries(v.items, env)
            finally:
                self.depth -= 1
        return self.container(v, env, in_list=False)

    def _when(self, code: m.Code | None, env: Mapping[str, Any]) -> bool:
        return code is None or _quiet(code.expr, code.loc, env, ()) is True

    def container(self, c: m.Container, env: Mapping[str, Any], *, in_list: bool) -> Size:
        """A container: an entry of a list (``in_list``: its layers splice into the list) or a named value."""
        self.nest()
        try:
            return self._container(c, env, in_list)
        finally:
            self.depth -= 1

    def _container(self, c: m.Container, env: Mapping[str, Any], in_list: bool) -> Size:
        if not self._when(c.when, env):
            return 0, 0
        merge = 1 if len(c.from_) > 1 else 0
        kind = c.kind
        if kind == "ref":
            return merge, 0
        if kind == "layers":
            assert c.layers is not None
            if in_list or isinstance(c.layers, m.Seq):
                n, s = self.entries(_items(c.layers), env)
            else:
                n, s = self.call(c.layers, env, inline=False)
            return merge + n, s
        n, s = self.body(c, env)
        return merge + n, s

    def body(self, b: m.BodyFields, env: Mapping[str, Any]) -> Size:
        kind = b.kind
        if kind == "layers":
            assert b.layers is not None
            return self.entries(_items(b.layers), env)
        if kind == "repeat":
            return self.repeat(b, env)
        if kind == "parallel":
            assert b.parallel is not None
            if b.flat:  # entries of the enclosing list, never conditional; then their merge
                n, s = self.entries(b.parallel, env)
                return n + (1 if len(b.parallel) > 1 else 0), s
            nodes = steps = certain = 0
            for branch in b.parallel:
                assert isinstance(branch, m.Named)
                v = branch.value
                if isinstance(v, m.Container) and v.when is not None and not self._when(v.when, env):
                    continue
                n, s = self.value(v, env)
                nodes, steps, certain = nodes + n, steps + s, certain + 1
            return nodes + (1 if certain > 1 else 0), steps
        assert b.residual is not None
        res = b.residual
        n1, s1 = self.entries(res.body, env)
        n2, s2 = self.entries(res.then, env)
        return n1 + n2 + 1, s1 + s2  # the add; a shortcut is taken only if the shapes differ

    def _each(self, b: m.BodyFields, env: Mapping[str, Any]) -> Size:
        assert b.each is not None
        return self.entries(_items(b.each), env)

    def _times(self, b: m.BodyFields, count: int, one: Size) -> Size:
        assert b.repeat is not None
        size = (count * one[0], count * (one[1] + 1))
        return self._check(size, b.repeat.loc.span, "this repeat makes at least {:,} nodes ({:,} × {:,}) in {:,} steps",
                           size[0], count, one[0], size[1])

    def repeat(self, b: m.BodyFields, env: Mapping[str, Any]) -> Size:
        assert b.repeat is not None and b.each is not None
        count = _quiet(b.repeat.expr, b.repeat.loc, env, ())
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= self.limits.max_repeat:
            return 0, 0  # unknown, or an error lowering reports
        reads_index = b.index in names_in_body(b.each)
        if not reads_index:
            return self._times(b, count, self._each(b, env))
        self._times(b, count, self._each(b, with_names(env, {b.index: UNKNOWN})))  # cheap first: any i is at least this
        nodes = steps = 0
        for i in range(count):
            n, s = self._each(b, with_names(env, {b.index: i}))
            nodes, steps = nodes + n, steps + s + 1
            self._check((nodes, steps), b.repeat.loc.span,
                        "its first {:,} repeats make at least {:,} nodes in {:,} steps", i + 1, nodes, steps)
        return nodes, steps

    def call(self, call: m.Call, env: Mapping[str, Any], *, inline: bool) -> Size:
        target = self._resolve(call, env)
        if target is None:
            return 1, 0  # an op, or a stand-in after an error: one node either way
        defn = target.defn
        if id(defn) in self.active:
            raise GiveUp()  # recursion: an error that lowering reports, with its location
        if inline and defn.inline and defn.kind not in ("layers", "repeat"):
            return 0, 0
        args = block_args(Reporter(limit=0), target, call, env, (), _quiet)
        key = (id(defn), tuple(args.values()))
        try:
            hash(key)
        except TypeError:  # pragma: no cover - every spec value is hashable
            raise GiveUp() from None
        if key in self.memo:
            return self.memo[key]
        inner = ChainMap({**args, "input": ShapeView(None)}, target.unit.blocks)
        self.active.append(id(defn))
        self.trace.append(Note(f"in block '{target.name}'", call.span))
        self.nest()
        try:
            size = self.body(defn, inner)
        finally:
            self.active.pop()
            self.trace.pop()
            self.depth -= 1
        self.memo[key] = size
        return size

    def _resolve(self, call: m.Call, env: Mapping[str, Any]) -> BlockRef | None:
        value = env.get(call.call.callee)
        return value if isinstance(value, BlockRef) else None


def names_in_body(v: m.Call | m.Seq | m.Container | m.Entry) -> set[str]:
    """Every name read by the expressions of a list of entries, not looking into blocks."""
    out: set[str] = set()
    stack: list[Any] = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, m.Call):
            out |= names_in(x.call)
            out.add(x.call.callee)
        elif isinstance(x, m.Seq):
            stack.extend(x.items)
        elif isinstance(x, m.Named):
            stack.append(x.value)
        elif isinstance(x, m.Code):
            out |= names_in(x.expr)
        elif isinstance(x, m.Residual):
            stack.extend((*x.body, *x.then, x.shortcut, x.when))
        elif isinstance(x, m.BodyFields):
            stack.extend((x.layers, x.each, x.repeat, x.residual, *(x.parallel or ())))
            if isinstance(x, m.Container):
                stack.append(x.when)
    return out
