"""The docs stay true: the op reference is what archc prints, and the language
reference's complete examples are valid specs with the figures the text gives."""

from __future__ import annotations

import re

import archc
from archc.ops import reference

from .conftest import ROOT


def test_ops_reference_is_up_to_date() -> None:
    assert (ROOT / "docs" / "ops.md").read_text() == reference.markdown(), \
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


def doc_outputs() -> list[tuple[str, str, str]]:
    """(file, command, shown output) for every `<!-- archc-output: ARGS -->` marker in the docs."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = path.read_text()
        for args, shown in re.findall(r"<!-- archc-output: (.*?) -->\n```[a-z]*\n(.*?)```", text, re.S):
            found.append((str(path.relative_to(ROOT)), args, shown))
    return found


def test_command_outputs_shown_in_the_docs_are_current(cli, monkeypatch) -> None:
    import shlex

    monkeypatch.chdir(ROOT)
    cases = doc_outputs()
    assert cases, "the tutorial shows command outputs"
    for path, args, shown in cases:
        result = cli(*shlex.split(args))
        assert (result.out + result.err).rstrip("\n") == shown.rstrip("\n"), f"{path}: `archc {args}` now prints " \
            "something else; update the doc"
