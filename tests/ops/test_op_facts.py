"""The facts each op declares for the passes and emission, checked against PyTorch on every
sample of tests/ops/test_ops_vs_torch.py (so an op added with samples is checked too):

- ``fresh_output``: the module's output is new storage, and its backward keeps neither that
  output nor a view of it (so an in-place activation after it cannot corrupt the gradient);
- ``inplace_capable``: the torch module takes ``inplace=True`` and then computes the same;
- ``eval_identity``: in eval mode the module returns its input unchanged;
- ``init_role`` / ``has_affine``: the module has a weight (and, for norms, a bias) exactly when
  an ``init:`` scheme would set one;
- ``folds_after`` / ``folds_into``: folding the norm into the layer before it in eval mode
  computes the same as the pair (float64, to rounding).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from archc.ops import registry

from .test_ops_vs_torch import CASES, _attrs


def _module(oracle: Any) -> nn.Module | None:
    module = oracle()
    return module if isinstance(module, nn.Module) else None


def _inputs(shapes: list[tuple[int, ...]]) -> list[torch.Tensor]:
    torch.manual_seed(0)
    return [torch.randn(2, *s, requires_grad=True) for s in shapes]


@pytest.mark.parametrize(("name", "call", "shapes", "oracle"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_fresh_output_is_new_and_not_kept_by_backward(name: str, call: str, shapes: list[tuple[int, ...]],
                                                      oracle: Any) -> None:
    op, _ = _attrs(call)
    xs = _inputs(shapes)
    saved: list[torch.Tensor] = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        module = oracle()
        if isinstance(module, nn.Module):
            module.train()
            out = module(*xs)
        else:
            out = module(xs)
    ptr = out.untyped_storage().data_ptr()
    aliases = any(x.untyped_storage().data_ptr() == ptr for x in xs)
    kept = any(t.untyped_storage().data_ptr() == ptr for t in saved)
    if op.fresh_output:
        assert not aliases and not kept, f"{name} declares fresh_output, but its output is " + (
            "its input's storage" if aliases else "kept by its backward")


@pytest.mark.parametrize(("name", "call", "shapes", "oracle"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_inplace_capable_modules_compute_the_same_in_place(name: str, call: str, shapes: list[tuple[int, ...]],
                                                           oracle: Any) -> None:
    op, _ = _attrs(call)
    module = _module(oracle)
    if module is None:
        assert not op.inplace_capable
        return
    takes_inplace = hasattr(module, "inplace")
    if not op.inplace_capable:
        return
    assert takes_inplace, f"{name} declares inplace_capable but {type(module).__name__} has no inplace flag"
    x = torch.randn(2, *shapes[0])
    expected = module(x.clone())
    module.inplace = True
    y = x.clone()
    out = module(y)
    assert torch.equal(out, expected)
    assert out.data_ptr() == y.data_ptr(), "inplace=True did not work in place"


@pytest.mark.parametrize(("name", "call", "shapes", "oracle"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_eval_identity(name: str, call: str, shapes: list[tuple[int, ...]], oracle: Any) -> None:
    op, _ = _attrs(call)
    module = _module(oracle)
    if module is None:
        assert not op.eval_identity
        return
    x = torch.randn(2, *shapes[0])
    out = module.eval()(x)
    same = out.shape == x.shape and torch.equal(out, x)
    # declared exactly where it holds; `identity` is kept as the module the spec asked for
    assert same == (op.eval_identity or name == "identity"), name


@pytest.mark.parametrize(("name", "call", "shapes", "oracle"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_init_role_matches_the_modules_weights(name: str, call: str, shapes: list[tuple[int, ...]],
                                               oracle: Any) -> None:
    op, attrs = _attrs(call)
    module = _module(oracle)
    if op.init_role is None:
        return
    assert module is not None and op.torch_class is not None
    assert type(module).__name__ == op.torch_class.split(".")[-1]
    if op.init_role == "norm":
        assert (getattr(module, "weight", None) is not None) == op.has_affine(attrs)
        assert (getattr(module, "bias", None) is not None) == op.has_affine(attrs)
    else:
        assert isinstance(module.weight, nn.Parameter)


def test_init_roles_name_modules_with_weights() -> None:
    roles = {op.name: op.init_role for op in registry() if op.init_role}
    assert set(roles.values()) <= {"conv", "linear", "norm"}
    assert roles, "no op declares an init role"
    for op in registry():
        if op.init_role:
            assert op.stateful, f"{op.name}: an init role needs parameters"


# a layer before each foldable norm, as the inference pass would meet it
_PRODUCERS = {"conv": lambda c: nn.Conv2d(3, c, 3, groups=1), "conv1d": lambda c: nn.Conv1d(3, c, 3),
              "linear": lambda c: nn.Linear(5, c)}
_INPUTS = {"conv": (3, 9, 9), "conv1d": (3, 11), "linear": (5,)}


@pytest.mark.parametrize("norm", [op.name for op in registry() if op.folds_after])
def test_folding_a_norm_into_the_layer_before_it_computes_the_same(norm: str) -> None:
    from archc.emit.inference import FUNCTIONS

    namespace: dict[str, Any] = {"torch": torch}
    exec(FUNCTIONS.format(net="nn.Module").split("def fold_state_dict")[0], namespace)
    fold = namespace["fold_batch_norm"]
    op = registry().get(norm)
    samples = [c for c in CASES if c[0] == norm]
    assert samples
    for producer_name in op.folds_after:
        for _, call, _, _ in samples:
            _, attrs = _attrs(call)
            torch.manual_seed(1)
            layer = _PRODUCERS[producer_name](4).double()
            bn = getattr(nn, op.torch_class.split(".")[1])(4, eps=attrs.eps, affine=attrs.affine,
                                                           track_running_stats=attrs.track_running_stats).double()
            x = torch.randn(3, *_INPUTS[producer_name], dtype=torch.float64)
            out_shape = tuple(layer(x).shape[1:])
            if not op.folds_into(attrs, registry().get(producer_name), None, out_shape):
                assert not attrs.track_running_stats, "only norms without running statistics stay"
                continue
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            if attrs.affine:
                bn.weight.data.uniform_(0.5, 1.5)
                bn.bias.data.uniform_(-1, 1)
            bn.eval()
            weight, bias = fold(layer.weight, layer.bias, bn.running_mean, bn.running_var, attrs.eps,
                                bn.weight if attrs.affine else None, bn.bias if attrs.affine else None)
            folded = type(layer)(*_signature(layer)).double()
            folded.weight.data, folded.bias.data = weight.detach(), bias.detach()
            assert torch.allclose(folded(x), bn(layer(x)), rtol=1e-10, atol=1e-12)


def _signature(layer: nn.Module) -> tuple[Any, ...]:
    if isinstance(layer, nn.Linear):
        return (layer.in_features, layer.out_features)
    return (layer.in_channels, layer.out_channels, layer.kernel_size)


def test_a_linear_layer_on_a_sequence_does_not_fold() -> None:
    # nn.Linear on C×L maps L while BatchNorm1d normalises C: different channels
    bn1d, linear = registry().get("bn1d"), registry().get("linear")
    attrs = bn1d.Attrs()
    assert bn1d.folds_into(attrs, linear, None, (16,))
    assert not bn1d.folds_into(attrs, linear, None, (8, 16))
