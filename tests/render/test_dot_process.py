"""Graphviz's ``dot`` under archc (archc/render/dot.py): a timeout, clear errors, and no ``dot``
left running after any way out, signals to archc included (checked on real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from archc.diagnostics import ArchcError
from archc.render import dot as dot_runner

from ..conftest import ROOT
from .test_cli import needs_dot

posix_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


def proc_info(pid: int) -> tuple[str, int] | None:
    """(command name, parent pid) of a live process, None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
    return None if state in ("Z", "X") else (name, int(ppid))


def cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def children(pid: int) -> list[tuple[int, str]]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            info = proc_info(int(entry.name))
            if info and info[1] == pid:
                out.append((int(entry.name), info[0]))
    return out


def gone(pid: int, name: str, wait: float = 0.0) -> bool:
    """The process is no more (or its pid now names another program), at once or within ``wait`` s."""
    deadline = time.monotonic() + wait
    while True:
        info = proc_info(pid)
        if info is None or info[0] != name:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def fake_dot(folder: Path, body: str) -> Path:
    """A ``dot`` program on a PATH of its own: a shell script that writes its pid first."""
    folder.mkdir(exist_ok=True)
    script = folder / "dot"
    script.write_text("#!/bin/sh\necho $$ > \"$(dirname \"$0\")/pid\"\n" + textwrap.dedent(body))
    script.chmod(0o755)
    return folder


@posix_only
def test_a_dot_that_never_ends_is_stopped_with_its_children(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ignores SIGTERM and starts a child of its own in its process group: both must go
    bin_dir = fake_dot(tmp_path / "bin", """\
        trap '' TERM INT HUP
        sleep 300 &
        echo $! > "$(dirname "$0")/child"
        wait
        """)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    start = time.monotonic()
    with pytest.raises(ArchcError) as err:
        dot_runner.run("digraph g {}", "svg", timeout=1)
    assert time.monotonic() - start < 10
    (diag,) = err.value.diagnostics
    assert diag.code == "E711" and "did not finish within 1 s" in diag.message
    assert "--limit max_dot_seconds=N" in (diag.hint or "") and "--depth" in (diag.hint or "")
    pid = int((bin_dir / "pid").read_text())
    child = int((bin_dir / "child").read_text())
    assert gone(pid, "sh") and gone(pid, "dot")  # killed and reaped before run() returned
    assert gone(child, "sleep", wait=5)  # killed with the group (then reaped by init, hence the wait)


def test_a_failing_dot_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = fake_dot(tmp_path / "bin", """\
        cat > /dev/null
        echo "Error: <stdin>: syntax error in line 1 near 'x'" >&2
        exit 3
        """)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ArchcError) as err:
        dot_runner.run("digraph g {}", "png", timeout=10)
    (diag,) = err.value.diagnostics
    assert diag.code == "E711" and "exit status 3" in diag.message and "syntax error in line 1" in diag.message


def test_a_dot_killed_by_a_signal_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = fake_dot(tmp_path / "bin", "cat > /dev/null\nkill -KILL $$\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ArchcError) as err:
        dot_runner.run("digraph g {}", "svg", timeout=10)
    assert err.value.diagnostics[0].code == "E711" and "killed by signal 9" in err.value.diagnostics[0].message


def test_the_cli_reports_a_timeout_and_writes_nothing(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = fake_dot(tmp_path / "bin", "exec sleep 300\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "net.svg"
    result = cli("diagram", "lenet5", "-o", out, "--limit", "max_dot_seconds=1")
    assert result.code == 2 and "error[E711]" in result.err and "Traceback" not in result.err
    assert not out.exists()
    assert gone(int((bin_dir / "pid").read_text()), "sleep")


# --- real dot, real signals ----------------------------------------------------------------

# 4,000 layers in one cluster: inside the default budgets, and a few seconds of dot's time
# (its x-positioning is quadratic there), long enough to be caught running.
BIG = "archc: 1\nname: big\ninput: [3, 8, 8]\nlayers:\n  - s: {repeat: 4000, each: relu}\n"


def start_archc(tmp_path: Path, *extra: str, busy: float = 0.3) -> tuple[subprocess.Popen[str], Path, int]:
    """``python -m archc diagram`` on BIG, returned once its ``dot`` child is laying it out (with that
    pid): after ``busy`` seconds of dot's CPU time, well past reading the DOT text (a dot killed while it
    reads would end by itself, at the end of its input, and prove nothing)."""
    spec = tmp_path / "big.yaml"
    spec.write_text(BIG)
    out = tmp_path / "big.svg"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "archc", "diagram", str(spec), "-o", str(out), *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60  # lowering under a heavy load can take a while
    while time.monotonic() < deadline and proc.poll() is None:
        dots = [pid for pid, name in children(proc.pid) if name == "dot"]
        if dots and cpu_seconds(dots[0]) >= busy:
            return proc, out, dots[0]
        time.sleep(0.01)
    proc.kill()
    pytest.fail(f"dot never ran under archc: {proc.communicate()}")


@needs_dot
@posix_only
@pytest.mark.parametrize(("signum", "expect"), [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 130),
                                                (signal.SIGHUP, -signal.SIGHUP)])
def test_a_signal_to_archc_stops_its_dot(tmp_path: Path, signum: int, expect: int) -> None:
    proc, out, dot_pid = start_archc(tmp_path)
    assert proc_info(dot_pid) == ("dot", proc.pid)
    os.kill(proc.pid, signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == expect, err
    assert "Traceback" not in err
    # killed and reaped by archc before it ended: not left to finish on its own, re-parented to PID 1
    assert gone(dot_pid, "dot"), proc_info(dot_pid)
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "big.yaml"]


@needs_dot
@posix_only
def test_real_dot_past_its_time_limit(tmp_path: Path) -> None:
    proc, out, dot_pid = start_archc(tmp_path, "--limit", "max_dot_seconds=1", busy=0)
    _, err = proc.communicate(timeout=30)
    if proc.returncode == 0:  # a machine fast enough to lay it out in a second: nothing to see
        pytest.skip("dot finished within a second")
    assert proc.returncode == 2 and "error[E711]" in err and "did not finish within 1 s" in err, err
    assert gone(dot_pid, "dot") and not out.exists()
