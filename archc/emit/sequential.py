"""The contents of an ``nn.Sequential``: positional constructor expressions, or — when a
loop or a condition is involved — statements appending to a local list::

    layers = []
    for i in range(depth):
        layers.append(block(in_channels, planes, stride=stride if i == 0 else 1))
        in_channels = layers[-1].out_channels
    super().__init__(*layers)

A repeat becomes a loop when its iterations can be written once; the channels flowing
into each iteration are carried in a variable, updated from the iteration's output
(an expression, or the ``out_channels`` every generated block class records).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ir.graph import Node
from ..ir.params import with_names
from ..spec import model as m
from ..spec.expr import Name
from .symbolic import Raw, const, free_names, render, substitute, value_of
from .values import PENDING, Case, Unsupported, Val, entries_of

if TYPE_CHECKING:
    from .classes import ClassEmitter


class SeqBuilder:
    def __init__(self, owner: ClassEmitter, name: str | None):
        self.c = owner
        self.name = name  # the attribute it becomes, for naming the list
        self.exprs: list[str] = []  # positional entries, while no statement is needed
        self.names: list[str | None] = []  # the module name of each entry in exprs (None: positional)
        self.lines: list[str] = []
        self.var: str | None = None  # the list variable, once statements are needed

    def _list_name(self) -> str:
        return self.c.ns.claim(f"{self.name}_layers" if self.name else "layers")

    def _list(self) -> str:
        if any(self.names):
            raise Unsupported("named entries in an nn.Sequential built with a loop or condition")
        if self.var is None:
            self.var = self._list_name()
            self.lines.append(f"{self.var} = [{', '.join(self.exprs)}]" if self.exprs else f"{self.var} = []")
            self.exprs = []
        return self.var

    def add(self, source: str, indent: str = "", name: str | None = None) -> None:
        if self.var is None and not indent:
            self.exprs.append(source)
            self.names.append(name)
        else:
            if name is not None:
                raise Unsupported("named entries in an nn.Sequential built with a loop or condition")
            self.lines.append(f"{indent}{self._list()}.append({source})")

    def outside(self, val: Val, ref: str) -> Val:
        """``val`` as code after the nn.Sequential is built reads it: a run-time reference to
        its last module becomes ``ref[-1]`` (``self[-1]`` in a Sequential subclass)."""
        dims = tuple(Raw(0, 0, d.code.replace(PENDING, ref)) if isinstance(d, Raw) else d for d in val.dims)
        return Val(val.var, dims, val.ids)

    def finish(self) -> list[str]:
        """The statements building the contents; the last line is the nn.Sequential expression."""
        if any(self.names):  # named entries: PyTorch's way is add_module, in order
            var = self.c.ns.claim(self.name or "layers")
            positions = [str(k) for k in range(len(self.exprs))]
            return [f"{var} = nn.Sequential()",
                    *(f"{var}.add_module({name or pos!r}, {e.replace(PENDING, var)})"
                      for name, pos, e in zip(self.names, positions, self.exprs)), var]
        if self.var is None and not any(PENDING in e for e in self.exprs):
            return [f"nn.Sequential({', '.join(self.exprs)})"]
        if self.var is None:  # an entry reads the module before it: build a list after all
            var = self._list_name()
            return [f"{var} = []", *(f"{var}.append({e.replace(PENDING, var)})" for e in self.exprs),
                    f"nn.Sequential(*{var})"]
        return [*self.lines, f"nn.Sequential(*{self.var})"]

    # --- entries ------------------------------------------------------------------------------

    def entries(self, items: tuple[m.Entry, ...], x: Val, indent: str = "") -> Val:
        for item in items:
            x = self.entry(item, x, indent)
        return x

    def entry(self, item: m.Entry, x: Val, indent: str) -> Val:
        c = self.c
        if isinstance(item, m.Call):
            if c.inline_refs(item) is not None:
                with c.inline(item) as defn:
                    if defn.kind == "repeat":
                        return self.repeat(defn, x, indent)
                    return self.entries(entries_of(defn.layers), x, indent)
            if c.module.removed(c.present(item)):
                return x
            # later entries may read this module (``layers[-1].out_channels``)
            runtime = f"{self._list()}[-1]" if (self.var is not None or indent) else f"{PENDING}[-1]"
            source, out = c.call_source(item, x, runtime)
            self.add(source, indent)
            return out
        if isinstance(item, m.Named):
            value = item.value
            if isinstance(value, m.Container) and value.kind in ("parallel", "residual") and not (
                    value.when or value.from_ or value.training_only):
                return self._anonymous(value, x, indent, item.name)
            if not isinstance(value, m.Call) or c.inline_refs(value) is not None:
                raise Unsupported("a named container in an nn.Sequential")
            if c.module.removed(c.present(value)):
                return x
            if self.var is not None or indent:
                raise Unsupported("named entries in an nn.Sequential built with a loop or condition")
            source, out = c.call_source(value, x, f"{PENDING}[-1]")
            self.add(source, indent, item.name)
            return out
        if item.kind in ("parallel", "residual") and not (item.when or item.from_ or item.training_only):
            return self._anonymous(item, x, indent, None)
        if item.when is not None:
            return self.when(item, x, indent)
        if item.kind == "repeat":
            return self.repeat(item, x, indent)
        if item.kind == "layers" and not item.from_ and not item.training_only:
            return self.entries(entries_of(item.layers), x, indent)
        raise Unsupported(f"{item.kind} inside an nn.Sequential")

    def _anonymous(self, container: m.Container, x: Val, indent: str, name: str | None) -> Val:
        """Parallel branches or a residual as an entry: its own class, constructed here."""
        c = self.c
        if name is not None and (self.var is not None or indent):
            raise Unsupported("named entries in an nn.Sequential built with a loop or condition")
        runtime = f"{self._list()}[-1]" if (self.var is not None or indent) else f"{PENDING}[-1]"
        source, out = c.module.anonymous(container, c.items(container), runtime, x, c)
        self.add(source, indent, name)
        return out

    def when(self, item: m.Container, x: Val, indent: str) -> Val:
        """``if cond: layers.append(...)``: present in some instances only."""
        c = self.c
        assert item.when is not None
        items = entries_of(item.layers)
        if not isinstance(items[0], m.Call):
            raise Unsupported("conditional entry form")
        present = c.present(items[0])
        if all(present):
            return self.entries(items, x, indent)
        if not any(present):
            return x
        if c.concrete:
            raise Unsupported("condition differs")
        condition = c.src(item.when.expr, present)
        self._list()
        self.lines.append(f"{indent}if {condition}:")
        keep = c.cases
        c.cases = [case for case, p in zip(keep, present) if p]
        try:
            inner = self.entries(items, x, indent + "    ")
        finally:
            c.cases = keep
        if inner.dims != x.dims:
            raise Unsupported("a conditional entry changes the size")
        return x

    # --- repeats ----------------------------------------------------------------------------------

    def repeat(self, b: m.BodyFields, x: Val, indent: str = "") -> Val:
        c = self.c
        assert b.repeat is not None and b.each is not None
        # inside an inline block the count may name the block's parameters: read them through
        # the call's arguments (c.subst), as src() does
        count_expr = substitute(b.repeat.expr, c.subst) if c.subst else b.repeat.expr
        counts = [value_of(count_expr, case.env) for case in c.cases]
        if any(not isinstance(n, int) or isinstance(n, bool) for n in counts):
            raise Unsupported("repeat count")
        # a count the spec writes as a number is unrolled; one that a parameter decides is a
        # loop in a generic class (the class must work for every count its callers pass)
        if c.concrete or not free_names(count_expr):
            return self._unrolled(b, x, counts, indent)
        return self._loop(b, x, counts, indent)

    def _loop(self, b: m.BodyFields, x: Val, counts: list[int], indent: str) -> Val:
        c = self.c
        assert b.repeat is not None
        index = c.ns.claim(b.index)
        count = c.src(b.repeat.expr, counts)
        # the channels flowing into each iteration live in a variable: the class's in_channels
        # when the loop reads the class input, else a local
        channels = x.dims[0] if x.dims else None
        if channels is not None and render(channels, c.names) == c.names.get("input.channels"):
            ch_name = c.names["input.channels"]
        else:
            ch_name = c.ns.claim("channels")
            self._list()
            self.lines.append(f"{indent}{ch_name} = {c.src(channels)}")
        self._list()
        self.lines.append(f"{indent}for {index} in range({count}):")
        loop_cases = [Case(case.owner, with_names(case.env, {b.index: i}), case.site + (("iter", id(b), i),))
                      for case, n in zip(c.cases, counts) for i in range(n)]
        if not loop_cases:
            raise Unsupported("a loop that never runs")
        keep_cases, keep_names = c.cases, dict(c.names)
        c.cases = loop_cases
        c.names[b.index] = index
        c.names["@channels"] = ch_name
        try:
            first = [self._iteration_input(case) for case in loop_cases]
            for case, nid in zip(loop_cases, first):
                case.env["@channels"] = c.lookup.graph.nodes[nid].shape[0]  # type: ignore[index]
            x_loop = Val(None, (Name(0, 0, "@channels"), *((None,) * (len(x.dims) - 1))), first)
            out = self.entries(entries_of(b.each), x_loop, indent + "    ")
            update = render(out.dims[0], c.names) if out.dims and out.dims[0] is not None else None
            if update is None:
                raise Unsupported("channels after an iteration")
            if update != ch_name:
                self.lines.append(f"{indent}    {ch_name} = {update}")
        finally:
            c.cases, c.names = keep_cases, keep_names
        # after the loop the channel variable holds the last iteration's output channels
        outputs = [self._last_output(case, n, b) for case, n in zip(keep_cases, counts)]
        return Val(None, (Raw(0, 0, ch_name), *((None,) * (len(x.dims) - 1))), outputs)

    def _site_items(self, case: Case, site: tuple) -> list:
        return self.c.lookup.within(case.owner, site)

    def _iteration_input(self, case: Case) -> str:
        first = min(self._site_items(case, case.site), key=lambda i: i.seq)
        return first.inputs[0] if isinstance(first, Node) else first.input

    def _last_output(self, case: Case, count: int, b: m.BodyFields) -> str:
        if count == 0:
            return ""
        last = max(self._site_items(case, case.site + (("iter", id(b), count - 1),)), key=lambda i: i.seq)
        return self.c.lookup.output(last)

    def _unrolled(self, b: m.BodyFields, x: Val, counts: list[int], indent: str) -> Val:
        c = self.c
        if len(set(counts)) != 1:
            raise Unsupported("repeat counts differ")
        keep_cases, keep_subst = c.cases, c.subst
        try:
            for i in range(counts[0]):
                c.cases = [Case(case.owner, with_names(case.env, {b.index: i}), case.site + (("iter", id(b), i),))
                           for case in keep_cases]
                c.subst = {**keep_subst, b.index: const(i)}
                x = self.entries(entries_of(b.each), x, indent)
        finally:
            c.cases, c.subst = keep_cases, keep_subst
        return x
