"""convnext_tiny, convnext_small and convnext_base against torchvision's own ConvNeXt, live, on the CPU.

As tests/zoo/test_torchvision.py does for the classic networks: torchvision's module is built
with ``weights=None`` and every parameter that its init leaves constant made random (the layer
scales start at 1e-6, which would hide the blocks' branches from the output, and LayerNorm
at 1 / 0); its state_dict must load into ``archc.build(spec)`` with ``strict=True`` under the
same keys in the same order, and both must then compute the same function bit for bit: in
eval mode, and in train mode from the same seed (stochastic depth draws one number per sample
and block from the global generator, in block order, on both sides), with the same gradients.
Each block's drop probability must be torchvision's float exactly (``p * k / (n - 1.0)``). The
inference variant, built from torchvision's weights, must agree within 1e-5 relative. The
figures are compared with torchvision's parameters and ``FlopCounterMode`` at 224×224 on the
meta device (shapes only), module by module.

Inputs are 32×32, the smallest side ConvNeXt accepts (a 1×1 map after the last downsampling;
``test_smallest_input_is_torchvisions``), batch 2: each network is built once per side, the
whole file takes a few seconds per network.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import archc

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
from .test_torchvision import assert_smallest_input

NETWORKS = ["convnext_tiny", "convnext_small", "convnext_base"]
SIZE = 32


def randomize(model: nn.Module, gen: torch.Generator) -> None:
    """Layer scales near 1 (torchvision starts them at 1e-6) and LayerNorm affine parameters away
    from 1 / 0, so that every block's branch and every norm shows in the output."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("layer_scale"):
                param.uniform_(0.5, 1.5, generator=gen)
        for module in model.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5, generator=gen)
                module.bias.normal_(0.0, 0.2, generator=gen)


@pytest.fixture(scope="module", params=NETWORKS)
def pair(request: pytest.FixtureRequest) -> tuple[str, nn.Module, nn.Module]:
    """(name, torchvision's model, archc's model carrying torchvision's weights), each built once."""
    return (request.param, *torchvision_pair(request.param, SIZE, randomize=randomize))


def test_state_dict_is_torchvisions_key_for_key(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Same keys in the same order (``features.1.0.layer_scale`` before ``features.1.0.block.0.weight``:
    a module's own parameters come before its children's), same shapes and dtypes, every value copied."""
    _, reference, model = pair
    assert_same_state(reference, model)


def test_drop_probabilities_are_torchvisions_floats(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Block k of n drops with p * k / (n - 1.0), computed by the spec's `/` to the same float."""
    _, reference, model = pair
    theirs = {k: m.p for k, m in reference.named_modules() if isinstance(m, torchvision.ops.StochasticDepth)}
    ours = {k: m.p for k, m in model.named_modules() if type(m).__name__ == "StochasticDepth"}
    assert ours == theirs
    assert all(type(p) is float for p in ours.values())
    probabilities = list(theirs.values())
    assert probabilities[0] == 0.0 and probabilities[-1] == reference.features[7][-1].stochastic_depth.p > 0


def test_eval_outputs_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    _, reference, model = pair
    assert_same_eval(reference, model, batch(SIZE))


def test_train_outputs_are_identical_from_the_same_seed(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Stochastic depth draws its masks from the global generator in block order on both sides; the
    masks matter (another seed, another output; and training differs from eval), and agree there too."""
    _, reference, model = pair
    assert_same_train(reference, model, batch(SIZE), draws=True)


def test_train_gradients_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """A training step's gradients, so that the emitted residual add and layer scale provably give
    autograd what torchvision's `result += input` does (the smallest network: the blocks are alike)."""
    name, reference, model = pair
    if name != "convnext_tiny":
        pytest.skip("one network: the three share every block")
    assert_same_gradients(reference, model, batch(SIZE))


def test_inference_variant_from_torchvisions_weights(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Stochastic depth goes (it is the identity in eval mode); LayerNorm does not fold and stays."""
    name, reference, _ = pair
    assert_folded(name, reference, batch(SIZE), lambda m: type(m).__name__ == "StochasticDepth")


# --- the figures: parameters and MACs against torchvision's modules at 224×224 ---------------


@pytest.mark.parametrize("name", NETWORKS)
def test_parameters_and_macs_are_torchvisions(name: str) -> None:
    """A parameter that a block holds itself (CNBlock's layer_scale, not a module) is a row of its own;
    stochastic depth draws in training, but multiplies nothing."""
    assert_figures(name, own_parameters=True, train_macs=True)


def test_figures_at_the_small_input_too() -> None:
    """At 32×32 (the size the outputs are compared at) as well: FlopCounterMode on the built module."""
    report = archc.analyze("convnext_tiny", input=(3, SIZE, SIZE))
    with torch.device("meta"):
        reference = torchvision.models.convnext_tiny(weights=None).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        reference(torch.empty(1, 3, SIZE, SIZE, device="meta"))
    assert report.totals.macs == counter.get_total_flops() // 2
    assert report.output_shape == (1000,)


def test_smallest_input_is_torchvisions() -> None:
    """32 is the smallest side both accept; at 31 torchvision's last downsampling has nothing left
    to work on, and archc says so before anything runs."""
    with torch.device("meta"):
        reference = torchvision.models.convnext_tiny(weights=None).eval()
    assert_smallest_input(reference, "convnext_tiny", SIZE)


def test_the_variants_share_one_definition() -> None:
    """Three specs, one file of blocks: each variant only sets the widths, depths and the final
    drop probability (as torchvision's convnext_* functions pass a CNBlockConfig list)."""
    sources = {name: archc.compile_source(name) for name in NETWORKS}
    for name, source in sources.items():
        assert source.count("class CNBlock(nn.Module):") == 1, name
        assert "stochastic_depth_prob * (first + i) / (total - 1)" in source, name
    blocks = {name: source[source.index("class CNBlock"):source.index("class Conv2dNormActivation")]
              for name, source in sources.items()}
    assert len(set(blocks.values())) == 1
