"""``archc table`` output: text, markdown, csv, json and html renderings of a :class:`Report`.

The JSON form is meant for scripts; its keys are documented in docs/cli.md and
kept stable: ``name``, ``input``, ``output``, ``heads``, ``params``, ``rows``
(each with ``path``, ``depth``, ``kind``, ``op``, ``output``, ``params``,
``macs``, ``training_only``, ``container``, ``line``) and ``totals``.

The HTML form is a complete page for ``--format html``; its body,
:func:`html_fragment`, is what a :class:`Report` shows in Jupyter. Every piece of
text in it is escaped: a spec's name and doc are free text from a file that may
not be trusted.
"""

from __future__ import annotations

from ..ops.base import fmt_shape
from .report import Report, Row

FORMATS = ("text", "markdown", "csv", "json", "html")


def render(report: Report, fmt: str = "text", depth: int | None = None) -> str:
    rows = report.folded(depth)
    if fmt == "text":
        return _text(report, rows)
    if fmt == "markdown":
        return _markdown(report, rows)
    if fmt == "csv":
        return _csv(rows)
    if fmt == "json":
        return _json(report, rows)
    if fmt == "html":
        return _html_page(report, rows)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def _n(value: int) -> str:
    return f"{value:,}"


def _si(value: float) -> str:
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {unit}"
    return f"{value:g}"


def _mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:,.2f} MiB"


def _op(row: Row) -> str:
    return row.label + (" (train)" if row.training_only else "")


def totals_lines(report: Report) -> list[tuple[str, str]]:
    t = report.totals
    out = [("Total parameters", _n(t.params))]
    if t.params_without_heads != t.params:
        out.append(("  without training-only heads", _n(t.params_without_heads)))
    out += [
        ("Trainable parameters", _n(t.trainable)),
        ("MACs", f"{_n(t.macs)} ({_si(t.macs)}MAC; FLOPs = 2 × MACs)"),
    ]
    if t.macs_train != t.macs:
        out.append(("  in training, with heads", _n(t.macs_train)))
    out += [
        ("Parameter size", f"{_mib(t.param_bytes)} (float32)"),
        ("Buffers", _n(t.buffers)),
    ]
    return out


def _text(report: Report, rows: list[Row]) -> str:
    table = [("Module", "Op", "Output", "Params", "MACs")]
    for row in rows:
        table.append(("  " * (row.depth - 1) + row.path, _op(row), fmt_shape(row.shape), _n(row.params),
                      _n(row.macs)))
    widths = [max(len(r[i]) for r in table) for i in range(5)]
    width = sum(widths) + 2 * 4
    rule = "─" * width
    lines = [f"{report.name}: input {fmt_shape(report.input_shape)} → output {fmt_shape(report.output_shape)}"]
    if report.doc:
        lines.append(report.doc.strip().splitlines()[0])
    lines.append(rule)
    for k, r in enumerate(table):
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]), r[3].rjust(widths[3]),
                 r[4].rjust(widths[4])]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append(rule)
    lines.append(rule)
    key_width = max(len(k) for k, _ in totals_lines(report))
    for key, value in totals_lines(report):
        lines.append(f"{key + ':':<{key_width + 1}} {value}")
    if report.heads:
        lines.append("Training outputs: main, " + ", ".join(f"{n} ({fmt_shape(s)})" for n, s in report.heads))
    return "\n".join(lines) + "\n"


def _markdown(report: Report, rows: list[Row]) -> str:
    def esc(text: str) -> str:
        # spec text may hold markup: rendered Markdown must show it, not run it
        return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
                .replace("\n", " "))

    lines = [f"**{esc(report.name)}**: input {fmt_shape(report.input_shape)} → output "
             f"{fmt_shape(report.output_shape)}", "", "| Module | Op | Output | Params | MACs |",
             "|---|---|---|---:|---:|"]
    for row in rows:
        indent = "&nbsp;&nbsp;" * (row.depth - 1)
        lines.append(f"| {indent}`{esc(row.path)}` | {esc(_op(row))} | {fmt_shape(row.shape)} | {_n(row.params)} "
                     f"| {_n(row.macs)} |")
    lines.append("")
    for key, value in totals_lines(report):
        lines.append(f"- {key.strip()}: {value}")
    return "\n".join(lines) + "\n"


def _csv(rows: list[Row]) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["path", "depth", "kind", "op", "output", "params", "macs", "training_only"])
    for r in rows:
        writer.writerow([r.path, r.depth, r.kind, r.label, "x".join(map(str, r.shape)) if r.shape else "",
                         r.params, r.macs, int(r.training_only)])
    return buf.getvalue()


def _json(report: Report, rows: list[Row]) -> str:
    import json

    t = report.totals
    doc = {
        "name": report.name,
        "file": report.file,
        "input": list(report.input_shape),
        "output": list(report.output_shape) if report.output_shape is not None else None,
        "heads": [{"name": n, "output": list(s) if s else None} for n, s in report.heads],
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in report.params.items()},
        "rows": [r.to_json() for r in rows],
        "totals": {"params": t.params, "params_without_heads": t.params_without_heads, "trainable": t.trainable,
                   "buffers": t.buffers, "macs": t.macs, "macs_train": t.macs_train, "flops": 2 * t.macs,
                   "param_bytes": t.param_bytes},
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# Inline styles, not a <style> sheet: Jupyter keeps them in untrusted notebooks, and
# its default right-aligned cells would otherwise scramble the text columns.
_LEFT, _RIGHT = "text-align:left", "text-align:right"


def html_fragment(report: Report, rows: list[Row] | None = None) -> str:
    """The report (or these of its rows) as an HTML ``<div>``: a heading line, the table and the totals."""
    import html

    e = html.escape
    heading = (f"<strong>{e(report.name)}</strong>: input {e(fmt_shape(report.input_shape))} &rarr; output "
               f"{e(fmt_shape(report.output_shape))}")
    lines = ['<div class="archc-report">', f"<p>{heading}</p>"]
    if report.doc.strip():
        lines.append(f"<p>{e(report.doc.strip().splitlines()[0])}</p>")
    head = "".join(f'<th style="{_RIGHT if k >= 3 else _LEFT}">{name}</th>'
                   for k, name in enumerate(("Module", "Op", "Output", "Params", "MACs")))
    lines += ['<table class="archc-table">', f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    for row in report.rows if rows is None else rows:
        path = f"<code>{e(row.path)}</code>"
        if row.container:
            path = f"<strong>{path}</strong>"
        style = ' style="font-style:italic"' if row.training_only else ""
        lines.append(f'<tr{style}><td style="{_LEFT};padding-left:{1.5 * (row.depth - 1) + 0.5:g}em">{path}</td>'
                     f'<td style="{_LEFT}">{e(_op(row))}</td><td style="{_LEFT}">{e(fmt_shape(row.shape))}</td>'
                     f'<td style="{_RIGHT}">{_n(row.params)}</td><td style="{_RIGHT}">{_n(row.macs)}</td></tr>')
    lines += ["</tbody>", "</table>", '<table class="archc-totals">']
    for key, value in totals_lines(report):
        lines.append(f'<tr><th style="{_LEFT}">{e(key.strip())}</th><td style="{_LEFT}">{e(value)}</td></tr>')
    if report.heads:
        heads = ", ".join(f"{e(n)} ({e(fmt_shape(s))})" for n, s in report.heads)
        lines.append(f'<tr><th style="{_LEFT}">Training outputs</th><td style="{_LEFT}">main, {heads}</td></tr>')
    lines += ["</table>", "</div>"]
    return "\n".join(lines) + "\n"


def _html_page(report: Report, rows: list[Row]) -> str:
    import html

    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(report.name)} – archc table</title>\n"
            "<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
            "th,td{padding:2px 10px}tbody tr:nth-child(even){background:#f4f4f4}</style>\n"
            f"</head>\n<body>\n{html_fragment(report, rows)}</body>\n</html>\n")
