"""A fixed per-channel affine map: ``channel_affine`` (y_c = x_c · scale_c + shift_c).

YAML::

    - channel_affine(scale=[2.0], shift=[-1.0])      # one channel: [0, 1] to [-1, 1]
    # torchvision's GoogLeNet(transform_input=True), x_c * (std_c / 0.5) + (mean_c - 0.5) / 0.5
    # with ImageNet's mean and std (specs/googlenet.yaml); `/ 0.5` written `* 2`
    - transform: channel_affine([0.229 * 2, 0.224 * 2, 0.225 * 2],
                                [(0.485 - 0.5) * 2, (0.456 - 0.5) * 2, (0.406 - 0.5) * 2])

The constants are part of the network, not weights: the module has no parameters and no
buffers, so it adds nothing to the state_dict and a checkpoint of the network without it
loads unchanged. ``scale`` and ``shift`` give one number per channel (dimension 1 in
PyTorch numbering; for features, each feature is a channel), and both lists must have
exactly as many numbers as the input has channels. It is not folded into a following
convolution by the inference variant: that would be exact only without zero padding.

PyTorch has no module for it, so every generated module that can build it defines a
small ``ChannelAffine`` class. Its forward works channel by channel with Python floats,
as torchvision's ``GoogLeNet._transform_input`` does (``x[:, c:c+1] * scale_c + shift_c``
per channel, then ``torch.cat``): the same operations in the same order, so the result
is torchvision's bit for bit in every dtype and on every device (a float32 input is
multiplied by float32(scale_c), rounded once, then float32(shift_c) is added, rounded
once; no fused multiply-add). The spec's numbers are float64, as torchvision's Python
expressions are: written as torchvision computes them (``(0.485 - 0.5) * 2`` is exactly
``(0.485 - 0.5) / 0.5``, -0.030000000000000027), they are its numbers to the last bit, so
float64 agrees too; rounded decimals (-0.03) give the same float32 numbers, not the same
float64 ones. It runs two kernels per channel plus the concatenation, which is nothing
beside a network for the few channels of an input transform.

No convention counts MACs for it (``FlopCounterMode`` counts no elementwise arithmetic;
fvcore and ptflops have no handle for a multiply, add or concatenation on tensors);
``all`` counts 2 per element (a multiply and an add). In inference the output is new
memory, and while it is made the per-channel results are alive beside it (one more
input-sized tensor); in training autograd keeps nothing (a multiply by a Python number
keeps the number, an add and a concatenation keep sizes only). Each output position reads
its own input position: the receptive field does not change.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from .base import Attrs, Extra, Op, Shape, ShapeError, fmt_shape

# The class each generated module that uses channel_affine defines (see the docstring above).
MODULE_SOURCE = '''\
class ChannelAffine(nn.Module):
    """x * scale + shift per channel (dimension 1), with constants: no parameters, no state."""

    def __init__(self, scale: tuple[float, ...], shift: tuple[float, ...]) -> None:
        super().__init__()
        self.scale = scale
        self.shift = shift

    def extra_repr(self) -> str:
        return f"scale={self.scale}, shift={self.shift}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # channel by channel with Python floats, as torchvision's GoogLeNet._transform_input:
        # the same rounding as torchvision's in every dtype
        pairs = zip(self.scale, self.shift, strict=True)
        channels = [x[:, c : c + 1] * s + t for c, (s, t) in enumerate(pairs)]
        return torch.cat(channels, 1)'''


class ChannelAffineAttrs(Attrs):
    scale: tuple[float, ...] = Field(min_length=1)
    shift: tuple[float, ...] = Field(min_length=1)


class ChannelAffine(Op):
    example = ("channel_affine([0.458, 0.448, 0.45], [-0.03, -0.088, -0.188])", (3, 224, 224))
    name = "channel_affine"
    family = "norm"
    Attrs = ChannelAffineAttrs
    torch_class = "ChannelAffine"
    helper = MODULE_SOURCE
    fresh_output = True

    def check(self, ins: tuple[Shape, ...], a: ChannelAffineAttrs) -> None:
        self.check_rank(ins)
        channels = ins[0][0]
        for arg in ("scale", "shift"):
            given = len(getattr(a, arg))
            if given != channels:
                raise ShapeError(f"{arg} has {given} number{'s' if given != 1 else ''}, but the "
                                 f"{fmt_shape(ins[0])} input has {channels} channel{'s' if channels != 1 else ''}",
                                 f"give one {arg} per channel: a list of {channels} "
                                 f"number{'s' if channels != 1 else ''}", code="E505", arg=arg)

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: ChannelAffineAttrs) -> int:
        return 2 * math.prod(out)

    def workspace(self, ins: tuple[Shape, ...], out: Shape, a: ChannelAffineAttrs) -> tuple[Extra, ...]:
        return (Extra(math.prod(out)),)  # the per-channel results, concatenated into the output

    def label(self, a: ChannelAffineAttrs) -> str:
        return "channel affine"

    def torch_args(self, ins: tuple[Shape, ...], a: ChannelAffineAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (a.scale, a.shift), {}
