"""``linear`` (nn.Linear): a matrix product over the last dimension.

YAML::

    - flatten
    - fc: linear(1000)            # nn.Linear(in_features inferred, 1000)
    - linear(10, bias=false)

MACs = (elements of the output) × in_features: one multiply-accumulate per weight per
output row, bias excluded (``FlopCounterMode``'s addmm/mm count divided by two).

fvcore counts the MACs; ptflops the MACs plus one per output element for the bias;
``all`` 2 per MAC plus the bias adds. Autograd keeps the input. On an input with more
than one dimension the product mixes the whole last dimension, so its receptive field
there is the whole dimension; on features (after flatten), the whole map they came from.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from .base import Attrs, Op, Saved, Shape


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
    fresh_output = True
    init_role = "linear"
    torch_defaults = {"bias": True}

    @property
    def stateful(self) -> bool:
        return True

    def output_shape(self, ins: tuple[Shape, ...], a: LinearAttrs) -> tuple[Any, ...]:
        return (*ins[0][:-1], a.out)

    def params(self, ins: tuple[Shape, ...], a: LinearAttrs) -> int:
        return ins[0][-1] * a.out + (a.out if a.bias else 0)

    def macs(self, ins: tuple[Shape, ...], out: Shape, a: LinearAttrs) -> int:
        return math.prod(out) * ins[0][-1]

    def ptflops_macs(self, ins: tuple[Shape, ...], out: Shape, a: LinearAttrs) -> int:
        return self.macs(ins, out, a) + (math.prod(out) if a.bias else 0)

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: LinearAttrs) -> int:
        return 2 * self.macs(ins, out, a) + (math.prod(out) if a.bias else 0)

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: LinearAttrs, inplace: bool) -> tuple[Saved, ...]:
        # the input is what the weight's gradient needs (the input's needs the weight itself)
        return (Saved("input", for_weight=True),)

    def window(self, ins: tuple[Shape, ...], out: Shape, a: LinearAttrs) -> tuple[tuple[int, int], ...] | None:
        if len(ins[0]) < 2:
            return ()  # features: each output reads every input, so all the map they came from
        n = ins[0][-1]  # (C, L) or (C, H, W): the last spatial dimension is mixed whole
        return (*((1, 1),) * (len(ins[0]) - 2), (n, n))

    def label(self, a: LinearAttrs) -> str:
        return "linear"

    def dim_rules(self, in_ranks: tuple[int, ...], rank: int, a: LinearAttrs) -> list[list[tuple[Any, ...]]]:
        return [[("in", 0, d)] for d in range(rank - 1)] + [[("attr", "out")]]

    def torch_args(self, ins: tuple[Shape, ...], a: LinearAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (ins[0][-1], a.out), {"bias": a.bias}
