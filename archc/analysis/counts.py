"""Parameters, buffers, MACs and the other counting conventions per node, rolled up per scope.

The figures come from each op's own rules (``Op.params``, ``Op.buffers``,
``Op.macs`` and ``Op.costs`` for every convention of :data:`CONVENTIONS`); this
module only adds them up. Training-only heads (auxiliary
classifiers) are counted in parameters but not in inference MACs, because they
do not run in eval mode: the same convention torchvision uses for GoogLeNet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.graph import Graph, Path
from ..ops.base import CONVENTIONS


def _zero_costs() -> dict[str, int]:
    return dict.fromkeys(CONVENTIONS, 0)


@dataclass(slots=True)
class Counts:
    params: int = 0
    buffers: int = 0
    macs: int = 0
    costs: dict[str, int] = field(default_factory=_zero_costs)  # per convention; costs["macs"] == macs

    def __iadd__(self, other: Counts) -> Counts:
        self.params += other.params
        self.buffers += other.buffers
        self.macs += other.macs
        for key, value in other.costs.items():
            self.costs[key] += value
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
    costs: dict[str, int] = field(default_factory=_zero_costs)  # inference, per convention

    @property
    def frozen(self) -> int:
        """Parameters that ``freeze:`` keeps from training."""
        return self.params - self.trainable

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
        costs = op.costs(ins, node.shape, a)
        out[nid] = Counts(op.params(ins, a), op.buffers(ins, a), costs["macs"], costs)
    return out


def scope_counts(graph: Graph, per_node: dict[str, Counts]) -> dict[Path, Counts]:
    """Sum over every node inside each scope (a node belongs to all prefixes of its path)."""
    out: dict[Path, Counts] = {path: Counts() for path in graph.scopes}
    for nid, node in graph.nodes.items():
        c = per_node[nid]
        if not (c.params or c.buffers or any(c.costs.values())):
            continue
        path = node.scope
        for k in range(len(path) + 1):
            prefix = path[:k]
            if prefix in out and (k < len(path) or not node.module):
                out[prefix] += c
    return out


def totals(graph: Graph, per_node: dict[str, Counts]) -> Totals:
    params = heads_params = buffers = macs = macs_train = 0
    costs = _zero_costs()
    frozen = 0
    for nid, node in graph.nodes.items():
        c = per_node[nid]
        params += c.params
        buffers += c.buffers
        if graph.is_frozen(node):
            frozen += c.params
        macs_train += c.macs
        if node.training_only:
            heads_params += c.params
        else:
            macs += c.macs
            for key, value in c.costs.items():
                costs[key] += value
    return Totals(params, params - heads_params, params - frozen, buffers, macs, macs_train, costs=costs)
