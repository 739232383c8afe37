"""``chunk``: one part of a tensor split along a dimension (``torch.chunk``), ShuffleNetV2's channel split.

YAML::

    - x1: chunk(2, 0)               # the first half of the channels: x.chunk(2, dim=1)[0]
    - x2: {from: input, layers: "chunk(2, 1)"}   # the second half, of the same input
    - chunk(3, 2, dim=3)            # the last third of the width

``chunk(chunks, index, dim=1)`` is part ``index`` of ``torch.chunk(x, chunks, dim)``, with
torch's sizes: each part has ⌈size / chunks⌉ entries along ``dim``, the last one what is
left, and there may be fewer than ``chunks`` parts (6 channels in 4 chunks are 2 + 2 + 2),
so an ``index`` past the last part is refused as torch refuses it. The dimension uses
PyTorch's numbering (1 is channels); the batch cannot be split. ShuffleNetV2's basic unit
(Ma et al., 2018, §3, Fig. 3c) splits the channels in two halves, of which torchvision's
``InvertedResidual`` passes one through and feeds the other to ``branch2``
(``x1, x2 = x.chunk(2, dim=1)``).

It becomes ``Chunk``, a class emission writes once into the generated file (no parameters
or buffers, so it adds no state_dict key: a block keeps torchvision's keys).

No arithmetic: nothing in any convention (``FlopCounterMode``, fvcore and ptflops count no
slicing). The output is a view of the input (no new memory) and its backward keeps nothing.
Each output position reads one input position, so the receptive field does not change.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..sym import sym_min
from .base import Attrs, Op, Shape, ShapeError, fmt_shape, torch_dim


class ChunkAttrs(Attrs):
    chunks: int = Field(ge=1)
    index: int = Field(ge=0)
    dim: int = 1


CHUNK = '''\
class Chunk(nn.Module):
    """Part `index` of torch.chunk(x, chunks, dim) (a view; no state): ShuffleNetV2's channel split."""

    def __init__(self, chunks: int, index: int, dim: int = 1) -> None:
        super().__init__()
        self.chunks = chunks
        self.index = index
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.chunk(self.chunks, self.dim)[self.index]
'''


class Chunk(Op):
    example = ("chunk(2, 1)", (116, 28, 28))
    name = "chunk"
    family = "reshape"
    Attrs = ChunkAttrs
    torch_class = "Chunk"
    helper = CHUNK
    torch_defaults = {"dim": 1}

    def _dim(self, ins: tuple[Shape, ...], a: ChunkAttrs) -> int:
        return torch_dim(a.dim, len(ins[0]), self.name) - 1  # without the batch

    def check(self, ins: tuple[Shape, ...], a: ChunkAttrs) -> None:
        d = self._dim(ins, a)
        if d < 0:
            raise ShapeError("chunk cannot split the batch dimension (dim=0)",
                             "use dim=1 for channels (PyTorch numbering, batch is 0)", code="E505", arg="dim")
        size = ins[0][d]
        part = -(-size // a.chunks)  # torch.chunk: ceil(size / chunks) per part
        parts = -(-size // part)
        if a.index >= parts:
            made = f"{parts} part{'s' if parts > 1 else ''} of {part}" + (
                f" (the last {size - (parts - 1) * part})" if size % part else "")
            raise ShapeError(f"chunk: index {a.index} is past the last part: {size} entries along dim {a.dim} of "
                             f"{fmt_shape(ins[0])} in {a.chunks} chunks make {made}",
                             f"use an index from 0 to {parts - 1}", code="E505", arg="index")

    def output_shape(self, ins: tuple[Shape, ...], a: ChunkAttrs) -> tuple[Any, ...]:
        d = self._dim(ins, a)
        size = ins[0][d]
        part = (size + a.chunks - 1) // a.chunks
        left = size - a.index * part
        # written as simply as the attributes allow: the first part is always whole (size >= 1),
        # the last of `chunks` is what is left (size <= chunks · part); in between, the smaller
        if isinstance(a.index, int) and isinstance(a.chunks, int):
            if a.index == 0:
                return (*ins[0][:d], part, *ins[0][d + 1 :])
            if a.index == a.chunks - 1:
                return (*ins[0][:d], left, *ins[0][d + 1 :])
        return (*ins[0][:d], sym_min(part, left), *ins[0][d + 1 :])

    def aliases_input(self, a: ChunkAttrs, training: bool) -> bool:
        return True  # torch.chunk returns views

    def label(self, a: ChunkAttrs) -> str:
        return f"chunk {a.index + 1}/{a.chunks}" + ("" if a.dim == 1 else f" dim {a.dim}")

    def dim_rules(self, in_ranks: tuple[int, ...], rank: int, a: ChunkAttrs) -> list[list[tuple[Any, ...]]]:
        d = a.dim % (rank + 1) - 1
        return [[] if k == d else [("in", 0, k)] for k in range(rank)]

    def torch_args(self, ins: tuple[Shape, ...], a: ChunkAttrs) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (a.chunks, a.index), {"dim": a.dim}
