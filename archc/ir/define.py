"""Lowering into the module IR (:mod:`archc.ir.module`): each block definition once, with
its parameters and its input's sizes as symbols.

It runs on a program that :mod:`archc.ir.lower` lowered without error, so it reports
nothing: every name resolves, every argument binds, every shape fits. What it decides
is how each construct is written once for all instances:

- an expression is evaluated with symbols (:mod:`archc.sym`), so ``planes * 4`` stays
  ``planes * 4`` and ``stride if i == 0 else 1`` a conditional;
- a ``when:`` that a parameter decides becomes an :class:`~archc.ir.module.If`; a
  residual's projection shortcut is taken under the condition that the body changes
  the shape (``stride != 1 or in_channels != planes * 4``), computed from the shapes;
- a ``repeat:`` becomes a :class:`~archc.ir.module.Loop` whose body is lowered once for a
  symbolic index, with the running input's sizes as fresh symbols;
- a block call becomes an :class:`~archc.ir.module.Instance`; its output's sizes are the
  callee's, with the call's arguments put in for the parameters, or fresh symbols where
  the callee is a block-typed parameter (only known when the module is built).

What cannot be written once raises :class:`Unsymbolic`, naming the entry and why.
"""

from __future__ import annotations

import contextlib
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import Diagnostic, Reporter, Span
from ..limits import Limits
from ..ops import BindError, Op, Registry, ShapeError, bind, registry
from ..ops.base import REFUSED
from ..spec import model as m
from ..spec.expr import UNKNOWN, BoolOp, ExprError, IfExp, ShapeView, evaluate, names_in
from ..spec.expr import walk as walk_expr
from ..spec.loader import BlockRef, Program, Unit
from ..sym import (
    NotSymbolic,
    Sym,
    SymBlock,
    SymbolicBranch,
    SymIntPair,
    SymList,
    free_symbols,
    is_symbolic,
    or_,
    substitute,
)
from .graph import Graph
from .module import (
    Container,
    Definition,
    Dims,
    EntryName,
    Fault,
    GenName,
    Head,
    If,
    IfKnown,
    InitScheme,
    Instance,
    Layer,
    Loop,
    Mark,
    Merge,
    ModuleIR,
    Param,
    Read,
    Site,
    Stmt,
    TooLong,
    walk,
)
from .naming import Namer, body_namer, list_mode, list_namer, made_name
from .params import (
    INT_OR_PAIR,
    bind_given,
    check_type,
    default_type,
    defined_names,
    undefined_hint,
    value_type,
    with_names,
)
from .report import (
    NO_SHORTCUT,
    RESIDUAL_WHEN_HINT,
    SHORTCUT_OFF,
    WHEN_HINT,
    arg_spans,
    bind_error,
    flat_in_sequential,
    from_with_parallel,
    head_misplaced,
    head_unnamed,
    held_in_list,
    inline_body,
    joins_inputs,
    missing_arg,
    needs_name,
    not_a_condition,
    unnamed_container,
)

__all__ = ["Unsymbolic", "define"]

INPUT_DIMS = {1: ("in_features",), 2: ("in_channels", "in_length"), 3: ("in_channels", "in_height", "in_width")}


class Unsymbolic(Exception):
    """A definition that cannot be written once for all its instances; ``hint``: how the spec can
    say it so that it can (E720's hint at compile)."""

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None):
        super().__init__(message)
        self.span, self.hint = span, hint


@dataclass
class Frame:
    env: Mapping[str, Any]
    unit: Unit
    input_id: str
    body: list[Stmt]
    names: dict[str, str] = field(default_factory=dict)
    parent: Frame | None = None
    training_only: bool = False
    # the network's own list, where a side head may stand (a `when:` group's too, not a repeat's)
    top: bool = False
    # the points a `from:` reads by name where this frame runs (shared up to the nearest `when:`
    # or repeat, whose own list says what is read only where it runs)
    reads: list[str] = field(default_factory=list)
    pending: set[str] = field(default_factory=set)  # names its list defines later (E305 says so)
    # every binding of each name behind ``names``, in order: (value, the named entry that binds it,
    # its number among the definition's bindings); where lowering refuses an entry's name, a `from:`
    # finds the binding before (see Read)
    bindings: dict[str, list[tuple[str, EntryName | None, int]]] = field(default_factory=dict)

    def child(self, env: Mapping[str, Any] | None = None, *, body: list[Stmt] | None = None,
              training_only: bool = False, top: bool = False, reads: list[str] | None = None) -> Frame:
        return Frame(env if env is not None else self.env, self.unit, self.input_id,
                     body if body is not None else self.body, parent=self,
                     training_only=self.training_only or training_only, top=top,
                     reads=self.reads if reads is None else reads)

    def lookup(self, name: str) -> str | None:
        frame: Frame | None = self
        while frame is not None:
            if name in frame.names:
                return frame.names[name]
            frame = frame.parent
        return None

    def chain(self) -> list[Frame]:
        """This frame and those around it, innermost first."""
        out = []
        frame: Frame | None = self
        while frame is not None:
            out.append(frame)
            frame = frame.parent
        return out

    def bind(self, name: str, value: str, entry: EntryName | None, number: int) -> None:
        self.names[name] = value
        self.bindings.setdefault(name, []).append((value, entry, number))

    def absorb(self, inner: Frame) -> None:
        """The names a list inside this one bound, visible after it."""
        for name, found in inner.bindings.items():
            self.names[name] = inner.names[name]
            self.bindings.setdefault(name, []).extend(found)

    def candidates(self, name: str) -> tuple[tuple[str, EntryName | None], ...]:
        """Every binding of ``name`` seen here, the latest first (see Read)."""
        return tuple((value, entry) for f in self.chain() for value, entry, _ in reversed(f.bindings.get(name, ())))


class Definer:
    """Lowers a program into its module IR. ``per_instance``: the network is written for the
    values lowering has, every repeat unrolled, and each block call for its call's values (a
    definition of its own per values, which emission refuses; see :meth:`specialized`), for a
    spec that cannot be written once for all instances: its graph is still its module IR's
    instantiation, so that ``archc table`` counts what the IR says."""

    def __init__(self, program: Program, graph: Graph, ops: Registry | None = None, *, per_instance: bool = False,
                 limits: Limits | None = None):
        self.program = program
        self.limits = limits  # per instance: how far repeats may be unrolled (see unrolled)
        # the repeats being written out (their spans, outermost first), and the entries they have written
        self._unrolling: list[Span] = []
        self._written = 0
        self.graph = graph
        self.ops = ops or registry()
        self.per_instance = per_instance
        self.concrete = per_instance  # the definition being written now is written for values
        self.definitions: dict[str, Definition] = {}
        self._failed: dict[tuple[int, int], Unsymbolic] = {}  # definitions that cannot be written once
        self._specials: dict[Any, str] = {}  # (definition, rank, values, input shape) -> key
        self._keys: dict[tuple[int, int], str] = {}  # (definition, input rank) -> key
        self._busy: set[str] = set()
        self._inlining: set[int] = set()  # inline definitions being spliced (a cycle: see inline())
        self._nest = 0  # levels the walk nests here, from the definition's body (Definition.nesting)
        self._binds = 0  # names bound so far (Frame.bindings' numbers)
        # the levels the definition being written may nest before the nesting limit, where it runs
        # (None: no bound); the definitions written with a call deferred (see deferred), each with its
        # room; and whether the one being written calls a block deferred, or written so
        self._room: int | None = None if limits is None else limits.max_nesting
        self._cut: dict[str, int] = {}
        self._cutting = False
        # write the reads by name that instantiation in lowering follows (Read); off once lowering is done
        # (the definitions written after, for emission, hold none)
        self.reads = True
        self._nest_at: tuple[Span, ...] = ()  # where each of them is entered (Definition.nest_at)
        self._deep: tuple[Span, ...] | None = None  # the levels to the deepest one since the last value,
        # where that one made none (Definition.deeper: the next value's)
        self.d: Definition | None = None
        self._shapes: dict[str, Dims] = {}
        self._n = 0
        self._faults = 0  # expressions it could not evaluate (each a fresh symbol, see evaluated)
        # the running definition's entries, per body (by id): the body, and each entry's position in
        # it and span, until _settle finds the statement each begins at (Stmt.visits)
        self._visits: dict[int, tuple[list[Stmt], list[tuple[int, Span]]]] = {}
        self._candidates: dict[int, tuple[Mapping[str, Any], tuple[str, ...]]] = {}  # see _blocks_in

    # --- definitions -------------------------------------------------------------------

    def run(self) -> ModuleIR:
        unit = self.program.unit
        spec = unit.spec
        shape = tuple(self.graph.input_shape)
        if self.per_instance:  # the values lowering has
            params = [Param(k, value_type(v), v, False) for k, v in self.graph.params.items()]
            env = ChainMap({**self.graph.params, "input": ShapeView(shape)}, unit.blocks)
        else:
            params = self.network_params()
            env = ChainMap({**{p.name: _symbol(p.name, p.kind) for p in params}, "input": ShapeView(shape)},
                           unit.blocks)
        d = Definition("", self.program.name, params, len(shape), shape, "layers", "module", span=spec.span,
                       doc=self.program.doc)
        items = spec.layers or ()
        d.mode = list_mode(items)

        def body(frame: Frame) -> str:
            return self.entries(items, "x", frame, list_namer(items))

        self._define(d, env, unit, body, top=True)
        init = self.program.init
        scheme = None if init is None else InitScheme(init.conv, init.linear, init.norm, init.std,
                                                         init.zero_init_residual)
        return ModuleIR(self.definitions, d, name=self.program.name, doc=self.program.doc,
                        file=self.program.leaf.file, init=scheme)

    def network_params(self) -> list[Param]:
        """The network's parameters with the values the graph was built with. A default that reads
        the parameters before it (EfficientNet's ``widths`` from ``width_mult``) stays that
        expression, so the network class computes it from what it is given, as the spec does; a
        value given instead (an override) is a value."""
        defaults = {decl.name: default for decl, default in self.program.param_defaults()}
        scope: dict[str, Any] = {}
        out = []
        declared = {decl.name: decl.type for decl, _ in self.program.param_defaults()}
        for name, value in self.graph.params.items():
            # a value's own type, except where the declaration says more (a pair is a list, or an `int | pair`)
            kind = INT_OR_PAIR if declared.get(name) == INT_OR_PAIR else value_type(value)
            default = value
            code = defaults.get(name)
            if code is not None and kind in ("int", "float", "bool", "list") and names_in(code.expr) & scope.keys():
                default = _derived(code.expr, ChainMap(scope, self.program.unit.blocks), self.graph.params, value)
            out.append(Param(name, kind, default, False))
            scope[name] = _symbol(name, kind)
        return out

    def definition(self, block: BlockRef, rank: int, room: int | None = None, mode: str | None = None) -> Definition:
        """The module IR of ``block`` for inputs of ``rank`` dimensions (lowered once). ``room``: the
        levels its body may nest before the nesting limit, where it runs (lowering's: see deferred).
        ``mode``: for an inline block passed as a value, how the list it is spliced into names its
        unnamed entries (in one that names its layers, after their ops, as a direct call is)."""
        ident: tuple[Any, ...] = (id(block.defn), rank) if mode is None else (id(block.defn), rank, mode)
        if ident in self._failed:
            raise self._failed[ident]
        if room is None and self.limits is not None:
            room = self.limits.max_nesting
        key = self._keys.get(ident)
        if key is not None:
            if key in self._busy:
                raise Unsymbolic(f"block '{block.name}' uses itself", block.defn.name_span)
            cut = self._cut.get(key)
            if cut is None or room is None or room <= cut:
                self._cutting = self._cutting or cut is not None
                return self.definitions[key]
            # written with calls deferred for less room than this call has: written again, with this room
        else:
            key = (block.name if rank == 3 else f"{block.name}@{rank}") + (f"@{mode}" if mode else "")
            while key in self.definitions or key in self._busy:
                key += "_"
            self._keys[ident] = key
        saved = self.concrete, self._room, self._cutting
        self.concrete, self._room, self._cutting = False, room, False
        try:
            d = self._definition(block, rank, key, mode)
            if self._cutting and room is not None:
                self._cut[key] = room
            else:
                self._cut.pop(key, None)
            return d
        except Unsymbolic as err:
            del self._keys[ident]
            self._failed[ident] = err
            raise
        except RecursionError:  # (see instance: deferred, written again where it runs)
            self._keys.pop(ident, None)
            raise
        finally:
            cutting = self._cutting
            self.concrete, self._room, self._cutting = saved
            self._cutting = self._cutting or cutting  # (a definition that calls one deferred is cut too)

    def deferred(self, block: BlockRef | SymBlock) -> int | None:
        """The room a call of ``block`` here leaves its body (see definition); None where it has no
        bound. Negative where the call itself nests past the nesting limit: instantiation reports
        E604 there before it runs (so that a chain of blocks deeper than Python's stack allows is
        never written out), and its definition is deferred to where it runs (Instance.deferred)."""
        if self._room is None:
            return None
        return self._room - self._nest - 1

    def _definition(self, block: BlockRef, rank: int, key: str, mode: str | None = None) -> Definition:
        defn = block.defn
        params = []
        scope: ChainMap[str, Any] = ChainMap({}, block.unit.blocks)
        for decl in defn.params:
            kind = decl.type or default_type(decl, scope) or "int"
            # a default may read the parameters before it: an expression of their symbols
            default = None if decl.default is None else self._default(decl.default, scope)
            error = None
            if default is UNKNOWN:  # (kept to be reported where a block passed as a value takes it)
                assert decl.default is not None
                found: list[Diagnostic | Site] = []
                self.evaluated(decl.default.expr, decl.default.loc, scope, decl.name, found)
                error = next((c for c in found if isinstance(c, Site)), None)
            params.append(Param(decl.name, kind, default, decl.default is None, decl.type,
                                None if decl.default is None else decl.default.loc.span, error))
            try:
                scope.maps[0][decl.name] = _symbol(decl.name, kind)
            except Unsymbolic as err:  # at the declaration, which is what to change
                raise Unsymbolic(str(err), decl.span) from None
        names = INPUT_DIMS.get(rank)
        if names is None:
            raise Unsymbolic(f"block '{block.name}' takes a rank-{rank} input", defn.name_span)
        taken = {decl.name for decl in defn.params}
        names = tuple(_unique(n, taken) for n in names)  # a parameter may be called in_channels
        shape = tuple(Sym(n) for n in names)
        d = Definition(key, block.name, params, rank, shape, defn.kind, "module", span=defn.name_span, doc=defn.doc,
                       inline=defn.inline)
        env = ChainMap({**scope.maps[0], "input": ShapeView(shape)}, block.unit.blocks)
        if mode is None:
            namer = body_namer(defn)
        elif defn.kind == "layers":
            assert defn.layers is not None
            namer = list_namer((defn.layers,) if isinstance(defn.layers, m.Call) else defn.layers.items, mode=mode)
        else:
            namer = Namer(mode)
        d.mode = namer.mode

        def body(frame: Frame) -> str:
            return self.body(defn, "x", frame, namer, None)

        self._busy.add(key)
        try:
            self._define(d, env, block.unit, body)
        finally:
            self._busy.discard(key)
        self.definitions[key] = d
        return d

    def _define(self, d: Definition, env: Mapping[str, Any], unit: Unit, run: Any, *, top: bool = False) -> None:
        saved = self.d, self._shapes, self._n, self._nest, self._visits, self._nest_at, self._deep
        self.d, self._shapes, self._n, self._nest, self._visits = d, {"x": d.input_shape}, 0, 0, {}
        self._nest_at, self._deep = (), None
        try:
            frame = Frame(env, unit, "x", d.body, top=top, reads=d.reads)
            d.output = run(frame)
            d.out_shape = self._shapes[d.output]
            d.tail = self._settle(d.body)
        finally:
            self.d, self._shapes, self._n, self._nest, self._visits, self._nest_at, self._deep = saved

    def _visit(self, body: list[Stmt], span: Span) -> None:
        """An entry (or a repeat written out) that lowering visits, a step, where ``body`` stands now."""
        found = self._visits.get(id(body))
        if found is None:
            found = self._visits[id(body)] = (body, [])
        found[1].append((len(body), span))

    def _settle(self, body: list[Stmt]) -> tuple[Span, ...]:
        """Each entry of ``body`` (nested bodies too) on the statement it begins at, the first one
        written after it (Stmt.visits); those after the last statement: the body's tail."""
        found = self._visits.pop(id(body), None)
        tail: list[Span] = []
        on: dict[int, list[Span]] = {}  # (gathered first: many entries may begin at one statement)
        for at, span in found[1] if found is not None else ():
            if at < len(body):
                on.setdefault(at, []).append(span)
            else:
                tail.append(span)
        for at, spans in on.items():
            body[at].visits = (*body[at].visits, *spans)
        for stmt in body:
            if isinstance(stmt, (Container, If, Loop)):
                stmt.tail = self._settle(stmt.body)
        return tuple(tail)

    # --- values ------------------------------------------------------------------------------

    def new(self, shape: Dims) -> str:
        self._n += 1
        out = f"v{self._n}"
        self._shapes[out] = tuple(shape)
        self._nested(out)
        return out

    def _nested(self, value: str) -> None:
        assert self.d is not None
        if self._nest:
            self.d.nesting[value] = self._nest
            self.d.nest_at[value] = self._nest_at
        if self._deep is not None:
            if len(self._deep) > self._nest:
                self.d.deeper[value] = self._deep
            self._deep = None

    @contextmanager
    def nest(self, span: Span) -> Iterator[None]:
        """One more level where lowering's walk nests one (a block call, a list, a container),
        entered at ``span``."""
        self._nest += 1
        outer, made = self._nest_at, self._n
        self._nest_at = (*outer, span)
        try:
            yield
        finally:
            if self._n == made and (self._deep is None or len(self._deep) < len(self._nest_at)):
                self._deep = self._nest_at  # a level with nothing in it: the next value stands for it
            self._nest -= 1
            self._nest_at = outer

    def fresh(self, what: str, value: str, rank: int) -> Dims:
        assert self.d is not None
        dims = []
        for k in range(rank):
            name = f"_{what}_{value}_{k}"
            self.d.fresh[name] = (what, value, k)
            dims.append(Sym(name))
        return tuple(dims)

    def shape(self, value: str) -> Dims:
        return self._shapes[value]

    def eval(self, expr: Any, env: Mapping[str, Any], span: Span) -> Any:
        try:
            return evaluate(expr, env)
        except (ExprError, SymbolicBranch, NotSymbolic) as err:
            raise _once(err, span) from None

    def _default(self, code: m.Code, scope: Mapping[str, Any]) -> Any:
        """A parameter's default in its definition: UNKNOWN for a name defined nowhere (an op passed
        as a value, `act: block = relu`), an error reported where a call takes it (see args)."""
        try:
            return evaluate(code.expr, scope)
        except ExprError as err:
            if err.code != "E401":
                raise _once(err, code.loc.span) from None
            return UNKNOWN
        except (SymbolicBranch, NotSymbolic) as err:
            raise _once(err, code.loc.span) from None

    def evaluated(self, expr: Any, loc: m.Loc, env: Mapping[str, Any], key: str, checks: list[Diagnostic | Site],
                  *, boolean: bool = False) -> Any:
        """An expression a statement evaluates, kept in its ``checks`` as a Site where its value is
        symbolic (an error where it runs, a division by zero, is reported there with the walk's
        words), or, written for values, where it is an error (an undefined name): a fresh symbol
        then stands for its value, unknown where it runs, where its error is reported."""
        names = tuple((n, env[n]) for n in sorted(names_in(expr)) if n in env)
        try:
            value = evaluate(expr, env)
        except ExprError as err:
            # (a division by zero of symbols is by a divisor that is 0 whatever their values, `w - w`,
            # unless a condition or `and`/`or` around it may leave it unevaluated)
            certain = err.code == "E401" or (err.code == "E403" and not _short_circuits(expr)) or not any(
                is_symbolic(v.shape if isinstance(v, ShapeView) else v) for _, v in names)
            if not self.concrete and not certain:
                # of symbols, it may be an error of some values only (`k // 2` for a k that is an int
                # or a pair): written for the values instead, where an error is one (see Definer).
                # A name defined nowhere is an error wherever it is evaluated (and where it is not,
                # archc/ir/scope.py reports it), and so is an error of values known here
                raise _once(err, loc.span) from None
            hint = None
            if err.code == "E401":
                hint = undefined_hint(err.message.split("'")[1], defined_names(env), self.ops)
            self._faults += 1
            symbol = f"_fault_expr{self._faults}"
            checks.append(Site(expr, loc, names, key, symbol=symbol, hint=hint))
            return Sym(symbol, boolean=boolean)
        except (SymbolicBranch, NotSymbolic) as err:
            raise _once(err, loc.span) from None
        if is_symbolic(value):
            checks.append(Site(expr, loc, names, key, value=value))
        return value

    def when(self, code: m.Code | None, env: Mapping[str, Any], checks: list[Diagnostic | Site] | None = None,
             at: tuple[str, list[Stmt]] | None = None) -> Any:
        """A `when:`'s condition. ``checks``: its Sites (see :meth:`evaluated`); ``at``: where the
        container stands (its input, the body it goes in), where a value that is not true or false
        is reported (E202) and taken as false, as the walk takes it."""
        if code is None:
            return True
        if checks is None:
            return self.eval(code.expr, env, code.loc.span)
        value = self.evaluated(code.expr, code.loc, env, "cond", checks, boolean=True)
        if _is_condition(value):
            return value
        if value is UNKNOWN:  # after an error (a parameter's): false, as the walk takes it
            return False
        if is_symbolic(value) or at is None:  # true or false in some instances only: written for values
            raise Unsymbolic("a `when:` that is not true or false", code.loc.span)
        self.reported([not_a_condition(value, code.loc.span, WHEN_HINT)], *at)
        return False

    # --- lists and entries ---------------------------------------------------------------------

    def entries(self, items: tuple[m.Entry, ...], x: str, frame: Frame, namer: Namer) -> str:
        frame.pending.update(i.name for i in items if isinstance(i, m.Named))
        for item in items:
            x = self.entry(item, x, frame, namer)
        return x

    def entry(self, item: m.Entry, x: str, frame: Frame, namer: Namer) -> str:
        self._visit(frame.body, item.span)  # a step wherever this list runs (see Stmt.visits)
        if self._unrolling and self.limits is not None:  # written out, in a repeat (see unrolled)
            self._written += 1
            if self._written > self.limits.max_nodes:  # (the outermost repeat written out is written once)
                raise TooLong(self.limits.max_nodes, self._unrolling[0])
        # (one Python frame per entry, block and list: a block nested 64 deep is as many of each)
        if isinstance(item, m.Call):
            return self.call_in_list(item, x, frame, namer)
        if isinstance(item, m.Named):
            frame.pending.discard(item.name)
            namer.take()
            before = len(frame.body)
            entry = EntryName(item.name, item.name_span, item.name if item.template is not None else None, x)
            out = self.named(item, x, frame, namer, entry)
            if len(frame.body) == before:  # (a point named, outside lowering: nothing to claim)
                return out
            # its name is claimed where the first of its statements runs, before anything of it (as the
            # walk claims it); where it is refused, none of them runs (see EntryName)
            first = frame.body[before]
            first.entry = entry
            entry.key = first.out
            entry.rest = tuple(st.out for st in frame.body[before + 1:])
            return out
        return self.container_in_list(item, x, frame, namer)

    def named(self, item: m.Named, x: str, frame: Frame, namer: Namer, entry: EntryName) -> str:
        """A named entry's statements (one at least) and the running value after it."""
        before = len(frame.body)
        name = item.name if item.template is None else self.generated_name(item, frame, entry)
        entry.name = name
        out = self.value(item.value, x, frame, name, absent=False, entry=item.span)
        # a named entry takes its list's number (nn.Sequential numbers every child), present or not
        if out is None:
            frame.body.append(If(out=self.new(()), shape=(), span=item.span, cond=False, input=x, body=[],
                                 output=x, absent=True, pos=True))
            self.bind(frame, name, x, entry)  # absent, it passes its input on, and a `from:` reads that
            return x
        made = frame.body[-1] if len(frame.body) > before else None
        if namer.mode == "sequential" and isinstance(item.value, m.Call) and isinstance(made, Layer) \
                and made.op.holds_parameter:
            made.checks = (held_in_list(made.op.name, item.value.span), *made.checks)
        # its top statement (a misplaced head's report may follow it, see container_at)
        top = next((st for st in reversed(frame.body[before:]) if st.out == out and not isinstance(st, Read)), None)
        if top is not None:
            top.pos = True
            if isinstance(top, If):  # its flag in the emitted class takes the entry's name
                top.label = name
        elif self.reads:  # no statement of its own (a `from:` that names a point): the point passes through
            # one that claims the name, which instantiation alone reads (where it is refused, the running value)
            read = Read(out=self.new(self.shape(out)), shape=self.shape(out), span=item.span, input=out,
                        name=str(name), candidates=((out, None),), training_only=frame.training_only)
            frame.body.append(read)
            out = read.out
        self.bind(frame, name, out, entry)
        if isinstance(item.value, m.Container) and item.value.training_only:
            if self._misplaced(name, frame) is not None:  # reported where it runs (container_at)
                return x
            frame.body.append(Head(out=self.new(self.shape(out)), shape=self.shape(out), span=item.span,
                                   name=name, value=out, training_only=True))
            return x
        return out

    def bind(self, frame: Frame, name: str | GenName, value: str, entry: EntryName | None) -> None:
        self._binds += 1
        frame.bind(name, value, entry, self._binds)  # type: ignore[arg-type]

    def generated_name(self, item: m.Named, frame: Frame, entry: EntryName | None = None) -> str:
        """A name made from the repeat index: its text where every instance makes the same one, else a
        :class:`GenName` whose parts are expressions of the index and the parameters. A part that is
        an error (a name defined nowhere) stands as a fresh symbol, reported where the name is made
        (``entry.sites``, see instantiate._claim)."""
        assert item.template is not None
        checks: list[Diagnostic | Site] = []
        made = tuple(part if isinstance(part, str) else self.evaluated(part.expr, part.loc, frame.env, "name", checks)
                     for part in item.template)
        if entry is not None:
            entry.sites = tuple(c for c in checks if isinstance(c, Site) and c.symbol is not None)
        if any(is_symbolic(part) for part in made):
            return GenName(item.name, made)  # checked as each instance makes it (instantiate._name)
        name = made_name(made)
        if name is None:  # no name a layer can have (E304): reported where it is claimed (instantiate._claim)
            return GenName(item.name, made)
        return name

    def value(self, v: m.Call | m.Seq | m.Container, x: str, frame: Frame, name: str, *,
              absent: bool = True, entry: Span | None = None) -> str | None:
        """A named value. Under a `when:` that decides per instance, a branch is ``absent`` where the
        condition fails; a named entry of a list (written at ``entry``) passes its input on instead."""
        if isinstance(v, m.Call):
            return self.call_at(v, x, frame, name)
        if isinstance(v, m.Seq):
            return self.sequential(v.items, x, frame, name, v.span)
        return self.container_at(v, x, frame, name, absent=absent, entry=entry)

    def sequential(self, items: tuple[m.Entry, ...], x: str, frame: Frame, name: str | None, span: Span, *,
                   pos: bool = False) -> str:
        namer = list_namer(items, named_list=True)
        body: list[Stmt] = []
        inner = frame.child(body=body)
        with self.nest(span):
            out = self.entries(items, x, inner, namer)
            return self._container("sequential", "Sequential", name, namer.mode, x, body, out, span, frame, pos)

    def _container(self, kind: str, label: str, name: str | None, mode: str, x: str, body: list[Stmt], out: str,
                   span: Span, frame: Frame, pos: bool, *, reads: int = 0) -> str:
        value = self.new(self.shape(out))
        frame.body.append(Container(out=value, shape=self.shape(out), span=span, kind=kind, name=name, mode=mode,
                                    input=x, body=body, output=out, label=label, training_only=frame.training_only,
                                    pos=pos, reads=reads))
        return value

    def guarded(self, cond: Any, x: str, frame: Frame, span: Span, absent: bool, run: Any,
                checks: Sequence[Diagnostic | Site] = ()) -> str | None:
        """``run(frame)`` where ``cond`` holds: directly when it is true, not at all when it is false,
        else inside an :class:`If` (``checks``: its condition's, see :meth:`evaluated`)."""
        if cond is True:
            return run(frame)
        if cond is False:
            if self.concrete:
                self.left_out(run, frame)
            return None if absent else x
        body: list[Stmt] = []
        inner = frame.child(body=body, top=frame.top, reads=[])
        out = run(inner)
        if out is None:  # nothing inside (e.g. a `when:` inside that is false)
            return None if absent else x
        frame.absorb(inner)  # names defined inside are visible where the condition holds
        shape = self.shape(out) if absent else _choose(cond, self.shape(out), self.shape(x))
        value = self.new(shape)
        frame.body.append(If(out=value, shape=shape, span=span, cond=cond, input=x, body=body, output=out,
                             absent=absent, training_only=frame.training_only, reads=tuple(inner.reads),
                             checks=tuple(checks)))
        return value

    def inputs(self, c: m.Container, x: str, frame: Frame, site: tuple[str, ...]) -> str:
        if not c.from_:
            return x
        ids = []
        points = []  # read by name (`input` is the block's argument, which its caller holds anyway)
        start = len(frame.body)
        for ref in c.from_:
            if ref.name == "input":
                ids.append(frame.input_id)
                continue
            found = frame.lookup(ref.name)
            if found is None:  # reported where it runs; a stand-in of unknown size reads on
                out = self.unknown_reference(ref, x, frame, pos=site == ("take",))
                self._after_reads(frame.body, start)
                return out
            points.append(found)
            candidates = frame.candidates(ref.name)
            if not self.reads or all(entry is None for _, entry in candidates):
                ids.append(found)
                continue
            # a name a named entry binds, which instantiation may refuse (see Read)
            read = Read(out=self.new(self.shape(found)), shape=self.shape(found), span=ref.span, input=found,
                        name=ref.name, candidates=candidates, training_only=frame.training_only,
                        **self._seen_from(ref.name, frame))
            frame.body.append(read)
            ids.append(read.out)
        frame.reads.extend(points)
        if len(ids) == 1:
            return ids[0]
        if c.parallel is not None:  # reported where it runs; the names are merged all the same
            self.reported([from_with_parallel(c.span)], x, frame.body)
        out = self.merge(c.merge or "concat", ids, [True] * len(ids), c.dim, "from", site, c.span, frame)
        self._after_reads(frame.body, start)
        return out

    @staticmethod
    def _after_reads(body: list[Stmt], start: int) -> None:
        """Each read of a `from:` (from ``start``) passes over what the `from:` does after it where it
        finds no point (Read.rest)."""
        for k in range(start, len(body)):
            stmt = body[k]
            if isinstance(stmt, Read):
                stmt.rest = tuple(later.out for later in body[k + 1:])

    def _misplaced(self, name: str | GenName | None, frame: Frame) -> Callable[[Span], Diagnostic] | None:
        """What is wrong with a training-only head named ``name`` (None: unnamed) in ``frame``, as
        the walk words it; None where a head may stand (a named entry of the network's own list)."""
        assert self.d is not None
        if self.d.key != "" or not frame.top or isinstance(name, GenName):
            return head_misplaced
        if name is None or not name.isidentifier():
            return head_unnamed
        return None

    def reported(self, checks: Sequence[Diagnostic | Site], x: str, body: list[Stmt]) -> None:
        """A statement that only checks where it stands (Stmt.checks: errors it reports there)."""
        body.append(If(out=self.new(()), shape=(), span=checks[0].span if isinstance(checks[0], Diagnostic)
                       else checks[0].loc.span, cond=False, input=x, body=[], output=x, absent=True,
                       checks=tuple(checks)))

    def unknown_reference(self, ref: m.Ref, x: str, frame: Frame, *, pos: bool = False) -> str:
        """A stand-in of unknown size for a `from:` that names nothing (E305 where it runs);
        ``pos``: it stands for an unnamed entry that takes its list's next number."""
        shape = self.fresh("fault", f"v{self._n + 1}", len(self.shape(x)))
        out = self.new(shape)
        frame.body.append(Fault(out=out, shape=shape, span=ref.span, input=x, name=None, pos=pos,
                                training_only=frame.training_only, reference=ref.name,
                                **self._seen_from(ref.name, frame)))
        return out

    def _seen_from(self, name: str, frame: Frame) -> dict[str, Any]:
        """What E305's hint says a `from:` of ``name`` sees here (Read.visible, Read.seen, Read.pending):
        the bindings of the lists around it, as they stand now, and whether its list defines it later."""
        chain = frame.chain()
        return {"visible": tuple(f.bindings for f in chain), "seen": self._binds,
                "pending": any(name in f.pending for f in chain)}

    def container_at(self, c: m.Container, x: str, frame: Frame, name: str | None, *,
                     absent: bool = True, entry: Span | None = None) -> str | None:
        def run(f: Frame) -> str | None:
            out = made(f)
            if entry is not None and c.training_only and out is not None:
                misplaced = self._misplaced(name, frame)
                if misplaced is not None:  # reported where it runs, after what it holds
                    self.reported([misplaced(entry)], out, f.body)
            return out

        def made(f: Frame) -> str | None:
            x_in = self.inputs(c, x, f, ("child", name) if name is not None else ("take",))
            sub = f.child(training_only=c.training_only)
            kind = c.kind
            if kind == "ref":
                return x_in
            if kind == "layers":
                assert c.layers is not None
                if isinstance(c.layers, m.Call):
                    return self.call_at(c.layers, x_in, sub, name)
                return self.sequential(c.layers.items, x_in, sub, name, c.span)
            namer = body_namer(c)
            body: list[Stmt] = []
            out = self.body(c, x_in, sub.child(body=body), namer, name)
            kind_ = "sequential" if kind == "repeat" else kind
            label = "Sequential" if kind == "repeat" else kind
            return self._container(kind_, label, name, namer.mode, x_in, body, out, c.span, sub, False,
                                   reads=len(c.from_))

        checks: list[Diagnostic | Site] = []
        cond = self.when(c.when, frame.env, checks, (x, frame.body))
        with self.nest(c.span):
            return self.guarded(cond, x, frame, c.span, absent, run, checks)

    def container_in_list(self, c: m.Container, x: str, frame: Frame, namer: Namer) -> str:
        def made(f: Frame) -> str:
            kind = c.kind
            if kind == "parallel" and c.flat:  # the branches' modules are this list's own
                if refused:  # reported where it runs; the entry makes nothing
                    self.reported([flat_in_sequential(c.span)], x, f.body)
                    return x
                return self.flat_parallel(c, self.inputs(c, x, f, ("peek",)), f, namer)
            if kind in ("parallel", "residual"):
                if namer.mode == "module":  # reported where it runs; numbered all the same
                    self.reported([unnamed_container(kind, c.span)], x, f.body)
                namer.take()
                cbody: list[Stmt] = []
                inner_namer = body_namer(c)
                sub = f.child(training_only=c.training_only)
                x_in = self.inputs(c, x, sub, ("here",))
                out = self.body(c, x_in, sub.child(body=cbody), inner_namer, None)
                return self._container(kind, kind, None, inner_namer.mode, x_in, cbody, out, c.span, sub, True)
            if kind == "ref":
                namer.take()
                return self.inputs(c, x, f, ("take",))
            x_in = self.inputs(c, x, f, ("peek",))
            sub = f.child(training_only=True) if c.training_only else f
            if kind == "layers":
                assert c.layers is not None
                items = (c.layers,) if isinstance(c.layers, m.Call) else c.layers.items
                out = self.entries(items, x_in, sub, namer)
            else:
                out = self.repeat(c, x_in, sub, namer, None)
            if sub is not f:
                f.absorb(sub)
            return out

        refused = c.kind == "parallel" and c.flat and namer.mode != "module"

        def run(f: Frame) -> str:
            out = made(f)
            if c.training_only and not refused:  # not a head: the network returns its heads by name
                self.reported([(self._misplaced(None, frame) or head_unnamed)(c.span)], out, f.body)
            return out

        checks: list[Diagnostic | Site] = []
        cond = self.when(c.when, frame.env, checks, (x, frame.body))
        with self.nest(c.span):
            out = self.guarded(cond, x, frame, c.span, False, run, checks)
        return x if out is None or c.training_only else out

    def body(self, b: m.BodyFields, x: str, frame: Frame, namer: Namer, name: str | None) -> str:
        kind = b.kind
        if kind == "layers":
            assert b.layers is not None
            items = (b.layers,) if isinstance(b.layers, m.Call) else b.layers.items
            return self.entries(items, x, frame, namer)
        if kind == "repeat":
            return self.repeat(b, x, frame, namer, name)
        if kind == "parallel":
            return self.flat_parallel(b, x, frame, namer) if b.flat else self.parallel(b, x, frame)
        assert b.residual is not None
        return self.residual(b.residual, x, frame, namer)

    def repeat(self, b: m.BodyFields, x: str, frame: Frame, namer: Namer, name: str | None) -> str:
        assert b.repeat is not None and b.each is not None
        checks: list[Diagnostic | Site] = []
        count = self.evaluated(b.repeat.expr, b.repeat.loc, frame.env, "count", checks)
        items = (b.each,) if isinstance(b.each, m.Call) else b.each.items
        if self.concrete:
            if count is UNKNOWN:  # after an error (a parameter's): left out, as the walk leaves it
                return x
            if any(_error(c) for c in checks) or isinstance(count, bool) or not isinstance(count, int) \
                    or count < 0 or (self.limits is not None and count > self.limits.max_repeat):
                # its count an error: a loop of nothing, which reports it where it runs and is left out
                return self.loop(b, count, (), x, frame, namer, name, checks)
            return self.unrolled(b, count, items, x, frame, namer, name)
        return self.loop(b, count, items, x, frame, namer, name, checks)

    def loop(self, b: m.BodyFields, count: Any, items: tuple[m.Entry, ...], x: str, frame: Frame, namer: Namer,
             name: str | None, checks: list[Diagnostic | Site]) -> str:
        """A repeat written once, its index a symbol."""
        assert b.repeat is not None
        rank = len(self.shape(x))
        loop_out = f"v{self._n + 1}"  # the value the loop will produce: its fresh symbols' owner
        carried = self.fresh("carried", loop_out, rank)
        self._n += 1
        self._nested(loop_out)
        body_in = self.new(carried)
        body: list[Stmt] = []
        env = with_names(frame.env, {b.index: Sym(b.index)})
        sub = frame.child(env, body=body, reads=[])
        out = self.entries(items, body_in, sub, namer)
        if len(self.shape(out)) != rank:
            raise Unsymbolic("a repeat whose body changes the rank of its input", b.repeat.loc.span)
        shape = self.fresh("output", loop_out, rank)
        self._shapes[loop_out] = shape
        frame.body.append(Loop(out=loop_out, shape=shape, span=b.repeat.loc.span, index=b.index, count=count,
                               input=x, carried=carried, body_input=body_in, body=body, output=out,
                               where=name or "", training_only=frame.training_only,
                               reads=tuple(sub.reads), checks=tuple(checks)))
        return loop_out

    def unrolled(self, b: m.BodyFields, count: Any, items: tuple[m.Entry, ...], x: str, frame: Frame,
                 namer: Namer, name: str | None) -> str:
        """A repeat written out, one copy of its entries per index value (a definition written for
        values); each copy's statements marked with its repeat, for the notes. ``count``: a whole
        number within the limit (see repeat). One whose copies would write more entries than the graph
        may hold nodes (a repeat of 60,000 empty blocks is a valid network, but costs as much to write)
        is written once instead, its index a symbol: instantiation counts what it makes exactly, and
        refuses it at once where a limit is certainly passed (archc/ir/estimate.py). Where its entries
        cannot be written so, the network is refused (TooLong, E600)."""
        assert b.repeat is not None
        if count == 0:  # its entries still claim the names they would take (see left_out)
            self.left_out(lambda f: self.entries(items, x, f, namer), frame, {b.index: Sym(b.index)})
            return x
        start, written = len(frame.body), self._written
        visits = self._visits.setdefault(id(frame.body), (frame.body, []))[1]
        visited = len(visits)
        self._unrolling.append(b.repeat.loc.span)
        try:
            out = x
            for i in range(count):
                before = len(frame.body)
                self._visit(frame.body, b.repeat.loc.span)  # each repeat is a step of its own
                out = self.entries(items, out, frame.child(with_names(frame.env, {b.index: i})), namer)
                _mark(frame.body[before:], Mark("repeat", b.index, b.repeat.loc.span, index=i))
            return out
        except TooLong as long:
            if long.span != b.repeat.loc.span:  # (a repeat around this one passed the limit: it is written once)
                raise
            del frame.body[start:], visits[visited:]  # (what it wrote, and the steps it marked there)
            self._written = written
            # its block calls written once, not for values no copy has; nothing of it written out
            saved = self.concrete, self._unrolling
            self.concrete, self._unrolling = False, []
            try:
                out = self.loop(b, count, items, x, frame, namer, name, [])
                loop = frame.body[-1]
                assert isinstance(loop, Loop) and loop.out == out
                loop.once = True
                return out
            except Unsymbolic:
                raise long from None
            finally:
                self.concrete, self._unrolling = saved
        finally:
            self._unrolling.pop()

    def left_out(self, run: Any, frame: Frame, names: dict[str, Any] | None = None) -> None:
        """Entries that a false condition or a repeat of 0 leaves out, written and thrown away: a
        definition written once writes them, and names its ops in the order they are written (a
        later dropout with other attributes is `dropout_1` whether they run or not)."""
        env = with_names(frame.env, names) if names else frame.env
        written = self._written  # (none of it is kept: see unrolled)
        with contextlib.suppress(Exception):  # what it cannot write claims nothing (the walk claims what it can)
            run(frame.child(env, body=[], reads=[]))
        self._written = written

    def parallel(self, b: m.BodyFields, x: str, frame: Frame) -> str:
        assert b.parallel is not None
        outs: list[str] = []
        present: list[Any] = []
        for branch in b.parallel:
            before = len(frame.body)
            out = self.value(branch.value, x, frame.child(), branch.name)
            if out is None:
                continue
            added = frame.body[before:]
            guard = added[-1].cond if added and isinstance(added[-1], If) and added[-1].out == out else True
            outs.append(out)
            present.append(guard)
        if not outs:
            return x
        if len(outs) == 1 and present[0] is True:
            return outs[0]
        return self.merge(b.merge or "concat", outs, present, b.dim, "parallel", ("here",), b.merge_span or b.span,
                          frame)

    def flat_parallel(self, b: m.BodyFields, x: str, frame: Frame, namer: Namer) -> str:
        """Branches written as a list: entries of the enclosing list, each reading ``x`` (a branch is
        never conditional: the parser refuses `when:` on one)."""
        assert b.parallel is not None
        outs = [self.entry(branch, x, frame, namer) for branch in b.parallel]
        if len(outs) == 1:
            return outs[0]
        return self.merge(b.merge or "concat", outs, [True] * len(outs), b.dim, "parallel", ("take",),
                          b.merge_span or b.span, frame)

    def residual(self, res: m.Residual, x: str, frame: Frame, namer: Namer) -> str:
        body = self.entries(res.body, x, frame, namer)
        shape_in, shape_body = self.shape(x), self.shape(body)
        checks: list[Diagnostic | Site] = []
        if res.when is not None:  # asked after the body, as the walk asks it
            use = self.evaluated(res.when.expr, res.when.loc, frame.env, "cond", checks, boolean=True)
            if any(_error(c) for c in checks) or use is UNKNOWN:  # an error (reported here): false, as in the walk
                use, checks = False, [c for c in checks if _error(c)]
                if checks:
                    self.reported(checks, body, frame.body)
                checks = []
            elif not _is_condition(use):
                if is_symbolic(use):  # true or false in some instances only: written for values
                    raise Unsymbolic("a residual's `when:` that is not true or false", res.when.loc.span)
                self.reported([not_a_condition(use, res.when.loc.span, RESIDUAL_WHEN_HINT)], body, frame.body)
                use = False
        elif len(shape_in) != len(shape_body):
            use = True
        else:  # the spatial sizes first: `stride != 1 or in_channels != planes * 4` reads as torchvision's
            use = or_(*(_changes(a, b) for a, b in (*zip(shape_in[1:], shape_body[1:]), (shape_in[0], shape_body[0]))))
        shortcut = x
        sc = res.shortcut
        if sc is not None and use is not False:
            def run(f: Frame) -> str | None:
                if isinstance(sc, m.Named):
                    return self.value(sc.value, x, f, sc.name)
                if isinstance(sc, m.Seq):
                    return self.sequential(sc.items, x, f, "shortcut", sc.span)
                if isinstance(sc, m.Call):
                    return self.call_at(sc, x, f, "shortcut")
                return self.container_at(sc, x, f, "shortcut")

            shortcut = self.guarded(use, x, frame, getattr(sc, "span", res.span), False, run, checks) or x
            guard = frame.body[-1] if frame.body else None
            if isinstance(guard, If) and guard.out == shortcut:  # (see If.shortcut)
                guard.shortcut = True
        out = self.merge("add", [body, shortcut], [True, True], 1, "residual", ("here",), res.span, frame)
        add = frame.body[-1]
        assert isinstance(add, Merge)
        if res.when is None and sc is not None:  # the projection is taken where the body changes the shape
            add.shortcut_of = x
        add.identity = x
        if sc is None:
            add.hint = NO_SHORTCUT
        elif res.when is not None:
            add.hint, add.hint_unless = SHORTCUT_OFF, use
        return self.entries(res.then, out, frame, namer)

    def merge(self, kind: str, ins: list[str], present: list[Any], dim: int, role: str, site: tuple[str, ...],
              span: Span, frame: Frame) -> str:
        op = self.ops.get(kind)
        attrs = bind(op, [], {"dim": dim} if kind == "concat" else {})
        shapes = [self.shape(i) for i in ins]
        try:
            if all(p is True for p in present):
                shape = op.output_shape(tuple(shapes), attrs)
            else:
                shape = _merge_maybe(kind, op, attrs, shapes, present)
        except (NotSymbolic, SymbolicBranch) as err:
            raise Unsymbolic(f"{kind}: {err}", span) from None
        value = self.new(shape)
        frame.body.append(Merge(out=value, shape=tuple(shape), span=span, op=op, attrs=attrs, inputs=tuple(ins),
                                present=tuple(present), role=role, site=site, training_only=frame.training_only))
        return value

    # --- calls --------------------------------------------------------------------------------

    def resolve(self, call: m.Call, frame: Frame) -> Op | BlockRef | SymBlock | Diagnostic | _Called:
        """What a call calls; an error (E300) where it names nothing or a parameter that holds no
        block (a Fault stands in its place)."""
        name = call.call.callee
        if name in frame.env:
            value = frame.env[name]
            if isinstance(value, (BlockRef, SymBlock)):
                return value
            if is_symbolic(value) and name not in self.ops and self._untyped(name):
                # `activation: none` called as `activation`: lowering called the block each call
                # passed, but one class cannot know which
                raise Unsymbolic(f"'{name}' is called as a block, but the parameter is not declared `{name}: block` "
                                 "(one that defaults to none cannot be called)", call.loc.span)
            if name not in self.ops:  # a parameter of another type (E300 where it runs)
                return _Called(name, value)
        if name not in self.ops:  # its hint is found where it is reported (see Fault.candidates)
            return Diagnostic("E300", f"unknown op or block '{name}'", call.callee_span)
        return self.ops.get(name)

    def _untyped(self, name: str) -> bool:
        """Is ``name`` a parameter of the running definition that may hold a block in some call (no
        type declared, no default or a default of none: its symbol's kind is a guess)?"""
        assert self.d is not None
        param = next((p for p in self.d.params if p.name == name), None)
        return param is None or (param.declared is None and (param.required or param.default is None))

    def fault(self, found: Diagnostic | _Called, call: m.Call, x: str, frame: Frame, name: str | None,
              pos: bool) -> str:
        """A stand-in for a call of nothing, or of a parameter that holds no block: reported where it
        runs, of unknown size after."""
        value = f"v{self._n + 1}"
        shape = self.fresh("fault", value, len(self.shape(x)))
        out = self.new(shape)
        if isinstance(found, _Called):
            frame.body.append(Fault(out=out, shape=shape, span=call.span, input=x, name=name, pos=pos,
                                    training_only=frame.training_only, callee=found.name, diag_at=call.callee_span,
                                    param=True, value=found.value))
            return out
        blocks = self._blocks_in(frame.env)
        frame.body.append(Fault(out=out, shape=shape, span=call.span, input=x, name=name, pos=pos,
                                training_only=frame.training_only, callee=call.call.callee,
                                candidates=(*self.ops.names, *blocks), diag_at=found.span))
        return out

    def _blocks_in(self, env: Mapping[str, Any]) -> tuple[str, ...]:
        """The names of the blocks ``env`` holds (a did-you-mean's candidates), found once per scope: a
        list of 3,000 calls of misspelt names in a file of 3,000 blocks went over them 9 million times."""
        found = self._candidates.get(id(env))
        if found is None or found[0] is not env:
            found = self._candidates[id(env)] = (env, tuple(k for k, v in env.items() if isinstance(v, BlockRef)))
        return found[1]

    def call_in_list(self, call: m.Call, x: str, frame: Frame, namer: Namer) -> str:
        target = self.resolve(call, frame)
        if isinstance(target, (Diagnostic, _Called)):  # numbered as the walk numbers its stand-in
            namer.take()
            return self.fault(target, call, x, frame, None, True)
        if isinstance(target, BlockRef) and target.defn.inline:
            return self.inline(target, call, x, frame, namer)
        if isinstance(target, (BlockRef, SymBlock)):
            namer.take()
            # an unnamed call in a list that names its layers: only an inline block may stand there
            out = self.instance(target, call, x, frame, None, pos=True, only_inline=namer.mode == "module")
            if isinstance(target, BlockRef) and namer.mode == "module":
                frame.body[-1].checks = (needs_name(f"block {target.name}", call.span), *frame.body[-1].checks)
            return out
        attrs, faults = self.bind_attrs(target, call, frame)
        if namer.mode == "sequential":
            namer.take()
            if target.holds_parameter:
                faults += (held_in_list(target.name, call.span),)
            return self.layer(target, call, attrs, x, frame, None, pos=True, faults=faults)
        name, ok = namer.unnamed(target.name, None if attrs is None else _hashable(attrs), target.stateful)
        if not ok:  # an error (E304), reported where it runs: named by its number there (Layer.numbered)
            return self.layer(target, call, attrs, x, frame, name, numbered=True,
                              faults=(*faults, needs_name(target.name, call.span)))
        return self.layer(target, call, attrs, x, frame, name, shared=not target.stateful, faults=faults)

    def call_at(self, call: m.Call, x: str, frame: Frame, name: str | None, *, pos: bool = False) -> str:
        target = self.resolve(call, frame)
        if isinstance(target, (Diagnostic, _Called)):
            return self.fault(target, call, x, frame, name, pos)
        if isinstance(target, (BlockRef, SymBlock)):
            return self.instance(target, call, x, frame, name, pos=pos)
        attrs, faults = self.bind_attrs(target, call, frame)
        return self.layer(target, call, attrs, x, frame, name, pos=pos, faults=faults)

    def bind_attrs(self, op: Op, call: m.Call, frame: Frame) -> tuple[Any, tuple[Diagnostic | Site, ...]]:
        """The op's attributes, symbolic where its arguments are, and its checks (Stmt.checks):
        None with the error where the op does not take them, or an argument cannot be evaluated
        (reported where the layer runs)."""
        fields = list(op.Attrs.model_fields)
        checks: list[Diagnostic | Site] = []
        args = [self.evaluated(a, call.loc, frame.env, fields[k] if k < len(fields) else f"#{k}", checks)
                for k, a in enumerate(call.call.args)]
        kwargs = {k.name: self.evaluated(k.value, call.loc, frame.env, op.arg_aliases.get(k.name, k.name), checks)
                  for k in call.call.kwargs}
        if any(_error(c) for c in checks):
            return None, tuple(checks)  # reported where it runs (the walk binds nothing after such an error)
        if any(v is UNKNOWN for v in (*args, *kwargs.values())):  # after an error (a parameter's): unknown
            return None, tuple(checks)
        if not any(is_symbolic(v) for v in (*args, *kwargs.values())):
            try:
                return bind(op, args, kwargs), ()
            except BindError as err:
                return None, (bind_error(err, arg_spans(call)),)
        try:  # what it takes, whatever the values (they are validated where the layer runs)
            bind(op, [None] * len(args), dict.fromkeys(kwargs))
        except BindError as err:
            if err.code in ("E301", "E308"):  # reported where every argument is known (the walk binds
                # nothing after an expression's error, or a value an earlier error left unknown)
                return None, (*checks, IfKnown(bind_error(err, arg_spans(call))))
        # (bind took them as written: each argument names a field once)
        data = {**dict(zip(fields, args)), **{op.arg_aliases.get(k, k): v for k, v in kwargs.items()}}
        # validated with the values (instantiation): a wrong value is lowering's walk's to report
        return op.Attrs.model_construct(**data), tuple(checks)

    def layer(self, op: Op, call: m.Call, attrs: Any, x: str, frame: Frame, name: str | None, *,
              shared: bool = False, pos: bool = False, faults: tuple[Diagnostic | Site, ...] = (),
              numbered: bool = False) -> str:
        """``faults``: errors reported where it runs (see Stmt.checks); with ``attrs`` None (an
        argument it does not take), or a merge op called as a layer, its sizes are unknown."""
        if op.arity is None:
            faults, attrs = (*faults, joins_inputs(op.name, call.callee_span)), None
        shape: Any = None
        if attrs is not None and _takes_rank(op, self.shape(x)):
            try:
                shape = op.output_shape((self.shape(x),), attrs)
            except (NotSymbolic, SymbolicBranch) as err:
                raise Unsymbolic(f"{op.name}: {err}", call.span) from None
            except REFUSED:
                # refused whatever the sizes (a negative padding, an upsample of neither size nor factor,
                # a permute of more dims than its input has, which the op's check refuses before its
                # rule sizes anything): reported where it runs
                pass
        if shape is None:
            # no size to follow (an input of a rank the op does not take, arguments its shape rule
            # refuses: the rule reports that where the layer runs, as it reports any other input)
            shape = self.fresh("fault", f"v{self._n + 1}", len(self.shape(x)))
        value = self.new(shape)
        frame.body.append(Layer(out=value, shape=tuple(shape), span=call.span, op=op, attrs=attrs, inputs=(x,),
                                name=name, shared=shared, pos=pos, numbered=numbered, training_only=frame.training_only,
                                args_at=arg_spans(call), checks=faults))
        return value

    def args(self, block: BlockRef | SymBlock, call: m.Call, frame: Frame) -> _Args:
        c = call.call
        if isinstance(block, SymBlock):
            # the callee is only known when the module is built: pass the arguments as written
            # (instantiation binds them to the block passed, see instantiate._bind_args)
            values = {f"#{k}": self.eval(a, frame.env, call.span) for k, a in enumerate(c.args)}
            values.update({k.name: self.eval(k.value, frame.env, call.span) for k in c.kwargs})
            spans = arg_spans(call)
            at = {f"#{k}": span for k, span in enumerate(spans.args)}
            at.update(dict(spans.kwargs))
            return _Args(values, tuple(values), at=at)
        decls = block.defn.params
        found = _Args({}, ())
        spans = arg_spans(call)
        values, found.at = bind_given(
            block.name, [d.name for d in decls], list(zip(c.args, spans.args)),
            [(k.name, k.value, span) for k, (_, span) in zip(c.kwargs, spans.kwargs)],
            lambda arg, name: self.evaluated(arg, call.loc, frame.env, name, found.faults), found.faults.append)
        found.given = tuple(d.name for d in decls if d.name in values)
        scope = ChainMap(values, block.unit.blocks)
        for decl in decls:
            if decl.name not in values:
                if decl.default is None:  # reported where the call runs; of unknown value there
                    required = [d.name for d in decls if d.default is None]
                    found.missing.append((decl.name, missing_arg(block.name, decl.name, required, call.span)))
                    values[decl.name] = Sym(f"_fault_{call.span.line}_{call.span.col}_{decl.name}")
                else:  # (an error of it, an undefined name, is reported where the call runs)
                    values[decl.name] = self.evaluated(decl.default.expr, decl.default.loc, scope, decl.name,
                                                       found.faults)
                    found.at[decl.name] = decl.default.loc.span
        found.values = {d.name: values[d.name] for d in decls}
        return found

    def instance(self, block: BlockRef | SymBlock, call: m.Call, x: str, frame: Frame, name: str | None, *,
                 pos: bool = False, only_inline: bool = False) -> str:
        found = self.args(block, call, frame)
        args, given = found.values, found.given
        rank = len(self.shape(x))
        busy = self._keys.get((id(block.defn), rank)) if isinstance(block, BlockRef) else None
        if busy is not None and busy in self._busy:  # a block inside itself
            return self.uses_itself(call, x, frame, block=busy, args=args, given=given, name=name, pos=pos)
        value = f"v{self._n + 1}"
        self._n += 1
        self._nested(value)
        room = self.deferred(block)
        deferred = isinstance(block, BlockRef) and room is not None and room < 0
        stack = False
        try:
            if isinstance(block, BlockRef) and not deferred and self.concrete:
                # every call written for its values, as the walk expands it (a block written once may be
                # what did not reproduce the walk's graph: a projection its shapes do not call for), and
                # as the walk binds them: unknown where one is left out, of the wrong type, or an error
                # (reported where the call runs, see Instance.checks and instantiate._types)
                d = self.specialized(block, rank, self._as_bound(block, args), self.shape(x), room)
            elif isinstance(block, BlockRef) and not deferred:
                d = self.definition(block, rank, room)
        except RecursionError:  # (a raised nesting limit, past what Python's stack allows): written
            deferred = stack = True  # where it runs, if it does (a chain never called is a valid network)
        if deferred:  # past the nesting limit: written where it runs (E604 there before it)
            self._cutting = True
        if isinstance(block, BlockRef) and not deferred:
            inputs = [str(s) for s in d.input_shape]
            mapping = {**args, **dict(zip(inputs, self.shape(x)))}
            own = {p.name for p in d.params} | set(inputs)
            shape = None
            if all(free_symbols(dim) <= own for dim in d.out_shape):
                try:
                    shape = tuple(substitute(dim, mapping) for dim in d.out_shape)
                except (NotSymbolic, SymbolicBranch, TypeError) as err:
                    if not any(_error(f) for f in found.faults) and not found.missing \
                            and self._well_typed(block, args):
                        raise Unsymbolic(f"{block.name}: {err}", call.span) from None
                    # an argument the call does not take, or of the wrong type: reported where it runs
                except ArithmeticError:  # an error of these values (a division by zero): reported where it runs
                    pass
            if shape is None:
                shape = self.fresh("output", value, len(d.out_shape))
            key, param = d.key, None
        else:
            shape = self.fresh("output", value, rank)
            key, param = None, None if deferred else block.name
        self._shapes[value] = shape
        frame.body.append(Instance(out=value, shape=shape, span=call.span, block=key, param=param, args=args,
                                   given=given, input=x, name=name, pos=pos, training_only=frame.training_only,
                                   only_inline=only_inline, checks=tuple(found.faults),
                                   missing=tuple(found.missing), args_at=tuple(found.at.items()),
                                   callee_at=call.callee_span, deferred=block if deferred else None, stack=stack))
        return value

    def uses_itself(self, call: m.Call, x: str, frame: Frame, **instance: Any) -> str:
        """A block called inside itself: an instance that says so, an error reported where it runs
        (E306, at the callee), of unknown size."""
        value = f"v{self._n + 1}"
        self._n += 1
        self._nested(value)
        shape = self._shapes[value] = self.fresh("output", value, len(self.shape(x)))
        frame.body.append(Instance(out=value, shape=shape, span=call.span, input=x, param=None,
                                   training_only=frame.training_only, recursive=True, callee_at=call.callee_span,
                                   **instance))
        return value

    def specialized(self, block: BlockRef, rank: int, args: dict[str, Any], shape: Dims,
                    room: int | None = None) -> Definition:
        """``block`` written for one call's values (``args``, an input of ``shape``): for a block that
        cannot be written once for all its calls (a ``str`` parameter choosing a layer), so that the
        graph is still the module IR's instantiation. Emission refuses such a definition."""
        # (an input of sizes known only where it runs, fresh symbols, is written with them: the output of
        # a block passed as a parameter, or of a layer an error left of unknown size)
        if any(is_symbolic(v) for v in args.values()) \
                or any(not name.startswith("_") for dim in shape for name in free_symbols(dim)):
            raise Unsymbolic(f"block '{block.name}' cannot be written once, nor for these values")
        try:
            ident: Any = (id(block.defn), rank, tuple(args.items()), tuple(shape))
            found = self._specials.get(ident)
        except TypeError:  # a value that cannot be a key: written again
            ident, found = None, None
        if found is not None:
            return self.definitions[found]
        if id(block.defn) in self._inlining:
            raise Unsymbolic(f"block '{block.name}' uses itself", block.defn.name_span)
        key = f"{block.name}@{len(self._specials) + 1}"
        while key in self.definitions:
            key += "_"
        defn = block.defn
        scope = ChainMap(dict(args), block.unit.blocks)
        params = [Param(decl.name, value_type(args[decl.name]), args[decl.name], False,
                        decl.type or default_type(decl, scope)) for decl in defn.params]
        d = Definition(key, block.name, params, rank, tuple(shape), defn.kind, "module", span=defn.name_span,
                       doc=defn.doc, inline=defn.inline)
        namer = body_namer(defn)
        d.mode = namer.mode
        env = ChainMap({**args, "input": ShapeView(tuple(shape))}, block.unit.blocks)

        def body(frame: Frame) -> str:
            return self.body(defn, "x", frame, namer, None)

        saved, room_outside = self.concrete, self._room
        self.concrete, self._room = True, room
        self._inlining.add(id(defn))  # a block that calls itself: E306, where it runs
        try:
            self._define(d, env, block.unit, body)
        finally:
            self.concrete, self._room = saved, room_outside
            self._inlining.discard(id(defn))
        self.definitions[key] = d
        if ident is not None:
            self._specials[ident] = key
        return d

    @staticmethod
    def _checked(block: BlockRef, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """A call's values as the walk binds them (ir/params.py): each of its parameter's type (an
        int where a float is wanted made one), else unknown; and whether all of them are."""
        scope, scratch = ChainMap(dict(args), block.unit.blocks), Reporter()
        out = {decl.name: check_type(scratch, args[decl.name], decl.type or default_type(decl, scope), decl.name,
                                     None, "argument") for decl in block.defn.params}
        return out, not scratch.errors

    def _as_bound(self, block: BlockRef, args: dict[str, Any]) -> dict[str, Any]:
        """A call's values written for: as the walk binds them, unknown where one is left out or an
        error (a fault's symbol)."""
        return self._checked(block, {k: UNKNOWN if is_symbolic(v) else v for k, v in args.items()})[0]

    def _well_typed(self, block: BlockRef | SymBlock, args: dict[str, Any]) -> bool:
        return not isinstance(block, BlockRef) or self._checked(block, args)[1]

    def typed(self, block: BlockRef, args: dict[str, Any]) -> tuple[tuple[str, Any, str | None, Any], ...]:
        """A call's arguments as (name, value, declared type, default's value or None): the type a
        value must have is the declared one, else its default's (ir/params.py)."""
        scope = ChainMap(dict(args), block.unit.blocks)
        return tuple((d.name, args[d.name], d.type, None if d.default is None else self._default(d.default, scope))
                     for d in block.defn.params)

    def inline(self, block: BlockRef, call: m.Call, x: str, frame: Frame, namer: Namer) -> str:
        defn = block.defn
        if id(defn) in self._inlining:  # spliced inside itself
            return self.uses_itself(call, x, frame, block=None, args={}, name=None, callee=block.name)
        found = self.args(block, call, frame)
        if any(_error(f) for f in found.faults):  # reported where the call runs, before its body
            self.reported(found.faults, x, frame.body)
        args = found.values
        faults = self._mistyped(block, args, found, call)
        before = len(frame.body)
        if defn.kind not in ("layers", "repeat"):  # nothing to splice: an error where the call runs, in
            # the block (its notes say so), after its arguments'; the running value passes
            self.reported([inline_body(block.name, defn.name_span)], x, frame.body)
            _mark(frame.body[before:], Mark("inline", block.name, call.span, self.typed(block, args),
                                            faults=tuple(faults.items()), at=tuple(found.at.items())))
            return x
        env = ChainMap({**args, "input": ShapeView(self.shape(x))}, block.unit.blocks)
        inner = Frame(env, block.unit, x, frame.body, training_only=frame.training_only, top=frame.top,
                      reads=frame.reads)
        if self._room is not None and self._nest >= self._room:
            # its body nests past the nesting limit wherever it runs: instantiation reports E604 where this
            # stands (Definition.nest_at), before it, so it is not spliced (as deep as Python's stack allows)
            with self.nest(call.span):
                frame.body.append(If(out=self.new(()), shape=(), span=call.span, cond=False, input=x, body=[],
                                     output=x, absent=True))
            return x
        self._inlining.add(id(defn))
        try:
            with self.nest(call.span):
                out = self.body(defn, x, inner, namer, None)
        finally:
            self._inlining.discard(id(defn))
        # where its statements came from, for notes; and its arguments' types, checked per instance
        # (a statement-free body has nothing whose figures a wrong argument could change)
        # (and the parameters it leaves out, or gives a value of the wrong type, of unknown value where
        # it runs: reported there, E302, E202)
        _mark(frame.body[before:], Mark("inline", block.name, call.span, self.typed(block, args),
                                        faults=tuple(faults.items()), at=tuple(found.at.items())))
        return out

    def _mistyped(self, block: BlockRef, args: dict[str, Any], found: _Args,
                  call: m.Call) -> dict[str, Diagnostic | None]:
        """An inline call's arguments that are errors where it runs, in the parameters' order: those it
        leaves out (E302), and those whose values, known here, are not of their parameters' types
        (E202, a fresh symbol in ``args`` instead, unknown there as the walk takes it). A default that
        reads one is written again from that symbol (unknown there too, as the walk binds a call,
        ir/params.block_args), or, where it cannot be, is a fresh symbol with nothing to report (None).
        One whose type depends on the caller's parameters is checked where it runs (instantiate._inline_args)."""
        missing = dict(found.missing)
        faults: dict[str, Diagnostic | None] = {}
        scope = ChainMap(args, block.unit.blocks)
        for decl in block.defn.params:
            if decl.name in missing:
                faults[decl.name] = missing[decl.name]
                continue
            if decl.name not in found.given and decl.default is not None \
                    and names_in(decl.default.expr) & faults.keys():
                try:
                    args[decl.name] = self.eval(decl.default.expr, scope, decl.default.loc.span)
                except Unsymbolic:  # (of unknown value, with nothing more to report)
                    args[decl.name] = self._unknown_arg(call, decl.name, decl.type or "int")
                    faults[decl.name] = None
                continue
            value = args[decl.name]
            if is_symbolic(value):
                continue
            scratch, want = Reporter(), decl.type or default_type(decl, scope)
            check_type(scratch, value, want, decl.name, found.at.get(decl.name, call.span), f"{block.name}() argument")
            if scratch.errors:
                args[decl.name] = self._unknown_arg(call, decl.name, want or "int")
                faults[decl.name] = scratch.errors[0]
        return faults

    def _unknown_arg(self, call: m.Call, name: str, kind: str) -> Any:
        """An inline call's argument of unknown value where it runs (an error): a symbol of the
        parameter's kind (a condition reads a bool one); written for values, unknown itself (a str has
        no symbol)."""
        if self.concrete:
            return UNKNOWN
        return _symbol(f"_fault_{call.span.line}_{call.span.col}_{name}", kind)


# --- helpers ---------------------------------------------------------------------------------


def _short_circuits(expr: Any) -> bool:
    """Does ``expr`` hold a part that evaluates only some of its operands (`a if c else b`, `and`, `or`)?"""
    return any(isinstance(node, (IfExp, BoolOp)) for node in walk_expr(expr))


def _mark(stmts: list[Stmt], mark: Mark) -> None:
    """``mark`` on ``stmts`` and everything inside them, outside the marks they have."""
    for stmt in walk(stmts):
        stmt.marks = (mark, *stmt.marks)


def _unique(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    return name


def _symbol(name: str, kind: str) -> Any:
    if kind == "bool":
        return Sym(name, boolean=True)
    if kind == "list":
        return SymList(name)
    if kind == "block":
        return SymBlock(name)
    if kind == INT_OR_PAIR:
        return SymIntPair(name)
    if kind == "float":  # a float symbol: arithmetic with it is kept as written (archc.sym.Real)
        return Sym(name, real=True)
    if kind == "int":
        return Sym(name)
    raise Unsymbolic(f"a {kind} parameter ('{name}') cannot vary between a block's calls in one class: "
                     "choose with a bool parameter (`when: use_hs`) or pass the block to use (`act: block`; "
                     "an op goes in a block that holds it, `Hardswish: {layers: hardswish}`)")


def _derived(expr: Any, env: Mapping[str, Any], values: Mapping[str, Any], value: Any) -> Any:
    """``expr`` evaluated with the parameters before it as symbols, where that is what the graph
    holds (the same value and type once the values are put in); else ``value`` itself."""
    from .. import sym

    try:
        got = evaluate(expr, env)
        again = tuple(sym.evaluate(v, values) for v in got) if isinstance(got, tuple) else sym.evaluate(got, values)
    except (ExprError, NotSymbolic, SymbolicBranch, TypeError, ValueError, ArithmeticError, KeyError, IndexError):
        return value
    same = type(again) is type(value) and again == value
    if isinstance(value, tuple) and same:
        same = all(type(a) is type(b) for a, b in zip(again, value))
    return got if same and is_symbolic(got) else value


@dataclass
class _Args:
    """A block call's arguments bound to its parameters (``values``), the ones the call writes,
    and what it gets wrong: arguments it does not take (``faults``), parameters it leaves out
    that have no default (``missing``, each of unknown value); ``at``: where each value is written."""

    values: dict[str, Any]
    given: tuple[str, ...]
    faults: list[Diagnostic | Site] = field(default_factory=list)  # its checks (Stmt.checks)
    missing: list[tuple[str, Diagnostic]] = field(default_factory=list)
    at: dict[str, Span] = field(default_factory=dict)


def _once(err: Exception, span: Span) -> Unsymbolic:
    return Unsymbolic(f"cannot evaluate this expression once for every instance: {err}", span)


def _is_condition(value: Any) -> bool:
    """True or false, or a condition of symbols."""
    return isinstance(value, bool) or (isinstance(value, Sym) and value.is_bool)


def _error(check: Diagnostic | Site) -> bool:
    """Is it an error, or an expression define could not evaluate (not one of symbolic value)?"""
    return not isinstance(check, Site) or check.symbol is not None


@dataclass(frozen=True)
class _Called:
    """A parameter that holds no block, called as a layer (E300 where it runs)."""

    name: str
    value: Any


def _takes_rank(op: Op, shape: Dims) -> bool:
    try:
        op.check_rank((shape,))
    except ShapeError:
        return False
    return True


def _hashable(attrs: Any) -> Any:
    """Attributes as the namer's key: symbolic ones compared by structure, never symbolically."""
    if any(is_symbolic(v) for v in dict(attrs).values()):
        return tuple((k, _Key(v)) for k, v in dict(attrs).items())
    return attrs


class _Key:
    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __hash__(self) -> int:
        return hash(self.value) if isinstance(self.value, Sym) else hash(repr(self.value))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Key):
            return False
        a, b = self.value, other.value
        if isinstance(a, Sym) or isinstance(b, Sym):
            return isinstance(a, Sym) and a.same(b)
        return bool(a == b)


def _changes(a: Any, b: Any) -> Any:
    """Does a size ``a`` become a different ``b``? A strided window, ``(a - 1) // s + 1``, changes
    the size exactly where ``s != 1`` for sizes of 2 or more: that is the condition written (as
    torchvision writes its shortcut's), so a block's class needs no spatial sizes. For a size of
    1 it would differ (a stride changes nothing there); the instantiation check (emit/writer.py)
    refuses such a network rather than write a different one."""
    from ..sym import Binary, Sum

    if isinstance(b, Sum) and b.const == 1 and len(b.terms) == 1:
        term, coeff, _ = b.terms[0]
        if coeff == 1 and isinstance(term, Binary) and term.op == "//" and _same(term.a, a - 1):
            return term.b != 1
    return a != b


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, Sym) or isinstance(y, Sym):
        return isinstance(x, Sym) and x.same(y)
    return bool(x == y)


def _choose(cond: Any, a: Dims, b: Dims) -> Dims:
    from ..sym import cond as sym_cond

    if len(a) != len(b):
        raise Unsymbolic("a `when:` that changes the rank of its input")
    return tuple(sym_cond(cond, p, q) for p, q in zip(a, b))


def _merge_maybe(kind: str, op: Op, attrs: Any, shapes: list[Dims], present: list[Any]) -> Dims:
    """The merged shape where some inputs exist only under a condition: a concat's size along
    its dimension counts each present input; the others are the first input's."""
    from ..sym import cond as sym_cond

    first = shapes[0]
    if kind == "mul":  # an absent factor broadcasts like a size of 1 (sizes are at least 1)
        from ..sym import sym_max

        return tuple(sym_max(*(s[d] if p is True else sym_cond(p, s[d], 1) for s, p in zip(shapes, present)))
                     for d in range(len(first)))
    if kind != "concat":
        return first
    rank = len(first)
    dim = attrs.dim - 1 if attrs.dim > 0 else attrs.dim + rank
    total: Any = 0
    for shape, p in zip(shapes, present):
        total = total + (shape[dim] if p is True else sym_cond(p, shape[dim], 0))
    return tuple(total if k == dim else d for k, d in enumerate(first))


def define(program: Program, graph: Graph) -> ModuleIR:
    """The module IR of a program that lowered to ``graph`` without error."""
    return Definer(program, graph).run()
