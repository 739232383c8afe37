"""Layer scale: ``layer_scale`` (a learnable per-channel factor, ConvNeXt's ``layer_scale``).

YAML::

    blocks:
      CNBlock:
        params: {dim: int}
        residual:
          body:
            - block: [...]
            - layer_scale: layer_scale(1e-6)      # self.layer_scale = nn.Parameter(...)
            - stochastic_depth: stochastic_depth(0.1)

One learnable factor per channel, initialised to ``init_value`` (Touvron et al., "Going
deeper with image transformers", 2021; ConvNeXt, Liu et al., 2022, uses 1e-6), multiplying
the input: ``x * scale``, where the scale has shape C×1×1 for a C×H×W image (C×1 for a
C×L sequence, F for features), so it broadcasts over the positions.

torchvision's ``CNBlock`` holds the scale as an ``nn.Parameter`` attribute of the block
itself, not as a module: its state_dict key is ``<block>.layer_scale``. archc writes it
the same way, ``self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 1e-06)`` in
``__init__`` and ``x = self.layer_scale * x`` in ``forward``, so the keys match. A
parameter cannot be an entry of an ``nn.Sequential``: give it a name in a list whose
entries are named (a block's layers, a residual's body), as above; in a numbered list
validation refuses it (E204).

Parameters: C. MACs 0 (``FlopCounterMode`` counts no elementwise product); fvcore and
ptflops count nothing (the ``*`` operator is not hooked); ``all`` counts one multiply per
output element. The output is a new tensor; autograd keeps the input (for the scale's
gradient; the scale itself is a parameter). Position-wise: the receptive field does not
change.
"""

from __future__ import annotations

import math
from typing import Any

from .base import SAVES_INPUT, Attrs, Op, Saved, Shape


class LayerScaleAttrs(Attrs):
    init_value: float = 1e-6


class LayerScale(Op):
    example = ("layer_scale(1e-6)", (96, 56, 56))
    name = "layer_scale"
    family = "norm"  # a learnable per-channel affine factor, drawn like one
    Attrs = LayerScaleAttrs
    torch_class = "nn.Parameter"
    holds_parameter = True
    apply = "{param} * {x}"  # torchvision's order: self.layer_scale * self.block(input)
    fresh_output = True  # a new tensor; its backward keeps the input, not the output

    @property
    def stateful(self) -> bool:
        return True

    def params(self, ins: tuple[Shape, ...], a: LayerScaleAttrs) -> int:
        return ins[0][0]

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: LayerScaleAttrs) -> int:
        return math.prod(out)

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: LayerScaleAttrs, inplace: bool) -> tuple[Saved, ...]:
        return SAVES_INPUT

    def label(self, a: LayerScaleAttrs) -> str:
        return f"layer scale {a.init_value:g}"

    def torch_args(self, ins: tuple[Shape, ...], a: LayerScaleAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        # the tensor's shape (channels, then a 1 per other dimension) and its initial value
        return (ins[0][0], *(1 for _ in ins[0][1:]), a.init_value), {}

    def parameter_source(self, args: list[str]) -> str:
        return f"nn.Parameter(torch.ones({', '.join(args[:-1])}) * {args[-1]})"
