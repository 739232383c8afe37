"""Activations: relu, relu6, leaky_relu, tanh, sigmoid, gelu, silu, hardswish, hardsigmoid, softmax, log_softmax.

YAML::

    - relu                          # nn.ReLU; made in-place by emission where that is safe
    - leaky_relu(0.2)               # nn.LeakyReLU(negative_slope=0.2)
    - gelu(approximate='tanh')
    - softmax(dim=1)                # PyTorch numbering: dim 1 is the first non-batch dimension
    - hardswish                     # nn.Hardswish, MobileNetV3's activation (Howard et al., 2019)

Activations keep the shape and do no MACs in the default counting convention.

Other conventions, per element: fvcore counts nothing; ptflops counts what its hooks
see (``ptflops``, below: 2 where both the module hook and the hook on the
``torch.nn.functional`` function the module calls fire, 0 where neither exists); ``all``
counts 1 per element for an elementwise activation, whatever it costs in hardware,
and 5 for softmax and log_softmax (max, subtract, exp, sum, divide or subtract the log).

Autograd keeps the output of relu, tanh, sigmoid and the softmaxes, and the input of
the others; in place (as emission writes them where safe), relu6, silu, hardswish and
hardsigmoid keep a copy of their input, leaky_relu its output.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from .base import SAVES_INPUT, SAVES_OUTPUT, Attrs, Extra, Op, Saved, Shape, torch_dim


class _Activation(Op):
    family = "activation"
    ptflops: ClassVar[int] = 0  # per element
    ops_per_element: ClassVar[int] = 1  # the ``all`` convention
    saves: ClassVar[str] = "input"  # what its backward keeps: "input" or "output"
    inplace_saves: ClassVar[str] = "output"  # in place: "output", or "copy" of the input

    def ptflops_macs(self, ins: tuple[Shape, ...], out: Shape, a: Any) -> int:
        return self.ptflops * math.prod(out)

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: Any) -> int:
        return self.ops_per_element * math.prod(out)

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: Any, inplace: bool) -> tuple[Saved, ...]:
        if inplace and self.inplace_saves == "copy":
            return (Saved("extra", Extra(math.prod(ins[0]))),)
        if inplace:
            return SAVES_OUTPUT
        return SAVES_OUTPUT if self.saves == "output" else SAVES_INPUT

    def torch_args(self, ins: tuple[Shape, ...], a: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (), dict(a)


class ReLU(_Activation):
    example = ("relu", (64, 56, 56))
    name = "relu"
    torch_class = "nn.ReLU"
    ptflops = 2  # nn.ReLU hook + F.relu hook
    saves = "output"
    inplace_capable = True


class ReLU6(_Activation):
    example = ("relu6", (32, 112, 112))
    name = "relu6"
    torch_class = "nn.ReLU6"
    ptflops = 1  # the module hook; it calls F.hardtanh, which ptflops does not patch
    inplace_saves = "copy"
    inplace_capable = True


class LeakyAttrs(Attrs):
    negative_slope: float = 0.01


class LeakyReLU(_Activation):
    example = ("leaky_relu(0.2)", (64, 32, 32))
    name = "leaky_relu"
    Attrs = LeakyAttrs
    torch_class = "nn.LeakyReLU"
    ptflops = 1  # the module hook; F.leaky_relu is not patched
    torch_defaults = {"negative_slope": 0.01}
    inplace_capable = True


class Tanh(_Activation):
    example = ("tanh", (120,))
    name = "tanh"
    torch_class = "nn.Tanh"
    saves = "output"  # ptflops has no hook for it


class Sigmoid(_Activation):
    example = ("sigmoid", (1,))
    name = "sigmoid"
    torch_class = "nn.Sigmoid"
    saves = "output"


class GeluAttrs(Attrs):
    approximate: Literal["none", "tanh"] = "none"


class GELU(_Activation):
    example = ("gelu(approximate='tanh')", (768,))
    name = "gelu"
    Attrs = GeluAttrs
    torch_class = "nn.GELU"
    ptflops = 2  # nn.GELU hook + F.gelu hook
    torch_defaults = {"approximate": "none"}


class SiLU(_Activation):
    example = ("silu", (32, 56, 56))
    name = "silu"
    aliases = ("swish",)
    torch_class = "nn.SiLU"
    ptflops = 1  # F.silu hook only
    inplace_saves = "copy"
    inplace_capable = True


class Hardswish(_Activation):
    example = ("hardswish", (16, 112, 112))
    name = "hardswish"
    torch_class = "nn.Hardswish"
    # ptflops 0: it hooks neither nn.Hardswish nor F.hardswish (ptflops/pytorch_ops.py's
    # MODULES_MAPPING and FUNCTIONAL_MAPPING), checked against the tool in tests/ops
    inplace_saves = "copy"  # hardswish_ keeps the input it overwrites, as relu6 and silu do
    inplace_capable = True  # torchvision's MobileNetV3 writes nn.Hardswish(inplace=True)


class Hardsigmoid(_Activation):
    example = ("hardsigmoid", (72, 1, 1))
    name = "hardsigmoid"
    torch_class = "nn.Hardsigmoid"
    # ptflops 0, as hardswish; autograd keeps the input (a copy of it in place)
    inplace_saves = "copy"
    inplace_capable = True


class SoftmaxAttrs(Attrs):
    dim: int = 1


class Softmax(_Activation):
    example = ("softmax(dim=1)", (10,))
    name = "softmax"
    Attrs = SoftmaxAttrs
    torch_class = "nn.Softmax"
    ptflops = 1  # F.softmax hook only
    ops_per_element = 5
    saves = "output"

    def check(self, ins: tuple[Shape, ...], a: SoftmaxAttrs) -> None:
        torch_dim(a.dim, len(ins[0]), self.name)  # the shape is the input's, whichever dim

    def window(self, ins: tuple[Shape, ...], out: Shape, a: SoftmaxAttrs) -> tuple[tuple[int, int], ...] | None:
        rank = len(ins[0])
        d = torch_dim(a.dim, rank, self.name) - 1  # without the batch
        if rank < 2:
            return ()  # over the features: each output reads them all
        if d == 0:
            return None  # across channels: position-wise
        return tuple((n, n) if k == d else (1, 1) for k, n in enumerate(ins[0][1:], start=1))


class LogSoftmax(Softmax):
    example = ("log_softmax(dim=1)", (10,))
    name = "log_softmax"
    torch_class = "nn.LogSoftmax"
    ptflops = 0  # F.log_softmax is not patched
    ops_per_element = 5
    saves = "output"
