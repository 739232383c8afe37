"""``permute``: reorders dimensions (``torch.permute`` as a module, torchvision's ``Permute``).

YAML::

    - permute([0, 2, 3, 1])         # C×H×W -> H×W×C (channels-last), as in ConvNeXt's blocks
    - permute([0, 3, 1, 2])         # and back

The dimensions use PyTorch's numbering, which counts the batch as 0, exactly as the
module is called; the batch must stay first (shapes here are per sample). It becomes
``torchvision.ops.misc.Permute``, which emission writes once into the generated file
(same class name, no state), so a ``nn.Sequential`` that holds one numbers its children
as torchvision's does.

No parameters, nothing in any counting convention. The output is a view of the input
(no new memory, nothing saved). Not modelled: an op that needs contiguous memory right
after it copies its input while it runs (``linear`` directly after a permute: the
measured inference peak is higher by that copy and the op's output); ConvNeXt puts
``layer_norm`` there, which reads the view as it is (measured: no copy).

Each output position reads one input position, so the receptive field moves with the
dimensions: a layer on the last dimension of a channels-last map mixes channels, not
positions.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..sym import NotSymbolic, Sym
from .base import Attrs, Op, Shape, ShapeError, sequence


class PermuteAttrs(Attrs):
    dims: tuple[int, ...] = Field(min_length=2)


# torchvision.ops.misc.Permute (no extra_repr, so it prints as torchvision's does)
PERMUTE = '''\
class Permute(nn.Module):
    """torch.permute as a module (torchvision.ops.misc.Permute); dims count the batch as 0."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)
'''


class Permute(Op):
    example = ("permute([0, 2, 3, 1])", (96, 56, 56))
    name = "permute"
    family = "reshape"
    Attrs = PermuteAttrs
    torch_class = "Permute"
    helper = PERMUTE

    def _dims(self, ins: tuple[Shape, ...], a: PermuteAttrs) -> tuple[int, ...]:
        dims = sequence(a.dims, "dims")
        if any(isinstance(d, Sym) for d in dims):  # which dimension goes where is the shape's structure
            raise NotSymbolic(f"permute: dims={list(dims)} must be numbers, not symbols")
        return tuple(dims)

    def check(self, ins: tuple[Shape, ...], a: PermuteAttrs) -> None:
        dims = self._dims(ins, a)
        full = len(ins[0]) + 1
        if sorted(d % full if -full <= d < full else d for d in dims) != list(range(full)):
            raise ShapeError(f"permute: dims={list(dims)} is not an order of the {full} dimensions of a "
                             f"{full}-d tensor (batch included)",
                             f"list each of 0 … {full - 1} once (PyTorch numbering, batch is 0)",
                             code="E505", arg="dims")
        if dims[0] % full != 0:
            raise ShapeError(f"permute: dims={list(dims)} moves the batch dimension",
                             "keep 0 first: shapes are per sample", code="E505", arg="dims")

    def output_shape(self, ins: tuple[Shape, ...], a: PermuteAttrs) -> tuple[Any, ...]:
        self.check(ins, a)  # (dims that do not fit the rank: ShapeError, wherever the rule is run from)
        full = (1, *ins[0])
        return tuple(full[d] for d in self._dims(ins, a))[1:]

    def axes(self, ins: tuple[Shape, ...], a: PermuteAttrs) -> tuple[int, ...]:
        full = len(ins[0]) + 1
        order = [d % full for d in self._dims(ins, a)]
        return tuple(order.index(k + 1) - 1 for k in range(len(ins[0])))

    def aliases_input(self, a: PermuteAttrs, training: bool) -> bool:
        return True  # torch.permute returns a view

    def label(self, a: PermuteAttrs) -> str:
        return f"permute {','.join(map(str, a.dims))}"

    def dim_rules(self, in_ranks: tuple[int, ...], rank: int, a: PermuteAttrs) -> list[list[tuple[Any, ...]]]:
        full = in_ranks[0] + 1
        return [[("in", 0, d % full - 1)] for d in a.dims[1:]]

    def torch_args(self, ins: tuple[Shape, ...], a: PermuteAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (a.dims,), {}
