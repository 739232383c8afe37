"""The module IR: one graph per block definition (and one for the network) whose sizes are
expressions of the definition's parameters and of its input's sizes.

Where the concrete :class:`~archc.ir.graph.Graph` holds every repeat unrolled and every
block instance expanded, the module IR holds each definition once, as PyTorch code is
written: a block's body is a list of statements over *values* (tensors), and the sizes
of those values are :mod:`archc.sym` expressions (``planes * 4``,
``(in_height - 1) // stride + 1``). What varies between instances is an expression;
what is decided per instance is a statement:

- :class:`Layer`: an op module (attributes as expressions);
- :class:`Instance`: a block instance, of a definition or of a block-typed parameter;
- :class:`Merge`: concat, add or mul of values (a residual's add, parallel branches, ``from:``);
- :class:`Container`: a module of its own with a body (an ``nn.Sequential``, parallel
  branches, a residual);
- :class:`If`: a ``when:`` whose truth depends on parameters (and a residual's projection
  shortcut, taken where the body changes the shape);
- :class:`Loop`: a ``repeat:``, its body written once for a symbolic index, the input's
  sizes carried from one iteration to the next;
- :class:`Head`: a training-only side output.

It is plain data: nothing here refers to the spec's objects, so every later stage
(instantiation, emission, passes) reads this and never the spec. Statements keep the
source span they came from for diagnostics.

Symbols: a definition's parameters by their names; its input's sizes ``in_channels``,
``in_height``, ``in_width`` (``in_length`` for a 1-d signal); and *fresh* symbols, which
stand for a size that only exists when the module is built (the output of an instance of
a block-typed parameter, a loop's running input, a loop's result). :attr:`Definition.fresh`
says what each fresh symbol stands for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import Diagnostic, Span

Dims = tuple[Any, ...]  # a symbolic shape, batch excluded: ints and archc.sym expressions


class GenName(str):
    """A module's name made in each repeat from its index (``denselayer{i + 1}``): the text as
    written, with its parts (text, and expressions of the index and parameters) in turn. Being
    text, it reads as a name that is no Python identifier wherever a name is only compared or
    shown; instantiation makes each repeat's name and emission writes an f-string."""

    parts: tuple[Any, ...]

    def __new__(cls, text: str, parts: tuple[Any, ...]) -> GenName:
        made = super().__new__(cls, text)
        made.parts = parts
        return made


@dataclass(frozen=True)
class Mark:
    """Where a statement came from, for the notes of a diagnostic: an inline block call whose body
    it was spliced from ("in block 'Stage' called inline in 'features'"), or one repeat of an
    unrolled ``repeat:`` ("in repeat i=2 of 'layer1'"; only in a definition written per
    instance, see :class:`~archc.ir.define.Definer`)."""

    kind: str  # inline | repeat
    name: str  # the block's name, or the repeat's index
    span: Span  # the call, or the repeat's count
    # inline: the call's arguments as (name, value, declared type, default's value), whose types
    # instantiation checks per instance; and the arguments that are errors where the call runs, in
    # the parameters' order: left out (E302) or of a type known wrong (E202), each value a fresh
    # symbol, unknown there
    args: tuple[tuple[str, Any, str | None, Any], ...] = ()
    index: int = 0  # repeat: the index's value
    faults: tuple[tuple[str, Diagnostic], ...] = ()
    at: tuple[tuple[str, Span], ...] = ()  # inline: where each argument is written


@dataclass(frozen=True)
class ArgSpans:
    """Where a call and each of its arguments are written."""

    call: Span
    args: tuple[Span, ...] = ()  # positional, in order
    kwargs: tuple[tuple[str, Span], ...] = ()  # (name as written, span)

    def at(self, arg: str | int | None) -> Span:
        """The argument's span (an index: positional; a name: keyword), else the call's."""
        if isinstance(arg, int) and arg < len(self.args):
            return self.args[arg]
        if isinstance(arg, str):
            for name, span in self.kwargs:
                if name == arg:
                    return span
        return self.call


@dataclass
class EntryName:
    """A named entry's name, which lowering makes and claims where the entry stands, before it asks
    the entry's `when:` (as the walk does): a name taken already is an error (E303) there, and so is
    a name a repeat's index makes that cannot name a layer (E304), whether the entry runs or not."""

    name: str  # the name, or a GenName that each repeat makes
    span: Span  # where it is written
    template: str | None = None  # the name as written, where a repeat's index makes it (`layer{i + 1}`)
    input: str = ""  # the running value where the entry stands, which passes on where the name is refused
    # Where the name is refused, the walk runs none of the entry: the first of its statements claims
    # the name (``key``, its value), and those after it in the same list (``rest``: a `from:`'s merge
    # before the layers, a training-only head) are passed over too. A `from:` that reads the name
    # (a :class:`Read`) then finds the binding before it, as the walk does.
    key: str = ""
    rest: tuple[str, ...] = ()
    # the parts of a made name that are errors (a name defined nowhere): reported where the name is
    # made, before it is claimed (the entry is then passed over, as the walk passes it)
    sites: tuple[Site, ...] = ()


@dataclass(frozen=True)
class IfKnown:
    """An error reported where the statement runs only where every expression it evaluates before
    (its Sites) is known there: an op called with arguments it does not take, which the walk binds,
    and refuses, only after evaluating them, and not after one is an error or of unknown value."""

    diag: Diagnostic

    @property
    def span(self) -> Span | None:
        return self.diag.span


@dataclass(frozen=True)
class Site:
    """An expression as written, which a statement evaluates: where its value is an error (an
    undefined name, a division by zero, a number past the language's bounds), lowering evaluates
    it again with this instance's values, as the walk evaluates it, to report that error in the
    walk's words, at the part of the expression it is about (the walk's E401-E405)."""

    expr: Any  # archc.spec.expr's tree
    loc: Any  # archc.spec.model.Loc: where the text stands (the error points into it)
    names: tuple[tuple[str, Any], ...]  # the names it reads, each with its value where it is defined
    key: str  # what it gives: an op's attribute, a block's parameter, "cond", "count"
    # where ir/define.py could not evaluate it: the fresh symbol that stands for its value, unknown
    # where it runs, and the hint of an undefined name's error (found with the names defined there)
    symbol: str | None = None
    hint: str | None = None
    value: Any = None  # else its value, symbolic


@dataclass(slots=True, kw_only=True)
class Stmt:
    out: str  # the value it produces (unique within its definition)
    shape: Dims
    span: Span
    training_only: bool = False
    # takes the next number of its list when it runs (an unnamed entry of a numbered list, or a
    # named one: nn.Sequential numbers every child)
    pos: bool = False
    # numbers of its list passed over before it (the inference pass dropped the entries that held
    # them: in a list of named modules the others keep their numbers, as the concrete pass keeps them)
    skip: int = 0
    # the inline block calls whose bodies it was spliced from and the unrolled repeats it was
    # written for, outermost first (see Mark)
    marks: tuple[Mark, ...] = ()
    # what lowering checks wherever this statement runs, in the walk's order, before the statement
    # runs: errors found once, reported with that instance's notes (an unnamed conv in a list that
    # names its layers, arguments an op does not take; see archc/ir/report.py), none where it never
    # runs; and the expressions it evaluates (Site), of symbolic value or that define could not
    # evaluate, reported where their values are errors. After an error its sizes are unknown.
    checks: tuple[Diagnostic | Site | IfKnown, ...] = ()
    entry: EntryName | None = None  # the first statement of a named entry: its name, claimed first
    # the entries of a list that lowering visits where this statement runs, each one step
    # (Limits.max_steps): the entry that makes it, if it begins one, after those before it that
    # made no statement (a `when: false` group), each by its span, in order
    visits: tuple[Span, ...] = ()


@dataclass(slots=True, kw_only=True)
class Layer(Stmt):
    op: Any  # archc.ops.base.Op
    attrs: Any  # the op's Attrs, fields possibly symbolic
    inputs: tuple[str, ...]
    name: str | None  # its attribute name; None: numbered by position in an nn.Sequential
    shared: bool = False  # a parameter-free op named after itself and shared by identical uses
    args_at: ArgSpans | None = None  # where its arguments are written (an error points at one)
    # an unnamed layer with parameters in a list that names its layers (E304 where it runs): named
    # there by the list's next number, as the walk names it (in a repeat, each run the next one);
    # ``name`` is the number of its first run, which emission writes
    numbered: bool = False


@dataclass(slots=True, kw_only=True)
class Instance(Stmt):
    block: str | None  # the definition's key, or None for a block-typed parameter, or deferred
    param: str | None  # the parameter holding the block (``block`` in ResNet's Stage)
    args: dict[str, Any]  # parameter -> value (expressions of the caller's symbols)
    input: str
    name: str | None
    # the arguments the call writes (the rest are defaults); for a block-typed parameter, as written:
    # ``#0``, ``#1`` positional, then keywords, bound to the block it holds where it runs
    given: tuple[str, ...] = ()
    # an unnamed call in a list that names its layers: only an inline block, spliced in, may stand
    # there (a block-typed parameter's value, known per instance)
    only_inline: bool = False
    # where each parameter's value is written (an argument, or the default; for a block-typed parameter,
    # each argument as written), for the error where it is not of the parameter's type, or not one the
    # block takes; and the parameters a call leaves out that have no default (E302,
    # reported in the parameters' order with those errors, as the walk reports them)
    args_at: tuple[tuple[str, Span], ...] = ()
    missing: tuple[tuple[str, Diagnostic], ...] = ()
    # a call of a block inside its own definition (E306 where it runs: where it is written, ``callee_at``;
    # instantiation finds the others, through a block-typed parameter, where they run)
    recursive: bool = False
    callee_at: Span | None = None
    callee: str = ""  # the block's name as called, where ``block`` names no definition (an inline block)
    # a call past the nesting limit where the definitions around it run (an error there, E604, before
    # it): the block (an archc.spec BlockRef), defined where it runs, if it does (Definer.deferred)
    deferred: Any = None
    stack: bool = False  # deferred where writing it ran out of Python's stack (a raised nesting limit)


@dataclass(slots=True, kw_only=True)
class Merge(Stmt):
    op: Any
    attrs: Any
    inputs: tuple[str, ...]
    present: tuple[Any, ...]  # per input: True, or a boolean expression (a branch behind `when:`)
    role: str  # residual | parallel | from
    # where its id comes from: ("here",) the current path; ("child", name) a named entry's
    # path; ("take",) / ("peek",) the list's next number, taken or not
    site: tuple[str, ...] = ("here",)
    # a residual's add whose projection shortcut is taken where the body changes the shape: the
    # residual's input, so that instantiation can check each instance against that rule
    shortcut_of: str | None = None
    # a residual's add: what lowering's error says where the shapes do not add up, NO_SHORTCUT or
    # SHORTCUT_OFF (archc/ir/report.py), the latter only where ``hint_unless`` is true; and the
    # residual's input, whose shortcut is "shortcut (identity)" there
    hint: str = ""
    hint_unless: Any = False
    identity: str | None = None


@dataclass(slots=True, kw_only=True)
class Container(Stmt):
    kind: str  # sequential | parallel | residual
    name: str | None
    mode: str  # how unnamed entries are named: sequential | module
    input: str
    body: list[Stmt]
    output: str
    label: str = ""
    reads: int = 0  # the names its `from:` reads (memory analysis: held until the forward returns)
    tail: tuple[Span, ...] = ()  # entries at the end of its body that make no statement (see Stmt.visits)


@dataclass(slots=True, kw_only=True)
class If(Stmt):
    cond: Any  # a boolean expression
    input: str
    body: list[Stmt]
    output: str  # the body's value when cond holds
    absent: bool  # when it does not: no value at all (a branch, a named entry), else ``input``
    label: str | None = None  # the named entry it guards (`use_res_connect: {when: ...}`), for the flag
    tail_skip: int = 0  # numbers passed over after its body, where it holds (see Stmt.skip)
    reads: tuple[str, ...] = ()  # values read by name where it holds (see Definition.reads)
    tail: tuple[Span, ...] = ()  # entries at the end of its body that make no statement (see Stmt.visits)
    # a residual's projection shortcut, taken where the body changes the shape: the condition says
    # so only where no size is 1 (a stride of 2 on a size of 1 changes nothing), so the size
    # estimate (archc/ir/estimate.py) counts none of it
    shortcut: bool = False


@dataclass(slots=True, kw_only=True)
class Loop(Stmt):
    index: str
    count: Any  # an int expression
    input: str
    carried: Dims  # fresh symbols: the running input's sizes inside the body
    body_input: str
    body: list[Stmt]
    output: str  # the body's value: the next iteration's input
    where: str = ""  # the path of the list it repeats in, for notes
    # entries at the end of its body that make no statement, visited in every repeat (see Stmt.visits;
    # each repeat is a step of its own too)
    tail: tuple[Span, ...] = ()
    reads: tuple[str, ...] = ()  # values read by name in each repeat (see Definition.reads)
    tail_skip: int = 0  # numbers passed over after each repeat of its body (see Stmt.skip)
    # a repeat of a network written for its values, written once instead of once per index (its
    # copies would write too much: Definer.unrolled), where a shared module must be one per use
    # (Varies) is refused instead (TooLong)
    once: bool = False


@dataclass(slots=True, kw_only=True)
class Fault(Stmt):
    """A call of something that is neither an op nor a block, or a `from:` that names nothing
    (``checks`` says what): lowering reports it where it runs and stands a node of unknown size
    in its place, as the walk does, so that what follows reports no errors of its own about it.
    Only in a spec with errors."""

    input: str
    name: str | None  # None, not numbered: a `from:`'s stand-in, at its container's path
    # a call of a name that is neither (E300, with a did-you-mean over ``candidates``, the ops and
    # blocks, found only where it is reported: hundreds of them cost seconds), written at ``diag_at``
    callee: str | None = None
    candidates: tuple[str, ...] = ()
    diag_at: Span | None = None
    # a parameter called as a layer (E300, naming the type of ``value``, where it runs)
    param: bool = False
    # a `from:` that names nothing here (E305, where it runs): the name, and the names seen there for
    # the hint, found where it runs (see Read: names a repeat makes, names refused there)
    reference: str | None = None
    visible: tuple[dict[str, list[tuple[str, EntryName | None, int]]], ...] = ()
    seen: int = 0
    pending: bool = False
    value: Any = None


@dataclass(slots=True, kw_only=True)
class Head(Stmt):
    name: str
    value: str


@dataclass(slots=True, kw_only=True)
class Read(Stmt):
    """A point read by name (``from: a``) where a named entry binds the name: its value is the
    latest binding of the name whose entry lowering did not refuse where it ran (E303: the walk
    binds nothing then), from ``candidates`` ((value, entry), latest first; an entry of None cannot
    be refused). Where none is left, the walk finds no such point: E305 here, with the names it
    sees (``visible``), and a stand-in of unknown size for the whole `from:`, whose later
    statements (``rest``: its other reads, its merge) are passed over. Only instantiation reads it:
    the module IR that emission and the passes read holds none (:func:`strip_reads`)."""

    input: str  # the latest binding's value
    name: str
    candidates: tuple[tuple[str, EntryName | None], ...]
    # for E305's hint, the names bound where it reads: the bindings of the lists around it, innermost
    # first (name -> [(value, entry, number)], which grow as their lists go on: those numbered up to
    # ``seen`` were made before it)
    visible: tuple[dict[str, list[tuple[str, EntryName | None, int]]], ...] = ()
    seen: int = 0
    pending: bool = False  # the list defines the name later (E305 says so)
    rest: tuple[str, ...] = ()


@dataclass
class Param:
    name: str
    kind: str  # int | float | bool | str | list | block
    default: Any = None  # an expression of earlier parameters, or a value; None: required
    required: bool = True
    # the type it declares (``planes: int``); None: its default's type, or any (ir/params.py)
    declared: str | None = None
    default_at: Span | None = None  # where its default is written (an error of that value points there)
    # a default that is an error (a name defined nowhere; ``default`` is UNKNOWN): the expression,
    # reported where a call of a block passed as a value takes it (see instantiate._bind_args)
    default_error: Site | None = None


@dataclass
class Definition:
    """One block definition (or the network, ``key == ""``) lowered with symbols."""

    key: str
    name: str
    params: list[Param]
    rank: int  # of the input
    input_shape: Dims  # in_channels, in_height, in_width (concrete for the network)
    kind: str  # the body's kind: layers | repeat | parallel | residual
    mode: str
    body: list[Stmt] = field(default_factory=list)
    output: str = "x"
    out_shape: Dims = ()
    # fresh symbol -> (what, value id, dimension): "output" of an instance or a loop, "carried"
    # (a loop's running input)
    fresh: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    span: Span | None = None
    doc: str = ""
    inline: bool = False  # spliced into the list that calls it (VGG's stages)
    # values a `from:` reads by name wherever the definition runs (the emitted forward keeps each
    # in a variable of its own; If.reads and Loop.reads: those read only where they run)
    reads: list[str] = field(default_factory=list)
    # value -> how deeply lowering's walk nests blocks and containers where the statement making it
    # stands, counted from the definition's body (absent: 0); Limits.max_nesting
    nesting: dict[str, int] = field(default_factory=dict)
    # value -> where each of those levels is entered (E604 points at the one past the limit)
    nest_at: dict[str, tuple[Span, ...]] = field(default_factory=dict)
    # value -> the levels the walk enters before the statement making it, deeper than the statement
    # and with nothing in them (an entry that only names a point, `t: {from: a}`)
    deeper: dict[str, tuple[Span, ...]] = field(default_factory=dict)
    tail: tuple[Span, ...] = ()  # entries at the end of its body that make no statement (see Stmt.visits)


class Stop(Exception):
    """Lowering's instantiation reported an error after which it goes no further (a limit passed)."""


class Decline(Exception):
    """The module IR cannot vouch for this spec's graph. Lowering reports every error a spec can
    hold (archc/ir/instantiate.py): a check that declines there is a fault of archc's (an internal
    error, never a network other than the one checked). Its kinds that lowering meets by design:
    :class:`Disagrees` and :class:`Varies` (the network is then written for its values), and
    :class:`TooLong` (E600)."""

    def __init__(self, why: str, span: Span | None = None, hint: str | None = None):
        super().__init__(why)
        self.span, self.hint = span, hint  # hint: E720's, where emission refuses the network


class TooLong(Decline):
    """A repeat written out for values (a definition written per instance) whose copies would write
    more than ``limit`` entries (the node limit), and that cannot be written once, or, written once
    (:attr:`Loop.once`), makes a shared module with other arguments in each repeat (:class:`Varies`):
    lowering refuses the network (E600 at the repeat, archc.ir.define.Definer.unrolled)."""

    def __init__(self, limit: int, span: Span):
        super().__init__("a repeat written out beyond the node limit", span)
        self.limit = limit


class Disagrees(Decline):
    """A decision the module IR writes once (a residual's projection under ``stride != 1 or
    in_channels != planes * 4``) differs here from the walk's rule (the body changes the shape:
    not for a stride of 2 on a size of 1). The network is the walk's; emission refuses it."""


class Varies(Disagrees):
    """One statement written once stands here for modules that differ between its uses: a shared
    parameter-free op whose arguments change in a repeat (`dropout(i * 0.1)` in a list that names
    its layers). The network is written for its values (E720 at compile, with the way out)."""


@dataclass(frozen=True)
class InitScheme:
    """The spec's ``init:``, as plain values (see docs/language.md, "Initialisation")."""

    conv: str | None = None
    linear: str | None = None
    norm: str | None = None
    std: float = 0.01
    zero_init_residual: bool = False


@dataclass
class ModuleIR:
    """Every definition the network uses (callees before callers) and the network's own, with
    what the emitted file says about the spec: its name, doc and file, and its ``init:``."""

    definitions: dict[str, Definition]
    network: Definition
    name: str = ""
    doc: str = ""
    file: str = ""
    init: InitScheme | None = None


def walk(body: list[Stmt]):  # type: ignore[no-untyped-def]
    """Every statement of a body, nested ones included, in order."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (Container, If, Loop)):
            yield from walk(stmt.body)


def strip_reads(ir: ModuleIR) -> ModuleIR:
    """``ir`` without its :class:`Read` statements (instantiation's alone), each read of one the
    value it reads: what emission and the passes read. In place; returns ``ir``."""
    for d in ir.definitions.values():
        strip_definition(d)
    strip_definition(ir.network)
    return ir


def strip_definition(d: Definition) -> None:
    alias: dict[str, str] = {}

    def of(value: str) -> str:
        while value in alias:
            value = alias[value]
        return value

    def body(stmts: list[Stmt]) -> list[Stmt]:
        kept = []
        for stmt in stmts:
            if isinstance(stmt, Read):
                alias[stmt.out] = stmt.input
                continue
            for name in ("input", "output", "value", "body_input", "shortcut_of", "identity"):
                if hasattr(stmt, name) and isinstance(getattr(stmt, name), str):
                    setattr(stmt, name, of(getattr(stmt, name)))
            if isinstance(stmt, (Layer, Merge)):
                stmt.inputs = tuple(of(v) for v in stmt.inputs)
            if isinstance(stmt, (Container, If, Loop)):
                stmt.body = body(stmt.body)
                stmt.output = of(stmt.output)
            kept.append(stmt)
        return kept

    d.body = body(d.body)
    d.output = of(d.output)
