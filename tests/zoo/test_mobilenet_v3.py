"""mobilenet_v3_large and mobilenet_v3_small against torchvision's own model code, live, on the CPU.

As tests/zoo/test_torchvision.py does for the classics (tests/conftest.py makes torchvision import
on the CPU-only torch): torchvision's module is built with ``weights=None`` and random batch norm
statistics and affine parameters; its state_dict loads into ``archc.build(name)`` with
``strict=True`` under the same keys in the same order, and both then compute the same function
bit for bit, in eval mode and in train mode from the same seed (dropout draws the same mask,
batch norm updates its running statistics the same way), with the same gradients. The inference
variant folded from torchvision's weights agrees within 1e-5 relative. archc's parameters and MACs
at 224×224 are torchvision's parameters and ``FlopCounterMode`` / 2, measured here, module by module.

Both networks reduce their input 32-fold and end in an adaptive average pool, so a 32×32 input
(a 1×1 map at the end) runs every layer, every squeeze-and-excitation gate and every shortcut.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from .parity import (
    assert_figures,
    assert_folded,
    assert_same_eval,
    assert_same_gradients,
    assert_same_state,
    assert_same_train,
    batch,
    torchvision_pair,
)

NETWORKS = ["mobilenet_v3_large", "mobilenet_v3_small"]
SIZE = 32


@pytest.fixture(scope="module", params=NETWORKS)
def pair(request: pytest.FixtureRequest) -> tuple[str, nn.Module, nn.Module]:
    """(name, torchvision's model, archc's model carrying torchvision's weights)."""
    return (request.param, *torchvision_pair(request.param, SIZE))


def test_state_dict_is_torchvisions_key_for_key(pair: tuple[str, nn.Module, nn.Module]) -> None:
    _, reference, model = pair
    assert_same_state(reference, model)


def leaves(model: nn.Module) -> list[tuple[str, str]]:
    """Every module without children (the layers, activations included), by path and type."""
    return [(path, type(m).__name__) for path, m in model.named_modules() if not any(m.children())]


def test_layers_are_torchvisions(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Module for module, parameter-free ones included: the same layers under the same paths, so
    the expansion exists exactly where it widens and every activation is torchvision's. Sorted:
    torchvision's SqueezeExcitation registers fc2 before the ReLU it applies first, archc in the
    order of forward (the state_dict order is the same, the ReLU holds nothing). archc's network
    has one more module, the `flatten` where torchvision's forward calls torch.flatten."""
    _, reference, model = pair
    assert sorted(leaves(model)) == sorted([*leaves(reference), ("flatten", "Flatten")])


def test_shortcuts_are_torchvisions(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """The input is added back in exactly the blocks where torchvision's use_res_connect says: each
    block computes what torchvision's does, and that differs from its body alone exactly there."""
    _, reference, model = pair
    bneck = torchvision.models.mobilenetv3.InvertedResidual
    blocks = [(k, m) for k, m in enumerate(reference.features) if isinstance(m, bneck)]
    assert any(m.use_res_connect for _, m in blocks) and not all(m.use_res_connect for _, m in blocks)
    for k, theirs in blocks:
        ours = model.features[k]
        x = torch.randn(1, theirs.block[0][0].in_channels, 8, 8, generator=torch.Generator().manual_seed(k))
        ours.eval(), theirs.eval()
        with torch.no_grad():
            assert torch.equal(ours(x), theirs(x)), k
            assert torch.equal(ours(x), theirs.block(x) + x if theirs.use_res_connect else theirs.block(x)), k


def test_eval_outputs_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    _, reference, model = pair
    assert_same_eval(reference, model, batch(SIZE))


def test_train_outputs_are_identical_from_the_same_seed(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """The dropout mask matters: another seed gives another output, the same on both sides."""
    _, reference, model = pair
    assert_same_train(reference, model, batch(SIZE), draws=True)


def test_train_gradients_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """In-place activations and the `+=` shortcut do not change what autograd computes."""
    _, reference, model = pair
    assert_same_gradients(reference, model, batch(SIZE))


def test_inference_variant_from_torchvisions_weights(pair: tuple[str, nn.Module, nn.Module]) -> None:
    name, reference, _ = pair
    assert_folded(name, reference, batch(SIZE), lambda m: isinstance(m, (nn.BatchNorm2d, nn.Dropout)))


@pytest.mark.parametrize("name", NETWORKS)
def test_parameters_and_macs_are_torchvisions(name: str) -> None:
    """Totals and module by module, at 224×224: FlopCounterMode on the meta device (shapes only)."""
    assert_figures(name)
