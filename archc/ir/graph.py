"""The IR: a DAG of concrete nodes, each with its module path (scope) and source span.

Everything is expanded: repeats unrolled, blocks instantiated, expressions evaluated.
A node's ``scope`` is its PyTorch module path, e.g. ``("layer1", "0", "conv1")``,
which is also its state_dict prefix. Merges (concat, add) are not modules; their
id is the path of the container they close plus ``:concat`` / ``:add``.

Nodes are stored in creation order, which is a topological order (a node is only
ever created after its inputs); scopes in pre-order. :meth:`Graph.to_networkx`
gives the same graph as a ``networkx.DiGraph`` for algorithms and interop; the
table path does not need it, so networkx is imported only there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..diagnostics import Note, Span

if TYPE_CHECKING:
    import networkx as nx

    from ..ops.base import Op

Shape = tuple[int, ...]
Path = tuple[str, ...]


def path_str(path: Path) -> str:
    return ".".join(path)


@dataclass(slots=True)
class Node:
    id: str
    op: Op | None  # None for the network's input
    attrs: Any
    scope: Path
    inputs: tuple[str, ...]
    span: Span
    shape: Shape | None = None  # None: unknown because of an earlier error
    in_shapes: tuple[Shape, ...] | None = None
    module: bool = True  # an nn.Module with its own path (merges and the input are not)
    training_only: bool = False
    trace: tuple[Note, ...] = ()
    seq: int = 0
    # In a graph instantiated from the module IR (archc/ir/instantiate.py): the statement that
    # made it, (definition key, value), which emission asks for in-place and folding facts.
    origin: Any = None
    # For merges, what joins here: "residual" (inputs: body, shortcut), "parallel"
    # (one input per branch) or "from" (named points); "" for every other node.
    role: str = ""
    # A point that a `from:` entry reads by name: the emitted forward keeps it in a variable
    # of its own (the memory analysis holds it until that forward returns).
    read_by_name: bool = False

    @property
    def op_name(self) -> str:
        return self.op.name if self.op is not None else "input"

    @property
    def label(self) -> str:
        if self.op is None:
            return "input"
        return self.op.label(self.attrs) if self.attrs is not None else self.op.name


@dataclass(slots=True)
class Scope:
    """A container with a module path: the network, a block instance, a Sequential,
    parallel branches, a residual."""

    path: Path
    kind: str  # network | block | sequential | parallel | residual
    label: str  # block name, or the kind
    span: Span
    input: str  # id of the node feeding it
    output: str | None = None  # id of the node it returns
    block: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    training_only: bool = False
    trace: tuple[Note, ...] = ()
    seq: int = 0
    # How its unnamed entries were named ("sequential" or "module"), and the names its
    # expressions saw (shared with the enclosing frame, never copied).
    mode: str = "module"
    env: Any = None
    # A container that reads its input by name (`from:`): how many names it reads.
    reads: int = 0
    # In a graph instantiated from the module IR: the definition a block instance runs
    # (origin) and the statement that made the scope (call: definition key, value).
    origin: Any = None
    call: Any = None


@dataclass(slots=True)
class Head:
    """A side output (auxiliary classifier) active only in training."""

    name: str
    node: str
    span: Span


@dataclass
class Graph:
    name: str
    input_shape: Shape
    nodes: dict[str, Node] = field(default_factory=dict)
    scopes: dict[Path, Scope] = field(default_factory=dict)
    input: str = "input"
    output: str | None = None
    heads: list[Head] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)  # the network's resolved parameters
    doc: str = ""
    class_name: str = ""  # the emitted network class, when the spec names it (`class:`)
    file: str = ""
    # `freeze:` resolved (archc/ir/freeze.py): the module paths (or, for a tensor a module holds
    # itself, the tensor's path) whose parameters are not trained, and the batch norms among
    # them that stay in eval mode (`norms: eval`)
    frozen: tuple[Path, ...] = ()
    frozen_norms: tuple[Path, ...] = ()
    # The module IR that emission prints, derived from the spec on first use and checked against
    # this graph (archc/ir/derive.py): the lowering stage's deriver, and what it gave.
    deriver: Any = field(default=None, repr=False, compare=False)
    derivation: Any = field(default=None, repr=False, compare=False)
    _seq: int = 0

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def add(self, node: Node) -> Node:
        node.seq = self.next_seq()
        self.nodes[node.id] = node
        return node

    def add_scope(self, scope: Scope) -> Scope:
        scope.seq = self.next_seq()
        self.scopes[scope.path] = scope
        return scope

    def is_frozen(self, node: Node) -> bool:
        """Are the node's parameters frozen (``requires_grad=False``)?"""
        return bool(self.frozen) and node.module and any(node.scope[:len(p)] == p for p in self.frozen)

    def modules(self) -> Iterator[tuple[Path, Scope | Node]]:
        """Every module path in pre-order (containers before their contents)."""
        items: list[tuple[int, Path, Scope | Node]] = [(s.seq, p, s) for p, s in self.scopes.items() if p]
        items += [(n.seq, n.scope, n) for n in self.nodes.values() if n.module]
        items.sort(key=lambda t: t[0])
        for _, path, item in items:
            yield path, item

    def users(self) -> dict[str, list[str]]:
        """Node id -> ids of the nodes that read it."""
        out: dict[str, list[str]] = {nid: [] for nid in self.nodes}
        for node in self.nodes.values():
            for i in node.inputs:
                out[i].append(node.id)
        return out

    def outputs(self) -> list[str]:
        """The main output followed by the heads, in training order."""
        return ([self.output] if self.output else []) + [h.node for h in self.heads]

    def to_networkx(self) -> nx.DiGraph:
        """The graph as a ``networkx.DiGraph``: node attribute ``node`` holds the :class:`Node`."""
        import networkx as nx

        g = nx.DiGraph(name=self.name)
        for node in self.nodes.values():
            g.add_node(node.id, node=node, op=node.op_name, scope=path_str(node.scope), shape=node.shape)
        for node in self.nodes.values():
            for src in node.inputs:
                g.add_edge(src, node.id)
        return g
