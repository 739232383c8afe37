"""Every construct of the language (tests/emit/constructs.py) compiles to source that passes
`ruff check` and is the same text in every run, also with another hash seed (set and dict
order must never leak into the code), and means the same to a standard YAML reader."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

import archc

from ..specgen import Case, cases
from .constructs import CONSTRUCTS

NAMES = list(CONSTRUCTS)


def _text(name: str) -> str:
    return textwrap.dedent(CONSTRUCTS[name]).lstrip("\n")


def test_every_construct_is_standard_yaml_and_valid() -> None:
    for name in NAMES:
        assert isinstance(yaml.safe_load(_text(name)), dict), name
        archc.analyze(archc.loads(_text(name), name=f"{name}.yaml"))  # raises on any error


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff comes with the test extra")
def test_emitted_source_of_every_construct_passes_ruff(tmp_path: Path) -> None:
    for k, name in enumerate(NAMES):
        for inference in (False, True):
            source = archc.compile_source(archc.loads(_text(name), name="spec.yaml"), inference=inference)
            (tmp_path / f"construct_{k}{'_inference' * inference}.py").write_text(source)
    for config in (["--isolated"], ["--isolated", "--select", "E,F,W,B,UP,SIM", "--line-length", "120"]):
        proc = subprocess.run(["ruff", "check", *config, str(tmp_path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout


GENERATED = int(os.environ.get("ARCHC_RUFF_EXAMPLES", "40"))


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff comes with the test extra")
def test_emitted_source_of_generated_specs_passes_ruff(tmp_path_factory: pytest.TempPathFactory) -> None:
    # the generator's valid specs (tests/specgen.py) combine the constructs as no hand-written one
    # does: 200 of them found a variable nothing reads (a layer no `from:` reads, a repeat's unread
    # channels; F841) and a line past 120 characters (E501). ARCHC_RUFF_EXAMPLES for more
    out = tmp_path_factory.mktemp("generated")
    written = []

    @settings(max_examples=GENERATED, deadline=None, database=None,
              derandomize=not os.environ.get("ARCHC_DIFFERENTIAL_RANDOM"),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(cases())
    def write(case: Case) -> None:
        path = case.write(tmp_path_factory.mktemp("spec"))
        for inference in (False, True):
            source = archc.compile_source(archc.load(path), inference=inference, **case.overrides)
            target = out / f"generated_{len(written)}.py"
            target.write_text(source)
            written.append(target)

    write()
    assert written
    proc = subprocess.run(["ruff", "check", "--isolated", "--select", "E,F,W,B,UP,SIM", "--line-length", "120",
                           str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_emitted_source_of_every_construct_is_identical_across_runs() -> None:
    script = textwrap.dedent("""
        import json, sys, archc
        specs = json.load(sys.stdin)
        out = {name: [archc.compile_source(archc.loads(text, name="spec.yaml"), inference=inf)
                      for inf in (False, True)] for name, text in specs.items()}
        json.dump(out, sys.stdout)
    """)
    specs = json.dumps({name: _text(name) for name in NAMES})
    runs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-c", script], input=specs, capture_output=True, text=True, env=env,
                              timeout=300, check=True)
        runs.append(json.loads(proc.stdout))
    here = {name: [archc.compile_source(archc.loads(_text(name), name="spec.yaml"), inference=inf)
                   for inf in (False, True)] for name in NAMES}
    for name in NAMES:
        assert runs[0][name] == runs[1][name] == here[name], name
