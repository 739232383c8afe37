"""Packaging: the wheel carries the shipped specs and the schema, and once installed in a
fresh virtual environment `archc table resnet50` works from any directory.

The environment is made with ``--system-site-packages`` so torch and the other
dependencies need not be installed again (that would take minutes and a network);
the wheel itself is installed into it, and the test checks that ``import archc``
there finds the wheel's copy, not this checkout or an editable install.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from archc.spec.loader import shipped_dir
from archc.spec.schema import render_schema

from .conftest import ROOT


def test_shipped_specs_are_found_in_the_repository_layout() -> None:
    # the installed layout (archc/specs inside the package) is checked by the wheel test below
    assert shipped_dir().resolve() == (ROOT / "specs").resolve()


def _run(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: int = 120) -> str:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.slow
def test_the_wheel_installs_and_runs_from_any_directory(tmp_path: Path) -> None:
    pytest.importorskip("hatchling", reason="building the wheel needs hatchling, which the test extra installs")
    pytest.importorskip("venv", reason="this Python has no venv module")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    # build: --no-build-isolation uses the installed hatchling instead of fetching one
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "--no-build-isolation", "-q", "-w", dist],
         tmp_path, env)
    (wheel,) = dist.glob("archc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    specs = {f"archc/specs/{p.name}" for p in (ROOT / "specs").glob("*.yaml")}
    assert specs and specs <= names, f"specs missing from the wheel: {sorted(specs - names)}"
    assert zipfile.ZipFile(wheel).read("archc/schema/archc.schema.json").decode() == render_schema()

    # a fresh environment; --without-pip because this interpreter's pip, visible through
    # the system site-packages, can install into it (ensurepip would cost seconds)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], tmp_path, env)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    # --force-reinstall: an editable install of archc in the system site-packages must not
    # count as "already installed"
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--force-reinstall", "-q", wheel], tmp_path, env)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    where = _run([python, "-c", "import archc, archc.spec.loader as l; print(archc.__file__); print(l.shipped_dir())"],
                 elsewhere, env).split()
    site = Path(where[0]).resolve().parent
    assert venv.resolve() in site.parents, f"archc was imported from {where[0]}, not from the wheel"
    assert Path(where[1]).resolve() == site / "specs"

    table = _run([bindir / "archc", "table", "resnet50"], elsewhere, env)
    assert "Total parameters:     25,557,032" in table
    listing = _run([bindir / "archc", "list"], elsewhere, env)
    assert all(name in listing for name in ("resnet50", "googlenet"))
    assert _run([bindir / "archc", "schema"], elsewhere, env) == render_schema()
    # the shipped specs' modeline resolves in the installed layout too
    assert (site / "specs" / "../schema/archc.schema.json").resolve().is_file()
