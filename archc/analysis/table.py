"""``archc table`` output: text, markdown, csv, json and html renderings of a :class:`Report`.

The public functions here (:func:`render` and the ``to_*`` functions, which the methods
of the same names on :class:`Report` call) are the only implementation of each form:
``archc table`` prints ``render(report, fmt, depth, view)``, ``str(report)`` is
``to_text(report)`` without its final newline. ``depth`` leaves out rows deeper than
it (their figures are already summed into their containers), as ``--depth`` does.

What the tables show is chosen by :class:`View`: the counting convention of the count
column (``--count``), the batch size and dtype of the memory figures (``--batch``,
``--dtype``), the optimizer of the training estimate (``--optimizer``) and, for the
text, markdown and html forms, the columns (``--columns``). The csv and json forms
always carry every column.

The JSON form is meant for scripts; its keys are documented in docs/cli.md and
kept stable: ``name``, ``file``, ``input``, ``output``, ``heads``, ``params``,
``count``, ``batch``, ``dtype``, ``rows`` (each with ``path``, ``depth``, ``kind``,
``op``, ``output``, ``params``, ``macs``, ``training_only``, ``container``, ``line``,
``counts``, ``output_bytes``, ``rf``, ``stride``, ``trainable``) and ``totals``. Keys
are only ever added.

The HTML form is a complete page for ``--format html``; its body,
:func:`html_fragment`, is what a :class:`Report` shows in Jupyter. Every piece of
text in it is escaped: a spec's name and doc are free text from a file that may
not be trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from ..diagnostics import printable, suggest
from ..ops.base import CONVENTIONS, fmt_shape
from .memory import DTYPE_NAMES, DTYPES, OPTIMIZER_NAMES, OPTIMIZERS, MemoryEstimate

if TYPE_CHECKING:  # report.py imports this module to render itself; this one only names its types
    from .report import Report, Row

FORMATS = ("text", "markdown", "csv", "json", "html")
COLUMNS = ("op", "output", "params", "trainable", "count", "memory", "rf", "stride")
DEFAULT_COLUMNS = ("op", "output", "params", "count")
# Column headings of each convention's figure.
COUNT_LABELS = {"macs": "MACs", "flops": "FLOPs", "fvcore": "fvcore flops", "ptflops": "ptflops MACs",
                "all": "All FLOPs"}
_HEADINGS = {"op": "Op", "output": "Output", "params": "Params", "trainable": "Trainable", "memory": "Memory",
             "rf": "RF", "stride": "Stride"}
_NUMERIC = frozenset({"params", "count", "memory", "rf", "stride"})


@dataclass(frozen=True)
class View:
    """What a rendering shows besides the rows themselves."""

    count: str = "macs"
    batch: int = 1
    dtype: str = "fp32"
    optimizer: str = "adam"
    columns: tuple[str, ...] = DEFAULT_COLUMNS

    def __post_init__(self) -> None:
        if self.count not in CONVENTIONS:
            raise ValueError(f"unknown counting convention {self.count!r}; choose from {', '.join(CONVENTIONS)}")
        unknown = [c for c in self.columns if c not in COLUMNS]
        if unknown:
            raise ValueError(f"unknown column(s) {', '.join(unknown)}; choose from {', '.join(COLUMNS)}")
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1:
            raise ValueError(f"batch must be a whole number of at least 1, got {self.batch!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; choose from {', '.join(DTYPES)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")

    def with_(self, **options: Any) -> View:
        """A copy with some of ``count``, ``batch``, ``dtype``, ``optimizer``, ``columns`` changed;
        ``columns`` may be a list, a comma-separated string, or ``"all"``."""
        names = [f.name for f in fields(self)]
        for name in options:
            if name not in names:
                hint = suggest(name, names)
                raise TypeError(f"unknown table option {name!r}; the options are {', '.join(names)}"
                                + (f" ({hint})" if hint else ""))
        columns = options.get("columns")
        if isinstance(columns, str):
            options["columns"] = COLUMNS if columns == "all" else tuple(c.strip() for c in columns.split(","))
        elif columns is not None:
            options["columns"] = tuple(columns)
        return replace(self, **options)


def check_depth(depth: int | None) -> int | None:
    """``depth`` if it is None (every row) or a whole number of at least 0 (0: totals only)."""
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ValueError(f"depth must be a whole number of at least 0 (0: totals only) or None, got {depth!r}")
    return depth


def render(report: Report, fmt: str = "text", depth: int | None = None, view: View | None = None) -> str:
    """The report in one of ``FORMATS``: what ``archc table --format FMT --depth DEPTH`` prints
    (``html`` is a complete page)."""
    if fmt == "text":
        return to_text(report, depth, view)
    if fmt == "markdown":
        return to_markdown(report, depth, view)
    if fmt == "csv":
        return to_csv(report, depth, view)
    if fmt == "json":
        return to_json(report, depth, view)
    if fmt == "html":
        return to_html(report, depth, view, page=True)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def to_text(report: Report, depth: int | None = None, view: View | None = None) -> str:
    """The text table with its heading and totals, ending in a newline."""
    return _text(report, report.folded(check_depth(depth)), view or View())


def to_markdown(report: Report, depth: int | None = None, view: View | None = None) -> str:
    """A heading line, a Markdown table (spec text escaped) and the totals as a list."""
    return _markdown(report, report.folded(check_depth(depth)), view or View())


def to_csv(report: Report, depth: int | None = None, view: View | None = None) -> str:
    """One line per row with every column (figures in every convention), after a header line."""
    return _csv(report.folded(check_depth(depth)), view or View())


def to_dict(report: Report, depth: int | None = None, view: View | None = None) -> dict[str, Any]:
    """What :func:`to_json` writes, as Python data."""
    return _dict(report, report.folded(check_depth(depth)), view or View())


def to_json(report: Report, depth: int | None = None, view: View | None = None) -> str:
    """The JSON document of ``--format json`` (keys documented in docs/cli.md)."""
    import json

    return json.dumps(to_dict(report, depth, view), indent=2, ensure_ascii=False) + "\n"


def to_html(report: Report, depth: int | None = None, view: View | None = None, page: bool = False) -> str:
    """The HTML ``<div>`` Jupyter shows, or with ``page`` a complete page (``--format html``)."""
    rows, view = report.folded(check_depth(depth)), view or View()
    return _html_page(report, rows, view) if page else html_fragment(report, rows, view)


def first_line(doc: str) -> str:
    """The first non-blank line of a doc string, safe to print (specs are untrusted text)."""
    for line in doc.splitlines():
        if line.strip():
            return printable(line.strip())
    return ""


def _n(value: int) -> str:
    return f"{value:,}"


def _si(value: float) -> str:
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {unit}"
    return f"{value:g}"


def _mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:,.2f} MiB"


def fmt_bytes(n_bytes: int) -> str:
    """Bytes for people: ``512 B``, ``1.50 KiB``, ``3.06 MiB``, ``1.20 GiB``."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:,.2f} {unit}"
    return f"{n_bytes} B"


def fmt_dims(values: Sequence[int] | None) -> str:
    """A receptive field or stride: one number when every dimension agrees, else ``7×3``."""
    if values is None or not values:
        return "–"
    return str(values[0]) if len(set(values)) == 1 else "×".join(map(str, values))


def _op(row: Row) -> str:
    return row.label + (" (train)" if row.training_only else "")


def _heading(column: str, view: View) -> str:
    return COUNT_LABELS[view.count] if column == "count" else _HEADINGS[column]


def _cell(row: Row, column: str, view: View) -> str:
    if column == "op":
        return _op(row)
    if column == "output":
        return fmt_shape(row.shape)
    if column == "params":
        return _n(row.params)
    if column == "trainable":  # as torchinfo's trainable column: every, none, or some of its parameters
        return "–" if not row.params else "frozen" if row.frozen == row.params else "partly" if row.frozen else "yes"
    if column == "count":
        return _n(row.costs.get(view.count, 0))
    if column == "memory":
        return fmt_bytes(row.output_bytes(view.batch, view.dtype))
    if column == "rf":
        return fmt_dims(row.rf)
    return fmt_dims(row.stride)


def totals_lines(report: Report, view: View | None = None) -> list[tuple[str, str]]:
    view = view or View()
    t = report.totals
    out = [("Total parameters", _n(t.params))]
    if t.params_without_heads != t.params:
        out.append(("  without training-only heads", _n(t.params_without_heads)))
    out += [
        ("Trainable parameters", _n(t.trainable)),
        *([("  frozen", _n(t.frozen))] if t.frozen else []),
        ("MACs", f"{_n(t.macs)} ({_si(t.macs)}MAC; FLOPs = 2 × MACs)"),
    ]
    if t.macs_train != t.macs:
        out.append(("  in training, with heads", _n(t.macs_train)))
    if view.count != "macs":
        out.append((COUNT_LABELS[view.count], f"{_n(t.costs[view.count])} ({_si(t.costs[view.count])})"))
    memory = report.memory(view.batch, view.dtype, view.optimizer)
    out += [
        ("Parameter size", f"{_mib(t.params * DTYPES[view.dtype])} ({DTYPE_NAMES[view.dtype]})"),
        ("Buffers", _n(t.buffers)),
    ]
    if memory is not None:
        out += _memory_lines(memory)
    return out


def _memory_lines(m: MemoryEstimate) -> list[tuple[str, str]]:
    what = f"batch {m.batch}, {DTYPE_NAMES[m.dtype]}"
    return [
        ("Inference memory", f"{fmt_bytes(m.inference_peak)} peak of activations ({what})"),
        ("Training memory", f"{fmt_bytes(m.training_total)} estimated ({what}, {OPTIMIZER_NAMES[m.optimizer]})"),
        ("  of which", f"weights {fmt_bytes(m.weights)}, gradients {fmt_bytes(m.gradients)}, optimizer state "
                       f"{fmt_bytes(m.optimizer_state)}, saved activations {fmt_bytes(m.saved_activations)}"),
    ]


def _columns(report: Report, view: View) -> tuple[str, ...]:
    """The view's columns; the default ones gain Trainable where ``freeze:`` keeps some parameters
    from training."""
    if view.columns == DEFAULT_COLUMNS and report.totals.frozen:
        return ("op", "output", "params", "trainable", "count")
    return view.columns


def _text(report: Report, rows: list[Row], view: View) -> str:
    columns = _columns(report, view)
    table = [("Module", *(_heading(c, view) for c in columns))]
    for row in rows:
        table.append(("  " * (row.depth - 1) + row.path, *(_cell(row, c, view) for c in columns)))
    widths = [max(len(r[i]) for r in table) for i in range(len(columns) + 1)]
    width = sum(widths) + 2 * len(columns)
    rule = "─" * width
    lines = [f"{printable(report.name)}: input {fmt_shape(report.input_shape)} → output "
             f"{fmt_shape(report.output_shape)}"]
    summary = first_line(report.doc)
    if summary:
        lines.append(summary)
    lines.append(rule)
    for k, r in enumerate(table):
        cells = [r[0].ljust(widths[0])]
        cells += [r[i + 1].rjust(widths[i + 1]) if c in _NUMERIC else r[i + 1].ljust(widths[i + 1])
                  for i, c in enumerate(columns)]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append(rule)
    lines.append(rule)
    totals = totals_lines(report, view)
    key_width = max(len(k) for k, _ in totals)
    for key, value in totals:
        lines.append(f"{key + ':':<{key_width + 1}} {value}")
    if report.heads:
        lines.append("Training outputs: main, " + ", ".join(f"{n} ({fmt_shape(s)})" for n, s in report.heads))
    return "\n".join(lines) + "\n"


def _markdown(report: Report, rows: list[Row], view: View) -> str:
    def esc(text: str) -> str:
        # spec text may hold markup: rendered Markdown must show it, not run it
        return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
                .replace("\n", " "))

    columns = _columns(report, view)
    head = "| Module | " + " | ".join(_heading(c, view) for c in columns) + " |"
    align = "|---|" + "".join("---:|" if c in _NUMERIC else "---|" for c in columns)
    lines = [f"**{esc(printable(report.name))}**: input {fmt_shape(report.input_shape)} → output "
             f"{fmt_shape(report.output_shape)}", "", head, align]
    for row in rows:
        indent = "&nbsp;&nbsp;" * (row.depth - 1)
        cells = " | ".join(esc(_cell(row, c, view)) for c in columns)
        lines.append(f"| {indent}`{esc(row.path)}` | {cells} |")
    lines.append("")
    for key, value in totals_lines(report, view):
        lines.append(f"- {key.strip()}: {value}")
    return "\n".join(lines) + "\n"


def _dims_csv(values: Sequence[int] | None) -> str:
    return "x".join(map(str, values)) if values else ""


def _csv(rows: list[Row], view: View) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    others = [c for c in CONVENTIONS if c != "macs"]
    writer.writerow(["path", "depth", "kind", "op", "output", "params", "macs", "training_only", *others,
                     "output_bytes", "rf", "stride", "trainable"])
    for r in rows:
        writer.writerow([r.path, r.depth, r.kind, r.label, "x".join(map(str, r.shape)) if r.shape else "",
                         r.params, r.macs, int(r.training_only), *(r.costs.get(c, 0) for c in others),
                         r.output_bytes(view.batch, view.dtype), _dims_csv(r.rf), _dims_csv(r.stride), r.trainable])
    return buf.getvalue()


def _dict(report: Report, rows: list[Row], view: View) -> dict[str, Any]:
    t = report.totals
    memory = report.memory(view.batch, view.dtype, view.optimizer)
    doc = {
        "name": report.name,
        "file": report.file,
        "input": list(report.input_shape),
        "output": list(report.output_shape) if report.output_shape is not None else None,
        "heads": [{"name": n, "output": list(s) if s else None} for n, s in report.heads],
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in report.params.items()},
        "count": view.count,
        "batch": view.batch,
        "dtype": view.dtype,
        "rows": [r.to_json(view.batch, view.dtype) for r in rows],
        "totals": {"params": t.params, "params_without_heads": t.params_without_heads, "trainable": t.trainable,
                   "frozen": t.frozen, "buffers": t.buffers, "macs": t.macs, "macs_train": t.macs_train,
                   "flops": 2 * t.macs,
                   "param_bytes": t.param_bytes, "counts": dict(t.costs),
                   "memory": memory.to_json() if memory is not None else None},
    }
    return doc


# Inline styles, not a <style> sheet: Jupyter keeps them in untrusted notebooks, and
# its default right-aligned cells would otherwise scramble the text columns.
_LEFT, _RIGHT = "text-align:left", "text-align:right"


def html_fragment(report: Report, rows: list[Row] | None = None, view: View | None = None) -> str:
    """The report (or these of its rows) as an HTML ``<div>``: a heading line, the table and the totals."""
    import html

    view = view or View()
    e = html.escape
    heading = (f"<strong>{e(report.name)}</strong>: input {e(fmt_shape(report.input_shape))} &rarr; output "
               f"{e(fmt_shape(report.output_shape))}")
    lines = ['<div class="archc-report">', f"<p>{heading}</p>"]
    if report.doc.strip():
        lines.append(f"<p>{e(report.doc.strip().splitlines()[0])}</p>")
    columns = _columns(report, view)
    head = f'<th style="{_LEFT}">Module</th>' + "".join(
        f'<th style="{_RIGHT if c in _NUMERIC else _LEFT}">{e(_heading(c, view))}</th>' for c in columns)
    lines += ['<table class="archc-table">', f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    for row in report.rows if rows is None else rows:
        path = f"<code>{e(row.path)}</code>"
        if row.container:
            path = f"<strong>{path}</strong>"
        style = ' style="font-style:italic"' if row.training_only else ""
        cells = "".join(f'<td style="{_RIGHT if c in _NUMERIC else _LEFT}">{e(_cell(row, c, view))}</td>'
                        for c in columns)
        lines.append(f'<tr{style}><td style="{_LEFT};padding-left:{1.5 * (row.depth - 1) + 0.5:g}em">{path}</td>'
                     f"{cells}</tr>")
    lines += ["</tbody>", "</table>", '<table class="archc-totals">']
    for key, value in totals_lines(report, view):
        lines.append(f'<tr><th style="{_LEFT}">{e(key.strip())}</th><td style="{_LEFT}">{e(value)}</td></tr>')
    if report.heads:
        heads = ", ".join(f"{e(n)} ({e(fmt_shape(s))})" for n, s in report.heads)
        lines.append(f'<tr><th style="{_LEFT}">Training outputs</th><td style="{_LEFT}">main, {heads}</td></tr>')
    lines += ["</table>", "</div>"]
    return "\n".join(lines) + "\n"


def _html_page(report: Report, rows: list[Row], view: View) -> str:
    import html

    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(report.name)} – archc table</title>\n"
            "<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
            "th,td{padding:2px 10px}tbody tr:nth-child(even){background:#f4f4f4}</style>\n"
            f"</head>\n<body>\n{html_fragment(report, rows, view)}</body>\n</html>\n")
