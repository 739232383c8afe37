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
import torchvision
from torch import nn

import archc

from ..emit.test_inference import randomize_norms, relative_error
from .test_torchvision import flop_count, gradients, layout

NETWORKS = ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"]
RUN = ["shufflenet_v2_x1_0", "shufflenet_v2_x0_5"]  # computed live; the other two by layout and counts
SIZE = 64
TOLERANCE = 1e-5  # the inference variant: relative to the largest |output|, fp32


@pytest.fixture(scope="module", params=RUN)
def pair(request: pytest.FixtureRequest) -> tuple[str, nn.Module, nn.Module]:
    """(name, torchvision's model, archc's model carrying torchvision's weights)."""
    name = request.param
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    reference = getattr(torchvision.models, name)(weights=None)
    randomize_norms(reference, gen)
    for module in reference.modules():  # part of the state, and of the strict load
        if isinstance(module, nn.BatchNorm2d):
            module.num_batches_tracked.fill_(int(torch.randint(1, 100, (), generator=gen)))
    model = archc.build(name, input=(3, SIZE, SIZE))
    model.load_state_dict(reference.state_dict(), strict=True)
    return name, reference, model


def batch() -> torch.Tensor:
    return torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(2))


@pytest.mark.parametrize("name", NETWORKS)
def test_parameters_macs_and_layout_are_torchvisions(name: str) -> None:
    """Totals and module by module, at 224×224: FlopCounterMode on the meta device (shapes only);
    the state_dict's keys, shapes and order, also on the meta device."""
    with torch.device("meta"):
        reference = getattr(torchvision.models, name)(weights=None)
        model = archc.build(name)
    assert layout(model) == layout(reference)
    report = archc.analyze(name)
    assert report.input_shape == (3, 224, 224)
    assert report.totals.params == sum(p.numel() for p in reference.parameters())
    counts = flop_count(reference, train=False)
    assert report.totals.macs == report.totals.macs_train == counts[""]
    theirs = {}
    for path, module in reference.named_modules():
        figures = (sum(p.numel() for p in module.parameters()), counts.get(path, 0))
        if path and figures != (0, 0):
            theirs[path] = figures
    ours = {row.path: (row.params, row.macs) for row in report.rows if (row.params, row.macs) != (0, 0)}
    assert ours == theirs


def test_state_dict_is_torchvisions_key_for_key(pair: tuple[str, nn.Module, nn.Module]) -> None:
    _, reference, model = pair
    assert layout(model) == layout(reference)
    ours = model.state_dict()
    for key, value in reference.state_dict().items():
        assert torch.equal(ours[key], value), key


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
    x = batch()
    reference.eval()
    model.eval()
    with torch.no_grad():
        want, got = reference(x), model(x)
    assert got.shape == (2, 1000)
    assert torch.equal(got, want)


def test_train_outputs_and_statistics_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    _, reference, model = pair
    x = batch()
    outputs = []
    for net in (reference, model):
        net.train()
        with torch.no_grad():  # batch norm still updates its running statistics
            outputs.append(net(x))
    assert torch.equal(outputs[1], outputs[0])
    ours = model.state_dict()
    for key, value in reference.state_dict().items():
        assert torch.equal(ours[key], value), key


def test_train_gradients_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """In-place activations after views of the input (the channel split) do not change what
    autograd computes."""
    _, reference, model = pair
    x = batch()

    want, got = gradients(reference, x), gradients(model, x)
    assert want.keys() == got.keys()
    for key, value in want.items():
        assert torch.equal(got[key], value), key


def test_inference_variant_from_torchvisions_weights(pair: tuple[str, nn.Module, nn.Module]) -> None:
    name, reference, _ = pair
    x = batch()
    reference.eval()
    fast = archc.build(name, input=(3, SIZE, SIZE), inference=True, state_dict=reference.state_dict())
    assert not fast.training
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    with torch.no_grad():
        want, got = reference(x), fast(x)
    assert relative_error(want, got) <= TOLERANCE
