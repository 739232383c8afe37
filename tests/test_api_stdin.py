"""``archc table -`` and ``archc validate -`` read the spec from standard input: the same output
as from its file, errors located at ``<stdin>:line:col``, ``extends:`` relative to the working
directory, and a clean error (never a wait, never a traceback) when there is nothing to read."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

STEP2 = ROOT / "docs" / "tutorial" / "step2.yaml"


def stdin(monkeypatch, data: bytes | None) -> None:
    monkeypatch.setattr(sys, "stdin", None if data is None else io.TextIOWrapper(io.BytesIO(data)))


def test_table_reads_stdin_as_it_reads_the_file(cli, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    for args in ([], ["--depth", "1"], ["--format", "csv"], ["--set", "num_classes=10", "--format", "json"]):
        stdin(monkeypatch, (ROOT / "specs" / "resnet18.yaml").read_bytes())
        piped = cli("table", "-", *args)
        # resnet18.yaml extends _resnet.yaml: found by its bare name among the shipped files
        assert piped.code == 0, piped.err
        expected = cli("table", "resnet18", *args).out
        assert piped.out == expected.replace('"file": "specs/resnet18.yaml"', '"file": "<stdin>"')


def test_errors_are_located_in_stdin(cli, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    stdin(monkeypatch, STEP2.read_bytes())
    result = cli("validate", "-")
    from_file = cli("validate", "docs/tutorial/step2.yaml")
    assert result.code == from_file.code == 2
    assert result.err.startswith("<stdin>:10:5: error[E501]: channel mismatch at residual add")
    assert result.err == from_file.err.replace("docs/tutorial/step2.yaml", "<stdin>")
    assert " 10 |     residual:" in result.err


def test_validate_names_stdin_and_takes_it_among_other_specs(cli, monkeypatch) -> None:
    stdin(monkeypatch, (ROOT / "specs" / "lenet5.yaml").read_bytes())
    result = cli("validate", "resnet18", "-", "alexnet")
    assert result.code == 0, result.err
    assert result.out.splitlines()[1] == "<stdin>: ok (12 nodes, output 10)"
    stdin(monkeypatch, b"")
    result = cli("validate", "-", "-")
    assert result.code == 2 and "'-' (the spec on standard input) can be given once" in result.err


def test_extends_and_imports_are_relative_to_the_working_directory(cli, monkeypatch, tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("archc: 1\nname: base\ninput: [3, 8, 8]\nparams: {width: 4}\n"
                                        "layers:\n  - c: conv(width, 3)\n")
    variant = b"archc: 1\nextends: base.yaml\nname: variant\nparams: {width: 6}\n"
    monkeypatch.chdir(tmp_path)
    stdin(monkeypatch, variant)
    result = cli("table", "-", "--format", "csv")
    assert result.code == 0, result.err
    assert "\nc,1,conv,conv 3×3,6x6x6," in result.out
    monkeypatch.chdir(ROOT)
    stdin(monkeypatch, variant)
    result = cli("table", "-")
    assert result.code == 2 and result.err.startswith("<stdin>:2:10: error[E307]: cannot find the base spec")


@pytest.mark.parametrize(("data", "message"), [
    (None, "error[E100]: standard input is closed"),
    (b"", "<stdin>:1:1: error[E201]: the spec is empty"),
    (b"archc: 1\nname: x\ninput: [3, 8, 8]\nlayers: [relu, \xff]\n", "<stdin>:4:16: error[E100]"),
    (b"archc: 1\ndoc: " + b"x" * 300_000 + b"\n", "error[E102]"),
])
def test_nothing_or_no_spec_on_stdin_is_a_clean_error(cli, monkeypatch, data, message) -> None:
    stdin(monkeypatch, data)
    result = cli("table", "-")
    assert result.code == 2 and message in result.err and "Traceback" not in result.err


def test_a_terminal_on_stdin_is_an_error_not_a_wait(cli, monkeypatch) -> None:
    class Terminal(io.BytesIO):
        def isatty(self) -> bool:
            return True

        def read(self, *args: object) -> bytes:
            raise AssertionError("read a terminal: archc would wait for the user")

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(Terminal()))
    result = cli("validate", "-")
    assert result.code == 2 and "error[E100]: standard input is a terminal, not a spec" in result.err
    assert "archc table - < net.yaml" in result.err


def test_a_real_pipe(tmp_path: Path) -> None:
    spec = (ROOT / "specs" / "lenet5.yaml").read_bytes()
    result = subprocess.run([sys.executable, "-m", "archc", "table", "-", "--depth", "0"], input=spec,
                            capture_output=True, cwd=tmp_path, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert result.returncode == 0, result.stderr
    assert b"Total parameters:     61,706" in result.stdout


def test_compile_reads_stdin_as_it_reads_the_file(cli, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    stdin(monkeypatch, (ROOT / "specs" / "resnet18.yaml").read_bytes())
    piped = cli("compile", "-", "-o", "-")
    assert piped.code == 0, piped.err
    from_file = cli("compile", "resnet18", "-o", "-").out
    # only the header's file name differs
    assert piped.out.splitlines()[1:] == from_file.splitlines()[1:]
    assert "from <stdin>" in piped.out.splitlines()[0]


def test_diff_reads_one_side_from_stdin(cli, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    stdin(monkeypatch, (ROOT / "specs" / "resnet18.yaml").read_bytes())
    piped = cli("diff", "-", "resnet34", "--depth", "1")
    assert piped.code == 0, piped.err
    assert piped.out == cli("diff", "resnet18", "resnet34", "--depth", "1").out
    stdin(monkeypatch, (ROOT / "specs" / "resnet18.yaml").read_bytes())
    both = cli("diff", "-", "-")
    assert both.code == 2 and "error[E100]" in both.err and "both A and B" in both.err
