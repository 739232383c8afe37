"""Standard YAML: what archc ships means the same to every YAML reader, older specs still load
with a located warning (W110; E110 when strict), and ``archc fmt`` rewrites them, changing
nothing but the flow items only archc reads as one.

The reference reader is PyYAML's ``yaml.safe_load``: what editors, formatters and scripts
see. "The same" is the same structure (mappings, lists, strings, numbers), compared with
archc's located tree; loading without an error would not be enough.
"""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archc
from archc.diagnostics import ArchcError, Reporter
from archc.spec.schema_text import KEY_DOCS
from archc.spec.source import archc_only_items, parse_yaml, plain, standard_form

from ..conftest import ROOT
from ..test_property import networks

LEGACY = Path(__file__).resolve().parent / "legacy"  # the files as they were before they were rewritten
# where each legacy file now lives in the repository
NOW = {"_resnet.yaml": "specs/_resnet.yaml", "googlenet.yaml": "specs/googlenet.yaml",
       "googlenet_paper.yaml": "specs/googlenet_paper.yaml",
       "inception_naive.yaml": "docs/networks/inception_naive.yaml",
       "resnet50_v1.yaml": "docs/networks/resnet50_v1.yaml", "two_3x3.yaml": "docs/networks/two_3x3.yaml",
       "step3.yaml": "docs/tutorial/step3.yaml"}


def archc_view(text: str, name: str = "t.yaml") -> tuple[object, Reporter]:
    r = Reporter()
    root = parse_yaml(name, text, r)
    assert not r.errors, [d.render(r.sources) for d in r.errors]
    return (None if root is None else plain(root)), r  # None: only comments


def agrees(text: str, name: str = "t.yaml") -> None:
    """archc and yaml.safe_load read the same structure, and archc has nothing to warn about."""
    mine, r = archc_view(text, name)
    assert [d.code for d in r.warnings if d.code == "W110"] == [], [d.render(r.sources) for d in r.warnings]
    assert yaml.safe_load(text) == mine


def shipped_yaml() -> list[tuple[str, str]]:
    """(where, text) of every YAML file and YAML code block we ship."""
    found = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8"))
             for p in sorted([*(ROOT / "specs").glob("*.yaml"), *(ROOT / "docs").rglob("*.yaml")])]
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"(<!-- archc-excerpt: [^\n]* -->\n)?```yaml\n(.*?)```", text, re.S):
            if m[1]:  # an excerpt of a file checked above (tests/test_docs.py checks that it is one)
                continue
            # a line reading `...` stands for lines left out, and a block may be a part of a spec
            block = textwrap.dedent("\n".join(x for x in m[2].split("\n") if x.strip() != "..."))
            found.append((f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start(2)) + 1}", block))
    return found


SHIPPED = shipped_yaml()


def test_the_shipped_yaml_is_all_found() -> None:
    where = [w for w, _ in SHIPPED]
    assert len([w for w in where if w.startswith("specs/")]) == len(list((ROOT / "specs").glob("*.yaml")))
    assert any(w.startswith("README.md:") for w in where) and any(w.startswith("docs/language.md:") for w in where)
    assert any(w.startswith("docs/tutorial/") for w in where) and any(w.startswith("docs/networks/") for w in where)


@pytest.mark.parametrize(("where", "text"), SHIPPED, ids=[w for w, _ in SHIPPED])
def test_shipped_yaml_means_the_same_to_every_reader(where: str, text: str) -> None:
    agrees(text, where)


@pytest.mark.parametrize("key", sorted(KEY_DOCS), ids=lambda k: ".".join(k))
def test_hover_examples_mean_the_same_to_every_reader(key: tuple[str, str]) -> None:
    agrees(KEY_DOCS[key][1])  # what an editor shows on hover (archc schema), from archc/spec/schema_text.py


def test_agreement_can_fail() -> None:
    with pytest.raises(AssertionError):
        agrees("d: [conv(8, 1, stride=2), bn()]\n")


# --- warnings and strictness ---------------------------------------------------------------

SPEC = """\
archc: 1
name: legacy
input: [3, 16, 16]
layers:
  - s: [conv(8, 3, padding=1), relu]  # a comment
  - t: {repeat: 2, each: conv(8, 3, padding=1)}
"""


def test_items_only_archc_reads_as_one_are_warned_at_the_item() -> None:
    _, r = archc_view(SPEC)
    assert [(d.code, d.severity, d.span.line, d.span.col, d.span.end_col) for d in r.diagnostics] == [
        ("W110", "warning", 5, 9, 30), ("W110", "warning", 6, 26, 47)]
    first, second = r.diagnostics
    assert "'conv(8, 3, padding=1)'" in first.message and "at ','" in first.message
    assert '`- s: ["conv(8, 3, padding=1)", relu]  # a comment`' in first.hint  # the very line, standard
    assert '`- t: {repeat: 2, each: "conv(8, 3, padding=1)"}`' in second.hint
    assert "archc fmt" in first.hint


def test_the_warned_spec_still_means_what_it_did() -> None:
    graph = archc.lower(archc.load("t.yaml", text=SPEC))
    assert graph.nodes[graph.output].shape == (8, 16, 16)


def test_strict_yaml_makes_them_errors(cli, tmp_path: Path) -> None:
    with pytest.raises(ArchcError) as err:
        archc.load("t.yaml", text=SPEC, strict_yaml=True)
    assert err.value.codes == ["E110", "E110"]
    with pytest.raises(ArchcError):
        archc.lower(_write(tmp_path, SPEC), strict_yaml=True)
    assert archc.load("t.yaml", text=standard_form(SPEC), strict_yaml=True).name == "legacy"
    path = _write(tmp_path, SPEC)
    result = cli("validate", path)
    assert result.code == 0 and result.err.count("warning[W110]") == 2 and ": ok (" in result.out
    result = cli("validate", "--strict-yaml", path)
    assert result.code == 2 and result.err.count("error[E110]") == 2 and f"{path}:5:9: error[E110]" in result.err
    result = cli("validate", "--strict-yaml", "resnet50", "googlenet")
    assert result.code == 0 and result.err == ""


def _write(folder: Path, text: str, name: str = "net.yaml") -> Path:
    path = folder / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_many_such_items_leave_room_for_errors(tmp_path: Path) -> None:
    # the reporter keeps 200 diagnostics; a legacy spec with more items must still get its errors
    items = ", ".join(f"conv({i % 7 + 1}, 1, bias=false)" for i in range(300))
    text = f"archc: 1\nname: many\ninput: [3, 8, 8]\nlayers:\n  - s: [{items}]\n  - x: relu_\n"
    with pytest.raises(ArchcError) as err:
        archc.lower(_write(tmp_path, text), reporter=Reporter())
    assert err.value.codes == ["E300"]
    _, r = archc_view(text)
    assert len(r.warnings) == 21 and r.warnings[-1].message.startswith("280 more flow items")


def test_standard_flow_lists_are_not_warned() -> None:
    text = 'a: [relu, "conv(8, 3)", maxpool(2), [1, 2], {b: f(x)}]\nb: [f(), g(x)]\nc:\n  - conv(8, 3, [1, 2])\n'
    _, r = archc_view(text)
    assert r.diagnostics == []
    agrees(text)


# --- archc fmt -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(NOW))
def test_fmt_on_the_files_as_they_were(name: str) -> None:
    """Each rewritten file as it was before: archc fmt makes it standard YAML with the same meaning,
    and the hand-written block style now shipped means the same too."""
    before = (LEGACY / name).read_text(encoding="utf-8")
    assert archc_only_items(before), "a legacy file holds items only archc reads as one"
    after = standard_form(before)
    assert archc_view(after)[0] == archc_view(before)[0]
    agrees(after)
    assert len(after.splitlines()) == len(before.splitlines())
    now = (ROOT / NOW[name]).read_text(encoding="utf-8")
    assert archc_view(now)[0] == archc_view(before)[0]
    # and the networks are the same: every count archc makes
    if "extends" not in before:
        old, new = archc.analyze(archc.load(name, text=before)), archc.analyze(archc.load(name, text=after))
        assert (old.totals.params, old.totals.macs) == (new.totals.params, new.totals.macs) > (0, 0)


@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.yaml")), ids=lambda p: p.name)
def test_fmt_leaves_standard_specs_alone(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert archc_only_items(text) == [] and standard_form(text) == text


TRICKY = {
    "comments inside a flow list": (
        "a: [conv(8, 3),   # first\n    # a whole comment line\n    bn(), g(a, b)]  # end\n",
        'a: ["conv(8, 3)",   # first\n    # a whole comment line\n    bn(), "g(a, b)"]  # end\n'),
    "nested parentheses and brackets": (
        "a: [f(g(1, 2), [3, 4], h(x[0], {k, 1})), relu]\n",
        'a: ["f(g(1, 2), [3, 4], h(x[0], {k, 1}))", relu]\n'),
    "a double quote inside": (
        """a: [f("x", y), g(1, 'z'), h("it's", 1)]\n""",
        """a: ['f("x", y)', "g(1, 'z')", 'h("it''s", 1)']\n"""),
    "a backslash inside": ("a: [f(1, '\\n')]\n", "a: ['f(1, ''\\n'')']\n"),
    "an item over several lines": (
        "a: [conv(8,\n      3, padding=1),\n    relu]\n",
        'a: ["conv(8,\n      3, padding=1)",\n    relu]\n'),
    "a flow mapping": ("b: {each: B(a, b), repeat: 2, c: f(x,y)}\n", 'b: {each: "B(a, b)", repeat: 2, c: "f(x,y)"}\n'),
    "a key": ("c: [f(a, b): 1]\n", 'c: ["f(a, b)": 1]\n'),
    "nested flow collections": ("d: [relu, {layers: [conv(c, 3), relu]}, [f(1, 2)]]\n",
                                'd: [relu, {layers: ["conv(c, 3)", relu]}, ["f(1, 2)"]]\n'),
    "CRLF line endings and a BOM": ("\ufeffa: [f(1, 2),\r\n    g]\r\n", '\ufeffa: ["f(1, 2)",\r\n    g]\r\n'),
    "block context is left alone": ("a:\n  - f(1, [2, 3])\n  - g: h(1, 2)\nb: f(1, 2)\n",
                                    "a:\n  - f(1, [2, 3])\n  - g: h(1, 2)\nb: f(1, 2)\n"),
    "odd spacing": ("a: [ f( 1 ,  2 ) , g ]\n", 'a: [ "f( 1 ,  2 )" , g ]\n'),
}


@pytest.mark.parametrize("case", sorted(TRICKY))
def test_fmt_tricky_cases(case: str) -> None:
    before, expected = TRICKY[case]
    after = standard_form(before)
    assert after == expected
    assert archc_view(after)[0] == archc_view(before)[0]
    agrees(after)
    assert standard_form(after) == after  # idempotent


@st.composite
def flow_items(draw: st.DrawFn) -> str:
    """A flow list of calls whose arguments hold commas, brackets, quotes, line breaks and spaces."""
    def arg() -> str:
        return draw(st.sampled_from(["1", "a", "x[0]", "[1, 2]", "f(1, 2)", "'s, t'", '"q"', "a + b", "{k: 1}",
                                     "g(h(1, [2]), 3)", "'it''s'", "\\\\", "b  ,c"]))
    items = []
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(["conv", "f", "Block", "relu"]))
        args = [arg() for _ in range(draw(st.integers(0, 3)))]
        sep = draw(st.sampled_from([", ", ",", ",\n     "]))
        items.append(f"{name}({sep.join(args)})" if args or draw(st.booleans()) else name)
    space = draw(st.sampled_from([", ", ",  # note\n    ", " ,\n  "]))
    return "x: [" + space.join(items) + "]\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=flow_items())
def test_fmt_on_generated_flow_lists(text: str) -> None:
    r = Reporter()
    if parse_yaml("t.yaml", text, r) is None:
        return  # not YAML archc reads (a quote cut by a comma, say): nothing to rewrite
    after = standard_form(text)
    assert archc_view(after)[0] == archc_view(text)[0]
    agrees(after)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=networks())
def test_fmt_on_generated_networks(case: tuple) -> None:
    text = case[0]
    after = standard_form(text)
    assert archc_view(after)[0] == archc_view(text)[0]
    agrees(after)


# --- the command ---------------------------------------------------------------------------

def test_archc_fmt_rewrites_in_place(cli, tmp_path: Path) -> None:
    path = _write(tmp_path, SPEC)
    result = cli("fmt", path)
    assert result.code == 0 and result.out == "" and f"{path}: quoted 2 flow items" in result.err
    assert path.read_text(encoding="utf-8") == standard_form(SPEC)
    assert [p.name for p in tmp_path.iterdir()] == ["net.yaml"]  # no temporary file left behind
    stamp = path.stat().st_mtime_ns
    result = cli("fmt", path)
    assert result.code == 0 and "already standard YAML" in result.err and path.stat().st_mtime_ns == stamp


def test_archc_fmt_check_writes_nothing(cli, tmp_path: Path) -> None:
    bad, good = _write(tmp_path, SPEC), _write(tmp_path, standard_form(SPEC), "good.yaml")
    result = cli("fmt", "--check", bad, good)
    assert result.code == 1 and f"{bad}: 2 flow items" in result.err and "good.yaml" not in result.err
    assert bad.read_text(encoding="utf-8") == SPEC
    assert cli("fmt", "--check", good).code == 0
    assert cli("fmt", "--check", *sorted((ROOT / "specs").glob("*.yaml"))).code == 0


def test_archc_fmt_output_elsewhere(cli, tmp_path: Path) -> None:
    path = _write(tmp_path, SPEC)
    result = cli("fmt", path, "-o", "-")
    assert result.code == 0 and result.out == standard_form(SPEC)
    target = tmp_path / "out.yaml"
    result = cli("fmt", path, "--output", target)
    assert result.code == 0 and target.read_text(encoding="utf-8") == standard_form(SPEC)
    assert path.read_text(encoding="utf-8") == SPEC


def test_archc_fmt_keeps_bytes_and_mode(cli, tmp_path: Path) -> None:
    text = "\ufeff# c\r\narchc: 1\r\nlayers: [f(1, 2),  g]   \r\n\r\n"
    path = tmp_path / "w.yaml"
    path.write_bytes(text.encode("utf-8"))
    os.chmod(path, 0o640)
    assert cli("fmt", path).code == 0
    assert path.read_bytes() == '\ufeff# c\r\narchc: 1\r\nlayers: ["f(1, 2)",  g]   \r\n\r\n'.encode()
    assert path.stat().st_mode & 0o777 == 0o640


def test_archc_fmt_errors(cli, tmp_path: Path) -> None:
    bad = _write(tmp_path, "a: [f(1, 2)\nb: 1\n", "bad.yaml")
    good = _write(tmp_path, SPEC)
    result = cli("fmt", bad, good)  # one file's error does not stop the others
    assert result.code == 2 and f"{bad}:" in result.err and "error[E101]" in result.err
    assert "Traceback" not in result.err and good.read_text(encoding="utf-8") == standard_form(SPEC)
    result = cli("fmt", tmp_path / "missing.yaml")
    assert result.code == 2 and "error[E100]" in result.err
    result = cli("fmt", tmp_path)
    assert result.code == 2 and "error[E100]" in result.err and "directory" in result.err
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("a: [f(1, 2)]  # caf\xe9\n".encode("latin-1"))
    result = cli("fmt", latin1)
    assert result.code == 2 and f"{latin1}:1:" in result.err and "error[E100]" in result.err
    control = _write(tmp_path, "\x1f", "control.yaml")  # the reader refuses it before any token
    for command in ("fmt", "validate"):
        result = cli(command, control)
        assert result.code == 2 and f"{control}:1:1: error[E101]" in result.err
    result = cli("fmt", "--limit", "max_bytes=10", good)
    assert result.code == 2 and "error[E102]" in result.err
    assert cli("fmt", good, bad, "-o", "-").code == 2  # -o takes one SPEC (a usage error)
    assert cli("fmt", "--check", good, "-o", "-").code == 2
    result = cli("fmt", good, "-o", tmp_path / "no" / "such" / "dir.yaml")
    assert result.code == 2 and "error[E700]" in result.err
