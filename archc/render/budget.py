"""Diagram budgets: how much is handed to Graphviz's ``dot``, bounded before it runs.

``dot``'s time and memory grow faster than the picture, in several ways (measured
with Graphviz 2.43, docs/untrusted-specs.md): boxes inside one cluster cost roughly
quadratic time; an arrow that spans k ranks (layers of boxes) becomes k - 1 hidden
nodes, and arrows that skip over each other (every layer reading every earlier one)
make its crossing minimisation explode; every cluster gets rank arrays as long as the
picture down to the cluster's bottom, so memory grows with *clusters × ranks*; and
sibling clusters side by side (a ``parallel`` of many branches) add a constraint per
pair. A valid spec of 100 KB (one ``parallel`` of 2,000 three-layer branches) once
took ``dot`` 20 s and 1 GB. So every picture is measured here first (:class:`Size`,
ranks by longest path, as ``dot`` ranks a graph whose arrows have length 1), each
count bounded by a field of :class:`~archc.limits.Limits`:

- ``max_diagram_nodes``: boxes (ops, folded blocks, input and output markers);
- ``max_diagram_edges``: arrows, including the invisible ones that order branches;
- ``max_diagram_edge_ranks``: the ranks arrows pass over (the hidden nodes ``dot`` adds);
- ``max_diagram_clusters``: clusters (block instances, Sequentials, branches);
- ``max_diagram_cluster_ranks``: the sum over clusters of the rank of each cluster's
  lowest box.

Beyond a budget, :func:`plan` folds automatically when the caller left the depth open
(the deepest ``depth`` that fits, said in the picture's title) and otherwise refuses
with E606 at the spec entry that makes the picture large, with a hint naming
``--depth``, ``--fold`` and ``--limit``. ``dot`` itself still runs under a timeout
(:mod:`.dot`), for shapes these counts do not foresee.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from ..diagnostics import ArchcError, Diagnostic, Note, Span
from ..ir.graph import Graph, path_str
from ..limits import Limits
from .fold import Cluster, Item, Options, View, build, counts

MEASURES = ("nodes", "edges", "edge_ranks", "clusters", "cluster_ranks")
WHAT = {"nodes": "{:,} boxes", "edges": "{:,} arrows", "edge_ranks": "arrows passing over {:,} ranks",
        "clusters": "{:,} clusters", "cluster_ranks": "clusters reaching down {:,} ranks in all"}


@dataclass(frozen=True)
class Size:
    """What a view hands to ``dot``."""

    nodes: int
    edges: int
    edge_ranks: int
    clusters: int
    cluster_ranks: int

    def over(self, limits: Limits) -> list[str]:
        """The measures beyond their budget, in :data:`MEASURES` order."""
        return [m for m in MEASURES if getattr(self, m) > limit_of(limits, m)]


def limit_of(limits: Limits, measure: str) -> int:
    return int(getattr(limits, f"max_diagram_{measure}"))


def ranks(view: View) -> dict[int, int]:
    """Each box's rank (``id(item)`` -> layer from the top): its longest path from a source,
    as ``dot`` ranks a graph whose edges all have length 1. Invisible edges count too; a
    box on a cycle (which folding can make) keeps the rank it had reached."""
    succ: dict[int, list[int]] = {id(i): [] for i in view.items}
    indeg: Counter[int] = Counter()
    for src, dst in _pairs(view):
        if id(src) in succ and id(dst) in succ:
            succ[id(src)].append(id(dst))
            indeg[id(dst)] += 1
    rank = dict.fromkeys(succ, 0)
    ready = [k for k in succ if indeg[k] == 0]
    while ready:
        k = ready.pop()
        for d in succ[k]:
            rank[d] = max(rank[d], rank[k] + 1)
            indeg[d] -= 1
            if indeg[d] == 0:
                ready.append(d)
    return rank


def _bottoms(view: View, rank: dict[int, int]) -> dict[int, int]:
    """``id(cluster)`` -> the rank of its lowest box (over everything nested in it)."""
    out: dict[int, int] = {}

    def visit(cl: Cluster) -> int:
        low = 0
        for child in cl.children:
            low = max(low, visit(child) if isinstance(child, Cluster) else rank.get(id(child), 0))
        out[id(cl)] = low
        return low

    for x in view.top:
        if isinstance(x, Cluster):
            visit(x)
    return out


def measure(view: View) -> Size:
    rank = ranks(view)
    bottoms = _bottoms(view, rank)
    spans = sum(max(rank.get(id(b), 0) - rank.get(id(a), 0) - 1, 0) for a, b in _pairs(view))
    return Size(len(view.items), len(view.edges) + len(view.hints), spans, len(view.clusters),
                sum(b + 1 for b in bottoms.values()))


def _pairs(view: View) -> list[tuple[Item, Item]]:
    return [(e.src, e.dst) for e in view.edges] + list(view.hints)


# --- where the size comes from -----------------------------------------------------------

def _contributions(view: View, measure_name: str) -> tuple[dict[int, int], dict[int, int]]:
    """What each box and each cluster (with everything in it) adds to one measure."""
    own: Counter[int] = Counter()
    rank = ranks(view) if measure_name in ("edge_ranks", "cluster_ranks") else {}
    if measure_name == "nodes":
        for item in view.items:
            own[id(item)] += 1
    for src, dst in _pairs(view):  # an arrow counts where it arrives
        if measure_name == "edges":
            own[id(dst)] += 1
        elif measure_name == "edge_ranks":
            own[id(dst)] += max(rank.get(id(dst), 0) - rank.get(id(src), 0) - 1, 0)
    bottoms = _bottoms(view, rank) if measure_name == "cluster_ranks" else {}
    total: dict[int, int] = {}

    def visit(cl: Cluster) -> int:
        n = {"clusters": 1, "cluster_ranks": bottoms.get(id(cl), 0) + 1}.get(measure_name, 0)
        for child in cl.children:
            n += visit(child) if isinstance(child, Cluster) else own[id(child)]
        total[id(cl)] = n
        return n

    for x in view.top:
        if isinstance(x, Cluster):
            visit(x)
    return own, total


def _site(x: Item | Cluster) -> tuple[object, Span | None, tuple[Note, ...], str]:
    """Which top-level spec entry a box or cluster comes from, as (key, span, trace, what): the
    outermost repeat that made it (located at its count), else its entry (the first name of
    its module path, so that an entry's merge and its layers count together)."""
    if isinstance(x, Cluster):
        span, trace, path = x.scope.span, x.scope.trace, x.scope.path
    elif x.node is not None:
        span, trace, path = x.node.span, x.node.trace, x.node.scope
    elif x.scopes:
        span, trace, path = x.scopes[0].span, x.scopes[0].trace, x.scopes[0].path
    else:
        return ("output", x.title), None, (), "the output"
    for k, note in enumerate(trace):
        if note.message.startswith("in repeat") and note.span is not None:
            return note.span, note.span, trace[k + 1:], "this repeat"
    return path[:1] or span, span, trace, "this entry"


@dataclass(frozen=True)
class Culprit:
    span: Span | None
    notes: tuple[Note, ...]
    what: str  # e.g. "'p'" or "this entry"
    amount: int


def culprit(view: View, measure_name: str, limit: int) -> Culprit:
    """The smallest scope that alone exceeds the budget; failing that, the top-level spec entry
    (or repeat) whose boxes and clusters contribute most."""
    own, total = _contributions(view, measure_name)
    level: list[Item | Cluster] = view.top
    found: Cluster | None = None
    while True:
        inner = [x for x in level if isinstance(x, Cluster)]
        big = max(inner, key=lambda c: total[id(c)], default=None)
        if big is None or total[id(big)] <= limit:
            break
        found, level = big, big.children
    if found is not None:
        return Culprit(found.scope.span, found.scope.trace, f"'{path_str(found.scope.path)}'",
                       total[id(found)])
    sums: Counter[object] = Counter()
    about: dict[object, tuple[Span | None, tuple[Note, ...], str]] = {}
    for x in level:
        key, span, trace, what = _site(x)
        sums[key] += total[id(x)] if isinstance(x, Cluster) else own[id(x)]
        first = about.get(key)
        if first is None or (span is not None and (first[0] is None or span.sort_key() < first[0].sort_key())):
            about[key] = (span, trace, what)  # an entry is located where it starts
    if not sums:
        return Culprit(None, (), "nothing", 0)
    key, amount = sums.most_common(1)[0]
    span, trace, what = about[key]
    return Culprit(span, trace, what, amount)


# --- planning -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    view: View
    size: Size
    full: Size | None = None  # the size of the picture asked for, when it was folded to fit
    over: str = ""  # the first budget that picture exceeded
    limit: int = 0  # and its value

    def note(self) -> str:
        """What was folded automatically and why, for the reader (empty if nothing was)."""
        if self.full is None:
            return ""
        m = self.over
        return (f"the full picture has {WHAT[m].format(getattr(self.full, m))} (max_diagram_{m} is "
                f"{self.limit:,}): drawn with --depth {self.view.options.depth}")


def plan(graph: Graph, options: Options, limits: Limits) -> Plan:
    """The view to draw: as asked if it fits; folded to the deepest depth that fits if the
    depth was left open; else :class:`ArchcError` E606."""
    figures = counts(graph)
    view = build(graph, options, figures)
    size = measure(view)
    over = size.over(limits)
    if not over:
        return Plan(view, size)
    fitting = _deepest_fit(graph, options, limits, figures)
    if options.depth is None and fitting is not None:
        folded, folded_size = fitting
        folded.options = replace(folded.options, auto=True)
        return Plan(folded, folded_size, size, over[0], limit_of(limits, over[0]))
    raise ArchcError([_refusal(view, size, over[0], limits, options, fitting)])


def _deepest_fit(graph: Graph, options: Options, limits: Limits, figures: tuple[dict, dict]
                 ) -> tuple[View, Size] | None:
    """The view at the deepest depth (shallower than asked) whose picture fits, or None.

    Folding more never adds boxes, arrows or clusters, so sizes shrink with the depth and
    a binary search needs a handful of folds even for 64 levels of nesting."""
    hi = (options.depth or max((len(p) for p in graph.scopes), default=0) + 1) - 1
    lo, best = 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        v = build(graph, replace(options, depth=mid), figures)
        s = measure(v)
        if s.over(limits):
            hi = mid - 1
        else:
            best, lo = (v, s), mid + 1
    return best


def _refusal(view: View, size: Size, m: str, limits: Limits, options: Options,
             fitting: tuple[View, Size] | None) -> Diagnostic:
    limit = limit_of(limits, m)
    c = culprit(view, m, limit)
    message = (f"too large a diagram for Graphviz: {WHAT[m].format(getattr(size, m))} (max_diagram_{m} is "
               f"{limit:,}); {c.what} accounts for {c.amount:,}")
    ways = []
    if fitting is not None:
        ways.append(f"--depth {fitting[0].options.depth} fits ({fitting[1].nodes:,} boxes)")
    else:
        ways.append("even --depth 1 does not fit: the network's top level alone is too large")
    if any(scope.block is not None for scope in view.graph.scopes.values()):
        ways.append("--fold BLOCK folds every instance of a block")
    ways.append(f"--limit max_diagram_{m}=N raises the budget (Graphviz then needs more time and memory: "
                "docs/untrusted-specs.md)")
    return Diagnostic("E606", message, c.span, "; ".join(ways), c.notes)
