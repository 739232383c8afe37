"""Normalisation: ``bn`` (nn.BatchNorm2d), ``bn1d`` (nn.BatchNorm1d), ``lrn`` (nn.LocalResponseNorm).

YAML::

    - bn1: bn()                     # nn.BatchNorm2d(channels inferred)
    - bn: bn(eps=0.001)             # GoogLeNet's BasicConv2d
    - bn1d(momentum=0.01, affine=false)
    - lrn(5, alpha=0.0001, beta=0.75, k=2.0)   # AlexNet (Krizhevsky et al., 2012, §3.3)

Batch norm has ``2 × C`` parameters (weight, bias) when affine, and ``2 × C + 1``
buffers (running mean, running var, num_batches_tracked) when it tracks statistics.
Neither counts as MACs: ``FlopCounterMode`` does not count normalisation.

Other conventions, per element of the input (eval mode):

- batch norm: fvcore 2 when affine, else 1; without running statistics it normalises
  with the batch's, which fvcore counts as 5 (affine) or 4. ptflops 2 when affine,
  else 1. ``all`` 2 (the statistics and the affine weights fold into one scale and one
  shift per channel), plus 4 for the batch statistics when there are no running ones
  (mean: 1 add; variance: subtract, square, add).
- lrn: fvcore 0 (no handle for the ops ``F.local_response_norm`` traces to); ptflops
  counts its hooks on the functions that implementation calls: 3 per element (square,
  scale, add k) plus 1 per element of the padded square it average-pools; ``all``
  size + 4 (square, window sum of size − 1 adds, scale, add k, power, divide).

Autograd keeps the input; batch norm also its per-channel mean and inverse standard
deviation (float32), LRN the padded square, the scaled sum and its power.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from .base import Attrs, Extra, Op, Saved, Shape


class BatchNormAttrs(Attrs):
    eps: float = Field(default=1e-5, gt=0)
    momentum: float | None = Field(default=0.1, ge=0, le=1)
    affine: bool = True
    track_running_stats: bool = True


class _BatchNorm(Op):
    family = "norm"
    Attrs = BatchNormAttrs
    fresh_output = True
    init_role = "norm"
    train_statistics = True  # the running mean and variance
    torch_defaults = {"eps": 1e-5, "momentum": 0.1, "affine": True, "track_running_stats": True}

    @property
    def stateful(self) -> bool:
        return True

    def params(self, ins: tuple[Shape, ...], a: BatchNormAttrs) -> int:
        return 2 * ins[0][0] if a.affine else 0

    def buffers(self, ins: tuple[Shape, ...], a: BatchNormAttrs) -> int:
        return 2 * ins[0][0] + 1 if a.track_running_stats else 0

    def fvcore_flops(self, ins: tuple[Shape, ...], out: Shape, a: BatchNormAttrs) -> int:
        if a.track_running_stats:
            return math.prod(ins[0]) * (2 if a.affine else 1)
        return math.prod(ins[0]) * (5 if a.affine else 4)  # batch statistics: fvcore's "training" rule

    def ptflops_macs(self, ins: tuple[Shape, ...], out: Shape, a: BatchNormAttrs) -> int:
        return math.prod(ins[0]) * (2 if a.affine else 1)

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: BatchNormAttrs) -> int:
        return math.prod(ins[0]) * (2 if a.track_running_stats else 6)

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: BatchNormAttrs, inplace: bool) -> tuple[Saved, ...]:
        return (Saved("input"), Saved("extra", Extra(2 * ins[0][0], 4, per_sample=False)))

    def workspace(self, ins: tuple[Shape, ...], out: Shape, a: BatchNormAttrs) -> tuple[Extra, ...]:
        # without running statistics, eval mode computes the batch's mean and inverse std
        return () if a.track_running_stats else (Extra(2 * ins[0][0], 4, per_sample=False),)

    def label(self, a: BatchNormAttrs) -> str:
        return self.name

    def folds_into(self, a: BatchNormAttrs, producer: Op, producer_attrs: Any, producer_out: Shape) -> bool:
        # In eval mode batch norm is the per-channel affine map y = (x - mean) * gamma / sqrt(var + eps)
        # + beta, so it folds into the weights of a layer whose output channels it normalises. Without
        # running statistics it normalises with the batch's own, also in eval mode: it cannot fold.
        # A linear layer on a sequence (C×L) maps L while bn1d normalises C: not the same channels.
        if not a.track_running_stats or producer.name not in self.folds_after:
            return False
        return producer.name != "linear" or len(producer_out) == 1

    def has_affine(self, a: BatchNormAttrs) -> bool:
        return a.affine

    def torch_args(self, ins: tuple[Shape, ...], a: BatchNormAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (ins[0][0],), {"eps": a.eps, "momentum": a.momentum, "affine": a.affine,
                              "track_running_stats": a.track_running_stats}


class BatchNorm2d(_BatchNorm):
    example = ("bn(eps=0.001)", (64, 56, 56))
    name = "bn"
    aliases = ("bn2d", "batchnorm", "batchnorm2d")
    torch_class = "nn.BatchNorm2d"
    folds_after = ("conv",)
    ranks = (3,)
    rank_hint = "bn normalises C×H×W images; for features or sequences use bn1d"


class BatchNorm1d(_BatchNorm):
    example = ("bn1d()", (256,))
    name = "bn1d"
    aliases = ("batchnorm1d",)
    torch_class = "nn.BatchNorm1d"
    folds_after = ("conv1d", "linear")
    ranks = (1, 2)
    rank_hint = "bn1d normalises features (F) or sequences (C×L); for images use bn"


class LRNAttrs(Attrs):
    size: int = Field(ge=1)
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0


class LocalResponseNorm(Op):
    example = ("lrn(5, alpha=0.0001, beta=0.75, k=2.0)", (96, 55, 55))
    name = "lrn"
    aliases = ("local_response_norm",)
    family = "norm"
    Attrs = LRNAttrs
    torch_class = "nn.LocalResponseNorm"
    torch_defaults = {"alpha": 1e-4, "beta": 0.75, "k": 1.0}
    ranks = (2, 3)
    rank_hint = "lrn normalises across channels of a C×L or C×H×W input"

    def _padded_square(self, ins: tuple[Shape, ...], a: LRNAttrs) -> int:
        c, *rest = ins[0]
        return (c + a.size - 1) * math.prod(rest)

    def fvcore_flops(self, ins: tuple[Shape, ...], out: Shape, a: LRNAttrs) -> int:
        return 0

    def ptflops_macs(self, ins: tuple[Shape, ...], out: Shape, a: LRNAttrs) -> int:
        # hooks on input.mul(input), avg_pool of the padded square, .mul(alpha), .add(k)
        return 3 * math.prod(ins[0]) + self._padded_square(ins, a)

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: LRNAttrs) -> int:
        return (a.size + 4) * math.prod(ins[0])

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: LRNAttrs, inplace: bool) -> tuple[Saved, ...]:
        n = math.prod(ins[0])
        return (Saved("input"), Saved("extra", Extra(self._padded_square(ins, a))), Saved("extra", Extra(n)),
                Saved("extra", Extra(n)))

    def workspace(self, ins: tuple[Shape, ...], out: Shape, a: LRNAttrs) -> tuple[Extra, ...]:
        return (Extra(2 * math.prod(ins[0])),)  # the scaled sum and its power, alive at once

    def label(self, a: LRNAttrs) -> str:
        return f"lrn {a.size}"

    def torch_args(self, ins: tuple[Shape, ...], a: LRNAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (a.size,), {"alpha": a.alpha, "beta": a.beta, "k": a.k}
