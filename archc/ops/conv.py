"""Convolutions: ``conv`` (nn.Conv2d) and ``conv1d`` (nn.Conv1d).

YAML::

    - conv1: conv(64, 7, stride=2, padding=3, bias=false)   # nn.Conv2d(3, 64, 7, 2, 3, bias=False)
    - conv(128, 3, padding='same', groups=32)               # grouped, size-preserving
    - conv1d(16, 5, dilation=2)

Output size per spatial dimension, exactly as PyTorch computes it::

    out = (in + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1

MACs = output elements × (input channels / groups) × kernel area (bias excluded),
which is what ``FlopCounterMode`` reports for ``aten.convolution`` divided by two.

Other conventions: fvcore counts the MACs, except that it has no handle for the op a
zero-padded convolution with ``padding='same'`` or ``'valid'`` traces to
(``aten::_convolution_mode``), so it counts those as 0; ptflops counts the MACs plus
one per output element for the bias; ``all`` counts 2 per MAC plus the bias adds.
Autograd keeps the input, or the padded copy torch makes for a non-zero padding mode
(reflect and replicate padding keep the input too) or for an odd ``'same'`` padding;
in inference that copy is a temporary.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Literal, Union

from pydantic import Field

from ..sym import Sym, SymIntPair, axis_of
from .base import SAVES_INPUT, Attrs, Extra, Op, Saved, Shape, ShapeError, fmt_shape

PosInt = Field(ge=1)
Padding = Union[int, tuple[int, ...], Literal["same", "valid"]]


class ConvAttrs(Attrs):
    out: int = Field(ge=1)
    kernel: Union[int, tuple[int, ...]]
    stride: Union[int, tuple[int, ...]] = 1
    padding: Padding = 0
    dilation: Union[int, tuple[int, ...]] = 1
    groups: int = Field(default=1, ge=1)
    bias: bool = True
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"


def _tuple(value: Any, n: int, name: str, minimum: int) -> tuple[int, ...]:
    if isinstance(value, SymIntPair):  # an `int | pair` parameter: its size on each axis
        vals = tuple(axis_of(value, k) for k in range(n))
    else:
        vals = (value,) * n if isinstance(value, (int, Sym)) else tuple(value)
    if len(vals) != n:
        raise ShapeError(f"{name} has {len(vals)} values; this convolution has {n} spatial dimension(s)",
                         f"write one number, or a list of {n}", code="E505", arg=name)
    if any(isinstance(v, int) and v < minimum for v in vals):  # symbols are checked once they are numbers
        raise ShapeError(f"{name} must be at least {minimum}, got {value}", code="E505", arg=name)
    return vals


@lru_cache(maxsize=1024)
def _geometry(n: int, kernel: Any, stride: Any, dilation: Any) -> tuple[tuple[int, ...], ...]:
    """Kernel, stride and dilation as n-tuples, checked (every count asks; networks repeat them).
    Symbols are hashable and compare structurally, so symbolic attributes are cached too."""
    return _tuple(kernel, n, "kernel", 1), _tuple(stride, n, "stride", 1), _tuple(dilation, n, "dilation", 1)


@lru_cache(maxsize=1024)
def _explicit_padding(n: int, padding: Any) -> tuple[int, ...]:
    return (0,) * n if padding == "valid" else _tuple(padding, n, "padding", 0)


class _ConvNd(Op):
    family = "conv"
    Attrs = ConvAttrs
    arg_aliases = {"out_channels": "out", "kernel_size": "kernel"}
    spatial: int = 2
    fresh_output = True
    init_role = "conv"
    torch_defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True, "padding_mode": "zeros"}

    @property
    def stateful(self) -> bool:
        return True

    def geometry(self, a: ConvAttrs) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        return _geometry(self.spatial, a.kernel, a.stride, a.dilation)

    def _padding(self, a: ConvAttrs) -> tuple[int, ...]:
        """Explicit padding per spatial dimension ('same' is handled by the caller)."""
        return _explicit_padding(self.spatial, a.padding)

    def check(self, ins: tuple[Shape, ...], a: ConvAttrs) -> None:
        self.check_rank(ins)
        c, *sizes = ins[0]
        kernel, stride, dilation = self.geometry(a)
        if c % a.groups:
            raise ShapeError(f"{c} input channels cannot be split into groups={a.groups}",
                             f"groups must divide the input channels ({c})", code="E505", arg="groups")
        if a.out % a.groups:
            raise ShapeError(f"out={a.out} cannot be split into groups={a.groups}",
                             "groups must divide the output channels", code="E505", arg="groups")
        if a.padding == "same":
            if any(s != 1 for s in stride):
                raise ShapeError("padding='same' needs stride 1 (PyTorch refuses strided 'same' convolutions)",
                                 "compute the padding explicitly, e.g. padding=(kernel - 1) // 2", code="E505",
                                 arg="padding")
            return
        for size, k, p, d in zip(sizes, kernel, self._padding(a), dilation):
            extent = d * (k - 1) + 1
            if size + 2 * p < extent:
                raise ShapeError(
                    f"the {fmt_shape(sizes)} input (padded by {p}) is smaller than the "
                    f"{'dilated ' if d > 1 else ''}kernel ({extent})",
                    "the spatial size shrinks to zero here: use a smaller kernel or stride, more padding, "
                    "or a larger input", code="E503")

    def output_shape(self, ins: tuple[Shape, ...], a: ConvAttrs) -> tuple[Any, ...]:
        _, *sizes = ins[0]
        kernel, stride, dilation = self.geometry(a)
        if a.padding == "same":  # a string, so never a symbol
            return (a.out, *sizes)
        return (a.out, *((size + 2 * p - d * (k - 1) - 1) // s + 1
                         for size, k, s, p, d in zip(sizes, kernel, stride, self._padding(a), dilation)))

    def params(self, ins: tuple[Shape, ...], a: ConvAttrs) -> int:
        kernel, _, _ = self.geometry(a)
        return a.out * (ins[0][0] // a.groups) * math.prod(kernel) + (a.out if a.bias else 0)

    def macs(self, ins: tuple[Shape, ...], out: Shape, a: ConvAttrs) -> int:
        kernel, _, _ = self.geometry(a)
        return math.prod(out) * (ins[0][0] // a.groups) * math.prod(kernel)

    def fvcore_flops(self, ins: tuple[Shape, ...], out: Shape, a: ConvAttrs) -> int:
        if isinstance(a.padding, str) and a.padding_mode == "zeros":
            return 0  # traced as aten::_convolution_mode, which fvcore does not handle
        return self.macs(ins, out, a)

    def ptflops_macs(self, ins: tuple[Shape, ...], out: Shape, a: ConvAttrs) -> int:
        return self.macs(ins, out, a) + (math.prod(out) if a.bias else 0)

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: ConvAttrs) -> int:
        return 2 * self.macs(ins, out, a) + (math.prod(out) if a.bias else 0)

    def _padded_copy(self, ins: tuple[Shape, ...], a: ConvAttrs) -> int:
        """Elements of the padded input copy torch makes before convolving, or 0."""
        if a.padding_mode == "zeros" and a.padding != "same":
            return 0
        c, *sizes = ins[0]
        kernel, _, dilation = self.geometry(a)
        spans = [d * (k - 1) for k, d in zip(kernel, dilation)]
        if a.padding_mode != "zeros":  # F.pad(mode=...) first, then an unpadded convolution
            if a.padding == "same":
                total = spans
            elif a.padding == "valid":
                total = [0] * len(sizes)
            else:
                total = [2 * p for p in _tuple(a.padding, self.spatial, "padding", 0)]
            return c * math.prod(n + t for n, t in zip(sizes, total))
        if a.padding == "same" and any(t % 2 for t in spans):  # the odd extra row/column
            return c * math.prod(n + t % 2 for n, t in zip(sizes, spans))
        return 0

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: ConvAttrs, inplace: bool) -> tuple[Saved, ...]:
        copy = self._padded_copy(ins, a)
        if not copy:
            return SAVES_INPUT
        # reflection and replication padding keep their input too; circular padding is slicing
        return (Saved("extra", Extra(copy)),) + (SAVES_INPUT if a.padding_mode in ("reflect", "replicate") else ())

    def workspace(self, ins: tuple[Shape, ...], out: Shape, a: ConvAttrs) -> tuple[Extra, ...]:
        copy = self._padded_copy(ins, a)
        return (Extra(copy),) if copy else ()

    def window(self, ins: tuple[Shape, ...], out: Shape, a: ConvAttrs) -> tuple[tuple[int, int], ...]:
        kernel, stride, dilation = self.geometry(a)
        return tuple((d * (k - 1) + 1, s) for k, s, d in zip(kernel, stride, dilation))

    def label(self, a: ConvAttrs) -> str:
        kernel, stride, dilation = self.geometry(a)
        text = f"{self.name} {'×'.join(map(str, kernel))}"
        if any(s != 1 for s in stride):
            text += "/" + "×".join(map(str, sorted(set(stride))))
        if a.groups != 1:
            text += f" g{a.groups}"
        if any(d != 1 for d in dilation):
            text += f" d{max(dilation)}"
        return text

    def dim_rules(self, in_ranks: tuple[int, ...], rank: int, a: ConvAttrs) -> list[list[tuple[Any, ...]]]:
        return [[("attr", "out")]] + [[("in", 0, d)] for d in range(1, rank)]

    def torch_args(self, ins: tuple[Shape, ...], a: ConvAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (ins[0][0], a.out, a.kernel), {"stride": a.stride, "padding": a.padding, "dilation": a.dilation,
                                              "groups": a.groups, "bias": a.bias, "padding_mode": a.padding_mode}


class Conv2d(_ConvNd):
    example = ("conv(64, 3, stride=2, padding=1, bias=false)", (3, 32, 32))
    name = "conv"
    aliases = ("conv2d",)
    torch_class = "nn.Conv2d"
    spatial = 2
    ranks = (3,)
    rank_hint = "conv works on C×H×W images; after flatten use linear, for sequences use conv1d"


class Conv1d(_ConvNd):
    example = ("conv1d(16, 5, padding=2)", (8, 100))
    name = "conv1d"
    torch_class = "nn.Conv1d"
    spatial = 1
    ranks = (2,)
    rank_hint = "conv1d works on C×L sequences; for images use conv"
