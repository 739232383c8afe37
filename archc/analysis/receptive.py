"""Receptive field and effective stride of every node, per spatial dimension of the input.

The receptive field (RF) of a tensor is the extent of input pixels one of its positions
can see; its effective stride ("jump") is how far apart in the input two neighbouring
positions' fields start. With each op's window (``Op.window``: kernel extent k with the
dilation folded in, and stride s), the standard recurrences are (Araujo, Norris and
Sim, "Computing Receptive Fields of Convolutional Neural Networks", Distill, 2019)::

    rf_out   = rf_in + (k - 1) · jump_in        k = dilation · (kernel - 1) + 1
    jump_out = jump_in · s

starting from rf = jump = 1 at the input. Where paths merge (a residual add, an
Inception concat) the figures are the maximum over the inputs, per dimension; an input
broadcast over the map (a squeeze-and-excitation gate, C×1×1, times the C×H×W map)
counts for the field but not for the stride. Position-wise ops (norms, activations,
dropout, merges) change nothing.

Decisions, documented in docs/counting.md:

- adaptive pooling acts as a pool whose kernel is its largest window and whose stride is
  the largest step between window starts (the input size for a 1×1 output), so a global
  pool's field covers the whole map it pools;
- a dense layer on features (``linear`` after ``flatten``) sees every position of the
  map the features came from, as a global pool would; the figures then stay fixed;
- the figures are not clipped to the input: a field larger than the image (ResNet-50's
  last stage) means a position sees all of it, padding included;
- an op that moves dimensions (``permute`` to channels-last, as ConvNeXt's blocks do) moves
  the figures with them: each tensor remembers which of its dimensions holds each spatial
  dimension of the input, and later windows apply to the dimension they act on;
- an op whose neighbouring outputs are less than one input position apart (``upsample``, a
  transposed convolution with stride > 1) has no single field: how much of the input a
  position sees then depends on where it falls between input positions, and the stride
  between neighbours alternates. The integer recurrences cannot describe that, so from
  such an op on (everything that reads it, merges included) the figures are unknown
  (None, shown as "–"), never a rounded number.
"""

from __future__ import annotations

from ..ir.graph import Graph
from ..ops.base import FRACTIONAL


class Field:
    """One tensor's figures (a plain class: thousands are made on `archc table`'s cold path)."""

    __slots__ = ("axes", "jump", "rf", "sizes")

    def __init__(self, rf: tuple[int, ...], jump: tuple[int, ...], sizes: tuple[int, ...],
                 axes: tuple[int, ...] | None = None):
        self.rf = rf  # per spatial dimension of the network's input
        self.jump = jump
        self.sizes = sizes  # the spatial sizes of the map (the last one, once flattened)
        # which dimension of the tensor (batch excluded) holds each spatial dimension of the
        # input: channels first (1, 2) unless a permute moved them
        self.axes = axes if axes is not None else tuple(range(1, len(rf) + 1))

    def __repr__(self) -> str:
        return f"Field(rf={self.rf}, jump={self.jump}, sizes={self.sizes}, axes={self.axes})"


def receptive_fields(graph: Graph) -> dict[str, Field | None]:
    """Node id -> its output's field, or None (unknown shapes, or an input without spatial dimensions)."""
    dims = len(graph.input_shape) - 1
    out: dict[str, Field | None] = {nid: None for nid in graph.nodes}
    if dims < 1:
        return out
    out[graph.input] = Field((1,) * dims, (1,) * dims, tuple(graph.input_shape[1:]))
    for node in graph.nodes.values():
        if node.op is None or node.shape is None or node.in_shapes is None:
            continue
        ins = [out.get(src) for src in node.inputs]
        if not ins or any(f is None for f in ins):
            continue
        first = ins[0]
        assert first is not None
        rf, jump, sizes = first.rf, first.jump, first.sizes
        if len(ins) > 1:  # merging paths: the largest, per dimension
            rf = tuple(max(f.rf[d] for f in ins if f is not None) for d in range(dims))
            # a factor broadcast over the map (a squeeze-and-excitation gate, 1×1) widens the
            # field but does not set the stride: neighbouring outputs read the same gate value
            out_sizes = tuple(node.shape[1:]) if len(node.shape) - 1 == dims else None
            steps = [f for f in ins if f is not None and f.sizes == out_sizes] or ins
            jump = tuple(max(f.jump[d] for f in steps if f is not None) for d in range(dims))
        window = node.op.window(node.in_shapes, node.shape, node.attrs)
        if window == FRACTIONAL:  # no single field: unknown from here on (module docstring)
            continue
        axes = first.axes
        if window is None:  # position-wise: the same field (on a map of perhaps another size: pad)
            moved = node.op.axes(node.in_shapes, node.attrs)
            if moved is not None:  # the spatial dimensions move with the op (permute)
                axes = tuple(moved[a] for a in axes)
            if len(node.shape) - 1 == dims:
                resized = tuple(node.shape[a] for a in axes)
                if resized != sizes or moved is not None or len(ins) > 1:
                    out[node.id] = Field(rf, jump, resized, axes)
                    continue
            if len(ins) == 1 and moved is None:
                out[node.id] = first
                continue
            out[node.id] = Field(rf, jump, sizes, axes)
            continue
        spatial = len(node.in_shapes[0]) - 1 == dims
        if not window or not spatial or len(window) != dims:
            # every output reads the whole map: a global window over its sizes, after which
            # the map is one position (so a second dense layer adds nothing)
            rf = tuple(r + (n - 1) * j for r, j, n in zip(rf, jump, sizes))
            jump = tuple(j * n for j, n in zip(jump, sizes))
            sizes = (1,) * dims
            axes = None
        else:
            # the window's entry k acts on tensor dimension k + 1; a spatial dimension of the
            # input held elsewhere (dimension 0, after a permute) is not touched
            per = [window[a - 1] if a >= 1 else (1, 1) for a in axes]
            rf = tuple(r + (k - 1) * j for r, j, (k, _) in zip(rf, jump, per))
            jump = tuple(j * s for j, (_, s) in zip(jump, per))
        if len(node.shape) - 1 == dims:
            sizes = tuple(node.shape[a] for a in (axes or range(1, dims + 1)))
        out[node.id] = Field(rf, jump, sizes, axes)
    return out
