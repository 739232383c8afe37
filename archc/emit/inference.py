"""The inference variant's extra source: the tables that say how the plain network's
state_dict maps onto the folded one, the folding function, and ``build``.

The classes themselves are written by the same emitter as the plain network's, from
the graph :func:`archc.ir.passes.inference_graph` returns; this module writes what
follows them. Weights always flow one way: plain state_dict (archc's own, or
torchvision's pretrained one for the shipped specs) -> ``fold_state_dict`` ->
``load_state_dict`` on the inference network. The folding runs in float64 and is
cast back, so the folded layer matches the plain pair to rounding.
"""

from __future__ import annotations

import textwrap

from ..ir.passes import Folding


def header_lines(folding: Folding) -> list[str]:
    """Comment lines for the file's header: what this variant changed."""
    n = len(folding.norms)
    done = [f"{_count(n, 'batch norm')} folded into the layer before {'it' if n == 1 else 'each'}" if n
            else "no batch norm to fold"]
    if folding.dropouts:
        done.append(f"{_count(len(folding.dropouts), 'dropout')} removed")
    if folding.heads:
        done.append(f"training-only heads removed ({', '.join(folding.heads)})")
    text = f"Inference only (eval mode): {'; '.join(done)}."
    if folding.kept_norms:
        text += (" Batch norms kept (no layer of their own before them that they fold into, or no running "
                 f"statistics): {', '.join(folding.kept_norms)}.")
    text += " Load a plain network's weights with build(plain_state_dict) or fold_state_dict()."
    return [f"# {line}" for line in textwrap.wrap(text, 96, break_long_words=False, break_on_hyphens=False)]


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' * (n != 1)}"


def fold_source(folding: Folding, net: str) -> list[str]:
    """The tables, ``fold_batch_norm``, ``fold_state_dict`` and ``build`` of the inference variant."""
    lines = ["# Batch norms folded into the layer before them: (layer, batch norm, eps), as paths in the",
             "# plain network. The layer keeps its name and gains a bias.",
             "FOLDED_NORMS: tuple[tuple[str, str, float], ...] = ("]
    if folding.norms:
        lines += [*(f"    ({f.conv!r}, {f.norm!r}, {f.eps!r})," for f in folding.norms), ")"]
    else:
        lines[-1] += ")"
    lines += ["# Modules whose path moved (plain path: path here): dropping an entry renumbers the",
              "# nn.Sequential that held it."]
    if folding.moved:
        lines += ["MOVED: dict[str, str] = {"]
        lines += [f"    {old!r}: {new!r}," for old, new in folding.moved.items()]
        lines += ["}"]
    else:
        lines += ["MOVED: dict[str, str] = {}"]
    lines += ["# State of the plain network that this one does not have (training-only heads)."]
    lines += [f"DROPPED: tuple[str, ...] = {tuple(folding.dropped)!r}"]
    lines += ["", "", *FUNCTIONS.format(net=net).splitlines(), ""]
    return lines


FUNCTIONS = '''\
def fold_batch_norm(
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    mean: torch.Tensor,
    var: torch.Tensor,
    eps: float,
    gamma: torch.Tensor | None,
    beta: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A layer followed by batch norm in eval mode, as one layer: w' = w * s per output channel and
    b' = beta + (b - mean) * s, where s = gamma / sqrt(var + eps). Computed in float64."""
    scale = torch.rsqrt(var.double() + eps)
    if gamma is not None:
        scale = scale * gamma.double()
    shift = -mean.double() * scale if bias is None else (bias.double() - mean.double()) * scale
    if beta is not None:
        shift = shift + beta.double()
    folded = weight.double() * scale.reshape(-1, *([1] * (weight.dim() - 1)))
    return folded.to(weight.dtype), shift.to(weight.dtype)


def fold_state_dict(plain: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """This network's state_dict from the plain network's (archc's, or torchvision's for the
    shipped specs): batch norms folded into their layers, heads dropped, moved paths renamed."""
    norms = {{norm for _, norm, _ in FOLDED_NORMS}}
    state = {{}}
    for key, value in plain.items():
        module, _, name = key.rpartition(".")
        # a dropped path is a module's or, for a tensor its module holds itself, the tensor's
        if module in norms or any(key == d or key.startswith(d + ".") for d in DROPPED):
            continue
        state[f"{{MOVED.get(module, module)}}.{{name}}" if module else name] = value
    for layer, norm, eps in FOLDED_NORMS:
        weight, bias = fold_batch_norm(
            plain[f"{{layer}}.weight"],
            plain.get(f"{{layer}}.bias"),
            plain[f"{{norm}}.running_mean"],
            plain[f"{{norm}}.running_var"],
            eps,
            plain.get(f"{{norm}}.weight"),
            plain.get(f"{{norm}}.bias"),
        )
        target = MOVED.get(layer, layer)
        state[f"{{target}}.weight"], state[f"{{target}}.bias"] = weight, bias
    return state


def build(plain_state_dict: dict[str, torch.Tensor] | None = None) -> {net}:
    """A new {net} for inference, in eval mode. Pass the plain network's state_dict to run with
    its weights, folded; without one the weights are PyTorch's default initialisation."""
    model = {net}()
    if plain_state_dict is not None:
        model.load_state_dict(fold_state_dict(plain_state_dict))
    return model.eval()
'''
