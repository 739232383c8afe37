"""Emission: PyTorch source for a lowered graph, and the module built from exactly that source.

``compile_source`` writes the module; ``build`` executes the same text, so what
``archc compile`` writes and what ``archc.build`` returns can never drift apart.
Torch is imported only by ``build``.
"""

from __future__ import annotations

import ast
from typing import Any

from ..diagnostics import ArchcError, Diagnostic
from ..ir.graph import Graph
from .classdef import Unsupported
from .printer import Unprintable
from .writer import write_module


def compile_graph(graph: Graph, *, inference: bool = False) -> str:
    """The Python source of a module that builds ``graph``'s network (a graph lowered from a
    spec: emission prints its module IR); with ``inference``, the inference variant (see
    :mod:`archc.ir.fold`), which also holds ``fold_state_dict``."""
    try:
        source = write_module(graph, inference=inference)
    except (Unsupported, Unprintable) as err:  # refused, never written wrong
        where = graph.derivation  # a Derived, or the NotDerivable that refused: both know the spec
        span = getattr(err, "span", None) or where.span  # the construct, where emission knows it
        raise ArchcError([Diagnostic("E720", f"archc cannot write PyTorch code for this spec yet: {err}",
                                     span, getattr(err, "hint", None)
                                     or "validate and table accept it; please report the spec")],
                         where.sources) from None
    try:
        ast.parse(source)
    except SyntaxError as err:  # a bug in the emitter; never let broken code out
        raise ArchcError([Diagnostic("E700", f"internal error: generated code does not parse ({err.msg}, line "
                                             f"{err.lineno})", None, "please report this with the spec")]) from None
    return source


def exec_source(source: str, name: str) -> Any:
    """Execute generated source as a module named ``name``; return the module object."""
    import hashlib
    import linecache
    import sys
    import types

    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    filename = f"<archc:{name}:{digest}>"
    module = types.ModuleType(f"archc_generated_{digest}")
    module.__file__ = filename
    # let tracebacks and torch.compile show the generated lines
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    code = compile(source, filename, "exec")
    sys.modules[module.__name__] = module  # same text, same name: classes stay picklable
    exec(code, module.__dict__)  # the source is archc's own output, checked with ast.parse
    return module
