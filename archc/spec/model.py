"""The spec's typed form: pydantic models (strict, unknown keys rejected, frozen).

Each model knows the :class:`~archc.diagnostics.Span` it was written at, and each
expression keeps a :class:`Loc` so an error found much later (a shape mismatch in
the fifth repeat of a block) still points at the characters that caused it.
Nothing is expanded here: blocks, repeats and expressions stay as written.

The YAML surface these models come from is described in docs/language.md; the
parser in :mod:`archc.spec.parser` builds them level by level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, InstanceOf

from ..diagnostics import Span
from .expr import CallExpr, Expr


@dataclass(frozen=True, slots=True)
class Loc:
    """Where an expression's text sits: the scalar's span, and the file column of its
    first character when the text is on one line (so offsets map to exact columns)."""

    span: Span
    col0: int | None = None

    def at(self, off: int, end: int) -> Span:
        if self.col0 is None:
            return self.span
        start = self.col0 + off
        return Span(self.span.file, self.span.line, start, self.span.line, max(start + 1, self.col0 + end))


# Positions and parsed expressions are our own immutable objects, and child models were
# validated when the parser built them: fields holding them are checked by type only,
# which keeps schema building (part of every cold start) cheap.
SpanT = InstanceOf[Span]


class Model(BaseModel):
    # defer_build: a model's validator is built the first time it is used, which keeps
    # `archc table` start-up cheap (ops a spec does not use never build their schema).
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, arbitrary_types_allowed=True,
                              defer_build=True)


class Code(Model):
    """An expression as written, parsed."""

    expr: InstanceOf[Expr]
    loc: InstanceOf[Loc]


class Call(Model):
    """A layer call entry: ``conv(64, 3, stride=2)`` or ``relu`` or ``Bottleneck(64)``."""

    call: InstanceOf[CallExpr]
    loc: InstanceOf[Loc]

    @property
    def span(self) -> Span:
        return self.loc.span

    @property
    def callee_span(self) -> Span:
        return self.loc.at(self.call.off, self.call.callee_end)


class Ref(Model):
    """A reference to a named point, as in ``from: inception4a``."""

    name: str
    span: SpanT


class Seq(Model):
    """A list of entries: an ``nn.Sequential`` when it is a named value."""

    items: tuple[Entry, ...]
    span: SpanT


Body = Union[InstanceOf[Call], InstanceOf[Seq]]


class Named(Model):
    """``name: value`` in a list, or a branch of ``parallel``."""

    name: str
    name_span: SpanT
    value: Union[InstanceOf[Call], InstanceOf[Seq], InstanceOf[Container]]
    span: SpanT
    # a name generated from the repeat index (`"denselayer{i + 1}": ...`): its parts, text and
    # expressions in turn; ``name`` is then the template as written
    template: tuple[Union[str, InstanceOf[Code]], ...] | None = None


class Residual(Model):
    """``residual: {body, shortcut, when, then}``: ``out = then(body(x) + shortcut(x))``."""

    body: tuple[Entry, ...]
    shortcut: Union[Entry, InstanceOf[Seq], None] = None
    when: InstanceOf[Code] | None = None
    then: tuple[Entry, ...] = ()
    span: SpanT


class BodyFields(Model):
    """What a block's body or a container holds: exactly one of layers, parallel,
    residual or repeat/each."""

    span: SpanT
    merge_span: SpanT | None = None  # the `parallel:` key, where a concat error points
    layers: Body | None = None
    # a mapping of named branches, each a module of that name; or, written as a list (`flat`),
    # branches that are entries of the enclosing list, their modules the enclosing module's children
    parallel: tuple[Entry, ...] | None = None
    flat: bool = False
    residual: InstanceOf[Residual] | None = None
    repeat: InstanceOf[Code] | None = None
    each: Body | None = None
    index: str = "i"
    merge: Literal["concat", "add", "mul"] | None = None
    dim: int = 1
    doc: str = ""

    @property
    def kind(self) -> str:
        for key in ("parallel", "residual", "repeat", "layers"):
            if getattr(self, key) is not None:
                return key
        return "ref"


class Container(BodyFields):
    """A mapping entry in a list: a group, branches, a residual, a repeat, a reference or a head."""

    from_: tuple[InstanceOf[Ref], ...] = Field(default=(), alias="from")
    training_only: bool = False
    when: InstanceOf[Code] | None = None


Entry = Union[InstanceOf[Call], InstanceOf[Named], InstanceOf[Container]]

# `int | pair`: one size for both axes or two, [height, width], as nn.Conv2d's kernel_size takes
PARAM_TYPES = ("int", "float", "bool", "str", "list", "block", "int | pair")


class ParamDecl(Model):
    """``name: default``, ``name: type`` (a required parameter) or ``name: type = default``."""

    name: str
    span: SpanT
    type: Literal["int", "float", "bool", "str", "list", "block", "int | pair"] | None = None
    default: InstanceOf[Code] | None = None


class BlockDef(BodyFields):
    """A named, parameterised piece of network, defined once and called by name."""

    name: str
    name_span: SpanT
    params: tuple[InstanceOf[ParamDecl], ...] = ()
    inline: bool = False


class Import(Model):
    """``{from: file.yaml, blocks: [A, B]}``: blocks defined in another spec file."""

    path: str = Field(alias="from")
    blocks: tuple[InstanceOf[Ref], ...]
    span: SpanT


ConvInit = Literal["default", "kaiming_normal_fan_out", "kaiming_normal_fan_in", "kaiming_uniform", "xavier_uniform",
                   "xavier_normal", "trunc_normal"]


class InitSpec(Model):
    """Weight initialisation (see docs/language.md#init)."""

    conv: ConvInit | None = None
    linear: Literal["default", "normal", "trunc_normal", "xavier_uniform", "kaiming_uniform"] | None = None
    norm: Literal["default", "ones_zeros"] | None = None
    std: float = 0.01
    zero_init_residual: bool = False
    span: SpanT


class Replace(Model):
    """``path: value`` under a variant's ``replace:``: the base's entry at ``path`` (a name, or a
    dotted path such as ``classifier.6``) becomes ``value``, keeping its name and position."""

    path: tuple[str, ...]
    path_span: SpanT
    value: Union[InstanceOf[Call], InstanceOf[Seq], InstanceOf[Container]]
    span: SpanT

    @property
    def name(self) -> str:
        return ".".join(self.path)


class Drop(Model):
    """An item of a variant's ``drop:`` list: the base's entry at ``path`` is left out."""

    path: tuple[str, ...]
    span: SpanT

    @property
    def name(self) -> str:
        return ".".join(self.path)


class FreezePath(Model):
    """One item of ``freeze: {modules: [...]}``: a module path whose parts may be patterns
    (``layer*``, ``features.0-9``)."""

    parts: tuple[str, ...]
    span: SpanT

    @property
    def text(self) -> str:
        return ".".join(self.parts)


class Freeze(Model):
    """What a fine-tuning spec does not train (see docs/language.md#freezing): the parameters of
    the modules ``modules`` names get ``requires_grad=False``; with ``norms: eval`` the batch
    norms among them also stay in eval mode, their running statistics fixed."""

    modules: tuple[InstanceOf[FreezePath], ...]
    norms: Literal["train", "eval"] = "train"
    span: SpanT


class Spec(Model):
    """One spec file, as written."""

    archc: Literal[1]
    name: str
    # the emitted network class (`class: ResNet50`); without it, the name in CamelCase
    class_name: str | None = None
    class_span: SpanT | None = None
    doc: str = ""
    extends: InstanceOf[Ref] | None = None
    input: tuple[int, ...] | None = None
    input_span: SpanT | None = None  # where `input:` is written, for errors about its sizes
    params: tuple[InstanceOf[ParamDecl], ...] = ()
    imports: tuple[InstanceOf[Import], ...] = ()
    blocks: tuple[InstanceOf[BlockDef], ...] = ()
    layers: tuple[Entry, ...] | None = None
    train_outputs: tuple[InstanceOf[Ref], ...] = ()
    init: InstanceOf[InitSpec] | None = None
    # a variant's edits of its base's layers, applied by the loader before lowering (spec/edit.py)
    replace: tuple[InstanceOf[Replace], ...] = ()
    drop: tuple[InstanceOf[Drop], ...] = ()
    freeze: InstanceOf[Freeze] | None = None
    span: SpanT
    file: str  # display name of the file it came from
