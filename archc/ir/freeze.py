"""``freeze:`` resolved against the network's module paths.

A fine-tuning spec names what it does not train (docs/language.md#freezing): module paths
whose parts may be globs (``layer*``), positions or ranges of positions (``features.0-9``).
Each item must name at least one module that holds parameters, so that a typo is an error
at its line (with a did-you-mean), never a freeze that silently reaches nothing. The result
is the list of concrete paths (:attr:`Graph.frozen`), which the table, the memory estimate and
the emitted ``requires_grad_(False)`` all read, and the batch norms inside them that
``norms: eval`` keeps in eval mode, as torchvision's ``FrozenBatchNorm2d`` does.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from ..diagnostics import Reporter, suggest
from ..spec import model as m
from .graph import Graph, Path, path_str


def resolve_freeze(graph: Graph, freeze: m.Freeze | None, r: Reporter) -> None:
    """Set ``graph.frozen`` and ``graph.frozen_norms`` from ``freeze`` (errors to ``r``)."""
    if freeze is None:
        return
    paths = [p for p, _ in graph.modules()]
    holders = _holders(graph)  # module paths with parameters somewhere below them
    frozen: list[Path] = []
    for item in freeze.modules:
        hits = [p for p in paths if len(p) == len(item.parts) and all(map(_part_matches, item.parts, p))]
        if not hits:
            names = {path_str(p) for p in paths if len(p) == len(item.parts)}
            r.error("E311", f"no module '{item.text}' to freeze", item.span,
                    suggest(item.text, names) or "name module paths as the table shows them, e.g. `layer1`, "
                    "`features.0-9`, `layer*`")
            continue
        trained = [p for p in hits if p in holders]
        if not trained:
            r.error("E311", f"'{item.text}' has no parameters to freeze", item.span,
                    "name the modules with weights (the table's params column), or leave the item out")
            continue
        frozen += [p for p in trained if p not in frozen]
    # a path inside another frozen one says nothing more
    frozen = [p for p in frozen if not any(q != p and p[:len(q)] == q for q in frozen)]
    graph.frozen = tuple(frozen)
    if freeze.norms == "eval":
        graph.frozen_norms = tuple(n.scope for n in graph.nodes.values()
                                   if n.op is not None and n.op.train_statistics and graph.is_frozen(n))


def _holders(graph: Graph) -> set[Path]:
    out: set[Path] = set()
    for node in graph.nodes.values():
        if not node.module or node.op is None:
            continue
        if node.attrs is None or node.in_shapes is None or node.shape is None:
            # an error left it unknown (its attributes may be ones its shape rule refuses): a layer
            # that may hold parameters counts as holding some, so the error is not followed by E311
            holds = node.op.stateful
        else:
            holds = bool(node.op.params(node.in_shapes, node.attrs))
        if holds:
            out.update(node.scope[:k] for k in range(1, len(node.scope) + 1))
    return out


def _part_matches(pattern: str, part: str) -> bool:
    """A part of a freeze path against a part of a module path: a range of positions (``0-9``,
    inclusive, as the table numbers an nn.Sequential) or a glob (``layer*``, ``[12]``)."""
    low, dash, high = pattern.partition("-")
    if dash and low.isdigit() and high.isdigit():
        return part.isdigit() and int(low) <= int(part) <= int(high)
    return fnmatchcase(part, pattern)
