"""shufflenet_v2_x0_5 … _x2_0 against torchvision's own model code, live, on the CPU.

As tests/zoo/test_mobilenet_v3.py does: torchvision's module is built with ``weights=None`` and
random batch norm statistics and affine parameters; its state_dict loads into ``archc.build(name)``
with ``strict=True`` under the same keys in the same order, and both then compute the same function
bit for bit, in eval mode and in train mode (batch norm updates its running statistics the same
way), with the same gradients. The inference variant folded from torchvision's weights agrees
within 1e-5 relative. For all four widths, archc's parameters and MACs at 224×224 are
torchvision's parameters and ``FlopCounterMode`` / 2, measured here on the meta device, module by
module, and the state_dict layout is torchvision's.

The networks reduce their input 32-fold and end in a global average pool, so a 64×64 input (a 2×2
map at the end) runs every unit, both kinds of unit, every channel split and shuffle.
"""

from __future__ import annotations

import pytest
import torch
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

NETWORKS = ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"]
RUN = ["shufflenet_v2_x1_0", "shufflenet_v2_x0_5"]  # computed live; the other two by layout and counts
SIZE = 64


@pytest.fixture(scope="module", params=RUN)
def pair(request: pytest.FixtureRequest) -> tuple[str, nn.Module, nn.Module]:
    """(name, torchvision's model, archc's model carrying torchvision's weights)."""
    return (request.param, *torchvision_pair(request.param, SIZE))


@pytest.mark.parametrize("name", NETWORKS)
def test_parameters_macs_and_layout_are_torchvisions(name: str) -> None:
    """Totals and module by module, at 224×224: FlopCounterMode on the meta device (shapes only);
    the state_dict's keys, shapes and order, also on the meta device."""
    assert_figures(name)


def test_state_dict_is_torchvisions_key_for_key(pair: tuple[str, nn.Module, nn.Module]) -> None:
    _, reference, model = pair
    assert_same_state(reference, model)


def leaves(model: nn.Module) -> list[tuple[str, str]]:
    """Every module without children (the layers, activations included), by path and type."""
    return [(path, type(m).__name__) for path, m in model.named_modules() if not any(m.children())]


def test_layers_are_torchvisions(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Module for module, activations included, under the same paths. What differs holds no state:
    torchvision's stride-1 units keep an empty `branch1 = nn.Sequential()` and call `x.chunk`,
    `channel_shuffle` and `x.mean` as functions, where archc's have the modules `x1`, `x2`
    (Chunk), `channel_shuffle`, `avgpool` and `flatten`."""
    _, reference, model = pair
    functions = {"Chunk", "ChannelShuffle", "AdaptiveAvgPool2d", "Flatten"}
    ours = [leaf for leaf in leaves(model) if leaf[1] not in functions]
    theirs = [leaf for leaf in leaves(reference) if not (leaf[0].endswith("branch1") and leaf[1] == "Sequential")]
    assert ours == theirs
    # x1, x2 and channel_shuffle in each of the 3 + 7 + 3 basic units, channel_shuffle in each
    # down-sampling unit, avgpool and flatten
    assert len(leaves(model)) - len(ours) == 3 * 13 + 3 + 2


def test_units_are_torchvisions(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Each unit alone computes what torchvision's InvertedResidual computes, stride 1 and 2: the
    halves are the right ones (swapping them would give another function)."""
    _, reference, model = pair
    for stage in ("stage2", "stage3", "stage4"):
        for k, theirs in enumerate(getattr(reference, stage)):
            ours = getattr(model, stage)[k]
            channels = theirs.branch2[0].in_channels * (1 if theirs.stride > 1 else 2)
            x = torch.randn(1, channels, 6, 6, generator=torch.Generator().manual_seed(k))
            ours.eval(), theirs.eval()
            with torch.no_grad():
                assert torch.equal(ours(x), theirs(x)), (stage, k)
            if theirs.stride == 1:
                swapped = torch.cat(x.chunk(2, dim=1)[::-1], 1)
                with torch.no_grad():
                    assert not torch.equal(ours(swapped), theirs(x)), (stage, k)


def test_eval_outputs_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    _, reference, model = pair
    assert_same_eval(reference, model, batch(SIZE))


def test_train_outputs_and_statistics_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    _, reference, model = pair
    assert_same_train(reference, model, batch(SIZE), draws=False)


def test_train_gradients_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """In-place activations after views of the input (the channel split) do not change what
    autograd computes."""
    _, reference, model = pair
    assert_same_gradients(reference, model, batch(SIZE))


def test_inference_variant_from_torchvisions_weights(pair: tuple[str, nn.Module, nn.Module]) -> None:
    name, reference, _ = pair
    assert_folded(name, reference, batch(SIZE), lambda m: isinstance(m, nn.BatchNorm2d))
