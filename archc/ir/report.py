"""How lowering words the error an op's shape rule raises, wherever lowering meets it: in the
module IR's instantiation (:mod:`archc.ir.instantiate`) and in the walk of :mod:`archc.ir.lower`.
One wording in one place, so that a spec's diagnostics do not depend on the path that lowered it.

A layer's error points at the argument it is about (``groups=2`` in ``conv(8, 3, groups=2)``),
found by the spans of the call's arguments (:class:`ArgSpans`); a merge's error names what it
joins (a residual's body and shortcut, parallel branches, ``from:`` inputs), and each input's
shape with the layer it came from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from ..diagnostics import Diagnostic, Note, Reporter, Span, suggest
from ..limits import Limits
from ..ops import BindError, Op, ShapeError
from ..ops.base import fmt_shape
from ..spec import model as m
from ..spec.expr import ExprError, show, type_of
from .graph import Node
from .module import ArgSpans

__all__ = [
    "ArgSpans",
    "arg_spans",
    "bind_error",
    "budget_error",
    "count_error",
    "expr_error",
    "flat_in_sequential",
    "foreseen_limit",
    "from_with_parallel",
    "head_misplaced",
    "head_unnamed",
    "held_in_list",
    "joins_inputs",
    "layer_shape_error",
    "merge_shape_error",
    "name_made",
    "name_taken",
    "needs_name",
    "nesting_error",
    "node_limit",
    "node_taken",
    "not_a_condition",
    "not_a_layer",
    "shape_note",
    "size_error",
    "step_limit",
    "unknown_callee",
    "unknown_reference",
    "unnamed_container",
]

# a residual's add that fails: why, where the spec can say more than the op's rule
NO_SHORTCUT = ("the body changes the shape, so the identity shortcut cannot be added: add a projection, "
               "e.g. `shortcut: {downsample: [\"conv(C, 1, stride=S, bias=false)\", bn()]}`")
SHORTCUT_OFF = "the `when:` condition is false here, so the shortcut is the identity; check the condition"
WHEN_HINT = "compare explicitly, e.g. `when: depth > 18`"  # a container's `when:`
# a residual's `when:`, which says where the projection shortcut is taken
RESIDUAL_WHEN_HINT = "compare explicitly, e.g. `when: stride != 1 or input.channels != planes`"


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


def size_error(r: Reporter, node: Node, limits: Limits, trace: Iterable[Note]) -> bool:
    """E601 where the node's output is too large a tensor; True then (its shape becomes unknown)."""
    if node.shape is None:
        return False
    if max(node.shape, default=0) > limits.max_dim:
        r.error("E601", f"'{node.id}' would output {fmt_shape(node.shape)}, beyond the limit of "
                        f"{limits.max_dim:,} per dimension", node.span,
                "check the sizes, or raise the limit with --limit max_dim=N", trace)
        return True
    if math.prod(node.shape) > limits.max_numel:
        r.error("E601", f"'{node.id}' would output {fmt_shape(node.shape)} = {math.prod(node.shape):,} "
                        f"elements, beyond the limit of {limits.max_numel:,} per sample", node.span,
                "check the sizes, or raise the limit with --limit max_numel=N", trace)
        return True
    return False


def budget_error(r: Reporter, node: Node, params: int, macs: int, limits: Limits, trace: Iterable[Note]) -> bool:
    """E602 where the totals so far (``node`` counted) pass a limit; True then (lowering stops)."""
    for what, total, limit in (("parameters", params, limits.max_params), ("MACs", macs, limits.max_macs)):
        if total > limit:
            r.error("E602", f"the network exceeds the limit of {limit:,} {what} at '{node.id}'", node.span,
                    "check the sizes, or raise the limit", trace)
            return True
    return False


def not_a_condition(value: Any, span: Span, hint: str | None) -> Diagnostic:
    """E202: a `when:` that is neither true nor false (taken as false)."""
    return Diagnostic("E202", f"'when' must be true or false, got {type_of(value)} {show(value)}", span, hint)


def count_error(r: Reporter, count: Any, span: Span, limits: Limits, trace: Iterable[Note]) -> str:
    """A repeat's count that is not a whole number (E202: the repeat is left out) or passes the
    limit (E603: lowering stops): the code reported, or "" for a count that is fine."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        r.error("E202", f"'repeat' needs a count of zero or more, got {type_of(count)} {show(count)}", span,
                None, trace)
        return "E202"
    if count > limits.max_repeat:
        r.error("E603", f"repeat count {count:,} exceeds the limit of {limits.max_repeat:,}", span,
                "check the expression, or raise the limit", trace)
        return "E603"
    return ""


# errors of an entry that depend only on where it stands, found once per definition (ir/define.py
# marks the statement) and reported wherever the statement runs, with that instance's notes


def needs_name(what: str, span: Span) -> Diagnostic:
    """E304: an entry with parameters and no name, in a list that names its layers."""
    return Diagnostic("E304", f"this {what} has parameters but no name", span,
                      "in a list that names its layers, name every layer with parameters (its name becomes its "
                      "state_dict key), e.g. `- conv1: conv(64, 3)`; or leave all unnamed to number them like "
                      "nn.Sequential")


def held_in_list(op: str, span: Span) -> Diagnostic:
    """E204: an op its module holds as a parameter (layer_scale), as an entry of an nn.Sequential."""
    return Diagnostic("E204", f"{op} is a parameter its module holds, not a module, so it cannot be an entry "
                              "of a numbered list (an nn.Sequential)", span,
                      f"name it in a list whose entries are all named, e.g. `- {op}: {op}(1e-6)` in a block's "
                      "layers or a residual's body, as torchvision's ConvNeXt CNBlock holds its layer_scale")


def name_made(r: Reporter, template: str, parts: Iterable[Any], span: Span, trace: Iterable[Note]) -> str | None:
    """The name a repeat's index makes (``denselayer{i + 1}`` from its parts' values), or None after
    E304: a part that is no whole number or text, or a made name that cannot name a layer."""
    from ..spec.parser import generated_name_problem

    made = []
    for value in parts:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            r.error("E304", f"a part of the name '{template}' is {type_of(value)} {show(value)}", span,
                    "the expressions in a name's braces give whole numbers or text, e.g. `denselayer{i + 1}`", trace)
            return None
        made.append(str(value))
    name = "".join(made)
    problem = generated_name_problem(name)
    if problem is not None:
        r.error("E304", f"the name '{template}' makes '{name}', which cannot name a layer: {problem[0]}", span,
                problem[1], trace)
        return None
    return name


def name_taken(r: Reporter, name: str, template: str | None, span: Span, first: Span, trace: Iterable[Note]) -> None:
    """E303: a named entry whose path (``name``, dotted) a module or an earlier entry has; ``template``:
    the name as written where a repeat's index makes it."""
    if template is not None:
        r.error("E303", f"the name '{template}' makes '{name}' again", span,
                "make each copy's name from the repeat index, e.g. `layer{i + 1}`",
                (Note("first made here", first), *trace))
    else:
        r.error("E303", f"the name '{name}' is used twice", span, "give each layer its own name",
                (Note("first used here", first),))


def node_taken(r: Reporter, node: str, span: Span, first: Span) -> None:
    """E303: a node whose id an earlier node has (two merges at one path, two layers of one name in
    a container): it is kept under an id of its own, as no module."""
    r.error("E303", f"the name '{node}' is used twice", span, "give each layer in a container its own name",
            (Note("first used here", first),))


def not_a_layer(name: str, kind: str, span: Span) -> Diagnostic:
    """E300: a parameter that holds no block (``kind``: its value's type) called as a layer."""
    return Diagnostic("E300", f"'{name}' is {'an' if kind[0] in 'aeiou' else 'a'} {kind} parameter, "
                              "not a layer or block", span,
                      f"only ops and blocks can be called; to call a block a parameter chooses, declare it "
                      f"`{name}: block` and pass the block")


def unknown_callee(name: str, candidates: Iterable[str], span: Span) -> Diagnostic:
    """E300: a call of a name that is neither an op nor a block (``candidates``: the ops and blocks)."""
    hint = suggest(name, list(candidates)) or "`archc ops` lists the ops; blocks are defined under `blocks:`"
    return Diagnostic("E300", f"unknown op or block '{name}'", span, hint)


def expr_error(err: ExprError, loc: m.Loc, undefined: Callable[[str], str | None]) -> Diagnostic:
    """E401-E405: an expression's error, at the part of it that is wrong (``loc``: where the text
    stands); an undefined name's hint is ``undefined(name)`` (ir/params.undefined_hint)."""
    hint = err.hint
    if err.code == "E401":
        hint = hint or undefined(err.message.split("'")[1])
    return Diagnostic(err.code, err.message, loc.at(err.off, err.end), hint)


def flat_in_sequential(span: Span) -> Diagnostic:
    """E204: branches written as a list (their modules the list's own) in a list that numbers its entries."""
    return Diagnostic("E204", "a `parallel:` list puts its branches' modules in the enclosing module, but this "
                              "list numbers its entries as an nn.Sequential", span,
                      "give the branches a module of their own: name the parallel (`- mixed: {parallel: [...]}`) "
                      "or write them as a mapping of named branches")


def unnamed_container(kind: str, span: Span) -> Diagnostic:
    """E304: a parallel or residual container without a name in a list that names its layers."""
    return Diagnostic("E304", f"this {kind} container has no name", span,
                      "in a list that names its layers, name every container with layers, e.g. "
                      f"`- block1: {{{kind}: ...}}` (its name becomes part of the state_dict keys)"
                      + ("; or write the branches as a list (`parallel: [...]`) to make their modules this "
                         "list's own" if kind == "parallel" else ""))


def from_with_parallel(span: Span) -> Diagnostic:
    """E204: a container whose `from:` merges several names, with `parallel:` branches."""
    return Diagnostic("E204", "`from:` with several names cannot be combined with `parallel:`", span,
                      "merge them in one entry, then put the branches in the next")


def head_misplaced(span: Span) -> Diagnostic:
    """E204: a training-only head elsewhere than the network's own list (a side output must reach
    the network's return value, as torchvision's GoogLeNet returns its aux heads)."""
    return Diagnostic("E204", "training-only heads must be entries of the network's top-level `layers`", span,
                      "move the head to the top level and point it at its input with `from:`")


def inline_body(block: str, span: Span) -> Diagnostic:
    """E204: an inline block whose body cannot be spliced into its caller's list."""
    return Diagnostic("E204", f"inline block '{block}' must have a `layers:` or `repeat:` body", span,
                      "remove `inline: true`, or wrap the body in `layers:`")


def head_unnamed(span: Span) -> Diagnostic:
    """E204: a training-only head without a name (the network returns its heads by name)."""
    return Diagnostic("E204", "a training-only head needs a name", span,
                      "the network returns its heads by name in training: write `- aux: {from: ..., "
                      "training_only: true, layers: ...}`")


def unknown_reference(name: str, later: bool, visible: list[str], span: Span) -> Diagnostic:
    """E305: a `from:` that names no point before it (``later``: one its list defines after it;
    ``visible``: the names it could read, the innermost list's first)."""
    if later:
        return Diagnostic("E305", f"'{name}' is defined later; `from:` must refer back", span,
                          "move this entry after the layer it reads")
    return Diagnostic("E305", f"unknown reference '{name}' in `from:`", span,
                      suggest(name, visible) or f"names visible here: {', '.join(visible)}")


def bind_error(err: BindError, spans: ArgSpans) -> Diagnostic:
    """An op's arguments it does not take, pointed at the argument."""
    return Diagnostic(err.code, err.message, spans.at(err.arg), err.hint)


def joins_inputs(op: str, span: Span) -> Diagnostic:
    """E504: a merge op (add, concat) called as a layer of one input."""
    return Diagnostic("E504", f"{op} joins two or more inputs and cannot follow a single layer", span,
                      f"write `{{from: [a, b], merge: {op}}}` to join named layers")


# a block call's arguments (the walk's ir/params.block_args reports them with these words)


def too_many_args(block: str, names: list[str], given: int, span: Span) -> Diagnostic:
    return Diagnostic("E308", f"{block}() takes {len(names)} argument(s) ({', '.join(names) or 'none'}), got {given}",
                      span)


def no_such_arg(block: str, name: str, names: list[str], span: Span) -> Diagnostic:
    return Diagnostic("E301", f"{block}() has no parameter '{name}'", span,
                      suggest(name, names) or f"its parameters: {', '.join(names) or 'none'}")


def arg_twice(block: str, name: str, span: Span) -> Diagnostic:
    return Diagnostic("E301", f"{block}() got '{name}' twice", span)


def missing_arg(block: str, name: str, required: list[str], span: Span) -> Diagnostic:
    return Diagnostic("E302", f"{block}() is missing its argument '{name}'", span,
                      f"call it as {block}({', '.join(required)})")


def short_trace(trace: tuple[Note, ...], keep: int = 12) -> tuple[Note, ...]:
    """A long chain of notes (a deep expansion) with its middle left out."""
    if len(trace) <= keep:
        return trace
    half = keep // 2
    return (*trace[:half], Note(f"... {len(trace) - keep} more levels ..."), *trace[-half:])


def nesting_error(r: Reporter, limit: int, span: Span, trace: tuple[Note, ...]) -> None:
    """E604: blocks and containers nested past ``limit`` (Limits.max_nesting) where ``span`` enters one more."""
    r.error("E604", f"blocks and containers nest more than {limit:,} levels deep as the network expands", span,
            "flatten the structure; a block that calls itself through parameters cannot end", short_trace(trace))


def stack_exhausted(r: Reporter, limit: int, span: Span, trace: tuple[Note, ...]) -> None:
    """E604: Python's stack ran out before the nesting limit (only a raised one) was reached, at
    ``span``, the entry being expanded."""
    r.error("E604", "the network nests too deeply for archc to expand", span,
            f"nest blocks and containers less deeply (max_nesting is {limit:,}, more than Python's stack allows)",
            short_trace(trace))


def node_limit(r: Reporter, limit: int, span: Span, trace: tuple[Note, ...]) -> None:
    """E600: the node at ``span`` is one past ``limit`` (Limits.max_nodes)."""
    r.error("E600", f"the network expands to more than {limit:,} nodes", span,
            "check repeat counts and block nesting, or raise the limit with --limit max_nodes=N", short_trace(trace))


def step_limit(r: Reporter, limit: int, span: Span, trace: tuple[Note, ...]) -> None:
    """E605: the entry (or repeat) at ``span`` is one step past ``limit`` (Limits.max_steps)."""
    r.error("E605", f"expanding the network takes more than {limit:,} steps", span,
            "check repeat counts and `when:` conditions, or raise the limit with --limit max_steps=N",
            short_trace(trace))


def foreseen_limit(r: Reporter, limits: Limits, what: str, span: Span, detail: str, trace: tuple[Note, ...]) -> None:
    """E600 or E605 (``what``: "nodes" or "steps") found before expanding, by a lower bound of the
    expansion that passes the limit (archc/ir/estimate.py); ``detail`` says how it was counted."""
    notes = short_trace((*trace, Note(f"counted before expanding: {detail}")))
    if what == "nodes":
        r.error("E600", f"the network expands to more than {limits.max_nodes:,} nodes", span,
                "check repeat counts and block nesting, or raise the limit with --limit max_nodes=N", notes)
    else:
        r.error("E605", f"expanding the network takes more than {limits.max_steps:,} steps", span,
                "check repeat counts, or raise the limit with --limit max_steps=N", notes)


def written_out_limit(r: Reporter, limit: int, span: Span) -> None:
    """E600: a repeat in a network written for its values (not once for all instances) whose copies
    would write more entries than the node limit, and whose entries cannot be written once with the
    index a symbol (archc/ir/define.py, Definer.unrolled)."""
    r.error("E600", f"this repeat, written out once per index, writes more than {limit:,} entries", span,
            "its entries vary with the index in a way one loop cannot say (a str parameter's value, or an "
            "unnamed op's arguments in a list that names its layers), so each index is written out: name or "
            "shorten the repeat, or raise the limit with --limit max_nodes=N")


def uses_itself(r: Reporter, block: str, depth: int, span: Span, trace: tuple[Note, ...]) -> None:
    """E306: a call of ``block`` inside its own expansion; ``depth``: the blocks being expanded
    around the call, whose names the trace's notes give (the cycle, its last eight steps)."""
    chain = [n.message.split("'")[1] for n in trace if n.message.startswith("in block")]
    cycle = " → ".join([*chain[len(chain) - depth:], block][-8:])
    r.error("E306", f"block '{block}' uses itself ({cycle})", span,
            "a block cannot contain itself; unroll the recursion with `repeat:`", short_trace(trace))
