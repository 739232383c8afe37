"""Reshaping: ``flatten`` (nn.Flatten) and ``identity`` (nn.Identity).

YAML::

    - flatten                       # nn.Flatten(): C×H×W -> C·H·W, before the classifier
    - flatten(2)                    # PyTorch numbering: keep dims 0 (batch) and 1
    - identity

``flatten`` never folds the batch dimension (start_dim 0), since shapes here are
per sample.
"""

from __future__ import annotations

import math
from typing import Any

from .base import Attrs, Op, Shape, ShapeError, torch_dim


class FlattenAttrs(Attrs):
    start_dim: int = 1
    end_dim: int = -1


class Flatten(Op):
    example = ("flatten", (512, 7, 7))
    name = "flatten"
    family = "reshape"
    Attrs = FlattenAttrs
    torch_class = "nn.Flatten"
    torch_defaults = {"start_dim": 1, "end_dim": -1}

    def infer(self, ins: tuple[Shape, ...], a: FlattenAttrs) -> Shape:
        full = (1, *ins[0])  # with the batch, so the dims read as PyTorch's
        start = torch_dim(a.start_dim, len(ins[0]), self.name, "start_dim")
        end = torch_dim(a.end_dim, len(ins[0]), self.name, "end_dim")
        if start == 0:
            raise ShapeError("flatten cannot fold the batch dimension (start_dim=0)",
                             "use flatten() (start_dim=1) to flatten each sample", code="E505", arg="start_dim")
        if end < start:
            raise ShapeError(f"end_dim ({a.end_dim}) comes before start_dim ({a.start_dim})", code="E505",
                             arg="end_dim")
        out = (*full[:start], math.prod(full[start : end + 1]), *full[end + 1 :])
        return out[1:]

    def dim_rules(self, in_ranks: tuple[int, ...], rank: int, a: FlattenAttrs) -> list[list[tuple[Any, ...]]]:
        n = in_ranks[0]
        start, end = a.start_dim % (n + 1) - 1, a.end_dim % (n + 1) - 1  # without the batch
        return ([[("in", 0, d)] for d in range(start)] + [[("prod", 0, start, end + 1)]]
                + [[("in", 0, d)] for d in range(end + 1, n)])

    def torch_args(self, ins: tuple[Shape, ...], a: FlattenAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (), {"start_dim": a.start_dim, "end_dim": a.end_dim}


class Identity(Op):
    example = ("identity", (64, 8, 8))
    name = "identity"
    family = "reshape"
    torch_class = "nn.Identity"
