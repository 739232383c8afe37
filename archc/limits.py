"""Budgets that keep an untrusted spec from exhausting time or memory.

Every limit is checked before the work it guards is done: the file size before
parsing, the YAML nesting depth before composing, the expanded size of the network
(a lower bound computed from the module IR, see :mod:`archc.ir.estimate`) before any
node is created, a repeat count before unrolling, and nodes, steps and nesting
again, exactly, as lowering proceeds. The defaults are generous for real networks
(ResNet-1202 has ~4,000 nodes; the largest shipped spec ~150M parameters) and keep
the worst case of any spec to seconds and a few hundred MB.

Change them with ``archc ... --limit NAME=VALUE`` or ``archc.lower(..., limits=Limits(...))``;
docs/untrusted-specs.md explains each.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 256 * 1024  # size of one spec file (parsing YAML in Python: ~10 µs a token)
    max_depth: int = 64  # YAML nesting of one file
    max_expr_length: int = 1000  # characters in one expression
    max_expr_nodes: int = 200  # parts (names, operators, literals) of one expression
    max_nodes: int = 50_000  # IR nodes after expanding repeats and blocks (12x ResNet-1202)
    max_steps: int = 1_000_000  # entries visited while expanding (including absent ones)
    max_repeat: int = 100_000  # one repeat count
    max_nesting: int = 64  # blocks and containers nested inside one another while expanding
    max_dim: int = 1 << 24  # one tensor dimension
    max_numel: int = 1 << 40  # elements of one tensor (per sample)
    max_params: int = 10**12  # parameters of the whole network
    max_macs: int = 10**16  # multiply-accumulates of one forward pass
    # What a diagram hands to Graphviz's dot, whose time and memory grow faster than the picture
    # (archc/render/budget.py): the defaults keep dot to a few seconds and ~300 MB.
    max_diagram_nodes: int = 4_500  # boxes (ResNet-1202 for CIFAR drawn in full has 4,212)
    max_diagram_edges: int = 10_000  # arrows, invisible ones included
    max_diagram_edge_ranks: int = 5_000  # ranks that arrows pass over (dot adds a node on each)
    max_diagram_clusters: int = 1_000  # clusters (block instances, Sequentials, branches)
    max_diagram_cluster_ranks: int = 2_000_000  # sum over clusters of the rank of their lowest box
    max_dot_seconds: int = 30  # dot is stopped after this long, whatever the counts said

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def with_(self, **changes: int) -> Limits:
        """A copy with some limits changed; each must be a positive integer."""
        for name, value in changes.items():
            if name not in self.names():
                raise ValueError(f"unknown limit '{name}'")
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"limit '{name}' must be a positive integer, got {value!r}")
        return replace(self, **changes)
