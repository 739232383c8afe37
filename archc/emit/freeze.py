"""The code of ``freeze:`` (archc/ir/freeze.py resolved it against the network's paths).

The network's constructor sets ``requires_grad=False`` on the frozen modules' parameters, as
``for p in resnet.parameters(): p.requires_grad = False`` does by hand; with ``norms: eval``
it also overrides ``train()`` so that the batch norms inside the frozen part never leave eval
mode (their running statistics stay those of the pretrained network, as torchvision's
``FrozenBatchNorm2d`` keeps them). The paths are module-level constants, so a reader sees
exactly what is frozen.
"""

from __future__ import annotations

from ..ir.graph import Graph, path_str


def frozen_constants(graph: Graph) -> list[str]:
    """Module-level constants: the frozen paths, and the batch norms kept in eval mode."""
    if not graph.frozen:
        return []
    tensors = _tensors(graph)
    modules = [path_str(p) for p in graph.frozen if p not in tensors]
    out = ["# `freeze:` in the spec: the parameters of these modules are not trained (requires_grad=False)."]
    out += _tuple("FROZEN", modules)
    if tensors:
        out += ["# Tensors a module holds itself (layer_scale), frozen too."]
        out += _tuple("FROZEN_TENSORS", [path_str(p) for p in graph.frozen if p in tensors])
    if graph.frozen_norms:
        out += ["# `norms: eval`: the batch norms among them stay in eval mode; their running statistics are",
                "# not updated by training."]
        out += _tuple("FROZEN_NORMS", [path_str(p) for p in graph.frozen_norms])
    return out


def frozen_init(graph: Graph) -> list[str]:
    """Lines at the end of the network's ``__init__``."""
    if not graph.frozen:
        return []
    lines = []
    if any(p not in _tensors(graph) for p in graph.frozen):
        lines += ["for path in FROZEN:", "    self.get_submodule(path).requires_grad_(False)"]
    if _tensors(graph):
        lines += ["for path in FROZEN_TENSORS:", "    self.get_parameter(path).requires_grad_(False)"]
    if graph.frozen_norms:
        lines += ["self.train()  # the frozen batch norms start in eval mode"]
    return lines


def frozen_methods(graph: Graph, net: str) -> list[str]:
    """``train()``, which keeps the frozen batch norms in eval mode (``norms: eval``)."""
    if not graph.frozen_norms:
        return []
    return [
        f"def train(self, mode: bool = True) -> {net}:",
        '    """As nn.Module.train, but the frozen batch norms stay in eval mode."""',
        "    super().train(mode)",
        "    for path in FROZEN_NORMS:",
        "        self.get_submodule(path).eval()",
        "    return self",
    ]


def _tensors(graph: Graph) -> set[tuple[str, ...]]:
    held = {n.scope for n in graph.nodes.values() if n.op is not None and n.op.holds_parameter}
    return {p for p in graph.frozen if p in held}


def _tuple(name: str, items: list[str]) -> list[str]:
    one_line = f"{name}: tuple[str, ...] = ({', '.join(repr(i) for i in items)}{',' if len(items) == 1 else ''})"
    if len(one_line) <= 110:
        return [one_line]
    return [f"{name}: tuple[str, ...] = (", *(f"    {i!r}," for i in items), ")"]
