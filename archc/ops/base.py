"""What every op defines, in one place: attributes, shape rule, counts, emission.

An op is a subclass of :class:`Op` in one file of this package. Shapes exclude the
batch dimension (``(C, H, W)`` for images); dimensions in attributes such as
``flatten(start_dim=1)`` or ``concat(dim=1)`` use PyTorch's numbering, which
counts the batch as dimension 0, so a spec reads exactly like the PyTorch call.

Counting conventions (see docs/counting.md): ``params`` is what
``sum(p.numel() for p in module.parameters())`` gives, ``buffers`` the numel of
``module.buffers()``, and ``macs`` the multiply-accumulates of convolutions and
matrix products with the bias excluded, i.e. ``FlopCounterMode`` total / 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

Shape = tuple[int, ...]


class ShapeError(Exception):
    """An op cannot accept its inputs. ``arg`` names the attribute at fault, if any."""

    def __init__(self, message: str, hint: str | None = None, *, code: str = "E500", arg: str | None = None):
        super().__init__(message)
        self.message, self.hint, self.code, self.arg = message, hint, code, arg


class Attrs(BaseModel):
    """An op's attributes. Field order is the order of positional arguments."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)


class NoAttrs(Attrs):
    pass


def pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    return (value[0], value[1])


def single(value: int | Sequence[int]) -> int:
    return value if isinstance(value, int) else value[0]


def fmt_shape(shape: Sequence[int] | None) -> str:
    if shape is None:
        return "?"
    return "×".join(str(d) for d in shape) if shape else "scalar"


def numel(shape: Sequence[int]) -> int:
    return math.prod(shape)


def torch_dim(dim: int, rank: int, what: str, arg: str = "dim") -> int:
    """Normalise a PyTorch dimension index (batch = 0) for a tensor of ``rank`` non-batch dims."""
    full = rank + 1
    if not -full <= dim < full:
        raise ShapeError(f"{what}: dim={dim} is out of range for a {full}-d tensor (batch included)",
                         f"use a dim between 1 and {full - 1} (PyTorch numbering, batch is 0)", code="E505", arg=arg)
    return dim % full


class Op:
    """Base class of all ops. Subclasses set the class attributes and override the rules."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    family: ClassVar[str]  # conv, linear, norm, activation, pooling, dropout, reshape, merge
    Attrs: ClassVar[type[Attrs]] = NoAttrs
    # PyTorch's names for attributes we spell shorter (kernel_size -> kernel).
    arg_aliases: ClassVar[dict[str, str]] = {}
    arity: ClassVar[int | None] = 1  # None: two or more inputs
    # The nn.Module this op becomes, and the defaults emission may leave out.
    torch_class: ClassVar[str | None] = None
    torch_defaults: ClassVar[dict[str, Any]] = {}
    # A call and an input shape for the op reference (docs/ops.md, made by `archc ops --format markdown`).
    example: ClassVar[tuple[str, tuple[int, ...]]] = ("", ())
    # Input ranks accepted (non-batch dims); None = any rank >= 1.
    ranks: ClassVar[tuple[int, ...] | None] = None
    rank_hint: ClassVar[str | None] = None

    @property
    def stateful(self) -> bool:
        """Does the module hold parameters or buffers (so its name is a state_dict key)?"""
        return False

    def check_rank(self, ins: tuple[Shape, ...]) -> None:
        if self.ranks is None:
            return
        for shape in ins:
            if len(shape) not in self.ranks:
                want = " or ".join(_rank_name(r) for r in self.ranks)
                raise ShapeError(f"{self.name} expects {want} input, got {fmt_shape(shape)} (rank {len(shape)})",
                                 self.rank_hint, code="E504")

    def infer(self, ins: tuple[Shape, ...], a: Any) -> Shape:
        """Output shape (batch excluded). Raise :class:`ShapeError` on misuse."""
        return ins[0]

    def params(self, ins: tuple[Shape, ...], a: Any) -> int:
        return 0

    def buffers(self, ins: tuple[Shape, ...], a: Any) -> int:
        return 0

    def macs(self, ins: tuple[Shape, ...], out: Shape, a: Any) -> int:
        return 0

    def label(self, a: Any) -> str:
        """Short description for tables and diagrams, e.g. ``conv 3×3/2``."""
        return self.name

    def torch_args(self, ins: tuple[Shape, ...], a: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Constructor arguments of :attr:`torch_class`. Only pass values through: emission
        calls this with stand-ins for input sizes and attributes to learn where each comes from."""
        return (), {}

    def dim_rules(self, in_ranks: tuple[int, ...], rank: int, a: Any) -> list[list[tuple[Any, ...]]]:
        """How each output size may relate to the inputs, for emitting generic classes: per
        output dimension, candidates in order of preference — ``("in", i, d)`` input i's
        dimension d; ``("attr", name)`` an attribute's value; ``("sum", d)`` the sum of the
        inputs' dimension d; ``("prod", i, start, stop)`` the product of input i's dimensions
        start..stop-1. Emission verifies each against the concrete shapes, so a rule that does
        not hold is merely skipped. Default: sizes pass through unchanged."""
        return [[("in", 0, d)] if in_ranks[0] == rank else [] for d in range(rank)]

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def _rank_name(rank: int) -> str:
    return {1: "a features (F)", 2: "a sequence (C×L)", 3: "an image (C×H×W)"}.get(rank, f"a rank-{rank}")
