"""Drawing a :class:`~archc.render.fold.View` as a ``graphviz.Digraph``.

Every label is an HTML-like label assembled here from escaped pieces (see
:mod:`archc.render.escape`); ids are generated. The DOT text depends only on the
graph and the options, so it is byte-identical across runs (a golden file tests it).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

import graphviz

from ..ir.graph import Path, path_str
from ..ops.base import fmt_shape
from . import style as st
from .escape import attr, graph_name, html
from .fold import Cluster, Item, View

SHOW_CHOICES = ("shapes", "params", "macs", "names")
SHORT_CHAIN = 3  # a folded block of at most this many ops shows them instead of its arguments
DEFAULT_SHOW = frozenset({"shapes"})


def _font(text: str, size: int | None = None, color: str | None = None, bold: bool = False) -> str:
    """Wrap already escaped text in font tags."""
    if bold:
        text = f"<b>{text}</b>"
    attrs = (f' point-size="{size}"' if size else "") + (f' color="{color}"' if color else "")
    return f"<font{attrs}>{text}</font>" if attrs else text


def _label(lines: Iterable[str]) -> str:
    return "<" + "<br/>".join(line for line in lines if line) + ">"


def _args(args: dict[str, object], width: int = 42) -> list[str]:
    """Block arguments as ``planes=64, stride=2``, wrapped, escaped."""
    parts = [f"{k}={getattr(v, 'name', v)}" for k, v in args.items()]
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + len(part) + 2 <= width:
            lines[-1] += ", " + part
        else:
            lines.append(part)
    return [html(line, 120) for line in lines]


def _figures(item: Item | Cluster, show: frozenset[str], always: bool = False) -> str:
    params_on = (always or "params" in show) and (always or item.params > 0)
    macs_on = (always or "macs" in show) and (always or item.macs > 0)
    if not (params_on or macs_on):
        return ""
    return _font(html(st.figures(item.params, item.macs, params_on=params_on, macs_on=macs_on)), st.SMALL, st.DIM)


def _doc_lines(doc: str, width: int = 100, most: int = 2) -> list[str]:
    """The doc's first paragraph, wrapped to ``most`` lines (cut with an ellipsis)."""
    para = " ".join((doc.strip().split("\n\n") or [""])[0].split())
    lines = textwrap.wrap(para, width)
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = lines[-1][: width - 2].rstrip() + " …"
    return lines


def _shape_line(item: Item, show: frozenset[str]) -> str:
    return _font(html(fmt_shape(item.shape)), 9, st.DIM) if "shapes" in show else ""


class Drawer:
    def __init__(self, view: View, show: frozenset[str], direction: str):
        self.view = view
        self.show = show
        self.direction = direction
        self.anchors = {cl.scope.path for cl in view.clusters if cl.role in ("block", "head")}

    def name(self, path: Path) -> str:
        """A module path as shown: relative to the block drawn around it (``branch2.0`` inside
        ``inception3a``), keeping the parent's name before a bare index (``layer1.0``)."""
        for k in range(len(path) - 1, 0, -1):
            if path[:k] in self.anchors:
                rel = path[k:]
                return path_str(path[k - 1 :] if rel[0].isdigit() else rel)
        return path_str(path)

    def digraph(self) -> graphviz.Digraph:
        g = self.view.graph
        dot = graphviz.Digraph(graph_name(g.name), graph_attr={**st.GRAPH, "rankdir": self.direction},
                               node_attr=st.NODE, edge_attr=st.EDGE)
        dot.attr(label=self.title())
        self.level(dot, self.view.top)
        for edge in self.view.edges:
            dot.edge(edge.src.key, edge.dst.key, **st.EDGES[edge.kind])
        for a, b in self.view.hints:
            dot.edge(a.key, b.key, style="invis", weight="0")
        return dot

    # --- structure ------------------------------------------------------------------

    def level(self, dot: graphviz.Digraph, children: list[Item | Cluster]) -> None:
        for child in children:
            if isinstance(child, Cluster):
                with dot.subgraph(name=child.key) as sub:
                    sub.attr(**st.CLUSTER, **st.CLUSTERS[child.role], label=self.cluster_label(child),
                             tooltip=attr(path_str(child.scope.path)))
                    self.level(sub, child.children)
            else:
                self.node(dot, child)

    def node(self, dot: graphviz.Digraph, item: Item) -> None:
        attrs = self.node_attrs(item)
        if item.training_only:
            attrs["style"] = attrs.get("style", st.NODE["style"]) + ",dashed"
        dot.node(item.key, **attrs)

    # --- labels ----------------------------------------------------------------------

    def node_attrs(self, item: Item) -> dict[str, str]:
        show = self.show
        if item.kind in ("op", "input"):
            node = item.node
            assert node is not None
            if node.op is None:
                sw = st.TERMINAL
                return {"label": _label([_font("input", bold=True), _shape_line(item, show)]), "fillcolor": sw.fill,
                        "color": sw.border, "penwidth": "1.4", "tooltip": attr(f"input {fmt_shape(item.shape)}")}
            sw = st.swatch(node.op.family)
            tip = attr(f"{node.id}: {node.label} → {fmt_shape(node.shape)}")
            common = {"fillcolor": sw.fill, "color": sw.border, "tooltip": tip}
            if node.op.name == "add":
                return {**common, "label": _label([_font("+", 14, bold=True)]), "shape": "circle",
                        "width": "0.3", "height": "0.3", "fixedsize": "true", "margin": "0"}
            name = _font(html(self.name(node.scope)), st.SMALL, st.DIM) if "names" in show and node.module else ""
            lines = [name, _font(html(node.label), bold=True), _shape_line(item, show), _figures(item, show)]
            return {**common, "label": _label(lines)}
        if item.kind == "output":
            sw = st.TERMINAL
            title = "output" if not item.training_only else f"{item.title} (training only)"
            return {"label": _label([_font(html(title), bold=True), _shape_line(item, show)]),
                    "fillcolor": sw.fill, "color": sw.border, "penwidth": "1.4", "tooltip": attr(title)}
        return self.block_attrs(item)

    def block_attrs(self, item: Item) -> dict[str, str]:
        first, last = item.scopes[0], item.scopes[-1]
        count = len(item.scopes)
        where = self.name(first.path)
        if count > 1:
            where += " … " + (last.path[-1] if last.path[:-1] == first.path[:-1] else self.name(last.path))
        title = first.label if count == 1 else f"{first.label} ×{count}"
        lines = [_font(html(where), st.SMALL, st.DIM), _font(html(title), 11, bold=True)]
        lines += [_font(a, st.SMALL) for a in self.summary(item)]
        lines += [_shape_line(item, self.show), _figures(item, self.show, always=True)]
        sw = st.BLOCK
        attrs = {"label": _label(lines), "fillcolor": sw.fill, "color": sw.border, "penwidth": "1.6",
                 "tooltip": attr(f"{path_str(first.path)}: {title}")}
        if count > 1:
            attrs.update(style="filled", peripheries="2")
        return attrs

    def summary(self, item: Item) -> list[str]:
        """What a folded block does: its op chain when short and straight (``conv 3×3 → bn → relu``),
        else its arguments."""
        ops = [n for n in item.members if n.op is not None]
        if 0 < len(ops) <= SHORT_CHAIN and all(n.op is not None and n.op.family != "merge" for n in ops):
            return [html(" → ".join(n.label for n in ops))]
        return _args(item.scopes[0].args)

    def cluster_label(self, cl: Cluster) -> str:
        scope = cl.scope
        parts = [_font(html(self.name(scope.path)), bold=True)]
        if scope.block is not None:
            args = ", ".join(f"{k}={getattr(v, 'name', v)}" for k, v in scope.args.items())
            parts.append(html(f"{scope.block}({args})", 160))
        elif cl.role not in ("sequential", "shortcut"):
            parts.append(html(scope.label))
        if cl.role == "shortcut":
            parts.append("projection shortcut")
        if cl.role == "head":
            parts.append(_font("training only", color="#cc4125", bold=True))
        lines = [" · ".join(parts)]
        if cl.role in ("block", "head") or len(scope.path) == 1:
            lines.append(_figures(cl, self.show, always=True))
        return "<" + "".join(f'{line}<br align="left"/>' for line in lines if line) + ">"

    def title(self) -> str:
        g = self.view.graph
        out = g.nodes[g.output].shape if g.output in g.nodes else None
        heads = [n for n in g.nodes.values() if n.training_only]
        params = sum(i.params for i in self.view.items)
        macs = sum(i.macs for i in self.view.items if not i.training_only)
        rows = [_font(html(g.name, 80), 16, bold=True) + "   "
                + _font(html(f"input {fmt_shape(g.input_shape)} → output {fmt_shape(out)}"), 11)]
        for line in _doc_lines(g.doc):
            rows.append(_font(html(line), 10, st.DIM))
        summary = f"{st.human(params)} parameters · {st.human(macs)} MACs"
        if heads:
            summary += " (inference; training-only heads included in parameters)"
        rows.append(_font(html(summary), 10))
        folded = self.folding_note()
        if folded:
            rows.append(_font(html(folded), 9, st.DIM))
        return "<" + '<table border="0" cellborder="0" cellspacing="1" cellpadding="1">' + "".join(
            f'<tr><td align="left" balign="left">{r}</td></tr>' for r in rows) + \
            f'<tr><td align="left">{self.legend()}</td></tr></table>>'

    def folding_note(self) -> str:
        opts = self.view.options
        notes = []
        if opts.depth is not None:
            why = " to stay within the diagram budget" if opts.auto else ""
            notes.append(f"scopes at depth {opts.depth} and deeper folded into single boxes{why}")
        if opts.fold:
            notes.append("folded: " + ", ".join(sorted(opts.fold)))
        if notes and not opts.expand_repeats:
            notes.append("identical consecutive blocks merged (×N)")
        return "; ".join(notes)

    def legend(self) -> str:
        """One row: a swatch per op family in the picture, then the special boxes and edges used.

        Swatches are fixed-size cells and titles borderless, so the row looks the same
        however wide the title above it stretches the table."""
        items = self.view.items
        families = {i.node.op.family for i in items if i.node is not None and i.node.op is not None}
        entries = [(st.FAMILIES[f], "rounded") for f in st.LEGEND_ORDER if f in families]
        if any(i.kind in ("block", "repeat") for i in items):
            entries.append((st.BLOCK, ""))
        cells = []
        for sw, look in entries:
            rounded = f' style="{look}"' if look else ""
            cells.append(f'<td fixedsize="true" width="16" height="11" bgcolor="{sw.fill}" border="1" '
                         f'color="{sw.border}"{rounded}></td><td align="left">{_font(sw.title, 9)}</td>')
        kinds = {e.kind for e in self.view.edges}
        for kind in ("identity", "projection", "head"):
            if kind in kinds:
                look = st.EDGES[kind]
                arrow = "- - -▸" if look.get("style") == "dashed" else "━━━▸"
                cells.append(f'<td align="right">{_font(arrow, 9, look["color"], bold=True)}</td>'
                             f'<td align="left">{_font(st.EDGE_TITLES[kind], 9)}</td>')
        return ('<table border="0" cellborder="0" cellspacing="2" cellpadding="1"><tr>' + "".join(cells)
                + "</tr></table>")
