"""Dropout: ``dropout`` (nn.Dropout), ``dropout2d`` (nn.Dropout2d) and ``stochastic_depth``.

YAML::

    - dropout                       # p = 0.5, as in AlexNet (Krizhevsky et al., 2012, §4.2)
    - dropout: dropout(0.2)         # GoogLeNet's torchvision layout
    - dropout2d(0.1)
    - stochastic_depth: stochastic_depth(0.1)     # ConvNeXt's, before the residual add

``dropout2d`` drops whole channels, ``stochastic_depth`` whole samples of a residual branch
(as ``torchvision.ops.StochasticDepth``).

Identity in eval mode (the output is the input tensor itself); no parameters, no MACs,
nothing in any counting convention. In training the output is new and autograd keeps
the mask, in the activation dtype on CPU (PyTorch's fused CUDA kernel keeps one byte per
element instead): one per element for dropout, one per channel for dropout2d, one per
sample for stochastic depth in ``row`` mode and one per batch in ``batch`` mode.

``stochastic_depth(p, mode='row')`` (Huang et al., "Deep Networks with Stochastic Depth",
2016) zeroes each sample's branch with probability p and scales the rest by 1 / (1 − p);
``batch`` mode zeroes the whole batch's at once. PyTorch has no module for it and the
emitted file does not import torchvision: it defines a small ``StochasticDepth`` class
that draws the same random numbers in the same order as
``torchvision.ops.stochastic_depth`` (an empty tensor of the mask's shape filled with
``bernoulli_(1 - p)``, divided in place by 1 - p when that is not 0), so it computes the
same bit for bit under the same seed (tests/ops). Like torchvision it returns its input
itself where p is 0, in training too.
"""

from __future__ import annotations

import math
from typing import Any, Literal

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
        return not training or a.p == 0.0  # torch returns its input where p is 0, in training too

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: DropoutAttrs, inplace: bool) -> tuple[Saved, ...]:
        if a.p == 0.0:
            return ()
        if a.p == 1.0:  # torch multiplies by a zero it keeps (one element), drawing no mask
            return (Saved("extra", Extra(1, per_sample=False)),)
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


# The class the generated file defines for stochastic_depth: torchvision.ops.StochasticDepth's
# forward, step for step (same draws from the global generator, same arithmetic), and its repr.
STOCHASTIC_DEPTH = '''\
class StochasticDepth(nn.Module):
    """Zeroes a residual branch per sample ("row") or per batch with probability p in training and
    scales what survives by 1 / (1 - p) (Huang et al., 2016); the identity in eval mode. Computes
    exactly what torchvision.ops.StochasticDepth does, drawing the same random numbers."""

    def __init__(self, p: float, mode: str = "row") -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival_rate = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival_rate)
        if survival_rate > 0.0:
            noise.div_(survival_rate)
        return x * noise

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p}, mode={self.mode})"
'''


class StochasticDepthAttrs(Attrs):
    p: float = Field(ge=0.0, le=1.0)
    mode: Literal["row", "batch"] = "row"


class StochasticDepth(Op):
    example = ("stochastic_depth(0.1)", (96, 56, 56))
    name = "stochastic_depth"
    family = "dropout"
    Attrs = StochasticDepthAttrs
    eval_identity = True
    torch_class = "StochasticDepth"
    helper = STOCHASTIC_DEPTH
    torch_defaults = {"mode": "row"}

    def label(self, a: StochasticDepthAttrs) -> str:
        return f"stochastic depth {a.p:g}"

    def aliases_input(self, a: StochasticDepthAttrs, training: bool) -> bool:
        return not training or a.p == 0.0  # torchvision returns its input where p is 0

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: StochasticDepthAttrs, inplace: bool) -> tuple[Saved, ...]:
        if a.p == 0.0:
            return ()
        # x * noise keeps the noise (x's gradient); x itself only if the noise needed a gradient
        return (Saved("extra", Extra(1, per_sample=a.mode == "row")),)

    def torch_args(self, ins: tuple[Shape, ...], a: StochasticDepthAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (a.p,), {"mode": a.mode}
