"""One Python class from one body of the module IR: a block definition, the network, or a
container that needs a class of its own (parallel branches, a residual, a list that
reads named points).

``__init__`` builds the children in the order the body lists them, with sizes printed
from the IR's expressions: ``nn.Conv2d(in_channels, planes * 4, 1)``; a condition that
parameters decide becomes ``if``, a repeat a ``for`` loop whose running sizes are
variables. ``forward`` follows the body's data flow; a value gets a variable of its own
only where something reads it later (``inception4a``, ``identity``), otherwise the chain
reuses one (``x = self.conv1(x)``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import Diagnostic
from ..ir.module import Container, Definition, GenName, Head, If, Instance, Layer, Loop, Merge, Stmt, walk
from ..sym import Sym, free_symbols
from .format import if_lines, wrap
from .names import Namespace, camel
from .printer import Printer, Unprintable

__all__ = ["ClassCode", "Unsupported", "write_class"]

DIM_ATTRS = ("out_channels", "out_height", "out_width")
TYPES = {"int": "int", "float": "float", "bool": "bool", "str": "str", "list": "tuple[int, ...]",
         "block": "type[nn.Module]", "int | pair": "int | tuple[int, int]"}


class Unsupported(Exception):
    """The body has no faithful Python form here (reported, never written wrong); ``span``: the
    spec text it comes from, where one is known (else the refusal points at the spec)."""

    def __init__(self, message: str, span: Any = None, hint: str | None = None):
        super().__init__(message)
        self.span, self.hint = span, hint  # hint: how to say it in a form archc can write


@dataclass
class ClassCode:
    name: str
    base: str
    doc: str
    signature: list[str]  # "planes: int", "stride: int = 1"
    args: list[str]  # the symbols the constructor takes, in order (call sites pass their values)
    required: int  # how many of them have no default
    init: list[str]
    forward: list[str]
    heads: bool = False
    children: list[ClassCode] = field(default_factory=list)  # container classes it defines
    inplace_attrs: set[str] = field(default_factory=set)
    py_names: dict[str, str] = field(default_factory=dict)  # symbol -> its constructor argument's name
    dims: tuple[str, ...] = ()  # the input-size symbols of the definition
    # a container's children's sizes its caller may read: fresh symbol -> attribute path from
    # the container (``c.out_channels``), for a layer after a parallel with a block in a branch
    exposed: dict[str, str] = field(default_factory=dict)
    # forward's arguments after ``x``: points of the enclosing body that a container reads
    # (U-Net's ``up1`` reads its skip, ``down3``), as (value, argument name)
    inputs: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Context:
    """What a class needs from the module being written."""

    class_of: Callable[[str], ClassCode]  # definition key -> its class (written before)
    block_name: Callable[[Any], str]  # a block value -> its class name
    inplace: Callable[[str, str], bool]  # (definition key, statement) -> runs in place in every instance
    claim_class: Callable[[str], str]  # a class name, unique in the module
    head_order: list[str]  # the network's heads in the order training returns them
    spliced: Callable[[str, str], bool] = lambda key, out: False  # a dynamic instance is an inline block
    container_names: dict[tuple[str, str], str] = field(default_factory=dict)
    # what callers read of a definition's class, found by a writing before (see ModuleWriter.write):
    # the output sizes past the channels it sets (1: out_height, 2: out_width), whether it takes
    # every input size (a block passed as a value where some block needs them), and how many input
    # sizes a call of a block-typed parameter passes (definition key, statement)
    expose: Callable[[str], frozenset[int]] = lambda key: frozenset()
    spatial: Callable[[str], bool] = lambda key: False
    passes: Callable[[str, str], int] = lambda key, out: 1
    # every printer a class of a definition printed with (definition key, printer): which fresh
    # sizes the written code reads
    printers: list[tuple[str, Printer]] = field(default_factory=list)


def _dims(rank: int) -> tuple[str, ...]:
    return {1: ("in_features",), 2: ("in_channels", "in_length")}.get(rank, ("in_channels", "in_height", "in_width"))


class Writer:
    """The lines of one class."""

    def __init__(self, ctx: Context, key: str, printer: Printer, attrs: Namespace, *, sequential: bool):
        self.ctx = ctx
        self.key = key  # the definition whose statements these are (for in-place facts)
        self.p = printer
        self.attrs = attrs  # attribute names of this class (self.<name>)
        self.sequential = sequential
        self.init: list[str] = []
        self.fwd: list[str] = []
        self.locals = Namespace()  # __init__'s local variables
        self.vars = Namespace()  # forward's variables
        self.var: dict[str, str] = {}  # value -> variable in forward
        self.uses: dict[str, int] = {}
        self.dropped: set[str] = set()  # modules whose value nothing reads (see _write_body)
        self.defined: set[str] = set()  # attributes assigned (shared modules are defined once)
        self.children: list[ClassCode] = []
        self.exposed: dict[str, dict[str, str]] = {}  # container statement -> ClassCode.exposed
        self.entry_names: dict[str, str] = {}  # value -> the name of the entry that makes it
        self.fresh: dict[str, tuple[str, str, int]] = {}
        self.needed: set[str] | None = None  # the symbols printed, from a first writing
        self.loop_tail: str | None = None  # the value a repeat's body ends with
        self.target: dict[str, str] = {}  # value -> the variable it must be written to
        self.pre: list[str] = []  # lines that build a child before it is assigned (a list's items)
        self.hoisted: list[str] = []  # shared modules first met under a condition or in a loop
        self.fwd_index: dict[str, str | None] = {}  # a repeat's index -> forward's loop variable, if any
        self.loop_vars: dict[str, str] = {}  # a repeat's index -> the loop variable forward last gave it
        self.name_attrs: dict[str, str] = {}  # symbol -> the attribute holding it for forward's made names
        # numbered lists in which a named entry under `when:` went before: the IR numbers it present
        # or not (nn.Sequential numbers every child), so `append` would number what follows otherwise
        self.numbers_shift: set[str] = set()
        # where a repeat's running size is first set under a condition: also before the outermost
        # condition, since what follows may read it (as an argument) where the condition fails
        self.guard: _Guard | None = None

    # --- __init__ ---------------------------------------------------------------------------

    def module_source(self, stmt: Stmt, in_shape: Any) -> str:
        if isinstance(stmt, Layer):
            return self.layer_source(stmt, in_shape)
        if isinstance(stmt, Instance):
            return self.instance_source(stmt, in_shape)
        assert isinstance(stmt, Container)
        return self.container_source(stmt, in_shape)

    def layer_source(self, stmt: Layer, in_shape: Any) -> str:
        op = stmt.op
        if op.torch_class is None:
            raise Unsupported(f"{op.name} is not a module")
        args, kwargs = op.torch_args((in_shape,), stmt.attrs)
        parts = [self.p(a) for a in args]
        if op.holds_parameter:  # a tensor the class holds itself (ConvNeXt's layer_scale)
            return op.parameter_source(parts)
        for key, value in kwargs.items():
            default = op.torch_defaults.get(key, _MISSING)
            if default is not _MISSING and not _symbolic(value) and _same(value, default):
                continue
            parts.append(f"{key}={self.p(value)}")
        if op.inplace_capable and self.ctx.inplace(self.key, stmt.out):
            parts.append("inplace=True")
        return f"{op.torch_class}({', '.join(parts)})"

    def instance_source(self, stmt: Instance, in_shape: Any) -> str:
        if stmt.deferred is not None and stmt.stack:  # (Instance.deferred)
            raise Unsupported(f"{stmt.deferred.name}() nests blocks more deeply than Python's stack lets archc "
                              "write them", stmt.span, "nest blocks and containers less deeply")
        if stmt.deferred is not None:  # never runs within the nesting limit
            raise Unsupported(f"{stmt.deferred.name}() is called past the nesting limit wherever this runs: "
                              "blocks nest deeper than any network archc builds", stmt.span,
                              "nest blocks less deeply, or raise the limit (`--limit max_nesting=...`)")
        if stmt.block is None:
            assert stmt.param is not None
            cls = self.p.names.get(stmt.param, stmt.param)
            self.p.used.add(stmt.param)
            parts = [self.p(d) for d in in_shape[:self.ctx.passes(self.key, stmt.out)]]
            parts += [self.p(v) for k, v in stmt.args.items() if k.startswith("#")]
            parts += [f"{k}={self.p(v)}" for k, v in stmt.args.items() if not k.startswith("#")]
            return f"{cls}({', '.join(parts)})"
        code = self.ctx.class_of(stmt.block)
        parts = []
        dims = dict(zip(code.dims, in_shape))
        for k, symbol in enumerate(code.args):
            value = stmt.args[symbol] if symbol in stmt.args else dims.get(symbol)
            if symbol not in dims and symbol not in stmt.given and k >= code.required:
                continue  # its default
            text = self.p(value)
            parts.append(text if k < code.required else f"{code.py_names.get(symbol, symbol)}={text}")
        return f"{code.name}({', '.join(parts)})"

    def container_source(self, stmt: Container, in_shape: Any) -> str:
        if stmt.kind == "sequential" and stmt.mode == "sequential" and not outer_reads(stmt) \
                and not _passes_points(stmt.body):
            where = f"self.{stmt.name}" if stmt.name else None
            items = self.sequential_items(stmt.body, where)
            if items is not None:
                return f"nn.Sequential({', '.join(items)})"
            named = any(s.name is not None for s in stmt.body if isinstance(s, (Layer, Instance, Container)))
            if named and all(isinstance(s, (Layer, Instance, Container)) and s.pos for s in stmt.body):
                return self.named_sequential(stmt)
            # conditions or repeats inside: built as a list first, as torchvision's make_layers does;
            # where a name is given or made, an nn.Sequential its entries are added to by name, as
            # torchvision's DenseNet `features.add_module("denseblock%d" % (i + 1), block)`
            var = self.locals.claim(stmt.name or "layers")
            made = _names_an_entry(stmt.body) or _makes_names(stmt.body)
            self.pre.append(f"{var} = nn.Sequential()" if made else f"{var}: list[nn.Module] = []")
            saved, self.init = self.init, []
            self.body(stmt.body, "", var)
            self.pre += self.init
            self.init = saved
            return var if made else f"nn.Sequential(*{var})"
        code = write_container(self.ctx, self.key, stmt, self.p, self.fresh, self.shapes, self.var,
                               self.entry_names)
        self.children.append(code)
        self.exposed[stmt.out] = code.exposed
        return f"{code.name}({', '.join(self.p(Sym_(a)) for a in code.args)})"

    def sequential_items(self, body: list[Stmt], where: str | None) -> list[str] | None:
        """The children of a plain numbered list (no conditions, repeats or names), or None."""
        if not all(isinstance(s, (Layer, Instance, Container)) and s.pos and s.name is None for s in body):
            return None
        if self.reads_a_sibling(body):
            # `self.features[1].out_channels` inside `self.features = nn.Sequential(...)` would read
            # the attribute before it exists (ConvNeXt: a downsampling layer after a stage, whose
            # width only the built stage knows): build the list first, naming such children
            return None
        out = []
        for stmt in body:
            _sequential_entry(stmt)
            source = self.module_source(stmt, self.shape_of(stmt))
            if where is not None and f"{where}[" in source:  # a size read another way than reads_a_sibling saw
                raise Unsupported(f"an entry of {where} reads a size of an earlier entry")
            out.append(source)
            if where is not None:
                self.bind_fresh(stmt, f"{where}[{len(out) - 1}]")
        return out

    def reads_a_sibling(self, body: list[Stmt]) -> bool:
        """Does an entry of the list take a size that only an earlier entry of the same list knows
        once built (a fresh ``out_channels``)?"""
        earlier: set[str] = set()
        for stmt in body:
            values: list[Any] = list(self.shape_of(stmt))
            if isinstance(stmt, Instance):
                values += list(stmt.args.values())
            elif isinstance(stmt, Layer):
                values += list(dict(stmt.attrs).values())
            for value in values:
                for item in value if isinstance(value, tuple) else (value,):
                    for name in free_symbols(item):
                        what = self.fresh.get(name)
                        if what is not None and what[0] == "output" and what[1] in earlier:
                            return True
            earlier.add(stmt.out)
        return False

    def named_sequential(self, stmt: Container) -> str:
        """A numbered list with named children: ``add_module`` keeps each name (its state_dict key)."""
        var = self.locals.claim(stmt.name or "layers")
        self.pre.append(f"{var} = nn.Sequential()")
        for k, s in enumerate(stmt.body):
            _sequential_entry(s)
            name = s.name if s.name is not None else str(k)
            self.pre += wrap(f"{var}.add_module({name!r}, {self.module_source(s, self.shape_of(s))})")
            self.bind_fresh(s, f"{var}.{name}" if name.isidentifier() else f"{var}[{k}]")
        return var

    def made_in_module_body(self, stmt: Layer | Instance | Container, source: str, indent: str) -> None:
        """A child named in each repeat of a module's body (``denselayer{i + 1}``): added with
        ``add_module`` in ``__init__``'s loop, and called by the same name in forward's."""
        made = self.made_name(stmt.name)  # type: ignore[arg-type]
        if self.has_fresh(stmt):  # its sizes are read later: kept in a variable
            var = self.locals.claim("block")
            self.init += wrap(f"{indent}{var} = {source}")
            self.init.append(f"{indent}self.add_module({made}, {var})")
            self.bind_fresh(stmt, var)
        else:
            self.init += wrap(f"{indent}self.add_module({made}, {source})")
        self.forward_call(stmt, f"getattr(self, {self.made_name_in_forward(stmt.name)})", indent)  # type: ignore[arg-type]

    def made_name_in_forward(self, name: GenName) -> str:
        """The f-string of a made name in forward: the repeats' indices are forward's loop variables,
        other values (a parameter) attributes that ``__init__`` sets first."""
        overrides: dict[str, str] = {}
        for part in name.parts:
            for symbol in sorted(free_symbols(part)) if _symbolic(part) else ():
                if symbol in self.fwd_index:
                    if self.fwd_index[symbol] is None:  # the variable of an earlier loop, or a new one
                        old = self.loop_vars.get(symbol)
                        active = set(self.fwd_index.values())
                        self.fwd_index[symbol] = old if old and old not in active else self.vars.claim(symbol)
                        self.loop_vars[symbol] = self.fwd_index[symbol]  # type: ignore[assignment]
                    overrides[symbol] = self.fwd_index[symbol]  # type: ignore[assignment]
                    continue
                if symbol not in self.name_attrs:
                    value = self.p(Sym_(symbol))
                    attr = self.name_attrs[symbol] = self.attrs.claim(value if value.isidentifier() else symbol)
                    self.hoisted.append(f"self.{attr} = {value}")
                overrides[symbol] = f"self.{self.name_attrs[symbol]}"
        saved = {k: self.p.names[k] for k in overrides if k in self.p.names}
        self.p.names.update(overrides)
        try:
            return self.made_name(name)
        finally:
            for k in overrides:
                if k in saved:
                    self.p.names[k] = saved[k]
                else:
                    del self.p.names[k]

    def made_name(self, name: GenName) -> str:
        """The f-string that makes a repeat's name: ``f"denselayer{i + 1}"``."""
        text = "".join("{" + self.p(part) + "}" if _symbolic(part) else str(part) for part in name.parts)
        return f'f"{text}"'

    def shape_of(self, stmt: Stmt) -> Any:
        """The input shape of a statement with one input."""
        value = stmt.inputs[0] if isinstance(stmt, Layer) else stmt.input  # type: ignore[attr-defined]
        return self.shapes[value]

    def has_fresh(self, stmt: Stmt) -> bool:
        """Does the statement's output have sizes only its built module knows (``out_channels``)?"""
        return (any(self.fresh.get(str(d), ("", "", 0))[:2] == ("output", stmt.out) for d in stmt.shape)
                or bool(self.exposed.get(stmt.out)))

    def bind_fresh(self, stmt: Stmt, source: str) -> None:
        """Fresh symbols standing for this statement's output sizes read as ``source.out_channels``."""
        for dim in stmt.shape:
            name = str(dim)
            if name in self.fresh and self.fresh[name][0] == "output" and self.fresh[name][1] == stmt.out:
                self.p.names[name] = f"{source}.{DIM_ATTRS[self.fresh[name][2]]}"
        for name, path in self.exposed.get(stmt.out, {}).items():
            self.p.names.setdefault(name, f"{source}.{path}")

    # --- the body -------------------------------------------------------------------------------

    def body(self, stmts: list[Stmt], indent: str, seq_list: str | None) -> None:
        for stmt in stmts:
            self.stmt(stmt, indent, seq_list)

    def stmt(self, stmt: Stmt, indent: str, seq_list: str | None) -> None:
        self.p.site = self.order.get(stmt.out, 0)
        if isinstance(stmt, (Layer, Instance, Container)):
            if seq_list is not None:
                _sequential_entry(stmt)  # an entry of an nn.Sequential
            elif not (stmt.name or "").isidentifier():
                _module_entry(stmt)  # added with add_module
            outer, self.pre = self.pre, []
            source = self.module_source(stmt, self.shape_of(stmt))
            pre, self.pre = self.pre, outer
            self.init += [f"{indent}{line}" for line in pre]
            spliced = self.ctx.spliced(self.key, stmt.out) if isinstance(stmt, Instance) else False
            if spliced:  # an inline block passed as a value: its children join this list
                if seq_list is None or stmt.name is not None:
                    raise Unsupported("an inline block passed as a value outside a numbered list")
                var = self.locals.claim("block")
                self.init += wrap(f"{indent}{var} = {source}")
                self.init.append(f"{indent}{seq_list}.extend({var})")
                self.bind_fresh(stmt, var)
                return
            if seq_list is not None and stmt.name is not None:
                # a name made in each repeat, or a fixed one, in a list built with conditions or
                # repeats: the list is an nn.Sequential, as torchvision's DenseNet
                # `features.add_module("denseblock%d" % (i + 1), block)`; it counts a named child,
                # so the numbers of unnamed entries after it stay nn.Sequential's
                name = self.made_name(stmt.name) if isinstance(stmt.name, GenName) else repr(stmt.name)
                if self.has_fresh(stmt) and stmt.out != self.loop_tail:
                    var = self.locals.claim("block")
                    self.init += wrap(f"{indent}{var} = {source}")
                    self.init.append(f"{indent}{seq_list}.add_module({name}, {var})")
                    self.bind_fresh(stmt, var)
                    return
                self.init += wrap(f"{indent}{seq_list}.add_module({name}, {source})")
                self.bind_fresh(stmt, f"{seq_list}[-1]")
                return
            if isinstance(stmt.name, GenName):
                self.made_in_module_body(stmt, source, indent)
                return
            if seq_list is not None:
                if seq_list in self.numbers_shift:
                    raise Unsupported("an unnamed entry after a named entry under `when:` in a numbered list: its "
                                      "number counts the named entry, present or not, which nn.Sequential's numbering "
                                      "cannot reproduce (name this entry, or put the condition on an unnamed group: "
                                      "`{when: ..., layers: [{name: ...}]}`)", stmt.span)
                if self.has_fresh(stmt) and stmt.out != self.loop_tail:
                    # its sizes are read later, when the list's last module may be another: keep it
                    var = self.locals.claim("block")
                    self.init += wrap(f"{indent}{var} = {source}")
                    self.init.append(f"{indent}{seq_list}.append({var})")
                    self.bind_fresh(stmt, var)
                    return
                self.init += wrap(f"{indent}{seq_list}.append({source})")
                self.bind_fresh(stmt, f"{seq_list}[-1]")
                return
            if stmt.name is None:  # refused, never an AssertionError (found by the generator)
                raise Unsupported("a numbered entry outside a numbered list")
            ref = f"self.{stmt.name}" if stmt.name.isidentifier() else f"self.get_submodule({stmt.name!r})"
            if stmt.name not in self.defined:
                self.defined.add(stmt.name)
                self.attrs.reserve(stmt.name)
                if stmt.name.isidentifier() and indent and getattr(stmt, "shared", False):
                    # a parameter-free module shared by uses inside and outside a condition or a
                    # repeat: built once, unconditionally (forward may use it where the condition fails)
                    self.hoisted += wrap(f"self.{stmt.name} = {source}")
                elif stmt.name.isidentifier():
                    self.init += wrap(f"{indent}self.{stmt.name} = {source}")
                else:  # a numbered entry of a module body (under a condition that is false here)
                    self.init += wrap(f"{indent}self.add_module({stmt.name!r}, {source})")
            self.bind_fresh(stmt, ref)
            self.forward_call(stmt, ref, indent)
        elif isinstance(stmt, Merge):
            self.forward_merge(stmt, indent)
        elif isinstance(stmt, If):
            self.stmt_if(stmt, indent, seq_list)
        elif isinstance(stmt, Loop):
            self.stmt_loop(stmt, indent, seq_list)
        elif isinstance(stmt, Head):
            self.var[stmt.out] = self.var[stmt.value]
        else:  # pragma: no cover
            raise Unsupported(type(stmt).__name__)

    def stmt_if(self, stmt: If, indent: str, seq_list: str | None) -> None:
        if self.guard is not None:
            self._stmt_if(stmt, indent, seq_list)
            return
        self.guard = guard = _Guard(len(self.init), indent)
        try:
            self._stmt_if(stmt, indent, seq_list)
        finally:
            self.guard = None
        guard.hoist(self.init)

    def _stmt_if(self, stmt: If, indent: str, seq_list: str | None) -> None:
        cond = self.p(stmt.cond) if stmt.cond is not False else "False"
        if stmt.cond is False:
            if seq_list is not None and stmt.pos:
                raise Unsupported("a numbered list with an entry that is never present")
            self.var[stmt.out] = self.var.get(stmt.input, "")
            return
        if seq_list is not None:
            if stmt.pos and stmt.cond is not True:
                self.numbers_shift.add(seq_list)
            self.init += if_lines(indent, cond)
            before = len(self.init)
            self.body(stmt.body, indent + "    ", seq_list)
            if len(self.init) == before:
                self.init.append(f"{indent}    pass")
            return
        if not stmt.body and not stmt.absent and stmt.output == stmt.input:
            # everything under the condition went (the inference variant drops a guarded stochastic
            # depth): the value passes, and neither a flag nor an `if ...: pass` is left to read
            self.var[stmt.out] = self.var[stmt.input]
            self.consume(stmt.input)
            return
        # a module body: the children exist only where the condition holds; forward asks
        flag = next((s.name for s in stmt.body if isinstance(s, (Layer, Instance, Container)) and s.name
                     and s.name.isidentifier() and s.name not in self.defined and not getattr(s, "shared", False)),
                    None)
        if flag is not None:
            self.init.append(f"{indent}self.{flag} = None")
            test = f"self.{flag} is not None"
        else:
            flag = self.attrs.claim(stmt.label if stmt.label and stmt.label.isidentifier() else "use_branch")
            self.init.append(f"{indent}self.{flag} = {cond}")
            test = f"self.{flag}"
        simple = (len(stmt.body) == 1 and isinstance(stmt.body[0], (Layer, Instance, Container))
                  and not stmt.absent and stmt.body[0].name == flag and stmt.body[0].out == stmt.output
                  and _reads(stmt.body[0]) == (stmt.input,))
        opening = if_lines(indent, cond)
        self.init += opening
        if simple:
            inner = stmt.body[0]
            outer, self.pre = self.pre, []
            source = self.module_source(inner, self.shape_of(inner))
            pre, self.pre = self.pre, outer
            self.init += [f"{indent}    {line}" for line in pre]
            self.defined.add(flag)
            self.init += wrap(f"{indent}    self.{flag} = {source}")
            self.bind_fresh(inner, f"self.{flag}")
            x = self.read(stmt.input)
            self.consume(stmt.input)
            if stmt.out in self.dropped:  # nothing reads what it gives: called where it exists
                self.var[stmt.out] = x
                self.fwd.append(f"{indent}if self.{flag} is not None:")
                self.fwd += wrap(f"{indent}    {_call(inner, f'self.{flag}', x)}")
                return
            if self.feeds_residual(stmt.out):
                out = self.new_var(stmt.out, "identity")
            else:  # where the input is still read later, the result is named after the module
                out = self.assign(stmt.out, flag, stmt.input)
            self.fwd += wrap(f"{indent}{out} = {x} if self.{flag} is None else {_call(inner, f'self.{flag}', x)}")
            return
        if stmt.out in self.dropped and not stmt.absent:  # nothing reads what it gives: run where it holds
            if not any(stmt.input in _reads(b) for b in walk(stmt.body)):
                self.consume(stmt.input)
            self.fwd.append(f"{indent}if {test}:")
            init_before = len(self.init)
            self.body(stmt.body, indent + "    ", None)
            if _passed(stmt) is not None:
                self.consume(stmt.output)
            if len(self.init) == init_before:  # nothing to build: forward reads only the flag
                del self.init[-len(opening):]
            if self.fwd[-1] == f"{indent}if {test}:":
                self.fwd.append(f"{indent}    pass")
            self.var[stmt.out] = self.var[stmt.input]
            return
        fwd_before = len(self.fwd)
        self.fwd.append(f"{indent}if {test}:")
        init_before = len(self.init)
        if stmt.absent:  # a branch: None where the condition fails
            named = next((s.name for s in stmt.body if s.out == stmt.output and getattr(s, "name", None)), None)
            out = self.new_var(stmt.out, named if named and named.isidentifier() else "branch")
            self.target[stmt.output] = out  # the branch's last statement writes it directly
            self.body(stmt.body, indent + "    ", None)
            inner = self.var[stmt.output]
            self.fwd.insert(fwd_before, f"{indent}{out} = None")
            if inner != out:
                self.fwd.append(f"{indent}    {out} = {inner}")
        else:
            x = self.var[stmt.input]
            inside = sum(list(_reads(b)).count(stmt.input) for b in walk(stmt.body))
            if not inside:
                self.consume(stmt.input)
            if self.remaining(stmt.input) - inside <= 0:  # nothing reads the input after: its variable
                out = x
                self.var[stmt.out] = out
                self.holder[out] = stmt.out
            else:
                out = self.new_var(stmt.out, "x")
                self.fwd.insert(fwd_before, f"{indent}{out} = {x}")
            if stmt.body and isinstance(stmt.body[-1], (Merge, Layer, Instance, Container)) \
                    and stmt.body[-1].out == stmt.output:
                self.target[stmt.output] = out  # `x = x + shortcut`, not through a second variable
            self.body(stmt.body, indent + "    ", None)
            if self.var[stmt.output] != out:
                self.fwd.append(f"{indent}    {out} = {self.var[stmt.output]}")
            if _passed(stmt) is not None:
                self.consume(stmt.output)
            self.var[stmt.out] = out
        if len(self.init) == init_before:  # nothing to build: forward reads only the flag
            del self.init[-len(opening):]
        if self.fwd[-1] == f"{indent}if {test}:":
            self.fwd.append(f"{indent}    pass")

    def stmt_loop(self, stmt: Loop, indent: str, seq_list: str | None) -> None:
        in_shape = self.shapes[stmt.input]
        if seq_list is None and _unnamed_module(stmt.body):
            # a module with parameters but no name in a module body is an error (E304) wherever
            # the repeat runs, so it runs in no instance (`repeat: 0`): the running value passes
            self.var[stmt.out] = self.var[stmt.input]
            for dim, start in zip(stmt.shape, in_shape):
                if isinstance(dim, Sym) and str(dim) != str(start):
                    self.p.names[str(dim)] = self.p(start)
            return
        running = []
        for k, (carried, start) in enumerate(zip(stmt.carried, in_shape)):
            name = str(carried)
            # (the channels too, where nothing reads them: a repeat of shared parameter-free modules, of
            # modules whose arguments are no sizes)
            if not self.wanted(name, str(stmt.shape[k])):
                self.p.names[name] = self.p.names[str(stmt.shape[k])] = f"__unused_{name}"
                running.append("")
                continue
            want = _dims(len(in_shape))[k]
            source = self.p.names.get(str(start)) if isinstance(start, Sym) else None
            site = self.order[stmt.out]
            if source is not None and source.isidentifier() and self.last.get(str(start), -1) <= site \
                    and self.last_known:
                # the running size continues a variable nothing reads after this point: a
                # constructor argument (Stage's in_channels) or the previous repeat's
                var = source
                self.p(start)
            else:
                var = self.locals.claim(want if not self.locals.taken(want) else want.removeprefix("in_"))
                if self.guard is not None:
                    self.guard.sets.append((var, self.p(start)))
                self.init.append(f"{indent}{var} = {self.p(start)}")
            self.p.names[name] = var
            running.append(var)
        count = self.p(stmt.count)
        repeats = self._count_attr(stmt, count, indent) if seq_list is None else count
        header = len(self.init)
        self.init.append(f"{indent}for {stmt.index} in range({count}):")
        self.p.names[stmt.index] = stmt.index
        was_used = stmt.index in self.p.used
        self.p.used.discard(stmt.index)
        if seq_list is None:
            # a repeat in a module body holds shared parameter-free modules: forward loops too
            before = len(self.init)
            self.fwd.append(header_line := f"{indent}for _ in range({repeats}):")
            x = self.var[stmt.input]
            self.consume(stmt.input)  # the loop reads it: its variable carries the loop where nothing reads it after
            var = self.assign(stmt.out, "x", stmt.input)
            if var != x:
                self.fwd.insert(len(self.fwd) - 1, f"{indent}{var} = {x}")
            header_at = len(self.fwd) - 1
            self.fwd_index[stmt.index] = None  # forward's loop variable, once a made name reads it
            self.var[stmt.body_input] = var
            # in the body the variable holds the body's input (the loop's value is what it ends with)
            self.holder[var] = stmt.body_input
            self.body(stmt.body, indent + "    ", None)
            if self.var[stmt.output] != var:
                self.fwd.append(f"{indent}    {var} = {self.var[stmt.output]}")
            self.holder[var] = stmt.out
            index_var = self.fwd_index.pop(stmt.index)
            if len(self.fwd) - 1 == header_at and self.fwd[-1] == header_line:
                # a repeat of dropout only, in the inference variant: no loop at all, and the value
                # passes in its variable (copied only where something reads it after)
                del self.fwd[header_at]
                if var != x and not self.uses.get(stmt.out):
                    del self.fwd[header_at - 1]
            elif index_var is not None:
                self.fwd[header_at] = f"{indent}for {index_var} in range({repeats}):"
            self.var[stmt.out] = var
            if len(self.init) == before:  # nothing to make in each repeat (its modules are shared)
                if not any(v for v in running) and header == len(self.init) - 1:
                    del self.init[header]  # no loop at all in the constructor
                    header = -1
                else:
                    self.init.append(f"{indent}    pass")
        else:
            saved_tail, self.loop_tail = self.loop_tail, stmt.output  # read right after, by the update
            self.body(stmt.body, indent + "    ", seq_list)
            self.loop_tail = saved_tail
            if len(self.init) == header + 1:  # a repeat of dropout only, in the inference variant
                self.init.append(f"{indent}    pass")
        if header >= 0 and stmt.index not in self.p.used:  # the body does not read the index
            self.init[header] = f"{indent}for _ in range({count}):"
        if was_used:
            self.p.used.add(stmt.index)
        self._update_running(running, self.shapes[stmt.output], indent + "    ")
        for var, dim in zip(running, stmt.shape):
            if var:
                self.p.names[str(dim)] = var

    def _update_running(self, running: list[str], out_shape: Any, indent: str) -> None:
        """The running sizes for the next iteration, each computed from this iteration's: a size
        that another one reads (a height whose stride depends on the channels) is updated after it,
        and sizes that read each other (a permute that swaps height and width) in one assignment."""
        updates = []
        for var, dim in zip(running, out_shape):
            if var:
                text = self.p(dim)
                if text != var:
                    updates.append((var, text, {self.p.names.get(s) for s in free_symbols(dim)} - {var}))
        while updates:
            free = next((u for u in updates if not any(u[0] in other[2] for other in updates)), None)
            if free is None:
                self.init += wrap(f"{indent}{', '.join(u[0] for u in updates)} = {', '.join(u[1] for u in updates)}")
                return
            self.init.append(f"{indent}{free[0]} = {free[1]}")
            updates.remove(free)

    def wanted(self, *symbols: str) -> bool:
        """Is a running size read anywhere (known from a first writing of the class)?"""
        return self.needed is None or any(s in self.needed for s in symbols)

    def _count_attr(self, stmt: Loop, count: str, indent: str) -> str:
        if not free_symbols(stmt.count):
            return count
        attr = self.attrs.claim("repeats")
        self.init.append(f"{indent}self.{attr} = {count}")
        return f"self.{attr}"

    # --- forward ---------------------------------------------------------------------------------

    def read(self, value: str) -> str:
        return self.var[value]

    def remaining(self, value: str) -> int:
        return self.uses.get(value, 0) - self.seen.get(value, 0)

    def consume(self, *values: str) -> None:
        for v in values:
            self.seen[v] = self.seen.get(v, 0) + 1

    def free(self, var: str) -> bool:
        """Does ``var`` hold a value nothing reads any more?"""
        held = self.holder.get(var)
        return held is not None and self.remaining(held) <= 0

    def new_var(self, value: str, want: str) -> str:
        """A variable for ``value`` named ``want``: the existing one where its value is dead."""
        var = want if want in self.holder and self.free(want) else self.vars.claim(want)
        self.var[value] = var
        self.holder[var] = value
        return var

    def assign(self, value: str, want: str, reuse: str | None) -> str:
        """The variable for ``value``: its input's, where that value dies here and the variable holds
        no other value still read (a condition that passes its input on shares its variable), else
        ``want``."""
        if reuse is not None and reuse in self.var and self.remaining(reuse) <= 0 \
                and self._held_only(self.var[reuse], reuse):
            var = self.var[reuse]
            self.var[value] = var
            self.holder[var] = value
            return var
        return self.new_var(value, want)

    def _held_only(self, var: str, value: str) -> bool:
        held = self.holder.get(var)
        return held is None or held == value or self.remaining(held) <= 0

    def feeds_residual(self, value: str) -> bool:
        return value in self.residual_shortcuts

    def forward_call(self, stmt: Layer | Instance | Container, attr: str, indent: str) -> None:
        value = stmt.inputs[0] if isinstance(stmt, Layer) else stmt.input
        x = self.var[value]
        self.consume(value)
        extra = outer_reads(stmt) if isinstance(stmt, Container) else ()
        if extra:  # the points it reads besides its input, as its forward's further arguments
            x = ", ".join([x, *(self.var[v] for v in extra)])
            self.consume(*extra)
        if stmt.out in self.target:
            out = self.var[stmt.out] = self.target[stmt.out]
            self.holder[out] = stmt.out
            self.fwd += wrap(f"{indent}{out} = {_call(stmt, attr, x)}")
            return
        if stmt.training_only:
            out = self.new_var(stmt.out, stmt.name or "head")
            self.fwd += wrap(f"{indent}{out} = {_call(stmt, attr, x)} if self.training else None")
            return
        if stmt.out in self.dropped:  # nothing reads it
            self.fwd += wrap(f"{indent}{_call(stmt, attr, x)}")
            return
        if stmt.name and not getattr(stmt, "shared", False) and (
                self.uses.get(stmt.out, 0) > 1 or stmt.out in self.merged):
            out = self.new_var(stmt.out, stmt.name)
        elif self.remaining(value) <= 0:
            # the chain goes on in ``x`` where that is free, else in the variable it read
            named = self.var[value] not in ("x", "out", "identity")
            out = self.new_var(stmt.out, "x") if named and self.free("x") else self.assign(stmt.out, "x", value)
        else:
            out = self.new_var(stmt.out, "out" if x == "x" else "x")
        self.fwd += wrap(f"{indent}{out} = {_call(stmt, attr, x)}")

    def forward_merge(self, stmt: Merge, indent: str) -> None:
        names = [self.var[v] for v in stmt.inputs]
        self.consume(*stmt.inputs)
        maybe = [p is not True for p in stmt.present]
        if any(maybe):
            listed = self.vars.claim("branches")
            present = [n for n, m in zip(names, maybe) if not m]
            self.fwd.append(f"{indent}{listed} = [{', '.join(present)}]")
            for n, m in zip(names, maybe):
                if m:
                    self.fwd.append(f"{indent}if {n} is not None:")
                    self.fwd.append(f"{indent}    {listed}.append({n})")
            if stmt.op.name == "mul":  # the factors present, left to right (as `a * b * c` runs)
                out = self.new_var(stmt.out, "out")
                factor = self.vars.claim("factor")
                self.fwd += [f"{indent}{out} = {listed}[0]", f"{indent}for {factor} in {listed}[1:]:",
                             f"{indent}    {out} = {out} * {factor}"]
                return
            joined = f"torch.cat({listed}, {stmt.attrs.dim})" if stmt.op.name == "concat" else f"sum({listed})"
            out = self.new_var(stmt.out, "out")
            self.fwd.append(f"{indent}{out} = {joined}")
            return
        if stmt.op.name == "concat":
            out = self.new_var(stmt.out, stmt.site[1] if stmt.site[0] == "child" else "out")
            self.fwd += wrap(f"{indent}{out} = torch.cat([{', '.join(names)}], {stmt.attrs.dim})")
            return
        if stmt.role == "residual" and self.ctx.inplace(self.key, stmt.out) and self.remaining(stmt.inputs[0]) <= 0:
            self.var[stmt.out] = names[0]
            self.holder[names[0]] = stmt.out
            self.fwd.append(f"{indent}{names[0]} += {names[1]}")
            return
        if stmt.out in self.target:
            out = self.var[stmt.out] = self.target[stmt.out]
            self.holder[out] = stmt.out
        else:
            out = self.new_var(stmt.out, stmt.site[1] if stmt.site[0] == "child" else "out")
        self.fwd.append(f"{indent}{out} = {(' * ' if stmt.op.name == 'mul' else ' + ').join(names)}")


@dataclass(slots=True)
class _Guard:
    """The outermost condition being written in __init__, and the running sizes first set under it
    (``in_channels = 3`` before a repeat): each is set before the condition too, so that a later
    argument reading it (``Block(flag, in_channels)``, whose size is ``3 if flag else
    in_channels``) finds it where the condition fails."""

    at: int  # the index in __init__'s lines where the condition starts
    indent: str
    sets: list[tuple[str, str]] = field(default_factory=list)  # (variable, value)

    def hoist(self, init: list[str]) -> None:
        lines, moved = [], set()
        for var, text in self.sets:
            lines.append(f"{self.indent}{var} = {text}")
            # the variable is new: its first assignment after the condition starts sets it
            at = next((i for i in range(self.at, len(init)) if re.match(rf"\s*{var} = ", init[i])), None)
            if at is None:  # pragma: no cover - a running size is set where it is made
                continue
            reads = set(re.findall(r"[A-Za-z_]\w*", text)) | {var}
            # set directly in the condition's body, with nothing before it there reassigning what it
            # reads: the same value before the condition, so it is set there only
            if init[at].startswith(f"{self.indent}    {var} = ") and not any(
                    re.match(rf"\s*({'|'.join(map(re.escape, reads))})\s*=", line)
                    or re.match(rf"{re.escape(self.indent)}    (for|while) ", line) for line in init[self.at:at]):
                moved.add(at)
        for at in sorted(moved, reverse=True):
            del init[at]
        init[self.at:self.at] = lines


def _makes_names(body: list[Stmt]) -> bool:
    """Does a list name a child with a name made in each repeat (``denselayer{i + 1}``)?"""
    return any(isinstance(getattr(s, "name", None), GenName) for s in walk(body))


def _names_an_entry(body: list[Stmt]) -> bool:
    """Does a list name one of its own entries, also under a condition or in a repeat (not an entry
    of a list inside it)? Then it is an nn.Sequential its entries are added to by name."""
    for s in body:
        if isinstance(s, (Layer, Instance, Container)) and s.name is not None:
            return True
        if isinstance(s, (If, Loop)) and _names_an_entry(s.body):
            return True
    return False


def _unnamed_module(body: list[Stmt]) -> bool:
    """Does a module of this body (or of a condition or repeat in it) have no name?"""
    for s in body:
        if isinstance(s, (Layer, Instance, Container)) and s.name is None:
            return True
        if isinstance(s, (If, Loop)) and _unnamed_module(s.body):
            return True
    return False


def _holds_parameter(stmt: Stmt) -> bool:
    return isinstance(stmt, Layer) and stmt.op.holds_parameter


def _passes_points(body: list[Stmt]) -> bool:
    """Is this numbered list, every entry named, the caller of a list that reads points from outside
    it? Then it is a class of its own, which passes them on (nn.Sequential passes one value); its
    children keep their names, so its state_dict is the same."""
    return (any(isinstance(s, Container) and outer_reads(s) for s in body)
            and all(isinstance(s, (Layer, Instance, Container, Merge)) for s in body)
            and all(s.name is not None for s in body if isinstance(s, (Layer, Instance, Container))))


def _sequential_entry(stmt: Stmt) -> None:
    """Refuse a list that reads points from outside where nn.Sequential would have to call it:
    Sequential passes its entries one value."""
    _module_entry(stmt)
    if isinstance(stmt, Container) and outer_reads(stmt):
        raise Unsupported(f"the list '{stmt.name or stmt.kind}' reads a point from outside it but is an entry of a "
                          "numbered list (an nn.Sequential, which passes its entries only their input): give "
                          "every entry of the enclosing list a name")


def _module_entry(stmt: Stmt) -> None:
    """Refuse a parameter where a module must stand (an nn.Sequential's entry, ``add_module``)."""
    if _holds_parameter(stmt):
        assert isinstance(stmt, Layer)
        raise Unsupported(f"{stmt.op.name} is a parameter its block holds, not a module, so it cannot be an entry "
                          f"of a numbered list: name it in a block's layers (`- {stmt.op.name}: {stmt.op.name}(...)`)")


def _call(stmt: Stmt, attr: str, x: str) -> str:
    """What forward writes for a module statement: ``self.conv1(x)``, or for a parameter
    (ConvNeXt's layer_scale) its op's expression, ``self.layer_scale * x``."""
    if _holds_parameter(stmt):
        assert isinstance(stmt, Layer)
        return stmt.op.apply.format(param=attr, x=x)
    return f"{attr}({x})"


class Sym_:
    def __new__(cls, name: str) -> Any:
        from ..sym import Sym

        return Sym(name)


_MISSING = object()


def _symbolic(value: Any) -> bool:
    from ..sym import is_symbolic

    return is_symbolic(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and not isinstance(b, tuple):
        return all(_same(x, b) for x in a)
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def count_uses(stmts: list[Stmt], output: str, heads: list[str]) -> dict[str, int]:
    uses: dict[str, int] = {}

    def read(v: str) -> None:
        uses[v] = uses.get(v, 0) + 1

    for s in _flow(stmts):
        if isinstance(s, Layer):
            for v in s.inputs:
                read(v)
        elif isinstance(s, Instance):
            read(s.input)
        elif isinstance(s, Container):
            for v in (s.input, *outer_reads(s)):
                read(v)
        elif isinstance(s, Merge):
            for v in s.inputs:
                read(v)
        elif isinstance(s, If):
            # the value passes on where the condition fails; a body that reads it already counts
            if not s.absent and not any(s.input in _reads(b) for b in s.body):
                read(s.input)
            if _passed(s) is not None:
                read(s.output)
        elif isinstance(s, Loop):
            read(s.input)
        elif isinstance(s, Head):
            read(s.value)
    read(output)
    return uses


def _reads(s: Stmt) -> tuple[str, ...]:
    if isinstance(s, (Layer, Merge)):
        return s.inputs
    if isinstance(s, Container):
        return (s.input, *outer_reads(s))
    if isinstance(s, (Instance, Loop)):
        return (s.input,)
    return ()


def outer_reads(stmt: Container) -> tuple[str, ...]:
    """The values a container's body reads that neither its input nor its body makes: points of
    an enclosing list (``from: [down3, up]`` inside U-Net's ``up1``), in the order first read.
    Its class's forward takes them as arguments after ``x``."""
    made = {stmt.input}
    for s in walk(stmt.body):
        made.add(s.out)
        if isinstance(s, Loop):
            made.add(s.body_input)
    found: list[str] = []
    for s in walk(stmt.body):
        reads: tuple[str, ...] = _direct_reads(s)
        for v in reads:
            if v not in made and v not in found:
                found.append(v)
    return tuple(found)


def _passed(s: If) -> str | None:
    """The value an :class:`If` gives where its condition holds when its body does not make it (a
    `from: input` under a `when:`, with no layers: forward reads that point instead of its input)."""
    if s.absent or s.output == s.input or any(b.out == s.output for b in walk(s.body)):
        return None
    return s.output


def _direct_reads(s: Stmt) -> tuple[str, ...]:
    """The values one statement reads itself (a container's body is walked on its own)."""
    if isinstance(s, (Layer, Merge)):
        return s.inputs
    if isinstance(s, If) and _passed(s) is not None:
        return (s.input, s.output)
    if isinstance(s, (Instance, Container, If, Loop)):
        return (s.input,)
    if isinstance(s, Head):
        return (s.value,)
    return ()


def _flow(stmts: list[Stmt]):  # type: ignore[no-untyped-def]
    """The statements forward runs here: a container's own body runs inside its module."""
    for s in stmts:
        yield s
        if isinstance(s, (If, Loop)):
            yield from _flow(s.body)


def _merged_and_far(stmts: list[Stmt], output: str) -> tuple[set[str], set[str]]:
    """Values a merge reads, and values read later than by the statement right after them:
    both get a variable named after their entry."""
    merged: set[str] = set()
    far: set[str] = set()
    for s in walk(stmts):
        if isinstance(s, Merge) and s.role != "residual":
            merged.update(s.inputs)

    def scan(body: list[Stmt], result: str) -> None:
        for k, s in enumerate(body):
            nxt = body[k + 1] if k + 1 < len(body) else None
            reads = set()
            if nxt is not None:
                if isinstance(nxt, Layer):
                    reads = set(nxt.inputs)
                elif isinstance(nxt, (Instance, Container, If, Loop)):
                    reads = {nxt.input, *(outer_reads(nxt) if isinstance(nxt, Container) else ())}
            if s.out not in reads and s.out != result:
                far.add(s.out)
            if isinstance(s, (Container, If, Loop)):
                scan(s.body, s.output)

    scan(stmts, output)
    return merged, far


def _shapes(d_input: Any, stmts: list[Stmt], out: dict[str, Any]) -> dict[str, Any]:
    for s in walk(stmts):
        out[s.out] = s.shape
        if isinstance(s, Loop):
            out[s.body_input] = s.carried
    return out


def _read_symbols(stmts: list[Stmt]) -> set[str]:
    """Symbols the statements' own expressions read (attributes, arguments, conditions, counts)."""
    found: set[str] = set()
    for s in walk(stmts):
        values: list[Any] = []
        if isinstance(s, Layer):
            values = list(dict(s.attrs).values())
        elif isinstance(s, Instance):
            values = list(s.args.values())
        elif isinstance(s, If):
            values = [s.cond]
        elif isinstance(s, Loop):
            values = [s.count]
        for v in values:
            for x in v if isinstance(v, tuple) else (v,):
                found |= free_symbols(x)
    return found


def write_body(ctx: Context, key: str, name: str, doc: str, stmts: list[Stmt], output: str, in_shape: Any,
               printer: Printer, fresh: dict[str, tuple[str, str, int]], *, sequential: bool,
               network: bool = False, input_id: str = "x",
               extra: tuple[tuple[str, str, Any], ...] = (),
               entry_names: dict[str, str] | None = None, after: tuple[Any, ...] = ()) -> tuple[Writer, list[str]]:
    """The ``__init__`` and ``forward`` lines of a class whose body is ``stmts``. Written again
    while a writing reads a repeat's running spatial size that it did not keep: the first writing
    finds which sizes are read, and each later one those that the newly kept sizes start from (a
    repeat's running width continues the one of a repeat before it). ``extra``:
    (value, argument name, shape) of forward's arguments after ``x``; ``entry_names``: the names of
    the enclosing bodies' entries (value -> name), for arguments of containers inside; ``after``:
    sizes printed after the body (:attr:`Writer.after`, None where no variable holds one), which
    the first writing counts as read."""
    _refuse_errors(stmts)
    ctx.printers.append((key, printer))
    base = dict(printer.names)
    needed: set[str] = set()
    last: dict[str, int] = {}
    for writing in itertools.count():
        w, fwd = _write_body(ctx, key, stmts, output, in_shape, printer, fresh, sequential, needed, last, input_id,
                             extra, entry_names or {})
        _print_after(w, after)
        more = {s for s in printer.used if printer.names.get(s, "").startswith("__unused_")}
        if writing and more <= needed:  # a second writing or later that keeps every size it reads
            break
        needed |= more
        last = dict(printer.last)
        printer.names = dict(base)
        printer.used.clear()
        printer.last.clear()
    return w, fwd


def _refuse_errors(stmts: list[Stmt]) -> None:
    """A layer that is an error whatever the values (a merge op called as a layer, an argument the
    op does not take: no attributes) stands only where these values do not run it, or lowering
    would have reported it (a repeat of 0, a `when:` that is false): the class would still hold it,
    and it has no Python form. Refused at the layer, with the error it is (E720)."""
    for s in walk(stmts):
        if isinstance(s, Layer) and s.attrs is None:
            diag = next((c for c in s.checks if isinstance(c, Diagnostic)), None)
            why = diag.message if diag is not None else f"{s.op.name} cannot be called so"
            raise Unsupported(f"{why}, in code these values leave out (the class holds it for the values "
                              "that run it)", diag.span if diag is not None else s.span,
                              (diag.hint if diag is not None else None) or "remove it, or correct it")


def _print_after(w: Writer, values: tuple[Any, ...]) -> None:
    # after every statement: a repeat continues a variable in its running size only where nothing
    # prints that variable's size later, and the class's output sizes are printed last
    w.p.site = len(w.order)
    w.after = []  # type: ignore[attr-defined]
    for value in values:
        try:
            w.after.append(w.p(value))  # type: ignore[attr-defined]
        except Unprintable:
            w.after.append(None)  # type: ignore[attr-defined]


def _write_body(ctx: Context, key: str, stmts: list[Stmt], output: str, in_shape: Any, printer: Printer,
                fresh: dict[str, tuple[str, str, int]], sequential: bool, needed: set[str],
                last: dict[str, int], input_id: str, extra: tuple[tuple[str, str, Any], ...],
                entry_names: dict[str, str]) -> tuple[Writer, list[str]]:
    w = Writer(ctx, key, printer, Namespace(), sequential=sequential)
    w.needed = needed
    w.last, w.last_known = last, bool(last)  # where each symbol is printed last (the first writing's)
    w.order = {s.out: k for k, s in enumerate(walk(stmts))}
    w.entry_names = {**entry_names, **{s.out: s.name for s in walk(stmts)
                                       if isinstance(getattr(s, "name", None), str) and s.name.isidentifier()}}
    for name in printer.names.values():
        if name.isidentifier():
            w.locals.reserve(name)
    w.fresh = fresh
    w.shapes = _shapes(in_shape, stmts, {input_id: in_shape, **{v: shape for v, _, shape in extra}})  # type: ignore[attr-defined]
    heads = [s for s in walk(stmts) if isinstance(s, Head)]
    w.uses = count_uses(stmts, output, [h.value for h in heads])
    # modules whose value nothing reads (a layer the spec names but no `from:` reads): called, as
    # the network runs them, and their value dropped (no variable nothing reads, ruff's F841)
    # (and a `when:` group's whose value nothing reads, its last module's too)
    ends = {output, *(s.output for s in walk(stmts) if isinstance(s, (Loop, Container)))}
    dead_ifs = {s.out for s in _flow(stmts) if isinstance(s, If) and not s.absent and not w.uses.get(s.out)
                and s.out not in ends}
    ends |= {s.output for s in walk(stmts) if isinstance(s, If) and s.out not in dead_ifs}
    w.dropped = dead_ifs | {s.out for s in _flow(stmts) if isinstance(s, (Layer, Instance, Container))
                            and not w.uses.get(s.out) and s.out not in ends}
    w.seen = {}  # type: ignore[attr-defined]
    w.read_symbols = _read_symbols(stmts)  # type: ignore[attr-defined]
    w.residual_shortcuts = {s.inputs[1] for s in walk(stmts) if isinstance(s, Merge) and s.role == "residual"}  # type: ignore[attr-defined]
    w.var[input_id] = "x"
    w.vars.reserve("x")
    w.holder = {"x": input_id}  # type: ignore[attr-defined]
    for value, arg, _ in extra:
        w.var[value] = arg
        w.vars.reserve(arg)
        w.holder[arg] = value  # type: ignore[attr-defined]
    w.merged, w.far = _merged_and_far(stmts, output)  # type: ignore[attr-defined]
    if sequential and _makes_names(stmts):  # the class adds its children itself, names made in a repeat
        w.body(stmts, "", "self")
        return w, []
    if sequential:
        w.locals.reserve("layers")
        w.init.append("layers: list[nn.Module] = []")
        w.body(stmts, "", "layers")
        return w, []
    w.body(stmts, "", None)
    w.init[:0] = w.hoisted
    fwd = list(w.fwd)
    out = w.var[output]
    if heads:
        order = [h for h in ctx.head_order if any(s.name == h for s in heads)]
        values = {s.name: w.var[s.value] for s in heads}
        fwd += ["if self.training:", f"    return {', '.join([out, *(values[h] for h in order)])}"]
    fwd.append(f"return {out}")
    return w, fwd


def write_container(ctx: Context, key: str, stmt: Container, outer: Printer,
                    fresh: dict[str, tuple[str, str, int]], shapes: dict[str, Any],
                    outer_vars: dict[str, str], outer_names: dict[str, str]) -> ClassCode:
    """A class for a container statement: its constructor takes the outer symbols it reads, its
    forward the outer points it reads (named as the enclosing forward's variables)."""
    in_shape = shapes[stmt.input]
    args = Namespace()
    args.reserve("x")
    extra = []
    for v in outer_reads(stmt):  # named as the enclosing forward's variable, else as the entry
        name = outer_vars.get(v, "")
        if name in ("", "x", "out", "identity"):
            name = outer_names.get(v) or "skip"
        extra.append((v, args.claim(name), shapes[v]))
    inner = Printer({}, outer.block_name)
    # every outer symbol keeps its name where it is an identifier; fresh ones get readable names
    names: dict[str, str] = {}
    ns = Namespace()
    by_text: dict[str, str] = {}
    for symbol in outer.names:
        text = outer.names[symbol]
        if text not in by_text:
            by_text[text] = ns.claim(text if text.isidentifier() else "size")
        names[symbol] = by_text[text]
    inner.names = dict(names)
    w, fwd = write_body(ctx, key, stmt.name or "", "", stmt.body, stmt.output, in_shape, inner, fresh,
                        sequential=False, input_id=stmt.input, extra=tuple(extra), entry_names=outer_names)
    used: list[str] = []
    for symbol in names:  # one argument per name (several symbols may be one variable outside)
        if symbol in inner.used and names[symbol] not in {names[u] for u in used}:
            used.append(symbol)
    cls = ctx.container_names.get((key, stmt.out))
    if cls is None:  # a class body is written twice (see write_body): its name is claimed once
        cls = ctx.container_names[(key, stmt.out)] = ctx.claim_class(camel(stmt.name or stmt.kind))
    signature = [f"{names[s]}: int" for s in used]
    # the sizes of children built as attributes, which the caller reaches through this container
    exposed = {symbol: text[len("self."):] for symbol, text in inner.names.items()
               if symbol not in names and symbol in fresh and text.startswith("self.")}
    code = ClassCode(cls, "nn.Module", "", signature, used, len(used), ["super().__init__()", *w.init], fwd,
                     children=w.children, exposed=exposed, inputs=[(v, arg) for v, arg, _ in extra])
    return code


def write_class(ctx: Context, d: Definition, name: str, param_names: dict[str, str]) -> ClassCode:
    """The class of a block definition (or the network, ``d.key == ""``)."""
    network = d.key == ""
    printer = Printer({}, ctx.block_name)
    dims = tuple(str(s) for s in d.input_shape) if not network else ()
    # constructor arguments: spec parameter names where they are safe Python, renamed where they
    # would shadow something (``self``, ``nn``) or the input's sizes
    ns = Namespace()
    if not network:
        for symbol in dims:
            printer.names[symbol] = ns.claim(symbol)
    for p in d.params:
        printer.names[p.name] = ns.claim(param_names.get(p.name, p.name))
    sequential = (d.mode == "sequential" and not any(isinstance(s, (Merge, Head)) for s in d.body)
                  and not _passes_points(d.body))
    # the output's channels, and the sizes past them that a caller reads (only known when the class
    # is built: the result of a repeat, say), printed with the body so that a repeat keeps its
    # running sizes, and none of them reuses a variable that one of them reads (`in_channels`)
    exposed = sorted(k for k in ctx.expose(d.key) if k < len(d.out_shape)) if not network else []
    after = (d.out_shape[0], *(d.out_shape[k] for k in exposed)) if not network else ()
    w, fwd = write_body(ctx, d.key, name, d.doc, d.body, d.output, d.input_shape, printer, d.fresh,
                        sequential=sequential, network=network, after=after)
    out_lines = []
    if not network:
        channels, *sizes = w.after  # type: ignore[attr-defined]
        if channels is not None:  # a size no variable holds: no caller can read it either
            out_lines.append(f"self.out_channels = {channels}")
        for k, text in zip(exposed, sizes):
            if text is None:
                raise Unprintable(f"no variable holds its output's {DIM_ATTRS[k].removeprefix('out_')}")
            out_lines.append(f"self.{DIM_ATTRS[k]} = {text}")
    used = printer.used
    signature: list[str] = []
    args: list[str] = []
    if not network:
        for k, symbol in enumerate(dims):
            if k == 0 or symbol in used or ctx.spatial(d.key):
                args.append(symbol)
                signature.append(f"{printer.names[symbol]}: int")
    required = len(args)
    for p in d.params:
        if p.required:
            args.append(p.name)
            signature.append(f"{printer.names[p.name]}: {annotation_of(p.kind)}")
            required = len(args)
    computed: list[str] = []  # defaults that read other parameters, computed first
    for p in d.params:
        if not p.required:
            args.append(p.name)
            py = printer.names[p.name]
            if _symbolic(p.default):
                signature.append(f"{py}: {annotation_of(p.kind)} | None = None")
                computed += [f"if {py} is None:", f"    {py} = {printer(p.default)}"]
            else:
                signature.append(f"{py}: {annotation_of(p.kind, p.default)} = {printer(p.default)}")
    if sequential and _makes_names(d.body):
        init = ["super().__init__()", *computed, *w.init, *out_lines]
        base = "nn.Sequential"
    elif sequential:
        init = [*computed, *w.init, "super().__init__(*layers)", *out_lines]
        base = "nn.Sequential"
    else:
        init = ["super().__init__()", *computed, *w.init, *out_lines]
        base = "nn.Module"
    return ClassCode(name, base, d.doc, signature, args, required, init, fwd, children=w.children,
                     py_names={a: printer.names[a] for a in args}, dims=dims)


def annotation_of(kind: str, default: Any = None) -> str:
    """The type annotation of a parameter; a list's items typed as its default's are
    (`tuple[float, ...]` for EfficientNet-style probabilities, `tuple[int, ...]` otherwise)."""
    if kind == "list" and isinstance(default, tuple) and default:
        items = {type(v) for v in default}
        if items == {bool}:
            return "tuple[bool, ...]"
        if float in items and items <= {int, float}:
            return "tuple[float, ...]"
    return TYPES.get(kind, "int")
