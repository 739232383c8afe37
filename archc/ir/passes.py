"""IR passes: graph-to-graph rewrites after lowering. The result is an ordinary graph
that :func:`archc.ir.check` accepts and the emitter writes like any other.

:func:`inference_graph` turns a network into what it computes in eval mode, written
for speed:

- **training-only heads are dropped**, with everything only they use (GoogLeNet's
  auxiliary classifiers run only in training);
- **dropout is dropped** (the identity in eval mode);
- **batch norm is folded into the convolution before it**, where that convolution
  feeds nothing else: in eval mode batch norm is the per-channel affine map
  ``y = (x - μ) · γ/√(var + ε) + β``, so ``conv`` then ``bn`` is one convolution with
  ``w' = w · γ/√(var + ε)`` (per output channel) and
  ``b' = β + (b - μ) · γ/√(var + ε)`` (the convolution gains a bias). The same holds
  for ``conv1d`` then ``bn1d`` and for ``linear`` on features then ``bn1d``; grouped
  and depthwise convolutions too (the scale is per output channel). A batch norm
  without running statistics normalises with the batch's own in eval mode too, so it
  cannot be folded and stays; one without affine parameters folds with γ = 1, β = 0.

Module paths stay those of the plain network, except in an ``nn.Sequential`` that
lost an entry: its numbered children move up (``classifier.3`` becomes
``classifier.2``), as the emitted ``nn.Sequential`` numbers them. :class:`Folding`
records everything needed to turn the plain network's state_dict into the inference
network's: the folded pairs, the moved paths, the dropped heads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .graph import Graph, Node, Path, Scope, path_str


@dataclass(frozen=True)
class FoldedNorm:
    """A batch norm folded into the module before it, both named by their plain paths."""

    conv: str  # the convolution (or linear layer) that absorbs it
    norm: str  # the batch norm
    eps: float
    affine: bool  # False: no weight and bias in the state_dict (γ = 1, β = 0)
    had_bias: bool  # did the convolution have a bias before?


@dataclass
class Folding:
    """How the plain network's state becomes the inference network's.

    Every path is a module path (a state_dict key without its last component)."""

    norms: list[FoldedNorm] = field(default_factory=list)
    moved: dict[str, str] = field(default_factory=dict)  # plain path -> inference path, where they differ
    dropped: list[str] = field(default_factory=list)  # plain paths whose state the inference network lacks
    dropouts: list[str] = field(default_factory=list)  # plain paths of the dropout layers removed
    heads: list[str] = field(default_factory=list)  # names of the training-only heads removed
    kept_norms: list[str] = field(default_factory=list)  # batch norms that could not be folded (plain paths)
    kept: set[str] = field(default_factory=set)  # plain ids of the nodes the inference graph keeps
    kept_scopes: set[Path] = field(default_factory=set)  # plain paths of the containers it keeps


def inference_graph(graph: Graph, allow: set[str] | None = None,
                    keep: set[str] | None = None) -> tuple[Graph, Folding]:
    """The network as it runs in eval mode, with heads and dropout dropped and batch norms
    folded (see the module docstring); and how the plain state_dict maps onto it. With
    ``allow``, only the norms it names may fold (emission folds a norm of a block's class in
    all its instances or in none); ``keep``: nodes kept although the output does not need them
    (emission writes a layer of a block's class in all its instances, so one that some of them
    need stays in the others too)."""
    folding = Folding(heads=[h.name for h in graph.heads])
    nodes = {nid: dataclasses.replace(n) for nid, n in graph.nodes.items()}
    alias: dict[str, str] = {}  # removed node -> the node that now stands for its output

    def resolve(nid: str) -> str:
        while nid in alias:
            nid = alias[nid]
        return nid

    # 1. only what the main output needs: training-only heads (and what only they read) go
    needed = _ancestors(graph, graph.output) if graph.output else set(nodes)
    for nid in sorted(keep or ()):
        if nid not in needed and nid in nodes:
            needed |= _ancestors(graph, nid)
    needed.add(graph.input)
    for nid in [n for n in nodes if n not in needed]:
        del nodes[nid]

    # 2. dropout is the identity in eval mode
    for node in list(nodes.values()):
        if node.op is not None and node.op.eval_identity:
            alias[node.id] = node.inputs[0]
            folding.dropouts.append(node.id)
            del nodes[node.id]
    for node in nodes.values():
        node.inputs = tuple(resolve(i) for i in node.inputs)

    # 3. batch norm into the convolution before it
    users: dict[str, list[str]] = {nid: [] for nid in nodes}
    for node in nodes.values():
        for i in node.inputs:
            users[i].append(node.id)
    absorbed: set[str] = set()  # layers that took in a norm already
    for node in list(nodes.values()):
        if node.op is None or not node.op.folds_after:
            continue
        producer = nodes[node.inputs[0]]
        # one norm per layer: fold_state_dict folds each pair from the plain layer's weights, so a
        # second norm (conv, bn, bn; or conv, bn, dropout, bn) would lose the first fold
        if not _foldable(producer, node) or users[producer.id] != [node.id] or producer.id in absorbed \
                or (allow is not None and node.id not in allow):
            folding.kept_norms.append(node.id)
            continue
        absorbed.add(producer.id)
        folding.norms.append(FoldedNorm(producer.id, node.id, node.attrs.eps, node.attrs.affine,
                                        producer.attrs.bias))
        producer.attrs = producer.attrs.model_copy(update={"bias": True})
        alias[node.id] = producer.id
        for user in users[node.id]:
            nodes[user].inputs = tuple(producer.id if i == node.id else i for i in nodes[user].inputs)
        users[producer.id] = users.pop(node.id)
        del nodes[node.id]

    folding.kept = set(nodes)
    # a point read by name that went (a dropout, a folded norm) is read where its output now comes from
    for nid, node in graph.nodes.items():
        if node.read_by_name and nid not in nodes and resolve(nid) in nodes:
            nodes[resolve(nid)].read_by_name = True

    # 4. scopes: heads go, and so does any container whose every node went, or an empty one
    # (a repeat of zero) that reads what the main output does not need
    keep_scopes: dict[Path, Scope] = {}
    inside = {p for n in nodes.values() for p in _prefixes(n.scope)}
    had = {p for n in graph.nodes.values() for p in _prefixes(n.scope)}
    for path, scope in graph.scopes.items():
        if path and (scope.training_only or (path in had and path not in inside)
                     or (path not in inside and resolve(scope.input) not in nodes)):
            continue
        keep_scopes[path] = dataclasses.replace(scope, input=resolve(scope.input),
                                                output=resolve(scope.output) if scope.output else None)

    folding.kept_scopes = set(keep_scopes)

    # 5. an nn.Sequential that lost entries numbers the rest anew
    local = _renumbered(graph, nodes, keep_scopes)

    def new_path(path: Path) -> Path:
        return tuple(local.get(path[:k + 1], part) for k, part in enumerate(path))

    def new_id(nid: str) -> str:
        node = graph.nodes[nid]
        old = path_str(node.scope)
        return path_str(new_path(node.scope)) + nid[len(old):]

    ids = _uses_renumbered({nid: new_id(nid) for nid in nodes})
    out = Graph(graph.name, graph.input_shape, input=ids[graph.input],
                output=ids[resolve(graph.output)] if graph.output else None, params=dict(graph.params),
                doc=graph.doc, class_name=graph.class_name, file=graph.file, _seq=graph._seq)
    for nid, node in nodes.items():
        node.id, node.scope = ids[nid], new_path(node.scope)
        node.inputs = tuple(ids[i] for i in node.inputs)
        out.nodes[node.id] = node
        if node.op is not None and node.op.stateful and ids[nid] != nid:
            folding.moved[nid] = ids[nid]
            if node.op.holds_parameter:  # its key is <module>.<name>: the module holding it moved
                folding.moved[nid.rpartition(".")[0]] = ids[nid].rpartition(".")[0]
    for path, scope in keep_scopes.items():
        scope.path = new_path(path)
        scope.input = ids[scope.input]
        scope.output = ids[scope.output] if scope.output else None
        out.scopes[scope.path] = scope

    # 6. what the plain state_dict holds that this graph lacks: the outermost dropped container
    folded = {f.norm for f in folding.norms}
    for nid, node in graph.nodes.items():
        if nid in nodes or nid in folded or node.op is None or not node.op.stateful:
            continue
        top = next((node.scope[:k] for k in range(1, len(node.scope) + 1) if node.scope[:k] not in inside),
                   node.scope)
        if path_str(top) not in folding.dropped:
            folding.dropped.append(path_str(top))
    return out, folding


def _foldable(producer: Node, norm: Node) -> bool:
    """The norm's own rule (:meth:`Op.folds_into`), for a module with a known output."""
    if producer.op is None or not producer.module or producer.shape is None or norm.op is None:
        return False
    return norm.op.folds_into(norm.attrs, producer.op, producer.attrs, producer.shape)


def _ancestors(graph: Graph, start: str) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for src in graph.nodes[stack.pop()].inputs:
            if src not in seen:
                seen.add(src)
                stack.append(src)
    return seen


def _prefixes(path: Path) -> list[Path]:
    return [path[:k] for k in range(len(path) + 1)]


def _renumbered(graph: Graph, nodes: dict[str, Node], scopes: dict[Path, Scope]) -> dict[Path, str]:
    """New names for the numbered children of sequential containers that lost an entry:
    old path -> new last component."""
    first: dict[Path, int] = {}  # every module path of the plain graph -> when it was made
    for node in graph.nodes.values():
        if node.module and node.scope:
            first.setdefault(node.scope, node.seq)
    for path, scope in graph.scopes.items():
        if path:
            first.setdefault(path, scope.seq)
    children: dict[Path, list[Path]] = {}
    for path in sorted(first, key=first.__getitem__):
        children.setdefault(path[:-1], []).append(path)
    alive = {n.scope for n in nodes.values() if n.module} | set(scopes)
    out: dict[Path, str] = {}
    for path, scope in scopes.items():
        if scope.mode != "sequential":
            continue
        kids = children.get(path, [])
        survivors = [p for p in kids if p in alive]
        if len(survivors) == len(kids):
            continue
        for k, child in enumerate(survivors):
            if child[-1].isdigit() and child[-1] != str(k):
                out[child] = str(k)
    return out


def _uses_renumbered(ids: dict[str, str]) -> dict[str, str]:
    """The uses of a shared stateless module (``relu``, ``relu#1``, ...) numbered anew in order
    when some went (a dead branch, a dropped head): the graph built from the rewritten module
    IR numbers the uses that remain, and the two must be the same graph."""
    taken = set(ids.values())
    nxt: dict[str, int] = {}
    out: dict[str, str] = {}
    for old, new in ids.items():  # in the order the nodes were made, as instantiation numbers them
        base, sep, k = new.rpartition("#")
        if not sep or not k.isdigit():
            out[old] = new
            nxt.setdefault(new, 1)
            continue
        if base not in nxt and base not in taken:
            nxt[base] = 1
            out[old] = base
            continue
        n = nxt.get(base, 1)
        out[old] = f"{base}#{n}"
        nxt[base] = n + 1
    return out
