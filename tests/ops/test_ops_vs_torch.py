"""Every registered op against PyTorch itself, on several attribute combinations.

For each sample the oracle module is written here by hand (never derived from the
op's own emission), then compared with what the op infers: output shape,
``sum(p.numel())``, and ``FlopCounterMode`` total / 2 for MACs. The op's emitted
constructor must also rebuild exactly the oracle module (same ``repr``, which
PyTorch prints with every configuration argument; for an op emitted as a class of
the generated file, ``Op.helper``, that class; for a parameter, ``Op.holds_parameter``,
the same tensor). Invalid combinations must be rejected by archc exactly when PyTorch
rejects them.

A meta-test fails if a registered op has fewer than two samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.ops import StochasticDepth, stochastic_depth

from archc.ops import ShapeError, bind, registry
from archc.spec.expr import evaluate, parse_call

from torchvision.models.convnext import LayerNorm2d  # isort: skip  (after conftest's torchvision shim)
from torchvision.ops.misc import Permute  # isort: skip

Oracle = Callable[[], Any]


class TransformInput(nn.Module):
    """torchvision's ``GoogLeNet._transform_input`` (torchvision/models/googlenet.py), for any
    number of channels: each channel times a Python float plus a Python float, concatenated."""

    def __init__(self, scale: tuple[float, ...], shift: tuple[float, ...]):
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.unsqueeze(x[:, c], 1) * self.scale[c] + self.shift[c] for c in range(len(self.scale))],
                         1)
class Chunk(nn.Module):
    """torchvision ShuffleNetV2's channel split (``x1, x2 = x.chunk(2, dim=1)``), one part kept."""

    def __init__(self, chunks: int, index: int, dim: int):
        super().__init__()
        self.chunks, self.index, self.dim = chunks, index, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.chunk(x, self.chunks, self.dim)[self.index]


class LayerScale(nn.Module):
    """torchvision's ConvNeXt CNBlock's layer scale (models/convnext.py): a parameter of shape
    (dim, 1, 1) initialised to ``value``, multiplying its input, here as a module of its own."""

    def __init__(self, dim: int, value: float, rank: int):
        super().__init__()
        self.layer_scale = nn.Parameter(torch.ones(dim, *[1] * (rank - 1)) * value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_scale * x

# op name -> [(call, input shapes (without batch), oracle)]; an oracle is a module factory,
# or for merges a function of the input tensors.
SAMPLES: dict[str, list[tuple[str, list[tuple[int, ...]], Oracle]]] = {
    "conv": [
        ("conv(8, 3)", [(3, 16, 16)], lambda: nn.Conv2d(3, 8, 3)),
        ("conv(8, 3, stride=2, padding=1, bias=false)", [(3, 15, 15)], lambda: nn.Conv2d(3, 8, 3, 2, 1, bias=False)),
        ("conv(12, [3, 5], stride=[2, 1], padding=[1, 2], dilation=[1, 2], groups=3)", [(6, 17, 19)],
         lambda: nn.Conv2d(6, 12, (3, 5), (2, 1), (1, 2), (1, 2), groups=3)),
        ("conv(8, 4, padding='same')", [(4, 10, 9)], lambda: nn.Conv2d(4, 8, 4, padding="same")),
        ("conv(6, 3, padding='valid', padding_mode='reflect')", [(2, 7, 7)],
         lambda: nn.Conv2d(2, 6, 3, padding="valid", padding_mode="reflect")),
        ("conv(out_channels=4, kernel_size=3, padding=2, padding_mode='circular', dilation=2)", [(4, 9, 9)],
         lambda: nn.Conv2d(4, 4, 3, padding=2, dilation=2, padding_mode="circular")),
        ("conv(32, 3, padding=1, groups=32, bias=false)", [(32, 8, 8)],
         lambda: nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False)),
    ],
    "conv1d": [
        ("conv1d(16, 5)", [(4, 50)], lambda: nn.Conv1d(4, 16, 5)),
        ("conv1d(8, 3, stride=2, padding=1, dilation=3, groups=2, bias=false)", [(4, 33)],
         lambda: nn.Conv1d(4, 8, 3, 2, 1, 3, groups=2, bias=False)),
        ("conv1d(8, 4, padding='same')", [(3, 20)], lambda: nn.Conv1d(3, 8, 4, padding="same")),
    ],
    "linear": [
        ("linear(10)", [(20,)], lambda: nn.Linear(20, 10)),
        ("linear(7, bias=false)", [(5, 12)], lambda: nn.Linear(12, 7, bias=False)),
        ("linear(out_features=3)", [(2, 4, 6)], lambda: nn.Linear(6, 3)),
    ],
    "bn": [
        ("bn()", [(8, 5, 5)], lambda: nn.BatchNorm2d(8)),
        ("bn(eps=0.001, momentum=0.01, affine=false)", [(3, 4, 4)],
         lambda: nn.BatchNorm2d(3, eps=0.001, momentum=0.01, affine=False)),
        ("bn(track_running_stats=false, momentum=none)", [(2, 3, 3)],
         lambda: nn.BatchNorm2d(2, momentum=None, track_running_stats=False)),
    ],
    "bn1d": [
        ("bn1d()", [(16,)], lambda: nn.BatchNorm1d(16)),
        ("bn1d(eps=0.01, affine=false)", [(4, 10)], lambda: nn.BatchNorm1d(4, eps=0.01, affine=False)),
    ],
    "lrn": [
        ("lrn(5, alpha=0.0001, beta=0.75, k=2.0)", [(16, 8, 8)], lambda: nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0)),
        ("lrn(3)", [(6, 10)], lambda: nn.LocalResponseNorm(3)),
    ],
    "maxpool": [
        ("maxpool(2)", [(3, 8, 9)], lambda: nn.MaxPool2d(2)),
        ("maxpool(3, stride=2, padding=1)", [(4, 112, 112)], lambda: nn.MaxPool2d(3, 2, 1)),
        ("maxpool(3, stride=2, ceil_mode=true)", [(4, 112, 111)], lambda: nn.MaxPool2d(3, 2, ceil_mode=True)),
        ("maxpool([3, 2], stride=[1, 2], padding=[1, 0], dilation=2, ceil_mode=true)", [(2, 9, 10)],
         lambda: nn.MaxPool2d((3, 2), (1, 2), (1, 0), dilation=2, ceil_mode=True)),
        ("maxpool(3, stride=1, padding=1, ceil_mode=true)", [(2, 14, 14)],
         lambda: nn.MaxPool2d(3, 1, 1, ceil_mode=True)),
    ],
    "avgpool": [
        ("avgpool(2)", [(6, 28, 28)], lambda: nn.AvgPool2d(2)),
        ("avgpool(3, stride=2, padding=1, ceil_mode=true, count_include_pad=false)", [(3, 10, 11)],
         lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)),
        ("avgpool(5, stride=3, divisor_override=4)", [(1, 14, 14)], lambda: nn.AvgPool2d(5, 3, divisor_override=4)),
    ],
    "adaptive_avgpool": [
        ("adaptive_avgpool(1)", [(8, 7, 7)], lambda: nn.AdaptiveAvgPool2d(1)),
        ("adaptive_avgpool([4, 3])", [(8, 13, 11)], lambda: nn.AdaptiveAvgPool2d((4, 3))),
        ("adaptive_avgpool([none, 2])", [(2, 5, 6)], lambda: nn.AdaptiveAvgPool2d((None, 2))),
    ],
    "adaptive_maxpool": [
        ("adaptive_maxpool(2)", [(3, 9, 9)], lambda: nn.AdaptiveMaxPool2d(2)),
        ("adaptive_maxpool([3, none])", [(3, 9, 5)], lambda: nn.AdaptiveMaxPool2d((3, None))),
    ],
    "relu": [("relu", [(4, 5, 5)], lambda: nn.ReLU()), ("relu()", [(7,)], lambda: nn.ReLU())],
    "relu6": [("relu6", [(4, 5, 5)], lambda: nn.ReLU6()), ("relu6()", [(3, 9)], lambda: nn.ReLU6())],
    "leaky_relu": [("leaky_relu", [(4, 3, 3)], lambda: nn.LeakyReLU()),
                   ("leaky_relu(0.2)", [(10,)], lambda: nn.LeakyReLU(0.2))],
    "tanh": [("tanh", [(6, 4, 4)], lambda: nn.Tanh()), ("tanh()", [(84,)], lambda: nn.Tanh())],
    "sigmoid": [("sigmoid", [(6, 4, 4)], lambda: nn.Sigmoid()), ("sigmoid()", [(2, 3)], lambda: nn.Sigmoid())],
    "gelu": [("gelu", [(6, 4, 4)], lambda: nn.GELU()),
             ("gelu(approximate='tanh')", [(10,)], lambda: nn.GELU(approximate="tanh"))],
    "silu": [("silu", [(6, 4, 4)], lambda: nn.SiLU()), ("swish", [(5,)], lambda: nn.SiLU())],
    "softmax": [("softmax", [(10,)], lambda: nn.Softmax(dim=1)),
                ("softmax(dim=-1)", [(3, 4, 5)], lambda: nn.Softmax(dim=-1))],
    "log_softmax": [("log_softmax", [(10,)], lambda: nn.LogSoftmax(dim=1)),
                    ("log_softmax(2)", [(3, 4)], lambda: nn.LogSoftmax(dim=2))],
    "dropout": [("dropout", [(4, 5, 5)], lambda: nn.Dropout()), ("dropout(0.2)", [(10,)], lambda: nn.Dropout(0.2))],
    "dropout2d": [("dropout2d", [(4, 5, 5)], lambda: nn.Dropout2d()),
                  ("dropout2d(p=0.1)", [(2, 3, 3)], lambda: nn.Dropout2d(0.1))],
    "flatten": [("flatten", [(16, 5, 5)], lambda: nn.Flatten()),
                ("flatten(2)", [(4, 3, 5)], lambda: nn.Flatten(2)),
                ("flatten(1, 2)", [(4, 3, 5)], lambda: nn.Flatten(1, 2))],
    "identity": [("identity", [(3, 4, 4)], lambda: nn.Identity()), ("identity", [(10,)], lambda: nn.Identity())],
    "pad": [("pad([0, 0, 0, 0, 0, 16])", [(16, 8, 8)], lambda: nn.ConstantPad3d((0, 0, 0, 0, 0, 16), 0.0)),
            ("pad([1, 2, -1, 0, 3, 1], value=-0.5)", [(2, 5, 6)],
             lambda: nn.ConstantPad3d((1, 2, -1, 0, 3, 1), -0.5)),
            ("constant_pad3d(padding=[1, 1, 1, 1, 0, 0], value=1)", [(3, 4, 4)],
             lambda: nn.ConstantPad3d((1, 1, 1, 1, 0, 0), 1.0))],
    "channel_affine": [
        ("channel_affine([0.458, 0.448, 0.45], [-0.03, -0.088, -0.188])", [(3, 16, 16)],
         lambda: TransformInput((0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5),
                                ((0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5, (0.406 - 0.5) / 0.5))),
        ("channel_affine(scale=[2], shift=[-1])", [(1, 5, 7)], lambda: TransformInput((2.0,), (-1.0,))),
        ("channel_affine([1.5, -1, 0.25, 3], [0, 0.5, -2, 1])", [(4,)],
         lambda: TransformInput((1.5, -1.0, 0.25, 3.0), (0.0, 0.5, -2.0, 1.0))),
        ("channel_affine([0.1, 10.0], [0.3, -0.7])", [(2, 9)], lambda: TransformInput((0.1, 10.0), (0.3, -0.7))),
    ],
    "concat": [("concat", [(3, 8, 8), (5, 8, 8)], lambda: lambda xs: torch.cat(xs, 1)),
               ("concat(dim=3)", [(3, 8, 2), (3, 8, 5), (3, 8, 1)], lambda: lambda xs: torch.cat(xs, 3)),
               ("cat(dim=-1)", [(4,), (6,)], lambda: lambda xs: torch.cat(xs, -1))],
    "add": [("add", [(3, 8, 8), (3, 8, 8)], lambda: lambda xs: xs[0] + xs[1]),
            ("add", [(5,), (5,), (5,)], lambda: lambda xs: xs[0] + xs[1] + xs[2])],
    "group_norm": [("group_norm(4)", [(8, 5, 6)], lambda: nn.GroupNorm(4, 8)),
                   ("group_norm(2, eps=0.001, affine=false)", [(8, 7)],
                    lambda: nn.GroupNorm(2, 8, eps=0.001, affine=False)),
                   ("groupnorm(num_groups=3)", [(6,)], lambda: nn.GroupNorm(3, 6)),
                   ("group_norm(groups=1)", [(4, 3, 3)], lambda: nn.GroupNorm(1, 4))],
    "layer_norm": [("layer_norm", [(16,)], lambda: nn.LayerNorm(16)),
                   ("layer_norm(eps=1e-6)", [(5, 6, 16)], lambda: nn.LayerNorm(16, eps=1e-6)),
                   ("layernorm(elementwise_affine=false)", [(4, 10)],
                    lambda: nn.LayerNorm(10, elementwise_affine=False))],
    "layer_norm2d": [("layer_norm2d(eps=1e-6)", [(8, 5, 6)], lambda: LayerNorm2d(8, eps=1e-6)),
                     ("layer_norm2d", [(16, 1, 1)], lambda: LayerNorm2d(16)),
                     ("layer_norm2d(affine=false)", [(4, 3, 3)], lambda: LayerNorm2d(4, elementwise_affine=False))],
    "permute": [("permute([0, 2, 3, 1])", [(8, 5, 6)], lambda: Permute([0, 2, 3, 1])),
                ("permute([0, 3, 1, 2])", [(5, 6, 8)], lambda: Permute([0, 3, 1, 2])),
                ("permute(dims=[0, -1, 1])", [(4, 7)], lambda: Permute([0, -1, 1]))],
    "upsample": [("upsample(scale_factor=2)", [(3, 5, 6)], lambda: nn.Upsample(scale_factor=2)),
                 ("upsample([7, 9])", [(3, 5, 6)], lambda: nn.Upsample(size=(7, 9))),
                 ("upsample(size=4, mode='bilinear')", [(2, 5, 6)], lambda: nn.Upsample(size=4, mode="bilinear")),
                 ("upsample(scale_factor=2, mode='bilinear', align_corners=true)", [(3, 5, 6)],
                  lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)),
                 ("interpolate(scale_factor=1.5, mode='bilinear')", [(3, 5, 7)],
                  lambda: nn.Upsample(scale_factor=1.5, mode="bilinear")),
                 ("upsample(scale_factor=[2, 0.75], mode='nearest')", [(2, 5, 6)],
                  lambda: nn.Upsample(scale_factor=(2, 0.75)))],
    "conv_transpose": [
        ("conv_transpose(6, 3)", [(4, 5, 6)], lambda: nn.ConvTranspose2d(4, 6, 3)),
        ("conv_transpose(6, 2, stride=2, bias=false)", [(4, 5, 6)], lambda: nn.ConvTranspose2d(4, 6, 2, 2, bias=False)),
        ("conv_transpose(6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2)", [(4, 5, 6)],
         lambda: nn.ConvTranspose2d(4, 6, 3, 2, 1, 1, groups=2, dilation=2)),
        ("conv_transpose2d(out_channels=4, kernel_size=[3, 5], stride=[2, 1], padding=[1, 2], output_padding=[1, 0])",
         [(2, 6, 7)], lambda: nn.ConvTranspose2d(2, 4, (3, 5), (2, 1), (1, 2), (1, 0))),
        ("conv_transpose(8, 3, padding=1, groups=8, bias=false)", [(8, 4, 4)],
         lambda: nn.ConvTranspose2d(8, 8, 3, padding=1, groups=8, bias=False))],
    # a squeeze-and-excitation gate either way round, a three-way product, features
    "mul": [("mul", [(3, 8, 8), (3, 1, 1)], lambda: lambda xs: xs[0] * xs[1]),
            ("mul", [(4, 1, 1), (4, 5, 6)], lambda: lambda xs: xs[0] * xs[1]),
            ("mul", [(4, 5, 5), (4, 5, 5), (1, 5, 5)], lambda: lambda xs: xs[0] * xs[1] * xs[2]),
            ("mul", [(6,), (6,)], lambda: lambda xs: xs[0] * xs[1])],
    "hardswish": [("hardswish", [(4, 5, 5)], lambda: nn.Hardswish()),
                  ("hardswish()", [(7,)], lambda: nn.Hardswish())],
    "hardsigmoid": [("hardsigmoid", [(6, 1, 1)], lambda: nn.Hardsigmoid()),
                    ("hardsigmoid()", [(3, 9)], lambda: nn.Hardsigmoid())],
    "channel_shuffle": [("channel_shuffle(2)", [(6, 4, 4)], lambda: nn.ChannelShuffle(2)),
                        ("channel_shuffle(groups=3)", [(12, 5)], lambda: nn.ChannelShuffle(3)),
                        ("channel_shuffle(4)", [(8, 3, 2)], lambda: nn.ChannelShuffle(4))],
    "stochastic_depth": [("stochastic_depth(0.2)", [(4, 5, 5)], lambda: StochasticDepth(0.2, "row")),
                         ("stochastic_depth(0.5, mode='batch')", [(10,)], lambda: StochasticDepth(0.5, "batch")),
                         ("stochastic_depth(p=0.0)", [(3, 4, 4)], lambda: StochasticDepth(0.0, "row"))],
    "layer_scale": [("layer_scale(1e-6)", [(8, 4, 4)], lambda: LayerScale(8, 1e-6, 3)),
                    ("layer_scale(init_value=0.5)", [(6, 10)], lambda: LayerScale(6, 0.5, 2)),
                    ("layer_scale", [(5,)], lambda: LayerScale(5, 1e-6, 1))],
    # ShuffleNetV2's two halves; an uneven split (7 = 3 + 3 + 1, and 6 in 4 chunks is 2 + 2 + 2,
    # three parts only); a spatial dimension; features
    "chunk": [("chunk(2, 0)", [(116, 4, 4)], lambda: Chunk(2, 0, 1)),
              ("chunk(2, 1)", [(116, 4, 4)], lambda: Chunk(2, 1, 1)),
              ("chunk(3, 2)", [(7, 5)], lambda: Chunk(3, 2, 1)),
              ("chunk(4, index=2)", [(6, 3, 3)], lambda: Chunk(4, 2, 1)),
              ("chunk(chunks=3, index=1, dim=-1)", [(2, 5, 8)], lambda: Chunk(3, 1, -1)),
              ("chunk(2, 1, dim=2)", [(3, 9, 4)], lambda: Chunk(2, 1, 2)),
              ("chunk(5, 4)", [(10,)], lambda: Chunk(5, 4, 1))],
}

# Calls PyTorch refuses: archc must refuse them too (a ShapeError at inference).
INVALID: list[tuple[str, list[tuple[int, ...]], Oracle]] = [
    ("conv(8, 5)", [(3, 4, 4)], lambda: nn.Conv2d(3, 8, 5)),
    ("conv(8, 3, groups=2)", [(3, 8, 8)], lambda: nn.Conv2d(3, 8, 3, groups=2)),
    ("conv(8, 3, groups=3)", [(6, 8, 8)], lambda: nn.Conv2d(6, 8, 3, groups=3)),
    ("conv(4, 3, stride=2, padding='same')", [(3, 8, 8)], lambda: nn.Conv2d(3, 4, 3, stride=2, padding="same")),
    ("conv(4, 3, dilation=4)", [(3, 8, 8)], lambda: nn.Conv2d(3, 4, 3, dilation=4)),
    ("maxpool(2, padding=2)", [(3, 8, 8)], lambda: nn.MaxPool2d(2, padding=2)),
    ("maxpool(5)", [(3, 4, 4)], lambda: nn.MaxPool2d(5)),
    ("avgpool(3, padding=2)", [(3, 8, 8)], lambda: nn.AvgPool2d(3, padding=2)),
    ("avgpool(9, stride=2)", [(1, 8, 8)], lambda: nn.AvgPool2d(9, 2)),
    ("conv1d(4, 7)", [(2, 5)], lambda: nn.Conv1d(2, 4, 7)),
    ("pad([0, 0, 0, 0, -4, 0])", [(3, 4, 4)], lambda: nn.ConstantPad3d((0, 0, 0, 0, -4, 0), 0.0)),
    ("concat", [(3, 8, 8), (3, 7, 8)], lambda: lambda xs: torch.cat(xs, 1)),
    ("add", [(3, 8, 8), (4, 8, 8)], lambda: lambda xs: xs[0] + xs[1]),
    ("group_norm(3)", [(8, 4, 4)], lambda: nn.GroupNorm(3, 8)),
    ("layer_norm2d", [(8, 10)], lambda: LayerNorm2d(8)),
    ("permute([0, 1, 1, 2])", [(3, 4, 4)], lambda: Permute([0, 1, 1, 2])),
    ("permute([0, 2, 1])", [(3, 4, 4)], lambda: Permute([0, 2, 1])),
    ("upsample(scale_factor=2, align_corners=true)", [(3, 4, 4)],
     lambda: nn.Upsample(scale_factor=2, align_corners=True)),
    ("upsample(size=[8, 8], scale_factor=2)", [(3, 4, 4)], lambda: nn.Upsample(size=(8, 8), scale_factor=2)),
    ("conv_transpose(4, 3, stride=2, output_padding=2)", [(3, 5, 5)],
     lambda: nn.ConvTranspose2d(3, 4, 3, 2, output_padding=2)),
    ("conv_transpose(4, 3, padding=3)", [(3, 2, 2)], lambda: nn.ConvTranspose2d(3, 4, 3, padding=3)),
    ("conv_transpose(4, 3, groups=2)", [(3, 5, 5)], lambda: nn.ConvTranspose2d(3, 4, 3, groups=2)),
    ("mul", [(3, 8, 8), (4, 1, 1)], lambda: lambda xs: xs[0] * xs[1]),
    ("mul", [(3, 8, 8), (3, 2, 8)], lambda: lambda xs: xs[0] * xs[1]),
    ("channel_shuffle(4)", [(6, 4, 4)], lambda: nn.ChannelShuffle(4)),
    ("channel_shuffle(2)", [(6,)], lambda: nn.ChannelShuffle(2)),
]


def _attrs(call_text: str) -> tuple[Any, Any]:
    call = parse_call(call_text)
    op = registry().get(call.callee)
    args = [evaluate(a, {}) for a in call.args]
    kwargs = {k.name: evaluate(k.value, {}) for k in call.kwargs}
    return op, bind(op, args, kwargs)


def _run(oracle: Any, shapes: list[tuple[int, ...]]) -> tuple[torch.Tensor, int, int]:
    torch.manual_seed(0)
    xs = [torch.randn(1, *s) for s in shapes]
    module = oracle()
    if isinstance(module, nn.Module):
        module.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = module(*xs) if isinstance(module, nn.Module) else module(xs)
    params = sum(p.numel() for p in module.parameters()) if isinstance(module, nn.Module) else 0
    return out, params, counter.get_total_flops()


CASES = [(name, call, shapes, oracle) for name, samples in SAMPLES.items() for call, shapes, oracle in samples]


def test_every_registered_op_has_samples() -> None:
    missing = [op.name for op in registry() if len(SAMPLES.get(op.name, [])) < 2]
    assert not missing, f"ops without at least two torch samples: {missing}"
    unknown = [name for name in SAMPLES if name not in registry()]
    assert not unknown, f"samples for unregistered ops: {unknown}"


@pytest.mark.parametrize(("name", "call", "shapes", "oracle"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_op_matches_torch(name: str, call: str, shapes: list[tuple[int, ...]], oracle: Oracle) -> None:
    op, attrs = _attrs(call)
    assert op.name == name
    ins = tuple(shapes)
    shape = op.infer(ins, attrs)
    out, params, flops = _run(oracle, shapes)
    assert shape == tuple(out.shape[1:]), "output shape"
    assert op.params(ins, attrs) == params, "parameters"
    assert 2 * op.macs(ins, shape, attrs) == flops, "MACs = FlopCounterMode / 2"
    if isinstance(oracle(), nn.Module):
        reference = oracle()
        assert op.buffers(ins, attrs) == sum(b.numel() for b in reference.buffers()), "buffers"
        args, kwargs = op.torch_args(ins, attrs)
        kwargs = {k: v for k, v in kwargs.items() if op.torch_defaults.get(k, object()) != v}
        if op.holds_parameter:  # the expression emission writes, evaluated: the reference's tensor
            made = eval(op.parameter_source([repr(a) for a in args]), {"torch": torch, "nn": nn})
            expected, = reference.parameters()
            assert isinstance(made, nn.Parameter) and made.shape == expected.shape and torch.equal(made, expected)
            return
        emitted = torch_class(op)(*args, **kwargs)
        if op.helper is None:
            assert repr(emitted) == repr(reference), "emitted constructor"
        else:  # a class the generated file defines: with the reference's state, it computes the same
            emitted.load_state_dict(reference.state_dict(), strict=True)
            x = torch.randn(2, *shapes[0])
            torch.manual_seed(0)  # the same draws, where the op draws any (stochastic depth)
            mine = emitted(x)
            torch.manual_seed(0)
            assert torch.equal(mine, reference(x)), "emitted module"


def torch_class(op: Any) -> type[nn.Module]:
    """The class ``op.torch_class`` names: in torch.nn, or the helper class emission writes."""
    if op.helper is None:
        return getattr(nn, op.torch_class.split(".")[1])
    namespace: dict[str, Any] = {"torch": torch, "nn": nn}
    exec(op.helper, namespace)
    return namespace[op.torch_class]


@pytest.mark.parametrize(("call", "shapes", "oracle"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_calls_rejected_like_torch(call: str, shapes: list[tuple[int, ...]], oracle: Oracle) -> None:
    with pytest.raises((RuntimeError, ValueError)):
        _run(oracle, shapes)
    op, attrs = _attrs(call)
    with pytest.raises(ShapeError):
        op.infer(tuple(shapes), attrs)


def test_registry_refuses_a_name_twice() -> None:
    from archc.ops.registry import Registry

    ops = list(registry())
    with pytest.raises(ValueError, match="registered twice"):
        Registry([ops[0], ops[0]])


def test_unknown_op_suggests_a_name() -> None:
    from archc.ops import UnknownOp

    with pytest.raises(UnknownOp) as err:
        registry().get("maxpol")
    assert err.value.suggestion == "maxpool"


def test_flopcounter_convention_is_twice_the_macs() -> None:
    """The convention the samples rely on: FlopCounterMode counts 2 per multiply-accumulate."""
    conv = nn.Conv2d(2, 3, 1, bias=False)
    with FlopCounterMode(display=False) as counter:
        conv(torch.zeros(1, 2, 4, 4))
    assert counter.get_total_flops() == 2 * math.prod((3, 4, 4)) * 2


@pytest.mark.parametrize("mode", ["row", "batch"])
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_stochastic_depth_class_draws_what_torchvision_draws(mode: str, p: float) -> None:
    """The class emitted files define (they do not import torchvision) equals
    ``torchvision.ops.stochastic_depth`` bit for bit under the same seed, in training and in
    eval mode, and leaves the generator where torchvision leaves it."""
    made = torch_class(registry().get("stochastic_depth"))(p, mode)
    x = torch.randn(64, 3, 2, 2)
    for training in (True, False):
        made.train(training)
        torch.manual_seed(7)
        expected, after = stochastic_depth(x, p, mode, training), torch.rand(1)
        torch.manual_seed(7)
        out = made(x)
        assert torch.equal(out, expected) and torch.equal(torch.rand(1), after)
        if not training or p == 0.0:
            assert out is x
    if 0.0 < p < 1.0 and mode == "row":  # rows really differ: the test can fail
        torch.manual_seed(7)
        rows = stochastic_depth(x, p, mode, True).flatten(1).abs().sum(1)
        assert (rows == 0).any() and (rows != 0).any()


def test_mul_refuses_factors_of_different_ranks() -> None:
    # PyTorch would broadcast (N, C) against (N, C, H, W) by aligning N with H: never meant
    op, attrs = _attrs("mul")
    with pytest.raises(ShapeError, match="rank mismatch at mul: 3×8×8 vs 3") as err:
        op.infer(((3, 8, 8), (3,)), attrs)
    assert err.value.code == "E501"
    with pytest.raises(ShapeError, match=r"shapes do not broadcast at mul: 3×8×8 vs 4×1×1") as err:
        op.infer(((3, 8, 8), (4, 1, 1)), attrs)
    assert err.value.code == "E501" and "dimension 1" in (err.value.hint or "")


@pytest.mark.parametrize(("channels", "groups"), [(116, 2), (12, 3), (8, 4)])
def test_channel_shuffle_is_shufflenet_v2s(channels: int, groups: int) -> None:
    """nn.ChannelShuffle, which archc emits, equals torchvision ShuffleNetV2's own function
    (view, transpose, contiguous, view) bit for bit."""
    from torchvision.models.shufflenetv2 import channel_shuffle

    x = torch.randn(2, channels, 5, 3)
    assert torch.equal(nn.ChannelShuffle(groups)(x), channel_shuffle(x, groups))
    assert not torch.equal(channel_shuffle(x, groups), x)
