"""YAML loading: positions for every value, strictness, and defences against hostile YAML."""

from __future__ import annotations

from archc.diagnostics import Reporter
from archc.spec.source import YMap, YScalar, YSeq, parse_yaml


def parse(text: str) -> tuple[object, Reporter]:
    r = Reporter()
    return parse_yaml("f.yaml", text, r), r


def test_every_value_has_its_position() -> None:
    root, r = parse("a: 1\nb:\n  - x\n  - {c: [1, 2]}\n")
    assert not r.diagnostics and isinstance(root, YMap)
    key, value = root.items["a"]
    assert (key.span.line, key.span.col, value.span.line, value.span.col) == (1, 1, 1, 4)
    seq = root.items["b"][1]
    assert isinstance(seq, YSeq) and seq.items[0].span.line == 3 and seq.items[0].span.col == 5
    inner = seq.items[1].items["c"][1]
    assert [(i.span.line, i.span.col, i.value) for i in inner.items] == [(4, 10, 1), (4, 13, 2)]


def test_commas_inside_parentheses_stay_in_the_scalar() -> None:
    root, r = parse("d: [conv(planes * 4, 1, stride=s, bias=false), bn()]\np: {a: f(1, [2, 3]), b: g}\n")
    assert not r.errors  # older specs keep working; that only archc reads them so is a warning (W110)
    assert [(d.code, d.span.line, d.span.col) for d in r.warnings] == [("W110", 1, 5), ("W110", 2, 8)]
    assert [i.value for i in root.items["d"][1].items] == ["conv(planes * 4, 1, stride=s, bias=false)", "bn()"]
    assert {k: v.value for k, (_, v) in root.items["p"][1].items.items()} == {"a": "f(1, [2, 3])", "b": "g"}


def test_scalar_types_follow_yaml_strictly() -> None:
    root, r = parse("a: 1\nb: 1.5\nc: true\nd: 'no'\ne: null\nf: 0x10\ng: 1_000\n")
    assert not r.diagnostics
    assert {k: v.value for k, (_, v) in root.items.items()} == {"a": 1, "b": 1.5, "c": True, "d": "no", "e": None,
                                                                 "f": 16, "g": 1000}
    assert root.items["d"][1].quoted


def test_yaml_11_surprises_are_errors_with_a_way_out() -> None:
    for text, words in [("a: no", "as a boolean"), ("a: yes", "as a boolean"), ("a: 010", "octal"),
                        ("a: 1:30", "base 60"), ("a: 2024-01-01", "as a date"), ("a: 1e-3", "is text in YAML 1.1")]:
        _, r = parse(text + "\n")
        assert [d.code for d in r.diagnostics] == ["E106"], text
        assert words in r.diagnostics[0].message and r.diagnostics[0].hint, text


def test_duplicate_keys_are_errors() -> None:
    _, r = parse("a: 1\nb: 2\na: 3\n")
    assert [(d.code, d.span.line) for d in r.diagnostics] == [("E105", 3)]
    assert "first defined at line 1" in r.diagnostics[0].message


def test_anchors_and_aliases_are_refused() -> None:
    _, r = parse("a: &x [1, 2]\nb: *x\n")
    assert [d.code for d in r.diagnostics] == ["E104"]
    laughs = "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\n"
    _, r = parse(laughs)
    assert [d.code for d in r.diagnostics] == ["E104"]


def test_merge_keys_and_tags_are_refused() -> None:
    _, r = parse("a: {x: 1}\nb: {<<: {x: 1}}\n")
    assert [d.code for d in r.diagnostics] == ["E107"]
    _, r = parse("a: !!python/object:os.system 1\n")
    assert [d.code for d in r.diagnostics] == ["E107"]


def test_deep_nesting_is_bounded_without_recursion() -> None:
    _, r = parse("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert [d.code for d in r.diagnostics] == ["E103"]


def test_size_cap() -> None:
    r = Reporter()
    assert parse_yaml("f.yaml", "a: 1\n" * 10, r, max_bytes=20) is None
    assert [d.code for d in r.diagnostics] == ["E102"]


def test_syntax_error_is_located() -> None:
    _, r = parse("a: [1, 2\nb: 3\n")
    (d,) = r.diagnostics
    assert d.code == "E101" and d.span.line >= 1


def test_non_string_keys_and_multiple_documents() -> None:
    _, r = parse("1: a\n")
    assert [d.code for d in r.diagnostics] == ["E107"]
    _, r = parse("a: 1\n---\nb: 2\n")
    assert [d.code for d in r.diagnostics] == ["E101"]


def test_scalars_report_quoting() -> None:
    root, _ = parse('a: "x"\nb: x\n')
    assert isinstance(root.items["a"][1], YScalar) and root.items["a"][1].quoted
    assert not root.items["b"][1].quoted


def test_numbers_out_of_range_are_errors_not_crashes() -> None:
    # int() refuses (or takes quadratic time on) strings of thousands of digits: bounded first
    for text in ("a: " + "9" * 5000, "a: 0x" + "f" * 5000, "a: 10000000000000000000", "a: -0b" + "1" * 100):
        _, r = parse(text + "\n")
        assert [d.code for d in r.diagnostics] == ["E405"], text
        assert "exceeds the limit" in r.diagnostics[0].message
    for text in ("a: .inf", "a: -.inf", "a: .nan", "a: 1" + "0" * 400 + ".5"):
        _, r = parse(text + "\n")
        assert [d.code for d in r.diagnostics] == ["E405"], text
        assert "not a finite number" in r.diagnostics[0].message
    root, r = parse("a: 1000000000000000000\nb: -1.5e+300\n")
    assert not r.diagnostics and root.items["a"][1].value == 10**18


def test_the_yaml_11_float_hint_is_a_float_in_yaml_11() -> None:
    import yaml

    for raw, fixed in (("1e-3", "1.0e-3"), ("1.0e308", "1.0e+308"), ("5E8", "5.0e+8"), (".5e3", "0.5e+3")):
        _, r = parse(f"a: {raw}\n")
        (d,) = r.diagnostics
        assert d.code == "E106" and f"write it as {fixed} " in d.hint, d.hint
        assert isinstance(yaml.safe_load(f"a: {fixed}")["a"], float)  # PyYAML is YAML 1.1


def test_nul_byte_is_located() -> None:
    _, r = parse("a: 1\nbb: x\x00y\n")
    (d,) = r.diagnostics
    assert (d.code, d.span.line, d.span.col) == ("E101", 2, 6)


def test_lone_surrogates_are_refused() -> None:
    # "\ud800" in double quotes is a lone surrogate: not a character; printing it crashed JSON output
    _, r = parse('a: "x\\ud800"\n"k\\udc00": 1\n')
    assert [(d.code, d.span.line) for d in r.diagnostics] == [("E101", 1), ("E101", 2)]
    root, r = parse('a: "\\U0001F600 \\u00e9"\n')
    assert not r.diagnostics and root.items["a"][1].value == "\U0001F600 é"


def test_a_control_character_is_located_and_named() -> None:
    # PyYAML's reader refuses it before any token exists, with a position but no mark
    text = "archc: 1\nlayers:\n  - c: conv(4, 3) \x07\n"
    r = Reporter(sources={"f.yaml": text})
    parse_yaml("f.yaml", text, r)
    (d,) = r.errors
    assert (d.code, d.span.line, d.span.col) == ("E101", 3, 19)
    assert "U+0007" in d.message and "tab" not in (d.hint or "")


def test_tab_indentation_gets_the_tab_hint() -> None:
    text = "archc: 1\nlayers:\n\t- relu\n"
    r = Reporter(sources={"f.yaml": text})
    parse_yaml("f.yaml", text, r)
    (d,) = r.errors
    assert d.span.line == 3 and "tabs" in (d.hint or "")
