"""Activations: relu, relu6, leaky_relu, tanh, sigmoid, gelu, silu, softmax, log_softmax.

YAML::

    - relu                          # nn.ReLU; made in-place by emission where that is safe
    - leaky_relu(0.2)               # nn.LeakyReLU(negative_slope=0.2)
    - gelu(approximate='tanh')
    - softmax(dim=1)                # PyTorch numbering: dim 1 is the first non-batch dimension

Activations keep the shape and do no MACs in the default counting convention.
"""

from __future__ import annotations

from typing import Any, Literal

from .base import Attrs, Op, Shape, torch_dim


class _Activation(Op):
    family = "activation"
    # Activations that can safely overwrite their input when nothing else reads it.
    inplace_capable: bool = False

    def torch_args(self, ins: tuple[Shape, ...], a: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (), dict(a)


class ReLU(_Activation):
    example = ("relu", (64, 56, 56))
    name = "relu"
    torch_class = "nn.ReLU"
    inplace_capable = True


class ReLU6(_Activation):
    example = ("relu6", (32, 112, 112))
    name = "relu6"
    torch_class = "nn.ReLU6"
    inplace_capable = True


class LeakyAttrs(Attrs):
    negative_slope: float = 0.01


class LeakyReLU(_Activation):
    example = ("leaky_relu(0.2)", (64, 32, 32))
    name = "leaky_relu"
    Attrs = LeakyAttrs
    torch_class = "nn.LeakyReLU"
    torch_defaults = {"negative_slope": 0.01}
    inplace_capable = True


class Tanh(_Activation):
    example = ("tanh", (120,))
    name = "tanh"
    torch_class = "nn.Tanh"


class Sigmoid(_Activation):
    example = ("sigmoid", (1,))
    name = "sigmoid"
    torch_class = "nn.Sigmoid"


class GeluAttrs(Attrs):
    approximate: Literal["none", "tanh"] = "none"


class GELU(_Activation):
    example = ("gelu(approximate='tanh')", (768,))
    name = "gelu"
    Attrs = GeluAttrs
    torch_class = "nn.GELU"
    torch_defaults = {"approximate": "none"}


class SiLU(_Activation):
    example = ("silu", (32, 56, 56))
    name = "silu"
    aliases = ("swish",)
    torch_class = "nn.SiLU"
    inplace_capable = True


class SoftmaxAttrs(Attrs):
    dim: int = 1


class Softmax(_Activation):
    example = ("softmax(dim=1)", (10,))
    name = "softmax"
    Attrs = SoftmaxAttrs
    torch_class = "nn.Softmax"

    def infer(self, ins: tuple[Shape, ...], a: SoftmaxAttrs) -> Shape:
        torch_dim(a.dim, len(ins[0]), self.name)
        return ins[0]


class LogSoftmax(Softmax):
    example = ("log_softmax(dim=1)", (10,))
    name = "log_softmax"
    torch_class = "nn.LogSoftmax"
