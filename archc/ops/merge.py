"""Merges: ``concat`` (torch.cat) and ``add`` (elementwise sum).

These join several inputs. Specs rarely call them by name: ``parallel:`` ends in a
concat (Inception) or an add, ``residual:`` adds the shortcut to the body, and
``from: [a, b]`` with ``merge:`` joins named points::

    - inception3a: Inception(64, 96, 128, 16, 32, 32)     # parallel branches -> concat
    - up1: {from: [dec2, enc1], merge: concat, layers: ["conv(64, 3, padding=1)", relu]}

``concat`` needs equal sizes in every dimension but ``dim`` (PyTorch numbering: 1 is
channels); ``add`` needs equal shapes (no broadcasting, so a mismatch is caught).

Neither does MACs; fvcore and ptflops count neither (emitted code joins with
``torch.cat`` and ``+``/``+=``, which neither tool hooks). ``all`` counts n − 1 adds
per output element of an n-way add and nothing for a concat (a copy). Neither keeps
anything for the backward pass; an n-way add out of place makes n − 2 temporaries.
"""

from __future__ import annotations

import math
from typing import Any

from .base import Attrs, Extra, Op, Shape, ShapeError, fmt_shape, torch_dim


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

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: Attrs) -> int:
        return (len(ins) - 1) * math.prod(out)

    def workspace(self, ins: tuple[Shape, ...], out: Shape, a: Attrs) -> tuple[Extra, ...]:
        return (Extra((len(ins) - 2) * math.prod(out)),) if len(ins) > 2 else ()  # a + b + c: (a + b) first
