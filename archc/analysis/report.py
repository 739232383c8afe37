"""The report behind ``archc table``: one row per module path, and the totals.

Rows are in pre-order (a container before its contents) with their summed
figures, so ``depth`` folding is just leaving out deeper rows. Each row carries its
figure in every counting convention, its output's size per sample, and its
receptive field and effective stride; memory for a batch and dtype comes from
:meth:`Report.memory`.

A report renders itself with :mod:`archc.analysis.table` (the functions ``archc
table`` prints): ``str(report)`` is the text table, ``to_markdown``, ``to_csv``,
``to_json``, ``to_dict`` and ``to_html`` the other forms, and Jupyter shows the HTML
table. :meth:`Report.fold` and :meth:`Report.with_view` give a report that shows
itself folded, or with other columns or figures, wherever it is displayed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from ..ir.graph import Graph, Node, Scope, Shape, path_str
from . import table
from .counts import Counts, Totals, node_counts, scope_counts, totals
from .memory import DTYPES, MemoryEstimate, MemoryPlan, estimate, plan
from .receptive import Field, receptive_fields
from .table import View


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
    costs: dict[str, int] = field(default_factory=dict)  # per counting convention
    rf: tuple[int, ...] | None = None  # receptive field per spatial dimension of the input
    stride: tuple[int, ...] | None = None  # effective stride (jump), likewise
    frozen: int = 0  # of its parameters, those `freeze:` keeps from training

    @property
    def trainable(self) -> int:
        return self.params - self.frozen

    @property
    def numel(self) -> int:
        """Elements of the output, per sample."""
        return math.prod(self.shape) if self.shape is not None else 0

    def output_bytes(self, batch: int = 1, dtype: str = "fp32") -> int:
        return batch * self.numel * DTYPES[dtype]

    def to_json(self, batch: int = 1, dtype: str = "fp32") -> dict[str, object]:
        return {"path": self.path, "depth": self.depth, "kind": self.kind, "op": self.label,
                "output": list(self.shape) if self.shape is not None else None, "params": self.params,
                "macs": self.macs, "training_only": self.training_only, "container": self.container,
                "line": self.line, "counts": dict(self.costs), "output_bytes": self.output_bytes(batch, dtype),
                "rf": list(self.rf) if self.rf is not None else None,
                "stride": list(self.stride) if self.stride is not None else None, "trainable": self.trainable}


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
    memory_plan: MemoryPlan | None = None
    # How the report shows itself (str, Jupyter, the to_* methods by default): see fold() and with_view().
    depth: int | None = None
    view: View = field(default_factory=View)

    def memory(self, batch: int = 1, dtype: str = "fp32", optimizer: str = "adam") -> MemoryEstimate | None:
        """Inference peak and training estimate for a batch size, dtype (``fp32``, ``fp16``,
        ``bf16``) and optimizer (``sgd``, ``momentum``, ``adam``); None if a shape is unknown."""
        t = self.totals
        return estimate(self.memory_plan, params=t.params, buffers=t.buffers, trainable=t.trainable, batch=batch,
                        dtype=dtype, optimizer=optimizer)

    def folded(self, depth: int | None) -> list[Row]:
        """The rows at ``depth`` or above (all of them for None)."""
        if depth is None:
            return self.rows
        return [r for r in self.rows if r.depth <= depth]

    def fold(self, depth: int | None) -> Report:
        """This report, showing only rows at ``depth`` or above (0: totals only, None: every row)
        wherever it is shown: ``str()``, Jupyter, and the ``to_*`` methods by default."""
        return replace(self, depth=table.check_depth(depth))

    def with_view(self, **options: Any) -> Report:
        """This report, showing other figures wherever it is shown: ``count`` (the counting
        convention: macs, flops, fvcore, ptflops, all), ``batch``, ``dtype`` and ``optimizer``
        (of the memory figures), ``columns`` (a list, ``"op,output,memory"`` or ``"all"``)."""
        return replace(self, view=self.view.with_(**options))

    def render(self, fmt: str = "text", depth: int | None = None, **options: Any) -> str:
        """What ``archc table --format FMT --depth DEPTH`` prints; ``options`` as for :meth:`with_view`."""
        return table.render(self, fmt, self._depth(depth), self.view.with_(**options))

    def to_text(self, depth: int | None = None, **options: Any) -> str:
        """The text table ``archc table`` prints (``str(report)`` is this without the final newline)."""
        return table.to_text(self, self._depth(depth), self.view.with_(**options))

    def to_markdown(self, depth: int | None = None, **options: Any) -> str:
        """The table in Markdown (``--format markdown``)."""
        return table.to_markdown(self, self._depth(depth), self.view.with_(**options))

    def to_csv(self, depth: int | None = None, **options: Any) -> str:
        """The rows as CSV, with every column (``--format csv``)."""
        return table.to_csv(self, self._depth(depth), self.view.with_(**options))

    def to_json(self, depth: int | None = None, **options: Any) -> str:
        """The JSON document of ``--format json``."""
        return table.to_json(self, self._depth(depth), self.view.with_(**options))

    def to_dict(self, depth: int | None = None, **options: Any) -> dict[str, Any]:
        """The JSON document as Python data."""
        return table.to_dict(self, self._depth(depth), self.view.with_(**options))

    def to_html(self, depth: int | None = None, *, page: bool = False, **options: Any) -> str:
        """The HTML table Jupyter shows, or with ``page=True`` the page of ``--format html``."""
        return table.to_html(self, self._depth(depth), self.view.with_(**options), page=page)

    def _depth(self, depth: int | None) -> int | None:
        return self.depth if depth is None else depth

    def __str__(self) -> str:
        return self.to_text().removesuffix("\n")

    def __repr__(self) -> str:
        # short: Jupyter stores this text beside the HTML table in the notebook
        return (f"<Report {self.name}: {self.totals.params:,} parameters, {self.totals.macs:,} MACs, "
                f"{len(self.rows)} rows>")

    def _repr_html_(self) -> str:
        """Jupyter shows a report as an HTML table (every spec-supplied text escaped), folded and
        with the columns this report was given (:meth:`fold`, :meth:`with_view`)."""
        return self.to_html()


def _container_kind(scope: Scope) -> str:
    return "block" if scope.kind == "block" else scope.kind


def _field(fields: dict[str, Field | None], node_id: str | None) -> tuple[tuple[int, ...] | None, ...]:
    f = fields.get(node_id) if node_id is not None else None
    return (f.rf, f.jump) if f is not None else (None, None)


def analyze_graph(graph: Graph) -> Report:
    per_node = node_counts(graph)
    per_scope = scope_counts(graph, per_node)
    fields = receptive_fields(graph)
    rows: list[Row] = []
    frozen: dict[tuple[str, ...], int] = {}  # module path -> frozen parameters inside it
    for nid, node in graph.nodes.items():
        if graph.is_frozen(node) and per_node[nid].params:
            for k in range(1, len(node.scope) + 1):
                frozen[node.scope[:k]] = frozen.get(node.scope[:k], 0) + per_node[nid].params
    for path, item in graph.modules():
        if isinstance(item, Node):
            c = per_node[item.id]
            rows.append(Row(path_str(path), len(path), item.op_name, item.label, item.shape, c.params, c.macs,
                            item.training_only, False, item.span.line, c.costs, *_field(fields, item.id),
                            frozen.get(path, 0)))
        else:
            c = per_scope.get(path, Counts())
            out = graph.nodes[item.output].shape if item.output in graph.nodes else None
            rows.append(Row(path_str(path), len(path), _container_kind(item), item.label, out, c.params, c.macs,
                            item.training_only, True, item.span.line, c.costs, *_field(fields, item.output),
                            frozen.get(path, 0)))
    output = graph.nodes[graph.output].shape if graph.output in graph.nodes else None
    heads = [(h.name, graph.nodes[h.node].shape) for h in graph.heads]
    params = {k: getattr(v, "name", v) for k, v in graph.params.items()}
    return Report(graph.name, graph.doc, graph.file, graph.input_shape, output, rows, totals(graph, per_node), heads,
                  params, plan(graph))
