"""Every op's other counting conventions and memory rules, against the real tools and torch.

On every sample of tests/ops/test_ops_vs_torch.py (and a few more here), on the same
hand-written oracle modules:

- ``fvcore_flops`` equals ``fvcore.nn.FlopCountAnalysis(module.eval(), x).total()``;
- ``ptflops_macs`` equals ``ptflops.get_model_complexity_info(module, shape)``'s MACs;
- ``all_flops`` equals the ``all`` definition (docs/counting.md) evaluated on torch's own
  figures: ``FlopCounterMode``'s FLOPs, element counts of real tensors, and pooling windows
  measured with ``F.unfold`` or the pooling's own gradient;
- inference: the bytes an eval forward pass allocates (an allocation-tracking dispatch mode)
  equal the output (unless ``aliases_input``) plus ``workspace``, at batch 2;
- training: the distinct storages autograd saves (``saved_tensors_hooks``) equal ``saved``;
  in-place capable activations are checked both in and out of place.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from archc.ops import registry
from archc.ops.base import Extra

from ..measure import fvcore_total, inference_peak, ptflops_total, saved_bytes
from .test_ops_vs_torch import SAMPLES, Chunk, LayerScale, Permute, StochasticDepth, TransformInput, _attrs

# Cases the samples above do not reach: convolutions fvcore cannot see, pools with odd windows.
EXTRA: dict[str, list[tuple[str, list[tuple[int, ...]], Any]]] = {
    "conv": [("conv(6, 3, padding='valid')", [(2, 7, 7)], lambda: nn.Conv2d(2, 6, 3, padding="valid")),
             ("conv(4, 3, padding='same', padding_mode='reflect')", [(2, 6, 6)],
              lambda: nn.Conv2d(2, 4, 3, padding="same", padding_mode="reflect")),
             ("conv(4, 2, padding='same', dilation=3)", [(2, 9, 8)],
              lambda: nn.Conv2d(2, 4, 2, padding="same", dilation=3))],
    "bn": [("bn(affine=false, track_running_stats=false)", [(3, 4, 4)],
            lambda: nn.BatchNorm2d(3, affine=False, track_running_stats=False))],
    "maxpool": [("maxpool(3, stride=2, padding=1, ceil_mode=true)", [(2, 10, 11)],
                 lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True))],
    "adaptive_avgpool": [("adaptive_avgpool([3, 5])", [(2, 7, 11)], lambda: nn.AdaptiveAvgPool2d((3, 5)))],
    # p = 0 returns the input itself, in training too (no mask); p = 1 keeps one zero
    "dropout": [("dropout(0.0)", [(4, 5, 5)], lambda: nn.Dropout(0.0)),
                ("dropout(1.0)", [(4, 5, 5)], lambda: nn.Dropout(1.0))],
    "dropout2d": [("dropout2d(0.0)", [(4, 5, 5)], lambda: nn.Dropout2d(0.0)),
                  ("dropout2d(1.0)", [(4, 5, 5)], lambda: nn.Dropout2d(1.0))],
}
CASES = [(name, call, shapes, oracle) for table in (SAMPLES, EXTRA) for name, samples in table.items()
         for call, shapes, oracle in samples]
IDS = [f"{c[0]}:{c[1]}" for c in CASES]


class Merge(nn.Module):
    """A merge's oracle (a function of the input tensors) as a module, for the tools."""

    def __init__(self, fn: Any):
        super().__init__()
        self.fn = fn

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.fn(list(xs))


def _module(oracle: Any) -> nn.Module:
    made = oracle()
    return made if isinstance(made, nn.Module) else Merge(made)


def _op(call: str, shapes: list[tuple[int, ...]]) -> tuple[Any, Any, tuple[tuple[int, ...], ...], tuple[int, ...]]:
    op, attrs = _attrs(call)
    ins = tuple(shapes)
    return op, attrs, ins, op.infer(ins, attrs)


@pytest.mark.parametrize(("name", "call", "shapes", "oracle"), CASES, ids=IDS)
def test_fvcore_and_ptflops_match_the_tools(name: str, call: str, shapes: list[tuple[int, ...]], oracle: Any) -> None:
    op, attrs, ins, out = _op(call, shapes)
    torch.manual_seed(0)
    xs = [torch.randn(1, *s) for s in shapes]
    assert op.fvcore_flops(ins, out, attrs) == fvcore_total(_module(oracle), xs), "fvcore"
    assert op.ptflops_macs(ins, out, attrs) == ptflops_total(_module(oracle), shapes), "ptflops"
    costs = op.costs(ins, out, attrs)
    assert list(costs) == ["macs", "flops", "fvcore", "ptflops", "all"]
    assert costs["flops"] == 2 * costs["macs"]


# --- the `all` convention, from torch's figures --------------------------------------------


def _window_sizes_unfold(pool: nn.Module, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Input elements (padding excluded) under each output's window, measured by unfolding a
    mask of ones: padded with zeros, and on the right by one more stride for ceil_mode windows."""
    kernel = nn.modules.utils._pair(pool.kernel_size)
    stride = nn.modules.utils._pair(pool.stride)
    padding = nn.modules.utils._pair(pool.padding)
    dilation = nn.modules.utils._pair(getattr(pool, "dilation", 1))
    mask = torch.ones(1, 1, *x.shape[2:])
    mask = F.pad(mask, (padding[1], padding[1] + stride[1], padding[0], padding[0] + stride[0]))
    cols = F.unfold(mask, kernel, dilation=dilation, stride=stride)
    rows = [(mask.shape[2 + d] - dilation[d] * (kernel[d] - 1) - 1) // stride[d] + 1 for d in range(2)]
    return cols.sum(1).reshape(rows)[: out.shape[2], : out.shape[3]]


def _window_sizes_adaptive(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Elements under each adaptive window: the non-zeros of adaptive average pooling's Jacobian."""
    size = tuple(out.shape[2:])
    jac = torch.autograd.functional.jacobian(lambda t: F.adaptive_avg_pool2d(t, size), torch.ones(1, 1, *x.shape[2:]))
    return (jac.reshape(*size, -1) != 0).sum(-1)


class ElementwiseArithmetic(TorchDispatchMode):
    """Elements the aten multiplies and adds of a forward pass write: one operation each."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.overloadpacket in (torch.ops.aten.mul, torch.ops.aten.add):
            self.count += out.numel()
        return out


def _all_oracle(name: str, module: nn.Module, xs: list[torch.Tensor], out: torch.Tensor) -> int:
    n = out.numel()
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        with FlopCounterMode(display=False) as counter:
            module(*xs)
        return counter.get_total_flops() + (n if module.bias is not None else 0)
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return n * (2 if module.track_running_stats else 6)
    if isinstance(module, (nn.GroupNorm, nn.LayerNorm)):  # LayerNorm2d is an nn.LayerNorm
        return 6 * n  # statistics 4, then one scale and one shift
    if isinstance(module, nn.Upsample):
        return n * (7 if module.mode == "bilinear" else 0)  # 4 multiplies, 3 adds per output
    if isinstance(module, nn.LocalResponseNorm):
        return n * (module.size + 4)
    channels = xs[0].shape[1]
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        sizes = _window_sizes_unfold(module, xs[0], out)
        return channels * int(sizes.sum() - (sizes.numel() if isinstance(module, nn.MaxPool2d) else 0))
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        sizes = _window_sizes_adaptive(xs[0], out)
        return channels * int(sizes.sum() - (sizes.numel() if isinstance(module, nn.AdaptiveMaxPool2d) else 0))
    if isinstance(module, (nn.Softmax, nn.LogSoftmax)):
        return 5 * n
    if isinstance(module, (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU, nn.Hardswish,
                           nn.Hardsigmoid)):
        return n
    if name in ("add", "mul"):
        return (len(xs) - 1) * n
    if isinstance(module, TransformInput):
        with ElementwiseArithmetic() as arithmetic:
            module(*xs)
        return arithmetic.count
    if isinstance(module, LayerScale):
        return n  # one multiply per element
    assert isinstance(module, (nn.Dropout, nn.Dropout2d, StochasticDepth, nn.Flatten, nn.Identity, nn.ConstantPad3d,
                               nn.ChannelShuffle, Merge, Permute, Chunk)), type(module)
    return 0


@pytest.mark.parametrize(("name", "call", "shapes", "oracle"), CASES, ids=IDS)
def test_all_convention(name: str, call: str, shapes: list[tuple[int, ...]], oracle: Any) -> None:
    op, attrs, ins, out_shape = _op(call, shapes)
    module = _module(oracle).eval()
    xs = [torch.randn(1, *s) for s in shapes]
    with torch.no_grad():
        out = module(*xs)
    assert op.all_flops(ins, out_shape, attrs) == _all_oracle(name, module, xs, out)


def test_every_op_is_covered() -> None:
    assert {op.name for op in registry()} <= {c[0] for c in CASES}


# --- memory ----------------------------------------------------------------------------------

BATCH = 2


def _bytes(extras: tuple[Extra, ...] | list[Extra], itemsize: int = 4) -> int:
    return sum(e.elements * (BATCH if e.per_sample else 1) * (e.itemsize or itemsize) for e in extras)


def _inplace_variants(module: nn.Module) -> list[bool]:
    return [False, True] if hasattr(module, "inplace") else [False]


MEMORY_CASES = [(*c, inplace) for c in CASES for inplace in _inplace_variants(_module(c[3]))]
MEMORY_IDS = [f"{c[0]}:{c[1]}{':inplace' if c[4] else ''}" for c in MEMORY_CASES]


@pytest.mark.parametrize(("name", "call", "shapes", "oracle", "inplace"), MEMORY_CASES, ids=MEMORY_IDS)
def test_inference_allocation(name: str, call: str, shapes: list[tuple[int, ...]], oracle: Any,
                              inplace: bool) -> None:
    op, attrs, ins, out = _op(call, shapes)
    module = _module(oracle)
    if inplace:
        module.inplace = True
    xs = [torch.randn(BATCH, *s) for s in shapes]
    fresh = 0 if inplace or op.aliases_input(attrs, False) else BATCH * math.prod(out) * 4
    assert inference_peak(module, xs) == fresh + _bytes(op.workspace(ins, out, attrs))


@pytest.mark.parametrize(("name", "call", "shapes", "oracle", "inplace"), MEMORY_CASES, ids=MEMORY_IDS)
def test_saved_for_backward(name: str, call: str, shapes: list[tuple[int, ...]], oracle: Any, inplace: bool) -> None:
    op, attrs, ins, out = _op(call, shapes)
    module = _module(oracle)
    if inplace:
        module.inplace = True
    leaves = [torch.randn(BATCH, *s, requires_grad=True) for s in shapes]
    xs = [x * 1 for x in leaves]  # fresh tensors that an in-place op may overwrite
    storages: dict[str, int] = {}
    extras: list[Extra] = []
    for s in op.saved(ins, out, attrs, inplace):
        if s.what == "input" or (s.what == "output" and inplace):  # input 0 unless a merge keeps another
            storages[f"input {s.index}"] = BATCH * math.prod(ins[s.index]) * 4
        elif s.what == "output":
            storages["output"] = BATCH * math.prod(out) * 4
        else:
            extras.append(s.extra)
    assert saved_bytes(module, xs) == sum(storages.values()) + _bytes(extras)
