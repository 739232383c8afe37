"""The render stage: an IR graph as a Graphviz picture.

:func:`draw` folds the graph to the detail asked for (:mod:`.fold`) and draws it
(:mod:`.digraph`) as a ``graphviz.Digraph``; :func:`export` runs Graphviz's ``dot``
to turn that into SVG, PNG or PDF, or returns the DOT text, which needs no
Graphviz at all. Styles live in :mod:`.style`, escaping of spec text in :mod:`.escape`.
"""

from __future__ import annotations

from collections.abc import Iterable

import graphviz

from ..diagnostics import ArchcError, Diagnostic, suggest
from ..ir.graph import Graph
from .digraph import DEFAULT_SHOW, SHOW_CHOICES, Drawer
from .fold import Options, View, build

FORMATS = ("svg", "png", "pdf", "dot")
DIRECTIONS = ("TB", "LR")

__all__ = ["DIRECTIONS", "FORMATS", "SHOW_CHOICES", "Options", "View", "build", "draw", "export"]


def draw(graph: Graph, *, depth: int | None = None, direction: str = "TB", show: Iterable[str] = DEFAULT_SHOW,
         fold: Iterable[str] = (), expand_repeats: bool = False) -> graphviz.Digraph:
    """The graph as a ``graphviz.Digraph`` (see :func:`archc.diagram` for the options)."""
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    shown = frozenset(show)
    unknown = shown - set(SHOW_CHOICES)
    if unknown:
        raise ValueError(f"unknown show value(s) {', '.join(sorted(unknown))}; choose from {', '.join(SHOW_CHOICES)}")
    fold = tuple(fold)
    _check_blocks(graph, fold)
    view = build(graph, Options(depth, frozenset(fold), expand_repeats))
    return Drawer(view, shown, direction).digraph()


def _check_blocks(graph: Graph, fold: Iterable[str]) -> None:
    blocks = sorted({s.block for s in graph.scopes.values() if s.block is not None})
    diags = [Diagnostic("E300", f"cannot fold '{name}': the network uses no block of that name", None,
                        suggest(name, blocks) or (f"blocks used: {', '.join(blocks)}" if blocks else
                                                  "this network uses no blocks"))
             for name in fold if name not in blocks]
    if diags:
        raise ArchcError(diags)


def export(dot: graphviz.Digraph, fmt: str) -> bytes:
    """The picture in ``fmt`` (svg, png, pdf, or dot for the DOT text itself)."""
    if fmt == "dot":
        return dot.source.encode("utf-8")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    try:
        return dot.pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound:
        raise ArchcError([Diagnostic(
            "E710", f"cannot render {fmt}: the Graphviz program `dot` was not found on PATH", None,
            "install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
            "conda: conda install graphviz), or use --format dot, which needs no Graphviz")]) from None
