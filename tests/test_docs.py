"""The docs stay true: the op reference is what archc prints, the language reference's
complete examples are valid specs with the figures the text gives, and every command
output, emitted class and figure table marked in the docs is what archc produces now.

Markers, each on the line right before what it vouches for:

- `<!-- archc-output: ARGS -->` before a code block: `archc ARGS` prints exactly that.
- `<!-- archc-class: ARGS CLASS -->` before a code block: the class CLASS in the source
  `archc compile ARGS` writes, where a line reading `...` stands for lines left out.
- `<!-- archc-excerpt: FILE -->` before a code block: consecutive lines of FILE (a path from
  the repository's root), where a line reading `...` stands for lines left out.
- `<!-- archc-python -->` before a ```` ```pycon ```` block: a Python session whose every output is
  what Python prints now (run by tests/test_api_docs.py; docs/api.md is made of them).
- `<!-- archc-figures -->` before a Markdown table: each row's first cell is `ARGS` in
  backticks, and its cells under `parameters`, `parameters without aux heads` and `MACs`
  are what `archc table ARGS` counts.
"""

from __future__ import annotations

import ast
import json
import re
import shlex

import pytest

import archc
from archc.commands.ops import markdown

from .conftest import ROOT


def test_ops_reference_is_up_to_date() -> None:
    assert (ROOT / "docs" / "ops.md").read_text() == markdown(), \
        "docs/ops.md is stale: run `archc ops --format markdown > docs/ops.md`"


def test_every_op_has_an_example_that_lowers() -> None:
    from archc.ops import registry

    for op in registry():
        call, shape = op.example
        assert call and shape, f"{op.name} has no example"


def spec_examples(path: str) -> list[str]:
    text = (ROOT / path).read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    return [b for b in blocks if re.search(r"^archc: 1$", b, re.M) and re.search(r"^layers:", b, re.M)]


def test_language_reference_examples_are_valid_specs() -> None:
    examples = spec_examples("docs/language.md")
    assert examples, "the language reference shows at least one complete spec"
    for text in examples:
        report = archc.analyze(archc.load("example.yaml", text=text))
        assert report.totals.params > 0
    first = archc.analyze(archc.load("example.yaml", text=examples[0]))
    n_rows = len([r for r in first.rows if not r.container])
    assert f"prints its {n_rows} layers" in (ROOT / "docs/language.md").read_text()


def marked(kind: str, shown: str = r"```[a-z]*\n(.*?)```") -> list[tuple[str, str, str]]:
    """(file, ARGS, what follows) for every `<!-- archc-KIND: ARGS -->` marker in the docs; by
    default what follows is a fenced code block, and the text inside it is returned."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text, name = path.read_text(), str(path.relative_to(ROOT))
        here = re.findall(rf"<!-- archc-{kind}(?:: ([^\n]*?))? -->\n{shown}", text, re.S)
        assert len(here) == text.count(f"<!-- archc-{kind}"), f"{name}: an archc-{kind} marker is malformed " \
            "or not right before what it vouches for"
        found += [(name, args, block) for args, block in here]
    return found


def doc_outputs() -> list[tuple[str, str, str]]:
    """(file, command, shown output) for every `<!-- archc-output: ARGS -->` marker in the docs."""
    return marked("output")


def test_command_outputs_shown_in_the_docs_are_current(cli, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    cases = doc_outputs()
    assert cases, "the tutorial shows command outputs"
    for path, args, shown in cases:
        result = cli(*shlex.split(args))
        assert (result.out + result.err).rstrip("\n") == shown.rstrip("\n"), f"{path}: `archc {args}` now prints " \
            "something else; update the doc"


def with_elisions(shown: str, source: str, part: bool = False) -> bool:
    """Whether `shown` is `source` (or with `part`, whole lines of it) with runs of one or more
    lines replaced by a line reading `...`."""
    pattern = "".join(r"(?:.*\n)+" if line.strip() == "..." else re.escape(line) + r"\n"
                      for line in shown.rstrip("\n").split("\n"))
    source = source.rstrip("\n") + "\n"
    return bool(re.search(f"(?m)^{pattern}", source) if part else re.fullmatch(pattern, source))


@pytest.mark.parametrize(("shown", "whole", "part"), [
    ("class A:\n    x = 1\n    y = 2\n", True, True),
    ("class A:\n    ...\n    y = 2\n", True, True),
    ("class A:\n    ...\n", True, True),
    ("class A:\n    ...\n    x = 1\n    y = 2\n", False, False),  # `...` stands for at least one line
    ("class A:\n    y = 2\n", False, False),
    ("class A:\n    x = 1\n", False, True),
    ("ass A:\n    x = 1\n", False, False),  # whole lines only
])
def test_elisions_stand_for_whole_lines(shown: str, whole: bool, part: bool) -> None:
    assert with_elisions(shown, "class A:\n    x = 1\n    y = 2") is whole
    assert with_elisions(shown, "# head\nclass A:\n    x = 1\n    y = 2\n# tail\n", part=True) is part


def test_emitted_classes_shown_in_the_docs_are_current(cli, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    cases = marked("class")
    assert cases, "the docs show emitted classes"
    for path, args, shown in cases:
        *compile_args, name = shlex.split(args)
        result = cli("compile", *compile_args, "-o", "-")
        assert result.code == 0, f"{path}: `archc compile {' '.join(compile_args)}` failed: {result.err}"
        classes = {node.name: node for node in ast.parse(result.out).body if isinstance(node, ast.ClassDef)}
        assert name in classes, f"{path}: `archc compile {' '.join(compile_args)}` writes no class {name}"
        source = ast.get_source_segment(result.out, classes[name])
        assert with_elisions(shown, source), f"{path}: class {name} from `archc compile " \
            f"{' '.join(compile_args)}` now reads otherwise; update the doc"


def test_spec_excerpts_in_the_docs_are_current() -> None:
    cases = marked("excerpt")
    assert cases, "the docs show excerpts of specs"
    for path, file, shown in cases:
        assert with_elisions(shown, (ROOT / file).read_text(), part=True), f"{path}: {file} no longer reads " \
            "as the excerpt shows; update the doc"


FIGURES = {"parameters": "params", "parameters without aux heads": "params_without_heads", "MACs": "macs"}


def test_figure_tables_in_the_docs_are_current(cli, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    tables = marked("figures", r"(\|.*?\n)(?!\|)")
    assert tables, "the docs show tables of figures"
    totals: dict[str, dict] = {}
    for path, _, table in tables:
        header, _, *rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
                            for line in table.strip().split("\n")]
        checked = [(i, FIGURES[cell]) for i, cell in enumerate(header) if cell in FIGURES]
        assert checked, f"{path}: a figures table needs a column among {sorted(FIGURES)}"
        for row in rows:
            args = re.fullmatch(r"`([^`]+)`", row[0])
            assert args, f"{path}: a figures table's rows start with `ARGS` for archc table, not {row[0]!r}"
            if args[1] not in totals:
                result = cli("table", *shlex.split(args[1]), "--format", "json")
                assert result.code == 0, f"{path}: `archc table {args[1]}` failed: {result.err}"
                totals[args[1]] = json.loads(result.out)["totals"]
            for i, key in checked:
                assert row[i] == f"{totals[args[1]][key]:,}", f"{path}: `archc table {args[1]}` now counts " \
                    f"{totals[args[1]][key]:,} for {header[i]}, not {row[i]}; update the doc"
