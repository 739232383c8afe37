"""One generated class per block definition, written from the spec and checked by the graph.

A :class:`ClassEmitter` walks the spec body of a block (or the network's layers) once
for all of its instances ("cases", see :mod:`archc.emit.values`), writing ``__init__``
and ``forward`` lines. Values written into the source are spec expressions rendered
back to Python (so a class reads ``nn.Conv2d(in_channels, planes * 4, 1, bias=False)``),
or sizes derived by the ops' ``dim_rules``; each is verified against the concrete
graph in every case (see :mod:`archc.emit.symbolic`). A construct that cannot be
written once for all cases raises :class:`Unsupported`; the module emitter then writes
specialised classes instead.

This module holds values, sizes and constructor sources; :mod:`archc.emit.bodies`
writes module bodies and their ``forward``; :mod:`archc.emit.sequential` builds
``nn.Sequential`` contents.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..ir.graph import Node, Scope
from ..ops.base import Op
from ..spec import model as m
from ..spec.expr import UNKNOWN, Attr, Const, Expr, ListLit, Name
from ..spec.loader import BlockRef
from .bodies import ModuleBodies
from .lookup import Lookup
from .names import Namespace
from .symbolic import (
    Raw,
    Sym,
    const,
    first_verified,
    fold,
    free_names,
    has_raw,
    render,
    substitute,
    total,
    value_of,
)
from .values import (
    MISSING,
    AttrRef,
    AttrRefs,
    Case,
    ClassCode,
    DimRef,
    Lines,
    Unsupported,
    Val,
    annotation,
    entries_of,
    literal,
    marker_value,
    same,
)

__all__ = ["ClassEmitter", "Unsupported"]


class ClassEmitter(ModuleBodies):
    def __init__(self, module: Any, name: str, instances: list[Scope], *, doc: str, params: list[m.ParamDecl],
                 body: Any, concrete: bool):
        self.module = module  # the ModuleEmitter: class names of blocks, lookup, in-place decisions
        self.lookup: Lookup = module.lookup
        self.name = name
        self.instances = instances
        self.doc = doc
        self.decls = params
        self.body = body
        self.concrete = concrete  # one instance, every value a literal (the network, specialised classes)
        # a map of its own in front of the instance's names: copying them (every block of the file,
        # per instance) took gigabytes for 45,000 instances in a file of 3,000 blocks
        self.cases = [Case(s.path, ChainMap({}, s.env or {}), ()) for s in instances]
        self.ns = Namespace(module.names)  # the signature and the locals of __init__
        self.fwd_ns = Namespace(module.names)  # the locals of forward
        self.names: dict[str, str] = dict(module.block_class_names())  # spec name -> Python source
        self.subst: dict[str, Expr] = {}  # an inline block's parameters -> its call's arguments
        self.init = Lines()
        self.fwd = Lines()
        self.attrs: dict[str, str] = {}  # attribute -> its constructor source
        self.signature: list[str] = []
        self.last_norms: list[str] = []
        self.setup_bodies()

    # --- entry points -------------------------------------------------------------------

    def emit(self) -> ClassCode:
        first = self.instances[0]
        rank = len(self.lookup.graph.nodes[first.input].shape or ())
        self._signature()
        x = Val("x", self._input_dims(rank), [s.input for s in self.instances])
        self.fwd_ns.reserve("x")
        kind = self.body.kind if isinstance(self.body, m.BodyFields) else "layers"
        if kind == "repeat" or (kind == "layers" and first.mode == "sequential"):
            out = self.sequential_class(x)
            base, forward = "nn.Sequential", None
        else:
            out = self.module_body(x, kind)
            base, forward = "nn.Module", self.fwd.lines
        out_sym = self._out_channels(out)
        return ClassCode(self.name, base, self.doc, self.signature, self.init.lines, forward, out_sym,
                         [d.name for d in self.decls], self.last_norms)

    def _signature(self) -> None:
        if self.concrete:
            return
        self.names["input.channels"] = self.ns.claim("in_channels")
        self.signature.append(f"{self.names['input.channels']}: int")
        for decl in self.decls:
            py = self.ns.claim(decl.name)
            self.names[decl.name] = py
            kind = annotation(decl.type, [c.env.get(decl.name) for c in self.cases])
            default = decl.default
            if default is None:
                self.signature.append(f"{py}: {kind}")
            elif isinstance(default.expr, (Const, ListLit)) and not free_names(default.expr):
                self.signature.append(f"{py}: {kind} = {self.literal(value_of(default.expr, {}))}")
            else:  # a default computed from other parameters: resolved in the body
                src = render(default.expr, self.names)
                if src is None:
                    raise Unsupported(f"default of {decl.name}")
                self.signature.append(f"{py}: {kind} | None = None")
                self.init.add(f"if {py} is None:")
                self.init.add(f"    {py} = {src}")

    def _input_dims(self, rank: int) -> tuple[Sym, ...]:
        fields = {1: ["channels"], 2: ["channels", "length"], 3: ["channels", "height", "width"]}.get(rank)
        if fields is None:
            return (None,) * rank
        return tuple(Attr(0, 0, Name(0, 0, "input"), f) for f in fields)

    def _out_channels(self, out: Val) -> Sym:
        if not out.dims or out.dims[0] is None or self.concrete:
            return None
        text = render(out.dims[0], self.names)
        if text is None:
            return None
        self.init.add(f"self.out_channels = {text}")
        return out.dims[0]

    # --- values -----------------------------------------------------------------------------

    def literal(self, value: Any) -> str:
        return literal(value, lambda ref: self.module.class_name(ref, None))

    def renderable(self, expr: Expr) -> bool:
        return render(expr, self.names) is not None

    def src(self, expr: Sym, values: list[Any] | None = None) -> str:
        """Source for a value: the expression if it renders here (a closed expression is written
        as its value), else the one literal every case shares."""
        if expr is not None:
            expr = fold(substitute(expr, self.subst) if self.subst else expr)
            if not free_names(expr) and not has_raw(expr) and not isinstance(expr, Const):
                values = [value_of(expr, c.env) for c in self.cases]
                expr = None
            else:
                text = render(expr, self.names)
                if text is not None:
                    return text
                values = values if values is not None else [value_of(expr, c.env) for c in self.cases]
        if not values or any(v is UNKNOWN for v in values) or any(not same(v, values[0]) for v in values):
            raise Unsupported("a value differs between instances and has no expression")
        return self.literal(values[0])

    def dims_of(self, items: list[Node | Scope], cands: list[list[Sym]]) -> tuple[Sym, ...]:
        """Verified symbolic sizes of the items' output (one item per case)."""
        shapes = [self.lookup.shape(i) for i in items]
        if any(s is None for s in shapes):
            raise Unsupported("unknown shape")
        out: list[Sym] = []
        for d in range(len(shapes[0])):  # type: ignore[arg-type]
            wanted = [s[d] for s in shapes]  # type: ignore[index]
            options = [substitute(c, self.subst) if c is not None and self.subst else c
                       for c in (cands[d] if d < len(cands) else [])]
            # a size every case shares is written as a number rather than looked up at run time
            if len(set(wanted)) == 1:
                plain = [o for o in options if o is None or not has_raw(o)]
                options = [*plain, const(wanted[0]), *(o for o in options if o is not None and has_raw(o))]
            out.append(first_verified(options, [(c.env, w) for c, w in zip(self.cases, wanted)], self.renderable))
        return tuple(out)

    def items(self, origin: Any) -> list[Node | Scope]:
        """What a spec object made in each case."""
        found = [self.lookup.find(origin, c.owner, c.site) for c in self.cases]
        if any(f is None for f in found):
            raise Unsupported("an entry exists in some instances only")
        return found  # type: ignore[return-value]

    def present(self, origin: Any) -> list[bool]:
        return [self.lookup.find(origin, c.owner, c.site) is not None for c in self.cases]

    # --- inline blocks ------------------------------------------------------------------------

    def inline_refs(self, call: m.Call) -> list[BlockRef] | None:
        """The inline block each case calls, or None if the call is not an inline block.
        (Inline blocks leave no scope of their own in the graph: resolve them by name.)"""
        refs = [case.env.get(call.call.callee) for case in self.cases]
        if refs and all(isinstance(r, BlockRef) and r.defn.inline for r in refs):
            return refs  # type: ignore[return-value]
        return None

    @contextmanager
    def inline(self, call: m.Call) -> Iterator[m.BlockDef]:
        """Enter an inline block's body: its parameters read as the call's arguments."""
        refs = self.inline_refs(call)
        assert refs is not None
        defn = refs[0].defn
        if any(r.defn is not defn for r in refs):
            raise Unsupported("an inline block differs between instances")
        mapping = dict(self.subst)
        names = [d.name for d in defn.params]
        for k, arg in enumerate(call.call.args):
            mapping[names[k]] = substitute(arg, self.subst) if self.subst else arg
        for kw in call.call.kwargs:
            mapping[kw.name] = substitute(kw.value, self.subst) if self.subst else kw.value
        for d in defn.params:
            if d.name not in mapping and d.default is not None:
                mapping[d.name] = substitute(d.default.expr, mapping)
        saved = (self.subst, self.cases)
        self.subst = mapping
        self.cases = [Case(c.owner, c.env, c.site + (("call", id(call)),)) for c in self.cases]
        try:
            yield defn
        finally:
            self.subst, self.cases = saved

    # --- constructor sources of calls -------------------------------------------------------

    def call_source(self, call: m.Call, x: Val, runtime: str) -> tuple[str, Val]:
        """Constructor source of what a call makes, and the value it outputs. ``runtime`` is
        how built code refers to the constructed module (to read its ``out_channels``)."""
        items = self.items(call)
        if isinstance(items[0], Node):
            op = items[0].op
            assert op is not None
            return self._op_source(op, call, x, items)  # type: ignore[arg-type]
        return self._block_source([s.origin for s in items], call, x, items, runtime)  # type: ignore[union-attr]

    def _attr_exprs(self, op: Op, call: m.Call) -> dict[str, Expr]:
        fields = list(op.Attrs.model_fields)
        out: dict[str, Expr] = dict(zip(fields, call.call.args))
        for kw in call.call.kwargs:
            out[op.arg_aliases.get(kw.name, kw.name)] = kw.value
        return out

    def _op_source(self, op: Op, call: m.Call, x: Val, nodes: list[Node]) -> tuple[str, Val]:
        given = self._attr_exprs(op, call)

        def attr(name: str) -> Sym:
            return given.get(name, const(getattr(nodes[0].attrs, name)))

        if op.torch_class is None:
            raise Unsupported(f"{op.name} is not a module")
        ranks = tuple(len(s) for s in nodes[0].in_shapes or ())
        args, kwargs = op.torch_args(tuple(tuple(DimRef(i, d) for d in range(r)) for i, r in enumerate(ranks)),
                                     AttrRefs(op))
        parts = [self._arg_source(a, x, nodes, attr) for a in args]
        for key, value in kwargs.items():
            default = op.torch_defaults.get(key, MISSING)
            if default is not MISSING and all(same(marker_value(value, n), default) for n in nodes):
                continue
            parts.append(f"{key}={self._arg_source(value, x, nodes, attr)}")
        if op.inplace_capable and self.module.inplace_ok(nodes):
            parts.append("inplace=True")
        rules = op.dim_rules(ranks, len(nodes[0].shape or ()), nodes[0].attrs)
        cands = [[self._rule(r, [x], attr) for r in options] for options in rules]
        return f"{op.torch_class}({', '.join(parts)})", Val(None, self.dims_of(nodes, cands), [n.id for n in nodes])

    def _rule(self, rule: tuple[Any, ...], ins: list[Val], attr: Any) -> Sym:
        kind = rule[0]
        if kind == "in":
            _, i, d = rule
            return ins[i].dims[d] if i < len(ins) and d < len(ins[i].dims) else None
        if kind == "attr":
            return attr(rule[1])
        if kind == "sum":
            return total(v.dims[rule[1]] if rule[1] < len(v.dims) else None for v in ins)
        if kind == "prod":
            _, i, start, stop = rule
            return total((ins[i].dims[d] for d in range(start, stop)), "*")
        return None

    def _arg_source(self, value: Any, x: Val, nodes: list[Node], attr: Any) -> str:
        if isinstance(value, DimRef):
            concrete = [n.in_shapes[value.i][value.d] for n in nodes]  # type: ignore[index]
            return self.src(x.dims[value.d] if value.i == 0 and value.d < len(x.dims) else None, concrete)
        if isinstance(value, AttrRef):
            concrete = [getattr(n.attrs, value.name) for n in nodes]
            expr = attr(value.name)
            if isinstance(expr, Const) or (self.module.inference and not self._holds(expr, concrete)):
                expr = None  # the inference pass changed it (a folded convolution gains a bias)
            return self.src(expr, concrete)
        return self.literal(value)

    def _holds(self, expr: Expr, values: list[Any]) -> bool:
        """Does a spec expression still give the graph's value in every case?"""
        expr = substitute(expr, self.subst) if self.subst else expr
        return all(got is UNKNOWN or same(got, want) for got, want in zip((value_of(expr, c.env) for c in self.cases),
                                                                          values))

    def _block_source(self, refs: list[BlockRef], call: m.Call, x: Val, scopes: list[Scope],
                      runtime: str) -> tuple[str, Val]:
        callee = call.call.callee
        classes = {self.module.class_name(r, s) for r, s in zip(refs, scopes)}
        if not self.concrete and callee in {d.name for d in self.decls}:
            cls, static = self.names[callee], None  # a block-typed parameter: the class is an argument
        elif len(classes) == 1:
            cls = classes.pop()
            static = self.module.class_code(refs[0], scopes[0])
        else:
            raise Unsupported("instances call different classes")
        specialised = self.module.is_specialised(refs[0])
        parts: list[str] = []
        if static is None or static.signature:
            channels = [self.lookup.graph.nodes[s.input].shape[0] for s in scopes]  # type: ignore[index]
            parts.append(self.src(x.dims[0] if x.dims else None, channels))
        if not specialised:
            decl_names = [d.name for d in refs[0].defn.params]
            for k, arg in enumerate(call.call.args):
                parts.append(self.src(arg, [s.args.get(decl_names[k]) for s in scopes]))
            for kw in call.call.kwargs:
                parts.append(f"{kw.name}={self.src(kw.value, [s.args.get(kw.name) for s in scopes])}")
        cands: list[list[Sym]] = [[] for _ in range(len(self.lookup.shape(scopes[0]) or ()))]
        if cands:
            out_channels = static.out_channels if static is not None else None
            if not specialised and out_channels is not None and not has_raw(out_channels):
                # the callee's own out_channels, with its parameters replaced by this call's arguments
                mapping: dict[str, Expr] = dict(zip(static.params, call.call.args))  # type: ignore[union-attr]
                mapping.update({kw.name: kw.value for kw in call.call.kwargs})
                if x.dims and x.dims[0] is not None:
                    mapping.setdefault("input.channels", x.dims[0])
                cands[0].append(substitute(out_channels, mapping))
            cands[0] += [x.dims[0] if x.dims else None, Raw(0, 0, f"{runtime}.out_channels")]
        outputs = [self.lookup.output(s) for s in scopes]
        return f"{cls}({', '.join(parts)})", Val(None, self.dims_of(scopes, cands), outputs)  # type: ignore[arg-type]

    def anonymous_items(self, c: m.Container) -> tuple[m.Entry, ...]:
        return entries_of(c.layers)
