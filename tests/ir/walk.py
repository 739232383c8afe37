"""The walk: lowering as archc did it before the module IR, kept as a reference for the tests.

Until issue 13, lowering walked the spec itself (blocks instantiated, repeats unrolled,
expressions evaluated, each node's output shape inferred as the node was created) and the
module IR was derived from the spec a second time for emission. Lowering now makes the
graph as the module IR's instantiation alone (archc/ir/lower.py, archc/ir/instantiate.py);
this walk is the independent second reading that tests compare it with: the same graph
(nodes, shapes, names) and the same reports, word for word, for every spec the suite, the
corpus, the fuzzer and the generators hold (tests/ir/test_reported.py and others). Its size
estimate is tests/ir/expansion.py. Nothing in archc imports it.
"""

from __future__ import annotations

import dataclasses
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archc.diagnostics import Note, Reporter, Span
from archc.ir.define import Definer, Unsymbolic
from archc.ir.derive import Derived, NotDerivable, differences
from archc.ir.estimate import TooBig
from archc.ir.graph import Graph, Head, Node, Path, Scope, Shape, path_str
from archc.ir.instantiate import Instantiator, Unsplicable
from archc.ir.lower import Lowerer
from archc.ir.module import strip_reads
from archc.ir.naming import Namer, body_namer, flat_branches, list_namer
from archc.ir.params import block_args, network_params, value_type, with_names
from archc.ir.report import (
    NO_SHORTCUT,
    RESIDUAL_WHEN_HINT,
    SHORTCUT_OFF,
    WHEN_HINT,
    arg_spans,
    bind_error,
    budget_error,
    count_error,
    flat_in_sequential,
    foreseen_limit,
    from_with_parallel,
    head_misplaced,
    head_unnamed,
    held_in_list,
    inline_body,
    joins_inputs,
    layer_shape_error,
    merge_shape_error,
    name_made,
    name_taken,
    needs_name,
    nesting_error,
    node_limit,
    node_taken,
    not_a_condition,
    not_a_layer,
    shape_note,
    size_error,
    stack_exhausted,
    step_limit,
    unknown_callee,
    unknown_reference,
    unnamed_container,
    uses_itself,
)
from archc.ops import BindError, Op, ShapeError, UnknownOp, bind
from archc.spec import model as m
from archc.spec.expr import UNKNOWN, ExprError, ShapeView, evaluate
from archc.spec.loader import BlockRef, Program, Unit

from .expansion import Estimator


class _Abort(Exception):
    """A budget was exceeded: stop lowering (the diagnostic has been reported)."""


@dataclass
class Frame:
    """The lexical context of one list of entries."""

    env: Mapping[str, Any]  # ChainMaps: a frame's own names before its parent's, shared, not copied
    unit: Unit
    input_id: str
    names: dict[str, str] = field(default_factory=dict)  # named point -> node id of its output
    pending: set[str] = field(default_factory=set)  # names defined later in the same list
    parent: Frame | None = None  # enclosing list in the same block (None at a block boundary)
    trace: tuple[Note, ...] = ()
    blocks: tuple[int, ...] = ()  # ids of the block definitions being expanded (recursion check)
    training_only: bool = False

    def child(self, env: Mapping[str, Any] | None = None, *, training_only: bool = False,
              note: Note | None = None) -> Frame:
        return Frame(env if env is not None else self.env, self.unit, self.input_id, parent=self,
                     trace=(*self.trace, note) if note else self.trace, blocks=self.blocks,
                     training_only=self.training_only or training_only)

    def chain(self) -> list[Frame]:
        out: list[Frame] = []
        frame: Frame | None = self
        while frame is not None:
            out.append(frame)
            frame = frame.parent
        return out

    def lookup(self, name: str) -> str | None:
        for frame in self.chain():
            if name in frame.names:
                return frame.names[name]
        return None


class Walker(Lowerer):
    """Lowers a spec by walking it (the reference; see the module's docstring)."""

    def __init__(self, program: Program, reporter: Reporter, **kwargs: Any):
        super().__init__(program, reporter, **kwargs)
        self.steps = 0  # entries visited and repeats made (see Limits.max_steps)
        self.uses: dict[str, int] = {}  # shared module id -> next free use number (relu#1, relu#2, ...)
        self.depth = 0  # lists and bodies being expanded, one inside the other (Limits.max_nesting)
        self.at: tuple[Span, tuple[Note, ...]] | None = None  # the entry being expanded, for E604
        self.estimator = Estimator(self.limits)
        self.total_params = 0
        self.total_macs = 0

    def run(self) -> Graph:  # the walk's lowering: no module IR is made (emission derives it, derive.py)
        unit = self.program.unit
        spec = unit.spec
        env: dict[str, Any] = dict(unit.blocks)
        params = network_params(self.r, self.program, env, self.overrides, self.eval)
        shape = self._input_shape()
        g = self.graph = Graph(self.program.name, shape or (), params=params, doc=self.program.doc,
                               class_name=self._class_name(), file=self.program.leaf.file)
        if shape is None or spec.layers is None:
            self.r.check()
            return g
        g.add(Node("input", None, None, (), (), spec.span, shape=shape, module=False))
        frame = Frame(ChainMap({**params, "input": ShapeView(shape)}, unit.blocks), unit, "input")
        namer = list_namer(spec.layers)
        top = g.add_scope(Scope((), "network", self.program.name, spec.span, "input", mode=namer.mode,
                                env=frame.env))
        try:
            # before any node exists: a lower bound of the whole expansion against the limits
            self.estimate(lambda base: self.estimator.network(spec.layers, frame.env, base, 0), ())
            out = self.entries(spec.layers, "input", (), frame, namer)
        except RecursionError:
            # only with a raised max_nesting: Python's stack ran out before the limit was reached
            span, trace = self.at or (spec.span, ())
            stack_exhausted(self.r, self.limits.max_nesting, span, trace)
            self.r.check()
            raise
        except _Abort:
            self.r.check()
            raise
        g.output = top.output = out
        program = self.program
        g.deriver = lambda: derive(program, g)  # emission's input: the module IR, checked against g (below)
        return self._finish(g)

    def estimate(self, run: Any, trace: tuple[Note, ...]) -> None:
        """Run an expansion estimate (see :mod:`archc.ir.expansion`) from what exists now;
        report and abort if it shows that a limit will be exceeded."""
        try:
            run((len(self.graph.nodes), self.steps))
        except TooBig as big:
            foreseen_limit(self.r, self.limits, big.what, big.span, big.detail, (*trace, *big.trace))
            raise _Abort() from None

    def step(self, span: Span, frame: Frame) -> None:
        if self.r.full:  # hundreds of errors already: more would be dropped, and finding them costs
            raise _Abort()
        self.steps += 1
        if self.steps > self.limits.max_steps:
            step_limit(self.r, self.limits.max_steps, span, frame.trace)
            raise _Abort()

    def nest(self, span: Span, frame: Frame) -> None:
        """Enter one more level of nesting (undo with ``self.depth -= 1``)."""
        self.depth += 1
        self.at = (span, frame.trace)
        if self.depth > self.limits.max_nesting:
            nesting_error(self.r, self.limits.max_nesting, span, frame.trace)
            raise _Abort()

    def shape(self, nid: str) -> Shape | None:
        node = self.graph.nodes.get(nid)
        return node.shape if node is not None else None

    def add(self, node: Node, frame: Frame, *, shared: bool = False) -> str:
        # (a module's path taken by a scope, an inline block's list of that name: taken too)
        first: Node | Scope | None = self.graph.nodes.get(node.id) or (self.graph.scopes.get(node.scope)
                                                                      if node.module else None)
        if first is not None:
            if shared and isinstance(first, Node) and first.op is node.op and first.attrs == node.attrs:
                # the next free use number, remembered: counting from 1 each time was quadratic
                # (40,000 uses of a shared relu took minutes)
                k = self.uses.get(node.id, 1)
                while f"{node.id}#{k}" in self.graph.nodes:
                    k += 1
                self.uses[node.id] = k + 1
                node.id = f"{node.id}#{k}"
            else:
                node_taken(self.r, node.id, node.span, first.span)
                node.id = f"{node.id}#{self.graph.next_seq()}"
                node.module = False
        if len(self.graph.nodes) >= self.limits.max_nodes:
            node_limit(self.r, self.limits.max_nodes, node.span, frame.trace)
            raise _Abort()
        self._size_limits(node, frame)
        self.graph.add(node)
        return node.id

    def _size_limits(self, node: Node, frame: Frame) -> None:
        """E601 if the node's output is too large a tensor (its shape becomes unknown)."""
        if size_error(self.r, node, self.limits, frame.trace):
            node.shape = None

    def placeholder(self, path: Path, x: str, span: Span, frame: Frame, suffix: str = "") -> str:
        """A stand-in after an error, so that later layers do not report follow-on errors."""
        node = Node(path_str(path) + suffix + f"?{self.graph.next_seq()}", None, None, path, (x,), span,
                    module=False)
        return self.add(node, frame)

    def claim(self, path: Path, span: Span) -> bool:
        key = path_str(path)
        first = self.graph.scopes.get(path) or self.graph.nodes.get(key)
        if first is not None:
            name_taken(self.r, key, None, span, first.span, ())
            return False
        return True

    # --- lists and entries -------------------------------------------------------------

    def entries(self, items: tuple[m.Entry, ...], x: str, path: Path, frame: Frame, namer: Namer) -> str:
        frame.pending.update(i.name for i in items if isinstance(i, m.Named))
        for item in items:
            x = self.entry(item, x, path, frame, namer)
        return x

    def entry(self, item: m.Entry, x: str, path: Path, frame: Frame, namer: Namer) -> str:
        self.step(item.span, frame)
        self.at = (item.span, frame.trace)
        if isinstance(item, m.Call):
            return self.call_in_list(item, x, path, frame, namer)
        if isinstance(item, m.Named):
            frame.pending.discard(item.name)
            namer.take()
            name = item.name if item.template is None else self.generated_name(item, frame)
            if name is None:
                return x
            child = path + (name,)
            if item.template is not None and (path_str(child) in self.graph.nodes or child in self.graph.scopes):
                first = self.graph.scopes.get(child) or self.graph.nodes[path_str(child)]
                name_taken(self.r, path_str(child), item.name, item.name_span, first.span, frame.trace)
                return x
            if not self.claim(child, item.name_span):
                return x
            if namer.mode == "sequential" and isinstance(item.value, m.Call):
                self._parameter_in_list(item.value, frame)
            out = self.value(item.value, x, child, frame)
            if out is None:  # `when` was false: the entry is absent and passes its input on,
                frame.names[name] = x  # which is what a `from:` naming it reads (RegNet's `proj`)
                return x
            frame.names[name] = out
            if isinstance(item.value, m.Container) and item.value.training_only:
                self._head(child, out, item.span, frame)
                return x
            return out
        return self.container_in_list(item, x, path, frame, namer)

    def generated_name(self, item: m.Named, frame: Frame) -> str | None:
        """The name ``denselayer{i + 1}`` makes here: its expressions evaluated (whole numbers or
        text), the result checked as any name is; None after an error."""
        assert item.template is not None
        made = []
        for part in item.template:
            value = part if isinstance(part, str) else self.eval(part.expr, part.loc, frame.env, frame.trace)
            if value is UNKNOWN:
                return None
            made.append(value)
        return name_made(self.r, item.name, made, item.name_span, frame.trace)

    def value(self, v: m.Call | m.Seq | m.Container, x: str, path: Path, frame: Frame) -> str | None:
        """The value of a named entry or branch, at ``path``."""
        if isinstance(v, m.Call):
            return self.call_at(v, x, path, frame)
        if isinstance(v, m.Seq):
            return self.sequential(v.items, x, path, frame, v.span, v)
        return self.container_at(v, x, path, frame)

    def sequential(self, items: tuple[m.Entry, ...], x: str, path: Path, frame: Frame, span: Span,
                   origin: Any) -> str:
        self.nest(span, frame)
        try:
            return self._sequential(items, x, path, frame, span, origin)
        finally:
            self.depth -= 1

    def _sequential(self, items: tuple[m.Entry, ...], x: str, path: Path, frame: Frame, span: Span,
                    origin: Any) -> str:
        inner = frame.child()
        namer = list_namer(items, named_list=True)
        scope = self.graph.add_scope(Scope(path, "sequential", "Sequential", span, x, training_only=frame.training_only,
                                           trace=frame.trace, mode=namer.mode, env=frame.env))
        scope.output = self.entries(items, x, path, inner, namer)
        return scope.output

    def call_in_list(self, call: m.Call, x: str, path: Path, frame: Frame, namer: Namer) -> str:
        target = self.resolve(call, frame)
        if isinstance(target, BlockRef):
            if target.defn.inline:
                return self.instantiate(target, call, x, path, frame, namer)
            name, ok = namer.unnamed(target.name, None, True)
            if not ok:
                self._needs_name(call, frame, f"block {target.name}")
            return self.instantiate(target, call, x, path + (name,), frame, None)
        if target is None:
            return self.placeholder(path + (namer.take(),), x, call.span, frame)
        attrs = self.bind_attrs(target, call, frame)
        if namer.mode == "sequential":
            self._parameter_in_list(call, frame)
        name, ok = namer.unnamed(target.name, attrs, target.stateful)
        if not ok:
            self._needs_name(call, frame, target.name)
        return self.op_node(target, call, attrs, [x], path + (name,), frame, shared=namer.mode == "module")

    def _needs_name(self, call: m.Call, frame: Frame, what: str) -> None:
        self.r.add(dataclasses.replace(needs_name(what, call.span), notes=frame.trace))

    def _parameter_in_list(self, call: m.Call, frame: Frame) -> None:
        """An op emitted as a parameter of its module (layer_scale) cannot be an nn.Sequential's entry.
        (What the call names is looked up quietly: the call reports a name that is nothing itself;
        reported here too, a second call of a block in a repeat said "also" twice.)"""
        name = call.call.callee
        op = self.ops.get(name) if name in self.ops and not isinstance(frame.env.get(name), BlockRef) else None
        if op is not None and op.holds_parameter:
            self.r.add(dataclasses.replace(held_in_list(op.name, call.span), notes=frame.trace))

    def call_at(self, call: m.Call, x: str, path: Path, frame: Frame) -> str:
        target = self.resolve(call, frame)
        if isinstance(target, BlockRef):
            return self.instantiate(target, call, x, path, frame, None)
        if isinstance(target, Op):
            return self.op_node(target, call, self.bind_attrs(target, call, frame), [x], path, frame)
        return self.placeholder(path, x, call.span, frame)

    # --- containers ---------------------------------------------------------------------

    def _when(self, c: m.Container, frame: Frame) -> bool:
        if c.when is None:
            return True
        value = self.eval(c.when.expr, c.when.loc, frame.env, frame.trace)
        if value is UNKNOWN:
            return False
        if not isinstance(value, bool):
            self.r.add(dataclasses.replace(not_a_condition(value, c.when.loc.span, WHEN_HINT), notes=frame.trace))
            return False
        return value

    def _inputs(self, c: m.Container, x: str, path: Path, frame: Frame) -> str:
        """A container's input: the running value, or what ``from:`` names (merged)."""
        if not c.from_:
            return x
        ids = []
        for ref in c.from_:
            found = frame.input_id if ref.name == "input" else frame.lookup(ref.name)
            if found is None:
                later = any(ref.name in f.pending for f in frame.chain())
                visible = ["input"] + [n for f in frame.chain() for n in f.names]
                self.r.add(dataclasses.replace(unknown_reference(ref.name, later, visible, ref.span),
                                               notes=frame.trace))
                return self.placeholder(path, x, ref.span, frame, ":from")
            ids.append(found)
        for ref, i in zip(c.from_, ids):
            # `input` in a block is the block's argument, which its caller holds anyway
            if ref.name != "input":
                self.graph.nodes[i].read_by_name = True
        if len(ids) == 1:
            return ids[0]
        if c.parallel is not None:
            self.r.add(dataclasses.replace(from_with_parallel(c.span), notes=frame.trace))
        return self.merge(c.merge or "concat", ids, path, c.span, frame, c.dim, "from")

    def container_at(self, c: m.Container, x: str, path: Path, frame: Frame) -> str | None:
        self.nest(c.span, frame)
        try:
            return self._container_at(c, x, path, frame)
        finally:
            self.depth -= 1

    def _container_at(self, c: m.Container, x: str, path: Path, frame: Frame) -> str | None:
        if not self._when(c, frame):
            return None
        x_in = self._inputs(c, x, path, frame)
        sub = frame.child(training_only=c.training_only)
        kind = c.kind
        if kind == "ref":
            return x_in
        if kind == "layers":
            assert c.layers is not None
            if isinstance(c.layers, m.Call):
                return self.call_at(c.layers, x_in, path, sub)
            return self.sequential(c.layers.items, x_in, path, sub, c.span, c.layers)
        label = {"parallel": "parallel", "residual": "residual", "repeat": "Sequential"}[kind]
        namer = body_namer(c)
        scope = self.graph.add_scope(Scope(path, "sequential" if kind == "repeat" else kind, label, c.span, x_in,
                                           training_only=sub.training_only, trace=sub.trace,
                                           mode=namer.mode, env=sub.env, reads=len(c.from_)))
        scope.output = self.body(c, x_in, path, sub, namer)
        return scope.output

    def container_in_list(self, c: m.Container, x: str, path: Path, frame: Frame, namer: Namer) -> str:
        self.nest(c.span, frame)
        try:
            return self._container_in_list(c, x, path, frame, namer)
        finally:
            self.depth -= 1

    def _container_in_list(self, c: m.Container, x: str, path: Path, frame: Frame, namer: Namer) -> str:
        if not self._when(c, frame):
            self._claim_left_out((c,), frame.env, namer)
            return x
        kind = c.kind
        if kind == "parallel" and c.flat:  # branches whose modules are this list's own
            if namer.mode != "module":
                self.r.add(dataclasses.replace(flat_in_sequential(c.span), notes=frame.trace))
                return x
            x_in = self._inputs(c, x, path + (str(namer.position),), frame)
            out = self.flat_parallel(c, x_in, path, frame, namer)
        elif kind in ("parallel", "residual"):
            if namer.mode == "module":
                self.r.add(dataclasses.replace(unnamed_container(kind, c.span), notes=frame.trace))
            out = self._container_at(c, x, path + (namer.take(),), frame)  # one level, already counted
        elif kind == "ref":
            out = self._inputs(c, x, path + (namer.take(),), frame)
        else:  # layers / repeat without a name: splice into this list
            x_in = self._inputs(c, x, path + (str(namer.position),), frame)
            sub = frame.child(training_only=True) if c.training_only else frame
            if kind == "layers":
                assert c.layers is not None
                items = (c.layers,) if isinstance(c.layers, m.Call) else c.layers.items
                out = self.entries(items, x_in, path, sub, namer)
            else:
                out = self.repeat(c, x_in, path, sub, namer)
        if out is None:
            return x
        if c.training_only:
            self._head((*path, str(namer.position)), out, c.span, frame)
            return x
        return out

    def body(self, b: m.BodyFields, x: str, path: Path, frame: Frame, namer: Namer) -> str:
        """A block's or container's body, emitted into ``path`` with ``namer`` naming its entries."""
        kind = b.kind
        if kind == "layers":
            assert b.layers is not None
            items = (b.layers,) if isinstance(b.layers, m.Call) else b.layers.items
            return self.entries(items, x, path, frame, namer)
        if kind == "repeat":
            return self.repeat(b, x, path, frame, namer)
        if kind == "parallel":
            return self.flat_parallel(b, x, path, frame, namer) if b.flat else self.parallel(b, x, path, frame)
        assert b.residual is not None
        return self.residual(b.residual, x, path, frame, namer)

    def repeat(self, b: m.BodyFields, x: str, path: Path, frame: Frame, namer: Namer) -> str:
        assert b.repeat is not None and b.each is not None
        count = self.eval(b.repeat.expr, b.repeat.loc, frame.env, frame.trace)
        if count is UNKNOWN:
            return x
        wrong = count_error(self.r, count, b.repeat.loc.span, self.limits, frame.trace)
        if wrong == "E603":
            raise _Abort()
        if wrong:
            return x
        # before unrolling: count × a lower bound of one repeat, now that the count is known
        self.estimate(lambda base: self.estimator.repeat_check(b, count, frame.env, base, self.depth), frame.trace)
        items = (b.each,) if isinstance(b.each, m.Call) else b.each.items
        if count == 0:
            self._claim_left_out(items, with_names(frame.env, {b.index: UNKNOWN}), namer)
        where = path_str(path) or self.program.name
        for i in range(count):
            self.step(b.repeat.loc.span, frame)
            note = Note(f"in repeat {b.index}={i} of '{where}'", b.repeat.loc.span)
            # a small map in front of the shared one: copying the whole environment (every block of the
            # file) per repeat and per block instance took gigabytes for 45,000 instances of 3,000 blocks
            sub = frame.child(with_names(frame.env, {b.index: i}), note=note)
            x = self.entries(items, x, path, sub, namer)
        return x

    def parallel(self, b: m.BodyFields, x: str, path: Path, frame: Frame) -> str:
        assert b.parallel is not None
        outs = []
        for branch in b.parallel:
            child = path + (branch.name,)
            if not self.claim(child, branch.name_span):
                continue
            out = self.value(branch.value, x, child, frame.child())
            if out is not None:
                outs.append(out)
        if len(outs) == 1:
            return outs[0]
        if not outs:
            return x
        return self.merge(b.merge or "concat", outs, path, b.merge_span or b.span, frame, b.dim, "parallel")

    def flat_parallel(self, b: m.BodyFields, x: str, path: Path, frame: Frame, namer: Namer) -> str:
        """Branches written as a list: each one an entry of the enclosing list (named by ``namer``, in
        ``path``), reading ``x``; their outputs merged at a position of their own."""
        assert b.parallel is not None
        outs = [self.entry(branch, x, path, frame, namer) for branch in b.parallel]
        if len(outs) == 1:
            return outs[0]
        return self.merge(b.merge or "concat", outs, path + (namer.take(),), b.merge_span or b.span, frame, b.dim,
                          "parallel")

    def residual(self, res: m.Residual, x: str, path: Path, frame: Frame, namer: Namer) -> str:
        body = self.entries(res.body, x, path, frame, namer)
        shape_in, shape_body = self.shape(x), self.shape(body)
        if res.when is not None:
            use = self.eval(res.when.expr, res.when.loc, frame.env, frame.trace)
            if use is not UNKNOWN and not isinstance(use, bool):
                self.r.add(dataclasses.replace(not_a_condition(use, res.when.loc.span, RESIDUAL_WHEN_HINT),
                                               notes=frame.trace))
            use = use is True
        else:
            use = shape_in is not None and shape_body is not None and shape_in != shape_body
        shortcut = x
        sc = res.shortcut
        if use and sc is not None:
            if isinstance(sc, m.Named):
                child = path + (sc.name,)
                if self.claim(child, sc.name_span):
                    shortcut = self.value(sc.value, x, child, frame) or x
            elif isinstance(sc, m.Seq):
                child = path + ("shortcut",)
                if self.claim(child, sc.span):
                    shortcut = self.sequential(sc.items, x, child, frame, sc.span, sc)
            elif isinstance(sc, m.Call):
                shortcut = self.call_at(sc, x, path + ("shortcut",), frame)
            else:
                shortcut = self.container_at(sc, x, path + ("shortcut",), frame) or x
        hint = None
        if sc is None:
            hint = NO_SHORTCUT
        elif res.when is not None and not use:
            hint = SHORTCUT_OFF
        roles = ("body", "shortcut" if shortcut != x else "shortcut (identity)")
        out = self.merge("add", [body, shortcut], path, res.span, frame, 1, "residual", hint, roles)
        return self.entries(res.then, out, path, frame, namer)

    def merge(self, kind: str, ins: list[str], path: Path, span: Span, frame: Frame, dim: int, context: str,
              hint: str | None = None, roles: tuple[str, ...] | None = None) -> str:
        op = self.ops.get(kind)
        attrs = bind(op, [], {"dim": dim} if kind == "concat" else {})
        node = Node(f"{path_str(path) or self.program.name}:{kind}", op, attrs, path, tuple(ins), span, module=False,
                    training_only=frame.training_only, trace=frame.trace, role=context)
        shapes = [self.shape(i) for i in ins]
        if all(s is not None for s in shapes):
            node.in_shapes = tuple(shapes)  # type: ignore[arg-type]
            try:
                node.shape = op.infer(node.in_shapes, attrs)
            except ShapeError as err:
                names = roles or tuple(f"input {k + 1}" for k in range(len(ins)))
                notes = (shape_note(r, self.graph.nodes[i]) for i, r in zip(ins, names))
                merge_shape_error(self.r, kind, err, span, context, hint, notes, frame.trace)
        return self.add(node, frame)

    def _head(self, path: Path, out: str, span: Span, frame: Frame) -> None:
        # A side output must reach the network's return value: keep heads at the top level,
        # where the emitted forward returns them (as torchvision's GoogLeNet does).
        if len(path) != 1 or frame.parent is not None:
            self.r.add(dataclasses.replace(head_misplaced(span), notes=frame.trace))
            return
        if not path[0].isidentifier():
            self.r.add(dataclasses.replace(head_unnamed(span), notes=frame.trace))
            return
        self.graph.heads.append(Head(path_str(path), out, span))

    # --- calls ----------------------------------------------------------------------------

    def _claim_left_out(self, items: tuple[m.Entry, ...], env: Mapping[str, Any], namer: Namer) -> None:
        """The names of the parameter-free ops that a false `when:` or a repeat of 0 leaves out of a
        list that names its layers. The module IR writes such entries once (under a condition, in a
        loop) and names their ops in the order they are written, so a later op of the same kind with
        other attributes is `dropout_1` whether or not they run; the graph must name it so too.
        ``env`` evaluates their arguments (a repeat's index has no value: UNKNOWN)."""
        if namer.mode != "module":
            return
        for item in items:
            if isinstance(item, m.Call):
                op = self._quiet_op(item, env)
                if op is not None and not op.stateful:
                    namer.unnamed(op.name, self._quiet_attrs(op, item, env), False)
            elif isinstance(item, m.Container) and not item.training_only:
                if item.kind == "layers" and item.layers is not None:
                    self._claim_left_out((item.layers,) if isinstance(item.layers, m.Call) else item.layers.items,
                                         env, namer)
                elif item.kind == "repeat" and item.each is not None:
                    self._claim_left_out((item.each,) if isinstance(item.each, m.Call) else item.each.items,
                                         with_names(env, {item.index: UNKNOWN}), namer)
                elif item.kind == "parallel" and item.flat and item.parallel is not None:
                    self._claim_left_out(flat_branches(item.parallel), env, namer)

    def _quiet_op(self, call: m.Call, env: Mapping[str, Any]) -> Op | None:
        """The op a call left out names, or None (a block, a parameter, a name that is no op)."""
        if call.call.callee in env or call.call.callee not in self.ops:
            return None
        return self.ops.get(call.call.callee)

    @staticmethod
    def _quiet_attrs(op: Op, call: m.Call, env: Mapping[str, Any]) -> Any:
        """A left-out call's attributes, or a key of its own where they have no value here (they read
        a repeat's index, say): as in the module IR, where such attributes are an expression."""
        try:
            args = [evaluate(a, env) for a in call.call.args]
            kwargs = {k.name: evaluate(k.value, env) for k in call.call.kwargs}
            if any(v is UNKNOWN for v in (*args, *kwargs.values())):
                return object()
            return bind(op, args, kwargs)
        except (ExprError, BindError, RecursionError):
            return object()

    def resolve(self, call: m.Call, frame: Frame) -> Op | BlockRef | None:
        name = call.call.callee
        if name in frame.env:
            value = frame.env[name]
            if isinstance(value, BlockRef):
                return value
            # a parameter that is not a block can never be called, so `bn()` beside a
            # parameter named `bn` still means the op
            if name not in self.ops:
                if value is not UNKNOWN:
                    self.r.add(dataclasses.replace(not_a_layer(name, value_type(value), call.callee_span),
                                                   notes=frame.trace))
                return None
        try:
            return self.ops.get(name)
        except UnknownOp:
            blocks = [k for k, v in frame.env.items() if isinstance(v, BlockRef)]
            self.r.add(dataclasses.replace(unknown_callee(name, [*self.ops.names, *blocks], call.callee_span),
                                           notes=frame.trace))
            return None

    def bind_attrs(self, op: Op, call: m.Call, frame: Frame) -> Any:
        """The op's attributes from the call's arguments, or None after an error."""
        args = [self.eval(a, call.loc, frame.env, frame.trace) for a in call.call.args]
        kwargs = {k.name: self.eval(k.value, call.loc, frame.env, frame.trace) for k in call.call.kwargs}
        if any(v is UNKNOWN for v in args) or any(v is UNKNOWN for v in kwargs.values()):
            return None
        try:
            return bind(op, args, kwargs)
        except BindError as err:
            self.r.add(dataclasses.replace(bind_error(err, arg_spans(call)), notes=frame.trace))
            return None

    def op_node(self, op: Op, call: m.Call, attrs: Any, ins: list[str], path: Path, frame: Frame, *,
                shared: bool = False) -> str:
        node = Node(path_str(path), op, attrs, path, tuple(ins), call.span, training_only=frame.training_only,
                    trace=frame.trace)
        if op.arity is None:
            self.r.add(dataclasses.replace(joins_inputs(op.name, call.callee_span), notes=frame.trace))
            node.attrs = None
        shapes = [self.shape(i) for i in ins]
        if node.attrs is not None and all(s is not None for s in shapes):
            node.in_shapes = tuple(shapes)  # type: ignore[arg-type]
            try:
                node.shape = op.infer(node.in_shapes, node.attrs)
                self._budget(op, node, frame)
            except ShapeError as err:
                layer_shape_error(self.r, op, err, arg_spans(call), shape_note("input", self.graph.nodes[ins[0]]),
                                  frame.trace)
                node.shape = None
        return self.add(node, frame, shared=shared and not op.stateful)

    def _budget(self, op: Op, node: Node, frame: Frame) -> None:
        assert node.in_shapes is not None and node.shape is not None
        self.total_params += op.params(node.in_shapes, node.attrs)
        self.total_macs += op.macs(node.in_shapes, node.shape, node.attrs)
        if budget_error(self.r, node, self.total_params, self.total_macs, self.limits, frame.trace):
            raise _Abort()

    # --- blocks -----------------------------------------------------------------------------

    def instantiate(self, block: BlockRef, call: m.Call, x: str, path: Path, frame: Frame,
                    namer: Namer | None) -> str:
        """A block call: a module at ``path``, or (``namer`` given) inline, spliced into the list."""
        self.nest(call.span, frame)
        try:
            return self._instantiate(block, call, x, path, frame, namer)
        finally:
            self.depth -= 1

    def _instantiate(self, block: BlockRef, call: m.Call, x: str, path: Path, frame: Frame,
                     namer: Namer | None) -> str:
        defn = block.defn
        if id(defn) in frame.blocks:
            uses_itself(self.r, block.name, len(frame.blocks), call.callee_span, frame.trace)
            raise _Abort()  # every later use would say the same, possibly 100,000 times over
        args = block_args(self.r, block, call, frame.env, frame.trace, self.eval)
        where = f"as '{path_str(path)}'" if namer is None else f"inline in '{path_str(path) or self.program.name}'"
        trace = (*frame.trace, Note(f"in block '{block.name}' called {where}", call.span))
        env = ChainMap({**args, "input": ShapeView(self.shape(x))}, block.unit.blocks)
        inner = Frame(env, block.unit, x, trace=trace, blocks=(*frame.blocks, id(defn)),
                      training_only=frame.training_only)
        if namer is not None:
            if defn.kind not in ("layers", "repeat"):
                self.r.add(dataclasses.replace(inline_body(block.name, defn.name_span), notes=trace))
                return x
            return self.body(defn, x, path, inner, namer)
        namer = body_namer(defn)
        scope = self.graph.add_scope(Scope(path, "block", block.name, call.span, x, block=block.name, args=args,
                                           training_only=frame.training_only, trace=frame.trace,
                                           mode=namer.mode, env=inner.env))
        scope.output = self.body(defn, x, path, inner, namer)
        return scope.output


def derive(program: Any, graph: Graph) -> Derived:
    """The module IR of ``program``, which the walk lowered to ``graph`` without error, checked
    against ``graph`` node for node; NotDerivable if it cannot be written once or does not reproduce
    it (what emission is handed from a walked graph: Graph.deriver)."""
    span, sources = program.leaf.span, dict(program.sources)
    definer = Definer(program, graph)
    try:
        ir = definer.run()
        inst = Instantiator(ir, definer.definition, graph.name)
        plain = inst.run(graph.params)
    except Unsymbolic as err:  # located where the spec says what cannot be written once
        raise NotDerivable(str(err), err.span or span, sources, err.hint) from None
    except Unsplicable as err:
        raise NotDerivable(str(err), span, sources) from None
    except RecursionError:  # only with a raised max_nesting: blocks nested deeper than Python's stack allows
        raise NotDerivable("blocks nest more deeply than Python's stack lets archc write them", span, sources,
                           "nest blocks and containers less deeply") from None
    plain.class_name, plain.doc, plain.file = graph.class_name, graph.doc, graph.file
    found = differences(graph, plain)
    if found:  # never hand on a network other than the one checked and counted
        raise NotDerivable("the module IR does not reproduce the checked graph: " + "; ".join(found[:3]),
                           span, sources)
    definer.reads = False  # what emission reads holds no reads by name (instantiation's alone)
    return Derived(strip_reads(ir), plain, inst.spliced, inst.passed, definer.definition, span, sources)
