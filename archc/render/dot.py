"""Running Graphviz's ``dot``: bounded in time, and never left running behind archc.

``dot`` runs in a process group of its own, so that archc can kill it and anything it
started in one call, on every way out of :func:`run`: success, a failure, the timeout
(E711), an exception, Ctrl-C (``KeyboardInterrupt``) and SIGTERM or SIGHUP delivered to
archc. Python's default for SIGTERM is to die on the spot, skipping ``finally`` blocks
(and leaving ``dot`` to be re-parented to PID 1), so while ``dot`` runs, in the main
thread, those signals raise instead; once ``dot`` is gone the signal is delivered again
with the handler archc found, so archc still ends as a SIGTERM'd process does. Where the
system allows it ``dot`` also gets a CPU-time limit a little over the timeout, so even
a ``kill -9`` of archc leaves nothing running for longer.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator

from ..diagnostics import ArchcError, Diagnostic

CATCH = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class _Signalled(BaseException):
    """A terminating signal arrived while ``dot`` ran (a BaseException, like KeyboardInterrupt)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise(signum: int, frame: object) -> None:
    raise _Signalled(signum)


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`_Signalled` inside the block (main thread only; a
    signal archc was told to ignore stays ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {}
    for signum in CATCH:
        previous = signal.getsignal(signum)
        if previous is not signal.SIG_IGN:
            saved[signum] = previous
            signal.signal(signum, _raise)
    try:
        yield
    finally:
        for signum, previous in saved.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``dot``'s whole process group (it leads it) and reap it."""
    if proc.returncode is None:
        try:
            if hasattr(os, "killpg"):
                os.killpg(proc.pid, signal.SIGKILL)
            else:  # pragma: no cover - Windows
                proc.kill()
        except (ProcessLookupError, PermissionError):
            pass
    with contextlib.suppress(OSError, ValueError):
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    proc.wait()


def _cpu_limit(pid: int, seconds: int) -> None:
    """A CPU-time limit for ``dot`` (Linux): the kernel stops it even if archc cannot."""
    try:
        import resource

        resource.prlimit(pid, resource.RLIMIT_CPU, (seconds, seconds + 1))
    except (ImportError, AttributeError, OSError, ValueError):
        pass  # not Linux, or dot already gone: the timeout and the kill still hold


def not_found(fmt: str) -> ArchcError:
    return ArchcError([Diagnostic(
        "E710", f"cannot render {fmt}: the Graphviz program `dot` was not found on PATH", None,
        "install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
        "conda: conda install graphviz), or use --format dot, which needs no Graphviz")])


def _failed(message: str, hint: str) -> ArchcError:
    return ArchcError([Diagnostic("E711", message, None, hint)])


def run(source: str, fmt: str, timeout: float) -> bytes:
    """``dot -T<fmt>`` of ``source``; the picture's bytes, or :class:`ArchcError` (E710, E711)."""
    exe = shutil.which("dot")
    if exe is None:
        raise not_found(fmt)
    try:
        with _signals_raise():
            return _run(exe, source.encode("utf-8"), fmt, timeout)
    except _Signalled as stop:  # dot is gone and archc's own handlers are back
        _redeliver(stop.signum)
        raise KeyboardInterrupt from None  # the handler archc had let it live on: stop this command


def _run(exe: str, data: bytes, fmt: str, timeout: float) -> bytes:
    try:
        # A signal between fork and Popen's return would leave dot running but not yet ours to
        # kill, so they wait until proc exists. dot inherits the mask (it blocks them too), which is
        # harmless: archc stops it with SIGKILL, and the CPU-time limit's signals are not blocked.
        with _blocked():
            proc = subprocess.Popen([exe, f"-T{fmt}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
            _cpu_limit(proc.pid, int(timeout) + 2)
    except OSError as err:
        raise _failed(f"cannot run Graphviz's `dot` ({exe}): {err.strerror or err}",
                      "check the Graphviz installation, or use --format dot, which needs no Graphviz") from None
    try:
        out, err = proc.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise _failed(f"Graphviz's `dot` did not finish within {timeout:g} s; it was stopped",
                      "draw less: --depth N or --fold BLOCK; or allow more time with --limit max_dot_seconds=N; "
                      "--format dot writes the DOT text without running Graphviz") from None
    finally:
        with _blocked():  # a second signal must not interrupt the kill
            _kill(proc)
    if proc.returncode != 0:
        raise _failure(proc.returncode, err, timeout)
    return out


@contextlib.contextmanager
def _blocked() -> Iterator[None]:
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {*CATCH, signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _redeliver(signum: int) -> None:
    """The signal again, now that ``dot`` is gone, with the handler archc had before
    (by default: archc ends as killed by that signal)."""
    with contextlib.suppress(OSError, ValueError):
        signal.raise_signal(signum)


def _failure(code: int, err: bytes, timeout: float) -> ArchcError:
    text = err.decode("utf-8", "replace").strip().splitlines()
    detail = f": {text[-1][:300]}" if text else ""
    if code < 0:
        how = f"was killed by signal {-code}"
        if -code in (getattr(signal, "SIGXCPU", -1), signal.SIGKILL):
            how += f" (its CPU-time limit of about {int(timeout) + 2} s, or the system running out of memory)"
    else:
        how = f"failed (exit status {code}){detail}"
    return _failed(f"Graphviz's `dot` {how}",
                  "draw less: --depth N or --fold BLOCK; --format dot writes the DOT text without running Graphviz")
