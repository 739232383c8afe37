"""How lowering words the error an op's shape rule raises, wherever lowering meets it: in the
module IR's instantiation (:mod:`archc.ir.instantiate`) and in the walk of :mod:`archc.ir.lower`.
One wording in one place, so that a spec's diagnostics do not depend on the path that lowered it.

A layer's error points at the argument it is about (``groups=2`` in ``conv(8, 3, groups=2)``),
found by the spans of the call's arguments (:class:`ArgSpans`); a merge's error names what it
joins (a residual's body and shortcut, parallel branches, ``from:`` inputs), and each input's
shape with the layer it came from.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..diagnostics import Note, Reporter, Span
from ..ops import Op, ShapeError
from ..ops.base import fmt_shape
from ..spec import model as m
from .graph import Node
from .module import ArgSpans

__all__ = ["ArgSpans", "arg_spans", "layer_shape_error", "merge_shape_error", "shape_note"]

# a residual's add that fails: why, where the spec can say more than the op's rule
NO_SHORTCUT = ("the body changes the shape, so the identity shortcut cannot be added: add a projection, "
               "e.g. `shortcut: {downsample: [\"conv(C, 1, stride=S, bias=false)\", bn()]}`")
SHORTCUT_OFF = "the `when:` condition is false here, so the shortcut is the identity; check the condition"


def arg_spans(call: m.Call) -> ArgSpans:
    c = call.call
    return ArgSpans(call.span, tuple(call.loc.at(a.off, a.end) for a in c.args),
                    tuple((k.name, call.loc.at(k.off, k.end)) for k in c.kwargs))


def shape_note(what: str, node: Node) -> Note:
    """``input: 16×32×32 from 'conv1'``: an input of a failing layer or merge, and its origin."""
    where = "the network input" if node.op is None and node.id == "input" else f"'{node.id}'"
    return Note(f"{what}: {fmt_shape(node.shape)} from {where}", node.span)


def layer_shape_error(r: Reporter, op: Op, err: ShapeError, spans: ArgSpans, source: Note,
                      trace: Iterable[Note]) -> None:
    """``source``: the note on the layer's input (:func:`shape_note`)."""
    arg: str | int | None = err.arg
    fields = list(op.Attrs.model_fields)
    if arg in fields and fields.index(arg) < len(spans.args):
        arg = fields.index(arg)  # given positionally: point at its value
    span = spans.at(arg) if arg is not None else spans.call
    r.error(err.code, f"{op.name}: {err.message}", span, err.hint, (source, *trace))


def merge_shape_error(r: Reporter, kind: str, err: ShapeError, span: Span, context: str, hint: str | None,
                      sources: Iterable[Note], trace: Iterable[Note]) -> None:
    """``context``: residual | parallel | from; ``sources``: a note on each input (:func:`shape_note`)."""
    where = {"residual": "residual add", "parallel": f"the {kind} of parallel branches",
             "from": f"the {kind} of `from:` inputs"}[context]
    r.error(err.code, err.message.replace(f"at {kind}", f"at {where}"), span, hint or err.hint,
            (*sources, *trace))
