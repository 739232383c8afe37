"""The expression functions that turn a number into an integer, and arithmetic with floats.

``ceil``, ``floor``, ``round``, ``int`` and ``make_divisible`` are checked against Python's own
math.ceil, math.floor, round and int and against torchvision's ``_make_divisible`` (the function
EfficientNet and MobileNet scale their widths with); on symbols (a float parameter such as
``width_mult``), the expression archc keeps, evaluated with values and printed then run by Python
with the emitted module's ``_make_divisible``, is exactly the concrete value, to the last bit.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torchvision.models._utils import _make_divisible

from archc import sym
from archc.spec.expr import ExprError, evaluate, parse_expr, type_of
from archc.sym import MAKE_DIVISIBLE_SOURCE, NotSymbolic, Sym, SymbolicBranch, to_python


def emitted_namespace() -> dict[str, Any]:
    """What printed expressions run in: the emitted module's imports and helper."""
    namespace: dict[str, Any] = {"math": math}
    exec(MAKE_DIVISIBLE_SOURCE, namespace)  # a test only: archc's own emitted text
    return namespace


EMITTED = emitted_namespace()


def ev(text: str, **env: object) -> object:
    return evaluate(parse_expr(text), env)


# --- concrete values -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["ceil(x)", "floor(x)", "round(x)", "int(x)"])
@pytest.mark.parametrize("x", [2.5, 3.5, -2.5, -0.7, 0.7, 1e-9, 7, -7, 0, 32 * 1.1, 112 * 1.8, 2 * 3.1])
def test_rounding_is_pythons(text: str, x: float) -> None:
    want = {"ceil": math.ceil, "floor": math.floor, "round": round, "int": int}[text[:text.index("(")]](x)
    got = ev(text, x=x)
    assert got == want and type(got) is int


@settings(max_examples=500, deadline=None, derandomize=True)
@given(v=st.one_of(st.integers(0, 10**6), st.floats(0, 1e6, allow_nan=False)),
       divisor=st.integers(1, 64), min_value=st.none() | st.integers(0, 256))
def test_make_divisible_is_torchvisions(v: float, divisor: int, min_value: int | None) -> None:
    """The evaluator's, archc.sym's and the emitted module's make_divisible all are torchvision's."""
    want = _make_divisible(v, divisor, min_value)
    env = {"v": v, "divisor": divisor, "min_value": min_value}
    assert ev("make_divisible(v, divisor, min_value)", **env) == want
    assert ev("make_divisible(v, divisor, min_value=min_value)", **env) == want
    if min_value is None:
        assert ev("make_divisible(v, divisor)", **env) == want
    assert sym.make_divisible(v, divisor, min_value) == want
    assert EMITTED["_make_divisible"](v, divisor, min_value) == want


def test_efficientnets_widths_and_depths() -> None:
    """torchvision's adjust_channels and adjust_depth for B0 … B7, written in the spec's terms."""
    for width_mult, depth_mult in [(1.0, 1.0), (1.0, 1.1), (1.1, 1.2), (1.2, 1.4), (1.4, 1.8), (1.6, 2.2),
                                   (1.8, 2.6), (2.0, 3.1)]:
        for c in (32, 16, 24, 40, 80, 112, 192, 320):
            assert ev("make_divisible(c * width_mult, 8)", c=c, width_mult=width_mult) == \
                _make_divisible(c * width_mult, 8)
        for n in (1, 2, 3, 4):
            assert ev("ceil(n * depth_mult)", n=n, depth_mult=depth_mult) == math.ceil(n * depth_mult)


@pytest.mark.parametrize(("text", "env", "code", "words", "hint"), [
    ("ceil('a')", {}, "E402", "ceil() needs a number, got str 'a'", "rounds a number up"),
    ("floor(true)", {}, "E402", "floor() needs a number, got bool true", "rounds a number down"),
    ("round(xs)", {"xs": (1, 2)}, "E402", "round() needs a number, got list [1, 2]", "nearest integer"),
    ("int(none)", {}, "E402", "int() needs a number, got none", "fraction"),
    ("make_divisible('a', 8)", {}, "E402", "make_divisible() needs a number", "make_divisible(v, divisor)"),
    ("make_divisible(30, 2.5)", {}, "E402", "a whole number for divisor, got float 2.5", "make_divisible"),
    ("make_divisible(30, 8, 1.5)", {}, "E402", "a whole number for min_value, got float 1.5", "make_divisible"),
    ("make_divisible(30, 0)", {}, "E402", "a divisor of 1 or more, got 0", "multiple of a positive number"),
    ("ceil(x)", {"x": 1e300}, "E405", "exceeds the limit", None),
])
def test_wrong_values_are_located_errors_with_hints(text: str, env: dict[str, Any], code: str, words: str,
                                                    hint: str | None) -> None:
    with pytest.raises(ExprError) as err:
        ev(text, **env)
    assert err.value.code == code and words in err.value.message, err.value.message
    if hint is not None:
        assert err.value.hint is not None and hint in err.value.hint
    node = parse_expr(text)
    assert 0 <= err.value.off < err.value.end <= node.end  # located inside the expression


@pytest.mark.parametrize(("text", "words", "at"), [
    ("ceil(1, 2)", "ceil() takes one number, got 2 arguments", "ceil(1, 2)"),
    ("floor()", "floor() takes one number, got 0 arguments", "floor()"),
    ("round(2.5, 1)", "round() takes one number, got 2 arguments", "round(2.5, 1)"),
    ("1 + int(x=2)", "int() takes no keyword arguments", "x=2"),
    ("make_divisible(30)", "make_divisible() is missing its argument 'divisor'", "make_divisible(30)"),
    ("make_divisible(30, 8, 16, 2)", "takes at most 3 arguments (v, divisor, min_value), got 4", "2"),
    ("make_divisible(30, 8, step=2)", "make_divisible() has no argument 'step'", "step=2"),
    ("make_divisible(30, 8, divisor=2)", "make_divisible() got 'divisor' twice", "divisor=2"),
    ("ceil(*xs)", "* and ** arguments are not allowed", "ceil(*xs)"),
])
def test_wrong_arity_is_a_located_error_with_a_hint(text: str, words: str, at: str) -> None:
    with pytest.raises(ExprError) as err:
        parse_expr(text)
    e = err.value
    assert e.code == "E400" and words in e.message, e.message
    assert text[e.off:e.end] == at
    assert e.hint is not None and ("e.g." in e.hint or "not available" in e.hint)


def test_the_functions_are_reserved_names() -> None:
    from archc.spec.parser import RESERVED_NAMES

    assert {"ceil", "floor", "round", "int", "make_divisible"} <= RESERVED_NAMES


# --- symbols -----------------------------------------------------------------------------------------

W, D, A, B = Sym("w", real=True), Sym("d", real=True), Sym("a"), Sym("b")
SYMBOLIC = {"w": W, "d": D, "a": A, "b": B}


@pytest.mark.parametrize(("text", "printed", "kind"), [
    ("make_divisible(32 * w, 8)", "_make_divisible(32 * w, 8)", "int"),
    ("make_divisible(a * 6, 8)", "_make_divisible(a * 6, 8)", "int"),
    ("make_divisible(a, 8, none)", "_make_divisible(a, 8)", "int"),
    ("make_divisible(a, b, min_value=16)", "_make_divisible(a, b, 16)", "int"),
    ("ceil(2 * d)", "math.ceil(2 * d)", "int"),
    ("ceil(a)", "math.ceil(a)", "int"),  # never simplified: an item of a list parameter may be a float
    ("floor(a / 3) + 1", "math.floor(a / 3) + 1", "int"),
    ("round(w * 3) * 2 // 2", "round(w * 3)", "int"),  # an integer again: the integer rules apply
    ("int(w) - int(w)", "0", "int"),
    ("ceil(1 * d) + ceil(2 * d)", "math.ceil(1 * d) + math.ceil(2 * d)", "int"),
    ("w * (a + 1)", "w * (a + 1)", "float"),
    ("a + 0.5", "a + 0.5", "float"),
    ("a / 2 + 1", "a / 2 + 1", "float"),
    ("a / 2 * 2", "a / 2 * 2", "float"),
    ("-(a / 2)", "-(a / 2)", "float"),
    ("1 - (w + 2)", "1 - (w + 2)", "float"),
    ("(1 - w) + 2", "1 - w + 2", "float"),
    ("w * 2 // 3 % 2", "w * 2 // 3 % 2", "float"),
    ("-w * -2", "-w * -2", "float"),
    ("w if a > 1 else d", "w if a > 1 else d", "float"),
])
def test_symbolic_functions_and_floats_print_as_written(text: str, printed: str, kind: str) -> None:
    got = evaluate(parse_expr(text), SYMBOLIC)
    assert to_python(got) == printed and type_of(got) == kind


@pytest.mark.parametrize("text", ["w < 1", "min(w, 2)", "ceil(w) if a > 0 else w", "w == d"])
def test_what_has_no_symbolic_form_is_refused(text: str) -> None:
    with pytest.raises((SymbolicBranch, NotSymbolic)):
        evaluate(parse_expr(text), SYMBOLIC)


# random texts over a float symbol (w), a float constant, integers (a, b) and every function; every
# compound parenthesised. Concrete evaluation is the reference; wherever the symbolic one has a form,
# its value with the same values, and its printed text run by Python, are exactly that value.

FLOAT_LEAVES = st.sampled_from(("w", "d", "0.1", "1.5", "2.0", "(a / 3)", "(b / 2)"))
INT_LEAVES = st.sampled_from(("a", "b", "1", "3", "8", "(-2)"))


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    two = st.tuples(children, st.sampled_from(("+", "-", "*", "/", "//", "%")), children)
    return (two.map(lambda t: f"({t[0]} {t[1]} {t[2]})") | children.map(lambda x: f"(-{x})")
            | st.tuples(st.sampled_from(("ceil", "floor", "round", "int")), children).map(lambda t: f"{t[0]}({t[1]})")
            | st.tuples(children, st.sampled_from(("4", "8", "b")), st.sampled_from(("", ", none", ", 16", ", a")))
            .map(lambda t: f"make_divisible({t[0]}, {t[1]}{t[2]})"))


EXPRESSIONS = st.recursive(FLOAT_LEAVES | INT_LEAVES, _extend, max_leaves=8)
VALUES = st.fixed_dictionaries({"w": st.floats(0.1, 4.0), "d": st.sampled_from((1.0, 1.1, 1.4, 3.1)),
                                "a": st.integers(-20, 40), "b": st.integers(1, 9)})


@settings(derandomize=True, max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=EXPRESSIONS, values=VALUES)
def test_symbolic_then_values_is_concrete_evaluation(text: str, values: dict[str, Any]) -> None:
    node = parse_expr(text)
    try:
        expected = evaluate(node, values)
    except ExprError:
        return  # a concrete error: symbolic lowering never sees such a spec
    try:
        result = evaluate(node, SYMBOLIC)
    except (SymbolicBranch, NotSymbolic):
        return
    except ExprError as e:  # a constant zero divisor, or a constant divisor below 1
        assert e.code in ("E402", "E403"), (text, e.message)
        return
    got = sym.evaluate(result, values)
    assert got == expected and type(got) is type(expected), (text, to_python(result))
    if isinstance(expected, float) and math.isnan(expected):
        return
    assert eval(to_python(result), dict(EMITTED), dict(values)) == expected, (text, to_python(result))  # a test


def test_renaming_keeps_a_symbols_kind() -> None:
    """The printer renames symbols whose variable has another name (a parameter called `sum` is the
    argument `sum_`): a float symbol stays a float, so the float arithmetic around it is not
    rearranged by the integer rules."""
    got = evaluate(parse_expr("1 - (w + 2) + 1.5"), SYMBOLIC)
    assert to_python(sym.rename(got, {"w": "w_"})) == "1 - (w_ + 2) + 1.5"
    assert to_python(sym.rename(evaluate(parse_expr("b - (a + 2)"), SYMBOLIC), {"a": "a_"})) == "b - a_ - 2"
    renamed = sym.rename(W, {"w": "v"})
    assert renamed.same(Sym("v", real=True)) and not renamed.same(Sym("v")) and type_of(renamed) == "float"
    with pytest.raises(ValueError, match="not both"):
        Sym("x", boolean=True, real=True)


# --- emitted code ----------------------------------------------------------------------------------

SPEC = """
archc: 1
name: scaled
input: [3, 8, 8]
params:
  width_mult: 1.5
  widths: [{width}, 8]
blocks:
  B:
    params: {{width: int, sum: float}}
    layers:
      - conv(width, 1)
      - dropout(1 - (sum + 2) + 1.5)
layers:
  - b: B(widths[0], 0.25)
  - c: conv(widths[1], 1)
"""


def emitted(width: str, **overrides: Any) -> tuple[str, Any]:
    import archc

    spec = archc.load("scaled.yaml", text=SPEC.format(width=width))
    source = archc.compile_source(spec, **overrides)
    namespace: dict[str, Any] = {"__name__": "scaled"}
    exec(compile(source, "scaled.py", "exec"), namespace)  # a test only: archc's own output
    return source, namespace


@pytest.mark.parametrize(("width", "math_import", "helper"), [
    ("make_divisible(10 * width_mult, 4)", False, True),
    ("ceil(10 * width_mult)", True, False),
    ("round(10 * width_mult)", False, False),
    ("16", False, False),
])
def test_math_and_make_divisible_are_written_only_where_used(width: str, math_import: bool, helper: bool) -> None:
    source, namespace = emitted(width)
    assert ("import math\n" in source) is math_import
    assert ("def _make_divisible(" in source) is helper
    value = ev(width, width_mult=1.5)
    conv = namespace["build"]().b[0]
    assert conv.out_channels == value  # the emitted class computes the spec's width


def test_a_network_default_that_reads_a_parameter_is_computed_by_the_class() -> None:
    """`widths` reads `width_mult`: the network class computes it from the width_mult it is given
    (as `--set width_mult=...` would); a value given for `widths` itself is a value."""
    source, namespace = emitted("make_divisible(32 * width_mult, 8)")
    assert "widths: tuple[int, ...] | None = None" in source
    assert "widths = (_make_divisible(32 * width_mult, 8), 8)" in source
    cls = namespace["Scaled"]
    for mult in (0.5, 1.1, 1.5, 2.0):
        assert cls(width_mult=mult).b[0].out_channels == _make_divisible(32 * mult, 8)
    assert cls(widths=(24, 8)).b[0].out_channels == 24
    p = cls().b[1].p
    assert p == 1 - (0.25 + 2) + 1.5 and type(p) is float  # Python's value, to the last bit
    source, namespace = emitted("make_divisible(32 * width_mult, 8)", widths=[16, 8])
    assert "widths: tuple[int, ...] = (16, 8)" in source and namespace["build"]().b[0].out_channels == 16
    source, namespace = emitted("make_divisible(32 * width_mult, 8)", width_mult=2.0)
    assert "width_mult: float = 2.0" in source and namespace["build"]().b[0].out_channels == 64
