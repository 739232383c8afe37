"""Packaging: the wheel carries the shipped specs, the schema and the license; installed, it
works from any directory; and installed without torch (a plain ``pip install archc``) every
command but ``bench`` works, while ``bench`` and ``archc.build`` say how to install torch.

Two environments are made from the wheel. The first is made with ``--system-site-packages``, so
torch and the other dependencies need not be installed again; the test checks that ``import
archc`` there finds the wheel's copy, not this checkout or an editable install. The second sees
nothing of this interpreter's packages: pip installs the wheel's dependencies into it from its
configured indexes, as for a user, and torch is not among them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from archc.spec.loader import shipped_dir
from archc.spec.schema import render_schema

from .conftest import ROOT

INSTALL_LINE = 'pip install "archc[torch]"'


def test_shipped_specs_are_found_in_the_repository_layout() -> None:
    # the installed layout (archc/specs inside the package) is checked by the wheel test below
    assert shipped_dir().resolve() == (ROOT / "specs").resolve()


def test_the_readme_quickstart_is_what_ci_runs() -> None:
    """The README's two commands: install and run on a shipped spec; run the tests. CI (.ci/run)
    installs with the same pip arguments and runs the same tests, so the quickstart stays true."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^## Quickstart\n.*?```sh\n(.*?)```", readme, re.S | re.M)
    assert block, "README.md has a Quickstart with a sh block"
    install, test = block[1].strip().splitlines()
    assert test == "pytest"
    assert install.endswith("&& archc table resnet50"), install
    pip_args = re.search(r"\bpip install (.+?) &&", install)
    assert pip_args and '".[test]"' in pip_args[1], install
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(rf"^python3 -m pip install --quiet {re.escape(pip_args[1])}$", ci, re.M), \
        f"CI does not install with the README's `pip install {pip_args[1]}`"
    assert re.search(r"^python3 -m pytest$", ci, re.M)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _proc(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _run(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: int = 120) -> str:
    proc = _proc(args, cwd, env, timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / (f"{name}.exe" if os.name == "nt" else name)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling", reason="building the wheel needs hatchling, which the test extra installs")
    # --no-build-isolation uses the installed hatchling instead of fetching one
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "--no-build-isolation", "-q", "-w", dist],
         dist, _env())
    (built,) = dist.glob("archc-*.whl")
    return built


def test_the_license_ships_in_the_wheel_and_the_sdist(tmp_path: Path) -> None:
    pytest.importorskip("hatchling", reason="building needs hatchling, which the test extra installs")
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n") and "Copyright (c) 2026 archc maintainers" in text
    # the PEP 517 hooks, as pip and `python -m build` call them, run from the project's root
    script = "import sys; from hatchling.build import build_sdist, build_wheel; [f(sys.argv[1]) for f in " \
             "(build_sdist, build_wheel)]"
    _run([sys.executable, "-c", script, tmp_path], ROOT, _env())
    (sdist,) = tmp_path.glob("archc-*.tar.gz")
    (whl,) = tmp_path.glob("archc-*.whl")
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        assert tar.extractfile(f"{top}/LICENSE").read().decode() == text
        metadata = tar.extractfile(f"{top}/PKG-INFO").read().decode()
    with zipfile.ZipFile(whl) as z:
        info = next(n.split("/")[0] for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        assert z.read(f"{info}/licenses/LICENSE").decode() == text
        assert z.read(f"{info}/METADATA").decode() == metadata
    assert "License: MIT" in metadata and "License-File: LICENSE" in metadata
    # torch is an extra, not a requirement (see test_the_wheel_works_without_torch)
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist: ")]
    assert any(line.startswith("Requires-Dist: torch") and "extra == 'torch'" in line for line in requires)
    assert all("extra ==" in line for line in requires if line.startswith("Requires-Dist: torch")), requires


@pytest.mark.slow
def test_the_wheel_installs_and_runs_from_any_directory(wheel: Path, tmp_path: Path) -> None:
    pytest.importorskip("venv", reason="this Python has no venv module")
    env = _env()
    names = set(zipfile.ZipFile(wheel).namelist())
    specs = {f"archc/specs/{p.name}" for p in (ROOT / "specs").glob("*.yaml")}
    assert specs and specs <= names, f"specs missing from the wheel: {sorted(specs - names)}"
    assert zipfile.ZipFile(wheel).read("archc/schema/archc.schema.json").decode() == render_schema()

    # a fresh environment; --without-pip because this interpreter's pip, visible through
    # the system site-packages, can install into it (ensurepip would cost seconds)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], tmp_path, env)
    python = _bin(venv, "python")
    # --force-reinstall: an editable install of archc in the system site-packages must not
    # count as "already installed"
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--force-reinstall", "-q", wheel], tmp_path, env)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    where = _run([python, "-c", "import archc, archc.spec.loader as l; print(archc.__file__); print(l.shipped_dir())"],
                 elsewhere, env).split()
    site = Path(where[0]).resolve().parent
    assert venv.resolve() in site.parents, f"archc was imported from {where[0]}, not from the wheel"
    assert Path(where[1]).resolve() == site / "specs"

    archc = _bin(venv, "archc")
    table = _run([archc, "table", "resnet50"], elsewhere, env)
    assert "Total parameters:     25,557,032" in table
    listing = _run([archc, "list"], elsewhere, env)
    assert all(name in listing for name in ("resnet50", "googlenet"))
    assert _run([archc, "schema"], elsewhere, env) == render_schema()
    # the shipped specs' modeline resolves in the installed layout too
    assert (site / "specs" / "../schema/archc.schema.json").resolve().is_file()


def _pip_can_target_another_python() -> bool:
    import pip

    return tuple(int(p) for p in pip.__version__.split(".")[:2]) >= (22, 3)


@pytest.mark.slow
def test_the_wheel_works_without_torch(wheel: Path, tmp_path: Path) -> None:
    pytest.importorskip("venv", reason="this Python has no venv module")
    if not _pip_can_target_another_python():
        pytest.skip("pip --python needs pip 22.3 or later")
    env = _env()
    # no --system-site-packages: nothing installed for this interpreter is visible there
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path, env)
    python, archc = _bin(venv, "python"), _bin(venv, "archc")
    # this interpreter's pip installs the wheel and its dependencies into it (pip's own configuration
    # says where from: an index, local wheels), as `pip install archc` would
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--prefer-binary", wheel], tmp_path,
         env, timeout=600)
    probe = "import importlib.util, archc; print(importlib.util.find_spec('torch'), archc.__file__)"
    torch_spec, where = _run([python, "-c", probe], tmp_path, env).split()
    assert torch_spec == "None", "torch was installed with archc: it must be an extra"
    site = Path(where).resolve().parent.parent
    assert venv.resolve() in site.parents, f"archc was imported from {where}, not from the wheel"
    # the whole environment without torch (torch's CPU build alone is about 850 MiB)
    size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    assert size < 100 * 2**20, f"archc and its dependencies take {size / 2**20:.0f} MiB"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert "resnet50: ok (175 nodes" in _run([archc, "validate", "resnet50", "googlenet"], elsewhere, env)
    assert "Total parameters:     25,557,032" in _run([archc, "table", "resnet50"], elsewhere, env)
    assert "B = resnet34" in _run([archc, "diff", "resnet18", "resnet34"], elsewhere, env)
    _run([archc, "compile", "resnet50", "-o", "resnet50.py"], elsewhere, env)
    assert "class Bottleneck(nn.Module):" in (elsewhere / "resnet50.py").read_text(encoding="utf-8")
    fmt = "svg" if shutil.which("dot") else "dot"  # svg needs Graphviz's `dot`; the dot source does not
    _run([archc, "diagram", "resnet50", "--depth", "2", "--format", fmt, "-o", f"resnet50.{fmt}"], elsewhere, env)
    assert (elsewhere / f"resnet50.{fmt}").read_text(encoding="utf-8").lstrip().startswith(("<", "digraph"))
    assert "googlenet" in _run([archc, "list"], elsewhere, env)
    assert "conv" in _run([archc, "ops"], elsewhere, env)
    assert _run([archc, "schema"], elsewhere, env) == render_schema()

    bench = _proc([archc, "bench", "lenet5"], elsewhere, env)
    build = _proc([python, "-c", "import archc\ntry: archc.build('lenet5')\nexcept archc.ArchcError as e: print(e)"],
                  elsewhere, env)
    for proc, who, code in [(bench, "archc bench", 2), (build, "archc.build()", 0)]:
        text = proc.stdout + proc.stderr
        assert proc.returncode == code, text
        assert f"error[E810]: {who} needs PyTorch, which is not installed" in text and INSTALL_LINE in text, text
        assert "Traceback" not in text and "internal error" not in text, text
