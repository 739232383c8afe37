"""Pooling: ``maxpool``, ``avgpool`` (2d), ``adaptive_avgpool``, ``adaptive_maxpool``.

YAML::

    - maxpool: maxpool(3, stride=2, padding=1)        # ResNet stem
    - maxpool(3, stride=2, ceil_mode=true)            # GoogLeNet: rounds the size up
    - avgpool(2)                                      # LeNet-5 subsampling (stride = kernel)
    - avgpool: adaptive_avgpool(1)                    # global average pooling

Output size, as PyTorch's ``pooling_output_shape``::

    out = (in + 2p - d(k-1) - 1 + (s-1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= in + p: out -= 1   # the last window must start inside

PyTorch also requires padding <= kernel // 2. Pooling does no MACs in the default
counting convention.

Other conventions: fvcore counts one per input element for adaptive average pooling
and nothing for the other pools; ptflops counts two per input element for every pool
(its module hook and its hook on the ``F.*_pool2d`` function the module calls).
``all`` counts, per output element, the input elements its window covers (padding
excluded): w − 1 comparisons for a max pool, w − 1 adds and one divide for an average.
Adaptive pools use PyTorch's windows: output i of n → out covers
``floor(i·n/out) .. ceil((i+1)·n/out)``.

Autograd keeps the input (a max pool also its int64 indices, which it computes in
inference too); a global average pool (output 1×1) is a mean, which keeps nothing.
"""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import pairwise
from typing import Any, Union

from pydantic import Field

from ..sym import cond
from .base import SAVES_INPUT, Attrs, Extra, Op, Saved, Shape, ShapeError, fmt_shape, pair

IntOrPair = Union[int, tuple[int, int]]


def pool_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's output size along one dimension, on ints or symbols (hence cond, not if)."""
    out = (size + 2 * p - d * (k - 1) - 1 + cond(ceil_mode, s - 1, 0)) // s + 1
    # with ceil_mode, the last window must start inside the input or its left padding
    return cond(ceil_mode, cond((out - 1) * s >= size + p, out - 1, out), out)


def window_sizes(size: int, out: int, k: int, s: int, p: int, d: int) -> list[int]:
    """Input elements (padding excluded) in each of the ``out`` windows along one dimension."""
    return [sum(1 for j in range(k) if 0 <= o * s - p + j * d < size) for o in range(out)]


def adaptive_bounds(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive pooling windows along one dimension: [start, end) per output."""
    return [((o * size) // out, -(-((o + 1) * size) // out)) for o in range(out)]


def _positive(value: IntOrPair, name: str, minimum: int) -> tuple[int, int]:
    vals = pair(value)
    if len(vals) != 2 or any(isinstance(v, int) and v < minimum for v in vals):  # symbols: checked as numbers
        raise ShapeError(f"{name} must be at least {minimum}, got {value}", code="E505", arg=name)
    return vals


@lru_cache(maxsize=1024)
def _pool_geometry(kernel: Any, stride: Any, padding: Any, dilation: Any) -> tuple[tuple[int, int], ...]:
    """Kernel, stride, padding and dilation as pairs, checked (cached: networks repeat them)."""
    kernel = _positive(kernel, "kernel", 1)
    stride = kernel if stride is None else _positive(stride, "stride", 1)
    return kernel, stride, _positive(padding, "padding", 0), _positive(dilation, "dilation", 1)


class MaxPoolAttrs(Attrs):
    kernel: IntOrPair
    stride: IntOrPair | None = None
    padding: IntOrPair = 0
    dilation: IntOrPair = 1
    ceil_mode: bool = False


class AvgPoolAttrs(Attrs):
    kernel: IntOrPair
    stride: IntOrPair | None = None
    padding: IntOrPair = 0
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor_override: int | None = Field(default=None, ge=1)


class _Pool(Op):
    family = "pooling"
    # a fresh output; max pooling's backward keeps its input and indices, never its output
    fresh_output = True
    arg_aliases = {"kernel_size": "kernel"}
    ranks = (3,)
    rank_hint = "2-d pooling works on C×H×W images"

    def _geometry(self, a: Any) -> tuple[tuple[int, int], ...]:
        return _pool_geometry(a.kernel, a.stride, a.padding, getattr(a, "dilation", 1))

    def check(self, ins: tuple[Shape, ...], a: Any) -> None:
        self.check_rank(ins)
        _, h, w = ins[0]
        kernel, _, padding, _ = self._geometry(a)
        if any(p > k // 2 for p, k in zip(padding, kernel)):
            raise ShapeError(f"padding {a.padding} is more than half the kernel {a.kernel}",
                             "PyTorch requires padding <= kernel // 2", code="E505", arg="padding")
        out = self.output_shape(ins, a)[1:]
        if min(out) < 1:
            raise ShapeError(f"the {fmt_shape((h, w))} input is too small for a {fmt_shape(kernel)} window: "
                             f"the output would be {fmt_shape(out)}",
                             "the spatial size shrinks to zero here: pool less, or use a larger input", code="E503")

    def output_shape(self, ins: tuple[Shape, ...], a: Any) -> tuple[Any, ...]:
        c, h, w = ins[0]
        kernel, stride, padding, dilation = self._geometry(a)
        return (c, *(pool_size(n, k, s, p, d, a.ceil_mode)
                     for n, k, s, p, d in zip((h, w), kernel, stride, padding, dilation)))

    def _covered(self, ins: tuple[Shape, ...], out: Shape, a: Any) -> int:
        """Sum over output elements of the input elements their windows cover."""
        c, h, w = ins[0]
        kernel, stride, padding, dilation = self._geometry(a)
        per_dim = [sum(window_sizes(n, o, k, s, p, d)) for n, o, k, s, p, d
                   in zip((h, w), out[1:], kernel, stride, padding, dilation)]
        return c * math.prod(per_dim)

    def fvcore_flops(self, ins: tuple[Shape, ...], out: Shape, a: Any) -> int:
        return 0

    def ptflops_macs(self, ins: tuple[Shape, ...], out: Shape, a: Any) -> int:
        return 2 * math.prod(ins[0])

    def window(self, ins: tuple[Shape, ...], out: Shape, a: Any) -> tuple[tuple[int, int], ...]:
        kernel, stride, _, dilation = self._geometry(a)
        return tuple((d * (k - 1) + 1, s) for k, s, d in zip(kernel, stride, dilation))

    def label(self, a: Any) -> str:
        kernel, stride, _, _ = self._geometry(a)
        text = f"{self.name} {'×'.join(map(str, kernel))}"
        if stride != (1, 1):
            text += "/" + "×".join(map(str, sorted(set(stride))))
        return text


class MaxPool2d(_Pool):
    example = ("maxpool(3, stride=2, ceil_mode=true)", (64, 112, 112))
    name = "maxpool"
    aliases = ("maxpool2d", "max_pool")
    Attrs = MaxPoolAttrs
    torch_class = "nn.MaxPool2d"
    torch_defaults = {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False}

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: MaxPoolAttrs) -> int:
        return self._covered(ins, out, a) - math.prod(out)  # w - 1 comparisons per window

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: MaxPoolAttrs, inplace: bool) -> tuple[Saved, ...]:
        return (Saved("input"), Saved("extra", Extra(math.prod(out), 8)))

    def workspace(self, ins: tuple[Shape, ...], out: Shape, a: MaxPoolAttrs) -> tuple[Extra, ...]:
        return (Extra(math.prod(out), 8),)  # int64 indices, made in inference too

    def torch_args(self, ins: tuple[Shape, ...], a: MaxPoolAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (a.kernel,), {"stride": a.stride, "padding": a.padding, "dilation": a.dilation,
                             "ceil_mode": a.ceil_mode}


class AvgPool2d(_Pool):
    example = ("avgpool(2)", (6, 28, 28))
    name = "avgpool"
    aliases = ("avgpool2d", "avg_pool")
    Attrs = AvgPoolAttrs
    torch_class = "nn.AvgPool2d"
    torch_defaults = {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True,
                      "divisor_override": None}

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: AvgPoolAttrs) -> int:
        return self._covered(ins, out, a)  # w - 1 adds and a divide per window

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: AvgPoolAttrs, inplace: bool) -> tuple[Saved, ...]:
        return SAVES_INPUT

    def torch_args(self, ins: tuple[Shape, ...], a: AvgPoolAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (a.kernel,), {"stride": a.stride, "padding": a.padding, "ceil_mode": a.ceil_mode,
                             "count_include_pad": a.count_include_pad, "divisor_override": a.divisor_override}


class AdaptiveAttrs(Attrs):
    output_size: Union[int, tuple[int | None, int | None]] = Field(default=1)


class _AdaptivePool(Op):
    family = "pooling"
    fresh_output = True
    Attrs = AdaptiveAttrs
    arg_aliases = {"size": "output_size"}
    ranks = (3,)
    rank_hint = "2-d pooling works on C×H×W images"

    def check(self, ins: tuple[Shape, ...], a: AdaptiveAttrs) -> None:
        self.check_rank(ins)
        _, oh, ow = self.output_shape(ins, a)
        if oh < 1 or ow < 1:
            raise ShapeError(f"output_size must be positive, got {a.output_size}", code="E505", arg="output_size")

    def output_shape(self, ins: tuple[Shape, ...], a: AdaptiveAttrs) -> tuple[Any, ...]:
        c, h, w = ins[0]
        oh, ow = pair(a.output_size)  # None keeps the input's size
        return (c, h if oh is None else oh, w if ow is None else ow)

    def _covered(self, ins: tuple[Shape, ...], out: Shape) -> int:
        c, h, w = ins[0]
        return c * math.prod(sum(e - s for s, e in adaptive_bounds(n, o)) for n, o in zip((h, w), out[1:]))

    def ptflops_macs(self, ins: tuple[Shape, ...], out: Shape, a: AdaptiveAttrs) -> int:
        return 2 * math.prod(ins[0])

    def window(self, ins: tuple[Shape, ...], out: Shape, a: AdaptiveAttrs) -> tuple[tuple[int, int], ...]:
        result = []
        for n, o in zip(ins[0][1:], out[1:]):
            bounds = adaptive_bounds(n, o)
            kernel = max(e - s for s, e in bounds)
            stride = max((nxt[0] - cur[0] for cur, nxt in pairwise(bounds)), default=n)
            result.append((kernel, stride))
        return tuple(result)

    def label(self, a: AdaptiveAttrs) -> str:
        size = a.output_size
        shown = f"{size}×{size}" if isinstance(size, int) else "×".join("*" if s is None else str(s) for s in size)
        return f"{self.name} {shown}"

    def torch_args(self, ins: tuple[Shape, ...], a: AdaptiveAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (a.output_size,), {}


class AdaptiveAvgPool2d(_AdaptivePool):
    example = ("adaptive_avgpool(1)", (2048, 7, 7))
    name = "adaptive_avgpool"
    aliases = ("adaptive_avgpool2d", "global_avgpool")
    torch_class = "nn.AdaptiveAvgPool2d"

    def fvcore_flops(self, ins: tuple[Shape, ...], out: Shape, a: AdaptiveAttrs) -> int:
        return math.prod(ins[0])

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: AdaptiveAttrs) -> int:
        return self._covered(ins, out)

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: AdaptiveAttrs, inplace: bool) -> tuple[Saved, ...]:
        return () if out[1:] == (1, 1) else SAVES_INPUT  # 1×1 is computed as a mean


class AdaptiveMaxPool2d(_AdaptivePool):
    example = ("adaptive_maxpool([4, 4])", (128, 14, 14))
    name = "adaptive_maxpool"
    aliases = ("adaptive_maxpool2d",)
    torch_class = "nn.AdaptiveMaxPool2d"

    def fvcore_flops(self, ins: tuple[Shape, ...], out: Shape, a: AdaptiveAttrs) -> int:
        return 0

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: AdaptiveAttrs) -> int:
        return self._covered(ins, out) - math.prod(out)

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: AdaptiveAttrs, inplace: bool) -> tuple[Saved, ...]:
        return (Saved("input"), Saved("extra", Extra(math.prod(out), 8)))

    def workspace(self, ins: tuple[Shape, ...], out: Shape, a: AdaptiveAttrs) -> tuple[Extra, ...]:
        return (Extra(math.prod(out), 8),)
