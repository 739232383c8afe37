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
import torchvision
from torch import nn

import archc

from ..emit.test_inference import relative_error
from .test_torchvision import flop_count, layout

NETWORKS = ["densenet121", "densenet161", "densenet169", "densenet201"]
SIZE = 64
TOLERANCE = 1e-5  # the inference variant: relative to the largest |output|, fp32


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
    torch.manual_seed(0)
    reference = torchvision.models.densenet121(weights=None)
    randomize(reference, torch.Generator().manual_seed(1))
    model = archc.build("densenet121", input=(3, SIZE, SIZE))
    model.load_state_dict(reference.state_dict(), strict=True)
    return reference, model


def batch() -> torch.Tensor:
    return torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(2))


def test_state_dict_is_torchvisions_key_for_key(pair: tuple[nn.Module, nn.Module]) -> None:
    reference, model = pair
    assert layout(model) == layout(reference)
    assert "features.denseblock3.denselayer24.conv2.weight" in model.state_dict()
    ours = model.state_dict()
    for key, value in reference.state_dict().items():
        assert torch.equal(ours[key], value), key


def test_blocks_are_named_as_torchvisions() -> None:
    """The dense layers of a block are `denselayer1` … `denselayerN`, made in the emitted loop."""
    source = archc.compile_source("densenet121")
    assert 'self.add_module(f"denselayer{i + 1}", DenseLayer(' in source
    assert source.count("class DenseLayer(nn.Module):") == 1


def test_eval_outputs_are_identical(pair: tuple[nn.Module, nn.Module]) -> None:
    reference, model = pair
    x = batch()
    reference.eval()
    model.eval()
    with torch.no_grad():
        want, got = reference(x), model(x)
    assert got.shape == (2, 1000)
    assert torch.equal(got, want)


def test_train_outputs_are_identical(pair: tuple[nn.Module, nn.Module]) -> None:
    """Batch statistics in train mode (which differ from the running ones: the mode matters)."""
    reference, model = pair
    x = batch()
    reference.train()
    model.train()
    with torch.no_grad():
        want, got = reference(x), model(x)
    assert torch.equal(got, want)
    reference.eval()
    with torch.no_grad():
        assert not torch.equal(reference(x), want)


def test_inference_variant_from_torchvisions_weights(pair: tuple[nn.Module, nn.Module]) -> None:
    """The norms that follow a convolution fold into it (conv0's norm0, each layer's norm2 into its
    conv1); those that come first (norm1, a transition's norm, norm5) have no convolution before
    them and stay."""
    reference, model = pair
    reference.eval()
    fast = archc.build("densenet121", input=(3, SIZE, SIZE), inference=True, state_dict=reference.state_dict())
    assert not fast.training
    norms = sum(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    layers = sum(1 for _ in (m for m in model.modules() if type(m).__name__ == "DenseLayer"))
    assert layers == 58
    before = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert before - norms == 1 + layers  # norm0 and every norm2
    x = batch()
    with torch.no_grad():
        want, got = reference(x), fast(x)
    assert relative_error(want, got) <= TOLERANCE


# --- the figures: parameters and MACs against torchvision's modules at 224×224 ---------------


@pytest.mark.parametrize("name", NETWORKS)
def test_parameters_macs_and_layout_are_torchvisions(name: str) -> None:
    with torch.device("meta"):
        reference = getattr(torchvision.models, name)(weights=None)
        model = archc.build(name)
    assert layout(model) == layout(reference)
    report = archc.analyze(name)
    assert report.input_shape == (3, 224, 224) and report.output_shape == (1000,)
    assert report.totals.params == sum(p.numel() for p in reference.parameters())
    counts = flop_count(reference, train=False)
    assert report.totals.macs == counts[""]
    # module by module: every torchvision module that holds parameters or does multiply-adds is a
    # row of archc's table with the same figures, and archc has no other such row
    theirs = {}
    for path, module in reference.named_modules():
        figures = (sum(p.numel() for p in module.parameters()), counts.get(path, 0))
        if path and figures != (0, 0):
            theirs[path] = figures
    ours = {row.path: (row.params, row.macs) for row in report.rows if (row.params, row.macs) != (0, 0)}
    assert ours == theirs
