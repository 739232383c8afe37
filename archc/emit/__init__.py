"""Emission: PyTorch source for a lowered graph, and the module built from exactly that source.

``compile_source`` writes the module; ``build`` executes the same text, so what
``archc compile`` writes and what ``archc.build`` returns can never drift apart.
Torch is imported only by ``build``.
"""

from __future__ import annotations

import ast
from typing import Any

from ..analysis.counts import node_counts, totals
from ..diagnostics import ArchcError, Diagnostic
from ..ir.graph import Graph
from ..spec.loader import Program
from .module import ModuleEmitter
from .values import Unsupported


def compile_graph(graph: Graph, program: Program, *, inference: bool = False) -> str:
    """The Python source of a module that builds ``graph``'s network; with ``inference``, the
    inference variant (see :mod:`archc.ir.passes`), which also holds ``fold_state_dict``."""
    folding = None
    if inference:
        from ..ir.passes import inference_graph

        graph, folding = inference_graph(graph)
    t = totals(graph, node_counts(graph))
    try:
        source = ModuleEmitter(graph, program, source_name=program.leaf.file, params=t.params, macs=t.macs,
                               folding=folding).emit()
    except Unsupported as err:  # not even a class specialised to one instance can be written
        span = err.span or program.leaf.span
        raise ArchcError([Diagnostic("E720", f"archc cannot write PyTorch code for this spec yet: {err}", span,
                                     "validate and table accept it; rewriting the entry usually helps (e.g. give "
                                     "an unnamed container a name); please report the spec")],
                         program.sources) from None
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
