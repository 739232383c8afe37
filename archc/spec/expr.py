"""The expression language: a small allow-list over Python's syntax, never ``eval``.

Text is parsed with :func:`ast.parse` (which only parses) and converted into our own
immutable AST; anything outside the allow-list is a located error. What is allowed:

- literals: integers, floats, strings, ``true``/``false``/``none`` (and the Python spellings), lists;
- names (parameters, the loop index, blocks) and ``input.channels|height|width|length``;
- ``+ - * / // %`` (``/`` is Python's true division, always a float), unary ``-``/``+``,
  comparisons, ``and``/``or``/``not``, ``a if c else b``;
- ``min``, ``max``, ``len`` and indexing ``xs[i]``;
- ``ceil``, ``floor``, ``round`` (one argument) and ``int``, which turn a number into an
  integer as Python's math.ceil, math.floor, round and int do, and
  ``make_divisible(v, divisor, min_value=none)``, torchvision's ``_make_divisible`` (a width
  scaled by a float multiplier, rounded to a multiple of ``divisor``).

Evaluation is strict (no arithmetic on booleans, conditions must be booleans) and
bounded: expression length, node count and integer magnitude all have limits, and
division by zero is a diagnostic. The same AST renders back to Python source for
emission (:func:`to_source`), so only re-rendered validated syntax reaches code.

Values may be symbolic (:mod:`archc.sym`): a block definition is lowered once with its
parameters and input sizes as symbols, so evaluation builds ``planes * 4`` or
``stride if i == 0 else 1`` where values are unknown. Symbolic evaluation follows the
concrete rules (the same type errors, short-circuits on concrete operands) and raises
:class:`~archc.sym.SymbolicBranch` or :class:`~archc.sym.NotSymbolic` where the result
cannot be an expression (a float compared with a symbol, a string chosen by a symbol, a
symbolic list joined to another).

A *layer call* (``conv(64, 3, stride=2)``) is parsed by :func:`parse_call` into a
:class:`CallExpr`: the callee is a name, the arguments are expressions.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from .. import sym
from ..diagnostics import describe_char, first_invisible, is_invisible
from ..sym import NotSymbolic, Sym, SymList, and_, cond, is_float, item, not_, or_, sym_len, sym_max, sym_min

MAX_LENGTH = 1000
MAX_NODES = 200
INT_LIMIT = 10**18
LIST_LIMIT = 1000  # values in one list: stage depths and widths need a handful; a list is copied per use
FUNCTIONS = ("min", "max", "len", "ceil", "floor", "round", "int", "make_divisible")
# The functions that turn one number into an integer (archc.sym.FUNCTIONS computes them), and
# make_divisible's arguments in order, the last optional.
ROUNDING = ("ceil", "floor", "round", "int")
MAKE_DIVISIBLE_ARGS = ("v", "divisor", "min_value")
_FUNCTION_HINTS = {
    "ceil": "ceil(x) rounds a number up to an integer, e.g. ceil(n * depth_mult)",
    "floor": "floor(x) rounds a number down to an integer, e.g. floor(width * 0.75)",
    "round": "round(x) rounds to the nearest integer (halves to even, as Python does); "
             "round(x, digits) is not available",
    "int": "int(x) drops a number's fraction (toward zero), e.g. int(width * 1.5)",
    "make_divisible": "make_divisible(v, divisor) or make_divisible(v, divisor, min_value), "
                      "e.g. make_divisible(32 * width_mult, 8)",
}
SHAPE_FIELDS = ("channels", "height", "width", "length")
_CONSTANTS = {"true": True, "false": False, "none": None, "True": True, "False": False, "None": None}


class ExprError(Exception):
    """A problem at characters ``off:end`` of an expression's text."""

    def __init__(self, code: str, message: str, off: int = 0, end: int = 0, hint: str | None = None):
        super().__init__(message)
        self.code, self.message, self.off, self.end, self.hint = code, message, off, end, hint


# --- AST -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expr:
    off: int
    end: int


@dataclass(frozen=True, slots=True)
class Const(Expr):
    value: object


@dataclass(frozen=True, slots=True)
class Name(Expr):
    id: str


@dataclass(frozen=True, slots=True)
class Attr(Expr):
    base: Name
    attr: str


@dataclass(frozen=True, slots=True)
class BinOp(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    op: str
    operand: Expr


@dataclass(frozen=True, slots=True)
class BoolOp(Expr):
    op: str
    values: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Compare(Expr):
    left: Expr
    ops: tuple[str, ...]
    rights: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class IfExp(Expr):
    test: Expr
    body: Expr
    orelse: Expr


@dataclass(frozen=True, slots=True)
class Func(Expr):
    func: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class ListLit(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Index(Expr):
    value: Expr
    index: Expr


@dataclass(frozen=True, slots=True)
class Keyword:
    name: str
    value: Expr
    off: int
    end: int


@dataclass(frozen=True, slots=True)
class CallExpr:
    """``callee(arg, ..., key=value, ...)``, or a bare ``callee``."""

    callee: str
    args: tuple[Expr, ...]
    kwargs: tuple[Keyword, ...]
    off: int
    end: int
    callee_end: int
    text: str


# --- parsing ---------------------------------------------------------------------------

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%"}
_CMPOPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_UNOPS = {ast.USub: "-", ast.UAdd: "+", ast.Not: "not"}


def _parse(text: str, max_length: int) -> ast.expr:
    if len(text) > max_length:
        raise ExprError("E404", f"expression is {len(text)} characters long; the limit is {max_length}", 0, len(text),
                        "split the computation into parameters")
    if "\n" in text.strip() or "\r" in text:
        raise ExprError("E400", "an expression must fit on one line", 0, len(text))
    _check_characters(text)
    try:
        tree = ast.parse(text.strip() and f"({text})", mode="eval")
    except SyntaxError as err:
        raise _syntax_error(text, err) from None
    except (MemoryError, RecursionError):
        raise _too_deep(text) from None
    return tree.body


def _check_characters(text: str) -> None:
    """Characters no expression may hold, named and located before Python's parser sees them."""
    at = first_invisible(text, lambda c: is_invisible(c) or "\ud800" <= c <= "\udfff")
    if at < 0:
        return
    c = text[at]
    if "\ud800" <= c <= "\udfff":
        raise ExprError("E400", f"'\\u{ord(c):04x}' (a lone surrogate) is not a character", at, at + 1,
                        "write the character itself")
    raise ExprError("E400", f"invisible character {describe_char(c)} in the expression", at, at + 1,
                    "delete it, or type a plain space")


def _syntax_error(text: str, err: SyntaxError) -> ExprError:
    """Python's SyntaxError in our terms: the reason, at the offending column of ``text`` (not of
    the ``(text)`` that was parsed), naming the token that was not expected."""
    closers = _brackets(text)
    if closers is not None:
        return closers
    off = min(max(0, (err.offset or 2) - 2), len(text))  # -1 for 1-based, -1 for the parenthesis we added
    msg = (err.msg or "invalid syntax").removesuffix(" (detected at line 1)")
    if msg.startswith("invalid syntax"):
        if "forgot a comma" in msg:  # Python's range covers both values: point at the second one
            end = min(max(off + 1, (err.end_offset or 0) - 2), len(text))
            token = _token_at(text, _last_token_start(text, off, end))
            return ExprError("E400", f"syntax error in expression: an operator or a comma is missing before "
                                     f"'{token}'", _last_token_start(text, off, end), end,
                             "join the values with an operator (+, -, *, //), or separate them with a comma")
        if not text[off:].strip():
            last = text.rstrip()
            word = _last_word(last)
            return ExprError("E400", f"syntax error in expression: it ends too early, after '{word}'",
                             max(0, len(last) - len(word)), max(1, len(last)), "complete the expression")
        token = _token_at(text, off)
        return ExprError("E400", f"syntax error in expression: unexpected '{token}'", off, off + len(token),
                         _UNEXPECTED.get(token))
    if msg.startswith("unexpected character after line continuation"):
        at = text.find("\\")
        off = at if at >= 0 else off
        return ExprError("E400", "syntax error in expression: '\\' is only allowed inside quotes", off, off + 1)
    return ExprError("E400", f"syntax error in expression: {msg}", off, min(off + 1, len(text)))


_UNEXPECTED = {
    ":": "ranges and slices are not allowed; YAML 1.1 reads 1:30 as a base-60 number",
    "=": "use == to compare; name=value is only for a layer's keyword arguments",
    "!": "use 'not' for negation, != to compare",
    "&": "use 'and'", "|": "use 'or'",
}


def _token_at(text: str, off: int) -> str:
    import re

    m = re.compile(r"[^\W\d]\w*|\d[\w.]*|\*\*|//|==|!=|<=|>=|\S").match(text, off)
    return m.group() if m else text[off:off + 1]


def _last_token_start(text: str, off: int, end: int) -> int:
    """Where the last token of ``text[off:end]`` starts: the value Python saw one too many."""
    chunk = text[off:end].rstrip()
    i = len(chunk)
    while i > 0 and not chunk[i - 1].isspace():
        i -= 1
    return off + i if i < len(chunk) else off


def _last_word(text: str) -> str:
    parts = text.split()
    return parts[-1] if parts else text


def _brackets(text: str) -> ExprError | None:
    """An unbalanced bracket: a closer that matches nothing or the wrong opener, or an opener
    never closed, at its own column. Quoted strings are skipped; an unterminated one stops the
    scan (Python's parser says so). None if the brackets balance."""
    closes = {"(": ")", "[": "]", "{": "}"}
    stack: list[tuple[str, int]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                return None
            i = j + 1
            continue
        if c in "([{":
            stack.append((c, i))
        elif c in ")]}":
            if not stack:
                return ExprError("E400", f"syntax error in expression: '{c}' closes nothing", i, i + 1,
                                 "remove it, or add the opening bracket it belongs to")
            opener, at = stack.pop()
            if closes[opener] != c:
                return ExprError("E400", f"syntax error in expression: '{c}' cannot close the '{opener}' before it",
                                 i, i + 1, f"close '{opener}' with '{closes[opener]}' first")
        i += 1
    if stack:
        opener, at = stack[-1]
        return ExprError("E400", f"syntax error in expression: '{opener}' is never closed", at, at + 1,
                         f"add the '{closes[opener]}' that closes it")
    return None


class _Converter:
    def __init__(self, text: str, max_nodes: int):
        self.text = text
        self.encoded = text.encode("utf-8")
        self.count = 0
        self.max_nodes = max_nodes

    def pos(self, node: ast.AST) -> tuple[int, int]:
        # ast offsets are UTF-8 byte offsets into "(" + text + ")"
        def char(b: int | None) -> int:
            b = max(0, (b or 1) - 1)
            return len(self.encoded[:b].decode("utf-8", "ignore"))

        return char(getattr(node, "col_offset", 1)), char(getattr(node, "end_col_offset", 1))

    def fail(self, node: ast.AST, message: str, hint: str | None = None) -> ExprError:
        off, end = self.pos(node)
        return ExprError("E400", message, off, end, hint)

    def expr(self, node: ast.AST) -> Expr:
        self.count += 1
        if self.count > self.max_nodes:
            off, end = self.pos(node)
            raise ExprError("E404", f"expression has more than {self.max_nodes} parts", off, end,
                            "split the computation into parameters")
        off, end = self.pos(node)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (bool, int, float, str)) or node.value is None:
                if isinstance(node.value, int) and not isinstance(node.value, bool) and abs(node.value) > INT_LIMIT:
                    raise ExprError("E405", f"integer literal exceeds the limit of {INT_LIMIT:.0e}", off, end)
                if isinstance(node.value, float) and not math.isfinite(node.value):
                    raise ExprError("E405", "this number is too large to be finite", off, end)
                return Const(off, end, node.value)
            raise self.fail(node, f"{type(node.value).__name__} literals are not allowed")
        if isinstance(node, ast.Name):
            if node.id in _CONSTANTS:
                return Const(off, end, _CONSTANTS[node.id])
            return Name(off, end, node.id)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "input" and node.attr in SHAPE_FIELDS:
                return Attr(off, end, self.expr(node.value), node.attr)  # type: ignore[arg-type]
            raise self.fail(node, "attribute access is not allowed",
                            "only input.channels, input.height, input.width and input.length can be read")
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                hint = None
                symbol = {ast.Pow: "**", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
                          ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^"}.get(type(node.op), "this operator")
                raise self.fail(node, f"operator {symbol} is not allowed", hint)
            return BinOp(off, end, op, self.expr(node.left), self.expr(node.right))
        if isinstance(node, ast.UnaryOp):
            op = _UNOPS.get(type(node.op))
            if op is None:
                raise self.fail(node, "operator ~ is not allowed")
            return Unary(off, end, op, self.expr(node.operand))
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            return BoolOp(off, end, op, tuple(self.expr(v) for v in node.values))
        if isinstance(node, ast.Compare):
            ops = []
            for o in node.ops:
                if type(o) not in _CMPOPS:
                    raise self.fail(node, f"comparison {type(o).__name__} is not allowed", "use == != < <= > >=")
                ops.append(_CMPOPS[type(o)])
            return Compare(off, end, self.expr(node.left), tuple(ops), tuple(self.expr(c) for c in node.comparators))
        if isinstance(node, ast.IfExp):
            return IfExp(off, end, self.expr(node.test), self.expr(node.body), self.expr(node.orelse))
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = node.func.id if isinstance(node.func, ast.Name) else "this"
                raise self.fail(node, f"cannot call {name} in an expression",
                                f"expressions may call {', '.join(FUNCTIONS)}; layers are called only at the start "
                                "of an entry")
            if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
                raise self.fail(node, "* and ** arguments are not allowed", _FUNCTION_HINTS.get(node.func.id))
            fn = node.func.id
            if fn == "make_divisible":
                return Func(off, end, fn, self.make_divisible_args(node))
            if node.keywords:
                raise self.fail(node.keywords[0], f"{fn}() takes no keyword arguments", _FUNCTION_HINTS.get(fn))
            if fn in ROUNDING and len(node.args) != 1:
                raise self.fail(node, f"{fn}() takes one number, got {len(node.args)} arguments",
                                _FUNCTION_HINTS[fn])
            return Func(off, end, fn, tuple(self.expr(a) for a in node.args))
        if isinstance(node, (ast.List, ast.Tuple)):
            if any(isinstance(e, ast.Starred) for e in node.elts):
                raise self.fail(node, "* unpacking is not allowed")
            return ListLit(off, end, tuple(self.expr(e) for e in node.elts))
        if isinstance(node, ast.Subscript):
            if isinstance(node.slice, ast.Slice):
                raise self.fail(node, "slices are not allowed; index one element, e.g. depths[0]")
            return Index(off, end, self.expr(node.value), self.expr(node.slice))
        what = type(node).__name__
        raise self.fail(node, f"{what} is not allowed in an expression")

    def make_divisible_args(self, node: ast.Call) -> tuple[Expr, ...]:
        """``make_divisible``'s arguments in order (``divisor`` and ``min_value`` may be keywords);
        a ``min_value`` left out is ``none``, its default."""
        hint = _FUNCTION_HINTS["make_divisible"]
        given: dict[str, ast.expr] = dict(zip(MAKE_DIVISIBLE_ARGS, node.args))
        if len(node.args) > len(MAKE_DIVISIBLE_ARGS):
            raise self.fail(node.args[len(MAKE_DIVISIBLE_ARGS)], "make_divisible() takes at most 3 arguments "
                            f"(v, divisor, min_value), got {len(node.args) + len(node.keywords)}", hint)
        for k in node.keywords:
            if k.arg not in MAKE_DIVISIBLE_ARGS:
                raise self.fail(k, f"make_divisible() has no argument '{k.arg}'", hint)
            if k.arg in given:
                raise self.fail(k, f"make_divisible() got '{k.arg}' twice", hint)
            given[k.arg] = k.value
        missing = [a for a in MAKE_DIVISIBLE_ARGS[:2] if a not in given]
        if missing:
            raise self.fail(node, f"make_divisible() is missing its argument '{missing[0]}'", hint)
        end = self.pos(node)[1]
        return tuple(self.expr(given[a]) if a in given else Const(end, end, None) for a in MAKE_DIVISIBLE_ARGS)


def parse_expr(text: str, *, max_length: int = MAX_LENGTH, max_nodes: int = MAX_NODES) -> Expr:
    """Parse an expression; raise :class:`ExprError` with offsets into ``text``."""
    if not text.strip():
        raise ExprError("E400", "empty expression", 0, max(1, len(text)))
    tree = _parse(text, max_length)
    try:
        return _Converter(text, max_nodes).expr(tree)
    except RecursionError:
        raise _too_deep(text) from None


def _too_deep(text: str) -> ExprError:
    return ExprError("E404", "expression nests too deeply", 0, len(text), "split the computation into parameters")


def parse_call(text: str, *, max_length: int = MAX_LENGTH, max_nodes: int = MAX_NODES) -> CallExpr:
    """Parse a layer call: ``name`` or ``name(args, key=value)``."""
    stripped = text.strip()
    if not stripped:
        raise ExprError("E204", "empty layer entry", 0, max(1, len(text)))
    lead = len(text) - len(text.lstrip())
    tree = _parse(text, max_length)
    conv = _Converter(text, max_nodes)
    if isinstance(tree, ast.Name):
        off, end = conv.pos(tree)
        return CallExpr(tree.id, (), (), off, end, end, text)
    if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name):
        off, end = conv.pos(tree)
        _, fend = conv.pos(tree.func)
        if any(isinstance(a, ast.Starred) for a in tree.args) or any(k.arg is None for k in tree.keywords):
            raise conv.fail(tree, "* and ** arguments are not allowed")
        try:
            args = tuple(conv.expr(a) for a in tree.args)
            kwargs = []
            for k in tree.keywords:
                koff, kend = conv.pos(k)
                if any(seen.name == k.arg for seen in kwargs):  # Python refuses it too; else the last would win
                    raise ExprError("E301", f"{tree.func.id}() got '{k.arg}' twice", koff, kend,
                                    "give each argument once")
                kwargs.append(Keyword(k.arg or "", conv.expr(k.value), koff, kend))
        except RecursionError:
            raise _too_deep(text) from None
        return CallExpr(tree.func.id, args, tuple(kwargs), off, end, fend, text)
    raise ExprError("E204", f"expected a layer call such as conv(64, 3) or relu; got '{stripped}'", lead, len(text),
                    "a layer entry is an op or block name, optionally with arguments in parentheses")


# --- evaluation ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShapeView:
    """What ``input.<field>`` reads: the input shape of the enclosing block or network."""

    shape: tuple[int | Sym, ...] | None

    def field(self, name: str) -> int | Sym | None:
        if self.shape is None:
            return None
        rank = len(self.shape)
        index = {"channels": 0, "height": 1 if rank == 3 else None, "width": 2 if rank == 3 else None,
                 "length": 1 if rank == 2 else None}[name]
        if index is None:
            raise KeyError(name)
        return self.shape[index]


class Unknown:
    """The value of something that could not be computed (an earlier error); quietly propagates."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = Unknown()


def type_of(value: object) -> str:
    if isinstance(value, Sym):
        return "bool" if value.is_bool else "float" if is_float(value) else "int"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return "list"
    return getattr(value, "type_name", type(value).__name__)


def _num(value: object, node: Expr, what: str, hint: str | None = None) -> int | float | Sym:
    if isinstance(value, Sym) and not value.is_bool:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExprError("E402", f"{what} needs a number, got {type_of(value)} {show(value)}", node.off, node.end,
                        hint)
    return value


def _bool(value: object, node: Expr, what: str) -> bool | Sym:
    if isinstance(value, Sym) and value.is_bool:
        return value
    if not isinstance(value, bool):
        raise ExprError("E402", f"{what} needs true or false, got {type_of(value)} {show(value)}", node.off, node.end,
                        "compare explicitly, e.g. `x != 0`")
    return value


def _check_int(value: object, node: Expr) -> object:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT_LIMIT:
        raise ExprError("E405", f"integer result exceeds the limit of {INT_LIMIT:.0e}", node.off, node.end)
    if isinstance(value, float) and not math.isfinite(value):
        raise ExprError("E405", "the result overflows: it is not a finite number", node.off, node.end)
    return value


def _check_list(length: int, node: Expr) -> None:
    # lists are values like depths or widths; a spec that doubles one in every parameter
    # (b: a + a, c: b + b, ...) would otherwise build lists exponentially large
    if length > LIST_LIMIT:
        raise ExprError("E404", f"a list of {length:,} values exceeds the limit of {LIST_LIMIT:,}", node.off,
                        node.end, "lists hold a few sizes, e.g. depths: [3, 4, 6, 3]")


def show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def evaluate(node: Expr, env: Mapping[str, object]) -> object:
    """Evaluate ``node`` with names looked up in ``env``; raise :class:`ExprError`."""
    try:
        return _evaluate(node, env)
    except RecursionError:  # only with a raised max_expr_nodes
        raise ExprError("E404", "expression nests too deeply", node.off, node.end,
                        "split the computation into parameters") from None


def _evaluate(node: Expr, env: Mapping[str, object]) -> object:
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Name):
        if node.id in env:
            return env[node.id]
        raise ExprError("E401", f"name '{node.id}' is not defined", node.off, node.end)
    if isinstance(node, Attr):
        base = env.get(node.base.id)
        if not isinstance(base, ShapeView):
            raise ExprError("E401", "'input' is not available here", node.off, node.end)
        try:
            value = base.field(node.attr)
        except KeyError:
            rank = len(base.shape or ())
            raise ExprError("E402", f"input.{node.attr} does not exist for a rank-{rank} input {show(base.shape)}",
                            node.off, node.end) from None
        return UNKNOWN if value is None else value
    if isinstance(node, BinOp):
        left, right = _evaluate(node.left, env), _evaluate(node.right, env)
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        if node.op == "+" and isinstance(left, (tuple, SymList)) and isinstance(right, (tuple, SymList)):
            if isinstance(left, SymList) or isinstance(right, SymList):
                raise NotSymbolic(f"{show(left)} + {show(right)} joins a list symbol: its length is unknown")
            _check_list(len(left) + len(right), node)
            return left + right
        a, b = _num(left, node.left, f"'{node.op}'"), _num(right, node.right, f"'{node.op}'")
        if isinstance(a, Sym) or isinstance(b, Sym):
            return _symbolic_arith(node, a, b)
        if node.op in ("/", "//", "%") and b == 0:
            raise ExprError("E403", f"division by zero in '{node.op}'", node.off, node.end)
        if node.op == "*" and isinstance(a, int) and isinstance(b, int) and a and b and \
                abs(a).bit_length() + abs(b).bit_length() > INT_LIMIT.bit_length() + 1:
            raise ExprError("E405", f"integer result exceeds the limit of {INT_LIMIT:.0e}", node.off, node.end)
        result = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
                  "//": lambda: a // b, "%": lambda: a % b}[node.op]()
        return _check_int(result, node)
    if isinstance(node, Unary):
        value = _evaluate(node.operand, env)
        if value is UNKNOWN:
            return UNKNOWN
        if node.op == "not":
            return not_(_bool(value, node.operand, "'not'"))
        v = _num(value, node.operand, f"unary '{node.op}'")
        return sym.neg(v) if node.op == "-" and isinstance(v, Sym) else -v if node.op == "-" else v
    if isinstance(node, BoolOp):
        deciding = node.op == "or"  # the concrete value that ends an ``or`` (True) or an ``and`` (False)
        pending: list[object] = []  # symbolic operands so far
        for part in node.values:
            value = _evaluate(part, env)
            if value is UNKNOWN:
                return UNKNOWN
            b = _bool(value, part, f"'{node.op}'")
            if b is deciding:  # Python stops here: later operands are never evaluated
                return deciding
            if isinstance(b, Sym):
                pending.append(b)
        return (or_ if deciding else and_)(*pending)
    if isinstance(node, Compare):
        left = _evaluate(node.left, env)
        pairs: list[object] = []  # symbolic results of the pairs so far (a < b < c is a < b and b < c)
        for op, right_node in zip(node.ops, node.rights):
            right = _evaluate(right_node, env)
            if left is UNKNOWN or right is UNKNOWN:
                return UNKNOWN
            if op in ("==", "!="):
                same = type_of(left) == type_of(right) or {type_of(left), type_of(right)} == {"int", "float"}
                if same and _mixes_float(left, right):
                    raise NotSymbolic(f"{show(left)} {op} {show(right)} compares a symbol with a float")
                equal = same and left == right  # Sym: symbolic unless decided; a symbolic list: SymbolicBranch
                result = equal if op == "==" else not_(equal) if isinstance(equal, Sym) else not equal
            else:
                if isinstance(left, str) and isinstance(right, str):
                    a, b = left, right  # type: ignore[assignment]
                else:
                    a, b = _num(left, node.left, f"'{op}'"), _num(right, right_node, f"'{op}'")
                    if _mixes_float(a, b):
                        raise NotSymbolic(f"{show(a)} {op} {show(b)} compares a symbol with a float")
                result = _ORDER[op](a, b)
            if result is False:  # Python stops here: later operands are never evaluated
                return False
            if isinstance(result, Sym):
                pairs.append(result)
            left = right
        return and_(*pairs)
    if isinstance(node, IfExp):
        test = _evaluate(node.test, env)
        if test is UNKNOWN:
            return UNKNOWN
        if isinstance(_bool(test, node.test, "'if'"), Sym):
            return _symbolic_if(node, test, _evaluate(node.body, env), _evaluate(node.orelse, env))
        return _evaluate(node.body if test else node.orelse, env)
    if isinstance(node, Func):
        args = [_evaluate(a, env) for a in node.args]
        if any(a is UNKNOWN for a in args):
            return UNKNOWN
        if node.func in ROUNDING or node.func == "make_divisible":
            return _call(node, args)
        if node.func == "len":
            if len(args) != 1 or not isinstance(args[0], (tuple, SymList)):
                raise ExprError("E402", "len() takes one list", node.off, node.end)
            return sym_len(args[0])
        arg_nodes: list[Expr] = list(node.args)
        if len(args) == 1 and isinstance(args[0], SymList):
            raise NotSymbolic(f"{node.func}({show(args[0])}) needs the values of the list")
        if len(args) == 1 and isinstance(args[0], tuple):  # min([a, b]) as well as min(a, b)
            args, arg_nodes = list(args[0]), [node.args[0]] * len(args[0])
        if not args:
            raise ExprError("E402", f"{node.func}() needs at least one value", node.off, node.end)
        nums = [_num(a, n, f"{node.func}()") for a, n in zip(args, arg_nodes)]
        if any(isinstance(n, Sym) for n in nums):
            if _mixes_float(*nums):
                raise NotSymbolic(f"{node.func}() of symbols and floats")
            return (sym_min if node.func == "min" else sym_max)(*nums)
        return min(nums) if node.func == "min" else max(nums)
    if isinstance(node, ListLit):
        _check_list(len(node.items), node)
        return tuple(_evaluate(i, env) for i in node.items)
    if isinstance(node, Index):
        seq, idx = _evaluate(node.value, env), _evaluate(node.index, env)
        if seq is UNKNOWN or idx is UNKNOWN:
            return UNKNOWN
        if not isinstance(seq, (tuple, SymList)):
            raise ExprError("E402", f"cannot index a {type_of(seq)}", node.value.off, node.value.end)
        at = node.index
        if type_of(idx) != "int":
            raise ExprError("E402", f"a list index must be an integer, got {type_of(idx)}", at.off, at.end)
        if isinstance(seq, SymList) or (isinstance(idx, Sym) and seq):  # the range is checked with values
            return item(seq, idx)
        if isinstance(idx, Sym) or not -len(seq) <= idx < len(seq):
            raise ExprError("E402", f"index {show(idx)} is out of range for a list of {len(seq)}", at.off, at.end)
        return seq[idx]
    raise ExprError("E400", f"cannot evaluate {type(node).__name__}", node.off, node.end)  # pragma: no cover


_ORDER: dict[str, Callable[[object, object], object]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _call(node: Func, args: list[object]) -> object:
    """``ceil``, ``floor``, ``round``, ``int`` or ``make_divisible`` of evaluated arguments: the
    integer Python (or torchvision's _make_divisible) computes, or its expression for symbols."""
    hint = _FUNCTION_HINTS[node.func]
    what = f"{node.func}()"
    if node.func in ROUNDING:
        (value,) = args
        _num(value, node.args[0], what, hint)
        if isinstance(value, Sym):
            return sym.call(node.func, value)
        return _check_int(sym.call(node.func, value), node)
    v, divisor, min_value = args
    _num(v, node.args[0], what, hint)
    for value, arg, name in ((divisor, node.args[1], "divisor"), (min_value, node.args[2], "min_value")):
        if name == "min_value" and value is None:
            continue
        if type_of(value) != "int":
            raise ExprError("E402", f"make_divisible() needs a whole number for {name}, got {type_of(value)} "
                                    f"{show(value)}", arg.off, arg.end, hint)
        if name == "divisor" and not isinstance(value, Sym) and value < 1:
            raise ExprError("E402", f"make_divisible() needs a divisor of 1 or more, got {show(value)}",
                            arg.off, arg.end, "channels are rounded to a multiple of a positive number, e.g. 8")
    if any(isinstance(a, Sym) for a in args):
        return sym.call("make_divisible", *args)
    return _check_int(sym.make_divisible(v, divisor, min_value), node)  # type: ignore[arg-type]


def _mixes_float(*values: object) -> bool:
    """Symbols are integers: a float among them, or a symbolic quotient (a float) among other
    values, has no exact symbolic meaning (the quotient itself is passed on as written)."""
    return any(isinstance(v, Sym) for v in values) and any(is_float(v) for v in values)


def _symbolic_arith(node: BinOp, a: int | float | Sym, b: int | float | Sym) -> object:
    if node.op in ("/", "//", "%") and not isinstance(b, Sym) and b == 0:
        raise ExprError("E403", f"division by zero in '{node.op}'", node.off, node.end)
    # archc.sym's constructors: integers simplify, a float taking part is kept as written (sym.Real)
    result = {"+": sym.add, "-": sym.sub, "*": sym.mul, "/": sym.truediv, "//": sym.floordiv,
              "%": sym.mod}[node.op](a, b)
    return _check_int(result, node)  # a constant folded from symbols (i - i) is checked as any other


def _symbolic_if(node: IfExp, test: Sym, body: object, orelse: object) -> object:
    """``body if test else orelse`` for a symbolic test: both branches integers or both booleans
    (an expression is one or the other); both were evaluated, so an error in either is raised."""
    if body is UNKNOWN or orelse is UNKNOWN:
        return UNKNOWN
    kinds = {type_of(body), type_of(orelse)}
    if len(kinds) != 1 or not kinds <= {"int", "bool", "float"}:
        raise NotSymbolic(f"`{to_source(node)}` chooses a {' or '.join(sorted(kinds))} by a symbol; "
                          "only integers, floats or booleans (both branches the same) can be chosen symbolically")
    return cond(test, body, orelse)


def children(node: Expr | CallExpr) -> tuple[Expr, ...]:
    """The sub-expressions directly inside ``node`` (none for names, constants and leaves)."""
    if isinstance(node, CallExpr):
        return (*node.args, *(k.value for k in node.kwargs))
    if isinstance(node, BinOp):
        return (node.left, node.right)
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, BoolOp):
        return node.values
    if isinstance(node, Compare):
        return (node.left, *node.rights)
    if isinstance(node, IfExp):
        return (node.test, node.body, node.orelse)
    if isinstance(node, Func):
        return node.args
    if isinstance(node, ListLit):
        return node.items
    if isinstance(node, Index):
        return (node.value, node.index)
    return ()


def walk(node: Expr | CallExpr) -> Iterator[Expr | CallExpr]:
    """``node`` and every expression inside it, without recursion (expressions can be deep)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(children(n))


def names_in(node: Expr | CallExpr) -> set[str]:
    """Every free name an expression (or a call's arguments) reads."""
    return {n.id if isinstance(n, Name) else n.base.id for n in walk(node) if isinstance(n, (Name, Attr))}


# --- rendering back to Python ----------------------------------------------------------

_PREC = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "//": 6, "%": 6, "unary": 7,
         "atom": 9}


def to_source(node: Expr, name: Callable[[str], str] = lambda n: n) -> str:
    """Python source for an expression; ``name`` maps spec names to Python identifiers."""
    return _src(node, name)[0]


def _src(node: Expr, name: Callable[[str], str]) -> tuple[str, int]:
    def wrap(child: Expr, prec: int, strict: bool = False) -> str:
        text, p = _src(child, name)
        return f"({text})" if p < prec or (strict and p == prec) else text

    if isinstance(node, Const):
        return repr(node.value), _PREC["atom"]
    if isinstance(node, Name):
        return name(node.id), _PREC["atom"]
    if isinstance(node, Attr):
        return name(f"input.{node.attr}"), _PREC["atom"]
    if isinstance(node, BinOp):
        p = _PREC[node.op]
        return f"{wrap(node.left, p)} {node.op} {wrap(node.right, p, strict=True)}", p
    if isinstance(node, Unary):
        if node.op == "not":
            return f"not {wrap(node.operand, _PREC['not'])}", _PREC["not"]
        return f"{node.op}{wrap(node.operand, _PREC['unary'])}", _PREC["unary"]
    if isinstance(node, BoolOp):
        p = _PREC[node.op]
        return f" {node.op} ".join(wrap(v, p, strict=True) for v in node.values), p
    if isinstance(node, Compare):
        p = _PREC["cmp"]
        parts = [wrap(node.left, p, strict=True)]
        for op, r in zip(node.ops, node.rights):
            parts += [op, wrap(r, p, strict=True)]
        return " ".join(parts), p
    if isinstance(node, IfExp):
        return f"{wrap(node.body, 1, True)} if {wrap(node.test, 1, True)} else {wrap(node.orelse, 0)}", 0
    if isinstance(node, Func):
        return f"{node.func}({', '.join(_src(a, name)[0] for a in node.args)})", _PREC["atom"]
    if isinstance(node, ListLit):
        return f"[{', '.join(_src(a, name)[0] for a in node.items)}]", _PREC["atom"]
    if isinstance(node, Index):
        return f"{wrap(node.value, _PREC['atom'])}[{_src(node.index, name)[0]}]", _PREC["atom"]
    raise TypeError(type(node).__name__)  # pragma: no cover
