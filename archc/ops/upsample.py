"""Upsampling: ``upsample`` (also ``interpolate``; nn.Upsample), nearest or bilinear.

YAML::

    - up: upsample(scale_factor=2)                          # nn.Upsample(scale_factor=2.0)
    - upsample(scale_factor=2, mode='bilinear', align_corners=true)   # U-Net's decoder
    - upsample([28, 28])                                    # to a size: nn.Upsample(size=(28, 28))
    - interpolate(scale_factor=[2, 1.5], mode='bilinear')

Exactly one of ``size`` (an int or [h, w]) and ``scale_factor`` (a number or one per
dimension) is given; ``align_corners`` only with ``mode='bilinear'``. Output size per
spatial dimension, exactly as PyTorch computes it from a scale factor (the double
product, truncated)::

    out = floor(in * scale_factor)

An integer scale factor follows symbolic sizes (``in_height * 2``), and so does a
factor that is a short binary fraction (1.5, 0.25: ``in_height * 3 // 2``, which equals
the double product for every size below 2^36); other factors need concrete sizes. The
factor itself must be written as a number: given by a parameter (which may hold a
fraction) it cannot be followed, and ``archc compile`` refuses a block that does so (E720).

No parameters, no MACs (``FlopCounterMode`` counts none). Other conventions, per output
element: fvcore 1 for nearest and 4 for bilinear (its ``aten::upsample_*`` handles);
ptflops its module hook (one per output element) plus its hook on ``F.interpolate``
(the output elements for a ``size``; the input elements times the factor squared,
truncated, for one factor; times the product of the factors each truncated to an
integer, for two);
``all`` 0 for nearest (a copy) and 7 for bilinear (four weights multiplied, three adds).

Autograd keeps nothing (the backward needs only the sizes). The receptive field has no
single value after an upsampling (neighbouring outputs are less than one input apart):
the analysis reports none from here on (docs/counting.md).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Literal, Union

from ..sym import NotSymbolic, Sym
from .base import FRACTIONAL, Attrs, Op, Shape, ShapeError, fmt_shape, pair

Number = Union[int, float]


class UpsampleAttrs(Attrs):
    size: Union[int, tuple[int, int], None] = None
    scale_factor: Union[Number, tuple[Number, Number], None] = None
    mode: Literal["nearest", "bilinear"] = "nearest"
    align_corners: bool | None = None


def _pair(value: Any) -> tuple[Any, Any]:
    return tuple(value) if isinstance(value, tuple) else (value, value)


def scaled(size: Any, factor: Any) -> Any:
    """PyTorch's output size for one dimension: ``int(double(size) * factor)``, on ints or symbols."""
    if isinstance(factor, Sym):
        # a parameter (of a block, or the network's): int and float parameters are alike as
        # symbols, and a fraction would make the size a float
        raise NotSymbolic(f"upsample: scale_factor={factor} comes from a parameter, which may be a fraction; "
                          "write the number itself, or give size=")
    if isinstance(factor, int):  # an integer factor: exact, symbolic size or not
        return size * factor
    if not isinstance(size, Sym):
        return int(size * factor)  # C++: static_cast<int64_t>(input_size * scale), a truncation
    exact = Fraction(factor)
    # a short binary fraction n / d: the double product is exact below 2^36 · d / d, so the
    # floor of the rational is the truncated double (rounding cannot cross an integer)
    if exact.denominator <= 2**16:
        return size * exact.numerator // exact.denominator
    raise NotSymbolic(f"upsample: scale_factor={factor} is no short binary fraction; "
                      "give the sizes as numbers, or use size=")


def _one_of(a: UpsampleAttrs) -> None:
    """Exactly one of size and scale_factor, whatever the input."""
    if (a.size is None) == (a.scale_factor is None):
        raise ShapeError("upsample needs exactly one of size and scale_factor",
                         "write upsample(scale_factor=2) or upsample(size=[h, w])", code="E505",
                         arg="size" if a.size is not None else None)


class Upsample(Op):
    example = ("upsample(scale_factor=2, mode='bilinear', align_corners=true)", (64, 28, 28))
    name = "upsample"
    aliases = ("interpolate",)
    family = "pooling"
    Attrs = UpsampleAttrs
    torch_class = "nn.Upsample"
    torch_defaults = {"size": None, "scale_factor": None, "mode": "nearest", "align_corners": None}
    fresh_output = True
    ranks = (3,)
    rank_hint = "upsample resizes C×H×W images"

    def check(self, ins: tuple[Shape, ...], a: UpsampleAttrs) -> None:
        self.check_rank(ins)
        _one_of(a)
        if a.align_corners is not None and a.mode != "bilinear":
            raise ShapeError(f"align_corners is only for mode='bilinear' (PyTorch refuses it with '{a.mode}')",
                             "leave align_corners out, or use mode='bilinear'", code="E505", arg="align_corners")
        if a.size is not None and min(pair(a.size)) < 1:
            raise ShapeError(f"size must be positive, got {a.size}", code="E505", arg="size")
        if a.scale_factor is not None and min(_pair(a.scale_factor)) <= 0:
            raise ShapeError(f"scale_factor must be positive, got {a.scale_factor}", code="E505", arg="scale_factor")
        out = self.output_shape(ins, a)[1:]
        if min(out) < 1:
            raise ShapeError(f"scale_factor={a.scale_factor} shrinks the {fmt_shape(ins[0][1:])} input to "
                             f"{fmt_shape(out)}", "use a larger factor or input, or give size=", code="E503",
                             arg="scale_factor")

    def output_shape(self, ins: tuple[Shape, ...], a: UpsampleAttrs) -> tuple[Any, ...]:
        c, h, w = ins[0]
        factors = _pair(a.scale_factor) if a.scale_factor is not None else ()
        if any(isinstance(f, Sym) for f in factors):  # refused whatever else is given (see scaled)
            scaled(h, next(f for f in factors if isinstance(f, Sym)))
        _one_of(a)  # (check says so first; the module IR sizes it before any check)
        if a.size is not None:
            return (c, *pair(a.size))
        return (c, *(scaled(n, f) for n, f in zip((h, w), _pair(a.scale_factor))))

    def fvcore_flops(self, ins: tuple[Shape, ...], out: Shape, a: UpsampleAttrs) -> int:
        return math.prod(out) * (4 if a.mode == "bilinear" else 1)

    def ptflops_macs(self, ins: tuple[Shape, ...], out: Shape, a: UpsampleAttrs) -> int:
        # nn.Upsample keeps its factors as floats and passes them to F.interpolate positionally
        n = math.prod(out)
        if a.size is not None:
            return 2 * n
        if isinstance(a.scale_factor, tuple):
            return n + math.prod(ins[0]) * math.prod(int(f) for f in a.scale_factor)  # np.prod(dtype=int64)
        return int(n + math.prod(ins[0]) * float(a.scale_factor) ** 2)

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: UpsampleAttrs) -> int:
        return math.prod(out) * (7 if a.mode == "bilinear" else 0)

    def window(self, ins: tuple[Shape, ...], out: Shape, a: UpsampleAttrs) -> str:
        return FRACTIONAL

    def label(self, a: UpsampleAttrs) -> str:
        if a.size is not None:
            return f"{self.name} {a.mode} to {fmt_shape(pair(a.size))}"
        f = a.scale_factor
        shown = "×".join(f"{v:g}" for v in f) if isinstance(f, tuple) else f"{f:g}"
        return f"{self.name} {a.mode} ×{shown}"

    def dim_rules(self, in_ranks: tuple[int, ...], rank: int, a: UpsampleAttrs) -> list[list[tuple[Any, ...]]]:
        return [[("in", 0, 0)], [], []]

    def torch_args(self, ins: tuple[Shape, ...], a: UpsampleAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (), {"size": a.size, "scale_factor": a.scale_factor, "mode": a.mode,
                    "align_corners": a.align_corners}
