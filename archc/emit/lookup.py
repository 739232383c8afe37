"""Finding, for a spec entry, what it produced in each instance of the class being emitted.

Every IR node and scope remembers the spec object it came from (``origin``), the
class instance that owns it (the nearest enclosing block instance, anonymous
container class, or the network), and its ``site``: the inline calls and repeat
iterations between that owner and itself. Those three together identify it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..ir.graph import Graph, Node, Path, Scope


def is_class_scope(scope: Scope) -> bool:
    """Scopes that become a class of their own (rather than an nn.Sequential expression)."""
    return scope.kind in ("network", "block", "parallel", "residual") or (
        scope.kind == "sequential" and scope.mode == "module")


@dataclass
class Lookup:
    graph: Graph
    items: dict[tuple[int, Path, tuple], Node | Scope] = field(default_factory=dict)
    owners: dict[int, Path] = field(default_factory=dict)
    # (owner, a prefix of the site) -> the items under it, so that finding what one loop
    # iteration made costs its own items, not a scan of the whole graph per iteration
    under: dict[tuple[Path, tuple], list[Node | Scope]] = field(default_factory=dict)

    @classmethod
    def of(cls, graph: Graph) -> Lookup:
        self = cls(graph)
        class_paths = {p for p, s in graph.scopes.items() if is_class_scope(s)}
        for path, scope in graph.scopes.items():
            if not path:
                continue
            owner = _owner(path[:-1], class_paths)
            self.owners[id(scope)] = owner
            site_object = scope.call if scope.call is not None else scope.origin
            if site_object is not None:
                self.items[(id(site_object), owner, scope.site)] = scope
        for node in graph.nodes.values():
            if node.origin is None:
                continue
            owner = _owner(node.scope[:-1], class_paths)
            self.owners[id(node)] = owner
            self.items.setdefault((id(node.origin), owner, node.site), node)
        for (_, owner, site), item in self.items.items():
            for k in range(len(site) + 1):
                self.under.setdefault((owner, site[:k]), []).append(item)
        return self

    def within(self, owner: Path, site: tuple) -> list[Node | Scope]:
        """The items of ``owner``'s class whose site starts with ``site``."""
        return self.under.get((owner, site), [])

    def find(self, origin: Any, owner: Path, site: tuple) -> Node | Scope | None:
        return self.items.get((id(origin), owner, site))

    def output(self, item: Node | Scope) -> str:
        return item.id if isinstance(item, Node) else (item.output or item.input)

    def shape(self, item: Node | Scope) -> tuple[int, ...] | None:
        return self.graph.nodes[self.output(item)].shape

    def instances(self, origin: Any) -> list[Scope]:
        """The scopes a spec object (a block, a container, a list) made, in creation order."""
        return [s for s in self.graph.scopes.values() if s.origin is origin]


def _owner(path: Path, class_paths: set[Path]) -> Path:
    while path and path not in class_paths:
        path = path[:-1]
    return path
