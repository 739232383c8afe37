"""The render stage: an IR graph as a Graphviz picture.

:func:`draw` folds the graph to the detail asked for (:mod:`.fold`), within the diagram
budgets (:mod:`.budget`), and draws it (:mod:`.digraph`) as a ``graphviz.Digraph``;
:func:`export` runs Graphviz's ``dot`` (:mod:`.dot`: with a timeout, killed on every way
out) to turn that into SVG, PNG or PDF, or returns the DOT text, which needs no
Graphviz at all. Styles live in :mod:`.style`, escaping of spec text in :mod:`.escape`.
"""

from __future__ import annotations

from collections.abc import Iterable

import graphviz

from ..diagnostics import ArchcError, Diagnostic, suggest
from ..ir.graph import Graph
from ..limits import Limits
from . import dot as _dot
from .budget import Plan, plan
from .digraph import DEFAULT_SHOW, SHOW_CHOICES, Drawer
from .fold import Options, View, build

FORMATS = ("svg", "png", "pdf", "dot")
DIRECTIONS = ("TB", "LR")

__all__ = ["DIRECTIONS", "FORMATS", "SHOW_CHOICES", "Options", "Plan", "View", "build", "draw", "export", "layout",
           "picture"]


def draw(graph: Graph, *, depth: int | None = None, direction: str = "TB", show: Iterable[str] = DEFAULT_SHOW,
         fold: Iterable[str] = (), expand_repeats: bool = False, limits: Limits | None = None) -> graphviz.Digraph:
    """The graph as a ``graphviz.Digraph`` (see :func:`archc.diagram` for the options)."""
    _look(direction, show)  # before the work
    chosen = layout(graph, depth=depth, fold=fold, expand_repeats=expand_repeats, limits=limits)
    return picture(chosen, direction=direction, show=show)


def layout(graph: Graph, *, depth: int | None = None, fold: Iterable[str] = (), expand_repeats: bool = False,
           limits: Limits | None = None) -> Plan:
    """What to draw: the graph folded as asked, within the diagram budgets of ``limits``
    (folded further when ``depth`` is None and the full picture exceeds them; else E606)."""
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    fold = tuple(fold)
    _check_blocks(graph, fold)
    return plan(graph, Options(depth, frozenset(fold), expand_repeats), limits or Limits())


def picture(chosen: Plan, *, direction: str = "TB", show: Iterable[str] = DEFAULT_SHOW) -> graphviz.Digraph:
    """A :func:`layout` drawn as a ``graphviz.Digraph``."""
    return Drawer(chosen.view, _look(direction, show), direction).digraph()


def _look(direction: str, show: Iterable[str]) -> frozenset[str]:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    shown = frozenset(show)
    unknown = shown - set(SHOW_CHOICES)
    if unknown:
        raise ValueError(f"unknown show value(s) {', '.join(sorted(unknown))}; choose from {', '.join(SHOW_CHOICES)}")
    return shown


def _check_blocks(graph: Graph, fold: Iterable[str]) -> None:
    blocks = sorted({s.block for s in graph.scopes.values() if s.block is not None})
    diags = [Diagnostic("E300", f"cannot fold '{name}': the network uses no block of that name", None,
                        suggest(name, blocks) or (f"blocks used: {', '.join(blocks)}" if blocks else
                                                  "this network uses no blocks"))
             for name in fold if name not in blocks]
    if diags:
        raise ArchcError(diags)


def export(dot: graphviz.Digraph, fmt: str, *, timeout: float | None = None) -> bytes:
    """The picture in ``fmt`` (svg, png, pdf, or dot for the DOT text itself).

    Graphviz's ``dot`` is stopped after ``timeout`` seconds (default: the
    ``max_dot_seconds`` limit, 30) with error E711, and never outlives this call."""
    if fmt == "dot":
        return dot.source.encode("utf-8")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    return _dot.run(dot.source, fmt, Limits().max_dot_seconds if timeout is None else timeout)
