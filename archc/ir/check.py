"""``ir.check``: the verifier. Runs after lowering, and in tests after every pass.

A failure here is a bug in archc, not in the spec, so it raises :class:`IRError`
rather than reporting a diagnostic. The checks are linear in the graph's size.
"""

from __future__ import annotations

from .graph import Graph, path_str


class IRError(AssertionError):
    """The graph violates an invariant of the IR."""


def check(graph: Graph, *, thorough: bool = False) -> None:
    """Acyclic (inputs precede their users), inputs exist, module paths unique (but for
    shared parameter-free modules), one op per node, scopes and heads well-formed.
    ``thorough`` adds a networkx cycle check."""
    seen: dict[str, int] = {}
    paths: set[str] = set()
    for nid, node in graph.nodes.items():
        if nid != node.id:
            raise IRError(f"node stored as {nid!r} has id {node.id!r}")
        for src in node.inputs:
            if src not in seen:
                raise IRError(f"{nid!r} reads {src!r}, which does not exist or comes later (a cycle)")
        if node.op is None and nid != graph.input:
            raise IRError(f"{nid!r} has no op")
        if node.module:
            key = path_str(node.scope)
            if key != nid:
                # a parameter-free module shared by several uses (torchvision's `self.relu`)
                first = graph.nodes.get(key)
                if not nid.startswith(key + "#") or first is None or first.op is not node.op \
                        or first.attrs != node.attrs or node.op is None or node.op.stateful:
                    raise IRError(f"module node {nid!r} has scope {key!r}")
            elif key in paths:
                raise IRError(f"module path {key!r} used twice")
            paths.add(key)
        if node.op is not None and node.op.arity == 1 and len(node.inputs) != 1:
            raise IRError(f"{nid!r} ({node.op.name}) has {len(node.inputs)} inputs")
        seen[nid] = node.seq
    for path, scope in graph.scopes.items():
        if path and path_str(path) in paths:
            raise IRError(f"scope {path_str(path)!r} is also a node")
        if scope.input not in graph.nodes:
            raise IRError(f"scope {path_str(path)!r} reads missing node {scope.input!r}")
        if scope.output is not None and scope.output not in graph.nodes:
            raise IRError(f"scope {path_str(path)!r} returns missing node {scope.output!r}")
    if graph.output is not None and graph.output not in graph.nodes:
        raise IRError(f"output {graph.output!r} does not exist")
    for head in graph.heads:
        if head.node not in graph.nodes:
            raise IRError(f"head {head.name!r} points at missing node {head.node!r}")
    if thorough:
        import networkx as nx

        if not nx.is_directed_acyclic_graph(graph.to_networkx()):
            raise IRError("the graph has a cycle")
