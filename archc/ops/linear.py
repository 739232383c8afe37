"""``linear`` (nn.Linear): a matrix product over the last dimension.

YAML::

    - flatten
    - fc: linear(1000)            # nn.Linear(in_features inferred, 1000)
    - linear(10, bias=false)

MACs = (elements of the output) × in_features: one multiply-accumulate per weight per
output row, bias excluded (``FlopCounterMode``'s addmm/mm count divided by two).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from .base import Attrs, Op, Shape


class LinearAttrs(Attrs):
    out: int = Field(ge=1)
    bias: bool = True


class Linear(Op):
    example = ("linear(10)", (512,))
    name = "linear"
    family = "linear"
    Attrs = LinearAttrs
    arg_aliases = {"out_features": "out"}
    torch_class = "nn.Linear"
    torch_defaults = {"bias": True}

    @property
    def stateful(self) -> bool:
        return True

    def infer(self, ins: tuple[Shape, ...], a: LinearAttrs) -> Shape:
        return (*ins[0][:-1], a.out)

    def params(self, ins: tuple[Shape, ...], a: LinearAttrs) -> int:
        return ins[0][-1] * a.out + (a.out if a.bias else 0)

    def macs(self, ins: tuple[Shape, ...], out: Shape, a: LinearAttrs) -> int:
        return math.prod(out) * ins[0][-1]

    def label(self, a: LinearAttrs) -> str:
        return "linear"

    def dim_rules(self, in_ranks: tuple[int, ...], rank: int, a: LinearAttrs) -> list[list[tuple[Any, ...]]]:
        return [[("in", 0, d)] for d in range(rank - 1)] + [[("attr", "out")]]

    def torch_args(self, ins: tuple[Shape, ...], a: LinearAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (ins[0][-1], a.out), {"bias": a.bias}
