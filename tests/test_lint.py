"""The code base passes ruff (the same check the emitted code must pass)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import ROOT


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is installed with the test extra")
def test_ruff_is_clean() -> None:
    proc = subprocess.run(["ruff", "check", "archc", "tests", "benchmarks", "examples"], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
