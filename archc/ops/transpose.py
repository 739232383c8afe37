"""Transposed convolution: ``conv_transpose`` (nn.ConvTranspose2d), the gradient of a
convolution used as a learnt upsampling (U-Net's decoder, FCN).

YAML::

    - up: conv_transpose(64, 2, stride=2)           # nn.ConvTranspose2d(128, 64, 2, 2): doubles H and W
    - conv_transpose(32, 3, stride=2, padding=1, output_padding=1, groups=2, bias=false)

Output size per spatial dimension, exactly as PyTorch computes it::

    out = (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1

PyTorch refuses an ``output_padding`` not smaller than the stride or the dilation, and
channels that the groups do not divide. Parameters: the weight is
``in × (out / groups) × kernel`` (its first dimension is the input channels), plus
``out`` for the bias. MACs = input positions × input channels × (out / groups) × kernel
area: every input element is scattered through the whole kernel, which is what
``FlopCounterMode`` counts for a transposed ``aten.convolution`` (divided by two); bias
excluded.

Other conventions: fvcore counts the MACs (its convolution handle knows transposed
ones); ptflops the MACs plus one per output element for the bias; ``all`` 2 per MAC
plus the bias adds. Autograd keeps the input. The receptive field follows the usual
recurrence at stride 1 (a window of ``dilation × (kernel − 1) + 1`` positions); with a
stride above 1 neighbouring outputs are less than one input apart, so there is no
single field (docs/counting.md). Batch norm is not folded into it (the inference
variant keeps the norm).
"""

from __future__ import annotations

import math
from typing import Any, Union

from pydantic import Field

from .base import FRACTIONAL, SAVES_INPUT, Attrs, Op, Saved, Shape, ShapeError, fmt_shape
from .conv import _tuple

IntOrTuple = Union[int, tuple[int, ...]]


class ConvTransposeAttrs(Attrs):
    out: int = Field(ge=1)
    kernel: IntOrTuple
    stride: IntOrTuple = 1
    padding: IntOrTuple = 0
    output_padding: IntOrTuple = 0
    groups: int = Field(default=1, ge=1)
    bias: bool = True
    dilation: IntOrTuple = 1


class ConvTranspose2d(Op):
    example = ("conv_transpose(64, 2, stride=2)", (128, 28, 28))
    name = "conv_transpose"
    aliases = ("conv_transpose2d", "convtranspose2d")
    family = "conv"
    Attrs = ConvTransposeAttrs
    arg_aliases = {"out_channels": "out", "kernel_size": "kernel"}
    torch_class = "nn.ConvTranspose2d"
    torch_defaults = {"stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "bias": True, "dilation": 1}
    fresh_output = True
    init_role = "conv"
    ranks = (3,)
    rank_hint = "conv_transpose works on C×H×W images"

    @property
    def stateful(self) -> bool:
        return True

    def geometry(self, a: ConvTransposeAttrs) -> tuple[tuple[Any, ...], ...]:
        """Kernel, stride, padding, output padding and dilation as pairs, checked."""
        return (_tuple(a.kernel, 2, "kernel", 1), _tuple(a.stride, 2, "stride", 1), _tuple(a.padding, 2, "padding", 0),
                _tuple(a.output_padding, 2, "output_padding", 0), _tuple(a.dilation, 2, "dilation", 1))

    def check(self, ins: tuple[Shape, ...], a: ConvTransposeAttrs) -> None:
        self.check_rank(ins)
        c = ins[0][0]
        _, stride, _, output_padding, dilation = self.geometry(a)
        if c % a.groups:
            raise ShapeError(f"{c} input channels cannot be split into groups={a.groups}",
                             f"groups must divide the input channels ({c})", code="E505", arg="groups")
        if a.out % a.groups:
            raise ShapeError(f"out={a.out} cannot be split into groups={a.groups}",
                             "groups must divide the output channels", code="E505", arg="groups")
        if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
            raise ShapeError(f"output_padding={a.output_padding} must be smaller than the stride ({a.stride}) "
                             f"or the dilation ({a.dilation})", "PyTorch refuses it: use a smaller output_padding",
                             code="E505", arg="output_padding")
        out = self.output_shape(ins, a)[1:]
        if min(out) < 1:
            raise ShapeError(f"padding={a.padding} shrinks the {fmt_shape(ins[0][1:])} input to {fmt_shape(out)}",
                             "use less padding, or a larger kernel or input", code="E503", arg="padding")

    def output_shape(self, ins: tuple[Shape, ...], a: ConvTransposeAttrs) -> tuple[Any, ...]:
        _, *sizes = ins[0]
        kernel, stride, padding, output_padding, dilation = self.geometry(a)
        return (a.out, *((n - 1) * s - 2 * p + d * (k - 1) + op + 1
                         for n, k, s, p, op, d in zip(sizes, kernel, stride, padding, output_padding, dilation)))

    def params(self, ins: tuple[Shape, ...], a: ConvTransposeAttrs) -> int:
        kernel = self.geometry(a)[0]
        return ins[0][0] * (a.out // a.groups) * math.prod(kernel) + (a.out if a.bias else 0)

    def macs(self, ins: tuple[Shape, ...], out: Shape, a: ConvTransposeAttrs) -> int:
        kernel = self.geometry(a)[0]
        return math.prod(ins[0]) * (a.out // a.groups) * math.prod(kernel)

    def ptflops_macs(self, ins: tuple[Shape, ...], out: Shape, a: ConvTransposeAttrs) -> int:
        return self.macs(ins, out, a) + (math.prod(out) if a.bias else 0)

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: ConvTransposeAttrs) -> int:
        return 2 * self.macs(ins, out, a) + (math.prod(out) if a.bias else 0)

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: ConvTransposeAttrs, inplace: bool) -> tuple[Saved, ...]:
        return SAVES_INPUT

    def window(self, ins: tuple[Shape, ...], out: Shape, a: ConvTransposeAttrs) -> tuple[tuple[int, int], ...] | str:
        kernel, stride, _, _, dilation = self.geometry(a)
        if any(s != 1 for s in stride):
            return FRACTIONAL
        # output o reads the inputs o + padding - j * dilation (j < kernel): one dilated window
        return tuple((d * (k - 1) + 1, 1) for k, d in zip(kernel, dilation))

    def label(self, a: ConvTransposeAttrs) -> str:
        kernel, stride, _, _, dilation = self.geometry(a)
        text = f"{self.name} {'×'.join(map(str, kernel))}"
        if any(s != 1 for s in stride):
            text += "/" + "×".join(map(str, sorted(set(stride))))
        if a.groups != 1:
            text += f" g{a.groups}"
        if any(d != 1 for d in dilation):
            text += f" d{max(dilation)}"
        return text

    def dim_rules(self, in_ranks: tuple[int, ...], rank: int, a: ConvTransposeAttrs) -> list[list[tuple[Any, ...]]]:
        return [[("attr", "out")]] + [[("in", 0, d)] for d in range(1, rank)]  # the latter at stride 1 only

    def torch_args(self, ins: tuple[Shape, ...], a: ConvTransposeAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (ins[0][0], a.out, a.kernel), {"stride": a.stride, "padding": a.padding,
                                              "output_padding": a.output_padding, "groups": a.groups,
                                              "bias": a.bias, "dilation": a.dilation}
