"""The ops archc knows, one family per file. ``registry()`` returns them by name.

Adding an op means adding a class to one of these files (or a new file) and
listing it in ``_ALL``; tests/ops/ then checks it against PyTorch, and fails until
samples for it exist.
"""

from __future__ import annotations

from functools import lru_cache

from .base import Op, Shape, ShapeError
from .registry import BindError, Registry, UnknownOp, bind


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The built-in ops. Built once; the registry itself is never mutated afterwards."""
    from . import (
        activation,
        affine,
        chunk,
        conv,
        dropout,
        groupnorm,
        layernorm,
        linear,
        merge,
        norm,
        permute,
        pool,
        reshape,
        scale,
        shuffle,
        transpose,
        upsample,
    )

    return Registry(
        op()
        for op in (
            conv.Conv2d, conv.Conv1d,
            linear.Linear,
            norm.BatchNorm2d, norm.BatchNorm1d, norm.LocalResponseNorm,
            pool.MaxPool2d, pool.AvgPool2d, pool.AdaptiveAvgPool2d, pool.AdaptiveMaxPool2d,
            activation.ReLU, activation.ReLU6, activation.LeakyReLU, activation.Tanh, activation.Sigmoid,
            activation.GELU, activation.SiLU, activation.Softmax, activation.LogSoftmax,
            dropout.Dropout, dropout.Dropout2d,
            reshape.Flatten, reshape.Identity, reshape.Pad,
            merge.Concat, merge.Add,
            affine.ChannelAffine,
            groupnorm.GroupNorm, layernorm.LayerNorm, layernorm.LayerNorm2d, permute.Permute,
            upsample.Upsample, transpose.ConvTranspose2d,
            # modern blocks (issue 17): SE gates, MobileNetV3, ShuffleNetV2, ConvNeXt
            merge.Mul, activation.Hardswish, activation.Hardsigmoid, shuffle.ChannelShuffle,
            dropout.StochasticDepth, scale.LayerScale, chunk.Chunk,
        )
    )


__all__ = ["BindError", "Op", "Registry", "Shape", "ShapeError", "UnknownOp", "bind", "registry"]
