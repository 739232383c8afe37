"""The oracle: a tiny interpreter that runs archc's concrete IR with ``torch.nn.functional``.

It reads what lowering produced (:class:`archc.ir.graph.Graph`: nodes in creation order,
which is topological, each with its op, attributes, inputs and module path) and nothing
that emission produced: no generated source, no ``torch_args``, no emit/ code. Each op
is one ``F.*`` call written from the op's PyTorch documentation, so the oracle is an
independent reading of "what network does this spec describe". Tests only.

    out = oracle(graph, state, x, training=False)

``state`` maps state_dict keys (``<module path>.weight``, ``.bias``, ``.running_mean``,
``.running_var``, ``.num_batches_tracked``) to tensors, e.g. a *clone* of an archc-built
module's ``state_dict()`` (its tensors share storage with the module, and in training
the oracle updates batch norm statistics in place, exactly as ``nn.BatchNorm2d`` does).

In eval mode it returns the main output; in training it runs the training-only heads
too and returns ``(main, *heads)`` in ``train_outputs`` order when there are heads,
as the emitted network does. Nodes run in creation order (the spec's order), so
dropout draws its random numbers in the order the network's ``forward`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import torch
import torch.nn.functional as F

from archc.ir.graph import Graph, Node, path_str
from archc.ir.inplace import inplace_nodes

Tensor = torch.Tensor
Impl = Callable[[Node, list[Tensor], "State", bool], Tensor]


class State:
    """The parameters and buffers, by module path; remembers which keys were read."""

    def __init__(self, tensors: MutableMapping[str, Tensor]):
        self.tensors = tensors
        self.read: set[str] = set()

    def get(self, node: Node, name: str) -> Tensor | None:
        key = f"{path_str(node.scope)}.{name}"
        if key not in self.tensors:
            return None
        self.read.add(key)
        return self.tensors[key]

    def need(self, node: Node, name: str) -> Tensor:
        value = self.get(node, name)
        if value is None:
            raise KeyError(f"{node.id}: no '{path_str(node.scope)}.{name}' in the state")
        return value

    def own(self, node: Node) -> Tensor:
        """A parameter held by the enclosing module under the node's own path (ConvNeXt's
        ``<block>.layer_scale``), not a module's ``<path>.weight``."""
        key = path_str(node.scope)
        if key not in self.tensors:
            raise KeyError(f"{node.id}: no '{key}' in the state")
        self.read.add(key)
        return self.tensors[key]


# --- the ops, each written from the PyTorch documentation of the module it stands for ------


def _conv(conv: Callable[..., Tensor], n: int) -> Impl:
    def run(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
        a = node.attrs
        weight, bias = state.need(node, "weight"), state.get(node, "bias") if a.bias else None
        x = ins[0]
        if a.padding_mode == "zeros":
            return conv(x, weight, bias, a.stride, a.padding, a.dilation, a.groups)
        # nn.ConvNd with another padding mode: F.pad with that mode, then an unpadded convolution.
        # F.pad lists the last dimension first, each as (before, after).
        kernel = _ntuple(a.kernel, n)
        dilation = _ntuple(a.dilation, n)
        if a.padding == "valid":
            before_after = [(0, 0)] * n
        elif a.padding == "same":
            before_after = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)]
        else:
            before_after = [(p, p) for p in _ntuple(a.padding, n)]
        pad = [v for pair in reversed(before_after) for v in pair]
        return conv(F.pad(x, pad, mode=a.padding_mode), weight, bias, a.stride, 0, a.dilation, a.groups)

    return run


def _ntuple(value: Any, n: int) -> tuple[int, ...]:
    return (value,) * n if isinstance(value, int) else tuple(value)


def _linear(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    return F.linear(ins[0], state.need(node, "weight"), state.get(node, "bias") if node.attrs.bias else None)


def _batch_norm(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    # nn.modules.batchnorm._BatchNorm.forward, step by step
    a = node.attrs
    weight = state.need(node, "weight") if a.affine else None
    bias = state.need(node, "bias") if a.affine else None
    mean = var = None
    factor = 0.0 if a.momentum is None else a.momentum
    if a.track_running_stats:
        mean, var = state.need(node, "running_mean"), state.need(node, "running_var")
        count = state.need(node, "num_batches_tracked")
        if training:
            count.add_(1)
            factor = 1.0 / float(count) if a.momentum is None else a.momentum  # None: cumulative average
    # without running statistics it normalises with the batch's own, in eval mode too
    use_batch = training or not a.track_running_stats
    return F.batch_norm(ins[0], mean, var, weight, bias, use_batch, factor, a.eps)


def _lrn(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    a = node.attrs
    return F.local_response_norm(ins[0], a.size, a.alpha, a.beta, a.k)


def _group_norm(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    # nn.GroupNorm: the batch's own statistics per sample and group, in eval mode too
    a = node.attrs
    weight, bias = (state.need(node, "weight"), state.need(node, "bias")) if a.affine else (None, None)
    return F.group_norm(ins[0], a.num_groups, weight, bias, a.eps)


def _layer_norm(channels_last: bool) -> Impl:
    # nn.LayerNorm(n) normalises the last dimension; torchvision's LayerNorm2d the channels of
    # an N×C×H×W map, by moving them last, normalising, and moving them back
    def run(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
        a = node.attrs
        weight, bias = (state.need(node, "weight"), state.need(node, "bias")) if a.affine else (None, None)
        x = ins[0] if channels_last else ins[0].permute(0, 2, 3, 1)
        y = F.layer_norm(x, (x.shape[-1],), weight, bias, a.eps)
        return y if channels_last else y.permute(0, 3, 1, 2)

    return run


def _permute(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    return torch.permute(ins[0], node.attrs.dims)  # PyTorch numbering: the batch is dim 0


def _upsample(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    a = node.attrs
    return F.interpolate(ins[0], size=a.size, scale_factor=a.scale_factor, mode=a.mode, align_corners=a.align_corners)


def _conv_transpose(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    a = node.attrs
    weight, bias = state.need(node, "weight"), state.get(node, "bias") if a.bias else None
    return F.conv_transpose2d(ins[0], weight, bias, a.stride, a.padding, a.output_padding, a.groups, a.dilation)


def _maxpool(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    a = node.attrs
    return F.max_pool2d(ins[0], a.kernel, a.stride, a.padding, a.dilation, a.ceil_mode)


def _avgpool(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    a = node.attrs
    return F.avg_pool2d(ins[0], a.kernel, a.stride, a.padding, a.ceil_mode, a.count_include_pad, a.divisor_override)


def _adaptive(pool: Callable[..., Tensor]) -> Impl:
    def run(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
        return pool(ins[0], node.attrs.output_size)

    return run


def _elementwise(fn: Callable[[Tensor], Tensor]) -> Impl:
    def run(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
        return fn(ins[0])

    return run


def _leaky_relu(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    return F.leaky_relu(ins[0], node.attrs.negative_slope)


def _gelu(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    return F.gelu(ins[0], approximate=node.attrs.approximate)


def _softmax(fn: Callable[..., Tensor]) -> Impl:
    def run(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
        return fn(ins[0], dim=node.attrs.dim)  # PyTorch numbering: the batch is dim 0

    return run


def _dropout(fn: Callable[..., Tensor]) -> Impl:
    # F.dropout draws one Bernoulli sample per element (dropout2d: per channel) from the global
    # generator, in place or not alike, so running nodes in the network's order draws the same mask
    def run(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
        return fn(ins[0], node.attrs.p, training)

    return run


def _stochastic_depth(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    # torchvision's own function is the reference (imported here only: the tests' conftest makes
    # torchvision importable on a CPU-only torch); archc's emitted class must draw the same numbers
    from torchvision.ops import stochastic_depth

    return stochastic_depth(ins[0], node.attrs.p, node.attrs.mode, training)


def _channel_shuffle(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    # ShuffleNet's reshape-transpose-reshape (torchvision's shufflenetv2.channel_shuffle)
    x = ins[0]
    n, c, rest = x.shape[0], x.shape[1], x.shape[2:]
    g = node.attrs.groups
    return x.reshape(n, g, c // g, *rest).transpose(1, 2).reshape(n, c, *rest)


def _chunk(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    # torchvision's ShuffleNetV2: x1, x2 = x.chunk(2, dim=1); PyTorch numbering, batch is dim 0
    return torch.chunk(ins[0], node.attrs.chunks, node.attrs.dim)[node.attrs.index]


def _layer_scale(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    return state.own(node) * ins[0]  # torchvision's CNBlock: self.layer_scale * self.block(input)


def _flatten(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    return torch.flatten(ins[0], node.attrs.start_dim, node.attrs.end_dim)


def _pad(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    # nn.ConstantPad3d: the last three dimensions (C, H, W of an image batch), last first
    return F.pad(ins[0], list(node.attrs.padding), mode="constant", value=node.attrs.value)


def _identity(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    return ins[0]


def _channel_affine(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    # y[:, c] = x[:, c] * scale[c] + shift[c], all channels at once: the constants as tensors of
    # x's dtype, one per channel, broadcast over the dimensions after the channels. A multiply
    # then an add, each rounded once, as for a Python float (which torch rounds to x's dtype)
    x = ins[0]
    shape = (1, -1) + (1,) * (x.dim() - 2)
    scale = torch.tensor(node.attrs.scale, dtype=x.dtype).view(shape)
    shift = torch.tensor(node.attrs.shift, dtype=x.dtype).view(shape)
    return x * scale + shift


def _concat(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    return torch.cat(ins, node.attrs.dim)


def _add(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    # left to right, as `a + b + c` evaluates (float addition is commutative, not associative)
    out = ins[0]
    for other in ins[1:]:
        out = out + other
    return out


def _mul(node: Node, ins: list[Tensor], state: State, training: bool) -> Tensor:
    out = ins[0]  # left to right, broadcasting sizes of 1 (torch.mul)
    for other in ins[1:]:
        out = torch.mul(out, other)
    return out


OPS: Mapping[str, Impl] = {
    "conv": _conv(F.conv2d, 2),
    "conv1d": _conv(F.conv1d, 1),
    "linear": _linear,
    "bn": _batch_norm,
    "bn1d": _batch_norm,
    "lrn": _lrn,
    "maxpool": _maxpool,
    "avgpool": _avgpool,
    "adaptive_avgpool": _adaptive(F.adaptive_avg_pool2d),
    "adaptive_maxpool": _adaptive(F.adaptive_max_pool2d),
    "relu": _elementwise(F.relu),
    "relu6": _elementwise(F.relu6),
    "leaky_relu": _leaky_relu,
    "tanh": _elementwise(torch.tanh),
    "sigmoid": _elementwise(torch.sigmoid),
    "gelu": _gelu,
    "silu": _elementwise(F.silu),
    "hardswish": _elementwise(F.hardswish),
    "hardsigmoid": _elementwise(F.hardsigmoid),
    "softmax": _softmax(F.softmax),
    "log_softmax": _softmax(F.log_softmax),
    "dropout": _dropout(F.dropout),
    "dropout2d": _dropout(F.dropout2d),
    "flatten": _flatten,
    "pad": _pad,
    "identity": _identity,
    "channel_affine": _channel_affine,
    "concat": _concat,
    "add": _add,
    "group_norm": _group_norm,
    "layer_norm": _layer_norm(True),
    "layer_norm2d": _layer_norm(False),
    "permute": _permute,
    "upsample": _upsample,
    "conv_transpose": _conv_transpose,
    "mul": _mul,
    "channel_shuffle": _channel_shuffle,
    "stochastic_depth": _stochastic_depth,
    "layer_scale": _layer_scale,
    "chunk": _chunk,
}


def _laid_out_like(x: Tensor, y: Tensor) -> Tensor:
    """``y``'s values with ``x``'s strides, as an in-place op on ``x`` would leave them."""
    if y.shape != x.shape or y.stride() == x.stride():
        return y
    out = torch.empty_strided(x.shape, x.stride(), dtype=y.dtype, device=y.device)
    return out.copy_(y)


def oracle(graph: Graph, state: MutableMapping[str, Tensor] | State, x: Tensor, *,
           training: bool = False) -> Tensor | tuple[Tensor, ...]:
    """Run ``graph`` on the batch ``x`` with the parameters and buffers in ``state``."""
    st = state if isinstance(state, State) else State(state)
    values: dict[str, Tensor] = {graph.input: x}
    # an op the network runs in place (`nn.ReLU(inplace=True)`, `x += identity`) leaves its result
    # laid out as its input; computed out of place, a tensor with a dimension of size 1 may come back
    # with other strides, and some kernels sum in another order then (F.group_norm: ~1e-7). The
    # oracle computes out of place (never overwriting a value it reads later) and lays the result out
    # as the input, where the IR's in-place analysis says the network runs in place.
    in_place = inplace_nodes(graph)
    eval_norms = set(graph.frozen_norms)  # `freeze: {norms: eval}`: they run in eval mode in training too
    for nid, node in graph.nodes.items():
        if node.op is None:
            if nid != graph.input:
                raise ValueError(f"{nid!r} has no op: the graph came from a spec with errors")
            continue
        if node.training_only and not training:
            continue  # a side head: the network does not run it in eval mode
        values[nid] = OPS[node.op.name](node, [values[i] for i in node.inputs], st,
                                        training and node.scope not in eval_norms)
        if nid in in_place:
            values[nid] = _laid_out_like(values[node.inputs[0]], values[nid])
    assert graph.output is not None
    main = values[graph.output]
    if training and graph.heads:
        return (main, *(values[h.node] for h in graph.heads))
    return main
