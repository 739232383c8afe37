"""Porting weights from one spec to another: ``archc port`` and :func:`archc.port`.

A checkpoint is a state_dict written for spec A (say torchvision's ``resnet50`` weights);
the result is a complete state_dict for spec B (a variant with a new head, a deeper
classifier, renamed stages), which loads with ``strict=True`` into ``archc.build(B)``.
Each of B's tensors comes from the checkpoint, unchanged (bit for bit), or is B's own
fresh initialisation. They are matched in three passes, each over what the last left:

1. **by path**: A's module path as the diff engine pairs it with B's (the same path, or,
   for the numbered children of a container whose sequences differ, the child aligned
   by content: VGG's ``features.2`` with ``features.3`` once batch norms are inserted);
   the tensor moves if B has it there with the same shape;
2. **by structure**: modules left on both sides, in order, with the same op and the same
   tensor names and shapes, aligned as the diff engine aligns sequences (a stage renamed
   ``layer1`` → ``stage1``, a head ``fc`` → ``head``);
3. the rest is reported: B's tensors left are **new** (initialised as B's spec says), A's
   are **dropped**. Nothing is matched by shape alone, and every tensor that did not stay
   under its own name is listed.

``strict`` refuses a port (E804, located at the spec entry of each module) unless the
only new and dropped tensors lie in entries that B's spec declares with ``replace:`` or
``drop:`` (docs/language.md). A checkpoint is read with ``torch.load(weights_only=True)``:
a file that is missing, damaged, a pickled module or not a mapping of names to tensors is
E803, and one that does not fit spec A is E800. torch is imported only here.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .diagnostics import ArchcError, Diagnostic, Span, printable

# BatchNorm's step counter: checkpoints saved before PyTorch 0.4.1 lack it, and
# nn.BatchNorm loads them anyway (as 0). So does a port: such a key is "filled", not new.
COUNTER = "num_batches_tracked"


@dataclass(frozen=True)
class Tensor:
    """One tensor of the report: its key, its shape, and for a transfer where it came from."""

    key: str
    shape: tuple[int, ...]
    source: str | None = None  # A's key it was copied from
    how: str = ""  # transferred: name | renumbered | structure; new and dropped: why
    declared: str = ""  # new or dropped inside this entry, which B's spec replaces or drops


@dataclass
class PortResult:
    """What :func:`port` did: B's complete state_dict, and every tensor's fate."""

    source: str  # spec A's name
    target: str  # spec B's name
    state_dict: dict[str, Any]
    transferred: list[Tensor]
    new: list[Tensor]
    dropped: list[Tensor]
    filled: list[Tensor] = field(default_factory=list)
    checkpoint: str = ""
    files: list[Path] = field(default_factory=list)  # every file read (an output must not replace one)

    @property
    def tensors_a(self) -> int:
        """Tensors in the checkpoint."""
        return len(self.transferred) + len(self.dropped)

    @property
    def undeclared(self) -> list[Tensor]:
        """New and dropped tensors outside the entries B's spec replaces or drops."""
        return [t for t in (*self.new, *self.dropped) if not t.declared]

    def summary(self) -> str:
        """One line: ``transferred 318/320 tensors; new: fc.weight 37×2048, fc.bias 37; dropped: ...``."""
        parts = [f"transferred {len(self.transferred)}/{self.tensors_a} tensors"]
        for name, items in (("new", self.new), ("dropped", self.dropped)):
            if items:
                shown = ", ".join(f"{t.key} {shape(t.shape)}" for t in items[:4])
                more = f" and {len(items) - 4} more" if len(items) > 4 else ""
                parts.append(f"{name}: {printable(shown)}{more}")
        moved = sum(1 for t in self.transferred if t.how != "name")
        if moved:
            parts.append(f"{moved} under another name")
        return "; ".join(parts)

    def to_bytes(self) -> bytes:
        """The state_dict as ``torch.save`` writes it: what ``archc port`` writes, atomically (through
        :func:`archc.output.write_output`, never over ``files``)."""
        import torch

        buffer = io.BytesIO()
        torch.save(self.state_dict, buffer)
        return buffer.getvalue()

    def render(self, fmt: str = "text", every: bool = False) -> str:
        """The report: ``text`` (a summary line and a table of every tensor that did not stay under its
        own name; ``every`` lists all) or ``json`` (every tensor)."""
        if fmt == "json":
            return self._json()
        return self._text(every)

    def rows(self, every: bool = False) -> list[tuple[str, Tensor]]:
        out = [("transferred", t) for t in self.transferred if every or t.how != "name"]
        return out + [("new", t) for t in self.new] + [("dropped", t) for t in self.dropped] + \
            [("filled", t) for t in self.filled]

    def _text(self, every: bool) -> str:
        lines = [f"{printable(self.source)} → {printable(self.target)}: {self.summary()}"]
        table = [("Status", "Tensor", "Shape", "Note")]
        for status, t in self.rows(every):
            table.append((status, printable(t.key), shape(t.shape), printable(_note(status, t))))
        if len(table) > 1:
            widths = [max(len(row[i]) for row in table) for i in range(4)]
            lines.append("")
            for k, row in enumerate(table):
                lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
                if k == 0:
                    lines.append("  ".join("─" * w for w in widths))
        b_total = len(self.transferred) + len(self.new) + len(self.filled)
        lines.append("")
        lines.append(f"{printable(self.target)}: {b_total} tensors, {len(self.transferred)} from the checkpoint, "
                     f"{len(self.new) + len(self.filled)} initialised")
        if self.undeclared:
            lines.append(f"{len(self.undeclared)} new or dropped tensors lie outside the entries "
                         f"{printable(self.target)} declares replaced or dropped (--strict refuses them)")
        return "\n".join(lines) + "\n"

    def _json(self) -> str:
        import json

        def item(t: Tensor) -> dict[str, object]:
            return {"key": t.key, "shape": list(t.shape), "from": t.source, "how": t.how,
                    "declared": t.declared or None}

        doc = {"from": self.source, "to": self.target, "checkpoint": self.checkpoint,
               "tensors": {"checkpoint": self.tensors_a,
                           "target": len(self.transferred) + len(self.new) + len(self.filled)},
               "transferred": [item(t) for t in self.transferred], "new": [item(t) for t in self.new],
               "dropped": [item(t) for t in self.dropped], "filled": [item(t) for t in self.filled],
               "undeclared": len(self.undeclared), "summary": self.summary()}
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def shape(dims: tuple[int, ...]) -> str:
    return "×".join(map(str, dims)) if dims else "scalar"


def _note(status: str, t: Tensor) -> str:
    if status == "transferred":
        return {"name": "", "renumbered": f"from {t.source} (renumbered)",
                "structure": f"from {t.source} (matched by structure)"}.get(t.how, "")
    if status == "filled":
        return "not in the checkpoint (saved before PyTorch 0.4.1): 0, as BatchNorm loads it"
    return t.how + (f"; declared: {t.declared}" if t.declared else "; not declared by the target")


# --- reading a checkpoint ------------------------------------------------------------------


def _bad(message: str, hint: str) -> ArchcError:
    return ArchcError([Diagnostic("E803", message, None, hint)])


_SAVE_HINT = "save the model's weights with `torch.save(model.state_dict(), PATH)`"


def read_checkpoint(path: str | os.PathLike[str], key: str | None = None) -> dict[str, Any]:
    """The state_dict in ``path`` (under ``key`` in a training checkpoint), read with
    ``torch.load(weights_only=True)``: no pickled code runs. Any failure is E803."""
    import torch

    name = str(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(1)
    except OSError as err:
        what = "it is a directory" if Path(path).is_dir() else (err.strerror or str(err))
        raise _bad(f"cannot read the checkpoint '{name}': {what}", "check the path") from None
    if not head:
        raise _bad(f"the checkpoint '{name}' is empty", _SAVE_HINT)
    try:
        with warnings.catch_warnings():  # torch's advice about pickle protocols is not the user's business here
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling untrusted bytes raises anything (KeyError, EOFError, ...)
        text = str(err)
        if "Weights only load failed" in text:
            raise _bad(f"'{name}' holds pickled Python objects (such as a whole module saved with "
                       "torch.save(model)), which archc does not run", _SAVE_HINT + " where it was made, and port "
                       "that file") from None
        first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
        first = first if len(first) <= 200 else first[:197] + "..."
        raise _bad(f"'{name}' is not a PyTorch checkpoint, or is damaged ({type(err).__name__}: {first})",
                   "pass a file written by torch.save; download or copy it again if it was cut short") from None
    return _as_state_dict(data, name, key)


def _as_state_dict(data: Any, name: str, key: str | None = None) -> dict[str, Any]:
    import torch

    if key is not None:
        if not isinstance(data, Mapping) or key not in data:
            keys = ", ".join(repr(k) for k in list(data)[:10]) if isinstance(data, Mapping) else ""
            raise _bad(f"'{name}' has no entry {key!r}", f"its entries are: {keys}" if keys else
                       "it is not a mapping: leave out --key")
        data = data[key]
    if not isinstance(data, Mapping):
        raise _bad(f"'{name}' holds a {type(data).__name__}, not a state_dict (a mapping of names to tensors)",
                   _SAVE_HINT)
    if not data:
        raise _bad(f"'{name}' holds an empty state_dict", _SAVE_HINT)
    nested = [k for k, v in data.items() if isinstance(v, Mapping) and v and
              all(isinstance(t, torch.Tensor) for t in v.values())]
    bad = [k for k, v in data.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        if nested:
            raise _bad(f"'{name}' is a training checkpoint, not a state_dict: its entry {nested[0]!r} looks like one",
                       f"pick it with --key {nested[0]} (in Python, port(checkpoint[{nested[0]!r}], ...))")
        shown = ", ".join(repr(k) for k in bad[:5])
        raise _bad(f"'{name}' is not a state_dict: {shown} {'is' if len(bad) == 1 else 'are'} not a name with a "
                   "tensor", _SAVE_HINT)
    return dict(data)


# --- matching --------------------------------------------------------------------------------


def _module(key: str) -> tuple[str, str]:
    module, _, local = key.rpartition(".")
    return module, local


def _under(path: str, prefixes: set[str]) -> str | None:
    for p in prefixes:
        if path == p or path.startswith(p + "."):
            return p
    return None


def match(state_a: Mapping[str, Any], layout_b: Mapping[str, tuple[int, ...]], rows_a: list[Any],
          rows_b: list[Any]) -> tuple[dict[str, tuple[str, str]], list[str], list[str]]:
    """B key -> (A key, how) for every tensor that moves; then A's keys left, and B's keys left."""
    from .analysis.diff import align, renamed_paths

    rename = renamed_paths(rows_a, rows_b)
    moved: dict[str, tuple[str, str]] = {}
    for key_a, tensor in state_a.items():
        module, local = _module(key_a)
        target = rename(module) if module else ""
        if target is None:
            continue
        key_b = f"{target}.{local}" if target else local
        if key_b in layout_b and key_b not in moved and tuple(tensor.shape) == layout_b[key_b]:
            moved[key_b] = (key_a, "name" if key_b == key_a else "renumbered")
    taken = {a for a, _ in moved.values()}
    # by structure: the modules left on each side, as (op, its tensors' names and shapes), aligned in order
    ops_a = {r.path: r.kind for r in rows_a}
    ops_b = {r.path: r.kind for r in rows_b}
    left_a = _by_module([k for k in state_a if k not in taken], lambda k: tuple(state_a[k].shape), ops_a)
    left_b = _by_module([k for k in layout_b if k not in moved], lambda k: layout_b[k], ops_b)
    for i, j in align([sig for _, sig, _ in left_a], [sig for _, sig, _ in left_b], same_length_runs=False):
        for key_a, key_b in zip(left_a[i][2], left_b[j][2]):
            moved[key_b] = (key_a, "structure")
    taken = {a for a, _ in moved.values()}
    return moved, [k for k in state_a if k not in taken], [k for k in layout_b if k not in moved]


def _by_module(keys: list[str], shape_of: Any, ops: Mapping[str, str]) -> list[tuple[str, tuple, list[str]]]:
    """``(module, signature, keys)`` per module, in first-key order; the signature is its op and its
    tensors' local names and shapes, which must all agree for two modules to be paired."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault(_module(key)[0], []).append(key)
    return [(module, (ops.get(module), tuple((_module(k)[1], shape_of(k)) for k in ks)), ks)
            for module, ks in groups.items()]


def port(checkpoint: Any, source: Any, target: Any, *, strict: bool = False, key: str | None = None,
         input: tuple[int, ...] | None = None, limits: Any = None, source_overrides: Mapping[str, Any] | None = None,
         target_overrides: Mapping[str, Any] | None = None, what: str = "archc.port()") -> PortResult:
    """Map ``checkpoint`` (a path to a state_dict saved for spec ``source``, or the state_dict
    itself) onto spec ``target``; see the module's doc. Raises :class:`ArchcError`: E803 for a
    file that is not a state_dict, E800 when it does not fit ``source``, E804 with ``strict``."""
    from ._torch import require_torch

    torch = require_torch(what)
    from .analysis.report import analyze_graph
    from .emit import compile_graph, exec_source
    from .ir.lower import lower as lower_program
    from .spec.loader import Program, load

    def lower(program: Program, overrides: Mapping[str, Any] | None) -> Any:
        return lower_program(program, overrides=dict(overrides or {}), input_shape=input, limits=limits)

    program_a = source if isinstance(source, Program) else load(source, limits=limits)
    program_b = target if isinstance(target, Program) else load(target, limits=limits)
    if isinstance(checkpoint, (str, os.PathLike)):
        state_a, name = read_checkpoint(checkpoint, key), str(checkpoint)
    else:
        state_a, name = _as_state_dict(checkpoint, "the state_dict", key), ""
    graph_a = lower(program_a, source_overrides)
    graph_b = lower(program_b, target_overrides)
    with torch.device("meta"):  # only the layout: no memory, no initialisation
        layout_a = {k: tuple(v.shape) for k, v in
                    exec_source(compile_graph(graph_a), f"{program_a.name}_port_from").build()
                    .state_dict().items()}
    _check_fits(state_a, layout_a, program_a.name, name)
    built = exec_source(compile_graph(graph_b), f"{program_b.name}_port_to").build()
    fresh = built.state_dict()
    layout_b = {k: tuple(v.shape) for k, v in fresh.items()}
    moved, left_a, left_b = match(state_a, layout_b, analyze_graph(graph_a).rows, analyze_graph(graph_b).rows)

    mine = set(program_a.edits)
    edits = [(kind, path) for kind, path, span in program_b.edits if (kind, path, span) not in mine]
    replaced = {p for kind, p in edits if kind == "replace"}
    gone = {p for _, p in edits}
    transferred = [Tensor(k, layout_b[k], moved[k][0], moved[k][1]) for k in layout_b if k in moved]
    # a checkpoint saved without step counters: B's counters in modules whose weights it gave are filled
    old = not any(k.endswith("." + COUNTER) for k in state_a)
    given = {_module(k)[0] for k in moved}
    filled = [Tensor(k, layout_b[k]) for k in left_b if old and k.endswith("." + COUNTER) and _module(k)[0] in given]
    new = [Tensor(k, layout_b[k], how=_why_new(k, state_a), declared=_under(_module(k)[0], replaced) or "")
           for k in left_b if k not in {t.key for t in filled}]
    dropped = [Tensor(k, tuple(state_a[k].shape), how=_why_dropped(k, layout_b),
                      declared=_under(_module(k)[0], gone) or "") for k in left_a]
    state = {k: (state_a[moved[k][0]] if k in moved else fresh[k]) for k in layout_b}
    result = PortResult(program_a.name, program_b.name, state, transferred, new, dropped, filled, name,
                        [*([Path(name)] if name else []), *program_a.files, *program_b.files])
    if strict and result.undeclared:
        sources = {**program_a.sources, **program_b.sources}
        raise ArchcError(_strict_errors(result, graph_a, graph_b, program_b.name), sources)
    return result


def _why_new(key: str, state_a: Mapping[str, Any]) -> str:
    if key in state_a:
        return f"initialised: the checkpoint's is {shape(tuple(state_a[key].shape))}"
    return "initialised: not in the checkpoint"


def _why_dropped(key: str, layout_b: Mapping[str, tuple[int, ...]]) -> str:
    if key in layout_b:
        return f"the target's is {shape(layout_b[key])}"
    return "no place in the target"


def _check_fits(state: Mapping[str, Any], layout: Mapping[str, tuple[int, ...]], spec: str, name: str) -> None:
    """The checkpoint must be spec A's: the same keys (BatchNorm's step counters may be absent, as
    nn.BatchNorm allows) with the same shapes; else E800, with what differs."""
    missing = [k for k in layout if k not in state and not k.endswith("." + COUNTER)]
    extra = [k for k in state if k not in layout]
    wrong = [f"{k} {shape(tuple(state[k].shape))} (expected {shape(layout[k])})" for k in state
             if k in layout and tuple(state[k].shape) != layout[k]]
    if not (missing or extra or wrong):
        return
    parts = []
    for what, items in (("missing", missing), ("not in the spec", extra), ("of another shape", wrong)):
        if items:
            parts.append(f"{len(items)} {what}: {', '.join(items[:3])}{' ...' if len(items) > 3 else ''}")
    which = f"'{name}'" if name else "the state_dict"
    hint = ("pass as --from the spec it was saved from, with --set-from for its parameters "
            "(e.g. --set-from num_classes=10)")
    if extra and all(k.startswith("module.") for k in state):
        hint = ("its keys start with 'module.', as nn.DataParallel and DistributedDataParallel save them: save "
                "model.module.state_dict() instead")
    raise ArchcError([Diagnostic("E800", f"{which} was not saved from {spec} (--from): {'; '.join(parts)}", None,
                                 hint)])


def _strict_errors(result: PortResult, graph_a: Any, graph_b: Any, target: str) -> list[Diagnostic]:
    """One E804 per entry of the network (``layer1``, ``fc``) holding tensors that are new or
    dropped without being declared, located at that entry in B's spec (in A's for an entry B lacks)."""
    entries: dict[str, list[tuple[str, Tensor]]] = {}
    for side, items in (("new", result.new), ("dropped", result.dropped)):
        for t in items:
            if not t.declared:
                entries.setdefault(t.key.split(".")[0], []).append((side, t))
    out = []
    for entry, found in entries.items():
        parts = []
        for side, whose in (("new", f"{target}'s"), ("dropped", "the checkpoint's")):
            mine = [t for s, t in found if s == side]
            if mine:
                shown = ", ".join(f"{t.key} {shape(t.shape)}" for t in mine[:3])
                more = f" and {len(mine) - 3} more" if len(mine) > 3 else ""
                verb = "is" if len(mine) == 1 else "are"
                parts.append(f"{len(mine)} of {whose} tensors {verb} {side} ({shown}{more})")
        span = _span_of(graph_b, entry) or _span_of(graph_a, entry)
        hint = (f"if '{entry}' is meant to change, declare it in {target}'s spec (`replace: {{{entry}: ...}}` or "
                f"`drop: [{entry}]`, docs/language.md); else port from a checkpoint saved for this network. "
                "Without --strict the port is written and every tensor reported")
        out.append(Diagnostic("E804", f"--strict: in '{entry}', {' and '.join(parts)}", span, hint))
    return out


def _span_of(graph: Any, entry: str) -> Span | None:
    """Where the spec writes the network's entry ``entry``: its scope, or its node."""
    scope = graph.scopes.get((entry,))
    if scope is not None:
        return scope.span
    for node in graph.nodes.values():
        if tuple(node.scope) == (entry,) and node.module:
            return node.span
    return None


__all__ = ["PortResult", "Tensor", "port", "read_checkpoint"]
