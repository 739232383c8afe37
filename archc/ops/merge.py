"""Merges: ``concat`` (torch.cat), ``add`` (elementwise sum) and ``mul`` (elementwise product).

These join several inputs. Specs rarely call them by name: ``parallel:`` ends in a
concat (Inception) or an add, ``residual:`` adds the shortcut to the body, and
``from: [a, b]`` with ``merge:`` joins named points::

    - inception3a: Inception(64, 96, 128, 16, 32, 32)     # parallel branches -> concat
    - up1: {from: [dec2, enc1], merge: concat, layers: ["conv(64, 3, padding=1)", relu]}
    - {from: [x, scale], merge: mul}                      # a squeeze-and-excitation gate

``concat`` needs equal sizes in every dimension but ``dim`` (PyTorch numbering: 1 is
channels); ``add`` needs equal shapes (no broadcasting, so a mismatch is caught). ``mul``
broadcasts as PyTorch does: inputs of the same rank whose sizes are equal or 1 in each
dimension (a C×1×1 gate times a C×H×W map, as in squeeze-and-excitation, Hu et al.,
2018); inputs of different ranks are refused, since PyTorch would align the batch of the
shorter one with a dimension of the other.

None does MACs (``FlopCounterMode`` counts no elementwise product); fvcore and ptflops
count none (emitted code joins with ``torch.cat``, ``+``/``+=`` and ``*``, which neither
tool hooks: ptflops patches ``torch.mul`` and ``Tensor.mul``, not the ``*`` operator).
``all`` counts n − 1 adds or multiplies per output element of an n-way add or mul and
nothing for a concat (a copy). Concat and add keep nothing for the backward pass; mul
keeps its inputs (each factor's gradient is the product of the others). An n-way add or
mul out of place makes n − 2 temporaries.
"""

from __future__ import annotations

import math
from typing import Any

from ..sym import Cond, sym_max
from .base import Attrs, Extra, Op, Saved, Shape, ShapeError, fmt_shape, torch_dim


class ConcatAttrs(Attrs):
    dim: int = 1


class Concat(Op):
    example = ("concat", (64, 28, 28))
    name = "concat"
    aliases = ("cat",)
    family = "merge"
    fresh_output = True
    Attrs = ConcatAttrs
    arity = None

    def check(self, ins: tuple[Shape, ...], a: ConcatAttrs) -> None:
        first = ins[0]
        if any(len(s) != len(first) for s in ins):
            raise ShapeError("concat inputs have different ranks: " + ", ".join(fmt_shape(s) for s in ins),
                             code="E502")
        d = torch_dim(a.dim, len(first), self.name) - 1
        if d < 0:
            raise ShapeError("concat cannot join along the batch dimension (dim=0)", code="E505", arg="dim")
        for s in ins[1:]:
            if s[:d] + s[d + 1 :] != first[:d] + first[d + 1 :]:
                what = "spatial sizes" if d == 0 and len(first) == 3 else "sizes"
                raise ShapeError(f"mismatched {what} at concat: " + " vs ".join(fmt_shape(x) for x in ins),
                                 "every branch must keep the same size outside the concat dimension; "
                                 "check strides, padding and ceil_mode in the branches", code="E502")

    def output_shape(self, ins: tuple[Shape, ...], a: ConcatAttrs) -> tuple[Any, ...]:
        first = ins[0]
        d = torch_dim(a.dim, len(first), self.name) - 1
        return (*first[:d], sum(s[d] for s in ins), *first[d + 1 :])

    def label(self, a: ConcatAttrs) -> str:
        return "concat"

    def dim_rules(self, in_ranks: tuple[int, ...], rank: int, a: ConcatAttrs) -> list[list[tuple[Any, ...]]]:
        d = a.dim % (rank + 1) - 1
        return [[("sum", k)] if k == d else [("in", 0, k)] for k in range(rank)]


class Add(Op):
    example = ("add", (256, 56, 56))
    name = "add"
    family = "merge"
    fresh_output = True
    arity = None

    def check(self, ins: tuple[Shape, ...], a: Attrs) -> None:
        first = ins[0]
        for s in ins[1:]:
            if s != first:
                channels = len(s) == len(first) and s[1:] == first[1:]
                what = "channel" if channels else "shape"
                raise ShapeError(f"{what} mismatch at add: " + " vs ".join(fmt_shape(x) for x in ins),
                                 "both sides of an add must have the same shape", code="E501")

    def output_shape(self, ins: tuple[Shape, ...], a: Attrs) -> tuple[Any, ...]:
        # the sizes are equal (check); where an input exists only under a condition (RegNet's
        # `proj`, the block's input where it is absent) its sizes are conditional, and another
        # input's say the same more plainly: per dimension, the first that is no condition
        return tuple(next((s[d] for s in ins if not isinstance(s[d], Cond)), ins[0][d]) for d in range(len(ins[0])))

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: Attrs) -> int:
        return (len(ins) - 1) * math.prod(out)

    def workspace(self, ins: tuple[Shape, ...], out: Shape, a: Attrs) -> tuple[Extra, ...]:
        return (Extra((len(ins) - 2) * math.prod(out)),) if len(ins) > 2 else ()  # a + b + c: (a + b) first


class Mul(Op):
    example = ("mul", (64, 56, 56))
    name = "mul"
    family = "merge"
    # a new tensor; its backward keeps the inputs, not the output
    fresh_output = True
    arity = None

    def check(self, ins: tuple[Shape, ...], a: Attrs) -> None:
        first = ins[0]
        shown = " vs ".join(fmt_shape(x) for x in ins)
        if any(len(s) != len(first) for s in ins):
            raise ShapeError(f"rank mismatch at mul: {shown}",
                             "give both factors the same number of dimensions, e.g. a C×1×1 gate for a C×H×W map "
                             "(adaptive_avgpool(1) keeps the rank); PyTorch would align the batch of the shorter "
                             "one with a dimension of the other", code="E501")
        for d in range(len(first)):
            sizes = {s[d] for s in ins} - {1}
            if len(sizes) > 1:
                raise ShapeError(f"shapes do not broadcast at mul: {shown}",
                                 f"in every dimension the sizes must be equal or 1 (dimension {d + 1}, PyTorch "
                                 f"numbering, has {', '.join(str(s[d]) for s in ins)})", code="E501")

    def output_shape(self, ins: tuple[Shape, ...], a: Attrs) -> tuple[Any, ...]:
        # sizes that broadcast are equal or 1, so the result is their maximum
        return tuple(sym_max(*(s[d] for s in ins)) for d in range(len(ins[0])))

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: Attrs) -> int:
        return (len(ins) - 1) * math.prod(out)

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: Attrs, inplace: bool) -> tuple[Saved, ...]:
        # a * b * c keeps a and b for (a * b), then (a * b) and c
        inputs = tuple(Saved("input", index=k) for k in range(len(ins)))
        return inputs + tuple(Saved("extra", e) for e in self.workspace(ins, out, a))

    def workspace(self, ins: tuple[Shape, ...], out: Shape, a: Attrs) -> tuple[Extra, ...]:
        # a * b * c computes (a * b) first, of the shape a and b broadcast to
        partial, temporaries = ins[0], []
        for shape in ins[1:-1]:
            partial = self.output_shape((partial, shape), a)
            temporaries.append(Extra(math.prod(partial)))
        return tuple(temporaries)

    def dim_rules(self, in_ranks: tuple[int, ...], rank: int, a: Attrs) -> list[list[tuple[Any, ...]]]:
        # whichever input is not broadcast in that dimension
        return [[("in", i, d) for i in range(len(in_ranks))] for d in range(rank)]
