"""Channel shuffle: ``channel_shuffle`` (nn.ChannelShuffle), ShuffleNet's mixing of groups.

YAML::

    - channel_shuffle(2)            # nn.ChannelShuffle(2): ShuffleNetV2's two branches interleaved

The channels, split into ``groups`` groups of C / groups, are reordered so that channel j
of group g moves to position j · groups + g (Zhang et al., "ShuffleNet", 2018, §3.1): a
grouped convolution after it reads channels of every group. The channels must divide by
``groups``. It becomes ``nn.ChannelShuffle``, whose output equals torchvision's
``channel_shuffle`` function in ShuffleNetV2 (view, transpose, contiguous, view): a
permutation, so bit for bit. It has no parameters and state, so the state_dict keys of
the modules around it do not depend on it being a module.

No arithmetic: nothing in any convention (fvcore and ptflops have no hook for it). The
output is a new tensor (PyTorch copies), its backward keeps nothing, and each output
position reads the same position of one input channel, so the receptive field does not
change.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import Attrs, Op, Shape, ShapeError, fmt_shape


class ShuffleAttrs(Attrs):
    groups: int = Field(ge=1)


class ChannelShuffle(Op):
    example = ("channel_shuffle(2)", (116, 28, 28))
    name = "channel_shuffle"
    family = "reshape"
    Attrs = ShuffleAttrs
    torch_class = "nn.ChannelShuffle"
    ranks = (2, 3)
    rank_hint = "channel_shuffle reorders the channels of C×L sequences or C×H×W images"
    fresh_output = True  # a copy that its backward does not keep

    def check(self, ins: tuple[Shape, ...], a: ShuffleAttrs) -> None:
        self.check_rank(ins)
        channels = ins[0][0]
        if channels % a.groups:
            raise ShapeError(f"{channels} channels do not divide into {a.groups} groups "
                             f"(input {fmt_shape(ins[0])})",
                             f"use a groups value that divides {channels}, or change the channels before it",
                             code="E505", arg="groups")

    def output_shape(self, ins: tuple[Shape, ...], a: ShuffleAttrs) -> tuple[Any, ...]:
        return ins[0]

    def label(self, a: ShuffleAttrs) -> str:
        return f"channel shuffle ×{a.groups}"

    def torch_args(self, ins: tuple[Shape, ...], a: ShuffleAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (a.groups,), {}
