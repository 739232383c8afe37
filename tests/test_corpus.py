"""The corpus of bad specs (tests/corpus): every one gets a located error, nothing hangs.

Each ``tests/corpus/*.yaml`` starts with a header::

    # expect: E305 line 7 col 15              (col optional; a W-code: a valid spec, warned there)
    # expect: E307 line 3 in _lib/cycle_b.yaml  (the error is in a file it reads)
    # args: --limit max_bytes=400             (optional: command-line options)
    # commands: compile                       (optional: the commands that fail; default validate table)
    # what the spec does wrong, and why it matters

Files in ``tests/corpus/_lib/`` are only read through imports and ``extends:``.

For every spec, ``archc validate`` and ``archc table`` (or the header's commands) exit 2
with a diagnostic of the expected code at the expected ``file:line[:col]``, every error line is located, and no
traceback appears. Both commands run in-process through :func:`archc.cli.main` (the
``archc`` entry point); ``python -m archc validate`` also runs each spec in a
subprocess, in parallel, as a user would. Timings are a hang guard here (10 s); the
speed figures are measured by ``benchmarks/hostile_corpus.py`` (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from archc.cli import main
from archc.diagnostics import CODES

from .conftest import ROOT
from .test_fuzz import hang_guard

CORPUS = Path(__file__).resolve().parent / "corpus"
HEADER = re.compile(r"# expect: (?P<code>[EW]\d{3}) line (?P<line>\d+)(?: col (?P<col>\d+))?(?: in (?P<file>\S+))?\s*$")
LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?:error\[E|warning\[W)\d{3}\]: ")
# Codes no spec can cause: E500 is the fallback of a shape error without a specific code (every
# shape rule has one); E720 is the emitter's fallback for a construct it cannot write (the one
# the fuzzer found, an unnamed repeat in a module body, is now written: tests/emit/test_codegen.py);
# E700 is about output files (tests/test_output.py), E710 and E711 about the Graphviz installation and run
# (tests/render), E800-E802 about weights, devices and benchmark settings given to build and
# bench, E803-E804 about checkpoints given to port (tests/test_port.py), E810 about the torch
# installation (tests/test_no_torch.py); W100 is a warning.
NOT_FROM_SPECS = {"E500", "E700", "E720", "E710", "E711", "E800", "E801", "E802", "E803", "E804", "E810", "W100"}


@dataclass(frozen=True)
class Case:
    path: Path
    code: str
    line: int
    col: int | None
    file: Path  # where the error is expected
    args: tuple[str, ...]
    commands: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}:" + (f"{self.col}:" if self.col else "")


def load_case(path: Path) -> Case:
    lines = path.read_bytes().decode("utf-8", "replace").splitlines()
    m = HEADER.match(lines[0]) if lines else None
    assert m, f"{path.name}: the first line must be '# expect: CODE line N [col N] [in FILE]'"
    args = next((shlex.split(x[len("# args:"):]) for x in lines[1:4] if x.startswith("# args:")), [])
    commands = next((x[len("# commands:"):].split() for x in lines[1:4] if x.startswith("# commands:")),
                    ["validate", "table"])
    file = path.parent / m["file"] if m["file"] else path
    return Case(path, m["code"], int(m["line"]), int(m["col"]) if m["col"] else None, file, tuple(args),
                tuple(commands))


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


CASES = [load_case(p) for p in sorted(CORPUS.glob("*.yaml"))]


def check_output(case: Case, code: int, err: str) -> None:
    warning = case.code.startswith("W")  # a valid spec, with a located warning
    assert code == (0 if warning else 2), err
    assert "Traceback" not in err and "internal error" not in err, err
    kind = "warning[" if warning else "error["
    heads = [x for x in err.splitlines() if kind in x and not x.startswith(" ")]
    assert heads, err
    for head in heads:  # every error is located
        assert LOCATED.match(head), head
    want = case.where.replace(str(case.file), relative(case.file))
    found = any(h.startswith(want) and f"{kind}{case.code}]" in h for h in heads)
    assert found, f"expected {case.code} at {want}:\n{err}"


def test_the_corpus_covers_every_error_code() -> None:
    assert len(CASES) >= 60
    covered = {c.code for c in CASES}
    assert covered <= set(CODES)
    assert set(CODES) - covered - NOT_FROM_SPECS == set()
    assert len({c.path.name for c in CASES}) == len(CASES)
    for case in CASES:  # the file name starts with the code it expects: e305_...
        assert case.path.name.startswith(case.code.lower() + "_"), case.path.name


@pytest.fixture
def in_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # diagnostics name files relative to the working directory


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.path.stem)
def test_corpus_in_process(case: Case, in_root: None) -> None:
    for command in case.commands:
        out, err = io.StringIO(), io.StringIO()
        extra = ["-o", "-"] if command == "compile" else []
        with hang_guard(10), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([command, relative(case.path), *extra, *case.args])
        check_output(case, code, err.getvalue())
        if case.code.startswith("W"):  # valid, so validated as usual
            assert out.getvalue().startswith(f"{relative(case.path)}: ok (")
        else:
            assert out.getvalue() == ""  # nothing half-printed on stdout


def test_corpus_through_python_m_archc() -> None:
    """Every spec through a real ``python -m archc validate`` (or its first command) process, in parallel."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("ARCHC_DEBUG", None)

    def run(case: Case) -> tuple[Case, subprocess.CompletedProcess[str]]:
        command = case.commands[0]
        extra = ["-o", "-"] if command == "compile" else []
        cmd = [sys.executable, "-m", "archc", command, relative(case.path), *extra, *case.args]
        return case, subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=10)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        for case, proc in pool.map(run, CASES):
            check_output(case, proc.returncode, proc.stderr)
