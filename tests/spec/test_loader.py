"""Reading spec files that are not what they claim: binary, huge, directories, endless."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import archc
from archc.diagnostics import ArchcError
from archc.limits import Limits


def load_error(path: Path | str, limits: Limits | None = None) -> ArchcError:
    with pytest.raises(ArchcError) as err:
        archc.load(path, limits=limits)
    return err.value


def test_invalid_utf8_is_located_at_the_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes("archc: 1\nname: café \xff\n".encode("latin-1").replace(b"caf\xe9", "café".encode()))
    (d,) = load_error(path).diagnostics
    assert d.code == "E100" and (d.span.line, d.span.col) == (2, 12)
    assert "not UTF-8" in d.message and "0xff" in d.message


def test_binary_files_and_nul_bytes(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(bytes(range(256)))
    (d,) = load_error(path).diagnostics
    assert d.code == "E100" and (d.span.line, d.span.col) == (2, 118)  # 0x80, after one newline (0x0a)
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (d,) = load_error(path).diagnostics
    assert d.code == "E100" and d.span.line == 1
    path.write_bytes(b"archc: 1\nname: x\x00\n")  # valid UTF-8, but not text
    (d,) = load_error(path).diagnostics
    assert (d.code, d.span.line, d.span.col) == ("E101", 2, 8)


def test_a_directory_is_not_a_spec(tmp_path: Path) -> None:
    (d,) = load_error(tmp_path).diagnostics
    assert d.code == "E100" and "is a directory" in d.message
    (tmp_path / "net.yaml").write_text("archc: 1\nname: n\nimports: [{from: sub, blocks: [B]}]\n"
                                       "input: [3, 8, 8]\nlayers: [relu]\n")
    (tmp_path / "sub").mkdir()
    (d,) = load_error(tmp_path / "net.yaml").diagnostics
    assert d.code == "E307" and d.span.line == 3  # `_find` wants a file: "cannot find"


def test_size_is_checked_while_reading_not_trusted_from_stat(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("archc: 1\n" + "# padding\n" * 200)
    (d,) = load_error(path, Limits(max_bytes=100)).diagnostics
    assert d.code == "E102" and d.span is not None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "s.yaml"
    os.mkfifo(fifo)  # reading would block forever with no writer
    (d,) = load_error(fifo).diagnostics
    assert d.code == "E100"


def test_empty_files_lists_and_scalars(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    for text, code in (("", "E201"), ("# only a comment\n", "E201"), ("- a\n- b\n", "E202"), ("42\n", "E202"),
                       ("~\n", "E201"), ("'text'\n", "E202")):
        path.write_text(text)
        (d,) = load_error(path).diagnostics
        assert d.code == code and d.span is not None and d.span.line == 1, text


def test_crlf_line_endings_keep_positions(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"archc: 1\r\nname: t\r\ninput: [3, 8, 8]\r\nlayers:\r\n"
                     b"  - c: conv(4, 3)\r\n  - c: conv(4, 3)\r\n")
    with pytest.raises(ArchcError) as err:
        archc.lower(path)
    (d,) = err.value.diagnostics
    assert (d.code, d.span.line, d.span.col) == ("E303", 6, 5)


def test_import_cycles_across_three_files(tmp_path: Path) -> None:
    for me, other in (("a", "b"), ("b", "c"), ("c", "a")):
        (tmp_path / f"{me}.yaml").write_text(
            f"archc: 1\nname: {me}\nimports: [{{from: {other}.yaml, blocks: [X{other}]}}]\n"
            f"blocks:\n  X{me}: {{layers: [relu]}}\ninput: [3, 8, 8]\nlayers: [relu]\n")
    err = load_error(tmp_path / "a.yaml")
    (d,) = [d for d in err.diagnostics if d.code == "E307"]
    assert "import cycle: a.yaml → b.yaml → c.yaml → a.yaml" in d.message
    assert d.span.file.endswith("c.yaml") and d.span.line == 3


def test_imports_and_bases_are_spec_files_only(tmp_path: Path) -> None:
    # a spec from elsewhere must not make archc read a secret and quote its first line in an error
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN PRIVATE KEY----- s3cr3t\n")
    (tmp_path / "innocent.yaml").symlink_to(secret)
    head = "archc: 1\nname: n\ninput: [3, 8, 8]\nlayers: [relu]\n"
    imports = [f"{{from: {secret}, blocks: [B]}}", "{from: innocent.yaml, blocks: [B]}",
               "{from: /etc/passwd, blocks: [B]}"]
    bases = ["/proc/self/environ", "innocent.yaml"]
    for text in [head + f"imports: [{i}]" for i in imports] + [f"archc: 1\nname: n\nextends: {b}" for b in bases]:
        path = tmp_path / "net.yaml"
        path.write_text(text + "\n")
        err = load_error(path)
        assert [d.code for d in err.diagnostics] == ["E307"], text
        assert "s3cr3t" not in err.render() and len(err.sources) == 1, text  # nothing else was read
