"""torch is an optional dependency (``pip install "archc[torch]"``).

Checking, counting, drawing and emitting code never need it; building and timing
modules do. Those entry points (``archc.build``, ``archc bench``) call
:func:`require_torch` first, so a missing or broken torch is an E810 error that says
how to install it, not a ``ModuleNotFoundError`` from deep inside.
"""

from __future__ import annotations

from types import ModuleType

from .diagnostics import ArchcError, Diagnostic

INSTALL = 'pip install "archc[torch]"'


def require_torch(what: str) -> ModuleType:
    """``torch``, imported; else E810 naming ``what`` needs it and how to install it."""
    try:
        import torch
    except ModuleNotFoundError as err:
        if err.name != "torch" and not (err.name or "").startswith("torch."):
            raise _unusable(what, err) from None
        raise ArchcError([Diagnostic(
            "E810", f"{what} needs PyTorch, which is not installed", None,
            f"install it with `{INSTALL}` (to pick a CPU or CUDA build, install torch first); the other "
            "commands (validate, table, diff, diagram, compile, ...) work without it")]) from None
    except (ImportError, OSError) as err:  # installed but broken: a missing shared library, a bad build
        raise _unusable(what, err) from None
    return torch


def _unusable(what: str, err: BaseException) -> ArchcError:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ArchcError([Diagnostic(
        "E810", f"{what} needs PyTorch, which is installed but cannot be imported: {first}", None,
        f"reinstall torch with a build for this platform and Python (`pip install --force-reinstall torch`, "
        f"pinned as you need); `{INSTALL}` installs it where it is missing")])
