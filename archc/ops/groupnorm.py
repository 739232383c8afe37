"""Group normalisation: ``group_norm`` (nn.GroupNorm).

YAML::

    - gn: group_norm(32)                 # nn.GroupNorm(32, channels inferred)
    - group_norm(8, eps=0.001, affine=false)

The channels are split into ``num_groups`` groups, and each sample is normalised over
each group (its channels and all positions) with the group's own mean and variance, in
training and in eval mode alike: there are no running statistics, so it never folds into
the convolution before it. The channels must divide by the groups (E505).

``2 × C`` parameters (weight, bias) when affine; no buffers; no MACs
(``FlopCounterMode`` does not count normalisation). Other conventions, per element of
the input: fvcore 5 when affine, else 4 (its ``aten::group_norm`` handle); ptflops 2
when affine, else 1; ``all`` 6 (mean: 1 add; variance: subtract, square, add; then one
scale and one shift, the statistics and the affine weights folded into them).

Autograd keeps the input and each group's mean and inverse standard deviation (float32),
which inference computes too.

A PyTorch bug to know of (CPU, torch 2.13): the backward pass of ``nn.GroupNorm`` with
affine weights crashes the process (a segmentation fault) when its input is laid out
channels-last and needs no gradient, as after ``layer_norm2d(affine=false)`` at the start
of a network, or after frozen layers that produce channels-last maps.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from .base import Attrs, Extra, Op, Saved, Shape, ShapeError


class GroupNormAttrs(Attrs):
    num_groups: int = Field(ge=1)
    eps: float = Field(default=1e-5, gt=0)
    affine: bool = True


class GroupNorm(Op):
    example = ("group_norm(32)", (256, 56, 56))
    name = "group_norm"
    aliases = ("groupnorm",)
    family = "norm"
    Attrs = GroupNormAttrs
    arg_aliases = {"groups": "num_groups"}
    torch_class = "nn.GroupNorm"
    torch_defaults = {"eps": 1e-5, "affine": True}
    fresh_output = True
    init_role = "norm"
    ranks = (1, 2, 3)
    rank_hint = "group_norm normalises the channels of features (C), sequences (C×L) or images (C×H×W)"

    @property
    def stateful(self) -> bool:
        return True

    def check(self, ins: tuple[Shape, ...], a: GroupNormAttrs) -> None:
        self.check_rank(ins)
        c = ins[0][0]
        if c % a.num_groups:
            raise ShapeError(f"{c} channels cannot be split into num_groups={a.num_groups}",
                             f"num_groups must divide the channels ({c}), e.g. "
                             f"{max(g for g in range(1, min(c, a.num_groups) + 1) if c % g == 0)}",
                             code="E505", arg="num_groups")

    def params(self, ins: tuple[Shape, ...], a: GroupNormAttrs) -> int:
        return 2 * ins[0][0] if a.affine else 0

    def _statistics(self, a: GroupNormAttrs) -> Extra:
        return Extra(2 * a.num_groups, 4)  # mean and inverse std per group, float32

    def fvcore_flops(self, ins: tuple[Shape, ...], out: Shape, a: GroupNormAttrs) -> int:
        return math.prod(ins[0]) * (5 if a.affine else 4)

    def ptflops_macs(self, ins: tuple[Shape, ...], out: Shape, a: GroupNormAttrs) -> int:
        return math.prod(ins[0]) * (2 if a.affine else 1)

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: GroupNormAttrs) -> int:
        return 6 * math.prod(ins[0])

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: GroupNormAttrs, inplace: bool) -> tuple[Saved, ...]:
        return (Saved("input"), Saved("extra", self._statistics(a)))

    def workspace(self, ins: tuple[Shape, ...], out: Shape, a: GroupNormAttrs) -> tuple[Extra, ...]:
        return (self._statistics(a),)

    def has_affine(self, a: GroupNormAttrs) -> bool:
        return a.affine

    def label(self, a: GroupNormAttrs) -> str:
        return f"group_norm {a.num_groups}"

    def torch_args(self, ins: tuple[Shape, ...], a: GroupNormAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (a.num_groups, ins[0][0]), {"eps": a.eps, "affine": a.affine}
