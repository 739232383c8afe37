"""Spec expressions on symbolic values (a block lowered once, its parameters as symbols).

Random expression texts are evaluated twice: by archc's evaluator on concrete values
(the established semantics, pinned by test_expr.py), and on symbols followed by
:func:`archc.sym.evaluate` with the same values. Wherever the concrete evaluation
succeeds and the symbolic one can be expressed, the two agree, and the printed
expression, run by Python itself, gives the same value.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from archc import sym
from archc.spec.expr import ExprError, ShapeView, evaluate, parse_expr, type_of
from archc.sym import NotSymbolic, Sym, SymBlock, SymbolicBranch, SymList, to_python

INTS = ("a", "b", "c")
BOOLS = ("u", "v")
SHAPE = ("in_channels", "in_height", "in_width")
SYMBOLIC = {**{n: Sym(n) for n in INTS}, **{n: Sym(n, boolean=True) for n in BOOLS}, "xs": SymList("xs"),
            "input": ShapeView(tuple(map(Sym, SHAPE)))}

# --- random expression texts -----------------------------------------------------------
# A tree of ("int" | "bool", text); every compound is parenthesised, so the text is the tree.

INT_LEAVES = (st.integers(-6, 6).map(lambda k: f"({k})" if k < 0 else str(k)) | st.sampled_from(INTS)
              | st.sampled_from(("input.channels", "input.height", "input.width", "len(xs)"))
              | st.integers(-4, 3).map(lambda k: f"xs[{k}]"))
BOOL_LEAVES = st.sampled_from(("true", "false", *BOOLS))
LEAVES = st.tuples(st.just("int"), INT_LEAVES) | st.tuples(st.just("bool"), BOOL_LEAVES)
CMP = st.sampled_from(("==", "!=", "<", "<=", ">", ">="))


def _as_int(node: tuple[str, str]) -> str:
    return node[1] if node[0] == "int" else f"(1 if {node[1]} else 0)"


def _as_bool(node: tuple[str, str]) -> str:
    return node[1] if node[0] == "bool" else f"({node[1]} > 0)"


def _extend(children: st.SearchStrategy[tuple[str, str]]) -> st.SearchStrategy[tuple[str, str]]:
    i, b = children.map(_as_int), children.map(_as_bool)

    def fmt(kind: str, template: str, *parts: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, str]]:
        return st.tuples(*parts).map(lambda xs: (kind, template.format(*xs)))

    ints = (fmt("int", "({} {} {})", i, st.sampled_from(("+", "-", "*", "//", "%")), i)
            | fmt("int", "(-{})", i) | fmt("int", "({} if {} else {})", i, b, i)
            | fmt("int", "min({}, {})", i, i) | fmt("int", "max({}, {}, {})", i, i, i)
            | fmt("int", "min([{}, {}])", i, i)
            | fmt("int", "xs[{} % len(xs)]", i) | fmt("int", "[{}, 64, {}][{} % 3]", i, i, i))
    bools = (fmt("bool", "(not {})", b) | fmt("bool", "({} and {})", b, b) | fmt("bool", "({} or {})", b, b)
             | fmt("bool", "({} {} {})", i, CMP, i) | fmt("bool", "({} {} {} {} {})", i, CMP, i, CMP, i)
             | fmt("bool", "({} {} {})", b, st.sampled_from(("==", "!=")), b)
             | fmt("bool", "({} if {} else {})", b, b, b)
             | fmt("bool", "({} {} 'x')", i, st.sampled_from(("==", "!="))))
    return ints | bools


EXPRESSIONS = st.recursive(LEAVES, _extend, max_leaves=10).map(lambda node: node[1])
VALUES = st.fixed_dictionaries({
    **{n: st.integers(-9, 9) for n in INTS}, **{n: st.booleans() for n in BOOLS},
    "xs": st.lists(st.integers(-9, 9), min_size=1, max_size=4).map(tuple),
    **{n: st.integers(1, 32) for n in SHAPE}})


def concrete_env(values: dict[str, Any]) -> dict[str, Any]:
    env = {k: v for k, v in values.items() if k not in SHAPE}
    return {**env, "input": ShapeView(tuple(values[n] for n in SHAPE))}


@settings(derandomize=True, max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=EXPRESSIONS, values=VALUES)
@example(text="(a if (u and (b < c <= 3)) else min(a, input.height))", values={
    "a": 2, "b": 1, "c": 2, "u": True, "v": False, "xs": (3,), "in_channels": 3, "in_height": 8, "in_width": 8})
@example(text="((a // 0) if u else 1)", values={
    "a": 2, "b": 1, "c": 2, "u": False, "v": False, "xs": (3,), "in_channels": 3, "in_height": 8, "in_width": 8})
def test_symbolic_then_values_is_concrete_evaluation(text: str, values: dict[str, Any]) -> None:
    node = parse_expr(text)
    try:
        expected = evaluate(node, concrete_env(values))
    except ExprError:
        return  # an error concrete lowering reports; symbolic lowering never sees such a spec
    try:
        result = evaluate(node, SYMBOLIC)
    except (SymbolicBranch, NotSymbolic):
        return
    except ExprError as e:  # both branches of a symbolic `if` are evaluated: a constant zero divisor in either
        assert e.code == "E403", (text, e.message)
        return
    got = sym.evaluate(result, values)
    assert got == expected and type(got) is type(expected), (text, to_python(result))
    assert eval(to_python(result), {}, dict(values)) == expected, (text, to_python(result))  # a test only
    try:  # the lowerer instantiates in steps: some values first (a constant folded by then may divide by 0)
        partial = sym.substitute(result, {k: v for k, v in values.items() if k in ("a", "u", "xs", "in_height")})
    except ZeroDivisionError:
        return
    assert sym.evaluate(partial, values) == expected, (text, to_python(result), to_python(partial))


# --- what the lowerer needs most -----------------------------------------------------------

def sym_ev(text: str) -> Any:
    env = {**SYMBOLIC, "stride": Sym("stride"), "i": Sym("i"), "planes": Sym("planes"), "depths": SymList("depths"),
           "use": Sym("use", boolean=True), "block": SymBlock("block"), "widths": (64, 128, 256), "act": "relu"}
    return evaluate(parse_expr(text), env)


@pytest.mark.parametrize(("text", "printed"), [
    ("stride if i == 0 else 1", "stride if i == 0 else 1"),
    ("planes * 4", "planes * 4"),
    ("input.channels // 2", "in_channels // 2"),
    ("depths[0]", "depths[0]"),
    ("depths[-1]", "depths[-1]"),
    ("depths[i]", "depths[i]"),
    ("len(depths) - 1", "len(depths) - 1"),
    ("widths[i]", "[64, 128, 256][i]"),
    ("use and stride == 1", "use and stride == 1"),
    ("not use or planes > 64", "not use or planes > 64"),
    ("0 <= i < len(depths)", "i >= 0 and i < len(depths)"),
    ("min(planes, 64) + max(1, stride)", "min(planes, 64) + max(stride, 1)"),
    ("-planes", "-planes"),
    ("input.height if use else input.width", "in_height if use else in_width"),
    ("planes * (stride + i) / (len(depths) - 1)", "planes * (stride + i) / (len(depths) - 1)"),
    ("planes / stride / 2", "planes / stride / 2"),
    ("planes / (stride * 2)", "planes / (stride * 2)"),
    ("planes / 2.5 / -0.5", "planes / 2.5 / -0.5"),
])
def test_prints_what_the_lowerer_emits(text: str, printed: str) -> None:
    assert to_python(sym_ev(text)) == printed


@pytest.mark.parametrize(("text", "value"), [
    ("false and use", False), ("true or use", True), ("use or true", True), ("planes == 'relu'", False),
    ("planes != act", True), ("i - i", 0), ("planes * 4 // 4 == planes", True), ("use if true else false", "use"),
    ("block", "block"), ("[block, 1][0]", "block"), ("depths == depths", True),
])
def test_concrete_operands_decide_as_in_python(text: str, value: Any) -> None:
    got = sym_ev(text)
    if isinstance(value, str):
        assert to_python(got) == value
    else:
        assert got == value and type(got) is type(value)


@pytest.mark.parametrize("values", [{"planes": 1, "stride": 0, "i": 17}, {"planes": 0.1, "stride": 3, "i": 4},
                                    {"planes": 0.5, "stride": -1, "i": 8}])
def test_a_symbolic_quotient_is_pythons_float(values: dict[str, Any]) -> None:
    """Evaluated with values, and printed then run by Python, a quotient of symbols is exactly
    the float Python computes from the text (ConvNeXt's per-block drop probability)."""
    text = "planes * (stride + i) / (len(depths) - 1)"
    env = {**values, "depths": tuple(range(18))}
    want = evaluate(parse_expr(text), env)
    got = sym_ev(text)
    assert type_of(got) == "float"
    assert sym.evaluate(got, env) == want and type(want) is float
    assert eval(to_python(got), {}, dict(env)) == want  # the printed text, run by Python


def test_types_of_symbolic_values() -> None:
    assert [type_of(v) for v in (Sym("a"), Sym("u", boolean=True), SymList("xs"), SymBlock("block"))] == \
        ["int", "bool", "list", "block"]
    assert isinstance(sym_ev("block"), SymBlock)


@pytest.mark.parametrize(("text", "code", "words"), [
    ("depths * 2", "E402", "'*' needs a number, got list depths"),
    ("use + 1", "E402", "'+' needs a number, got bool use"),
    ("planes // 0", "E403", "division by zero"),
    ("planes % (i - i)", "E403", "division by zero"),
    ("not planes", "E402", "'not' needs true or false, got int planes"),
    ("planes if i else 1", "E402", "'if' needs true or false, got int i"),
    ("depths[use]", "E402", "a list index must be an integer, got bool"),
    ("planes[0]", "E402", "cannot index a int"),
    ("len(planes)", "E402", "len() takes one list"),
    ("[][i]", "E402", "index i is out of range for a list of 0"),
    ("(planes // 0) if use else 1", "E403", "division by zero"),
    ("planes / 0", "E403", "division by zero in '/'"),
    ("use / 2", "E402", "'/' needs a number, got bool use"),
    ("depths[planes / 2]", "E402", "a list index must be an integer, got float"),
])
def test_symbolic_values_get_the_concrete_errors(text: str, code: str, words: str) -> None:
    with pytest.raises(ExprError) as info:
        sym_ev(text)
    assert info.value.code == code and words in info.value.message


@pytest.mark.parametrize("text", [
    "planes < 1.5", "planes == 2.0", "min(planes, 0.5)", "depths + [1]", "min(depths)",
    "act if use else 'gelu'", "1 if use else true", "[1, 2] if use else [3]", "['a', 'b'][i]", "depths == [3, 4]",
    "block == other",
    # a quotient is a float: computed with as written (tests/spec/test_expr_functions.py), but no
    # comparison, min/max or choice between it and an integer has a symbolic form
    "planes / 2 < 1", "min(planes / 2, 3)", "planes / 2 if use else 1",
])
def test_what_has_no_symbolic_form_is_refused(text: str) -> None:
    with pytest.raises((SymbolicBranch, NotSymbolic)):
        evaluate(parse_expr(text), {"planes": Sym("planes"), "i": Sym("i"), "use": Sym("use", boolean=True),
                                    "depths": SymList("depths"), "act": "relu", "block": SymBlock("block"),
                                    "other": SymBlock("other")})
