"""Output files: written atomically, never over an input spec, never left half-written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from archc.diagnostics import ArchcError
from archc.output import write_output


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def e700(call) -> str:
    with pytest.raises(ArchcError) as err:
        call()
    (d,) = err.value.diagnostics
    assert d.code == "E700" and d.hint
    return d.message


def test_writes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "net.py"
    write_output(target, "first\n")
    assert target.read_text() == "first\n"
    target.chmod(0o640)
    write_output(target, b"second\n")
    assert target.read_bytes() == b"second\n"
    assert target.stat().st_mode & 0o777 == 0o640  # an existing file keeps its permissions
    assert leftovers(tmp_path) == []


def test_new_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_output(tmp_path / "net.py", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "net.py").stat().st_mode & 0o777 == 0o640  # not mkstemp's 0600


def test_refuses_to_write_over_an_input_however_it_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "net.yaml"
    spec.write_text("archc: 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.yaml").symlink_to(spec)
    os.link(spec, tmp_path / "hard.yaml")
    monkeypatch.chdir(tmp_path / "sub")
    for target in (spec, tmp_path / "sub" / ".." / "net.yaml", "../net.yaml", tmp_path / "link.yaml",
                   tmp_path / "hard.yaml"):
        assert "refusing to write over the input spec" in e700(lambda t=target: write_output(t, "x", inputs=[spec]))
    # the input named through a symlink or a relative path is recognised too
    assert "refusing" in e700(lambda: write_output(spec, "x", inputs=["../link.yaml"]))
    assert spec.read_text() == "archc: 1\n"
    assert leftovers(tmp_path) == []


def test_a_failure_leaves_the_earlier_output_and_no_temporary_file(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "net.py"
    target.write_text("earlier output\n")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    assert "No space left on device" in e700(lambda: write_output(target, "new output\n"))
    assert target.read_text() == "earlier output\n"
    assert leftovers(tmp_path) == []

    monkeypatch.undo()

    def refuse(src: str, dst: str) -> None:
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    assert "Permission denied" in e700(lambda: write_output(target, "new output\n"))
    assert target.read_text() == "earlier output\n"
    assert leftovers(tmp_path) == []


def test_an_interrupt_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "net.py"
    target.write_text("earlier output\n")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_output(target, "new output\n")
    assert target.read_text() == "earlier output\n" and leftovers(tmp_path) == []


def test_unwritable_places_are_e700(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    assert "cannot write" in e700(lambda: write_output(tmp_path / "missing" / "net.py", "x"))
    assert "cannot write" in e700(lambda: write_output(tmp_path / "file" / "net.py", "x"))  # parent is a file
    assert "is a directory" in e700(lambda: write_output(tmp_path, "x"))
    assert "cannot write" in e700(lambda: write_output(tmp_path / ("n" * 300 + ".py"), "x"))  # name too long
    assert leftovers(tmp_path) == []


def test_the_longest_allowed_name_can_be_written(tmp_path: Path) -> None:
    target = tmp_path / ("n" * 252 + ".py")  # 255 bytes: the temporary file's name must fit as well
    write_output(target, "x")
    assert target.read_text() == "x" and leftovers(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_a_read_only_folder_is_e700(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "net.py").write_text("earlier\n")
    folder.chmod(0o500)
    try:
        assert "cannot write" in e700(lambda: write_output(folder / "net.py", "x"))
        assert (folder / "net.py").read_text() == "earlier\n"
    finally:
        folder.chmod(0o700)


def test_the_cli_turns_e700_into_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """No command on this branch writes files yet; any command's ArchcError (E700 included) exits 2."""
    from archc import cli
    from archc.commands import validate

    def fail(args: object) -> int:
        write_output("/nonexistent-folder/net.py", "x")
        return 0

    monkeypatch.setattr(validate, "run", fail)
    assert cli.main(["validate", "resnet50"]) == 2
    err = capsys.readouterr().err
    assert "error[E700]: cannot write '/nonexistent-folder/net.py'" in err and "Traceback" not in err


def test_a_pipe_or_device_is_written_to_not_replaced(tmp_path: Path) -> None:
    # `-o /dev/null` once replaced /dev/null with a regular file when run as root (a rename over it)
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_output(fifo, "through the pipe\n")
    reader.join(timeout=10)
    assert received == [b"through the pipe\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still a pipe
    assert leftovers(tmp_path) == []


def test_a_symlink_keeps_pointing_at_the_file_it_names(tmp_path: Path) -> None:
    real = tmp_path / "real.py"
    real.write_text("old\n")
    (tmp_path / "link.py").symlink_to(real)
    write_output(tmp_path / "link.py", "new\n")
    assert (tmp_path / "link.py").is_symlink() and real.read_text() == "new\n"


def test_a_symlink_loop_is_refused_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for inputs in ((), (tmp_path / "spec.yaml",)):  # with inputs, Path.resolve meets the loop first
        assert "it is a loop of symbolic links" in e700(lambda i=inputs: write_output(tmp_path / "a", "x", inputs=i))
    assert os.readlink(tmp_path / "a") == str(tmp_path / "b") and leftovers(tmp_path) == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_a_full_device_is_a_write_error_exit_74() -> None:
    from archc.output import WriteError

    with pytest.raises(WriteError) as err:
        write_output("/dev/full", "x")
    (d,) = err.value.diagnostics
    assert d.code == "E700" and "No space left on device" in d.message and d.hint
