"""Reshaping: ``flatten`` (nn.Flatten), ``identity`` (nn.Identity) and ``pad`` (nn.ConstantPad3d).

YAML::

    - flatten                       # nn.Flatten(): C×H×W -> C·H·W, before the classifier
    - flatten(2)                    # PyTorch numbering: keep dims 0 (batch) and 1
    - identity
    - pad([0, 0, 0, 0, 0, 16])      # 16 zero channels appended (ResNet's option A shortcut)
    - pad([1, 1, 1, 1, 0, 0])       # one zero row/column on every side

``flatten`` never folds the batch dimension (start_dim 0), since shapes here are
per sample.

``pad`` takes ``F.pad``'s six numbers for a C×H×W image, last dimension first:
(left, right, top, bottom, front, back), so the last pair adds channels; a negative
number crops. It becomes ``nn.ConstantPad3d(padding, value)``, which pads the last
three dimensions of any tensor: on a batch of images those are exactly C, H and W.

None of them counts in any convention (fvcore and ptflops have no hook for them; they
do no arithmetic). ``flatten`` and ``identity`` return a view of their input (no new
memory); ``pad`` makes a new tensor, and its backward keeps nothing. Each output
position reads one input position, so the receptive field does not change.
"""

from __future__ import annotations

import math
from typing import Any

from .base import Attrs, Op, Shape, ShapeError, sequence, torch_dim


class FlattenAttrs(Attrs):
    start_dim: int = 1
    end_dim: int = -1


class Flatten(Op):
    example = ("flatten", (512, 7, 7))
    name = "flatten"
    family = "reshape"
    Attrs = FlattenAttrs
    torch_class = "nn.Flatten"
    torch_defaults = {"start_dim": 1, "end_dim": -1}

    def check(self, ins: tuple[Shape, ...], a: FlattenAttrs) -> None:
        start = torch_dim(a.start_dim, len(ins[0]), self.name, "start_dim")
        end = torch_dim(a.end_dim, len(ins[0]), self.name, "end_dim")
        if start == 0:
            raise ShapeError("flatten cannot fold the batch dimension (start_dim=0)",
                             "use flatten() (start_dim=1) to flatten each sample", code="E505", arg="start_dim")
        if end < start:
            raise ShapeError(f"end_dim ({a.end_dim}) comes before start_dim ({a.start_dim})", code="E505",
                             arg="end_dim")

    def output_shape(self, ins: tuple[Shape, ...], a: FlattenAttrs) -> tuple[Any, ...]:
        full = (1, *ins[0])  # with the batch, so the dims read as PyTorch's
        start = torch_dim(a.start_dim, len(ins[0]), self.name, "start_dim")
        end = torch_dim(a.end_dim, len(ins[0]), self.name, "end_dim")
        out = (*full[:start], math.prod(full[start : end + 1]), *full[end + 1 :])
        return out[1:]

    def aliases_input(self, a: FlattenAttrs, training: bool) -> bool:
        return True  # a view: the inputs it sees are contiguous

    def dim_rules(self, in_ranks: tuple[int, ...], rank: int, a: FlattenAttrs) -> list[list[tuple[Any, ...]]]:
        n = in_ranks[0]
        start, end = a.start_dim % (n + 1) - 1, a.end_dim % (n + 1) - 1  # without the batch
        return ([[("in", 0, d)] for d in range(start)] + [[("prod", 0, start, end + 1)]]
                + [[("in", 0, d)] for d in range(end + 1, n)])

    def torch_args(self, ins: tuple[Shape, ...], a: FlattenAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (), {"start_dim": a.start_dim, "end_dim": a.end_dim}


class PadAttrs(Attrs):
    padding: tuple[int, int, int, int, int, int]
    value: float = 0.0


class Pad(Op):
    example = ("pad([0, 0, 0, 0, 0, 16])", (16, 16, 16))
    name = "pad"
    aliases = ("constant_pad3d",)
    family = "reshape"
    Attrs = PadAttrs
    torch_class = "nn.ConstantPad3d"
    ranks = (3,)
    rank_hint = "pad works on C×H×W images; its six numbers pad width, height and channels"

    def check(self, ins: tuple[Shape, ...], a: PadAttrs) -> None:
        self.check_rank(ins)
        out = self.output_shape(ins, a)
        if min(out) < 1:
            raise ShapeError(f"padding {list(a.padding)} crops the {'×'.join(map(str, ins[0]))} input to "
                             f"{'×'.join(map(str, out))}", "a negative number crops; keep every size at least 1",
                             code="E503", arg="padding")

    def output_shape(self, ins: tuple[Shape, ...], a: PadAttrs) -> tuple[Any, ...]:
        left, right, top, bottom, front, back = sequence(a.padding, "padding")
        c, h, w = ins[0]
        return (c + front + back, h + top + bottom, w + left + right)

    def label(self, a: PadAttrs) -> str:
        left, right, top, bottom, front, back = a.padding
        parts = [f"{what} {lo:+d}/{hi:+d}" for what, lo, hi in (("C", front, back), ("H", top, bottom),
                                                                  ("W", left, right)) if lo or hi]
        return "pad " + (", ".join(parts) or "0")

    def dim_rules(self, in_ranks: tuple[int, ...], rank: int, a: PadAttrs) -> list[list[tuple[Any, ...]]]:
        return [[("in", 0, d)] for d in range(rank)]  # holds where that dimension is not padded

    def torch_args(self, ins: tuple[Shape, ...], a: PadAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (a.padding, a.value), {}


class Identity(Op):
    example = ("identity", (64, 8, 8))
    name = "identity"
    family = "reshape"
    torch_class = "nn.Identity"

    def aliases_input(self, a: Any, training: bool) -> bool:
        return True
