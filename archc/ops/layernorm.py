"""Layer normalisation: ``layer_norm`` (nn.LayerNorm over the last dimension) and
``layer_norm2d`` (over the channels of a C×H×W map, torchvision's ``LayerNorm2d``).

YAML::

    - layer_norm(eps=1e-6)          # nn.LayerNorm(features inferred, eps=1e-06)
    - norm: layer_norm2d(eps=1e-6)  # ConvNeXt's stem, downsampling and head
    - layer_norm(affine=false)      # elementwise_affine=False

``layer_norm`` is ``nn.LayerNorm(n)`` with ``n`` the input's last dimension: the
features of a vector, or the channels of a channels-last map (ConvNeXt's blocks write
``permute([0, 2, 3, 1])``, ``layer_norm``, linear layers, ``permute([0, 3, 1, 2])``).
``layer_norm2d`` normalises the channels of each position of a C×H×W map: exactly
``torchvision.models.convnext.LayerNorm2d``, an ``nn.LayerNorm`` subclass that permutes
to channels-last, normalises and permutes back (state_dict keys ``weight`` and ``bias``
of shape C). Emission writes that class once into the generated file.

Both normalise each sample with its own statistics, in eval mode too: no buffers, and
neither folds into the layer before it. ``2 × n`` parameters when affine (the
``elementwise_affine`` flag, spelled ``affine`` like the other norms); no MACs. Other
conventions, per element of the input: fvcore 5 when affine, else 4 (its
``aten::layer_norm`` handle); ptflops 1 for ``layer_norm`` (its ``nn.LayerNorm`` hook)
and 0 for ``layer_norm2d`` (it hooks modules by exact type, and does not patch
``F.layer_norm``); ``all`` 6, as for ``group_norm``.

Autograd keeps the input and the mean and inverse standard deviation of each normalised
vector (float32), which inference computes too. ``layer_norm2d``'s output is a
channels-last tensor seen through a permutation: a later ``flatten`` of a map larger
than 1×1 copies it (the memory analysis assumes a view).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from .base import Attrs, Extra, Op, Saved, Shape


class LayerNormAttrs(Attrs):
    eps: float = Field(default=1e-5, gt=0)
    affine: bool = True


class _LayerNorm(Op):
    family = "norm"
    Attrs = LayerNormAttrs
    arg_aliases = {"elementwise_affine": "affine"}
    torch_defaults = {"eps": 1e-5, "elementwise_affine": True}
    fresh_output = True
    init_role = "norm"

    @property
    def stateful(self) -> bool:
        return True

    def _normalised(self, ins: tuple[Shape, ...]) -> int:
        """The length of the vectors normalised."""
        raise NotImplementedError

    def params(self, ins: tuple[Shape, ...], a: LayerNormAttrs) -> int:
        return 2 * self._normalised(ins) if a.affine else 0

    def _statistics(self, ins: tuple[Shape, ...]) -> Extra:
        # mean and inverse std of each normalised vector, float32
        return Extra(2 * (math.prod(ins[0]) // self._normalised(ins)), 4)

    def fvcore_flops(self, ins: tuple[Shape, ...], out: Shape, a: LayerNormAttrs) -> int:
        return math.prod(ins[0]) * (5 if a.affine else 4)

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: LayerNormAttrs) -> int:
        return 6 * math.prod(ins[0])

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: LayerNormAttrs, inplace: bool) -> tuple[Saved, ...]:
        return (Saved("input"), Saved("extra", self._statistics(ins)))

    def workspace(self, ins: tuple[Shape, ...], out: Shape, a: LayerNormAttrs) -> tuple[Extra, ...]:
        return (self._statistics(ins),)

    def has_affine(self, a: LayerNormAttrs) -> bool:
        return a.affine

    def label(self, a: LayerNormAttrs) -> str:
        return self.name


class LayerNorm(_LayerNorm):
    example = ("layer_norm(eps=1e-6)", (768,))
    name = "layer_norm"
    aliases = ("layernorm",)
    torch_class = "nn.LayerNorm"

    def _normalised(self, ins: tuple[Shape, ...]) -> int:
        return ins[0][-1]

    def ptflops_macs(self, ins: tuple[Shape, ...], out: Shape, a: LayerNormAttrs) -> int:
        return math.prod(ins[0])  # its hook looks for `affine`, which nn.LayerNorm calls otherwise

    def torch_args(self, ins: tuple[Shape, ...], a: LayerNormAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (ins[0][-1],), {"eps": a.eps, "elementwise_affine": a.affine}


# torchvision.models.convnext.LayerNorm2d, line for line (F is torch.nn.functional): the same
# calls, so the same results to the bit; a subclass of nn.LayerNorm, so `init:` reaches it.
LAYER_NORM_2D = '''\
class LayerNorm2d(nn.LayerNorm):
    """nn.LayerNorm over the channels of an N×C×H×W map, as torchvision's ConvNeXt writes it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        x = x.permute(0, 3, 1, 2)
        return x
'''


class LayerNorm2d(_LayerNorm):
    example = ("layer_norm2d(eps=1e-6)", (96, 56, 56))
    name = "layer_norm2d"
    aliases = ("layernorm2d",)
    torch_class = "LayerNorm2d"
    helper = LAYER_NORM_2D
    ranks = (3,)
    rank_hint = "layer_norm2d normalises the channels of C×H×W images; for features use layer_norm"

    def _normalised(self, ins: tuple[Shape, ...]) -> int:
        return ins[0][0]

    def ptflops_macs(self, ins: tuple[Shape, ...], out: Shape, a: LayerNormAttrs) -> int:
        return 0

    def torch_args(self, ins: tuple[Shape, ...], a: LayerNormAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (ins[0][0],), {"eps": a.eps, "elementwise_affine": a.affine}
