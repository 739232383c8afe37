"""Symbolic sizes: integer and boolean expressions of named parameters.

A block definition is lowered once, with its parameters and its input's sizes as
symbols, so every size in its graph is an expression (``planes * 4``,
``(in_height - 1) // stride + 1``) that emission prints as Python, and the concrete
graph of one instance is that expression evaluated. Op shape rules
(:meth:`archc.ops.base.Op.output_shape`) are written with plain operators, so one rule
computes on ints and on :class:`Sym` values alike.

Compared with the alternatives: sympy is a general algebra system whose canonical
forms do not print like the code that built them, and torch.fx's ``SymInt`` is sympy
plus guards recorded against concrete example sizes; here an expression is only as
clever as the shape rules need, and exact with no example at hand. Constants fold,
sums merge their constants and like terms, products merge their constant factors,
``x // 1``, ``x % 1`` and ``(x * k) // k`` vanish, and operands of commutative operators
are compared as sets, so equal expressions are ``==`` and hash alike. There is no
general algebra (no expansion of symbolic products, no reasoning about signs), which
keeps every rule obviously exact for Python's floor semantics; the tests check each
against Python's own arithmetic.

Floats are values, never simplified: a true quotient ``a / b`` (:func:`truediv`), a float
parameter (``Sym("width_mult", real=True)``), and arithmetic where one of them or a float
constant takes part (:class:`Real`) are kept exactly as written, so that the emitted code
computes them to the last bit as the spec does (a drop probability a block computes from its
index, ``32 * width_mult``). The integer-valued functions ``ceil``, ``floor``, ``round``,
``int`` and torchvision's ``make_divisible`` (:func:`call`, :class:`Fn`) bring a float back
to a size.

Terms keep the order they were written in, so printed code reads like the code
that built it (``c1 + c3 + c5 + pool_proj``); ordering never affects equality.

Branching on an unknown value (``if size > 1:``, ``min(a, b)``, ``range(n)``) raises
:class:`SymbolicBranch` instead of guessing: use :func:`cond`, :func:`sym_min`,
:func:`sym_max`, ``&``, ``|`` and :func:`not_`. ``a == b`` between symbols is a
symbolic comparison unless it can be decided (identical expressions, or a constant
difference). Structurally equal expressions are ``==`` (checked first), so they work as
``dict`` keys; two different expressions with the same hash in one dict would be compared
symbolically there and refuse (SymbolicBranch) rather than collide silently. The
simplifier's own keys compare structurally, so it never depends on that.

Parameters that are not numbers have symbols too. A list (``depths: [3, 4, 6, 3]``) is a
:class:`SymList`: ``depths[k]`` and ``depths[i]`` are integer expressions (:class:`Item`)
and :func:`sym_len` its length, while a list of values indexed by a symbol prints as
``[64, 128, 256][i]``; the list itself is no number, and using it as one raises
:class:`NotSymbolic`. A block (ResNet's ``block``) is a :class:`SymBlock`, a name that
expressions pass along for the lowerer to resolve. An ``int | pair`` parameter (a kernel size
given as ``3`` or ``[1, 7]``) is a :class:`SymIntPair`: passed along unchanged, and read per
axis by the shape rules as :class:`Axis` expressions (``kernel`` on both axes where it is an int).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Union


class SymbolicBranch(Exception):
    """Code asked for the truth or the value of a symbolic expression (``bool``, ``int``,
    ``range``): the answer depends on symbols that are not known here."""


class NotSymbolic(Exception):
    """A rule cannot be computed symbolically for the values given (e.g. a dimension index
    or a list-valued attribute given as one symbol); the caller must use concrete values."""


Value = Union[int, "Sym"]

# Python's operator precedence, low to high (the parts the printer needs).
_P_COND, _P_OR, _P_AND, _P_NOT, _P_CMP, _P_ADD, _P_MUL, _P_NEG, _P_ATOM = range(9)


class Sym:
    """A symbolic value. ``Sym("planes")`` names an integer symbol, ``Sym("use", boolean=True)``
    a boolean one; every expression built from them is an instance of a subclass."""

    __slots__ = ("_hash",)
    is_bool = False

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Sym:
            return Symbol(*args, **kwargs)
        return object.__new__(cls)

    def _key(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            h = hash((type(self).__name__, self._key()))
            object.__setattr__(self, "_hash", h)
            return h

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("symbolic expressions are immutable")

    def same(self, other: object) -> bool:
        """Structural equality (what ``==`` decides when it can). Keys hold symbols wrapped in
        :class:`_K`, so this never asks the symbolic ``==`` (hashes do collide: -1 and -2)."""
        return self is other or (type(self) is type(other) and hash(self) == hash(other)
                                 and self._key() == other._key())  # type: ignore[union-attr]

    def __bool__(self) -> bool:
        raise SymbolicBranch(f"the truth of {to_python(self)} depends on symbols; use cond() or decide it concretely")

    def __index__(self) -> int:
        raise SymbolicBranch(f"{to_python(self)} is symbolic; an integer is needed here")

    __int__ = __index__

    def __repr__(self) -> str:
        return f"Sym<{to_python(self)}>"

    def __str__(self) -> str:
        return to_python(self)

    # --- arithmetic (integers only) ------------------------------------------------
    def __add__(self, other: Any) -> Any:
        return _binary(add, self, other)

    def __radd__(self, other: Any) -> Any:
        return _binary(add, other, self)

    def __sub__(self, other: Any) -> Any:
        return _binary(sub, self, other)

    def __rsub__(self, other: Any) -> Any:
        return _binary(sub, other, self)

    def __mul__(self, other: Any) -> Any:
        return _binary(mul, self, other)

    def __rmul__(self, other: Any) -> Any:
        return _binary(lambda a, b: mul(a, b, lead=True), other, self)

    def __floordiv__(self, other: Any) -> Any:
        return _binary(floordiv, self, other)

    def __rfloordiv__(self, other: Any) -> Any:
        return _binary(floordiv, other, self)

    def __mod__(self, other: Any) -> Any:
        return _binary(mod, self, other)

    def __truediv__(self, other: Any) -> Any:
        return _binary(truediv, self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return _binary(truediv, other, self)

    def __rmod__(self, other: Any) -> Any:
        return _binary(mod, other, self)

    def __neg__(self) -> Any:
        return neg(self)

    def __pos__(self) -> Any:
        _int(self)
        return self

    # --- comparisons -----------------------------------------------------------------
    def __eq__(self, other: object) -> Any:  # type: ignore[override]
        if self.same(other):  # first, so that dict and set lookups never recurse
            return True
        return compare("==", self, other) if _operand(other) else NotImplemented

    def __ne__(self, other: object) -> Any:  # type: ignore[override]
        if self.same(other):
            return False
        return compare("!=", self, other) if _operand(other) else NotImplemented

    def __lt__(self, other: Any) -> Any:
        return compare("<", self, other) if _operand(other) else NotImplemented

    def __le__(self, other: Any) -> Any:
        return compare("<=", self, other) if _operand(other) else NotImplemented

    def __gt__(self, other: Any) -> Any:
        return compare(">", self, other) if _operand(other) else NotImplemented

    def __ge__(self, other: Any) -> Any:
        return compare(">=", self, other) if _operand(other) else NotImplemented

    # --- logic (booleans only) ---------------------------------------------------------
    def __and__(self, other: Any) -> Any:
        return and_(self, other) if _operand(other) else NotImplemented

    __rand__ = __and__

    def __or__(self, other: Any) -> Any:
        return or_(self, other) if _operand(other) else NotImplemented

    __ror__ = __or__

    def __invert__(self) -> Any:
        return not_(self)


class _K:
    """A symbol as a key that compares structurally: what expression keys and the simplifier's
    own dicts hold, so that a hash collision never turns into a symbolic comparison."""

    __slots__ = ("x",)

    def __init__(self, x: Sym) -> None:
        self.x = x

    def __hash__(self) -> int:
        return hash(self.x)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _K) and self.x.same(other.x)


def _k(value: Any) -> Any:
    """``value`` as part of a key: symbols compare structurally, and a constant keeps its type
    (True is not 1) and a mark for -1, whose hash CPython makes -2's (``a - b`` vs ``a - 2 * b``)."""
    return _K(value) if isinstance(value, Sym) else (type(value), value, value == -1)


def _operand(value: object) -> bool:
    return isinstance(value, (int, Sym))


def _binary(fn: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    return fn(a, b) if _operand(a) and _operand(b) else NotImplemented


def _int(value: Any) -> None:
    if isinstance(value, Sym) and value.is_bool:
        raise TypeError(f"{to_python(value)} is a boolean, not a size")


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or (isinstance(value, Sym) and value.is_bool)


def _bool(value: Any) -> None:
    if (isinstance(value, Sym) and not value.is_bool) or not isinstance(value, (bool, Sym)):
        raise TypeError(f"{value!r} is not a boolean")


# --- the node kinds ---------------------------------------------------------------------

class Symbol(Sym):
    """A named parameter: an integer, a boolean (``boolean=True``) or a float (``real=True``,
    EfficientNet's ``width_mult``: only :class:`Real` arithmetic, kept as written, uses it)."""

    __slots__ = ("is_bool", "name", "real")

    def __init__(self, name: str, boolean: bool = False, real: bool = False) -> None:
        if not name.isidentifier():
            raise ValueError(f"a symbol needs an identifier for a name, got {name!r}")
        if boolean and real:
            raise ValueError("a symbol is a boolean or a float, not both")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "is_bool", boolean)
        object.__setattr__(self, "real", real)

    def _key(self) -> tuple[Any, ...]:
        return (self.name, self.is_bool, self.real)


class Sum(Sym):
    """``const + Σ coeff·term``; a term is any non-sum expression, at most once. ``lead``
    remembers whether the coefficient was written first (``2 * x``) or last (``x * 2``)."""

    __slots__ = ("const", "terms")

    def __init__(self, const: int, terms: tuple[tuple[Sym, int, bool], ...]) -> None:
        object.__setattr__(self, "const", const)
        object.__setattr__(self, "terms", terms)

    def _key(self) -> tuple[Any, ...]:
        return (_k(self.const), frozenset((_K(t), _k(c)) for t, c, _ in self.terms))


class Mul(Sym):
    """A product of two or more symbolic factors (constants live in the enclosing Sum)."""

    __slots__ = ("factors",)

    def __init__(self, factors: tuple[Sym, ...]) -> None:
        object.__setattr__(self, "factors", factors)

    def _key(self) -> tuple[Any, ...]:
        return (frozenset(Counter(map(_K, self.factors)).items()),)


class Binary(Sym):
    """``a // b`` or ``a % b`` (Python's floor semantics), ``a / b`` (a float, see :func:`truediv`),
    or a comparison ``a <op> b``."""

    __slots__ = ("a", "b", "is_bool", "op")

    def __init__(self, op: str, a: Value, b: Value) -> None:
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "is_bool", op in _CMP)

    def _key(self) -> tuple[Any, ...]:
        if self.op in ("==", "!="):
            return (self.op, frozenset((_k(self.a), _k(self.b))))
        return (self.op, _k(self.a), _k(self.b))


class Call(Sym):
    """``min``/``max`` of integers, ``and``/``or`` of booleans: commutative, flattened."""

    __slots__ = ("args", "fn", "is_bool")

    def __init__(self, fn: str, args: tuple[Value, ...]) -> None:
        object.__setattr__(self, "fn", fn)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "is_bool", fn in ("and", "or"))

    def _key(self) -> tuple[Any, ...]:
        return (self.fn, frozenset(map(_k, self.args)))


class Not(Sym):
    __slots__ = ("x",)
    is_bool = True

    def __init__(self, x: Sym) -> None:
        object.__setattr__(self, "x", x)

    def _key(self) -> tuple[Any, ...]:
        return (_K(self.x),)


class Cond(Sym):
    """``a if c else b``."""

    __slots__ = ("a", "b", "c", "is_bool")

    def __init__(self, c: Sym, a: Value, b: Value) -> None:
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "is_bool", isinstance(a, bool) or getattr(a, "is_bool", False))

    def _key(self) -> tuple[Any, ...]:
        return (_K(self.c), _k(self.a), _k(self.b))


class Real(Sym):
    """Arithmetic with a float: ``a <op> b`` for ``+ - * // %`` where either side is a float (a
    float constant, a float symbol, a quotient or another Real), or ``-a`` (op ``neg``, ``b`` None).
    Kept exactly as written, never simplified: float arithmetic rounds, so merging terms or
    reordering them could change the last bit (``32 * width_mult`` is computed as written)."""

    __slots__ = ("a", "b", "op")

    def __init__(self, op: str, a: Any, b: Any) -> None:
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)

    def _key(self) -> tuple[Any, ...]:
        return (self.op, _k(self.a), _k(self.b))


class Fn(Sym):
    """An integer-valued function of numbers, as Python computes it: ``ceil``, ``floor`` (math's),
    ``round`` and ``int`` (the builtins, one argument) and ``make_divisible(v, divisor[, min_value])``
    (torchvision's ``_make_divisible``, see :func:`make_divisible`). Never simplified: an argument
    that looks like an integer may hold a float (an item of a list parameter)."""

    __slots__ = ("args", "fn")

    def __init__(self, fn: str, args: tuple[Any, ...]) -> None:
        object.__setattr__(self, "fn", fn)
        object.__setattr__(self, "args", args)

    def _key(self) -> tuple[Any, ...]:
        return (self.fn, tuple(map(_k, self.args)))


class Item(Sym):
    """``seq[index]``: an item of a list symbol (any index), or of a list of values at a
    symbolic index (``[64, 128, 256][i]``); see :func:`item`."""

    __slots__ = ("index", "is_bool", "seq")

    def __init__(self, seq: SymList | tuple[Value, ...], index: Value) -> None:
        object.__setattr__(self, "seq", seq)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "is_bool", seq.is_bool if isinstance(seq, SymList) else _is_bool(seq[0]))

    def _key(self) -> tuple[Any, ...]:
        seq = self.seq
        return (seq._key() if isinstance(seq, SymList) else tuple(map(_k, seq)), _k(self.index))


class Len(Sym):
    """``len(seq)`` of a list symbol (a list of values has a plain length)."""

    __slots__ = ("seq",)

    def __init__(self, seq: SymList) -> None:
        object.__setattr__(self, "seq", seq)

    def _key(self) -> tuple[Any, ...]:
        return self.seq._key()


class Axis(Sym):
    """The size an ``int | pair`` parameter gives axis ``k``: the value itself where it is an int,
    its ``k``-th item where it is a pair (what ``nn.Conv2d`` does with ``kernel_size``)."""

    __slots__ = ("k", "of")

    def __init__(self, of: SymIntPair, k: int) -> None:
        object.__setattr__(self, "of", of)
        object.__setattr__(self, "k", k)

    def _key(self) -> tuple[Any, ...]:
        return (self.of.name, self.k)


def axis_of(value: Any, k: int) -> Any:
    """Axis ``k`` of an int-or-pair value: symbolic (:class:`Axis`), an int, or a pair's item."""
    if isinstance(value, SymIntPair):
        return Axis(value, k)
    return value if isinstance(value, (int, Sym)) else value[k]


# --- parameters that are not numbers -------------------------------------------------------

class _Named:
    """What a symbol of a non-number value (a list, an ``int | pair``, a block) is besides its
    meaning: an immutable name, hashed and printed as itself, ``!=`` the negation of ``==``."""

    __slots__ = ("name",)
    type_name = ""

    def __init__(self, name: str) -> None:
        if not name.isidentifier():
            raise ValueError(f"a symbol needs an identifier for a name, got {name!r}")
        object.__setattr__(self, "name", name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("symbolic expressions are immutable")

    def _key(self) -> tuple[Any, ...]:
        return (self.type_name, self.name)

    def __hash__(self) -> int:
        return hash(self._key())

    def __ne__(self, other: object) -> Any:  # type: ignore[override]
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __repr__(self) -> str:
        return f"{type(self).__name__}<{self.name}>"

    def __str__(self) -> str:
        return self.name


class SymList(_Named):
    """A list-valued parameter (``depths``) as a symbol: ``depths[k]`` is an :class:`Item`
    (an integer expression, boolean with ``boolean=True``) and :func:`sym_len` its length.
    It is not a number: arithmetic, ``int()``, ``len()`` and iteration raise
    :class:`NotSymbolic`, truth :class:`SymbolicBranch`. Equal (``==``) to itself only;
    comparing it with another list depends on the values, so that raises SymbolicBranch."""

    __slots__ = ("is_bool",)
    type_name = "list"  # what the spec language calls it (archc.spec.expr.type_of)

    def __init__(self, name: str, boolean: bool = False) -> None:
        super().__init__(name)
        object.__setattr__(self, "is_bool", boolean)

    def _key(self) -> tuple[Any, ...]:
        return ("list", self.name, self.is_bool)

    __hash__ = _Named.__hash__  # a class that defines __eq__ loses the inherited one

    def __eq__(self, other: object) -> Any:  # type: ignore[override]
        if isinstance(other, SymList) and self._key() == other._key():
            return True
        if isinstance(other, (SymList, tuple, list)):
            raise SymbolicBranch(f"whether {self.name} equals {other!r} depends on its values")
        return NotImplemented  # a list never equals a number or a string

    def __getitem__(self, index: Any) -> Any:
        return item(self, index)

    def _not_a_number(self, *_: Any) -> Any:
        raise NotSymbolic(f"{self.name} is a list of symbolic values; a number or concrete values are needed here")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _not_a_number
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __neg__ = __pos__ = _not_a_number
    __truediv__ = __rtruediv__ = _not_a_number
    __lt__ = __le__ = __gt__ = __ge__ = __index__ = __int__ = __len__ = __iter__ = _not_a_number

    def __bool__(self) -> bool:
        raise SymbolicBranch(f"whether {self.name} is empty depends on its values")


class SymIntPair(_Named):
    """An ``int | pair`` parameter (``kernel: int | pair``) as a symbol: a value passed along
    unchanged (to an op's argument, another block's ``int | pair`` parameter) and read per axis
    with :func:`axis_of`. It is no number: arithmetic, comparisons and ``int()`` raise
    :class:`NotSymbolic`, because what they mean depends on which of the two it holds."""

    __slots__ = ()
    type_name = "int | pair"

    __hash__ = _Named.__hash__  # a class that defines __eq__ loses the inherited one

    def __eq__(self, other: object) -> Any:  # type: ignore[override]
        if isinstance(other, SymIntPair) and other.name == self.name:
            return True
        if isinstance(other, (int, tuple, list, Sym, SymIntPair)) and not isinstance(other, bool):
            raise NotSymbolic(f"whether {self.name} equals {other!r} depends on whether it is an int or a pair")
        return NotImplemented

    def _not_a_number(self, *_: Any) -> Any:
        raise NotSymbolic(f"{self.name} is an int or a pair; it can be passed on, but not computed with")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _not_a_number
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __neg__ = __pos__ = _not_a_number
    __truediv__ = __rtruediv__ = __getitem__ = _not_a_number
    __lt__ = __le__ = __gt__ = __ge__ = __index__ = __int__ = __len__ = __iter__ = _not_a_number

    def __bool__(self) -> bool:
        raise SymbolicBranch(f"the truth of {self.name} depends on its value")


class SymBlock(_Named):
    """A block-valued parameter (ResNet's ``block: Bottleneck``) as a symbol: a value that
    expressions pass along unchanged (e.g. as a call's argument); what calling it means is
    the lowerer's to decide. Equal to itself only; to another block, SymbolicBranch."""

    __slots__ = ()
    type_name = "block"

    __hash__ = _Named.__hash__  # a class that defines __eq__ loses the inherited one

    def __eq__(self, other: object) -> Any:  # type: ignore[override]
        if isinstance(other, SymBlock) and other.name == self.name:
            return True
        if getattr(other, "type_name", None) == "block":
            raise SymbolicBranch(f"whether {self.name} is {other!r} depends on the block passed")
        return NotImplemented


# --- constructors that simplify ----------------------------------------------------------

def _linear(x: Value) -> tuple[int, list[tuple[Sym, int, bool]]]:
    """``x`` as (constant, [(term, coefficient, lead)])."""
    if isinstance(x, Sum):
        return x.const, list(x.terms)
    if isinstance(x, Sym):
        return 0, [(x, 1, False)]
    return int(x), []


def _make_sum(const: int, terms: Iterable[tuple[Sym, int, bool]]) -> Value:
    merged: dict[_K, list[Any]] = {}
    for term, coeff, lead in terms:
        key = _K(term)
        if key in merged:  # equal terms (the same structure) merge
            merged[key][0] += coeff
        else:
            merged[key] = [coeff, lead]
    kept = tuple((k.x, c, lead) for k, (c, lead) in merged.items() if c != 0)
    if not kept:
        return const
    if const == 0 and len(kept) == 1 and kept[0][1] == 1:
        return kept[0][0]
    return Sum(const, kept)


def add(a: Value, b: Value) -> Value:
    _int(a), _int(b)
    if not isinstance(a, Sym) and not isinstance(b, Sym):
        return a + b
    if is_float(a) or is_float(b):
        return Real("+", a, b)
    ca, ta = _linear(a)
    cb, tb = _linear(b)
    return _make_sum(ca + cb, ta + tb)


def sub(a: Value, b: Value) -> Value:
    if (is_float(a) or is_float(b)) and (isinstance(a, Sym) or isinstance(b, Sym)):
        _int(a), _int(b)
        return Real("-", a, b)
    return add(a, mul(b, -1))


def neg(x: Value) -> Value:
    """``-x``; a float's sign flips as written (``-x``, not ``x * -1`` printed differently)."""
    if isinstance(x, Sym) and is_float(x):
        return Real("neg", x, None)
    return mul(x, -1)


def _coeff_core(x: Sym) -> tuple[int, Sym, bool]:
    """A product's constant factor and symbolic rest: ``x * 4`` is (4, x)."""
    if isinstance(x, Sum) and x.const == 0 and len(x.terms) == 1:
        term, coeff, lead = x.terms[0]
        return coeff, term, lead
    return 1, x, False


def mul(a: Value, b: Value, lead: bool = False) -> Value:
    """``a * b``; ``lead``: the constant was written first (``2 * x``), for printing."""
    _int(a), _int(b)
    if not isinstance(a, Sym) and not isinstance(b, Sym):
        return a * b
    if is_float(a) or is_float(b):
        return Real("*", a, b)
    if not isinstance(a, Sym):
        a, b, lead = b, a, True
    if not isinstance(b, Sym):  # a constant distributes over a sum
        const, terms = _linear(a)
        return _make_sum(const * b, ((t, c * b, lead if c == 1 else keep) for t, c, keep in terms))
    ka, fa, la = _coeff_core(a)
    kb, fb, _ = _coeff_core(b)
    factors = (fa.factors if isinstance(fa, Mul) else (fa,)) + (fb.factors if isinstance(fb, Mul) else (fb,))
    return _make_sum(0, [(Mul(factors), ka * kb, la)])


def _divides(k: int, x: Value) -> bool:
    const, terms = _linear(x)
    return const % k == 0 and all(c % k == 0 for _, c, _ in terms)


def floordiv(a: Value, b: Value) -> Value:
    _int(a), _int(b)
    if not isinstance(a, Sym) and not isinstance(b, Sym):
        return a // b
    if is_float(a) or is_float(b):
        return Real("//", a, b)
    if isinstance(b, int) and b != 0:
        if b == 1:
            return a
        if _divides(b, a):  # (x * k) // k == x exactly when k divides every coefficient
            const, terms = _linear(a)
            return _make_sum(const // b, ((t, c // b, lead) for t, c, lead in terms))
    if isinstance(b, Sym) and isinstance(a, Sym):
        k, core, lead = _coeff_core(a)
        factors = list(core.factors) if isinstance(core, Mul) else [core]
        at = next((i for i, f in enumerate(factors) if f.same(b)), None)
        if at is not None:  # (x * s) // s == x (s != 0; s == 0 raises either way)
            del factors[at]
            rest: Value = factors[0] if len(factors) == 1 else Mul(tuple(factors)) if factors else 1
            return mul(rest, k, lead)
    return Binary("//", a, b)


def truediv(a: Value, b: Value) -> Any:
    """``a / b``, Python's true division: a float, never simplified. The quotient is a value to
    pass on (ConvNeXt's per-block drop probability, ``p * k / (n - 1)``), to divide again
    (``p / a / b``), or to compute with further (a :class:`Real`), as written; either operand may
    be a float. Sizes are integers, so the integer rules above never see it (:func:`is_float`):
    rewriting float arithmetic (merging terms, reordering a sum) could change the last bit of
    the value. A comparison with it raises :class:`NotSymbolic` in the spec's evaluator."""
    _int(a), _int(b)
    if not isinstance(a, Sym) and not isinstance(b, Sym):
        return a / b  # ZeroDivisionError for a zero divisor, as floordiv
    return Binary("/", a, b)


def is_float(value: Any) -> bool:
    """Is ``value`` a float: a float constant, a float symbol, a quotient, arithmetic with a float
    (:class:`Real`), or a choice between floats?"""
    if isinstance(value, (float, Real)):
        return True
    if isinstance(value, Symbol):
        return value.real
    if isinstance(value, Binary):
        return value.op == "/"
    if isinstance(value, Cond):
        return is_float(value.a) or is_float(value.b)
    return False


def make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision's ``_make_divisible`` (models/_utils.py, from TensorFlow's MobileNet), line for
    line: ``v`` rounded to the nearest multiple of ``divisor``, at least ``min_value`` (``divisor``
    by default), and never more than 10% below ``v``. The emitted module defines the same function
    (:data:`MAKE_DIVISIBLE_SOURCE`)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    # Make sure that round down does not go down by more than 10%.
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


# What the emitted module defines where an expression calls make_divisible: the function above
# under torchvision's name (the emitted code prints ``_make_divisible(...)``).
MAKE_DIVISIBLE_SOURCE = '''\
def _make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision's _make_divisible: v rounded to the nearest multiple of divisor, at least
    min_value (divisor by default), and never more than 10% below v."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    # Make sure that round down does not go down by more than 10%.
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v
'''

# The integer-valued functions of numbers (:class:`Fn`), and how emitted code spells them.
FUNCTIONS: dict[str, Callable[..., int]] = {
    "ceil": math.ceil, "floor": math.floor, "round": round, "int": int, "make_divisible": make_divisible}
_SPELLING = {"ceil": "math.ceil", "floor": "math.floor", "make_divisible": "_make_divisible"}


def call(fn: str, *args: Any) -> Any:
    """``fn(*args)`` for a function of :data:`FUNCTIONS`: Python's value for values, else an
    :class:`Fn` (make_divisible's ``min_value`` of None left out, as its default)."""
    for a in args:
        _int(a)
    if fn == "make_divisible" and len(args) == 3 and args[2] is None:
        args = args[:2]
    if not any(isinstance(a, Sym) for a in args):
        return FUNCTIONS[fn](*args)
    return Fn(fn, tuple(args))


def mod(a: Value, b: Value) -> Value:
    _int(a), _int(b)
    if not isinstance(a, Sym) and not isinstance(b, Sym):
        return a % b
    if is_float(a) or is_float(b):
        return Real("%", a, b)
    if isinstance(b, int) and b != 0 and _divides(b, a):
        return 0
    return Binary("%", a, b)


_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda x, y: x == y, "!=": lambda x, y: x != y, "<": lambda x, y: x < y,
    "<=": lambda x, y: x <= y, ">": lambda x, y: x > y, ">=": lambda x, y: x >= y}
_NEGATED = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}


def compare(op: str, a: Value, b: Value) -> Any:
    """``a <op> b``: a Python bool where it can be decided (the difference is a constant),
    else a symbolic boolean."""
    if _is_bool(a) and _is_bool(b) and (isinstance(a, Sym) or isinstance(b, Sym)):
        if op not in ("==", "!="):
            raise TypeError(f"booleans are compared with == and != only, not {op}")
        if isinstance(a, Sym) and a.same(b):
            return op == "=="
        return Binary(op, a, b)
    _int(a), _int(b)
    if not isinstance(a, Sym) and not isinstance(b, Sym):
        return _CMP[op](a, b)
    diff = sub(a, b)
    if not isinstance(diff, Sym):
        return _CMP[op](diff, 0)
    return Binary(op, a, b)


def _logic(fn: str, args: Iterable[Any]) -> Any:
    absorbing = fn == "or"  # True absorbs an ``or``, False an ``and``
    kept: dict[_K, None] = {}  # ordered, structural (a list would ask the symbolic ``==``)
    for x in args:
        _bool(x)
        parts = x.args if isinstance(x, Call) and x.fn == fn else (x,)
        for p in parts:
            if isinstance(p, bool):
                if p is absorbing:
                    return absorbing
            else:
                kept[_K(p)] = None
    if not kept:
        return not absorbing
    return next(iter(kept)).x if len(kept) == 1 else Call(fn, tuple(k.x for k in kept))


def and_(*args: Any) -> Any:
    return _logic("and", args)


def or_(*args: Any) -> Any:
    return _logic("or", args)


def not_(x: Any) -> Any:
    _bool(x)
    if isinstance(x, bool):
        return not x
    if isinstance(x, Not):
        return x.x
    if isinstance(x, Binary) and x.op in _NEGATED:
        return Binary(_NEGATED[x.op], x.a, x.b)
    return Not(x)


def _minmax(fn: str, args: tuple[Value, ...]) -> Value:
    pick = min if fn == "min" else max
    if not args:
        raise TypeError(f"{fn}() needs at least one value")
    consts: list[int] = []
    kept: dict[_K, None] = {}
    for x in args:
        _int(x)
        for p in x.args if isinstance(x, Call) and x.fn == fn else (x,):
            if isinstance(p, Sym):
                kept[_K(p)] = None
            else:
                consts.append(p)
    values: list[Value] = [k.x for k in kept] + ([pick(consts)] if consts else [])
    return values[0] if len(values) == 1 else Call(fn, tuple(values))


def sym_min(*args: Value) -> Value:
    """``min(...)`` that works on symbols (the builtin would have to branch)."""
    return _minmax("min", args)


def sym_max(*args: Value) -> Value:
    return _minmax("max", args)


def cond(c: Any, a: Any, b: Any) -> Any:
    """``a if c else b`` that works when ``c`` is symbolic."""
    if c is True or c is False:  # first: shape rules call this on every concrete size
        return a if c else b
    _bool(c)
    if a.same(b) if isinstance(a, Sym) else not isinstance(b, Sym) and type(a) is type(b) and a == b:
        return a  # both branches alike
    if isinstance(c, Not):
        return Cond(c.x, b, a)
    return Cond(c, a, b)


def item(seq: Any, index: Any) -> Any:
    """``seq[index]`` that works when ``seq`` is a :class:`SymList` or ``index`` is symbolic.
    A list of values at a symbolic index must hold integers only or booleans only (the
    expression is one or the other); anything else raises :class:`NotSymbolic`."""
    if isinstance(seq, list):
        seq = tuple(seq)
    _int(index)
    if isinstance(seq, SymList):
        return Item(seq, index)
    if not isinstance(index, Sym):
        return seq[index]  # plain Python: IndexError out of range
    if not seq:
        raise IndexError("index into an empty list")
    kinds = {_is_bool(v) for v in seq}
    if len(kinds) > 1 or not all(isinstance(v, (int, Sym)) for v in seq):
        raise NotSymbolic(f"items of {seq!r} are not all integers or all booleans: "
                          "a symbolic index needs concrete values")
    return Item(seq, index)


def sym_len(seq: Any) -> Value:
    """``len(seq)`` that works on a :class:`SymList`."""
    if isinstance(seq, SymList):
        return Len(seq)
    return len(seq)


def is_symbolic(value: Any) -> bool:
    """Is ``value`` a symbol or holds one (tuples and lists looked into)?"""
    if isinstance(value, (tuple, list)):
        return any(is_symbolic(v) for v in value)
    return isinstance(value, (Sym, SymList, SymBlock, SymIntPair))


# --- reading expressions ---------------------------------------------------------------

class Overflow(ArithmeticError):
    """An integer computed on the way to a value passed the language's bound (see evaluate)."""


def _bounded(value: Any, limit: int | None) -> Any:
    if limit is not None and isinstance(value, int) and not isinstance(value, bool) and abs(value) > limit:
        raise Overflow(f"an integer on the way exceeds {limit:.0e}")
    return value


def _rebuild(e: Any, leaf: Callable[[Symbol | SymList | SymBlock | SymIntPair], Any],
             limit: int | None = None) -> Any:
    """The expression with each symbol replaced by ``leaf(symbol)``, rebuilt through the
    simplifying constructors (plain ints in: Python's own arithmetic). ``limit``: every integer
    computed on the way is checked against it (:class:`Overflow`)."""
    if isinstance(e, (Symbol, SymList, SymBlock, SymIntPair)):
        return leaf(e)
    if not isinstance(e, Sym):
        return e

    def r(x: Any) -> Any:
        return _bounded(_rebuild(x, leaf, limit), limit)

    if isinstance(e, Sum):
        total: Value = e.const
        for t, c, lead in e.terms:
            total = _bounded(add(total, _bounded(mul(r(t), c, lead), limit)), limit)
        return total
    if isinstance(e, Mul):
        prod: Value = 1
        for f in e.factors:
            prod = _bounded(mul(prod, r(f)), limit)
        return prod
    if isinstance(e, Binary):
        a = r(e.a)
        if e.op == "//":
            return floordiv(a, r(e.b))
        if e.op == "%":
            return mod(a, r(e.b))
        if e.op == "/":
            return truediv(a, r(e.b))
        return compare(e.op, a, r(e.b))
    if isinstance(e, Call) and e.fn in ("min", "max"):
        return (sym_min if e.fn == "min" else sym_max)(*(r(x) for x in e.args))
    if isinstance(e, Call):  # and/or: stop where Python would, at the first deciding value
        absorbing, done = e.fn == "or", []
        for x in e.args:
            value = r(x)
            if value is absorbing:
                return value
            done.append(value)
        return _logic(e.fn, done)
    if isinstance(e, Not):
        return not_(r(e.x))
    if isinstance(e, Item):  # every item is rebuilt, as Python evaluates a whole list literal
        return item(r(e.seq) if isinstance(e.seq, SymList) else tuple(map(r, e.seq)), r(e.index))
    if isinstance(e, Len):
        return sym_len(r(e.seq))
    if isinstance(e, Axis):
        return axis_of(r(e.of), e.k)
    if isinstance(e, Real):
        if e.op == "neg":
            return neg(r(e.a))
        return _ARITH[e.op](r(e.a), r(e.b))
    if isinstance(e, Fn):
        return call(e.fn, *map(r, e.args))
    if isinstance(e, Cond):
        c = r(e.c)
        if isinstance(c, bool):  # only the branch taken is evaluated, as in Python
            return r(e.a) if c else r(e.b)
        return cond(c, r(e.a), r(e.b))
    raise TypeError(f"not an expression: {e!r}")


_ARITH: dict[str, Callable[[Any, Any], Any]] = {"+": add, "-": sub, "*": mul, "//": floordiv, "%": mod}


def evaluate(e: Any, env: Mapping[str, Any], limit: int | None = None) -> Any:
    """The value of ``e`` with every symbol taken from ``env`` (a missing one is a KeyError);
    a list symbol's value is a tuple or list (an index out of its range is an IndexError).
    ``limit``: the bound on integers of the spec language (archc.spec.expr.INT_LIMIT), checked
    on every integer computed on the way, as the spec's own evaluation checks it (:class:`Overflow`;
    the expression is kept simplified, so the order of its steps may differ from the spec's)."""
    value = _bounded(_rebuild(e, lambda s: env[s.name], limit), limit)
    if isinstance(value, (Sym, SymList, SymBlock, SymIntPair)):
        raise SymbolicBranch(f"{to_python(value)} still has symbols")  # unreachable with a full env
    return value


def substitute(e: Any, mapping: Mapping[str, Any]) -> Any:
    """``e`` with the symbols named in ``mapping`` replaced by values or expressions, simplified.
    Constants fold as they appear, so a division by a constant zero raises ZeroDivisionError
    here even inside a branch whose condition is still symbolic (a size never divides by 0)."""
    return _rebuild(e, lambda s: mapping.get(s.name, s))


def rename(e: Any, names: Mapping[str, str]) -> Any:
    """``e`` with the symbols named in ``names`` renamed, each keeping its kind (an integer, a
    boolean, a float: a float symbol renamed as an integer one would let the integer rules
    rearrange the float arithmetic around it)."""
    def leaf(s: Symbol | SymList | SymBlock) -> Any:
        if s.name not in names:
            return s
        if isinstance(s, Symbol):
            return Symbol(names[s.name], s.is_bool, s.real)
        if isinstance(s, SymList):
            return SymList(names[s.name], s.is_bool)
        return SymBlock(names[s.name])

    return _rebuild(e, leaf)


def simplify(e: Any) -> Any:
    """``e`` rebuilt through the simplifying constructors (a fixed point: expressions are
    simplified as they are built, so this returns an equal expression)."""
    return _rebuild(e, lambda s: s)


def free_symbols(e: Any) -> frozenset[str]:
    """The names of the symbols in ``e``."""
    if isinstance(e, (Symbol, SymList, SymBlock, SymIntPair)):
        return frozenset((e.name,))
    if not isinstance(e, Sym):
        return frozenset()
    return frozenset().union(*(free_symbols(p) for p in parts(e)))


def holds(e: Any, found: tuple[Any, ...]) -> bool:
    """Is one of the expressions ``found`` (symbols or not) ``e`` or a part of it?"""
    if isinstance(e, (tuple, list)):
        return any(holds(v, found) for v in e)
    if not isinstance(e, (Sym, SymList, SymBlock, SymIntPair)):
        return False
    if any(type(f) is type(e) and hash(f) == hash(e) and _same(f, e) for f in found):
        return True
    return isinstance(e, Sym) and any(holds(p, found) for p in parts(e))


def _same(a: Any, b: Any) -> bool:
    return a.same(b) if isinstance(a, Sym) else a == b


def parts(e: Sym) -> Iterable[Any]:
    """The operands of an expression (none for a symbol)."""
    if isinstance(e, Symbol):
        return ()
    if isinstance(e, Sum):
        found: Iterable[Any] = tuple(t for t, _, _ in e.terms)
    elif isinstance(e, Mul):
        found = e.factors
    elif isinstance(e, Binary):
        found = (e.a, e.b)
    elif isinstance(e, Call):
        found = e.args
    elif isinstance(e, Not):
        found = (e.x,)
    elif isinstance(e, Item):
        found = (e.seq, e.index) if isinstance(e.seq, SymList) else (*e.seq, e.index)
    elif isinstance(e, Len):
        found = (e.seq,)
    elif isinstance(e, Axis):
        found = (e.of,)
    elif isinstance(e, Real):
        found = (e.a, e.b)
    elif isinstance(e, Fn):
        found = e.args
    else:
        found = (e.c, e.a, e.b)  # type: ignore[attr-defined]
    return found


def to_python(e: Any) -> str:
    """Python source for ``e`` with the fewest parentheses its precedence needs."""
    return _print(e)[0]


def _wrap(part: tuple[str, int], least: int) -> str:
    text, prec = part
    return text if prec >= least else f"({text})"


def _print(e: Any) -> tuple[str, int]:
    """(source, precedence of its outermost operator)."""
    if isinstance(e, bool):
        return repr(e), _P_ATOM
    if isinstance(e, int):
        return str(e), (_P_ATOM if e >= 0 else _P_NEG)
    if isinstance(e, float):  # only in a quotient (truediv): ``p / 2.0``
        return repr(e), (_P_ATOM if e >= 0 else _P_NEG)
    if isinstance(e, (Symbol, SymList, SymBlock, SymIntPair)):
        return e.name, _P_ATOM
    if isinstance(e, Axis):  # Python's own reading of the value, as nn.Conv2d reads kernel_size
        name = e.of.name
        return f"({name} if isinstance({name}, int) else {name}[{e.k}])", _P_ATOM
    if isinstance(e, Item):  # a list of values prints as a list literal: ``[64, 128, 256][i]``
        seq = _print(e.seq)[0] if isinstance(e.seq, SymList) else f"[{', '.join(_print(v)[0] for v in e.seq)}]"
        return f"{seq}[{_print(e.index)[0]}]", _P_ATOM
    if isinstance(e, Len):
        return f"len({e.seq.name})", _P_ATOM
    if isinstance(e, Sum):
        return _print_sum(e)
    if isinstance(e, Mul):
        first, *rest = e.factors
        return " * ".join([_wrap(_print(first), _P_MUL)] + [_wrap(_print(f), _P_NEG) for f in rest]), _P_MUL
    if isinstance(e, Binary):
        if e.op in ("//", "%", "/"):
            return f"{_wrap(_print(e.a), _P_MUL)} {e.op} {_wrap(_print(e.b), _P_NEG)}", _P_MUL
        # comparisons chain in Python, so neither side may be a bare comparison
        return f"{_wrap(_print(e.a), _P_ADD)} {e.op} {_wrap(_print(e.b), _P_ADD)}", _P_CMP
    if isinstance(e, Call):
        if e.fn in ("min", "max"):
            return f"{e.fn}({', '.join(_print(a)[0] for a in e.args)})", _P_ATOM
        prec = _P_AND if e.fn == "and" else _P_OR
        return f" {e.fn} ".join(_wrap(_print(a), prec + 1) for a in e.args), prec
    if isinstance(e, Not):
        return f"not {_wrap(_print(e.x), _P_NOT)}", _P_NOT
    if isinstance(e, Real):
        if e.op == "neg":
            return f"-{_wrap(_print(e.a), _P_NEG)}", _P_NEG
        if e.op in ("+", "-"):
            return f"{_wrap(_print(e.a), _P_ADD)} {e.op} {_wrap(_print(e.b), _P_ADD + 1)}", _P_ADD
        return f"{_wrap(_print(e.a), _P_MUL)} {e.op} {_wrap(_print(e.b), _P_NEG)}", _P_MUL
    if isinstance(e, Fn):
        return f"{_SPELLING.get(e.fn, e.fn)}({', '.join(_print(a)[0] for a in e.args)})", _P_ATOM
    if isinstance(e, Cond):
        return (f"{_wrap(_print(e.a), _P_OR)} if {_wrap(_print(e.c), _P_OR)} else {_wrap(_print(e.b), _P_COND)}",
                _P_COND)
    raise TypeError(f"not an expression: {e!r}")


def _print_term(term: Sym, coeff: int, lead: bool) -> str:
    """``coeff * term`` for a positive coefficient, in the order it was written."""
    if coeff == 1:
        return _wrap(_print(term), _P_ADD + 1)
    if lead:
        return f"{coeff} * {_wrap(_print(term), _P_NEG)}"
    return f"{_wrap(_print(term), _P_MUL)} * {coeff}"


def _print_sum(e: Sum) -> tuple[str, int]:
    terms = list(e.terms)
    # start with a positive term where there is one: ``h - k`` rather than ``-k + h``
    first = next((i for i, (_, c, _) in enumerate(terms) if c > 0), 0)
    terms.insert(0, terms.pop(first))
    term, coeff, lead = terms[0]
    if coeff > 0:
        text = _print_term(term, coeff, lead)
    elif lead and coeff != -1:  # -2 * x reads (-2) * x: the same value
        text = f"{coeff} * {_wrap(_print(term), _P_NEG)}"
    else:  # -(a // b) * 2: the minus binds tighter than any operator the term may have
        text = "-" + _wrap(_print(term), _P_NEG) + (f" * {-coeff}" if coeff != -1 else "")
    for term, coeff, lead in terms[1:]:
        text += (" + " if coeff > 0 else " - ") + _print_term(term, abs(coeff), lead)
    if e.const:
        text += f" + {e.const}" if e.const > 0 else f" - {-e.const}"
    if len(terms) == 1 and not e.const:  # a scaled term (x * 1 never is a Sum)
        return text, _P_NEG if coeff == -1 else _P_MUL
    return text, _P_ADD
