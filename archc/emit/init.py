"""Weight initialisation code, when the spec names a scheme (``init:``).

Without ``init:`` modules keep PyTorch's defaults. The schemes are those the classic
torchvision models use: He et al. (2015) normal init with fan-out for ResNet and VGG
convolutions, a truncated normal (std 0.01, cut at ±2) for GoogLeNet, normal(0, 0.01)
for VGG's classifier, weight 1 / bias 0 for normalisation layers, and optionally the
last batch norm of every residual branch set to zero (Goyal et al., 2017), so each
residual block starts as the identity. A named scheme also sets biases to zero.

Which modules a scheme reaches is each op's own fact (:attr:`archc.ops.base.Op.init_role`,
:meth:`~archc.ops.base.Op.has_affine`), so a new op is initialised by declaring its role.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..ir.graph import Graph
from ..ir.module import InitScheme
from ..ops import registry

CONV = {
    "kaiming_normal_fan_out": 'nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")',
    "kaiming_normal_fan_in": 'nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")',
    "kaiming_uniform": 'nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")',
    "xavier_uniform": "nn.init.xavier_uniform_(module.weight)",
    "xavier_normal": "nn.init.xavier_normal_(module.weight)",
    "trunc_normal": "nn.init.trunc_normal_(module.weight, mean=0.0, std={std}, a=-2, b=2)",
}
LINEAR = {
    "normal": "nn.init.normal_(module.weight, 0, {std})",
    "trunc_normal": "nn.init.trunc_normal_(module.weight, mean=0.0, std={std}, a=-2, b=2)",
    "xavier_uniform": "nn.init.xavier_uniform_(module.weight)",
    "kaiming_uniform": 'nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")',
}


def role_classes(role: str) -> tuple[str, ...]:
    """The torch classes of the ops a scheme of ``init:`` applies to, sorted. A class the file
    defines itself (:attr:`~archc.ops.base.Op.helper`, only there when used) is left out: it
    subclasses one of the others (LayerNorm2d is an nn.LayerNorm), so ``isinstance`` finds it."""
    return tuple(sorted({op.torch_class for op in registry()
                         if op.init_role == role and op.torch_class and op.helper is None}))


def _isinstance(classes: Sequence[str]) -> str:
    return classes[0] if len(classes) == 1 else f"({', '.join(classes)})"


def init_method(spec: InitScheme | None, codes: Sequence[object], network: str, graph: Graph) -> list[str]:
    """Lines appended to the network's ``__init__`` (empty when defaults are kept)."""
    if spec is None:
        return []
    std = repr(spec.std)
    branches: list[tuple[tuple[str, ...], str]] = []
    if spec.conv not in (None, "default"):
        branches.append((role_classes("conv"), CONV[spec.conv].format(std=std)))
    if spec.linear not in (None, "default"):
        call = LINEAR[spec.linear].format(std=std)
        if branches and branches[-1][1] == call:  # one branch when both get the same init (GoogLeNet)
            branches[-1] = ((*branches[-1][0], *role_classes("linear")), call)
        else:
            branches.append((role_classes("linear"), call))
    lines: list[str] = []
    if branches or spec.norm == "ones_zeros":
        lines.append("for module in self.modules():")
        keyword = "if"
        for classes, call in branches:
            lines += [f"    {keyword} isinstance(module, {_isinstance(classes)}):", f"        {call}",
                      "        if module.bias is not None:", "            nn.init.zeros_(module.bias)"]
            keyword = "elif"
        if spec.norm == "ones_zeros":
            # a norm without affine parameters (bn(affine=false)) has no weight to set
            some_lack = any(n.op is not None and n.op.init_role == "norm" and n.attrs is not None
                            and not n.op.has_affine(n.attrs) for n in graph.nodes.values())
            test = f"isinstance(module, {_isinstance(role_classes('norm'))})"
            if some_lack:  # (the condition on a line of its own: with the test, it passed 120 characters)
                lines += [f"    {keyword} (", f"        {test}", "        and module.weight is not None", "    ):"]
            else:
                lines.append(f"    {keyword} {test}:")
            lines += ["        nn.init.ones_(module.weight)", "        nn.init.zeros_(module.bias)"]
    if spec.zero_init_residual:
        targets = [(c.name, c.last_norms) for c in codes if getattr(c, "last_norms", None)]
        if targets:
            lines.append("# zero the last norm of each residual branch: every block starts as the identity")
            lines.append("for module in self.modules():")
            keyword = "if"
            for name, norms in targets:
                lines.append(f"    {keyword} isinstance(module, {name}):")
                lines += [f"        nn.init.zeros_(module.{norm}.weight)" for norm in norms]
                keyword = "elif"
    return lines
