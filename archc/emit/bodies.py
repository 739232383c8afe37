"""Module bodies: the attributes a class's ``__init__`` builds and the ``forward`` that
uses them, written entry by entry as a person would (``out = self.bn1(out)``).

Variables: the input is ``x``; the main flow reuses one variable (``x``, or ``out``
once ``x`` must be kept, as for a residual's identity); a named point that a later
``from:`` reads keeps a variable of its own name; parallel branches are named after
the branch. Mixed into :class:`archc.emit.classes.ClassEmitter`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ..ir.graph import Node, Scope
from ..spec import model as m
from ..spec.expr import BoolOp, Compare, Expr, Name
from .symbolic import const, first_verified, render, substitute, total, value_of
from .values import Case, Unsupported, Val, body_items, entries_of

if TYPE_CHECKING:
    from .classes import ClassEmitter


class ModuleBodies:
    """The module-body half of :class:`~archc.emit.classes.ClassEmitter`."""

    def setup_bodies(self: ClassEmitter) -> None:
        self.points: dict[str, Val] = {}  # named entries a `from:` may read
        self.referenced: set[str] = set()  # names some `from:` reads
        self.protected: set[str] = set()  # forward variables that must not be overwritten
        self.want: str | None = None  # the variable the next statement should write
        self.running: str | None = "x"  # the variable the main flow reuses
        self.input_val: Val | None = None

    # --- the whole body ---------------------------------------------------------------------

    def module_body(self: ClassEmitter, x: Val, kind: str) -> Val:
        self._find_references()
        self.input_val = x
        if "input" in self.referenced:
            self.protected.add("x")
        if kind == "parallel":
            out = self._parallel(self.body, x)
        elif kind == "residual":
            out = self._residual(self.body.residual, x)
        else:
            items = self.body if not isinstance(self.body, m.BodyFields) else entries_of(self.body.layers)
            out = self._entries(tuple(items), x)
        heads = self.module.heads_for(self)
        if heads:
            self.fwd.add("if self.training:")
            self.fwd.add(f"    return {', '.join([out.var or 'x', *heads])}")
        self.fwd.add(f"return {out.var}")
        return out

    def sequential_class(self: ClassEmitter, x: Val) -> Val:
        """A body that is an nn.Sequential: the class subclasses it."""
        from .sequential import SeqBuilder

        body = self.body
        builder = SeqBuilder(self, None)
        if isinstance(body, m.BodyFields) and body.kind == "repeat":
            out = builder.repeat(body, x)
        else:
            out = builder.entries(tuple(body) if not isinstance(body, m.BodyFields) else entries_of(body.layers), x)
        lines = builder.finish()
        if lines[-1].startswith("nn.Sequential("):
            self.init.lines.extend(lines[:-1])
            self.init.add(f"super().__init__({lines[-1][len('nn.Sequential('):-1]})")
        else:  # named entries: `var = nn.Sequential(); var.add_module(...)` becomes self.add_module(...)
            import re

            var = re.compile(rf"\b{re.escape(lines[-1])}\b")
            self.init.add("super().__init__()")
            self.init.lines.extend(var.sub("self", line) for line in lines[1:-1])
        return builder.outside(out, "self")

    def _find_references(self: ClassEmitter) -> None:
        """Named points that a later `from:` reads keep their own variable."""
        stack: list[Any] = list(self.body) if isinstance(self.body, tuple) else []
        if isinstance(self.body, m.BodyFields):
            stack += body_items(self.body)
        while stack:
            item = stack.pop()
            if isinstance(item, m.Container):
                self.referenced.update(r.name for r in item.from_)
                stack += body_items(item)
            elif isinstance(item, m.Named) and isinstance(item.value, m.Container):
                if self.module.inference and item.value.training_only:
                    continue  # the inference graph has no heads: what they read needs no variable
                stack.append(item.value)
            elif isinstance(item, m.Named) and isinstance(item.value, m.Seq):
                stack += list(item.value.items)

    def _next_var(self: ClassEmitter, x: Val, wanted: str = "out") -> str:
        """The variable the next statement writes."""
        if self.want is not None:  # a named point a later `from:` reads: its own, kept variable
            var = self.fwd_ns.claim(self.want)
            self.protected.add(var)
            self.want = None
            return var
        if x.var is not None and x.var not in self.protected:
            self.running = x.var
            return x.var
        if self.running is not None and self.running not in self.protected:
            return self.running
        self.running = self.fwd_ns.claim(wanted)
        return self.running

    def _call_attr(self: ClassEmitter, name: str, x: Val, out: Val) -> Val:
        """``var = self.name(x)`` in forward."""
        var = self._next_var(x)
        self.fwd.add(f"{var} = self.{name}({x.var})")
        # a new value: ``out`` may be ``x`` itself (an empty repeat), which a named point may hold
        return dataclasses.replace(out, var=var)

    # --- entries --------------------------------------------------------------------------------

    def _entries(self: ClassEmitter, items: tuple[m.Entry, ...], x: Val) -> Val:
        for item in items:
            x = self._entry(item, x)
        return x

    def _entry(self: ClassEmitter, item: m.Entry, x: Val) -> Val:
        if isinstance(item, m.Call):
            if self.inline_refs(item) is not None:
                with self.inline(item) as defn:
                    if defn.kind != "layers":
                        raise Unsupported("an inline repeat in a module body")
                    return self._entries(entries_of(defn.layers), x)
            if self.module.removed(self.present(item)):
                return x
            return self._attribute(self._attr_name(item), item, x)
        if isinstance(item, m.Named):
            value = item.value
            if not (isinstance(value, m.Container) and value.kind == "ref") and self.module.removed(
                    self.present(value)):
                # removed by the inference pass (dropout): a later `from:` reads what flowed through
                self.points[item.name] = x
                if item.name in self.referenced and x.var is not None:
                    self.protected.add(x.var)
                return x
            if item.name in self.referenced:
                self.want = item.name
            if isinstance(value, m.Call):
                out = self._attribute(item.name, value, x)
            elif isinstance(value, m.Seq):
                out = self._seq_attribute(item.name, value, x)
            else:
                found = self._container(item.name, value, x)
                if found is None:
                    self.want = None
                    return x
                out = found
            self.points[item.name] = out
            if item.name in self.referenced:
                # a later `from:` reads it: whatever variable holds it must stay untouched (a `from:`
                # merge or reference does not write a new variable, so `want` may be unused)
                self.want = None
                if out.var is not None:
                    self.protected.add(out.var)
            if isinstance(value, m.Container) and value.training_only:
                return x
            return out
        return self._unnamed_container(item, x)

    def _unnamed_container(self: ClassEmitter, c: m.Container, x: Val) -> Val:
        """An unnamed container in a module body splices its layers here (lowering has already
        refused the kinds that would need a name: parallel, residual, heads)."""
        if c.when is not None:
            present = self._container_present(c)
            if not any(present):
                return x
            if not all(present):
                raise Unsupported("a conditional entry present in some instances only", c.span)
        x_in = self._from(c, x)
        if c.training_only or c.kind in ("parallel", "residual"):
            raise Unsupported(f"an unnamed {c.kind} container in a module body", c.span)
        if c.kind == "ref":
            return x_in
        if c.kind == "layers":
            return self._entries(entries_of(c.layers), x_in)
        return self._module_repeat(c, x_in)

    def _module_repeat(self: ClassEmitter, b: m.BodyFields, x: Val) -> Val:
        """A repeat spliced into a module body: its iterations written one after the other
        (a module body names its layers, so there is no list to loop over)."""
        assert b.repeat is not None
        count = substitute(b.repeat.expr, self.subst) if self.subst else b.repeat.expr
        counts = [value_of(count, case.env) for case in self.cases]
        if len(set(map(repr, counts))) != 1 or not isinstance(counts[0], int):
            raise Unsupported("a repeat in a module body whose count differs between instances", b.span)
        keep_cases, keep_subst = self.cases, self.subst
        try:
            for i in range(counts[0]):
                self.cases = [Case(c.owner, {**c.env, b.index: i}, c.site + (("iter", id(b), i),))
                              for c in keep_cases]
                self.subst = {**keep_subst, b.index: const(i)}
                x = self._entries(entries_of(b.each), x)
        finally:
            self.cases, self.subst = keep_cases, keep_subst
        return x

    def _container_present(self: ClassEmitter, c: m.Container) -> list[bool]:
        """In which cases a container made anything (`when:` decides)."""
        if c.kind in ("parallel", "residual", "repeat"):
            return self.present(c)
        if c.kind == "layers":
            first = entries_of(c.layers)[0] if isinstance(c.layers, m.Seq) else c.layers
            if isinstance(c.layers, m.Seq):
                return self.present(c.layers)
            if isinstance(first, m.Call):
                return self.present(first)
        raise Unsupported("a condition on this kind of container")

    def _attr_name(self: ClassEmitter, call: m.Call) -> str:
        names = {(i.scope if isinstance(i, Node) else i.path)[-1] for i in self.items(call)}
        if len(names) != 1:
            raise Unsupported("an unnamed layer is named differently in different instances")
        return names.pop()

    def _attribute(self: ClassEmitter, name: str, call: m.Call, x: Val) -> Val:
        source, out = self.call_source(call, x, f"self.{name}")
        previous = self.attrs.get(name)
        if previous is None:
            self.attrs[name] = source
            self.init.add(f"self.{name} = {source}")
        elif previous != source:  # a shared parameter-free module must be the same at every use
            raise Unsupported(f"shared module {name} differs between uses")
        return self._call_attr(name, x, out)

    def _define(self: ClassEmitter, name: str, lines: list[str]) -> None:
        """``self.name = <lines[-1]>``, after any statements building it."""
        self.init.lines.extend(lines[:-1])
        self.init.add(f"self.{name} = {lines[-1]}")
        self.attrs[name] = lines[-1]

    def _seq_attribute(self: ClassEmitter, name: str, seq: m.Seq, x: Val) -> Val:
        from .sequential import SeqBuilder

        if any(s.mode != "sequential" for s in self.items(seq)):  # type: ignore[union-attr]
            raise Unsupported("a list that reads named points")
        builder = SeqBuilder(self, name)
        out = builder.entries(seq.items, x)
        self._define(name, builder.finish())
        return self._call_attr(name, x, builder.outside(out, f"self.{name}"))

    def _container(self: ClassEmitter, name: str, c: m.Container, x: Val) -> Val | None:
        from .sequential import SeqBuilder

        if c.when is not None:
            present = self._container_present(c)
            if not any(present):
                return None  # `when` is false everywhere: the entry does not exist
            if not all(present):
                raise Unsupported("a conditional container present in some instances only")
        x_in = self._from(c, x)
        kind = c.kind
        if kind == "ref":
            return x_in
        if kind == "layers" and isinstance(c.layers, m.Call):
            out = self._attribute(name, c.layers, x_in)
        elif kind == "layers":
            assert isinstance(c.layers, m.Seq)
            out = self._seq_attribute(name, c.layers, x_in)
        elif kind in ("parallel", "residual"):
            source, out = self.module.anonymous(c, self.items(c), f"self.{name}", x_in, self)
            self.init.add(f"self.{name} = {source}")
            out = self._call_attr(name, x_in, out)
        else:  # a named repeat: an nn.Sequential built with a loop
            builder = SeqBuilder(self, name)
            out = builder.repeat(c, x_in)
            self._define(name, builder.finish())
            out = self._call_attr(name, x_in, builder.outside(out, f"self.{name}"))
        if c.training_only:  # a side head: computed only in training, returned by the network
            _, _, call = self.fwd.lines.pop().partition(" = ")
            var = self.fwd_ns.claim(name)
            self.fwd.add(f"{var} = {call} if self.training else None")
            out.var = var
        return out

    def _from(self: ClassEmitter, c: m.Container, x: Val) -> Val:
        if not c.from_:
            return x
        vals = []
        for ref in c.from_:
            val = self.input_val if ref.name == "input" else self.points.get(ref.name)
            if val is None:
                raise Unsupported(f"reference {ref.name}")
            vals.append(val)
        if len(vals) == 1:
            return vals[0]
        var = self.fwd_ns.claim(self.want or "merged")  # a named point's merge carries its name
        names = [v.var or "x" for v in vals]
        if (c.merge or "concat") == "concat":
            self.fwd.add(f"{var} = torch.cat([{', '.join(names)}], {c.dim})")
            d = c.dim - 1
            dims = tuple(total(v.dims[d] for v in vals) if k == d else vals[0].dims[k]
                         for k in range(len(vals[0].dims)))
        else:
            self.fwd.add(f"{var} = {' + '.join(names)}")
            dims = vals[0].dims
        return Val(var, dims, vals[0].ids)

    # --- parallel branches and residuals --------------------------------------------------------

    def _parallel(self: ClassEmitter, b: m.BodyFields, x: Val) -> Val:
        from .sequential import SeqBuilder

        assert b.parallel is not None
        self.protected.add(x.var or "x")
        outs = []
        for branch in b.parallel:
            value = branch.value
            if self.module.removed(self.present(value)):  # a branch that was only dropout
                outs.append(x)
                continue
            if isinstance(value, m.Call):
                source, out = self.call_source(value, x, f"self.{branch.name}")
                self._define(branch.name, [source])
            elif isinstance(value, m.Seq):
                builder = SeqBuilder(self, branch.name)
                out = builder.outside(builder.entries(value.items, x), f"self.{branch.name}")
                self._define(branch.name, builder.finish())
            else:
                raise Unsupported("containers as branches")
            var = self.fwd_ns.claim(branch.name)
            self.fwd.add(f"{var} = self.{branch.name}({x.var})")
            out.var = var
            outs.append(out)
        if len(outs) == 1:
            return outs[0]
        merge = b.merge or "concat"
        merges = [self.lookup.graph.nodes.get(f"{'.'.join(c.owner)}:{merge}") for c in self.cases]
        if any(n is None for n in merges):
            raise Unsupported("merge not found")
        var = self.fwd_ns.claim("out")
        if merge == "concat":
            self.fwd.add(f"{var} = torch.cat([{', '.join(o.var or '' for o in outs)}], {b.dim})")
            d = b.dim - 1
            cands = [[total(o.dims[k] for o in outs)] if k == d else [outs[0].dims[k]]
                     for k in range(len(outs[0].dims))]
        else:
            self.fwd.add(f"{var} = {' + '.join(o.var or '' for o in outs)}")
            cands = [[outs[0].dims[k]] for k in range(len(outs[0].dims))]
        return Val(var, self.dims_of(merges, cands), [n.id for n in merges])  # type: ignore[arg-type, union-attr]

    def _residual(self: ClassEmitter, res: m.Residual, x: Val) -> Val:
        self.protected.add(x.var or "x")
        body = self._entries(res.body, x)
        adds = [self.lookup.graph.nodes.get(f"{'.'.join(c.owner)}:add") for c in self.cases]
        if any(a is None for a in adds):
            raise Unsupported("residual add not found")
        used = [a.inputs[1] != x_id for a, x_id in zip(adds, x.ids)]  # type: ignore[union-attr]
        shortcut_var = x.var or "x"
        if any(used):
            name, lines = self._shortcut_source(res, x, used)
            shortcut_var = self.fwd_ns.claim("identity")
            if all(used):
                self._define(name, lines)
                self.fwd.add(f"{shortcut_var} = self.{name}({x.var})")
            else:  # a projection in some instances only: find the condition
                self.init.add(f"self.{name} = None")
                self.init.add(f"if {self._shortcut_condition(res, x, body, used)}:")
                self.init.lines.extend(f"    {line}" for line in lines[:-1])
                self.init.add(f"    self.{name} = {lines[-1]}")
                self.fwd.add(f"{shortcut_var} = {x.var} if self.{name} is None else self.{name}({x.var})")
        if body.var in self.protected or not self.module.add_inplace_ok(body.ids, adds):
            var = self._next_var(body)
            self.fwd.add(f"{var} = {body.var} + {shortcut_var}")
        else:
            var = body.var or "out"
            self.fwd.add(f"{var} += {shortcut_var}")
        self._last_norm(res)
        out = Val(var, self.dims_of(adds, [[d] for d in body.dims]), [a.id for a in adds])  # type: ignore[misc]
        return self._entries(res.then, out)

    def _shortcut_source(self: ClassEmitter, res: m.Residual, x: Val, used: list[bool]) -> tuple[str, list[str]]:
        """The projection's attribute name and the lines building it, checked on the cases using it."""
        from .sequential import SeqBuilder

        sc = res.shortcut
        name = sc.name if isinstance(sc, m.Named) else "shortcut"
        value = sc.value if isinstance(sc, m.Named) else sc
        keep = self.cases
        self.cases = [c for c, u in zip(keep, used) if u]
        try:
            if isinstance(value, m.Seq):
                builder = SeqBuilder(self, name)
                builder.entries(value.items, x)
                return name, builder.finish()
            if isinstance(value, m.Call):
                return name, [self.call_source(value, x, f"self.{name}")[0]]
            raise Unsupported("shortcut form")
        finally:
            self.cases = keep

    def _shortcut_condition(self: ClassEmitter, res: m.Residual, x: Val, body: Val, used: list[bool]) -> str:
        """When the projection exists: the spec's `when:`, else the shape change, found among
        "channels change" and "<an int parameter> != 1 or channels change" by checking every case."""
        if res.when is not None:
            return self.src(res.when.expr, used)
        options: list[Expr] = []
        if x.dims and body.dims and x.dims[0] is not None and body.dims[0] is not None:
            channels = Compare(0, 0, x.dims[0], ("!=",), (body.dims[0],))
            for d in self.decls:
                if all(type(c.env.get(d.name)) is int for c in self.cases):
                    options.append(BoolOp(0, 0, "or", (Compare(0, 0, Name(0, 0, d.name), ("!=",), (const(1),)),
                                                       channels)))
            options.append(channels)
        found = first_verified(options, [(c.env, u) for c, u in zip(self.cases, used)], self.renderable)
        if found is None:
            raise Unsupported("cannot tell when the shortcut is a projection")
        return render(found, self.names)  # type: ignore[return-value]

    def _last_norm(self: ClassEmitter, res: m.Residual) -> None:
        """Remember the residual branch's last norm (zero_init_residual zeroes it)."""
        if self.module.inference:  # no init: the weights come from the plain network
            return
        for item in reversed(res.body):
            if isinstance(item, m.Named) and isinstance(item.value, m.Call):
                node = self.items(item.value)[0]
                if isinstance(node, Node) and node.op is not None and node.op.init_role == "norm" \
                        and node.attrs is not None and node.op.has_affine(node.attrs):
                    self.last_norms.append(item.name)
                return


__all__ = ["Case", "ModuleBodies", "Scope"]
