"""Every relative link in README.md and docs/ resolves: the file exists inside the repository,
and an anchor (``#...``) names a heading of its target, slugged the way GitHub does.

External (http, https, mailto) links are not fetched: tests run offline.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest

from .conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

_FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+).+?\1", re.S)
# [text](target "title") and ![alt](target); the text may hold one level of brackets
_INLINE = re.compile(r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(].*?[\"')])?\s*\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
_HTML = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*[\"']([^\"']+)[\"']", re.I)
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.M)
_HTML_ID = re.compile(r"<[a-z][^>]*?\b(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.I)
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto:, …


def prose(text: str) -> str:
    """The text without code blocks and code spans, where brackets are not links."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def links(text: str) -> list[str]:
    text = prose(text)
    return [*_INLINE.findall(text), *_REFERENCE.findall(text), *_HTML.findall(text)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the visible text, lower-cased, punctuation dropped, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link shows its text
    text = re.sub(r"<[^>]+>", "", text).lower()
    return "".join(c for c in text if c.isalnum() or c in "-_ ").replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a page offers: its headings (repeats numbered -1, -2, …) and explicit ids."""
    seen: Counter[str] = Counter()
    out = set(_HTML_ID.findall(text))
    for heading in _HEADING.findall(_FENCE.sub("", text)):
        base = slug(heading)
        out.add(f"{base}-{seen[base]}" if seen[base] else base)
        seen[base] += 1
    return out


def problems(page: Path, root: Path = ROOT) -> list[str]:
    out = []
    for target in links(page.read_text(encoding="utf-8")):
        if not target or _EXTERNAL.match(target):
            continue
        path, _, fragment = target.partition("#")
        dest = (page.parent / unquote(path)).resolve() if path else page.resolve()
        if root.resolve() not in (dest, *dest.parents):
            out.append(f"{target}: leads outside the repository")
        elif not dest.exists():
            out.append(f"{target}: no such file")
        elif fragment and dest.suffix == ".md" and unquote(fragment) not in anchors(dest.read_text(encoding="utf-8")):
            out.append(f"{target}: {dest.name} has no heading with the anchor #{fragment}")
    return out


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_resolves(page: Path) -> None:
    assert problems(page) == []


def test_the_checker_finds_what_is_broken(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.md").write_text("# Title\n\n## The `archc table` command\n\n## Title\n", encoding="utf-8")
    (tmp_path / "a.md").write_text(
        "[ok](docs/b.md) [ok](docs/b.md#the-archc-table-command) [ok](docs/b.md#title-1) [ok](#top)\n"
        "[gone](docs/missing.md) [bad anchor](docs/b.md#nope) [out](../elsewhere.md) [web](https://example.com/x)\n"
        "`[not a link](nowhere.md)`\n```\n[not a link](nowhere.md)\n```\n<a id=\"top\"></a>\n"
        "[ref]: docs/gone-too.md\n<img src=\"pic.png\">\n", encoding="utf-8")
    (tmp_path / "elsewhere.md").write_text("", encoding="utf-8")
    found = problems(tmp_path / "a.md", root=tmp_path)
    assert [p.split(":")[0] for p in found] == ["docs/missing.md", "docs/b.md#nope", "../elsewhere.md",
                                                "docs/gone-too.md", "pic.png"]


@pytest.mark.parametrize(("heading", "anchor"), [
    ("`archc table`", "archc-table"),
    ("Options for a spec's parameters and input", "options-for-a-specs-parameters-and-input"),
    ("What a spec looks like", "what-a-spec-looks-like"),
    ("C++ & Python: 3×3 convs", "c--python-33-convs"),
    ("A [linked](x.md) heading", "a-linked-heading"),
    ("snake_case stays", "snake_case-stays"),
])
def test_anchors_are_slugged_like_github(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor
