"""The expression language: what it allows, how strictly it evaluates, its limits."""

from __future__ import annotations

import pytest

from archc.spec.expr import ExprError, ShapeView, evaluate, parse_call, parse_expr, to_source


def ev(text: str, **env: object) -> object:
    return evaluate(parse_expr(text), env)


def test_arithmetic_and_logic() -> None:
    assert ev("planes * 4 + 1", planes=16) == 65
    assert ev("7 // 2 + 7 % 2") == 4
    assert ev("-x", x=3) == -3
    assert ev("stride if i == 0 else 1", stride=2, i=0) == 2
    assert ev("stride if i == 0 else 1", stride=2, i=1) == 1
    assert ev("a < b <= c", a=1, b=2, c=2) is True
    assert ev("not (x > 1 and y)", x=2, y=False) is True
    assert ev("min(a, 3)", a=5) == 3 and ev("max([1, 7, 3])") == 7 and ev("len(xs)", xs=(1, 2)) == 2
    assert ev("depths[2]", depths=(3, 4, 6, 3)) == 6 and ev("depths[-1]", depths=(3, 4)) == 4
    assert ev("true") is True and ev("False") is False and ev("none") is None
    assert ev("input.channels * 2", input=ShapeView((3, 32, 32))) == 6
    assert ev("[1, 2] + [3]") == (1, 2, 3)


@pytest.mark.parametrize(("text", "code", "words"), [
    ("a ** 2", "E400", "operator **"),
    ("__import__('os')", "E400", "cannot call __import__"),
    ("x.y", "E400", "attribute access"),
    ("lambda: 1", "E400", "Lambda"),
    ("[i for i in x]", "E400", "ListComp"),
    ("(x := 1)", "E400", "NamedExpr"),
    ("f'{x}'", "E400", "JoinedStr"),
    ("a +", "E400", "syntax error"),
    ("1 +" * 400 + "1", "E404", "characters long"),
    ("+".join(["1"] * 150), "E404", "more than 200 parts"),
    ("10000000000000000000", "E405", "exceeds the limit"),
])
def test_rejected_syntax(text: str, code: str, words: str) -> None:
    with pytest.raises(ExprError) as err:
        parse_expr(text)
    assert err.value.code == code and words in err.value.message


@pytest.mark.parametrize(("text", "env", "code", "words"), [
    ("x + 1", {}, "E401", "name 'x' is not defined"),
    ("true + 1", {}, "E402", "needs a number"),
    ("1 if 2 else 3", {}, "E402", "needs true or false"),
    ("a and b", {"a": 1, "b": 2}, "E402", "needs true or false"),
    ("8 // n", {"n": 0}, "E403", "division by zero"),
    ("8 / n", {"n": 0}, "E403", "division by zero in '/'"),
    ("8 % n", {"n": 0}, "E403", "division by zero"),
    ("xs[4]", {"xs": (1, 2)}, "E402", "out of range"),
    ("n * n * n * n", {"n": 10**6}, "E405", "exceeds the limit"),
    ("len(3)", {}, "E402", "len() takes one list"),
    ("'a' < 1", {}, "E402", "needs a number"),
])
def test_evaluation_errors(text: str, env: dict, code: str, words: str) -> None:
    with pytest.raises(ExprError) as err:
        ev(text, **env)
    assert err.value.code == code and words in err.value.message


def test_true_division_is_pythons() -> None:
    """`/` is Python's true division: always a float, computed exactly as Python computes it (so
    ConvNeXt's drop probability p * k / (n - 1) has torchvision's value to the last bit)."""
    assert ev("7 / 2") == 3.5 and ev("8 / 2") == 4.0 and isinstance(ev("8 / 2"), float)
    for k in range(18):
        assert ev("p * k / (n - 1)", p=0.1, k=k, n=18) == 0.1 * k / (18 - 1.0)
    assert ev("a / b / c", a=1, b=3, c=7) == 1 / 3 / 7 and ev("a / (b / c)", a=1, b=3, c=7) == 1 / (3 / 7)
    with pytest.raises(ExprError) as err:
        ev("x / y", x=1e300, y=1e-300)
    assert err.value.code == "E405"


def test_errors_carry_offsets() -> None:
    with pytest.raises(ExprError) as err:
        ev("planes * widht", planes=1)
    assert (err.value.off, err.value.end) == (9, 14)


def test_calls() -> None:
    call = parse_call("conv(planes * 4, 1, stride=stride, bias=false)")
    assert call.callee == "conv" and len(call.args) == 2 and [k.name for k in call.kwargs] == ["stride", "bias"]
    assert call.text[call.kwargs[0].off:call.kwargs[0].end] == "stride=stride"
    assert parse_call("relu").args == ()
    for bad in ("conv(*x)", "f(**k)", "1 + 2", "x.y()", ""):
        with pytest.raises(ExprError):
            parse_call(bad)


def test_renders_back_to_equivalent_python() -> None:
    for text in ["planes * 4", "(a + b) * c", "a - (b - c)", "a - b - c", "stride if i == 0 else 1",
                 "not a and b", "-(a + 1)", "min(a, b) // 2", "xs[i + 1]", "[1, 2]", "a % (b // c)",
                 "(1 if a else 2) + 3", "a == b or c != d", "a / b * c", "a / (b * c)", "a * b / c",
                 "(a + b) / (c - d)", "a / b / c", "a // b / c"]:
        env = {"a": 7, "b": 3, "c": 2, "d": 1, "i": 0, "planes": 16, "stride": 2, "xs": (1, 2, 3)}
        if "not a" in text or "if a" in text:
            env["a"] = True
        expr = parse_expr(text)
        rendered = to_source(expr)
        assert ev(rendered, **env) == evaluate(expr, env), (text, rendered)


def test_float_overflow_and_non_finite_literals() -> None:
    with pytest.raises(ExprError) as err:
        evaluate(parse_expr("x * x"), {"x": 1e300})
    assert err.value.code == "E405"
    with pytest.raises(ExprError) as err:
        parse_expr("1e400")
    assert err.value.code == "E405"
    assert evaluate(parse_expr("x * 2"), {"x": 1e300}) == 2e300


def test_deeply_nested_expressions_are_errors_even_with_raised_limits() -> None:
    text = "-" * 5000 + "1"
    with pytest.raises(ExprError) as err:  # the default limit on parts
        parse_expr(text)
    assert err.value.code == "E404"
    with pytest.raises(ExprError) as err:  # a raised limit: Python's own stack is the limit, reported the same way
        parse_expr(text, max_length=10**6, max_nodes=10**6)
    assert err.value.code in ("E400", "E404")
    with pytest.raises(ExprError) as err:
        parse_expr("(" * 300 + "1" + ")" * 300)
    assert err.value.code == "E400" and "nested parentheses" in err.value.message
