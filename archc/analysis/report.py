"""The report behind ``archc table``: one row per module path, and the totals.

Rows are in pre-order (a container before its contents) with their summed
figures, so ``depth`` folding is just leaving out deeper rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.graph import Graph, Node, Scope, Shape, path_str
from .counts import Counts, Totals, node_counts, scope_counts, totals


@dataclass(slots=True)
class Row:
    path: str
    depth: int
    kind: str  # op name, or block / sequential / parallel / residual
    label: str  # e.g. "conv 3×3/2", "Bottleneck"
    shape: Shape | None
    params: int
    macs: int
    training_only: bool = False
    container: bool = False
    line: int = 0  # where it was written

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "depth": self.depth, "kind": self.kind, "op": self.label,
                "output": list(self.shape) if self.shape is not None else None, "params": self.params,
                "macs": self.macs, "training_only": self.training_only, "container": self.container,
                "line": self.line}


@dataclass
class Report:
    name: str
    doc: str
    file: str
    input_shape: Shape
    output_shape: Shape | None
    rows: list[Row]
    totals: Totals
    heads: list[tuple[str, Shape | None]] = field(default_factory=list)
    params: dict[str, object] = field(default_factory=dict)

    def folded(self, depth: int | None) -> list[Row]:
        if depth is None:
            return self.rows
        return [r for r in self.rows if r.depth <= depth]

    def __repr__(self) -> str:
        # short: Jupyter stores this text beside the HTML table in the notebook
        return (f"<Report {self.name}: {self.totals.params:,} parameters, {self.totals.macs:,} MACs, "
                f"{len(self.rows)} rows>")

    def _repr_html_(self) -> str:
        """Jupyter shows a report as an HTML table (every spec-supplied text escaped)."""
        from .table import html_fragment

        return html_fragment(self)


def _container_kind(scope: Scope) -> str:
    return "block" if scope.kind == "block" else scope.kind


def analyze_graph(graph: Graph) -> Report:
    per_node = node_counts(graph)
    per_scope = scope_counts(graph, per_node)
    rows: list[Row] = []
    for path, item in graph.modules():
        if isinstance(item, Node):
            c = per_node[item.id]
            rows.append(Row(path_str(path), len(path), item.op_name, item.label, item.shape, c.params, c.macs,
                            item.training_only, False, item.span.line))
        else:
            c = per_scope.get(path, Counts())
            out = graph.nodes[item.output].shape if item.output in graph.nodes else None
            macs = c.macs
            rows.append(Row(path_str(path), len(path), _container_kind(item), item.label, out, c.params, macs,
                            item.training_only, True, item.span.line))
    output = graph.nodes[graph.output].shape if graph.output in graph.nodes else None
    heads = [(h.name, graph.nodes[h.node].shape) for h in graph.heads]
    params = {k: getattr(v, "name", v) for k, v in graph.params.items()}
    return Report(graph.name, graph.doc, graph.file, graph.input_shape, output, rows, totals(graph, per_node), heads,
                  params)
