"""Parameters, buffers and MACs per node, rolled up per scope.

The figures come from each op's own rules (``Op.params``, ``Op.buffers``,
``Op.macs``); this module only adds them up. Training-only heads (auxiliary
classifiers) are counted in parameters but not in inference MACs, because they
do not run in eval mode: the same convention torchvision uses for GoogLeNet.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir.graph import Graph, Path


@dataclass(slots=True)
class Counts:
    params: int = 0
    buffers: int = 0
    macs: int = 0

    def __iadd__(self, other: Counts) -> Counts:
        self.params += other.params
        self.buffers += other.buffers
        self.macs += other.macs
        return self


@dataclass
class Totals:
    params: int
    params_without_heads: int
    trainable: int
    buffers: int
    macs: int  # inference: training-only heads do not run
    macs_train: int  # with the heads
    bytes_per_param: int = 4

    @property
    def param_bytes(self) -> int:
        return self.params * self.bytes_per_param


def node_counts(graph: Graph) -> dict[str, Counts]:
    out: dict[str, Counts] = {}
    for nid, node in graph.nodes.items():
        if node.op is None or node.in_shapes is None or node.shape is None:
            out[nid] = Counts()
            continue
        op, ins, a = node.op, node.in_shapes, node.attrs
        out[nid] = Counts(op.params(ins, a), op.buffers(ins, a), op.macs(ins, node.shape, a))
    return out


def scope_counts(graph: Graph, per_node: dict[str, Counts]) -> dict[Path, Counts]:
    """Sum over every node inside each scope (a node belongs to all prefixes of its path)."""
    out: dict[Path, Counts] = {path: Counts() for path in graph.scopes}
    for nid, node in graph.nodes.items():
        c = per_node[nid]
        if not (c.params or c.buffers or c.macs):
            continue
        path = node.scope
        for k in range(len(path) + 1):
            prefix = path[:k]
            if prefix in out and (k < len(path) or not node.module):
                out[prefix] += c
    return out


def totals(graph: Graph, per_node: dict[str, Counts]) -> Totals:
    params = heads_params = buffers = macs = macs_train = 0
    for nid, node in graph.nodes.items():
        c = per_node[nid]
        params += c.params
        buffers += c.buffers
        macs_train += c.macs
        if node.training_only:
            heads_params += c.params
        else:
            macs += c.macs
    return Totals(params, params - heads_params, params, buffers, macs, macs_train)
