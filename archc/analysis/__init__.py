"""Analysis of a lowered graph: counts per node and scope, the table report."""

from .counts import Counts, Totals
from .report import Report, Row, analyze_graph

__all__ = ["Counts", "Report", "Row", "Totals", "analyze_graph"]
