"""What a diagram shows: the IR graph, folded to the detail asked for.

:func:`build` turns a :class:`~archc.ir.graph.Graph` into a :class:`View`: the
boxes to draw (:class:`Item`), the clusters that group them (:class:`Cluster`,
nested like the module paths) and the arrows between them (:class:`Edge`).
Nothing here knows about Graphviz; :mod:`archc.render.digraph` draws the view.

Folding rules
-------------
- **Depth.** With ``depth=N`` every scope whose path has N or more parts is drawn
  as one box carrying its summed parameters and MACs and its output shape, the
  same rows ``archc table --depth N`` prints. Scopes above it stay clusters.
- **By block.** ``fold={"BasicConv2d"}`` folds every instance of those blocks,
  at any depth (GoogLeNet reads best with its conv-bn-relu units folded).
- **Repeats.** Among folded blocks, a run of consecutive instances that are
  *identical* becomes one box ``Bottleneck ×5``. Identical means: the same block,
  the same arguments, the same input and output shapes (so the same parameters and
  MACs each), and each one feeding only the next. ResNet's first block of a stage
  differs (its stride, or its input width), so a stage reads ``layer3.0`` then
  ``Bottleneck ×5``. ``expand_repeats=True`` keeps every instance.

Without folding, blocks are clusters and nothing is merged.

Edges are classified so that shortcuts and heads can be drawn apart: the
shortcut input of a residual add is ``identity`` when it is the block's own
input, ``projection`` when it passes through layers (every edge on that path is
``projection``); edges into training-only nodes are ``head``; the rest ``data``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise

from ..analysis.counts import Counts, node_counts, scope_counts
from ..ir.graph import Graph, Node, Path, Scope, Shape

EDGE_PRIORITY = {"data": 0, "projection": 1, "identity": 2, "head": 3}


@dataclass(frozen=True)
class Options:
    depth: int | None = None
    fold: frozenset[str] = frozenset()
    expand_repeats: bool = False
    auto: bool = False  # depth chosen to fit the diagram budget (archc.render.budget), not asked for


@dataclass(eq=False)
class Item:
    """One box: an op (``op``), the network input (``input``), a folded scope
    (``block``), a run of identical folded blocks (``repeat``) or an output marker
    (``output``)."""

    kind: str
    seq: int
    parent: Path  # the cluster it sits in; () is the top level
    node: Node | None = None
    scopes: list[Scope] = field(default_factory=list)
    params: int = 0
    macs: int = 0
    shape: Shape | None = None
    training_only: bool = False
    title: str = ""  # output markers: "output", or the head's name
    members: list[Node] = field(default_factory=list)  # folded: the IR nodes inside, in order
    key: str = ""  # the generated DOT id, set when the view is complete


@dataclass(eq=False)
class Cluster:
    scope: Scope
    params: int
    macs: int
    role: str  # block | sequential | shortcut | head
    children: list[Item | Cluster] = field(default_factory=list)
    key: str = ""

    @property
    def seq(self) -> int:
        return self.scope.seq


@dataclass(frozen=True, slots=True)
class Edge:
    src: Item
    dst: Item
    kind: str  # data | identity | projection | head


@dataclass
class View:
    graph: Graph
    options: Options
    top: list[Item | Cluster]
    items: list[Item]
    clusters: list[Cluster]
    edges: list[Edge]
    # Invisible edges that keep parallel branches in their written order, left to right.
    hints: list[tuple[Item, Item]] = field(default_factory=list)


def containers(graph: Graph, node: Node) -> list[Path]:
    """The scopes a node sits in, outermost first (the network itself left out).
    A module node is not inside its own path; a merge is inside the container it closes."""
    path = node.scope
    stop = len(path) + 1 if not node.module else len(path)
    return [path[:k] for k in range(1, stop) if path[:k] in graph.scopes]


def _parent(graph: Graph, path: Path) -> Path:
    for k in range(len(path) - 1, 0, -1):
        if path[:k] in graph.scopes:
            return path[:k]
    return ()


def _folds(scope: Scope, opts: Options) -> bool:
    return (opts.depth is not None and len(scope.path) >= opts.depth) or (
        scope.block is not None and scope.block in opts.fold)


def counts(graph: Graph) -> tuple[dict[str, Counts], dict[Path, Counts]]:
    """Per node and per scope figures, which :func:`build` needs and which do not depend on
    the options (so that views of one graph at several depths can share them)."""
    per_node = node_counts(graph)
    return per_node, scope_counts(graph, per_node)


def build(graph: Graph, options: Options | None = None,
          figures: tuple[dict[str, Counts], dict[Path, Counts]] | None = None) -> View:
    opts = options or Options()
    per_node, per_scope = figures or counts(graph)
    folded: dict[Path, Item] = {}
    owner: dict[str, Item] = {}
    items: list[Item] = []
    for node in graph.nodes.values():
        around = containers(graph, node)
        at = next((p for p in around if _folds(graph.scopes[p], opts)), None)
        if at is None:
            kind = "input" if node.op is None else "op"
            c = per_node[node.id]
            item = Item(kind, node.seq, around[-1] if around else (), node=node, params=c.params, macs=c.macs,
                        shape=node.shape, training_only=node.training_only)
            items.append(item)
        elif at in folded:
            item = folded[at]
            item.members.append(node)
        else:
            scope = graph.scopes[at]
            c = per_scope[at]
            out = graph.nodes.get(scope.output or "")
            item = folded[at] = Item("block", scope.seq, _parent(graph, at), scopes=[scope], params=c.params,
                                     macs=c.macs, shape=out.shape if out else None,
                                     training_only=scope.training_only, members=[node])
            items.append(item)
        owner[node.id] = item

    shortcut_nodes, shortcut_paths = _shortcuts(graph)
    clusters = _clusters(graph, items, per_scope, shortcut_paths)
    top = _tree(items, clusters)
    if not opts.expand_repeats:
        merged = _fold_repeats(graph, top, clusters, owner)
        if merged:
            owner = {nid: merged.get(id(it), it) for nid, it in owner.items()}
            items = _unique(owner[nid] for nid in graph.nodes)
    edges = _edges(graph, owner, shortcut_nodes)
    items, edges = _outputs(graph, owner, items, edges, top)
    for k, item in enumerate(items):
        item.key = f"n{k}"
    ordered = _preorder(top)
    for k, cl in enumerate(ordered):
        cl.key = f"cluster_{k}"
    return View(graph, opts, top, items, ordered, edges, _branch_order(graph, owner))


def _unique(values: Iterable[Item]) -> list[Item]:
    seen: set[int] = set()
    out = []
    for v in values:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def _shortcuts(graph: Graph) -> tuple[set[str], set[Path]]:
    """Nodes on a projection shortcut, and the paths of the shortcut containers."""
    nodes: set[str] = set()
    paths: set[Path] = set()
    for node in graph.nodes.values():
        if node.role != "residual" or len(node.inputs) != 2:
            continue
        scope = graph.scopes.get(node.scope)
        start, end = (scope.input if scope else None), node.inputs[1]
        if end == start:
            continue
        inside = node.scope
        stack = [end]
        while stack:
            nid = stack.pop()
            n = graph.nodes.get(nid)
            if nid == start or nid in nodes or n is None or n.scope[: len(inside)] != inside:
                continue
            nodes.add(nid)
            stack.extend(n.inputs)
        sc = graph.nodes[end].scope
        if len(sc) > len(inside) and sc[: len(inside) + 1] in graph.scopes:
            paths.add(sc[: len(inside) + 1])
    return nodes, paths


def _clusters(graph: Graph, items: list[Item], per_scope: dict[Path, Counts], shortcut_paths: set[Path]
              ) -> dict[Path, Cluster]:
    clusters: dict[Path, Cluster] = {}
    for item in items:
        path = item.parent
        while path and path not in clusters:
            scope = graph.scopes[path]
            if scope.training_only and not graph.scopes.get(_parent(graph, path), scope).training_only:
                role = "head"
            elif path in shortcut_paths:
                role = "shortcut"
            elif scope.kind == "sequential":
                role = "sequential"
            else:
                role = "block"
            c = per_scope.get(path, Counts())
            clusters[path] = Cluster(scope, c.params, c.macs, role)
            path = _parent(graph, path)
    return clusters


def _tree(items: list[Item], clusters: dict[Path, Cluster]) -> list[Item | Cluster]:
    top: list[Item | Cluster] = []
    for path, cl in clusters.items():
        parent = path[:-1]
        while parent and parent not in clusters:
            parent = parent[:-1]
        (clusters[parent].children if parent else top).append(cl)
    for item in items:
        (clusters[item.parent].children if item.parent else top).append(item)
    for cl in clusters.values():
        cl.children.sort(key=lambda x: x.seq)
    top.sort(key=lambda x: x.seq)
    return top


def _preorder(level: list[Item | Cluster]) -> list[Cluster]:
    out: list[Cluster] = []
    for x in level:
        if isinstance(x, Cluster):
            out.append(x)
            out.extend(_preorder(x.children))
    return out


def _signature(graph: Graph, item: Item) -> tuple[object, ...] | None:
    if item.kind != "block" or item.scopes[0].block is None:
        return None
    scope = item.scopes[0]
    args = tuple(sorted((k, repr(getattr(v, "name", v))) for k, v in scope.args.items()))
    source = graph.nodes.get(scope.input)
    return (scope.block, args, source.shape if source else None, item.shape, item.training_only)


def _fold_repeats(graph: Graph, top: list[Item | Cluster], clusters: dict[Path, Cluster],
                  owner: dict[str, Item]) -> dict[int, Item]:
    """Merge runs of identical folded blocks in place; return which items went into which run."""
    users = graph.users()
    merged: dict[int, Item] = {}
    for level in [top, *(cl.children for cl in clusters.values())]:
        out: list[Item | Cluster] = []
        for x in level:
            prev = out[-1] if out else None
            if (isinstance(x, Item) and isinstance(prev, Item) and prev.kind in ("block", "repeat")
                    and _signature(graph, x) is not None
                    and _signature(graph, x) == _signature(graph, _last(prev))
                    and _chained(graph, users, owner, prev.scopes[-1], x)):
                prev.kind = "repeat"
                prev.scopes.append(x.scopes[0])
                prev.params += x.params
                prev.macs += x.macs
                prev.shape = x.shape
                merged[id(x)] = prev
                continue
            out.append(x)
        level[:] = out
    return merged


def _last(item: Item) -> Item:
    """A stand-in for the last block of a run, to compare signatures."""
    if item.kind == "block":
        return item
    scope = item.scopes[-1]
    return Item("block", scope.seq, item.parent, scopes=[scope], shape=item.shape, training_only=item.training_only)


def _chained(graph: Graph, users: dict[str, list[str]], owner: dict[str, Item], before: Scope, after: Item) -> bool:
    """``after`` reads ``before``'s output, and nothing else does (no head taps the run)."""
    out = before.output
    if out is None or after.scopes[0].input != out:
        return False
    return all(owner.get(u) is after for u in users.get(out, ())) and out != graph.output


def _edges(graph: Graph, owner: dict[str, Item], shortcut_nodes: set[str]) -> list[Edge]:
    found: dict[tuple[int, int], Edge] = {}
    for node in graph.nodes.values():
        dst = owner[node.id]
        scope = graph.scopes.get(node.scope) if node.role == "residual" else None
        for k, src_id in enumerate(node.inputs):
            src = owner.get(src_id)
            if src is None or src is dst:
                continue
            if scope is not None and k == 1:
                kind = "identity" if src_id == scope.input else "projection"
            elif node.id in shortcut_nodes:
                kind = "projection"
            elif node.training_only:
                kind = "head"
            else:
                kind = "data"
            key = (id(src), id(dst))
            if key not in found or EDGE_PRIORITY[kind] < EDGE_PRIORITY[found[key].kind]:
                found[key] = Edge(src, dst, kind)
    return list(found.values())


def _branch_order(graph: Graph, owner: dict[str, Item]) -> list[tuple[Item, Item]]:
    """For each parallel merge, an edge from branch k's first box to branch k+1's second box.

    Graphviz orders branches that cross nothing arbitrarily (2.43 often reverses
    them); such an edge, drawn invisible with weight 0, makes the written order the
    only crossing-free one without moving anything else. It cannot order a branch of
    a single box, nor reach into nested clusters: those may still come out mirrored.
    """
    hints = []
    for node in graph.nodes.values():
        if node.role != "parallel":
            continue
        depth = len(node.scope) + 1
        branches: list[list[Item]] = []
        for src in node.inputs:
            path = graph.nodes[src].scope[:depth]
            boxes = _unique(owner[n.id] for n in _walk_back(graph, src, path))
            branches.append(list(reversed(boxes)))
        for left, right in pairwise(branches):
            if left and len(right) > 1 and left[0] is not right[1]:
                hints.append((left[0], right[1]))
    return hints


def _walk_back(graph: Graph, start: str, path: Path) -> list[Node]:
    """The nodes of one branch (under ``path``), from its output back to its first node."""
    out = []
    nid: str | None = start
    while nid is not None:
        n = graph.nodes.get(nid)
        if n is None or n.scope[: len(path)] != path:
            break
        out.append(n)
        nid = n.inputs[0] if n.inputs else None
    return out


def _outputs(graph: Graph, owner: dict[str, Item], items: list[Item], edges: list[Edge],
             top: list[Item | Cluster]) -> tuple[list[Item], list[Edge]]:
    """An output marker after the network's output and after each training-only head."""
    marks = []
    if graph.output in owner:
        marks.append((graph.output, "output", False))
    marks += [(h.node, h.name, True) for h in graph.heads if h.node in owner]
    for nid, title, training in marks:
        src, node = owner[nid], graph.nodes[nid]
        mark = Item("output", node.seq, (), shape=node.shape, training_only=training, title=title)
        items.append(mark)
        top.append(mark)
        edges.append(Edge(src, mark, "head" if training else "data"))
    return items, edges
