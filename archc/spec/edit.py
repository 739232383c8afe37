"""A variant's edits of its base: ``replace:`` and ``drop:``, applied to the base's layers.

A variant (a spec that ``extends`` another) names entries of its base by their module
path and gives each a new value, or leaves it out, without copying the base::

    extends: resnet50.yaml
    replace: {fc: linear(37)}
    drop: [aux1, aux2]

The edit happens here, on the spec models, before lowering: the loader hands lowering a
base whose ``layers`` already hold the new entries, so nothing after lowering knows that a
network was edited (the module IR, emission and analysis are those of a spec written out
in full). A replaced entry keeps its name and its place; the new value lives in the
variant's file, so an error in it (a shape that does not fit) points there.

A path is a name of the network's ``layers``, or a dotted path into named lists, groups and
parallel branches (``head.fc``, ``inception3a.branch4``), whose later parts may be positions
in a list (``classifier.6``) where each item before it takes exactly one position. The
insides of a block call are the block's: a path cannot reach into them (replace the call).
"""

from __future__ import annotations

from ..diagnostics import Note, Reporter, Span, did_you_mean
from . import model as m


class _Failed(Exception):
    """An edit that was reported and is skipped."""


def apply_edits(layers: tuple[m.Entry, ...], variants: list[m.Spec], r: Reporter, base_span: Span | None
                ) -> tuple[m.Entry, ...]:
    """``layers`` of the base with the edits of ``variants`` (base-most first) applied in turn."""
    for spec in variants:
        seen: dict[str, Span] = {}
        for edit in (*spec.replace, *spec.drop):
            key = edit.name
            if key in seen:
                r.error("E303", f"'{key}' is edited twice in this variant", _span(edit),
                        "replace an entry or drop it, once", [Note("first edited here", seen[key])])
                continue
            seen[key] = _span(edit)
            try:
                layers = _edit(layers, edit.path, edit, r, "the network's layers", base_span)
            except _Failed:
                continue
        dropped = [d for d in spec.drop if len(d.path) == 1]
        if dropped:
            _check_refs(layers, {d.path[0]: d for d in dropped}, r)
    return layers


def _span(edit: m.Replace | m.Drop) -> Span:
    return edit.path_span if isinstance(edit, m.Replace) else edit.span


def _edit(entries: tuple[m.Entry, ...], path: tuple[str, ...], edit: m.Replace | m.Drop, r: Reporter,
          where: str, base_span: Span | None) -> tuple[m.Entry, ...]:
    """``entries`` with the entry at ``path`` replaced or dropped (reported and raised when there is none)."""
    head, rest = path[0], path[1:]
    full = edit.name
    if head.isdigit():
        at = _position(entries, int(head), edit, r, where)
        entry: m.Entry = entries[at]
    else:
        names = [e.name for e in entries if isinstance(e, m.Named)]
        found = [i for i, e in enumerate(entries) if isinstance(e, m.Named) and e.name == head]
        if not found:
            best = did_you_mean(head, names)
            hint = (f"did you mean '{best}'?" if best else
                    f"the entries of {where} are: {', '.join(names)}" if names else f"{where} have no named entries")
            notes = [Note("the base spec", base_span)] if base_span is not None and not rest else []
            r.error("E310", f"the base spec has no entry '{head}' in {where}", _span(edit), hint, notes)
            raise _Failed()
        at = found[0]
        entry = entries[at]
    if not rest:
        if isinstance(edit, m.Drop):
            return entries[:at] + entries[at + 1:]
        if isinstance(entry, m.Named):
            new: m.Entry = m.Named(name=entry.name, name_span=edit.path_span, value=edit.value, span=edit.span)
        elif isinstance(edit.value, m.Call):
            new = edit.value
        else:
            r.error("E204", f"'{full}' is an unnamed item of a list: it can be replaced by a layer call only",
                    _span(edit), "write one call, e.g. `linear(37)`, or replace the enclosing list as a whole")
            raise _Failed()
        return entries[:at] + (new,) + entries[at + 1:]
    inner = f"'{entry.name}'" if isinstance(entry, m.Named) else f"item {head} of {where}"
    value = entry.value if isinstance(entry, m.Named) else entry
    if isinstance(value, m.Seq):
        items = _edit(value.items, rest, edit, r, inner, None)
        new_value: m.Call | m.Seq | m.Container = value.model_copy(update={"items": items})
    elif isinstance(value, m.Container) and value.parallel is not None and not rest[0].isdigit():
        branches = _edit(value.parallel, rest, edit, r, f"the branches of {inner}", None)
        if not branches:
            r.error("E204", f"dropping '{full}' leaves {inner} without branches", _span(edit),
                    f"drop {inner} as a whole")
            raise _Failed()
        new_value = value.model_copy(update={"parallel": branches})
    elif isinstance(value, m.Container) and isinstance(value.layers, m.Seq):
        items = _edit(value.layers.items, rest, edit, r, inner, None)
        new_value = value.model_copy(update={"layers": value.layers.model_copy(update={"items": items})})
    else:
        kinds = {"layers": "group whose layers are one call", "ref": "reference", "repeat": "repeat",
                 "residual": "residual"}
        what = (f"a call of '{value.call.callee}'" if isinstance(value, m.Call) else
                f"a {kinds.get(value.kind, value.kind)}")
        r.error("E310", f"'{full}' reaches into {inner}, which is {what}: its insides are not entries of the base "
                        "spec", _span(edit),
                f"replace {inner} as a whole" + (" (a block's layers are the block's own)"
                                                 if isinstance(value, m.Call) else ""))
        raise _Failed()
    if isinstance(entry, m.Named):
        return entries[:at] + (entry.model_copy(update={"value": new_value}),) + entries[at + 1:]
    return entries[:at] + (new_value,) + entries[at + 1:]  # type: ignore[operator]


def _position(entries: tuple[m.Entry, ...], index: int, edit: m.Replace | m.Drop, r: Reporter, where: str) -> int:
    """The item at ``index`` in a list whose items up to it take one position each (ops and named
    entries; a block may be inline and a container may be spliced or left out, which would make
    the spec's position differ from the module's number)."""
    from ..ops import registry

    ops = registry()
    for i, entry in enumerate(entries[:index + 1]):
        named_ok = isinstance(entry, m.Named) and not (isinstance(entry.value, m.Container)
                                                        and entry.value.when is not None)
        if not (named_ok or (isinstance(entry, m.Call) and entry.call.callee in ops)):
            r.error("E310", f"'{edit.name}' counts items of {where}, but item {i} is not one layer of its own "
                            "(a block call or a container may take several positions, or none)", _span(edit),
                    "replace the enclosing list as a whole")
            raise _Failed()
    if index >= len(entries):
        r.error("E310", f"'{edit.name}': {where} has {len(entries)} items, numbered 0 to {len(entries) - 1}",
                _span(edit), "positions count from 0")
        raise _Failed()
    return index


def _check_refs(entries: tuple[m.Entry, ...], dropped: dict[str, m.Drop], r: Reporter) -> None:
    """A dropped entry that a remaining one reads (``from: inception4a``) is an error at the drop."""
    for ref in _refs(entries):
        drop = dropped.get(ref.name)
        if drop is not None:
            r.error("E305", f"'{ref.name}' is dropped, but another entry of the base reads it", drop.span,
                    "drop the entries that read it too, or replace them", [Note("read here", ref.span)])
            dropped.pop(ref.name)


def _refs(entries: tuple[m.Entry, ...] | tuple[m.Named, ...]) -> list[m.Ref]:
    out: list[m.Ref] = []
    for entry in entries:
        value = entry.value if isinstance(entry, m.Named) else entry
        if isinstance(value, m.Seq):
            out += _refs(value.items)
        elif isinstance(value, m.Container):
            out += value.from_
            if isinstance(value.layers, m.Seq):
                out += _refs(value.layers.items)
            if value.parallel is not None:
                out += _refs(value.parallel)
    return out


def edited_paths(specs: list[m.Spec]) -> list[tuple[str, str, Span]]:
    """``(kind, path, span)`` of every edit of ``specs``: ``replace`` or ``drop``."""
    return [(("replace" if isinstance(e, m.Replace) else "drop"), e.name, _span(e))
            for spec in specs for e in (*spec.replace, *spec.drop)]


__all__ = ["apply_edits", "edited_paths"]
