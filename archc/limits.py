"""Budgets that keep an untrusted spec from exhausting time or memory.

Every limit is checked before the work it guards is done (the file size before
parsing, the nesting depth before composing, a repeat count before unrolling, the
node count as nodes are created). Defaults are generous for real networks:
ResNet-1202 has ~4,000 nodes; the largest shipped spec has ~150M parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 1_000_000  # spec file size
    max_depth: int = 64  # YAML nesting
    max_expr_length: int = 1000  # characters in one expression
    max_expr_nodes: int = 200  # parts of one expression
    max_nodes: int = 200_000  # IR nodes after expanding repeats and blocks
    max_repeat: int = 100_000  # one repeat count
    max_block_depth: int = 100  # nested block calls
    max_dim: int = 1 << 24  # one tensor dimension
    max_numel: int = 1 << 40  # elements of one tensor (per sample)
    max_params: int = 10**12
    max_macs: int = 10**16

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
