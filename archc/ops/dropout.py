"""Dropout: ``dropout`` (nn.Dropout) and ``dropout2d`` (nn.Dropout2d, whole channels).

YAML::

    - dropout                       # p = 0.5, as in AlexNet (Krizhevsky et al., 2012, §4.2)
    - dropout: dropout(0.2)         # GoogLeNet's torchvision layout
    - dropout2d(0.1)

Identity in eval mode (the output is the input tensor itself); no parameters, no MACs,
nothing in any counting convention. In training the output is new and autograd keeps
the mask, in the activation dtype on CPU (PyTorch's fused CUDA kernel keeps one byte per
element instead): one per element for dropout, one per channel for dropout2d.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from .base import Attrs, Extra, Op, Saved, Shape


class DropoutAttrs(Attrs):
    p: float = Field(default=0.5, ge=0.0, le=1.0)


class Dropout(Op):
    example = ("dropout(0.5)", (4096,))
    name = "dropout"
    family = "dropout"
    Attrs = DropoutAttrs
    eval_identity = True
    torch_class = "nn.Dropout"
    torch_defaults = {"p": 0.5}

    def label(self, a: DropoutAttrs) -> str:
        return f"{self.name} {a.p:g}"

    def aliases_input(self, a: DropoutAttrs, training: bool) -> bool:
        return not training

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: DropoutAttrs, inplace: bool) -> tuple[Saved, ...]:
        return (Saved("extra", Extra(self._mask(ins[0]))),)

    def _mask(self, shape: Shape) -> int:
        return math.prod(shape)

    def torch_args(self, ins: tuple[Shape, ...], a: DropoutAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (), {"p": a.p}


class Dropout2d(Dropout):
    example = ("dropout2d(0.1)", (64, 28, 28))
    name = "dropout2d"
    torch_class = "nn.Dropout2d"
    ranks = (3,)
    rank_hint = "dropout2d drops whole channels of C×H×W images; use dropout otherwise"

    def _mask(self, shape: Shape) -> int:
        return shape[0]  # one draw per channel
