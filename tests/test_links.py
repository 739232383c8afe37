"""Every relative link in README.md and docs/ resolves: the file exists inside the repository,
and an anchor (``#...``) names a heading of its target, slugged the way GitHub does. So does
every absolute link into the project's own repository (``https://github.com/archc/archc/blob/main/
PATH``, ``tree/main``, ``raw/main``): PATH must exist in this tree.

README.md is also the package's long description, shown on the package index, where relative
links and images lead nowhere: there, every link is absolute.

Other external (http, https, mailto) links are not fetched: tests run offline.
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
REPOSITORY = "https://github.com/archc/archc"  # pyproject's Homepage; checked below
# a file (blob), a folder (tree) or a file's bytes (raw) on the main branch, or the repository itself
_OWN = re.compile(rf"^{re.escape(REPOSITORY)}(?:/(?:blob|tree|raw)/main(?P<path>/[^#?]*)?)?/?(?:#(?P<frag>.*))?$")


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
        if target.lower().startswith(REPOSITORY.lower()):
            out += own_problems(target, root)
        elif target and not _EXTERNAL.match(target):
            path, _, fragment = target.partition("#")
            dest = (page.parent / unquote(path)).resolve() if path else page.resolve()
            out += [f"{target}: {why}" for why in missing(dest, fragment, root)]
    return out


def own_problems(url: str, root: Path = ROOT) -> list[str]:
    """Why an absolute link into the project's repository does not lead to a path of this tree."""
    m = _OWN.match(url)
    if not m:
        return [f"{url}: not a file or folder on the main branch ({REPOSITORY}/blob/main/PATH, tree/main, raw/main)"]
    dest = (root / unquote((m["path"] or "/").lstrip("/"))).resolve()
    return [f"{url}: {why}" for why in missing(dest, m["frag"] or "", root)]


def missing(dest: Path, fragment: str, root: Path) -> list[str]:
    if root.resolve() not in (dest, *dest.parents):
        return ["leads outside the repository"]
    if not dest.exists():
        return ["no such file"]
    if fragment and dest.suffix == ".md" and unquote(fragment) not in anchors(dest.read_text(encoding="utf-8")):
        return [f"{dest.name} has no heading with the anchor #{fragment}"]
    return []


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


def test_the_checker_follows_links_into_the_repository(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.md").write_text("# Title\n", encoding="utf-8")
    (tmp_path / "a.md").write_text(
        f"[ok]({REPOSITORY}) [ok]({REPOSITORY}/blob/main/docs/b.md#title) [ok]({REPOSITORY}/tree/main/docs)\n"
        f"<img src=\"{REPOSITORY}/raw/main/docs/b.md\"> [gone]({REPOSITORY}/blob/main/docs/c.md)\n"
        f"[bad anchor]({REPOSITORY}/blob/main/docs/b.md#nope) [branch]({REPOSITORY}/blob/dev/docs/b.md)\n"
        f"[out]({REPOSITORY}/blob/main/../x.md) [other]({REPOSITORY}-fork/blob/main/docs/b.md)\n", encoding="utf-8")
    found = problems(tmp_path / "a.md", root=tmp_path)
    assert [p.rsplit(": ", 1)[0].removeprefix(REPOSITORY) for p in found] == [
        "/blob/main/docs/c.md", "/blob/main/docs/b.md#nope", "/blob/dev/docs/b.md", "/blob/main/../x.md",
        "-fork/blob/main/docs/b.md"]


def pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_readme_links_work_on_the_package_index() -> None:
    """README.md is the long description (pyproject's `readme`): no link or image in it may be relative."""
    project = pyproject()["project"]
    assert project["readme"] == "README.md"
    relative = [t for t in links((ROOT / "README.md").read_text(encoding="utf-8")) if not _EXTERNAL.match(t)]
    assert relative == [], f"write these as {REPOSITORY}/blob/main/PATH (raw/main for images)"


def test_the_package_urls_lead_into_this_tree() -> None:
    urls = pyproject()["project"]["urls"]
    assert urls["Homepage"] == REPOSITORY
    assert [p for url in urls.values() for p in own_problems(url)] == []


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
