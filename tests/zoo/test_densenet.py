"""densenet121 … densenet201 against torchvision's own DenseNet, live, on the CPU.

As tests/zoo/test_convnext.py does: torchvision's module is built with ``weights=None`` and its
batch norms' constant affine parameters and running statistics made random (so every norm shows
in the output); its state_dict must load into ``archc.build(spec)`` with ``strict=True`` under
the same keys in the same order (``features.denseblock1.denselayer1.norm1.weight`` …: names made
from the repeat index), and both must then compute the same function bit for bit, in eval mode
and in train mode (batch statistics; DenseNet draws nothing at random with ``drop_rate=0``). The
inference variant, built from torchvision's weights, folds each batch norm that follows a
convolution (``norm0`` into ``conv0``, every ``norm2`` into its ``conv1``) and must agree within
1e-5 relative. The figures are compared with torchvision's parameters and ``FlopCounterMode`` at
224×224 on the meta device, module by module.

Inputs are 2×3×64×64 (a 2×2 map reaches the last block), and only densenet121 is run in full;
the other three are checked for their layout and figures, which is what their specs change.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import archc

from .parity import (
    assert_figures,
    assert_folded,
    assert_same_eval,
    assert_same_state,
    assert_same_train,
    batch,
    torchvision_pair,
)

NETWORKS = ["densenet121", "densenet161", "densenet169", "densenet201"]
SIZE = 64


def randomize(model: nn.Module, gen: torch.Generator) -> None:
    """Batch norms away from 1 / 0 / 0 / 1, so that every norm shows in the output."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5, generator=gen)
                module.bias.normal_(0.0, 0.2, generator=gen)
                module.running_mean.normal_(0.0, 0.2, generator=gen)
                module.running_var.uniform_(0.5, 1.5, generator=gen)


@pytest.fixture(scope="module")
def pair() -> tuple[nn.Module, nn.Module]:
    """(torchvision's densenet121, archc's carrying torchvision's weights), each built once."""
    return torchvision_pair("densenet121", SIZE, randomize=randomize)


def test_state_dict_is_torchvisions_key_for_key(pair: tuple[nn.Module, nn.Module]) -> None:
    reference, model = pair
    assert "features.denseblock3.denselayer24.conv2.weight" in model.state_dict()
    assert_same_state(reference, model)


def test_blocks_are_named_as_torchvisions() -> None:
    """The dense layers of a block are `denselayer1` … `denselayerN`, made in the emitted loop."""
    source = archc.compile_source("densenet121")
    assert 'self.add_module(f"denselayer{i + 1}", DenseLayer(' in source
    assert source.count("class DenseLayer(nn.Module):") == 1


def test_eval_outputs_are_identical(pair: tuple[nn.Module, nn.Module]) -> None:
    reference, model = pair
    assert_same_eval(reference, model, batch(SIZE))


def test_train_outputs_are_identical(pair: tuple[nn.Module, nn.Module]) -> None:
    """Batch statistics in train mode (which differ from the running ones: the mode matters)."""
    reference, model = pair
    assert_same_train(reference, model, batch(SIZE), draws=False)


def test_inference_variant_from_torchvisions_weights(pair: tuple[nn.Module, nn.Module]) -> None:
    """The norms that follow a convolution fold into it (conv0's norm0, each layer's norm2 into its
    conv1); those that come first (norm1, a transition's norm, norm5) have no convolution before
    them and stay."""
    reference, model = pair
    fast = assert_folded("densenet121", reference, batch(SIZE), lambda m: False)
    norms = sum(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    layers = sum(1 for _ in (m for m in model.modules() if type(m).__name__ == "DenseLayer"))
    assert layers == 58
    before = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert before - norms == 1 + layers  # norm0 and every norm2


# --- the figures: parameters and MACs against torchvision's modules at 224×224 ---------------


@pytest.mark.parametrize("name", NETWORKS)
def test_parameters_macs_and_layout_are_torchvisions(name: str) -> None:
    assert_figures(name)
