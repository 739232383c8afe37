"""Writing output files safely: atomically, never over an input, never half-written.

The data goes to a temporary file in the target's folder, is flushed to disk, then
renamed over the target in one step (``os.replace``), so a failure at any point
leaves no partial file and any earlier output intact. A target that is one of the
spec files being read is refused. A symbolic link keeps pointing where it did (the
file it names is replaced); a device or a pipe (``/dev/null``, ``/dev/stdout``) is
written to, never renamed over: as root, a rename would replace ``/dev/null`` itself.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .diagnostics import ArchcError, Diagnostic


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _cannot(path: str | os.PathLike[str], err: OSError) -> ArchcError:
    return ArchcError([Diagnostic("E700", f"cannot write '{path}': {err.strerror or err}", None,
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
    except OSError as err:  # e.g. a name too long to even look up
        raise _cannot(path, err) from None
    if is_dir:
        raise ArchcError([Diagnostic("E700", f"cannot write '{path}': it is a directory", None,
                                     "name a file, e.g. -o out/net.py")])
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        special = target.exists() and not stat.S_ISREG(target.stat().st_mode)
        if target.is_symlink() and not special:
            target = Path(os.path.realpath(target))  # replace the file the link names, keep the link
    except OSError as err:
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
