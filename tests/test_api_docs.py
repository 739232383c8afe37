"""The Python sessions in the docs are what Python prints now.

A ``<!-- archc-python -->`` marker (see tests/test_docs.py) stands right before a ```` ```pycon ````
block: lines starting ``>>> `` (continued by ``... ``) are run as at Python's prompt, an
expression's value is shown with ``repr``, and the lines up to the next prompt are what it
prints, exactly (blank lines included: no ``<BLANKLINE>`` needed); an exception shows as
``Traceback (most recent call last):``, a line ``  ...`` and the exception's last line. The blocks of one page run
in order in one namespace, from the repository's root, like one notebook.
"""

from __future__ import annotations

import contextlib
import io
import sys
import traceback
from collections import defaultdict

import pytest

from .conftest import ROOT
from .test_docs import marked


def examples(block: str) -> list[tuple[str, str]]:
    """(source, expected output) of each prompt in a pycon block."""
    out: list[tuple[list[str], list[str]]] = []
    for line in block.rstrip("\n").split("\n"):
        if line.startswith(">>> ") or line == ">>>":
            out.append(([line[4:]], []))
        elif (line.startswith("... ") or line == "...") and out and not out[-1][1]:
            out[-1][0].append(line[4:])
        else:
            assert out, f"output before the first prompt: {line!r}"
            out[-1][1].append(line)
    return [("\n".join(src), "\n".join(shown)) for src, shown in out]


def run(source: str, namespace: dict) -> str:
    buf = io.StringIO()
    hook = sys.displayhook

    def show(value: object) -> None:
        if value is not None:
            namespace["_"] = value
            print(repr(value))

    sys.displayhook = show
    try:
        with contextlib.redirect_stdout(buf):
            exec(compile(source + "\n", "<docs>", "single"), namespace)  # our own docs, from this repository
    except Exception as err:  # shown as Python shows it, the stack left out
        buf.write("Traceback (most recent call last):\n  ...\n")
        buf.write("".join(traceback.format_exception_only(type(err), err)))
    finally:
        sys.displayhook = hook
    return buf.getvalue()


def sessions() -> dict[str, list[str]]:
    pages: dict[str, list[str]] = defaultdict(list)
    for page, _, block in marked("python", r"```pycon\n(.*?)```"):
        pages[page].append(block)
    return dict(pages)


def test_the_runner_compares_what_python_prints() -> None:
    ns: dict = {}
    assert examples(">>> x = 1\n>>> for i in range(2):\n...     print(i)\n0\n1\n>>> x\n1\n") == \
        [("x = 1", ""), ("for i in range(2):\n    print(i)", "0\n1"), ("x", "1")]
    assert run("x = [1]", ns) == "" and run("x", ns) == "[1]\n" and run("print('a\\n\\nb')", ns) == "a\n\nb\n"
    assert run("1 / 0", ns) == "Traceback (most recent call last):\n  ...\nZeroDivisionError: division by zero\n"


def test_the_api_page_has_sessions() -> None:
    assert "docs/api.md" in sessions(), "docs/api.md shows Python sessions under <!-- archc-python --> markers"


@pytest.mark.parametrize("page", sorted(sessions()))
def test_python_sessions_in_the_docs_are_current(page: str, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict = {"__name__": "__docs__"}
    for block in sessions()[page]:
        for source, shown in examples(block):
            printed = run(source, namespace)
            assert printed.rstrip("\n") == shown.rstrip("\n"), f"{page}: `{source}` now prints\n{printed}\n" \
                "update the doc"
