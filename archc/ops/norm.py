"""Normalisation: ``bn`` (nn.BatchNorm2d), ``bn1d`` (nn.BatchNorm1d), ``lrn`` (nn.LocalResponseNorm).

YAML::

    - bn1: bn()                     # nn.BatchNorm2d(channels inferred)
    - bn: bn(eps=0.001)             # GoogLeNet's BasicConv2d
    - bn1d(momentum=0.01, affine=false)
    - lrn(5, alpha=0.0001, beta=0.75, k=2.0)   # AlexNet (Krizhevsky et al., 2012, §3.3)

Batch norm has ``2 × C`` parameters (weight, bias) when affine, and ``2 × C + 1``
buffers (running mean, running var, num_batches_tracked) when it tracks statistics.
Neither counts as MACs: ``FlopCounterMode`` does not count normalisation.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import Attrs, Op, Shape


class BatchNormAttrs(Attrs):
    eps: float = Field(default=1e-5, gt=0)
    momentum: float | None = Field(default=0.1, ge=0, le=1)
    affine: bool = True
    track_running_stats: bool = True


class _BatchNorm(Op):
    family = "norm"
    Attrs = BatchNormAttrs
    torch_defaults = {"eps": 1e-5, "momentum": 0.1, "affine": True, "track_running_stats": True}

    @property
    def stateful(self) -> bool:
        return True

    def infer(self, ins: tuple[Shape, ...], a: BatchNormAttrs) -> Shape:
        self.check_rank(ins)
        return ins[0]

    def params(self, ins: tuple[Shape, ...], a: BatchNormAttrs) -> int:
        return 2 * ins[0][0] if a.affine else 0

    def buffers(self, ins: tuple[Shape, ...], a: BatchNormAttrs) -> int:
        return 2 * ins[0][0] + 1 if a.track_running_stats else 0

    def label(self, a: BatchNormAttrs) -> str:
        return self.name

    def torch_args(self, ins: tuple[Shape, ...], a: BatchNormAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (ins[0][0],), {"eps": a.eps, "momentum": a.momentum, "affine": a.affine,
                              "track_running_stats": a.track_running_stats}


class BatchNorm2d(_BatchNorm):
    example = ("bn(eps=0.001)", (64, 56, 56))
    name = "bn"
    aliases = ("bn2d", "batchnorm", "batchnorm2d")
    torch_class = "nn.BatchNorm2d"
    ranks = (3,)
    rank_hint = "bn normalises C×H×W images; for features or sequences use bn1d"


class BatchNorm1d(_BatchNorm):
    example = ("bn1d()", (256,))
    name = "bn1d"
    aliases = ("batchnorm1d",)
    torch_class = "nn.BatchNorm1d"
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

    def infer(self, ins: tuple[Shape, ...], a: LRNAttrs) -> Shape:
        self.check_rank(ins)
        return ins[0]

    def label(self, a: LRNAttrs) -> str:
        return f"lrn {a.size}"

    def torch_args(self, ins: tuple[Shape, ...], a: LRNAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (a.size,), {"alpha": a.alpha, "beta": a.beta, "k": a.k}
