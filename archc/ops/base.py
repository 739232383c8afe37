"""What every op defines, in one place: attributes, shape rule, counts, emission.

An op is a subclass of :class:`Op` in one file of this package. Shapes exclude the
batch dimension (``(C, H, W)`` for images); dimensions in attributes such as
``flatten(start_dim=1)`` or ``concat(dim=1)`` use PyTorch's numbering, which
counts the batch as dimension 0, so a spec reads exactly like the PyTorch call.

Counting conventions (see docs/counting.md): ``params`` is what
``sum(p.numel() for p in module.parameters())`` gives, ``buffers`` the numel of
``module.buffers()``, and ``macs`` the multiply-accumulates of convolutions and
matrix products with the bias excluded, i.e. ``FlopCounterMode`` total / 2. The
other named conventions are methods beside it, so an op's whole cost model sits in
its file: ``fvcore_flops`` (what ``fvcore.nn.FlopCountAnalysis`` counts for it),
``ptflops_macs`` (what ``ptflops.get_model_complexity_info`` counts) and
``all_flops`` (every arithmetic operation). :meth:`Op.costs` gathers them.

Shapes have two parts: :meth:`Op.check` refuses inputs and attributes PyTorch would refuse
(concrete values only, raising :class:`ShapeError`), and :meth:`Op.output_shape` computes the
output shape with plain arithmetic and no branching on sizes, so the same code runs on ints and
on symbolic sizes (:class:`archc.sym.Sym`: a block's input ``in_height``, a parameter
``stride``). :meth:`Op.infer` is the two in turn, so the concrete rule and the symbolic rule
cannot drift apart. For symbolic use, attributes are built without validation
(``ConvAttrs.model_construct(out=Sym("planes"), kernel=3)``), and a rule that cannot follow a
symbol for some attribute form (a dimension index, a list given as one symbol) raises
:class:`NotSymbolic`, never a wrong answer. Sizes that depend on a decision use
:func:`archc.sym.cond` (pooling's ``ceil_mode``), which is Python's ``a if c else b`` on ints.

Memory and receptive field also have their per-op part here: which tensors the
backward pass keeps (:meth:`Op.saved`), whether the output is a view of the input
(:meth:`Op.aliases_input`), temporaries (:meth:`Op.workspace`), and the spatial
window of one output position (:meth:`Op.window`; :data:`FRACTIONAL` for an op whose
outputs lie closer together than its inputs, and :meth:`Op.axes` for one that moves
dimensions). Figures are per sample; the analysis multiplies by the batch and the
element size.

An op whose module is not in ``torch.nn`` (torchvision's ``LayerNorm2d``, ``Permute``)
carries the source of a small class (:attr:`Op.helper`) that emission writes once into
the generated file; :attr:`Op.torch_class` then names that class.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from ..sym import NotSymbolic, Sym, axis_of

Shape = tuple[int, ...]

# The counting conventions, in the order tables and docs list them (docs/counting.md).
CONVENTIONS = ("macs", "flops", "fvcore", "ptflops", "all")


@dataclass(frozen=True, slots=True)
class Extra:
    """A tensor an op makes besides its output: ``elements`` per sample (per batch when not
    ``per_sample``), of ``itemsize`` bytes each (None: the activation dtype's size)."""

    elements: int
    itemsize: int | None = None
    per_sample: bool = True


@dataclass(frozen=True, slots=True)
class Saved:
    """A tensor autograd keeps for an op's backward pass: ``"input"`` (the storage of input
    ``index``, 0 unless a merge keeps another), ``"output"`` (the op's own output's storage) or
    ``"extra"`` (a tensor of its own)."""

    what: str
    extra: Extra | None = None
    index: int = 0
    # kept only for the gradient of the op's own parameters (a linear layer's input, which
    # autograd saves only when the weight requires grad): not saved when they are frozen
    for_weight: bool = False


# Op.window's answer for an op whose neighbouring outputs are less than one input position
# apart (upsampling, a strided transposed convolution): one output position's field is then
# not the same for every position, so no single receptive field or stride describes it.
FRACTIONAL = "fractional"

SAVES_INPUT = (Saved("input"),)
SAVES_OUTPUT = (Saved("output"),)


class ShapeError(Exception):
    """An op cannot accept its inputs. ``arg`` names the attribute at fault, if any."""

    def __init__(self, message: str, hint: str | None = None, *, code: str = "E500", arg: str | None = None):
        super().__init__(message)
        self.message, self.hint, self.code, self.arg = message, hint, code, arg


# What an op's shape rule (``output_shape``) may raise where it is run without its check (on sizes
# written once, archc/ir/define.py): arguments the check refuses whatever the sizes (a negative
# padding, a permute of more dims than the input has). The check reports them where the layer runs;
# anything else a rule raises is a fault of the op's (tests/ops/test_op_shape_rules.py).
REFUSED = (ShapeError, TypeError, ValueError, ArithmeticError, LookupError)


class Attrs(BaseModel):
    """An op's attributes. Field order is the order of positional arguments."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)


class NoAttrs(Attrs):
    pass


def pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, (int, Sym)):  # a symbol stands for one number, like an int
        return (value, value)
    return (axis_of(value, 0), axis_of(value, 1))  # an `int | pair` parameter: per axis


def single(value: int | Sequence[int]) -> int:
    return value if isinstance(value, (int, Sym)) else axis_of(value, 0)


def sequence(value: Any, name: str) -> Sequence[Any]:
    """A list-valued attribute's values; one symbol cannot stand for a list (NotSymbolic)."""
    if isinstance(value, Sym):
        raise NotSymbolic(f"{name} is a list of numbers; give each one, not one symbol {value}")
    return value


def fmt_shape(shape: Sequence[int] | None) -> str:
    if shape is None:
        return "?"
    return "×".join(str(d) for d in shape) if shape else "scalar"


def numel(shape: Sequence[int]) -> int:
    return math.prod(shape)


def torch_dim(dim: int, rank: int, what: str, arg: str = "dim") -> int:
    """Normalise a PyTorch dimension index (batch = 0) for a tensor of ``rank`` non-batch dims."""
    if isinstance(dim, Sym):  # which dimension is meant decides the shape's structure
        raise NotSymbolic(f"{what}: {arg}={dim} must be a number, not a symbol")
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
    # The source of the class torch_class names, where torch.nn has none: emission writes it
    # once into the generated file (it may use ``torch`` and ``nn``). Its base class must be a
    # torch class of an op with the same init_role, so ``init:`` reaches it (archc.emit.init).
    helper: ClassVar[str | None] = None
    torch_defaults: ClassVar[dict[str, Any]] = {}
    # A call and an input shape for the op reference (docs/ops.md, made by `archc ops --format markdown`).
    example: ClassVar[tuple[str, tuple[int, ...]]] = ("", ())
    # Input ranks accepted (non-batch dims); None = any rank >= 1.
    ranks: ClassVar[tuple[int, ...] | None] = None
    rank_hint: ClassVar[str | None] = None
    # --- what the passes, the memory analysis and emission need to know about the op; declared
    # here so that a new op is either fully known or gets the safe default ---
    # Is the output a new tensor that the op's own backward does not keep? Then an in-place
    # activation (or a residual ``+=``) right after it may overwrite it (archc.ir.inplace).
    fresh_output: ClassVar[bool] = False
    # Can the module overwrite its input (``nn.ReLU(inplace=True)``) where the graph allows it?
    inplace_capable: ClassVar[bool] = False
    # The identity in eval mode (dropout): the inference variant removes it.
    eval_identity: ClassVar[bool] = False
    # The ops this one can be folded into in eval mode (batch norm into the convolution before
    # it); :meth:`folds_into` decides for given attributes. Empty: never folded.
    folds_after: ClassVar[tuple[str, ...]] = ()
    # Which scheme of the spec's ``init:`` applies to the module: "conv", "linear", "norm" or None.
    init_role: ClassVar[str | None] = None
    # Where PyTorch has no module for the op: the source of a small nn.Module class that the
    # generated file defines once (``torch_class`` names it), written to compute exactly what the
    # reference implementation does. The emitted file then needs nothing beyond torch.
    helper: ClassVar[str | None] = None
    # Emitted as a learnable tensor that the enclosing module holds (``self.layer_scale =
    # nn.Parameter(...)``, as torchvision's ConvNeXt does) instead of a module: its state_dict key
    # is its path itself, not ``<path>.weight``; :meth:`parameter_source` builds it and forward
    # writes :attr:`apply` (``{param}``: the attribute, ``{x}``: the input).
    holds_parameter: ClassVar[bool] = False
    apply: ClassVar[str] = "{param}({x})"
    # Does train mode update state the module holds besides its parameters (batch norm's running
    # statistics)? ``freeze: {norms: eval}`` keeps such modules of the frozen part in eval mode.
    train_statistics: ClassVar[bool] = False

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
        """Output shape (batch excluded). Raise :class:`ShapeError` on misuse. Not overridden:
        an op says what it refuses in :meth:`check` and how sizes follow in :meth:`output_shape`."""
        self.check(ins, a)
        return self.output_shape(ins, a)

    def check(self, ins: tuple[Shape, ...], a: Any) -> None:
        """Raise :class:`ShapeError` where PyTorch would refuse these concrete inputs and
        attributes. Default: the input rank."""
        self.check_rank(ins)

    def output_shape(self, ins: tuple[Shape, ...], a: Any) -> tuple[Any, ...]:
        """The output shape (batch excluded) of inputs that :meth:`check` accepts, written with
        plain arithmetic so that sizes and attributes may be ints or symbols alike (no ``if`` on
        a size: use :func:`archc.sym.cond`). Raises :class:`NotSymbolic` where a symbol cannot
        be followed. Default: the shape of input 0."""
        return ins[0]

    def params(self, ins: tuple[Shape, ...], a: Any) -> int:
        return 0

    def buffers(self, ins: tuple[Shape, ...], a: Any) -> int:
        return 0

    def macs(self, ins: tuple[Shape, ...], out: Shape, a: Any) -> int:
        return 0

    # --- other counting conventions (docs/counting.md); per sample, like macs ----------

    def fvcore_flops(self, ins: tuple[Shape, ...], out: Shape, a: Any) -> int:
        """What ``fvcore.nn.FlopCountAnalysis`` counts (one per multiply-accumulate for
        convolutions and matrix products, its default handles for a few other ops, nothing
        for the rest), on a module in eval mode."""
        return self.macs(ins, out, a)

    def ptflops_macs(self, ins: tuple[Shape, ...], out: Shape, a: Any) -> int:
        """What ``ptflops.get_model_complexity_info`` counts with its default ``pytorch``
        backend: its module hook plus, where the module calls a patched ``torch.nn.functional``
        function, that function's hook too."""
        return self.macs(ins, out, a)

    def all_flops(self, ins: tuple[Shape, ...], out: Shape, a: Any) -> int:
        """Every arithmetic operation of inference, one per multiply and one per add (a
        multiply-accumulate is 2): bias adds, normalisation, activations, pooling windows
        and merges included. Each op's docstring says what it counts."""
        return 2 * self.macs(ins, out, a)

    def costs(self, ins: tuple[Shape, ...], out: Shape, a: Any) -> dict[str, int]:
        """The op's figure in every convention of :data:`CONVENTIONS`."""
        macs = self.macs(ins, out, a)
        return {"macs": macs, "flops": 2 * macs, "fvcore": self.fvcore_flops(ins, out, a),
                "ptflops": self.ptflops_macs(ins, out, a), "all": self.all_flops(ins, out, a)}

    # --- memory (docs/counting.md, "Memory") ------------------------------------------

    def aliases_input(self, a: Any, training: bool) -> bool:
        """Is the output input 0 itself or a view of it (no new storage)? In-place
        activations are decided by the graph around them, not here."""
        return False

    def saved(self, ins: tuple[Shape, ...], out: Shape, a: Any, inplace: bool) -> tuple[Saved, ...]:
        """What autograd keeps from this op for the backward pass (training mode)."""
        return ()

    def workspace(self, ins: tuple[Shape, ...], out: Shape, a: Any) -> tuple[Extra, ...]:
        """Temporaries torch allocates while the op runs in inference, freed when it returns."""
        return ()

    # --- receptive field (docs/counting.md, "Receptive field") -------------------------

    def window(self, ins: tuple[Shape, ...], out: Shape, a: Any) -> tuple[tuple[int, int], ...] | str | None:
        """Per spatial dimension of input 0, the extent of input positions one output position
        reads and the step between neighbouring outputs' windows: ``(kernel, stride)`` with the
        dilation folded into the kernel. None: position-wise (each output position reads the
        same position of its inputs). An empty tuple: every output element reads every input
        element (a dense layer on features), so it sees the whole map the features came from.
        :data:`FRACTIONAL`: outputs closer together than inputs (upsampling), which the
        integer model cannot describe: the analysis reports no field from there on."""
        return None

    def axes(self, ins: tuple[Shape, ...], a: Any) -> tuple[int, ...] | None:
        """For a position-wise op that reorders dimensions (``permute``): where each dimension
        of input 0 goes in the output (non-batch numbering). None: nowhere else."""
        return None

    # --- inference folding and initialisation ------------------------------------------

    def folds_into(self, a: Any, producer: Op, producer_attrs: Any, producer_out: Shape) -> bool:
        """In eval mode, can this op be folded into ``producer``, the module right before it whose
        output only it reads? (Batch norm into a convolution: archc.ir.passes.) Default: no."""
        return False

    def has_affine(self, a: Any) -> bool:
        """Does the module hold the weight and bias that ``init: {norm: ones_zeros}`` sets
        (and ``zero_init_residual`` zeroes)? Only asked of ops whose init_role is "norm"."""
        return False

    def label(self, a: Any) -> str:
        """Short description for tables and diagrams, e.g. ``conv 3×3/2``."""
        return self.name

    def torch_args(self, ins: tuple[Shape, ...], a: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Constructor arguments of :attr:`torch_class`. Only pass values through: emission
        calls this with stand-ins for input sizes and attributes to learn where each comes from."""
        return (), {}

    def parameter_source(self, args: list[str]) -> str:
        """For an op that :attr:`holds_parameter`: the Python expression that builds the tensor,
        from :meth:`torch_args`'s positional arguments printed as source."""
        raise NotImplementedError(self.name)

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
