"""Binding values to parameters: the network's (defaults, ``extends`` variants, overrides)
and a block call's arguments (positional, keyword, defaults), with strict types.

A parameter's type is the one it declares (``planes: int``) or the type of its
default (``stride: 1`` is an int); a float parameter also takes an int.
"""

from __future__ import annotations

import numbers
from collections import ChainMap
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..diagnostics import Diagnostic, Note, Reporter, Span, suggest
from ..ops import registry
from ..spec import model as m
from ..spec.expr import UNKNOWN, Expr, ExprError, evaluate, parse_expr, show, type_of
from ..spec.loader import BlockRef, Program
from ..sym import SymBlock
from .report import arg_spans, arg_twice, missing_arg, no_such_arg, too_many_args

Eval = Callable[[Expr, m.Loc, Mapping[str, Any], tuple[Note, ...]], Any]


class SetValue(str):
    """An override given as text (``--set name=value``): parsed and evaluated like a spec expression.

    Any other override is a Python value, a keyword argument of the API
    (``archc.analyze(spec, num_classes=10)``), and its errors say so: the command line
    speaks ``--set``, Python its keyword arguments."""


def _keyword(name: str, value: Any) -> str:
    """How an error names an API override: ``keyword argument num_classes=10``."""
    shown = repr(value)
    return f"keyword argument {name}={shown if len(shown) <= 40 else '...'}"


def with_names(env: Mapping[str, Any], names: dict[str, Any]) -> ChainMap[str, Any]:
    """``env`` with ``names`` in front, sharing (not copying) what ``env`` holds."""
    return env.new_child(names) if isinstance(env, ChainMap) else ChainMap(names, env)


def value_type(value: Any) -> str:
    return "block" if isinstance(value, BlockRef) else type_of(value)


def holder_hint(op: str) -> str:
    """The hint for an op named where a value is expected (issue 17: torchvision passes
    ``activation_layer=nn.Hardswish``; archc passes a block that holds the op)."""
    holder = op[:1].upper() + op[1:]
    return (f"'{op}' is an op, and an op cannot be passed as a value; to pass it to a block "
            f"parameter, define a block that holds it ({holder}: {{layers: {op}}} under blocks:) "
            f"and pass {holder} (docs/language.md, 'Passing an op to a block parameter')")


def defined_names(env: Mapping[str, Any]) -> list[str]:
    """The names an expression evaluated in ``env`` may read that E401's hint lists: the parameters
    and repeat indices, not ``input`` nor the blocks (a block-typed parameter's value included)."""
    return [k for k, v in env.items() if k != "input" and not isinstance(v, (BlockRef, SymBlock))]


def undefined_hint(name: str, names: Iterable[str], ops: Container[str]) -> str | None:
    """The hint of E401 for ``name``, where ``names`` are defined (the parameters and repeat
    indices, not ``input`` nor the blocks): an op named as a value is told how to pass it."""
    # An op is not a value (issue 17: a user passing `act=hardswish` as torchvision passes
    # `activation_layer=nn.Hardswish`): say how to pass it instead of listing the names here.
    if name in ops:
        return holder_hint(name)
    names = sorted(names)
    return suggest(name, names) or (f"names defined here: {', '.join(names)}" if names else None)


def check_type(r: Reporter, value: Any, want: str | None, name: str, span: Span | None, what: str,
               trace: tuple[Note, ...] = ()) -> Any:
    if value is UNKNOWN or want is None:
        return value
    have = value_type(value)
    if want == INT_OR_PAIR:
        if is_int_or_pair(value):
            return value
        r.error("E202", f"{what} '{name}' must be an int or a pair of ints, got {have} {show(value)}", span,
                "give one size for both axes (`3`) or two, [height, width] (`[1, 7]`)", trace)
        return UNKNOWN
    if have == want or (want == "float" and have == "int"):
        return float(value) if want == "float" else value
    hint = None
    if want == "block" and isinstance(value, str):  # an API keyword argument naming no block
        hint = holder_hint(value) if value in registry() else "give the name of a block of the spec"
    r.error("E202", f"{what} '{name}' must be {want}, got {have} {show(value)}", span, hint, trace)
    return UNKNOWN


INT_OR_PAIR = "int | pair"


def is_int_or_pair(value: Any) -> bool:
    """Is ``value`` what an ``int | pair`` parameter takes: an int, or a list of two ints?"""
    def size(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    return size(value) or (isinstance(value, tuple) and len(value) == 2 and all(size(v) for v in value))


def default_type(decl: m.ParamDecl, env: Mapping[str, Any]) -> str | None:
    """The type of a parameter's default, which the values it takes must match."""
    if decl.default is None:
        return None
    try:
        value = evaluate(decl.default.expr, env)
    except ExprError:
        return None
    return None if value is UNKNOWN or value is None else value_type(value)


def network_params(r: Reporter, program: Program, env: Mapping[str, Any], overrides: Mapping[str, Any],
                   eval_: Eval) -> dict[str, Any]:
    """The network's parameter values: defaults (the leaf of ``extends`` wins), then overrides."""
    values: dict[str, Any] = {}
    defaults = program.param_defaults()
    declared = [decl.name for decl, _ in defaults]
    for name, value in overrides.items():
        if name not in declared:
            hint = suggest(name, declared) or f"its parameters: {', '.join(sorted(declared)) or 'none'}"
            if isinstance(value, SetValue):
                r.error("E309", f"'{name}' is not a parameter of {program.name}", Span(f"--set {name}", 1, 1, 1, 2),
                        hint)
            else:
                r.error("E309", f"{_keyword(name, value)} is not a parameter of {program.name}", None, hint)
    for decl, default in defaults:
        scope = ChainMap(values, env)
        what = "parameter"
        if decl.name in overrides:
            given = overrides[decl.name]
            value = _override(r, decl.name, given, scope, eval_)
            where: Span | None = Span(f"--set {decl.name}", 1, 1, 1, 2)
            if not isinstance(given, SetValue):
                where, what = None, "keyword argument"
        elif default is not None:
            value = eval_(default.expr, default.loc, scope, ())
            where = default.loc.span
        else:
            r.error("E302", f"parameter '{decl.name}' has no default", decl.span,
                    f"give it a value: --set {decl.name}=... on the command line, the keyword argument "
                    f"{decl.name}=... in Python (or give it a default)")
            value, where = UNKNOWN, decl.span
        want = decl.type or default_type(decl, scope)
        values[decl.name] = check_type(r, value, want, decl.name, where, what)
    return values


def _override(r: Reporter, name: str, value: Any, env: Mapping[str, Any], eval_: Eval) -> Any:
    if isinstance(value, SetValue):
        file = f"--set {name}"
        r.sources[file] = str(value)
        loc = m.Loc(Span(file, 1, 1, 1, len(value) + 1), 1)
        try:
            expr = parse_expr(str(value))
        except ExprError as err:
            r.error(err.code, err.message, loc.at(err.off, err.end), err.hint)
            return UNKNOWN
        return eval_(expr, loc, env, ())
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)  # e.g. numpy.int64 from a notebook
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str) and isinstance(env.get(value), BlockRef):
        return env[value]
    return value


def bind_given(block: str, names: list[str], args: Sequence[tuple[Any, Span]],
               kwargs: Sequence[tuple[str, Any, Span]], value: Callable[[Any, str], Any],
               fault: Callable[[Diagnostic], None]) -> tuple[dict[str, Any], dict[str, Span]]:
    """A call's arguments as written, each with where it is written (positional ones, then keywords),
    bound to ``block``'s parameters ``names`` as Python binds them; ``value(arg, name)`` gives an
    argument's value. What the call gives that the block does not take goes to ``fault``, in the
    order written with whatever ``value`` reports: too many (E308), a name it has no parameter of or
    one given twice (E301). The values bound and where each is written (the parameters left out are
    the caller's to fill: defaults, E302). One binding for every path that binds a block call: the
    walk's, the module IR's definition, and instantiation's of a block passed as a parameter."""
    values: dict[str, Any] = {}
    at: dict[str, Span] = {}
    if len(args) > len(names):
        fault(too_many_args(block, names, len(args), args[len(names)][1]))
    for name, (arg, span) in zip(names, args):
        values[name], at[name] = value(arg, name), span
    for name, arg, span in kwargs:
        if name not in names:
            fault(no_such_arg(block, name, names, span))
        elif name in values:
            fault(arg_twice(block, name, span))
        else:
            values[name], at[name] = value(arg, name), span
    return values, at


def block_args(r: Reporter, block: BlockRef, call: m.Call, env: Mapping[str, Any], trace: tuple[Note, ...],
               eval_: Eval) -> dict[str, Any]:
    """Bind a block call's arguments to the block's parameters."""
    decls = block.defn.params
    spans_of = arg_spans(call)
    values, spans = bind_given(block.name, [d.name for d in decls], list(zip(call.call.args, spans_of.args)),
                               [(k.name, k.value, span) for k, (_, span) in zip(call.call.kwargs, spans_of.kwargs)],
                               lambda arg, _: eval_(arg, call.loc, env, trace),
                               lambda diag: r.add(replace(diag, notes=trace)))
    scope = ChainMap(values, block.unit.blocks)  # the values bound so far, then the blocks: never copied
    for decl in decls:
        if decl.name not in values:
            if decl.default is None:
                required = [d.name for d in decls if d.default is None]
                r.add(replace(missing_arg(block.name, decl.name, required, call.span), notes=trace))
                values[decl.name] = UNKNOWN
            else:
                values[decl.name] = eval_(decl.default.expr, decl.default.loc, scope, trace)
                spans[decl.name] = decl.default.loc.span
        want = decl.type or default_type(decl, scope)
        values[decl.name] = check_type(r, values[decl.name], want, decl.name, spans.get(decl.name, call.span),
                                       f"{block.name}() argument", trace)
    return {d.name: values[d.name] for d in decls}
