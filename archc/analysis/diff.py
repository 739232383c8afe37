"""``archc diff A B``: two reports side by side, row by row, matched by module path.

Rows are matched by module path (and, for a module used several times, such as
ResNet's shared ``relu``, by the order of its uses). Numbered children of a container
(an ``nn.Sequential``'s ``0``, ``1``, …) are matched by what they are instead, where the
two sides' sequences differ: inserting a batch norm after every convolution of VGG's
flat ``features`` renumbers every later layer, so the two lists of ops are aligned
(longest matching runs, as ``difflib`` does) and ``features.2`` of A pairs with
``features.3`` of B; runs that differ but have the same length pair in order. (Lists
whose lengths multiply to more than :data:`ALIGN_BUDGET` are matched by path.) The
merged order is A's, with each row only B has placed right after the row that precedes
it in B, so a block that gains a layer shows it in place. Each pair is ``same``,
``changed`` (op, output shape, parameters or the count differ), ``removed`` (only in
A) or ``added`` (only in B).

The JSON form is stable for scripts (docs/cli.md): keys are only ever added.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from ..diagnostics import printable
from ..ops.base import fmt_shape
from .report import Report, Row
from .table import COUNT_LABELS, FORMATS

Key = tuple[str, int]  # (module path, which use of it)
# Aligning two lists by content takes time in the product of their lengths (difflib without
# autojunk): two lists of 20,000 layers took a minute. Longer lists are matched by path.
ALIGN_BUDGET = 4_000_000


@dataclass(frozen=True)
class DiffRow:
    path: str  # A's path, or B's for a row only B has
    depth: int
    a: Row | None
    b: Row | None
    count: str

    @property
    def shown_path(self) -> str:
        """The path, or ``a → b`` where aligned numbered layers have different numbers."""
        if self.a is not None and self.b is not None and self.a.path != self.b.path:
            return f"{self.a.path} → {self.b.path}"
        return self.path

    @property
    def status(self) -> str:
        if self.a is None:
            return "added"
        if self.b is None:
            return "removed"
        same = (self.a.label == self.b.label and self.a.shape == self.b.shape and self.a.params == self.b.params
                and self.a.costs.get(self.count) == self.b.costs.get(self.count))
        return "same" if same else "changed"

    def params(self, side: Row | None) -> int:
        return side.params if side is not None else 0

    def counted(self, side: Row | None) -> int:
        return side.costs.get(self.count, 0) if side is not None else 0

    @property
    def delta_params(self) -> int:
        return self.params(self.b) - self.params(self.a)

    @property
    def delta_count(self) -> int:
        return self.counted(self.b) - self.counted(self.a)


@dataclass(frozen=True)
class Edit:
    """What a variant's ``replace:``, ``drop:`` or ``freeze:`` does to its base (docs/language.md), where it is
    written."""

    kind: str  # replace | drop | freeze (a path its `freeze:` names)
    path: str
    file: str
    line: int
    col: int


@dataclass(frozen=True)
class Diff:
    a: Report
    b: Report
    rows: list[DiffRow]
    count: str = "macs"
    # the edits each side makes to a base that the other side does not make: the why of the rows
    edits: dict[str, list[Edit]] = field(default_factory=dict)

    def folded(self, depth: int | None, only_changed: bool = False) -> list[DiffRow]:
        rows = self.rows if depth is None else [r for r in self.rows if r.depth <= depth]
        return [r for r in rows if r.status != "same"] if only_changed else rows


def _keyed(rows: list[Row]) -> list[tuple[Key, Row]]:
    seen: dict[str, int] = {}
    out = []
    for row in rows:
        k = seen.get(row.path, 0)
        seen[row.path] = k + 1
        out.append(((row.path, k), row))
    return out


def _children(rows: list[Row]) -> dict[str, list[Row]]:
    """Parent path -> its direct children (first use of each), in order."""
    out: dict[str, list[Row]] = defaultdict(list)
    seen: set[str] = set()
    for row in rows:
        if row.path not in seen:
            seen.add(row.path)
            out[row.path.rpartition(".")[0]].append(row)
    return out


def _rename(path: str, renames: dict[str, str | None]) -> str | None:
    """B's path for A's ``path``: its longest renamed prefix replaced (None: B has no partner)."""
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in renames:
            target = renames[prefix]
            return None if target is None else ".".join([target, *parts[n:]])
    return path


def _renames(rows_a: list[Row], rows_b: list[Row]) -> dict[str, str | None]:
    """A path -> B path for numbered children aligned by content (None: no partner in B)."""
    kids_a, kids_b = _children(rows_a), _children(rows_b)
    renames: dict[str, str | None] = {}
    for parent in sorted(kids_a, key=lambda p: (p.count("."), p) if p else (-1, "")):
        target = _rename(parent, renames) if parent else ""
        if target is None or target not in kids_b:
            continue
        ca, cb = kids_a[parent], kids_b[target]
        numbered = all(r.path.rpartition(".")[2].isdigit() for r in ca + cb)
        la, lb = [(r.kind, r.label) for r in ca], [(r.kind, r.label) for r in cb]
        if not numbered or la == lb or len(la) * len(lb) > ALIGN_BUDGET:
            continue  # (too long to align: matched by path, as other rows are)
        paired: dict[str, str | None] = {r.path: None for r in ca}
        for i, j in align(la, lb):
            paired[ca[i].path] = cb[j].path
        renames.update(paired)
    return renames


def align(la: list, lb: list, *, same_length_runs: bool = True) -> list[tuple[int, int]]:
    """Pairs ``(i, j)`` of positions in ``la`` and ``lb`` aligned by content: the longest matching
    runs (``difflib``, without autojunk), and, with ``same_length_runs``, runs that differ but have
    the same length, in order. :func:`archc.port` aligns modules left over by name this way."""
    pairs = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, la, lb, autojunk=False).get_opcodes():
        if tag == "equal" or (same_length_runs and tag == "replace" and i2 - i1 == j2 - j1):
            pairs += zip(range(i1, i2), range(j1, j2))
    return pairs


def renamed_paths(rows_a: list[Row], rows_b: list[Row]) -> Callable[[str], str | None]:
    """B's module path for each of A's, as :func:`diff_reports` pairs rows: by path, and numbered
    children of a container by content where the two sides' sequences differ (None: no partner)."""
    renames = _renames(rows_a, rows_b)
    return lambda path: _rename(path, renames)


def diff_reports(a: Report, b: Report, count: str = "macs", edits: dict[str, list[Edit]] | None = None) -> Diff:
    """Pair the rows of ``a`` and ``b`` by module path (numbered layers by content)."""
    rows_a, rows_b = _keyed(a.rows), _keyed(b.rows)
    by_b = dict(rows_b)
    renames = _renames(a.rows, b.rows)
    partner: dict[Key, Key] = {}  # B key -> A key
    for (path, use), _ in rows_a:
        target = _rename(path, renames)
        if target is not None and (target, use) in by_b:
            partner[(target, use)] = (path, use)
    # A's order; each B-only row just after the row before it in B (and after rows inserted there before it)
    position: dict[tuple[str, Key], float] = {("a", k): float(i) for i, (k, _) in enumerate(rows_a)}
    anchor = -1.0
    for k, _ in rows_b:
        if k in partner:
            anchor = position[("a", partner[k])]
        else:
            anchor += 1e-6
            position[("b", k)] = anchor
    by_a = dict(rows_a)
    pair_of = {v: k for k, v in partner.items()}  # A key -> B key
    out = []
    for side, k in sorted(position, key=position.__getitem__):
        ra = by_a.get(k) if side == "a" else None
        rb = by_b.get(pair_of[k]) if side == "a" and k in pair_of else (by_b[k] if side == "b" else None)
        first = ra or rb
        assert first is not None
        out.append(DiffRow(k[0], first.depth, ra, rb, count))
    return Diff(a, b, out, count, edits or {})


# --- rendering -----------------------------------------------------------------------------


def _n(value: int) -> str:
    return f"{value:,}"


def _delta(value: int) -> str:
    return "0" if value == 0 else f"{value:+,}"


def _pair(a: str | None, b: str | None) -> str:
    if a is None:
        return f"→ {b}"
    if b is None:
        return f"{a} →"
    return a if a == b else f"{a} → {b}"


def _cells(r: DiffRow) -> tuple[str, ...]:
    op = _pair(r.a.label if r.a else None, r.b.label if r.b else None)
    out = _pair(fmt_shape(r.a.shape) if r.a else None, fmt_shape(r.b.shape) if r.b else None)
    return (op, out, _n(r.params(r.a)) if r.a else "–", _n(r.params(r.b)) if r.b else "–", _delta(r.delta_params),
            _n(r.counted(r.a)) if r.a else "–", _n(r.counted(r.b)) if r.b else "–", _delta(r.delta_count))


_MARK = {"same": " ", "changed": "~", "added": "+", "removed": "-"}


def _headings(diff: Diff) -> tuple[str, ...]:
    label = COUNT_LABELS[diff.count]
    return ("Op", "Output", "Params A", "Params B", "Δ Params", f"{label} A", f"{label} B", f"Δ {label}")


def _totals(diff: Diff) -> list[tuple[str, int, int]]:
    ta, tb = diff.a.totals, diff.b.totals
    trainable = [("Trainable", ta.trainable, tb.trainable)] if ta.frozen or tb.frozen else []  # `freeze:`
    return [("Parameters", ta.params, tb.params), *trainable,
            (COUNT_LABELS[diff.count], ta.costs[diff.count], tb.costs[diff.count])]


def _ratio(a: int, b: int) -> str:
    return f"×{b / a:.3f}" if a else "–"


def render(diff: Diff, fmt: str = "text", depth: int | None = None, only_changed: bool = False) -> str:
    rows = diff.folded(depth, only_changed)
    if fmt == "json":
        return _json(diff, rows)
    if fmt == "csv":
        return _csv(diff, rows)
    if fmt == "markdown":
        return _markdown(diff, rows)
    if fmt == "html":
        return _html(diff, rows)
    if fmt == "text":
        return _text(diff, rows)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def _title(diff: Diff) -> str:
    a, b = diff.a, diff.b
    # spec names are free text: escape what could drive the terminal
    return (f"A = {printable(a.name)} (input {fmt_shape(a.input_shape)} → {fmt_shape(a.output_shape)}), "
            f"B = {printable(b.name)} (input {fmt_shape(b.input_shape)} → {fmt_shape(b.output_shape)})")


def _text(diff: Diff, rows: list[DiffRow]) -> str:
    table = [("", "Module", *_headings(diff))]
    for r in rows:
        table.append((_MARK[r.status], "  " * (r.depth - 1) + r.shown_path, *_cells(r)))
    widths = [max(len(t[i]) for t in table) for i in range(len(table[0]))]
    rule = "─" * (sum(widths) + 2 * (len(widths) - 1))
    lines = [_title(diff), *_edit_lines(diff), rule]
    for k, t in enumerate(table):
        cells = [c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(t, widths))]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append(rule)
    lines.append(rule)
    totals = _totals(diff)
    width = max(len(name) for name, _, _ in totals)
    for name, a, b in totals:
        lines.append(f"{name + ':':<{width + 1}} A {_n(a)}, B {_n(b)}, Δ {_delta(b - a)} ({_ratio(a, b)})")
    counts = {s: sum(1 for r in diff.rows if r.status == s) for s in ("changed", "added", "removed")}
    lines.append(f"Rows: {counts['changed']} changed (~), {counts['added']} only in B (+), "
                 f"{counts['removed']} only in A (-)")
    return "\n".join(lines) + "\n"


_VERBS = {"replace": "replaces", "drop": "drops", "freeze": "freezes"}


def _edit_lines(diff: Diff) -> list[str]:
    """``B replaces fc (pets.yaml:5:3); drops aux1 (…)``: one line per side that edits its base."""
    out = []
    for side in ("a", "b"):
        edits = diff.edits.get(side)
        if edits:
            parts = [f"{_VERBS[e.kind]} {printable(e.path)} ({printable(e.file)}:{e.line}:{e.col})"
                     for e in edits if e.kind != "freeze"]
            frozen = [e for e in edits if e.kind == "freeze"]
            if frozen:  # one clause for the paths of one `freeze:`, at its first
                first = frozen[0]
                parts.append(f"freezes {', '.join(printable(e.path) for e in frozen)} "
                             f"({printable(first.file)}:{first.line}:{first.col})")
            said = "; ".join(parts)
            out.append(f"{side.upper()} {said}")
    return out


def _markdown(diff: Diff, rows: list[DiffRow]) -> str:
    def esc(text: str) -> str:
        return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
                .replace("\n", " "))

    lines = [esc(_title(diff)), *(f"\n{esc(line)}" for line in _edit_lines(diff)), "",
             "| | Module | " + " | ".join(_headings(diff)) + " |", "|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        indent = "&nbsp;&nbsp;" * (r.depth - 1)
        lines.append(f"| {_MARK[r.status].strip()} | {indent}`{esc(r.shown_path)}` | "
                     + " | ".join(esc(c) for c in _cells(r)) + " |")
    lines.append("")
    for name, a, b in _totals(diff):
        lines.append(f"- {name}: A {_n(a)}, B {_n(b)}, Δ {_delta(b - a)} ({_ratio(a, b)})")
    return "\n".join(lines) + "\n"


def _side(row: Row | None, count: str) -> dict[str, object] | None:
    if row is None:
        return None
    return {"kind": row.kind, "op": row.label, "output": list(row.shape) if row.shape is not None else None,
            "params": row.params, "count": row.costs.get(count, 0), "counts": dict(row.costs),
            "training_only": row.training_only, "container": row.container}


def _summary(report: Report) -> dict[str, object]:
    t = report.totals
    return {"name": report.name, "file": report.file, "input": list(report.input_shape),
            "output": list(report.output_shape) if report.output_shape is not None else None,
            "params": t.params, "counts": dict(t.costs)}


def _json(diff: Diff, rows: list[DiffRow]) -> str:
    import json

    doc = {
        "a": _summary(diff.a),
        "b": _summary(diff.b),
        "count": diff.count,
        "rows": [{"path": r.path, "path_a": r.a.path if r.a else None, "path_b": r.b.path if r.b else None,
                  "depth": r.depth, "status": r.status, "a": _side(r.a, diff.count),
                  "b": _side(r.b, diff.count), "delta": {"params": r.delta_params, "count": r.delta_count}}
                 for r in rows],
        "totals": {key: {"a": a, "b": b, "delta": b - a}
                   for key, (_, a, b) in zip(("params", "count"), _totals(diff))},
        "edits": {side: [{"kind": e.kind, "path": e.path, "file": e.file, "line": e.line, "col": e.col}
                         for e in diff.edits.get(side, [])] for side in ("a", "b")},
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _csv(diff: Diff, rows: list[DiffRow]) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["path", "path_b", "depth", "status", "op_a", "op_b", "output_a", "output_b", "params_a",
                     "params_b", "delta_params", "count_a", "count_b", "delta_count"])

    def shape(row: Row | None) -> str:
        return "x".join(map(str, row.shape)) if row is not None and row.shape else ""

    for r in rows:
        writer.writerow([r.path, r.b.path if r.b else "", r.depth, r.status, r.a.label if r.a else "",
                         r.b.label if r.b else "", shape(r.a), shape(r.b), r.params(r.a) if r.a else "",
                         r.params(r.b) if r.b else "", r.delta_params, r.counted(r.a) if r.a else "",
                         r.counted(r.b) if r.b else "", r.delta_count])
    return buf.getvalue()


_NUM = ' class="n"'
_COLOURS = {"same": "", "changed": "background:#fff6d5", "added": "background:#e3f6e3",
            "removed": "background:#fbe3e3"}


def _html(diff: Diff, rows: list[DiffRow]) -> str:
    import html

    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in ("Module", *_headings(diff)))
    lines = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{e(diff.a.name)} vs {e(diff.b.name)} – archc diff</title>",
             "<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
             "th,td{padding:2px 10px;text-align:left}td.n{text-align:right}</style>", "</head>", "<body>",
             f"<p>{e(_title(diff))}</p>", *(f"<p>{e(line)}</p>" for line in _edit_lines(diff)),
             '<table class="archc-diff">', f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    for r in rows:
        style = f' style="{_COLOURS[r.status]}"' if _COLOURS[r.status] else ""
        cells = "".join(f"<td{_NUM if i >= 2 else ''}>{e(c)}</td>" for i, c in enumerate(_cells(r)))
        lines.append(f'<tr{style} title="{r.status}"><td style="padding-left:{1.5 * (r.depth - 1) + 0.5:g}em">'
                     f"<code>{e(r.shown_path)}</code></td>{cells}</tr>")
    lines += ["</tbody>", "</table>", "<ul>"]
    for name, a, b in _totals(diff):
        lines.append(f"<li>{e(name)}: A {_n(a)}, B {_n(b)}, Δ {_delta(b - a)} ({_ratio(a, b)})</li>")
    lines += ["</ul>", "</body>", "</html>"]
    return "\n".join(lines) + "\n"
