"""Writing output safely: files atomically, never over an input, never half-written;
standard output and error so that a failure is a clean error, on any encoding.

The data goes to a temporary file in the target's folder, is flushed to disk, then
renamed over the target in one step (``os.replace``), so a failure at any point
leaves no partial file and any earlier output intact. A target that is one of the
spec files being read is refused. A symbolic link keeps pointing where it did (the
file it names is replaced); a device or a pipe (``/dev/null``, ``/dev/stdout``) is
written to, never renamed over: as root, a rename would replace ``/dev/null`` itself.

A failure of the operating system while writing (a full disk, an I/O error) is a
:class:`WriteError`, which the command line reports with exit code 74 (``EX_IOERR``);
an output path that cannot be used (a missing folder, no permission, a directory, a
symbolic-link loop) is an :class:`~archc.diagnostics.ArchcError` like any mistake on
the command line (exit 2).

:func:`console` wraps ``sys.stdout`` and ``sys.stderr`` for one command. Output that
cannot be written (a closed or full stdout) becomes a :class:`StreamError` instead of
an ``OSError`` from wherever ``print`` happened to be; and on a stream whose encoding
cannot show archc's few non-ASCII symbols (``PYTHONIOENCODING=cp1252``, a Windows
redirect, an ``ascii`` locale) box drawing becomes ``-``, ``×`` becomes ``x`` and ``→``
becomes ``->``, in this one place rather than in every renderer. Any other character
the encoding lacks (a name from a spec) becomes a ``\\uXXXX`` escape on stdout, valid in
JSON too (stderr escapes by itself: Python opens it with ``backslashreplace``).
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from .diagnostics import ArchcError, Diagnostic


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


class WriteError(ArchcError):
    """The operating system failed while writing output (disk full, I/O error): exit 74, not 2."""


# errors of the device rather than of the path the user named: retrying elsewhere or later may help
_DEVICE_ERRNOS = frozenset(getattr(errno, n) for n in ("ENOSPC", "EDQUOT", "EIO", "EFBIG", "EPIPE", "ENXIO")
                           if hasattr(errno, n))


def _cannot(path: str | os.PathLike[str], err: OSError | RuntimeError) -> ArchcError:
    reason = (err.strerror if isinstance(err, OSError) else None) or str(err)
    if isinstance(err, OSError) and err.errno in _DEVICE_ERRNOS:
        return WriteError([Diagnostic("E700", f"cannot write '{path}': {reason}", None,
                                      "free some space on the disk, or write somewhere else with -o")])
    if isinstance(err, RuntimeError) or (isinstance(err, OSError) and err.errno == errno.ELOOP):
        return ArchcError([Diagnostic("E700", f"cannot write '{path}': it is a loop of symbolic links", None,
                                      "point the link at a file, or choose another output file with -o")])
    return ArchcError([Diagnostic("E700", f"cannot write '{path}': {reason}", None,
                                  "check that the folder exists and is writable")])


def write_output(path: str | os.PathLike[str], data: str | bytes, *, inputs: Iterable[str | os.PathLike[str]] = ()
                 ) -> Path:
    """Write ``data`` to ``path`` atomically; raise :class:`ArchcError` (E700) if it cannot be done."""
    target = Path(path)
    try:
        for spec in inputs:
            if _same(target, Path(spec)) or target.resolve() == Path(spec).resolve():
                raise ArchcError([Diagnostic("E700", f"refusing to write over the input spec '{path}'", None,
                                             "choose another output file with -o")])
        is_dir = target.is_dir()
    except (OSError, RuntimeError) as err:  # a name too long to look up; RuntimeError: a symlink loop
        raise _cannot(path, err) from None
    if is_dir:
        raise ArchcError([Diagnostic("E700", f"cannot write '{path}': it is a directory", None,
                                     "name a file, e.g. -o out/net.py")])
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        special = target.exists() and not stat.S_ISREG(target.stat().st_mode)
        if target.is_symlink() and not special:
            target = Path(os.path.realpath(target))  # replace the file the link names, keep the link
            if target.is_symlink():  # realpath stops at a loop of links: renaming would replace the link
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
    except (OSError, RuntimeError) as err:
        raise _cannot(path, err) from None
    if special:
        # a device or a pipe (-o /dev/null, -o /dev/stdout): written to, never renamed over
        try:
            with open(target, "wb") as handle:
                handle.write(payload)
        except OSError as err:
            raise _cannot(path, err) from None
        return target
    folder = target.parent if str(target.parent) else Path(".")
    tmp_name = None
    try:
        # a short prefix: the temporary name must fit where the target's name (up to 255 bytes) fits
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name[:32]}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            os.chmod(tmp_name, target.stat().st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_name, 0o666 & ~umask)
        os.replace(tmp_name, target)
        tmp_name = None
    except OSError as err:
        raise _cannot(path, err) from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    return target


# archc's own non-ASCII symbols and their ASCII stand-ins. One character for one where the
# symbol can sit in an aligned column (rules, "–" for an empty cell, "×" in shapes).
ASCII_FALLBACK = str.maketrans({
    "─": "-", "━": "=", "│": "|", "┃": "|", "┼": "+", "┌": "+", "┐": "+", "└": "+", "┘": "+", "├": "+", "┤": "+",
    "┬": "+", "┴": "+", "▸": ">", "×": "x", "→": "->", "←": "<-", "–": "-", "—": "--", "−": "-", "·": "*",
    "…": "...", "Δ": "D", "±": "+/-", "µ": "u", "μ": "u", "≈": "~", "≤": "<=", "≥": ">=", "§": "sec. ",
})
_SYMBOLS = "".join(chr(c) for c in ASCII_FALLBACK)


class StreamError(Exception):
    """Standard output or error could not be written: closed, full, or an I/O error."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"cannot write to standard {name}: {reason}")
        self.name = name


def _escape(err: UnicodeError) -> tuple[str, int]:
    """A codec error handler: ``\\uXXXX`` (a surrogate pair beyond U+FFFF), which JSON reads back too."""
    assert isinstance(err, UnicodeEncodeError)
    out = []
    for ch in err.object[err.start:err.end]:
        data = ch.encode("utf-16-be", "surrogatepass")
        out.extend(f"\\u{int.from_bytes(data[i:i + 2], 'big'):04x}" for i in range(0, len(data), 2))
    return "".join(out), err.end


def _encodes(encoding: str | None) -> bool:
    try:
        _SYMBOLS.encode(encoding or "utf-8")
    except (UnicodeError, LookupError):
        return False
    return True


class _Bytes:
    """``stream.buffer`` whose failures are :class:`StreamError` (``archc diagram --format png -o -``)."""

    def __init__(self, raw: Any, console: ConsoleStream):
        self._raw, self._console = raw, console

    def write(self, data: bytes) -> int:
        return _guard(self._console._name, lambda: self._raw.write(data), self._console)

    def flush(self) -> None:
        _guard(self._console._name, self._raw.flush, self._console)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._raw, attr)


class ConsoleStream:
    """``sys.stdout`` or ``sys.stderr`` for one command (see the module docstring)."""

    def __init__(self, stream: TextIO | None, name: str):
        self._stream, self._name = stream, name
        encoding = getattr(stream, "encoding", None)
        self.ascii = stream is not None and isinstance(encoding, str) and not _encodes(encoding)
        self.failed = False
        self.active = True  # after the command, a plain pass-through (a logging handler may keep it)

    def write(self, text: str) -> int:
        if not self.active:
            return self._live().write(text)
        if self.ascii:
            text = text.translate(ASCII_FALLBACK)
        try:
            return _guard(self._name, lambda: self._live().write(text), self)
        except UnicodeEncodeError:  # raised before anything is written: what is left, escaped
            encoding = self._live().encoding
            escaped = text.encode(encoding, "archc-escape").decode(encoding)
            return _guard(self._name, lambda: self._live().write(escaped), self)

    def flush(self) -> None:
        if self._stream is not None:
            _guard(self._name, self._stream.flush, self) if self.active else self._stream.flush()

    @property
    def buffer(self) -> _Bytes:
        return _Bytes(self._live().buffer, self)

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def _live(self) -> TextIO:
        if self._stream is None:  # started with the stream closed (archc table x >&-)
            raise OSError(errno.EBADF, "it is closed")
        return self._stream

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._live(), attr)


def _guard(name: str, call: Any, console: ConsoleStream | None = None) -> Any:
    try:
        return call()
    except (BrokenPipeError, UnicodeEncodeError):
        raise  # the reader went away (archc table x | head): main() says nothing; encoding: write() escapes
    except (OSError, ValueError) as err:  # ValueError: "I/O operation on closed file"
        if console is not None:
            console.failed = True
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise StreamError(name, reason) from None


def discard(stream: Any) -> None:
    """Throw away what a failed process stream still buffers, so that the interpreter's final
    flush does not fail again with a traceback: point its file descriptor at /dev/null."""
    if stream is None or stream not in (sys.__stdout__, sys.__stderr__):
        return
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)


@contextlib.contextmanager
def console() -> Iterator[tuple[ConsoleStream, ConsoleStream]]:
    """Install :class:`ConsoleStream` wrappers as ``sys.stdout`` and ``sys.stderr`` for the
    duration, and put back what was there (tests redirect the streams in-process)."""
    before = sys.stdout, sys.stderr
    out, err = ConsoleStream(before[0], "output"), ConsoleStream(before[1], "error")
    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
    try:
        yield out, err
    finally:
        out.active = err.active = False
        if sys.stdout is out:
            sys.stdout = before[0]
        if sys.stderr is err:
            sys.stderr = before[1]


codecs.register_error("archc-escape", _escape)  # once, at import: codecs cannot unregister a handler
