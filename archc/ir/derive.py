"""The module IR of a lowered spec, and the proof that it is the network that was checked.

Emission prints the module IR (:mod:`archc.ir.define`); the analyses count the concrete
graph. Lowering (:mod:`archc.ir.lower`) makes that graph as the IR's instantiation, and hands
the IR on with it (:attr:`Graph.derivation`). Where a graph was made otherwise (the tests'
reference walk, tests/ir/walk.py), its maker hands a deriver (:attr:`Graph.deriver`), run on first
use (only ``compile``/``build`` need it), that instantiates the IR and compares it with that graph,
node for node (:func:`differences`): op, attributes, module path, inputs, shape, training-only,
notes, points read by name. Only an
IR that reproduces the checked graph leaves this stage; any difference is refused (E720 at
``archc compile``), never written. Emission calls :func:`derived` and reads the IR and the
graph only, never the spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..diagnostics import Span
from .graph import Graph
from .module import Definition, ModuleIR

__all__ = ["Derived", "NotDerivable", "derived", "differences"]


class NotDerivable(Exception):
    """The spec has no module IR that reproduces its checked graph (the reason says why)."""

    def __init__(self, reason: str, span: Span | None = None, sources: dict[str, str] | None = None,
                 hint: str | None = None):
        super().__init__(reason)
        self.span, self.sources, self.hint = span, sources or {}, hint


@dataclass
class Derived:
    """A checked graph's module IR, with the IR's own instantiation of it."""

    ir: ModuleIR
    # the IR instantiated for the network's parameters: equal to the checked graph in everything
    # `differences` compares, and its nodes know the statement that made them (Node.origin)
    plain: Graph
    # per dynamic instance (definition key, value): spliced in as an inline block or not
    spliced: dict[tuple[str, str], set[bool]]
    # per call of a block-typed parameter (definition key, value): the definitions passed there
    passed: dict[tuple[str, str], set[str]]
    # a block value (a block-typed parameter's) and an input rank -> its definition, defined on
    # first use: a block only passed along (a repeat of 0) is not defined by the network's walk
    definition: Callable[[Any, int], Definition]
    span: Span  # the spec's, for a refusal
    sources: dict[str, str]  # the spec's text, to quote in a refusal


NODE_FIELDS = ("op_name", "attrs", "scope", "inputs", "shape", "in_shapes", "module", "training_only", "role",
               "read_by_name", "trace")
SCOPE_FIELDS = ("kind", "label", "input", "output", "training_only", "block", "args", "mode", "reads", "trace")


def differences(a: Graph, b: Graph, *, notes: bool = True) -> list[str]:
    """Where two graphs of the same spec differ (empty: the same network, the same names).
    ``notes=False`` leaves out what lowering records for diagnostics and the memory analysis of
    the plain network: the notes (an inference variant's renumbered modules keep the plain
    network's) and the points read by name (the module IR keeps the reads of what the
    inference pass drops; its emission decides its variables itself)."""
    out = []
    node_fields = NODE_FIELDS if notes else NODE_FIELDS[:-2]
    scope_fields = SCOPE_FIELDS if notes else SCOPE_FIELDS[:-1]
    if list(a.nodes) != list(b.nodes):
        only_a = [n for n in a.nodes if n not in b.nodes][:5]
        only_b = [n for n in b.nodes if n not in a.nodes][:5]
        out.append(f"node ids differ: only in the first {only_a}, only in the second {only_b}; "
                   f"{len(a.nodes)} vs {len(b.nodes)} nodes")
        if only_a or only_b:
            return out
        out.append(f"order: {list(a.nodes)[:40]} vs {list(b.nodes)[:40]}")
    for nid, x in a.nodes.items():
        y = b.nodes.get(nid)
        if y is None:
            continue
        for what in node_fields:
            if getattr(x, what) != getattr(y, what):
                out.append(f"{nid}: {what} {getattr(x, what)!r} vs {getattr(y, what)!r}")
    if list(a.scopes) != list(b.scopes):
        out.append(f"scopes differ: {list(a.scopes)[:20]} vs {list(b.scopes)[:20]}")
    for path, s in a.scopes.items():
        t = b.scopes.get(path)
        if t is None:
            continue
        for what in scope_fields:
            if getattr(s, what) != getattr(t, what):
                out.append(f"scope {path}: {what} {getattr(s, what)!r} vs {getattr(t, what)!r}")
    if a.output != b.output:
        out.append(f"output {a.output} vs {b.output}")
    if sorted((h.name, h.node) for h in a.heads) != sorted((h.name, h.node) for h in b.heads):
        out.append(f"heads {a.heads} vs {b.heads}")
    return out


def derived(graph: Graph) -> Derived:
    """The module IR of a graph that :mod:`archc.ir.lower` made (derived once, then kept);
    :class:`NotDerivable` if there is none."""
    if graph.derivation is None:
        try:
            if graph.deriver is None:
                raise NotDerivable("the graph was not made by lowering a spec")
            graph.derivation = graph.deriver()
        except NotDerivable as err:
            graph.derivation = err  # kept: it knows the spec's span and text, for the refusal
    if isinstance(graph.derivation, NotDerivable):
        raise graph.derivation
    return graph.derivation
