"""Shared helpers: run the CLI in-process, write specs to temporary files."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

from archc.cli import main

# Every run draws the same examples, so CI never fails on a draw that an earlier run did not
# make (hypothesis's default is a new random seed per run). To explore new ones, run with
# ARCHC_HYPOTHESIS_RANDOM=1 (and the ARCHC_*_EXAMPLES variables that raise the counts).
settings.register_profile("archc", derandomize=not os.environ.get("ARCHC_HYPOTHESIS_RANDOM"))
settings.load_profile("archc")

# torchvision 0.28 (the release built for torch 2.13) registers meta kernels for its compiled
# ops on import; with the CPU wheel those ops do not exist and the import fails. Its model
# definitions are pure Python and need none of them, so register an empty module in place of
# the registrations before anything (ptflops, the zoo tests) imports torchvision. Tests only:
# archc itself never imports torchvision.
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run ``archc ARGS`` in this process; return exit code, stdout and stderr."""

    def run(*args: str) -> Result:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def spec_file(tmp_path: Path):
    """Write a spec (dedented) to a file and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def reference() -> dict:
    """torchvision's figures for the classic models (trimmed from ../shared/reference/)."""
    return json.loads((FIXTURES / "torchvision_reference.json").read_text())["models"]


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One intra-op thread for tests that run many small forward passes: on a busy machine a
    second OpenMP thread makes each pass seconds slower instead of faster. Restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
