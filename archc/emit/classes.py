"""One generated class per block definition, written from the spec and checked by the graph.

A :class:`ClassEmitter` walks the spec body of a block (or the network's layers) once
for all of its instances ("cases"), writing ``__init__`` and ``forward`` lines. Values
written into the source are spec expressions rendered back to Python (so a class
reads ``nn.Conv2d(in_channels, planes * 4, 1, bias=False)``), or sizes derived by the
ops' ``dim_rules``; each is verified against the concrete graph in every case (see
:mod:`archc.emit.symbolic`). A construct that cannot be written once for all cases
raises :class:`Unsupported`; the module emitter then writes specialised classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..ir.graph import Node, Path, Scope
from ..ops.base import Op
from ..spec import model as m
from ..spec.expr import UNKNOWN, Attr, Const, Expr, ListLit, Name
from ..spec.loader import BlockRef
from .lookup import Lookup
from .names import Namespace
from .symbolic import (
    Raw,
    Sym,
    binop,
    const,
    first_verified,
    free_names,
    has_raw,
    render,
    substitute,
    total,
    value_of,
)

# Ops whose output is a fresh tensor that their backward does not keep: a following
# activation (or +=) may overwrite it in place.
FRESH_OUTPUT = frozenset({"conv", "conv1d", "linear", "bn", "bn1d", "add", "concat", "maxpool", "avgpool",
                          "adaptive_avgpool", "adaptive_maxpool"})


class Unsupported(Exception):
    """This class cannot be written once for all its instances."""


@dataclass
class Case:
    owner: Path
    env: dict[str, Any]
    site: tuple = ()


@dataclass
class Val:
    var: str | None
    dims: tuple[Sym, ...]
    ids: list[str]


@dataclass
class ClassCode:
    name: str
    base: str
    doc: str
    signature: list[str]
    init: list[str]
    forward: list[str] | None
    out_channels: Sym = None  # in the class's own parameter names, for callers to substitute
    params: list[str] = field(default_factory=list)  # spec parameter names, in signature order
    last_norms: list[str] = field(default_factory=list)  # attributes zeroed by zero_init_residual
    returns_tuple: bool = False


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def add(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)


class ClassEmitter:
    def __init__(self, module: Any, name: str, instances: list[Scope], *, doc: str, params: list[m.ParamDecl],
                 body: Any, concrete: bool):
        self.module = module  # the ModuleEmitter: class names of blocks, lookup, inplace decisions
        self.lookup: Lookup = module.lookup
        self.name = name
        self.instances = instances
        self.doc = doc
        self.decls = params
        self.body = body
        self.concrete = concrete
        self.cases = [Case(s.path, dict(s.env or {}), ()) for s in instances]
        self.ns = Namespace(module.names)  # locals of __init__ (and the signature)
        self.fwd_ns = Namespace(module.names)
        self.names: dict[str, str] = dict(module.class_names_for(self))
        self.subst: dict[str, Expr] = {}
        self.init = _Lines()
        self.fwd = _Lines()
        self.attrs: dict[str, str] = {}  # attribute -> its constructor source
        self.signature: list[str] = []
        self.points: dict[str, Val] = {}  # named entries a `from:` may read
        self.referenced: set[str] = set()  # names some `from:` reads
        self.protected: set[str] = set()  # forward variables that must not be overwritten
        self.want: str | None = None  # the variable name the next statement should write
        self.running: str | None = "x"  # the variable the main flow reuses
        self.last_norms: list[str] = []

    # --- entry points -------------------------------------------------------------------

    def emit(self) -> ClassCode:
        first = self.instances[0]
        rank = len(self.lookup.graph.nodes[first.input].shape or ())
        self._signature(rank)
        x = Val("x", self._input_dims(rank), [s.input for s in self.instances])
        self.fwd_ns.reserve("x")
        mode = first.mode
        kind = self.body.kind if isinstance(self.body, m.BodyFields) else "layers"
        if kind == "repeat" or (kind == "layers" and mode == "sequential"):
            out = self._sequential_class(x)
            base, forward = "nn.Sequential", None
        else:
            out = self._module_body(x, kind)
            base, forward = "nn.Module", self.fwd.lines
        out_sym = self._out_channels(out)
        return ClassCode(self.name, base, self.doc, self.signature, self.init.lines, forward, out_sym,
                         [d.name for d in self.decls], self.last_norms)

    def _signature(self, rank: int) -> None:
        if self.concrete:
            return
        if rank:
            self.names["input.channels"] = self.ns.claim("in_channels")
            self.signature.append(f"{self.names['input.channels']}: int")
        for decl in self.decls:
            py = self.ns.claim(decl.name)
            self.names[decl.name] = py
            values = [c.env.get(decl.name) for c in self.cases]
            annotation = _annotation(decl.type, values)
            default = decl.default
            if default is None:
                self.signature.append(f"{py}: {annotation}")
            elif isinstance(default.expr, Const) or (isinstance(default.expr, ListLit) and not _names(default.expr)):
                self.signature.append(f"{py}: {annotation} = {_literal_source(value_of(default.expr, {}), self)}")
            else:  # a default computed from other parameters
                src = render(default.expr, self.names)
                if src is None:
                    raise Unsupported(f"default of {decl.name}")
                self.signature.append(f"{py}: {annotation} | None = None")
                self.init.add(f"if {py} is None:")
                self.init.add(f"    {py} = {src}")

    def _input_dims(self, rank: int) -> tuple[Sym, ...]:
        fields = {1: ["channels"], 2: ["channels", "length"], 3: ["channels", "height", "width"]}.get(rank)
        if fields is None:
            return (None,) * rank
        return tuple(Attr(0, 0, Name(0, 0, "input"), f) for f in fields)

    # --- values -----------------------------------------------------------------------------

    def renderable(self, expr: Expr) -> bool:
        return render(expr, self.names) is not None

    def src(self, expr: Sym, values: list[Any] | None = None) -> str:
        """Source for a value: the expression if it renders, else the one literal all cases share."""
        if expr is not None:
            expr = substitute(expr, self.subst) if self.subst else expr
            if not free_names(expr) and not has_raw(expr) and not isinstance(expr, Const):
                values = [value_of(expr, c.env) for c in self.cases]  # a closed expression: write its value
                expr = None
            else:
                text = render(expr, self.names)
                if text is not None:
                    return text
            values = values if values is not None else [value_of(expr, c.env) for c in self.cases]
        if values is None or not values or any(v is UNKNOWN for v in values) or any(v != values[0] for v in values):
            raise Unsupported("a value differs between instances and has no expression")
        return _literal_source(values[0], self)

    def dims_of(self, items: list[Node | Scope], cands: list[list[Sym]]) -> tuple[Sym, ...]:
        """Verified symbolic sizes of the items' output (one item per case)."""
        shapes = [self.lookup.shape(i) for i in items]
        if any(s is None for s in shapes):
            raise Unsupported("unknown shape")
        out: list[Sym] = []
        for d in range(len(shapes[0])):
            wanted = [s[d] for s in shapes]
            options = [substitute(c, self.subst) if c is not None and self.subst else c for c in cands[d]] \
                if d < len(cands) else []
            # a size every case shares is written as a number rather than a run-time lookup
            if len(set(wanted)) == 1:
                plain = [o for o in options if o is None or not has_raw(o)]
                options = [*plain, const(wanted[0]), *(o for o in options if o is not None and has_raw(o))]
            cases = [(c.env, w) for c, w in zip(self.cases, wanted)]
            out.append(first_verified(options, cases, self.renderable))
        return tuple(out)

    def items(self, origin: Any) -> list[Node | Scope]:
        found = [self.lookup.find(origin, c.owner, c.site) for c in self.cases]
        if any(f is None for f in found):
            raise Unsupported("an entry exists in some instances only")
        return found  # type: ignore[return-value]

    # --- calls -------------------------------------------------------------------------------

    def resolve(self, call: m.Call) -> Op | list[BlockRef]:
        """The op, or the block each case calls (a block-typed parameter may differ per case)."""
        items = self.items(call)
        if isinstance(items[0], Node):
            return items[0].op  # type: ignore[return-value]
        refs = [i.origin for i in items]  # type: ignore[union-attr]
        return refs

    def call_source(self, call: m.Call, x: Val, runtime: str) -> tuple[str, Val]:
        """Constructor source of what a call makes, and the value it outputs.
        ``runtime`` is how built code refers to the constructed module (for ``out_channels``)."""
        target = self.resolve(call)
        items = self.items(call)
        if isinstance(target, Op):
            return self._op_source(target, call, x, items)  # type: ignore[arg-type]
        return self._block_source(target, call, x, items, runtime)  # type: ignore[arg-type]

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
        marker_ins = tuple(tuple(_DimRef(i, d) for d in range(len(shape))) for i, shape in
                           enumerate(nodes[0].in_shapes or ()))
        args, kwargs = op.torch_args(marker_ins, _AttrRefs(op))
        parts = [self._arg_source(a, x, nodes, attr) for a in args]
        for key, value in kwargs.items():
            concrete = [_marker_value(value, n) for n in nodes]
            default = op.torch_defaults.get(key, _MISSING)
            if default is not _MISSING and all(_same(v, default) for v in concrete):
                continue
            parts.append(f"{key}={self._arg_source(value, x, nodes, attr)}")
        if getattr(op, "inplace_capable", False) and self.module.inplace_ok(nodes):
            parts.append("inplace=True")
        rules = op.dim_rules(tuple(len(s) for s in nodes[0].in_shapes or ()), len(nodes[0].shape or ()),
                             nodes[0].attrs)
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
        if isinstance(value, _DimRef):
            concrete = [n.in_shapes[value.i][value.d] for n in nodes]  # type: ignore[index]
            sym = x.dims[value.d] if value.i == 0 and value.d < len(x.dims) else None
            return self.src(sym, concrete)
        if isinstance(value, _AttrRef):
            concrete = [getattr(n.attrs, value.name) for n in nodes]
            expr = attr(value.name)
            if isinstance(expr, Const):
                return self.src(None, concrete)
            return self.src(expr, concrete)
        return _literal_source(value, self)

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
        concrete_class = static is not None and not self.module.is_specialised(refs[0])
        parts: list[str] = []
        if not (static is not None and not static.signature):
            parts.append(self.src(x.dims[0], [self.lookup.graph.nodes[s.input].shape[0] for s in scopes]))
        if not self.module.is_specialised(refs[0]):
            decl_names = [d.name for d in refs[0].defn.params]
            for k, arg in enumerate(call.call.args):
                concrete = [s.args.get(decl_names[k]) for s in scopes] if k < len(decl_names) else None
                parts.append(self.src(arg, concrete))
            for kw in call.call.kwargs:
                parts.append(f"{kw.name}={self.src(kw.value, [s.args.get(kw.name) for s in scopes])}")
        cands: list[list[Sym]] = [[] for _ in range(len(self.lookup.shape(scopes[0]) or ()))]
        if cands:
            if concrete_class and static is not None and static.out_channels is not None \
                    and not has_raw(static.out_channels):
                mapping = {n: a for n, a in zip(static.params, call.call.args)}
                mapping.update({kw.name: kw.value for kw in call.call.kwargs})
                if "input.channels" not in mapping and x.dims:
                    mapping["input.channels"] = x.dims[0] if x.dims[0] is not None else Name(0, 0, "@none")
                cands[0].append(substitute(static.out_channels, mapping))
            cands[0] += [x.dims[0] if x.dims else None, Raw(0, 0, f"{runtime}.out_channels")]
        return f"{cls}({', '.join(parts)})", Val(None, self.dims_of(scopes, cands), [self.lookup.output(s)
                                                                                      for s in scopes])

    # --- module bodies (attributes and a forward) ----------------------------------------------

    def _module_body(self, x: Val, kind: str) -> Val:
        self._protect_refs()
        self._input_val = x
        if "input" in self.referenced:
            self.protected.add("x")
        if kind == "parallel":
            out = self._parallel(self.body, x)
        elif kind == "residual":
            out = self._residual(self.body.residual, x)
        else:
            body = self.body.layers if isinstance(self.body, m.BodyFields) else None
            items = self.body if body is None else ((body,) if isinstance(body, m.Call) else body.items)
            out = self._entries(tuple(items), x)
        heads = self.module.heads_for(self)
        if heads:
            self.fwd.add("if self.training:")
            self.fwd.add(f"    return {', '.join([out.var or 'x', *heads])}")
        self.fwd.add(f"return {out.var}")
        return out

    def _protect_refs(self) -> None:
        """Named points that a later `from:` reads keep their own variable."""
        stack: list[Any] = list(self.body if isinstance(self.body, tuple) else ())
        if isinstance(self.body, m.BodyFields):
            stack += _body_items(self.body)
        while stack:
            item = stack.pop()
            if isinstance(item, m.Container):
                self.referenced.update(r.name for r in item.from_)
                stack += _body_items(item)
            elif isinstance(item, m.Named) and isinstance(item.value, m.Container):
                stack.append(item.value)
            elif isinstance(item, m.Named) and isinstance(item.value, m.Seq):
                stack += list(item.value.items)

    def _entries(self, items: tuple[m.Entry, ...], x: Val) -> Val:
        for item in items:
            x = self._entry(item, x)
        return x

    def _entry(self, item: m.Entry, x: Val) -> Val:
        if isinstance(item, m.Call):
            target = self._target_kind(item)
            if target == "inline":
                return self._inline(item, x)
            name = self._attr_name(item)
            return self._attribute(name, item, x)
        if isinstance(item, m.Named):
            value = item.value
            if item.name in self.referenced:
                self.want = item.name
            if isinstance(value, m.Call):
                out = self._attribute(item.name, value, x)
            elif isinstance(value, m.Seq):
                out = self._seq_attribute(item.name, value, x)
            else:
                out = self._container(item.name, value, x)
            if out is not None:
                self.points[item.name] = out
                if isinstance(value, m.Container) and value.training_only:
                    return x
                return out
            return x
        return self._unnamed_container(item, x)

    def inline_refs(self, call: m.Call) -> list[BlockRef] | None:
        """The inline block each case calls, or None if the call is not an inline block.
        (Inline blocks leave no scope of their own in the graph: resolve them by name.)"""
        refs = [case.env.get(call.call.callee) for case in self.cases]
        if refs and all(isinstance(r, BlockRef) and r.defn.inline for r in refs):
            return refs  # type: ignore[return-value]
        return None

    def _target_kind(self, call: m.Call) -> str:
        return "inline" if self.inline_refs(call) is not None else "module"

    def _present(self, origin: Any) -> bool:
        return all(self.lookup.find(origin, c.owner, c.site) is not None for c in self.cases)

    def _attr_name(self, call: m.Call) -> str:
        items = self.items(call)
        names = {(i.scope if isinstance(i, Node) else i.path)[-1] for i in items}
        if len(names) != 1:
            raise Unsupported("an unnamed layer is named differently in different instances")
        return names.pop()

    def _next_var(self, x: Val, wanted: str = "out") -> str:
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

    def _attribute(self, name: str, call: m.Call, x: Val) -> Val:
        source, out = self.call_source(call, x, f"self.{name}")
        previous = self.attrs.get(name)
        if previous is None:
            self.attrs[name] = source
            self.init.add(f"self.{name} = {source}")
        elif previous != source:
            raise Unsupported(f"shared module {name} differs between uses")
        var = self._next_var(x)
        self.fwd.add(f"{var} = self.{name}({x.var})")
        out.var = var
        return out

    def _seq_attribute(self, name: str, seq: m.Seq, x: Val) -> Val:
        scopes = self.items(seq)
        if any(s.mode != "sequential" for s in scopes):  # type: ignore[union-attr]
            raise Unsupported("a list that reads named points")
        source, out = self._sequential_source(seq.items, x, scopes, name)  # type: ignore[arg-type]
        self.init.lines.extend(source[:-1])
        self.init.add(f"self.{name} = {source[-1]}")
        self.attrs[name] = source[-1]
        var = self._next_var(x)
        self.fwd.add(f"{var} = self.{name}({x.var})")
        out.var = var
        return out

    def _container(self, name: str, c: m.Container, x: Val) -> Val | None:
        if c.when is not None:
            raise Unsupported("conditional containers")
        x_in = self._from(c, x)
        kind = c.kind
        if kind == "ref":
            return x_in
        if kind == "layers":
            if isinstance(c.layers, m.Call):
                out = self._attribute(name, c.layers, x_in)
            else:
                assert c.layers is not None
                out = self._seq_attribute(name, c.layers, x_in)
        elif kind in ("parallel", "residual"):
            scopes = self.items(c)
            source, out = self.module.anonymous(c, scopes, name, x_in, self)  # type: ignore[arg-type]
            self.init.add(f"self.{name} = {source}")
            var = self._next_var(x_in)
            self.fwd.add(f"{var} = self.{name}({x_in.var})")
            out.var = var
        else:  # a named repeat: an nn.Sequential built with a loop
            scopes = self.items(c)
            lines, out = self._sequential_source((), x_in, scopes, name, repeat=c)  # type: ignore[arg-type]
            self.init.lines.extend(lines[:-1])
            self.init.add(f"self.{name} = {lines[-1]}")
            var = self._next_var(x_in)
            self.fwd.add(f"{var} = self.{name}({x_in.var})")
            out.var = var
        if c.training_only:
            head = self.fwd.lines.pop().strip()
            var, _, call = head.partition(" = ")
            self.fwd_ns.claim(name)
            self.fwd.add(f"{name} = {call} if self.training else None")
            out.var = name
        return out

    def _from(self, c: m.Container, x: Val) -> Val:
        if not c.from_:
            return x
        vals = []
        for ref in c.from_:
            if ref.name == "input":
                vals.append(self._input_val)
            elif ref.name in self.points:
                vals.append(self.points[ref.name])
            else:
                raise Unsupported(f"reference {ref.name}")
        if len(vals) == 1:
            return vals[0]
        merge = c.merge or "concat"
        var = self.fwd_ns.claim("merged")
        if merge == "concat":
            self.fwd.add(f"{var} = torch.cat([{', '.join(v.var or 'x' for v in vals)}], {c.dim})")
            d = c.dim - 1
            dims = tuple(total(v.dims[d] for v in vals) if k == d else vals[0].dims[k]
                         for k in range(len(vals[0].dims)))
        else:
            self.fwd.add(f"{var} = {' + '.join(v.var or 'x' for v in vals)}")
            dims = vals[0].dims
        return Val(var, dims, vals[0].ids)

    def _unnamed_container(self, c: m.Container, x: Val) -> Val:
        if c.when is not None:
            raise Unsupported("conditional containers")
        kind = c.kind
        if kind == "layers" and not c.from_ and not c.training_only:
            assert c.layers is not None
            return self._entries((c.layers,) if isinstance(c.layers, m.Call) else c.layers.items, x)
        raise Unsupported(f"unnamed {kind} container in a module body")

    def _inline(self, call: m.Call, x: Val) -> Val:
        refs = self.inline_refs(call)
        assert refs is not None
        defn = refs[0].defn
        if any(r.defn is not defn for r in refs):
            raise Unsupported("an inline block differs between instances")
        saved = (self.subst, self.cases)
        mapping = dict(self.subst)
        names = [d.name for d in defn.params]
        for k, arg in enumerate(call.call.args):
            mapping[names[k]] = substitute(arg, self.subst) if self.subst else arg
        for kw in call.call.kwargs:
            mapping[kw.name] = substitute(kw.value, self.subst) if self.subst else kw.value
        for d in defn.params:
            if d.name not in mapping and d.default is not None:
                mapping[d.name] = substitute(d.default.expr, mapping)
        self.subst = mapping
        self.cases = [Case(c.owner, c.env, c.site + (("call", id(call)),)) for c in self.cases]
        try:
            if defn.kind != "layers":
                raise Unsupported("inline repeat in a module body")
            body = defn.layers
            return self._entries((body,) if isinstance(body, m.Call) else body.items, x)  # type: ignore[union-attr]
        finally:
            self.subst, self.cases = saved

    def _parallel(self, b: m.BodyFields, x: Val) -> Val:
        assert b.parallel is not None
        self.protected.add(x.var or "x")
        outs = []
        for branch in b.parallel:
            value = branch.value
            if isinstance(value, m.Call):
                source, out = self.call_source(value, x, f"self.{branch.name}")
            elif isinstance(value, m.Seq):
                scopes = self.items(value)
                lines, out = self._sequential_source(value.items, x, scopes, branch.name)  # type: ignore[arg-type]
                self.init.lines.extend(lines[:-1])
                source = lines[-1]
            else:
                raise Unsupported("containers as branches")
            self.init.add(f"self.{branch.name} = {source}")
            var = self.fwd_ns.claim(branch.name)
            self.fwd.add(f"{var} = self.{branch.name}({x.var})")
            out.var = var
            outs.append(out)
        merges = [self.lookup.graph.nodes.get(f"{'.'.join(c.owner)}:{b.merge or 'concat'}") for c in self.cases]
        if len(outs) == 1:
            return outs[0]
        var = self.fwd_ns.claim("out")
        if (b.merge or "concat") == "concat":
            self.fwd.add(f"{var} = torch.cat([{', '.join(o.var or '' for o in outs)}], {b.dim})")
            d = b.dim - 1
            cands = [[total(o.dims[k] for o in outs)] if k == d else [outs[0].dims[k]]
                     for k in range(len(outs[0].dims))]
        else:
            self.fwd.add(f"{var} = {' + '.join(o.var or '' for o in outs)}")
            cands = [[outs[0].dims[k]] for k in range(len(outs[0].dims))]
        if any(n is None for n in merges):
            raise Unsupported("merge not found")
        return Val(var, self.dims_of(merges, cands), [n.id for n in merges])  # type: ignore[arg-type, union-attr]

    def _residual(self, res: m.Residual, x: Val) -> Val:
        self.protected.add(x.var or "x")
        self._input_val = x
        body = self._entries(res.body, x)
        adds = [self.lookup.graph.nodes.get(f"{'.'.join(c.owner)}:add") for c in self.cases]
        if any(a is None for a in adds):
            raise Unsupported("residual add not found")
        used = [a.inputs[1] != x_id for a, x_id in zip(adds, x.ids)]  # type: ignore[union-attr]
        shortcut_var = x.var
        if any(used):
            sc = res.shortcut
            name = sc.name if isinstance(sc, m.Named) else "shortcut"
            keep = self.cases
            self.cases = [c for c, u in zip(keep, used) if u]
            try:
                if isinstance(sc, m.Named) and isinstance(sc.value, m.Seq):
                    scopes = self.items(sc.value)
                    lines, _ = self._sequential_source(sc.value.items, x, scopes, name)  # type: ignore[arg-type]
                    source = lines[-1]
                    prelude = lines[:-1]
                elif isinstance(sc, m.Named) and isinstance(sc.value, m.Call):
                    source, _ = self.call_source(sc.value, x, f"self.{name}")
                    prelude = []
                elif isinstance(sc, m.Call):
                    source, _ = self.call_source(sc, x, f"self.{name}")
                    prelude = []
                else:
                    raise Unsupported("shortcut form")
            finally:
                self.cases = keep
            if all(used):
                self.init.lines.extend(prelude)
                self.init.add(f"self.{name} = {source}")
                shortcut_var = self.fwd_ns.claim("identity")
                self.fwd.add(f"{shortcut_var} = self.{name}({x.var})")
            else:
                condition = self._shortcut_condition(res, x, body, used)
                self.init.add(f"self.{name} = None")
                self.init.add(f"if {condition}:")
                for line in prelude:
                    self.init.add(f"    {line}")
                self.init.add(f"    self.{name} = {source}")
                shortcut_var = self.fwd_ns.claim("identity")
                self.fwd.add(f"{shortcut_var} = {x.var} if self.{name} is None else self.{name}({x.var})")
        if body.var in self.protected or not self.module.add_inplace_ok(body.ids, adds):
            var = self._next_var(body)
            self.fwd.add(f"{var} = {body.var} + {shortcut_var}")
        else:
            var = body.var
            self.fwd.add(f"{var} += {shortcut_var}")
        self._last_norm(res)
        out = Val(var, self.dims_of(adds, [[d] for d in body.dims]), [a.id for a in adds])  # type: ignore[misc]
        return self._entries(res.then, out)

    def _shortcut_condition(self, res: m.Residual, x: Val, body: Val, used: list[bool]) -> str:
        if res.when is not None:
            return self.src(res.when.expr, used)
        channels_change = binop("-", x.dims[0], body.dims[0]) if x.dims and body.dims else None
        options: list[Expr] = []
        if channels_change is not None:
            from ..spec.expr import BoolOp, Compare

            ch = Compare(0, 0, x.dims[0], ("!=",), (body.dims[0],))  # type: ignore[arg-type]
            ints = [d.name for d in self.decls if all(isinstance(c.env.get(d.name), int)
                                                      and not isinstance(c.env.get(d.name), bool) for c in self.cases)]
            for p in ints:
                options.append(BoolOp(0, 0, "or", (Compare(0, 0, Name(0, 0, p), ("!=",), (const(1),)), ch)))
            options.append(ch)
        cases = [(c.env, u) for c, u in zip(self.cases, used)]
        found = first_verified(options, cases, self.renderable)
        if found is None:
            raise Unsupported("cannot tell when the shortcut is a projection")
        return render(found, self.names)  # type: ignore[return-value]

    def _last_norm(self, res: m.Residual) -> None:
        for item in reversed(res.body):
            if isinstance(item, m.Named) and isinstance(item.value, m.Call):
                nodes = self.items(item.value)
                if isinstance(nodes[0], Node) and nodes[0].op is not None and nodes[0].op.family == "norm":
                    self.last_norms.append(item.name)
                return

    # --- sequential classes and lists ------------------------------------------------------

    def _sequential_class(self, x: Val) -> Val:
        body = self.body
        if isinstance(body, m.BodyFields) and body.kind == "repeat":
            lines, out = self._sequential_source((), x, self.instances, None, repeat=body)
        else:
            items = body if not isinstance(body, m.BodyFields) else (
                (body.layers,) if isinstance(body.layers, m.Call) else body.layers.items)  # type: ignore[union-attr]
            lines, out = self._sequential_source(tuple(items), x, self.instances, None)
        self.init.lines.extend("    " * self.init.depth + line for line in lines[:-1])
        call = lines[-1]
        inner = call[len("nn.Sequential("):-1]
        self.init.add(f"super().__init__({inner})")
        return out

    def _sequential_source(self, items: tuple[m.Entry, ...], x: Val, scopes: list[Scope], name: str | None,
                           repeat: m.BodyFields | None = None) -> tuple[list[str], Val]:
        """Lines building an nn.Sequential; the last line is the constructor expression."""
        builder = _SeqBuilder(self, name)
        saved = self.cases
        try:
            if repeat is not None:
                out = builder.repeat(repeat, x)
            else:
                out = builder.entries(items, x)
        finally:
            self.cases = saved
        return builder.finish(), out

    def _out_channels(self, out: Val) -> Sym:
        if not out.dims or out.dims[0] is None or self.concrete:
            return None
        text = render(out.dims[0], self.names)
        if text is None:
            return None
        self.init.add(f"self.out_channels = {text}")
        return out.dims[0]


class _SeqBuilder:
    """Entries of an nn.Sequential: positional constructor expressions, or statements when
    loops or conditions are involved (appending to a local list)."""

    def __init__(self, owner: ClassEmitter, name: str | None):
        self.c = owner
        self.exprs: list[str] = []
        self.lines: list[str] = []
        self.var: str | None = None
        self.name = name

    def _list_name(self) -> str:
        return self.c.ns.claim(f"{self.name}_layers" if self.name else "layers")

    def _list(self) -> str:
        if self.var is None:
            self.var = self._list_name()
            self.lines.append(f"{self.var} = [{', '.join(self.exprs)}]" if self.exprs else f"{self.var} = []")
            self.exprs = []
        return self.var

    def add(self, source: str, indent: str = "") -> None:
        if self.var is None and not indent:
            self.exprs.append(source)
        else:
            self.lines.append(f"{indent}{self._list()}.append({source})")

    def entries(self, items: tuple[m.Entry, ...], x: Val, indent: str = "") -> Val:
        for item in items:
            x = self.entry(item, x, indent)
        return x

    def entry(self, item: m.Entry, x: Val, indent: str) -> Val:
        c = self.c
        if isinstance(item, m.Call):
            if c._target_kind(item) == "inline":
                return self.inline(item, x, indent)
            source, out = c.call_source(item, x, f"{self._runtime_ref(indent)}")
            self.add(source, indent)
            return out
        if isinstance(item, m.Named):
            raise Unsupported("named entries in an nn.Sequential")
        if item.when is not None:
            return self.when(item, x, indent)
        if item.kind == "repeat":
            return self.repeat(item, x, indent)
        if item.kind == "layers" and not item.from_ and not item.training_only:
            assert item.layers is not None
            return self.entries((item.layers,) if isinstance(item.layers, m.Call) else item.layers.items, x, indent)
        raise Unsupported(f"{item.kind} inside an nn.Sequential")

    def _runtime_ref(self, indent: str) -> str:
        # The module just built, as later entries may read it (``layers[-1].out_channels``). Inside
        # a plain nn.Sequential(...) expression there is no list to read yet: a placeholder marks
        # it, and finish() switches to building a list when one is used.
        return f"{self._list()}[-1]" if (self.var is not None or indent) else f"{_PENDING}[-1]"

    def when(self, item: m.Container, x: Val, indent: str) -> Val:
        c = self.c
        assert item.when is not None
        present = [c.lookup.find(_first_origin(item), case.owner, case.site) is not None for case in c.cases]
        if all(present):
            return self.entries(_items(item), x, indent)
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
            inner = self.entries(_items(item), x, indent + "    ")
        finally:
            c.cases = keep
        if inner.dims != x.dims:
            raise Unsupported("a conditional entry changes the size")
        return x

    def repeat(self, b: m.BodyFields, x: Val, indent: str = "") -> Val:
        c = self.c
        assert b.repeat is not None and b.each is not None
        # inside an inline block the count may name the block's parameters: read them through
        # the call's arguments (c.subst), as src() does
        count_expr = substitute(b.repeat.expr, c.subst) if c.subst else b.repeat.expr
        counts = [value_of(count_expr, case.env) for case in c.cases]
        if any(not isinstance(n, int) for n in counts):
            raise Unsupported("repeat count")
        if c.concrete or (len(set(counts)) == 1 and counts[0] <= 1):
            return self._unrolled(b, x, counts, indent)
        items = (b.each,) if isinstance(b.each, m.Call) else b.each.items
        index = c.ns.claim(b.index)
        count = c.src(b.repeat.expr, counts)
        # the channels flowing into each iteration live in a variable
        ch_name = c.names.get("input.channels") if x.dims and x.dims[0] is not None and \
            render(x.dims[0], c.names) == c.names.get("input.channels") else None
        if ch_name is None:
            ch_name = c.ns.claim("channels")
            self._list()
            self.lines.append(f"{indent}{ch_name} = {c.src(x.dims[0] if x.dims else None)}")
        self._list()
        self.lines.append(f"{indent}for {index} in range({count}):")
        keep_cases, keep_names = c.cases, dict(c.names)
        loop_cases = []
        inputs = []
        for case, n in zip(keep_cases, counts):
            for i in range(n):
                site = case.site + (("iter", id(b), i),)
                loop_cases.append(Case(case.owner, {**case.env, b.index: i}, site))
                inputs.append((case, i))
        if not loop_cases:
            c.cases = keep_cases
            self.lines.pop()
            return x
        c.cases = loop_cases
        c.names[b.index] = index
        c.names["@channels"] = ch_name
        try:
            first_ids = [self._iteration_input(case) for case in loop_cases]
            channels = [c.lookup.graph.nodes[i].shape[0] for i in first_ids]  # type: ignore[index]
            for case, ch in zip(loop_cases, channels):
                case.env["@channels"] = ch
            x_loop = Val(None, (Name(0, 0, "@channels"), *((None,) * (len(x.dims) - 1))), first_ids)
            out = self.entries(items, x_loop, indent + "    ")
            if out.dims and out.dims[0] is not None:
                update = render(out.dims[0], c.names)
            else:
                update = None
            if update is None:
                raise Unsupported("channels after an iteration")
            if update != ch_name:
                self.lines.append(f"{indent}    {ch_name} = {update}")
        finally:
            c.cases, c.names = keep_cases, keep_names
        # after the loop the channel variable holds the last iteration's output channels
        out_ids = [self._last_output(case, n, b) for case, n in zip(keep_cases, counts)]
        return Val(None, (Raw(0, 0, ch_name),) + tuple(None for _ in range(len(x.dims) - 1)), out_ids)

    def _iteration_input(self, case: Case) -> str:
        items = [i for key, i in self.c.lookup.items.items() if key[1] == case.owner and key[2][:len(case.site)]
                 == case.site]
        first = min(items, key=lambda i: i.seq)
        return first.inputs[0] if isinstance(first, Node) else first.input

    def _last_output(self, case: Case, count: int, b: m.BodyFields) -> str:
        if count == 0:
            return ""
        site = case.site + (("iter", id(b), count - 1),)
        items = [i for key, i in self.c.lookup.items.items() if key[1] == case.owner and key[2][:len(site)] == site]
        last = max(items, key=lambda i: i.seq)
        return self.c.lookup.output(last)

    def _unrolled(self, b: m.BodyFields, x: Val, counts: list[int], indent: str) -> Val:
        c = self.c
        if len(set(counts)) != 1:
            raise Unsupported("repeat counts differ")
        items = (b.each,) if isinstance(b.each, m.Call) else b.each.items  # type: ignore[union-attr]
        keep = c.cases
        try:
            for i in range(counts[0]):
                c.cases = [Case(case.owner, {**case.env, b.index: i}, case.site + (("iter", id(b), i),))
                           for case in keep]
                keep_names = dict(c.names)
                c.subst = {**c.subst, b.index: const(i)}
                try:
                    x = self.entries(items, x, indent)
                finally:
                    c.names = keep_names
                    c.subst = {k: v for k, v in c.subst.items() if k != b.index}
        finally:
            c.cases = keep
        return x

    def inline(self, call: m.Call, x: Val, indent: str) -> Val:
        c = self.c
        refs = c.inline_refs(call)
        assert refs is not None
        defn = refs[0].defn
        if any(r.defn is not defn for r in refs):
            raise Unsupported("an inline block differs between instances")
        saved = (c.subst, c.cases)
        mapping = dict(c.subst)
        names = [d.name for d in defn.params]
        for k, arg in enumerate(call.call.args):
            mapping[names[k]] = substitute(arg, c.subst) if c.subst else arg
        for kw in call.call.kwargs:
            mapping[kw.name] = substitute(kw.value, c.subst) if c.subst else kw.value
        for d in defn.params:
            if d.name not in mapping and d.default is not None:
                mapping[d.name] = substitute(d.default.expr, mapping)
        c.subst = mapping
        c.cases = [Case(case.owner, case.env, case.site + (("call", id(call)),)) for case in c.cases]
        try:
            if defn.kind == "repeat":
                return self.repeat(defn, x, indent)
            body = defn.layers
            return self.entries((body,) if isinstance(body, m.Call) else body.items, x, indent)  # type: ignore
        finally:
            c.subst, c.cases = saved

    def finish(self) -> list[str]:
        if self.var is None and not any(_PENDING in e for e in self.exprs):
            return [f"nn.Sequential({', '.join(self.exprs)})"]
        if self.var is None:
            var = self._list_name()
            lines = [f"{var} = []", *(f"{var}.append({e.replace(_PENDING, var)})" for e in self.exprs)]
            return [*lines, f"nn.Sequential(*{var})"]
        return [*self.lines, f"nn.Sequential(*{self.var})"]


def _body_items(b: m.BodyFields) -> list[Any]:
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


def _items(c: m.Container) -> tuple[m.Entry, ...]:
    body = c.layers
    if body is None:
        raise Unsupported("conditional container without layers")
    return (body,) if isinstance(body, m.Call) else body.items


def _first_origin(c: m.Container) -> Any:
    first = _items(c)[0]
    if isinstance(first, m.Call):
        return first
    raise Unsupported("conditional entry form")


class _DimRef:
    def __init__(self, i: int, d: int):
        self.i, self.d = i, d


class _AttrRef:
    def __init__(self, name: str):
        self.name = name


class _AttrRefs(dict):  # type: ignore[type-arg]
    """Stands in for an op's attributes: every attribute reads as a reference to itself."""

    def __init__(self, op: Op):
        super().__init__({f: _AttrRef(f) for f in op.Attrs.model_fields})

    def __getattr__(self, name: str) -> _AttrRef:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


_MISSING = object()
_PENDING = "__archc_pending__"


def _marker_value(value: Any, node: Node) -> Any:
    if isinstance(value, _DimRef):
        return node.in_shapes[value.i][value.d]  # type: ignore[index]
    if isinstance(value, _AttrRef):
        return getattr(node.attrs, value.name)
    return value


def _same(a: Any, b: Any) -> bool:
    return (type(a) is type(b) and a == b) or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                             and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def _names(expr: Expr) -> set[str]:
    from .symbolic import free_names

    return free_names(expr)


def _annotation(declared: str | None, values: list[Any]) -> str:
    kind = declared
    if kind is None:
        sample = next((v for v in values if v is not None and v is not UNKNOWN), None)
        kind = {bool: "bool", int: "int", float: "float", str: "str", tuple: "list"}.get(type(sample), "block"
                                                                                          if isinstance(sample,
                                                                                                        BlockRef)
                                                                                          else "int")
    return {"int": "int", "float": "float", "bool": "bool", "str": "str", "list": "tuple[int, ...]",
            "block": "type[nn.Module]"}[kind]


def _literal_source(value: Any, emitter: ClassEmitter) -> str:
    if isinstance(value, BlockRef):
        return emitter.module.class_name(value, None)
    if isinstance(value, tuple):
        inner = ", ".join(_literal_source(v, emitter) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, (bool, int, float, str)) or value is None:
        return repr(value)
    raise Unsupported(f"cannot write {type(value).__name__} values")

