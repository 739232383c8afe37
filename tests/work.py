"""Counting work instead of timing it: the lines of Python a call executes are the same on any
machine and under any load, so a test can say "twice the input costs about twice the work"
without a flaky wall-clock threshold."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def lines_run(fn: Callable[[], object], within: str | None = None) -> int:
    """Lines of Python executed by ``fn()`` (a line inside a loop counts once per iteration); with
    ``within``, only lines of files whose path starts with it (e.g. archc's own package folder)."""
    count = 0

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def calls(frame: Any, event: str, arg: Any) -> Any:
        return local if within is None or frame.f_code.co_filename.startswith(within) else None

    old = sys.gettrace()
    sys.settrace(calls)
    try:
        fn()
    finally:
        sys.settrace(old)
    return count
