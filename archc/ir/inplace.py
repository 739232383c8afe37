"""Which nodes overwrite their input instead of allocating: shared by emission (which writes
``nn.ReLU(inplace=True)`` and ``out += identity``) and the memory analysis (which must
know what the emitted module allocates), so the two cannot disagree.

An activation may work in place when, at every use of its module, its input is a fresh
tensor that nothing else reads and whose producer's backward does not keep it; a
residual add may accumulate into the body's output on the same condition.
"""

from __future__ import annotations

from .graph import Graph, Node, Path


def fresh_single_use(graph: Graph, users: dict[str, list[str]], node: Node) -> bool:
    """Is ``node``'s first input a fresh tensor (:attr:`Op.fresh_output`) that only ``node`` reads?"""
    producer = graph.nodes[node.inputs[0]]
    return producer.op is not None and producer.op.fresh_output and users[producer.id] == [node.id]


def inplace_nodes(graph: Graph, users: dict[str, list[str]] | None = None) -> set[str]:
    """Ids of the nodes the emitted module runs in place. Decided per module, as emission
    does: a module used several times (ResNet's one ``relu``) is in place only if every use
    allows it. (Emission decides per block definition, over all its instances; the shipped
    specs' instances always agree.)"""
    users = users if users is not None else graph.users()
    uses: dict[Path, list[Node]] = {}
    for node in graph.nodes.values():
        if node.module:
            uses.setdefault(node.scope, []).append(node)
    out: set[str] = set()
    for nodes in uses.values():
        op = nodes[0].op
        if op is not None and op.inplace_capable \
                and all(fresh_single_use(graph, users, n) for n in nodes):
            out.update(n.id for n in nodes)
    for node in graph.nodes.values():
        if node.role == "residual" and node.op_name == "add" and fresh_single_use(graph, users, node):
            out.add(node.id)
    return out
