"""Instantiation: the concrete :class:`~archc.ir.graph.Graph` of a module IR for given
parameter values, mechanically: conditions decided, loops unrolled, instances expanded,
expressions evaluated, shapes inferred by each op's rule.

This is how lowering makes the graph that every later stage reads (:mod:`archc.ir.lower`
runs it with ``limits``): node ids, module paths, scopes, shapes, and the notes that say
which call and which repeat made a node, exactly as the walk gives them for the same spec
(the walk: lowering as archc did it before the module IR, walking the spec itself, kept as
the tests' reference in tests/ir/walk.py; tests/ir/test_module_ir.py and
tests/ir/test_reported.py compare the two on every spec the suite holds). Run for lowering,
it also makes each check that depends on the values: argument types, conditions that are
true or false, repeat counts, the names a repeat makes, every op's shape rule, and the
limits (nodes and steps counted as the walk counts them, and foreseen before they are made:
archc/ir/estimate.py). It reports the errors as the walk does (:mod:`archc.ir.report` words
them): an op's shape rule that fails, a size or budget limit passed, a wrong repeat count,
an argument of the wrong type, a name taken or made wrong, and the errors
:mod:`archc.ir.define` marks on a statement (``Stmt.checks``, a ``Fault``), each with the
instance's notes; it then goes on with the sizes that depend on the error unknown, as the
walk does. The checks left (``Instantiator.check``) cannot fail in lowering, where every
error is reported; one that does raises :class:`~archc.ir.module.Decline`: a fault of
archc's (an internal error), never a network other than the one checked.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..diagnostics import Diagnostic, Note, Reporter, Span
from ..limits import Limits
from ..ops import BindError, ShapeError, bind
from ..spec.expr import INT_LIMIT, UNKNOWN, ExprError, ShapeView
from ..spec.expr import evaluate as evaluate_expr
from ..sym import Sym, SymBlock, evaluate, free_symbols, holds, is_symbolic
from .estimate import Estimate, TooBig
from .graph import Graph, Head, Node, Path, Scope, path_str
from .module import (
    Container,
    Decline,
    Definition,
    Dims,
    Disagrees,
    EntryName,
    Fault,
    GenName,
    If,
    IfKnown,
    Instance,
    Layer,
    Loop,
    Mark,
    Merge,
    ModuleIR,
    Read,
    Site,
    Stmt,
    Stop,
    TooLong,
    Varies,
)
from .module import Head as HeadStmt
from .naming import made_name
from .params import bind_given, check_type, value_type
from .report import (
    bind_error,
    budget_error,
    count_error,
    expr_error,
    foreseen_limit,
    inline_body,
    layer_shape_error,
    merge_shape_error,
    missing_arg,
    name_made,
    name_taken,
    needs_name,
    nesting_error,
    node_limit,
    node_taken,
    not_a_layer,
    shape_note,
    size_error,
    step_limit,
    unknown_callee,
    unknown_reference,
    uses_itself,
)

__all__ = ["Unsplicable", "instantiate"]


class Unsplicable(Exception):
    """An instance the module IR cannot stand for (a block-typed parameter holding an inline block)."""

# a block value and an input rank (and in lowering, the levels its body may nest) -> its definition
Resolve = Callable[..., Definition]


def reads_unknown(value: Any, env: Mapping[str, Any]) -> bool:
    """Does ``value`` read a size that an error left unknown (UNKNOWN in ``env``)?"""
    if isinstance(value, tuple):
        return any(reads_unknown(v, env) for v in value)
    return any(env.get(name) is UNKNOWN for name in free_symbols(value))


def concrete(value: Any, env: Mapping[str, Any], limit: int | None = None) -> Any:
    """``value`` with every symbol replaced by its value in ``env``; ``limit``: the bound on the
    integers computed on the way (archc.sym.Overflow)."""
    if isinstance(value, tuple):
        return tuple(concrete(v, env, limit) for v in value)
    if isinstance(value, (Sym, SymBlock)) or is_symbolic(value):
        return evaluate(value, env, limit)
    return value


@dataclass(frozen=True)
class _Call:
    """A block call's arguments as lowering checks them: the parameters it leaves out that have no
    default (each with its error, E302), where each value is written, the call, and the parameters
    whose values it writes (the others take their defaults)."""

    missing: Mapping[str, Diagnostic]
    at: Mapping[str, Span]
    span: Span
    given: frozenset[str]


class _Numbers:
    """The numbers of a list's children, as nn.Sequential gives them."""

    def __init__(self) -> None:
        self.position = 0

    def take(self) -> str:
        self.position += 1
        return str(self.position - 1)


class Instantiator:
    """``limits`` given: lowering's instantiation, which makes the walk's checks (see the module
    docstring); without, the instantiation of an IR that is known to be valid (a pass's result)."""

    def __init__(self, ir: ModuleIR, resolve: Resolve, name: str, limits: Limits | None = None,
                 reporter: Reporter | None = None):
        self.ir = ir
        # lowering's: the errors it reports as the walk reports them (see the module docstring);
        # after one, the sizes that depend on it are UNKNOWN (as in the walk: a condition that
        # reads one is false, a repeat whose count reads one is left out)
        self.reporter = reporter
        self.unknown = False  # has an error left a size unknown?
        # the values of inline calls' arguments of the wrong type where they run: unknown in the
        # statements spliced from those calls, as the walk takes them (see _inline_args)
        self.poisoned: tuple[Any, ...] = ()
        self.once: list[Span] = []  # the repeats written once in a network written for values (Loop.once)
        # the inline blocks whose spliced statements are running (ir/define.py's splices): one passed as
        # a value and called inside itself is found here (E306)
        self.splicing: tuple[str, ...] = ()
        self.resolve = resolve
        self.name = name
        self.limits = limits
        self.graph: Graph = Graph(name, ())
        self.uses: dict[str, int] = {}
        self.spliced: dict[tuple[str, str], set[bool]] = {}  # dynamic instances: spliced (inline) or not
        self.passed: dict[tuple[str, str], set[str]] = {}  # dynamic instances: the definitions they hold
        # statements of a named entry whose name was refused, or of a `from:` that found no point,
        # passed over where they stand: the value each gives instead (see EntryName.rest, Read.rest)
        self.passed_over: dict[str, str] = {}
        self.at: tuple[Span, tuple[Note, ...]] | None = None
        self.key = ""  # the definition whose statements run now (nodes record it as their origin)
        self.training_only = False  # inside an instance that only runs in training (a side head)
        self.trace: tuple[Note, ...] = ()  # the calls and repeats that lead here, as lowering notes them
        self.marked = 0  # how many of a statement's marks (module.Mark) the trace holds already
        self.faulted: set[tuple[int, tuple[Note, ...]]] = set()  # inline calls' faults reported (mark, trace)
        self.base = 0  # levels lowering's walk nests where the running definition's body starts
        self.here: Definition = ir.network  # the running definition (its nesting: Definition.nesting)
        self.steps = 0  # entries visited and repeats made, as the walk counts them (Limits.max_steps)
        # lowering's: a lower bound of what is yet to be made, which refuses a network far past the
        # node or step limit before making it (archc/ir/estimate.py)
        self.estimate = Estimate(ir, limits) if limits is not None else None
        # the block definitions being instantiated around the running statement, outermost first
        # (name, where it is defined): one called inside itself is an error (E306)
        self.expanding: tuple[tuple[str, Any], ...] = ()
        self.params = 0
        self.macs = 0

    def run(self, params: Mapping[str, Any]) -> Graph:
        net = self.ir.network
        shape = tuple(net.input_shape)
        g = self.graph = Graph(self.name, shape, params=dict(params))
        g.add(Node("input", None, None, (), (), net.span, shape=shape, module=False))  # type: ignore[arg-type]
        top = g.add_scope(Scope((), "network", self.name, net.span, "input", mode=net.mode))  # type: ignore[arg-type]
        env: dict[str, Any] = dict(params)
        vals: dict[str, str | None] = {"x": "input"}
        if self.estimate is not None:  # a network far past a limit is refused before any node is made
            estimate = self.estimate
            self._foresee(lambda base: estimate.network(net.body, net.tail, env, base, 0))
        self.body(net.body, env, vals, (), _Numbers())
        self._steps(net.tail)
        self._read(net.reads, vals)
        g.output = top.output = vals[net.output]
        return g

    def val(self, value: Any, env: Mapping[str, Any]) -> Any:
        """``value`` in ``env``: UNKNOWN where it reads a size an error left unknown, or an inline
        block's argument of the wrong type here (``poisoned``). In lowering, an integer on the way
        past the language's bound raises archc.sym.Overflow: the walk reports it (E405), at the
        expression."""
        if self.unknown and reads_unknown(value, env):
            return UNKNOWN
        if self.poisoned and holds(value, self.poisoned):
            return UNKNOWN
        return concrete(value, env, INT_LIMIT if self.limits is not None else None)

    def _bound(self, stmt: Layer, given: dict[str, Any]) -> Any:
        """The layer's attributes of these values, bound as the walk binds the call's arguments
        (archc.ops.bind): where it does not take them (a dropout of p=2), its error (reported as the
        walk reports it, pointed at the argument) and None; outside lowering, validated."""
        if self.reporter is None or stmt.args_at is None:
            return type(stmt.attrs).model_validate(given)
        fields = list(type(stmt.attrs).model_fields)
        args = [given[field] for field in fields[:len(stmt.args_at.args)]]
        kwargs = {name: given[stmt.op.arg_aliases.get(name, name)] for name, _ in stmt.args_at.kwargs}
        try:
            return bind(stmt.op, args, kwargs)
        except BindError as err:
            self._report(bind_error(err, stmt.args_at))
            return None

    def _checks(self, stmt: Stmt, env: dict[str, Any]) -> dict[str, Any]:
        """What lowering checks where ``stmt`` runs (Stmt.checks), in the walk's order: errors found
        once, reported with this instance's notes; the expressions it evaluates, each reported as
        the walk reports it where its value is an error here (see module.Site). The values of those
        of symbolic value, by what they give (UNKNOWN after an error)."""
        known: dict[str, Any] = {}
        unknown = False  # is one of its expressions an error here, or of unknown value (see IfKnown)?
        for check in stmt.checks:
            if isinstance(check, IfKnown):
                if not unknown:
                    self._report(check.diag)
            elif not isinstance(check, Site):
                self._report(check)
            elif check.symbol is not None:
                # an expression define could not evaluate: of unknown value here, after its error,
                # or of the value it has here (`use and widht` where `use` is false)
                env[check.symbol] = self._replay(check, env)
                unknown = unknown or env[check.symbol] is UNKNOWN
            else:
                try:
                    value = self.val(check.value, env)
                    ok = not isinstance(value, float) or math.isfinite(value)  # a float past its bounds?
                except (ArithmeticError, ValueError, TypeError, ExprError):  # a division by zero
                    ok = False
                if not ok:
                    value = self._replay(check, env)
                known[check.key] = value
                unknown = unknown or value is UNKNOWN
        return known

    def _replay(self, site: Site, env: Mapping[str, Any]) -> Any:
        """Evaluate ``site``'s expression with this instance's values, as the walk evaluates it: its
        value, or UNKNOWN after its error, reported as the walk reports it (lowering only)."""
        assert self.reporter is not None
        values: dict[str, Any] = {}
        for name, value in site.names:
            if isinstance(value, ShapeView):
                dims = None if value.shape is None else tuple(self.val(d, env) for d in value.shape)
                values[name] = ShapeView(None if dims is None or UNKNOWN in dims else dims)
            elif isinstance(value, (Sym, SymBlock)) or is_symbolic(value):
                values[name] = self.val(value, env)
            else:
                values[name] = value
        try:
            return evaluate_expr(site.expr, values)
        except ExprError as err:
            diag = expr_error(err, site.loc, lambda _: site.hint)
            self.reporter.add(dataclasses.replace(diag, notes=self.trace))
            self._unknown()
            return UNKNOWN

    def _sizes(self, symbols: Dims, shape: Any) -> dict[str, Any]:
        """Symbols standing for a shape's sizes: UNKNOWN where the shape is (after an error)."""
        return {str(s): UNKNOWN if shape is None else v for s, v in zip(symbols, shape or symbols)}

    # --- checks (lowering's instantiation only) ---------------------------------------------

    def check(self, ok: bool, why: str) -> None:
        if self.limits is not None and not ok:
            raise Decline(why)

    def shape(self, nid: str) -> Any:
        return self.graph.nodes[nid].shape

    def add(self, node: Node, shared: bool) -> str:
        first = self.graph.nodes.get(node.id)
        if first is not None and shared and (self.limits is None or (first.op is node.op
                                                                      and first.attrs == node.attrs)):
            k = self.uses.get(node.id, 1)
            while f"{node.id}#{k}" in self.graph.nodes:
                k += 1
            self.uses[node.id] = k + 1
            node.id = f"{node.id}#{k}"
        elif self.limits is not None:
            if first is not None and shared and first.origin == node.origin and node.op is not None:
                # one statement's shared op with other attributes in this use than in its first,
                # `dropout(i * 0.1)` in a repeat of a list that names its layers: one `self.dropout`
                # cannot be both. Each use is a module of its own (`dropout`, `dropout_1`, ...), which
                # only a definition written for these values holds (emission refuses it, E720); in a
                # repeat of one that is written once, too long to write out (Loop.once): refused
                if self.once:
                    assert self.limits is not None
                    raise TooLong(self.limits.max_nodes, self.once[0])
                raise Varies(
                    f"the unnamed {node.op.name} has other arguments in this use ({node.op.label(node.attrs)}) "
                    f"than in its first ({first.op.label(first.attrs)}): one shared "
                    f"`self.{node.id.rsplit('.', 1)[-1]}` cannot be both", node.span,
                    "name the repeat (`drops: {repeat: ..., each: ...}`): its layers are then numbered as "
                    "nn.Sequential's children, each a module of its own")
            # a name taken already (an inline block's layer of that name, spliced before an unnamed one
            # named after its op): reported, and the node made under another id, as no module
            taken = first if first is not None else self.graph.scopes.get(node.scope) if node.module else None
            if taken is not None:
                self.check(self.reporter is not None, f"the name '{node.id}' is used twice")
                assert self.reporter is not None
                node_taken(self.reporter, node.id, node.span, taken.span)
                self._unknown()
                node.id, node.module = f"{node.id}#{self.graph.next_seq()}", False
        if self.limits is not None:  # every node, a shared one's use too (as in the walk)
            lim = self.limits
            if len(self.graph.nodes) >= lim.max_nodes:
                self.check(self.reporter is not None, "the node limit")
                assert self.reporter is not None
                node_limit(self.reporter, lim.max_nodes, node.span, self.trace)
                raise Stop()
            if self.reporter is not None:
                if size_error(self.reporter, node, lim, self.trace):  # reported; its shape unknown
                    node.shape = None
                    self._unknown()
            elif node.shape is not None:
                self.check(max(node.shape, default=0) <= lim.max_dim and math.prod(node.shape) <= lim.max_numel,
                           "a tensor beyond the size limits")
        node.trace = self.trace
        self.graph.add(node)
        return node.id

    def add_scope(self, scope: Scope) -> Scope:
        if self.limits is not None:
            self.check(scope.path not in self.graph.scopes and path_str(scope.path) not in self.graph.nodes,
                       f"the name '{path_str(scope.path)}' is used twice")
        scope.trace = self.trace
        return self.graph.add_scope(scope)

    def _count(self, node: Node) -> None:
        """Parameters and MACs so far, against the limits (E602)."""
        if self.limits is None or node.op is None:
            return
        assert node.in_shapes is not None and node.shape is not None
        self.params += node.op.params(node.in_shapes, node.attrs)
        self.macs += node.op.macs(node.in_shapes, node.shape, node.attrs)
        if self.reporter is not None:
            if budget_error(self.reporter, node, self.params, self.macs, self.limits, self.trace):
                raise Stop()
            return
        self.check(self.params <= self.limits.max_params and self.macs <= self.limits.max_macs, "the budget")

    def _steps(self, spans: tuple[Span, ...]) -> None:
        """Steps taken: the entries (or a repeat) at ``spans`` (Stmt.visits), against the limit (E605)."""
        if self.limits is None:
            return
        for span in spans:
            self.steps += 1
            if self.steps > self.limits.max_steps:
                self.check(self.reporter is not None, "the step limit")
                assert self.reporter is not None
                step_limit(self.reporter, self.limits.max_steps, span, self.trace)
                raise Stop()

    def _foresee(self, estimate: Callable[[tuple[int, int]], None]) -> None:
        """Run a lower bound of what is yet to be made (archc/ir/estimate.py) from what is made now: a
        limit it passes is reported (E600, E605) before anything more is made, and lowering stops."""
        try:
            estimate((len(self.graph.nodes), self.steps))
        except TooBig as big:
            self.check(self.reporter is not None, "a limit passed, foreseen")
            assert self.reporter is not None and self.limits is not None
            foreseen_limit(self.reporter, self.limits, big.what, big.span, big.detail, (*self.trace, *big.trace))
            raise Stop() from None

    def _types(self, named: Any, env: Mapping[str, Any], call: _Call | None = None,
               block: str = "") -> dict[str, Any]:
        """The walk's argument check (ir/params.py): each value of the type its parameter declares,
        or its default's. ``named`` holds (name, value, declared type, default's value). For a call
        of a block of the spec (``call``, of ``block``), an error is reported as the walk reports it,
        with the parameters the call leaves out (E302), in the parameters' order, and the value is
        unknown after. The values, as checked."""
        checked: dict[str, Any] = {}
        if self.limits is None:
            return checked
        report = self.reporter is not None and call is not None
        missing = call.missing if call is not None else {}
        at = call.at if call is not None else {}
        scratch = self.reporter if report and self.reporter is not None else Reporter()
        # the values checked so far: a default reads them, as the walk binds a call (ir/params.block_args),
        # so that one of the wrong type leaves unknown the defaults that read it (`b: a` after `a` of the
        # wrong type), and one mistake is reported once
        scope = ChainMap(checked, env)
        failed = False
        for name, value, declared, default in named:
            if failed and call is not None and name not in call.given and default is not None:
                value = self.val(default, scope)
            checked[name] = value
            if name in missing:
                self._report(missing[name])
                continue
            want = declared
            if value is UNKNOWN:  # after an error: nothing to check
                continue
            if want is None and default is not None:
                found = self.val(default, scope)
                want = None if found is None or found is UNKNOWN else value_type(found)
            checked[name] = check_type(scratch, value, want, name, at.get(name, call.span if call else None),
                                       f"{block}() argument", self.trace)
            if checked[name] is UNKNOWN:
                failed = True
                self._unknown()
        self.check(report or not scratch.errors, "an argument of the wrong type")
        return checked

    def _read(self, reads: Any, vals: Mapping[str, str | None]) -> None:
        """Mark the points a `from:` read by name where it ran."""
        for value in reads:
            nid = vals.get(value)
            if nid is not None:
                self.graph.nodes[nid].read_by_name = True

    # --- statements -------------------------------------------------------------------------

    def body(self, stmts: list[Stmt], env: dict[str, Any], vals: dict[str, str | None], path: Path,
             numbers: _Numbers) -> None:
        for stmt in stmts:
            self.at = (stmt.span, self.trace)  # the last statement entered (E604 where Python's stack runs out)
            numbers.position += stmt.skip
            if stmt.out in self.passed_over:
                vals[stmt.out] = self.passed_over.pop(stmt.out)
                if stmt.pos:
                    numbers.take()
                continue
            if len(stmt.marks) > self.marked:
                with self._marks(stmt, env, path):
                    self._steps(stmt.visits)
                    self._nested(stmt)
                    self.stmt(stmt, env, vals, path, numbers)
            else:
                self._steps(stmt.visits)
                self._nested(stmt)
                self.stmt(stmt, env, vals, path, numbers)

    @contextmanager
    def _marks(self, stmt: Stmt, env: dict[str, Any], path: Path) -> Iterator[None]:
        """A statement spliced from inline block calls, or written for one repeat: their notes on
        its trace, the inline calls' argument types checked."""
        saved = self.trace, self.marked
        where = path_str(path) or self.name
        poisoned, splicing = self.poisoned, self.splicing
        for mark in stmt.marks[self.marked:]:
            if mark.kind == "inline":
                self.poisoned = (*self.poisoned, *self._inline_args(mark, env))
                self.splicing = (*self.splicing, mark.name)
                note = Note(f"in block '{mark.name}' called inline in '{where}'", mark.span)
            else:
                note = Note(f"in repeat {mark.name}={mark.index} of '{where}'", mark.span)
            self.trace = (*self.trace, note)
        self.marked = len(stmt.marks)
        try:
            yield
        finally:
            self.trace, self.marked, self.poisoned, self.splicing = *saved, poisoned, splicing

    def _inline_args(self, mark: Mark, env: dict[str, Any]) -> tuple[Any, ...]:
        """An inline call's arguments checked where it runs, in the parameters' order, as the walk
        checks them: those it leaves out (E302) or gives of a type known wrong (E202, found by
        ir/define.py: fresh symbols, unknown here), and those of the wrong type here (E202), each
        reported once where the call runs (each statement spliced from it enters the mark). The
        latter are unknown in the statements spliced from it, as the walk takes them: their values
        (expressions of the caller's) are returned, to be read as unknown there (``poisoned``), and so
        is any value that holds one (`ws[0] // 2` where `ws[0]` is wrong: the follow-on errors it would
        cause are not reported). One whose value is no expression (a constant wrong only where the
        caller's values give its parameter another type) is read as written."""
        faults = dict(mark.faults)
        first = (id(mark), self.trace) not in self.faulted
        self.faulted.add((id(mark), self.trace))
        at = dict(mark.at)
        scratch = self.reporter if first and self.reporter is not None else Reporter()
        wrong = []
        for name, value, declared, default in mark.args:
            if name in faults:
                if first and faults[name] is not None:
                    self._report(faults[name])
                if is_symbolic(value):  # (written for values: unknown already)
                    env[str(value)] = UNKNOWN  # unknown here and wherever it is read
                continue
            found = self.val(value, env)
            want = declared
            if want is None and default is not None:
                seen = self.val(default, env)
                want = None if seen is None or seen is UNKNOWN else value_type(seen)
            if found is UNKNOWN or check_type(scratch, found, want, name, at.get(name, mark.span),
                                              f"{mark.name}() argument", self.trace) is not UNKNOWN:
                continue
            self.check(self.reporter is not None, "an argument of the wrong type")
            if first:
                self._unknown()
            if is_symbolic(value):
                wrong.append(value)
        return tuple(wrong)

    def _nested(self, stmt: Stmt) -> None:
        if self.limits is not None and not isinstance(stmt, Instance):  # (a block call: see instance)
            self._nesting(stmt)

    def _nesting(self, stmt: Stmt, *, call: bool = False) -> None:
        """E604 where the walk enters a level past the nesting limit on its way to ``stmt`` (the
        lists, containers and inline blocks around it in its definition, Definition.nest_at; and a
        block ``call``'s own), with the notes of what is around that level."""
        assert self.limits is not None
        levels = self.here.deeper.get(stmt.out) or self.here.nest_at.get(stmt.out, ())
        limit = self.limits.max_nesting
        if self.base + len(levels) > limit:
            at = levels[limit - self.base]
        elif call and self.base + len(levels) >= limit:
            at = stmt.span
        else:
            return
        self.check(self.reporter is not None, "the nesting limit")
        assert self.reporter is not None
        # the notes up to that level (a repeat or an inline block inside it is not entered yet)
        trace = tuple(itertools.takewhile(lambda note: not _within(note.span, at), self.trace))
        nesting_error(self.reporter, limit, at, trace)
        raise Stop()

    def _name(self, stmt: Any, numbers: _Numbers, env: Mapping[str, Any]) -> str:
        if getattr(stmt, "numbered", False):  # (an error where it runs, E304: see Layer.numbered)
            return numbers.take()
        number = numbers.take() if stmt.pos else None
        if isinstance(stmt.name, GenName):  # this repeat's name
            made = self._made(stmt.name, env)
            self.check(made is not None, f"the name '{stmt.name}' makes no name a layer can have here, or reads "
                                         "a size an error left unknown")
            return made  # type: ignore[return-value]
        return stmt.name if stmt.name is not None else number  # type: ignore[return-value]

    def _cond(self, value: Any) -> bool:
        """A condition's value (after an error, unknown: false, as the walk takes it)."""
        if value is UNKNOWN:  # after an error: false, as the walk takes it
            return False
        # (ir/define.py reports a `when:` that is not true or false, or writes its definition per instance)
        self.check(isinstance(value, bool), "a condition that is not true or false")
        return bool(value)

    def stmt(self, stmt: Stmt, env: dict[str, Any], vals: dict[str, str | None], path: Path,
             numbers: _Numbers) -> None:
        if stmt.entry is not None and self.reporter is not None:
            refused = _refused(stmt.entry)
            if not self._claim(stmt.entry, env, path):
                # refused: none of the entry runs, its statements after this one are passed over, it
                # still takes its number, and the running value passes
                x = vals[stmt.entry.input]
                vals[refused] = x
                self.passed_over.update(dict.fromkeys(stmt.entry.rest, x))
                if stmt.pos:
                    numbers.take()
                vals[stmt.out] = x
                return
            vals.pop(refused, None)
        # (outside lowering, the IR of a valid spec: nothing to report, the values are found below)
        known = self._checks(stmt, env) if stmt.checks and self.reporter is not None else {}
        if isinstance(stmt, Layer):
            attrs = stmt.attrs
            if attrs is not None and any(is_symbolic(v) for v in dict(attrs).values()):
                given = {k: known[k] if k in known else self.val(v, env) for k, v in dict(attrs).items()}
                attrs = None if UNKNOWN in given.values() else self._bound(stmt, given)
            child = (*path, self._name(stmt, numbers, env))
            x = vals[stmt.inputs[0]]
            assert x is not None
            ins = (self.shape(x),) if attrs is not None and self.shape(x) is not None else None
            node = Node(path_str(child), stmt.op, attrs, child, (x,), stmt.span,
                        shape=None if ins is None else self._infer(stmt, ins, attrs, x),
                        in_shapes=ins, training_only=stmt.training_only or self.training_only,
                        origin=(self.key, stmt.out))
            if node.shape is not None:
                self._count(node)
            else:  # where ir/define.py could not size it, its sizes (fresh symbols) are unknown
                self._bind(tuple(d for d in stmt.shape if str(d).startswith("_fault_")), None, env)
            vals[stmt.out] = self.add(node, stmt.shared and not stmt.op.stateful)
        elif isinstance(stmt, Instance):
            self.instance(stmt, env, vals, path, numbers, known)
        elif isinstance(stmt, Merge):
            self.merge(stmt, env, vals, path, numbers)
        elif isinstance(stmt, Container):
            child = (*path, self._name(stmt, numbers, env))
            x = vals[stmt.input]
            assert x is not None
            scope = self.add_scope(Scope(child, stmt.kind, stmt.label, stmt.span, x, mode=stmt.mode,
                                         training_only=stmt.training_only or self.training_only,
                                         call=(self.key, stmt.out), reads=stmt.reads))
            self.body(stmt.body, env, vals, child, _Numbers())
            self._steps(stmt.tail)
            vals[stmt.out] = scope.output = vals[stmt.output]
        elif isinstance(stmt, If):
            if stmt.pos:
                numbers.take()
            if self._cond(known["cond"] if "cond" in known else self.val(stmt.cond, env)):
                self.body(stmt.body, env, vals, path, numbers)
                self._steps(stmt.tail)
                numbers.position += stmt.tail_skip
                vals[stmt.out] = vals[stmt.output]
                self._read(stmt.reads, vals)
            else:
                vals[stmt.out] = None if stmt.absent else vals[stmt.input]
        elif isinstance(stmt, Loop):
            self.loop(stmt, env, vals, path, numbers, known)
        elif isinstance(stmt, Fault):  # reported as the walk reports it; a stand-in of unknown size
            if stmt.param:
                assert stmt.callee is not None and stmt.diag_at is not None
                value = self.val(stmt.value, env)
                if value is not UNKNOWN:
                    kind = value_type(value)
                    self.check(kind != "block", "a parameter of no type holding a block")
                    self._report(not_a_layer(stmt.callee, kind, stmt.diag_at))
            elif stmt.callee is not None:
                assert stmt.diag_at is not None
                self._report(unknown_callee(stmt.callee, stmt.candidates, stmt.diag_at))
            elif stmt.reference is not None:
                self._report(unknown_reference(stmt.reference, stmt.pending, self._visible(stmt, env, vals),
                                               stmt.span))
            x = vals[stmt.input]
            assert x is not None
            self._stand_in(stmt, x, env, vals, path, numbers)
        elif isinstance(stmt, Read):
            self.by_name(stmt, env, vals, path)
        elif isinstance(stmt, HeadStmt):
            value = vals[stmt.value]
            assert value is not None
            self.graph.heads.append(Head(stmt.name, value, stmt.span))
        else:  # pragma: no cover
            raise TypeError(f"unknown statement {type(stmt).__name__}")

    def _stand_in(self, stmt: Fault | Instance, x: str, env: dict[str, Any], vals: dict[str, str | None], path: Path,
                  numbers: _Numbers) -> None:
        """A node of unknown size where an error leaves nothing to make (as the walk stands one): at the
        statement's name or number, else at the list's path."""
        child = (*path, self._name(stmt, numbers, env)) if stmt.name is not None or stmt.pos else path
        node = Node(f"{path_str(child)}?{self.graph.next_seq()}", None, None, child, (x,), stmt.span, module=False)
        vals[stmt.out] = self.add(node, False)
        self._bind(stmt.shape, None, env)

    def _infer(self, stmt: Layer, ins: Any, attrs: Any, x: str) -> Any:
        """The layer's output shape; after an error in lowering, None (reported as the walk does)."""
        try:
            return stmt.op.infer(ins, attrs)
        except ShapeError as err:
            if self.reporter is None or stmt.args_at is None:
                raise
            layer_shape_error(self.reporter, stmt.op, err, stmt.args_at, shape_note("input", self.graph.nodes[x]),
                              self.trace)
            self._unknown()
            return None

    def _claim(self, entry: EntryName, env: Mapping[str, Any], path: Path) -> bool:
        """A named entry's name, made and claimed before the entry runs (see EntryName): False after
        an error (reported), or where its name reads a size an error left unknown."""
        assert self.reporter is not None
        name: str | None = entry.name
        for site in entry.sites:  # a part that is an error, reported as the walk reports it
            env[site.symbol] = self._replay(site, env)  # type: ignore[index]
        if isinstance(entry.name, GenName):
            parts = tuple(self.val(part, env) for part in entry.name.parts)
            if UNKNOWN in parts:
                return False
            assert entry.template is not None
            name = name_made(self.reporter, entry.template, parts, entry.span, self.trace)
            if name is None:
                self._unknown()
                return False
        child = (*path, name)
        first = self.graph.scopes.get(child) or self.graph.nodes.get(path_str(child))
        if first is None:
            return True
        name_taken(self.reporter, path_str(child), entry.template, entry.span, first.span, self.trace)
        self._unknown()
        return False

    def by_name(self, stmt: Read, env: Mapping[str, Any], vals: dict[str, str | None], path: Path) -> None:
        """A point read by name: its latest binding whose entry ran here without its name refused,
        else none (E305, as the walk reports it) and a stand-in of unknown size for the `from:`."""
        for value, entry in stmt.candidates:
            if entry is None or _refused(entry) not in vals:
                vals[stmt.out] = vals[value]
                return
        assert self.reporter is not None  # (a name is refused only in lowering)
        self._report(unknown_reference(stmt.name, stmt.pending, self._visible(stmt, env, vals), stmt.span))
        x = vals[stmt.input]
        node = Node(f"{path_str(path)}?{self.graph.next_seq()}", None, None, path, (x,), stmt.span, module=False)
        stand_in = vals[stmt.out] = self.add(node, False)
        self.passed_over.update(dict.fromkeys(stmt.rest, stand_in))

    def _visible(self, stmt: Read | Fault, env: Mapping[str, Any], vals: Mapping[str, str | None]) -> list[str]:
        """The names a `from:` sees here, as the walk lists them (E305's hint): those bound before it
        by entries whose names were not refused, as each repeat makes them."""
        visible = ["input"]
        for bindings in stmt.visible:
            for name, found in bindings.items():
                if any(k <= stmt.seen and (e is None or _refused(e) not in vals) for _, e, k in found):
                    made = name if not isinstance(name, GenName) else self._made(name, env)
                    if made is not None:
                        visible.append(made)
        return visible

    def _made(self, name: GenName, env: Mapping[str, Any]) -> str | None:
        """The name a repeat makes here, or None where it makes none."""
        parts = tuple(self.val(part, env) for part in name.parts)
        return None if UNKNOWN in parts else made_name(parts)

    def _blocks(self) -> list[Note]:
        """The notes of the block calls around the running statement (inline ones too), outermost first."""
        return [note for note in self.trace if note.message.startswith("in block")]

    def _report(self, diag: Diagnostic) -> None:
        """An error found before this instance (see Stmt.checks), reported with its notes (only in
        lowering: elsewhere the spec has none)."""
        self.check(self.reporter is not None, diag.message)
        if self.reporter is not None:
            self.reporter.add(dataclasses.replace(diag, notes=self.trace))
            self._unknown()

    def _unknown(self) -> None:
        assert self.reporter is not None
        self.unknown = True
        if self.reporter.full:  # hundreds of errors: the first ones matter, and finding more costs (as the walk)
            raise Stop()

    def loop(self, stmt: Loop, env: dict[str, Any], vals: dict[str, str | None], path: Path,
             numbers: _Numbers, known: Mapping[str, Any]) -> None:
        x = vals[stmt.input]
        assert x is not None
        count = known["count"] if "count" in known else self.val(stmt.count, env)
        if self.reporter is not None and count is not UNKNOWN and self.limits is not None:
            wrong = count_error(self.reporter, count, stmt.span, self.limits, self.trace)
            if wrong == "E603":
                raise Stop()
            if wrong:
                self._unknown()
                count = UNKNOWN
        if count is UNKNOWN:  # after an error: left out, as the walk leaves it (the value passes)
            vals[stmt.out] = x
            env.update(self._sizes(stmt.shape, self.shape(x)))
            return
        if self.limits is not None:
            self.check(isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= self.limits.max_repeat,
                       "a repeat count that is not a whole number within the limit")
        if self.estimate is not None:  # before its first repeat: count × a lower bound of one
            estimate, depth = self.estimate, self.base + self.here.nesting.get(stmt.out, 0)
            self._foresee(lambda base: estimate.loop(stmt, count, env, base, depth))
        inner = ChainMap({}, env)
        where = path_str(path) or self.name
        trace = self.trace
        if stmt.once:
            self.once.append(stmt.span)
        try:
            for i in range(count):
                self.trace = trace
                self._steps((stmt.span,))  # each repeat is a step of its own
                self.trace = (*trace, Note(f"in repeat {stmt.index}={i} of '{where}'", stmt.span))
                inner.maps[0] = {stmt.index: i, **self._sizes(stmt.carried, self.shape(x))}
                vals[stmt.body_input] = x
                self.body(stmt.body, inner, vals, path, numbers)  # type: ignore[arg-type]
                self._steps(stmt.tail)
                self._read(stmt.reads, vals)
                numbers.position += stmt.tail_skip
                x = vals[stmt.output]
                assert x is not None
        finally:
            self.trace = trace
            if stmt.once:
                self.once.pop()
        vals[stmt.out] = x
        self._bind(stmt.shape, self.shape(x), env)

    def _bind(self, symbolic: Dims, shape: Any, env: dict[str, Any]) -> None:
        """Fresh symbols standing for a size known now (a loop's or an instance's output)."""
        for dim, size in zip(symbolic, shape or (UNKNOWN,) * len(symbolic)):
            if isinstance(dim, Sym) and str(dim).startswith("_"):
                env[str(dim)] = size

    def instance(self, stmt: Instance, env: dict[str, Any], vals: dict[str, str | None], path: Path,
                 numbers: _Numbers, known: Mapping[str, Any]) -> None:
        x = vals[stmt.input]
        assert x is not None
        if stmt.param is not None and env.get(stmt.param) is UNKNOWN:
            # a block-typed parameter whose value an error left unknown (E202 where it was given): a
            # stand-in of unknown size, as the walk stands one, with nothing more to report
            self._stand_in(stmt, x, env, vals, path, numbers)
            return
        if self.limits is not None:  # the walk enters one more level here, for the call
            self._nesting(stmt, call=True)
        if stmt.recursive:  # reported as the walk reports it, once: every later use would say the same
            self.check(self.reporter is not None and stmt.callee_at is not None, "a block that uses itself")
            assert self.reporter is not None and stmt.callee_at is not None
            name = stmt.callee or self.ir.definitions[stmt.block or ""].name
            uses_itself(self.reporter, name, len(self._blocks()), stmt.callee_at, self.trace)
            raise Stop()
        in_shape = self.shape(x)
        # (an input an error left unknown: of the rank define gave it, which a passed block keeps)
        rank = len(in_shape) if in_shape is not None else len(stmt.shape)
        if stmt.block is not None:
            d = self.ir.definitions[stmt.block]
        else:  # a block a parameter holds, or one written where it runs (Instance.deferred)
            block = stmt.deferred if stmt.param is None else env[stmt.param]
            # (in lowering, the levels its body may nest: see Definer.definition)
            room = None if self.limits is None else \
                self.limits.max_nesting - self.base - self.here.nesting.get(stmt.out, 0) - 1
            d = self.resolve(block, rank) if room is None else self.resolve(block, rank, room)
            if d.inline and stmt.name is None and stmt.only_inline and d.mode != "module":
                # spliced into a list that names its layers: its unnamed entries named as there
                d = self.resolve(block, rank, room, "module")
        if (d.name, d.span) in self.expanding or (d.inline and d.name in self.splicing):
            # through a block-typed parameter (the walk's check, by definition), or an inline block passed
            # as a value inside its own splice (ir/define.py's, whose note is on the trace: `I → A → I`)
            self.check(self.reporter is not None and stmt.callee_at is not None, "a block that uses itself")
            assert self.reporter is not None and stmt.callee_at is not None
            uses_itself(self.reporter, d.name, len(self._blocks()), stmt.callee_at, self.trace)
            raise Stop()
        for name, _ in stmt.missing:  # no value: unknown here and wherever its symbol is read
            env[str(stmt.args[name])] = UNKNOWN
            self.unknown = True
        args = {k: known[k] if k in known else self.val(v, env) for k, v in stmt.args.items()}
        call = _Call(dict(stmt.missing), dict(stmt.args_at), stmt.span, frozenset(stmt.given))
        if stmt.block is None:
            args, call = self._bind_args(d, args, stmt)
            spliced = d.inline and stmt.name is None
            if not spliced and stmt.only_inline:  # the block passed cannot stand unnamed here
                self._report(needs_name(f"block {d.name}", stmt.span))
            self.spliced.setdefault((self.key, stmt.out), set()).add(spliced)
            self.passed.setdefault((self.key, stmt.out), set()).add(d.key)
        args.update(self._types(((p.name, args[p.name], p.declared, p.default) for p in d.params), args, call,
                                d.name))
        if stmt.block is None and d.inline and stmt.name is None and d.kind not in ("layers", "repeat"):
            # an inline block passed whose body cannot be spliced (branches): an error in it, after its
            # arguments', where the call runs; the running value passes, as the walk passes it
            assert self.reporter is not None  # (only a spec with errors holds one)
            note = Note(f"in block '{d.name}' called inline in '{path_str(path) or self.name}'", stmt.span)
            self.reporter.add(dataclasses.replace(inline_body(d.name, d.span or stmt.span),
                                                  notes=(*self.trace, note)))
            self._unknown()
            vals[stmt.out] = x
            self._bind(stmt.shape, self.shape(x), env)
            return
        inner: dict[str, Any] = {**args, **self._sizes(d.input_shape, in_shape)}
        inner_vals: dict[str, str | None] = {"x": x}
        if stmt.block is None and d.inline and stmt.name is None:  # an inline block passed as a value: spliced
            where = path_str(path) or self.name
            saved = self.key, self.trace, self.marked, self.base, self.here, self.expanding
            self.key, self.marked, self.here = d.key, 0, d
            self.expanding = (*self.expanding, (d.name, d.span))
            self.base += saved[4].nesting.get(stmt.out, 0) + 1
            self.trace = (*self.trace, Note(f"in block '{d.name}' called inline in '{where}'", stmt.span))
            try:
                self.body(d.body, inner, inner_vals, path, numbers)
                self._steps(d.tail)
                self._read(d.reads, inner_vals)
            finally:
                self.key, self.trace, self.marked, self.base, self.here, self.expanding = saved
            out = inner_vals[d.output]
            assert out is not None
            vals[stmt.out] = out
            self._bind(stmt.shape, self.shape(out), env)
            return
        name = self._name(stmt, numbers, env)
        child = (*path, name)
        training_only = stmt.training_only or self.training_only
        scope = self.add_scope(Scope(child, "block", d.name, stmt.span, x, block=d.name, args=args,
                                     training_only=training_only, origin=d.key, call=(self.key, stmt.out),
                                     mode=d.mode))
        saved_state = self.training_only, self.key, self.trace, self.marked, self.base, self.here, self.expanding
        self.training_only, self.key, self.marked, self.here = training_only, d.key, 0, d
        self.expanding = (*self.expanding, (d.name, d.span))
        self.base += saved_state[5].nesting.get(stmt.out, 0) + 1
        self.trace = (*self.trace, Note(f"in block '{d.name}' called as '{path_str(child)}'", stmt.span))
        try:
            self.body(d.body, inner, inner_vals, child, _Numbers())
            self._steps(d.tail)
            self._read(d.reads, inner_vals)
        finally:
            self.training_only, self.key, self.trace, self.marked, self.base, self.here, self.expanding = \
                saved_state
        out = inner_vals[d.output]
        vals[stmt.out] = scope.output = out
        assert out is not None
        self._bind(stmt.shape, self.shape(out), env)

    def _bind_args(self, d: Definition, given: dict[str, Any], stmt: Instance) -> tuple[dict[str, Any], _Call]:
        """Arguments written as a call of a block-typed parameter (``#0`` positional) bound to the
        definition of the block it holds, defaults filled in, as the walk binds a call of that block
        (ir/params.block_args): the arguments it does not take reported (E308, E301), those it leaves
        out to be reported with the types (E302, of unknown value). The values, and where each is written."""
        written = dict(stmt.args_at)
        positional = sum(1 for k in given if k.startswith("#"))
        values, at = bind_given(d.name, [p.name for p in d.params],
                                [(given[f"#{k}"], written.get(f"#{k}", stmt.span)) for k in range(positional)],
                                [(k, v, written.get(k, stmt.span)) for k, v in given.items() if not k.startswith("#")],
                                lambda value, _: value, self._report)
        given = frozenset(values)
        missing: dict[str, Diagnostic] = {}
        for p in d.params:
            if p.name in values:
                continue
            if p.required:  # of unknown value, reported with the types (in the parameters' order)
                missing[p.name] = missing_arg(d.name, p.name, [q.name for q in d.params if q.required], stmt.span)
                values[p.name] = UNKNOWN
                self.check(self.reporter is not None, f"{d.name}() is missing its argument '{p.name}'")
                self.unknown = True
            elif p.default is UNKNOWN:  # a default in error (a name defined nowhere): reported here, as
                # the walk reports it where it binds the call
                self.check(p.default_error is not None and self.reporter is not None,
                           f"{d.name}()'s default of '{p.name}' is an error")
                assert p.default_error is not None
                values[p.name] = self._replay(p.default_error, values)
            else:
                values[p.name] = self.val(p.default, values)
                if p.default_at is not None:
                    at[p.name] = p.default_at
        return values, _Call(missing, at, stmt.span, given)

    def merge(self, stmt: Merge, env: dict[str, Any], vals: dict[str, str | None], path: Path,
              numbers: _Numbers) -> None:
        if stmt.pos:  # a named entry's merge (`n2: {from: [a, b]}`) takes the entry's number
            numbers.take()
        site = stmt.site
        where = path
        if site[0] == "child":
            where = (*path, site[1])
        elif site[0] == "take":
            where = (*path, numbers.take())
        elif site[0] == "peek":
            where = (*path, str(numbers.position))
        ins = [vals[i] for i, p in zip(stmt.inputs, stmt.present) if self.val(p, env) is True]
        present = [i for i in ins if i is not None]
        if stmt.shortcut_of is not None and self.limits is not None:
            # the walk takes a residual's projection where the body changes the shape (a stride of 2
            # on a size of 1 changes nothing, though `stride != 1` holds): the IR must agree here
            body, shortcut, x = vals[stmt.inputs[0]], vals[stmt.inputs[1]], vals[stmt.shortcut_of]
            assert body is not None and x is not None
            if self.shape(body) is not None and self.shape(x) is not None \
                    and (shortcut != x) != (self.shape(body) != self.shape(x)):
                raise Disagrees(f"'{path_str(where) or self.name}' takes its projection shortcut where the "
                                "shapes do not call for it, or the other way round", stmt.span)
        if len(present) == 1:
            vals[stmt.out] = present[0]
            return
        shapes = tuple(self.shape(i) for i in present)
        known = all(shape is not None for shape in shapes)
        node = Node(f"{path_str(where) or self.name}:{stmt.op.name}", stmt.op, stmt.attrs, where, tuple(present),
                    stmt.span, shape=self._join(stmt, shapes, present, vals, env) if known else None,
                    in_shapes=shapes if known else None, module=False,
                    training_only=stmt.training_only or self.training_only, role=stmt.role,
                    origin=(self.key, stmt.out))
        vals[stmt.out] = self.add(node, False)

    def _join(self, stmt: Merge, shapes: Any, present: list[str], vals: Mapping[str, str | None],
              env: Mapping[str, Any]) -> Any:
        """The merge's output shape; after an error in lowering, None (reported as the walk does)."""
        try:
            return stmt.op.infer(shapes, stmt.attrs)
        except ShapeError as err:
            if self.reporter is None:
                raise
            roles: tuple[str, ...] = tuple(f"input {k + 1}" for k in range(len(present)))
            if stmt.identity is not None:  # a residual's add: its body, and its shortcut
                roles = ("body", "shortcut" if vals[stmt.inputs[1]] != vals[stmt.identity] else "shortcut (identity)")
            hint = stmt.hint if stmt.hint and self.val(stmt.hint_unless, env) is not True else None
            merge_shape_error(self.reporter, stmt.op.name, err, stmt.span, stmt.role, hint,
                              (shape_note(r, self.graph.nodes[i]) for i, r in zip(present, roles)), self.trace)
            self._unknown()
            return None


def instantiate(ir: ModuleIR, resolve: Resolve, name: str, params: Mapping[str, Any]) -> Graph:
    """The concrete graph of ``ir`` for the network parameters ``params``."""
    return Instantiator(ir, resolve, name).run(params)


def _within(span: Span | None, region: Span) -> bool:
    """Is ``span`` inside ``region`` of the same file?"""
    return span is not None and span.file == region.file and \
        (region.line, region.col) <= (span.line, span.col) and (span.end_line, span.end_col) <= \
        (region.end_line, region.end_col)


def _refused(entry: EntryName) -> str:
    """Where ``vals`` marks an entry whose name was refused where it last ran (a Read, and E305's hint,
    then pass over its binding)."""
    return "!" + entry.key
