"""The 15 torchvision-layout specs against torchvision itself.

The reference figures and state_dict layouts were read off torchvision 0.26 with
``weights=None`` (tests/fixtures/torchvision_reference.json, trimmed from
../shared/reference/). Parameters and MACs are compared without torch; then each
spec is built once (a module-scoped fixture, one network in memory at a time) and
its state_dict must list torchvision's keys with torchvision's shapes in
torchvision's order, so that a state_dict of those shapes loads with strict=True.
The output shape is compared here without torch; that the built module produces
it, and the MACs, is checked at 224×224 for every shipped spec in tests/emit.
Outputs and figures against torchvision's own modules, live: tests/zoo/test_torchvision.py
(on a CUDA GPU, in bf16 too: benchmarks/torchvision_parity.py).
"""

from __future__ import annotations

import pytest
import torch

import archc

TORCHVISION = ["alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
               "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


def test_the_reference_covers_exactly_these_models(reference: dict) -> None:
    assert sorted(reference) == sorted(TORCHVISION)


@pytest.mark.parametrize("name", TORCHVISION)
def test_parameters_and_macs_exact(name: str, reference: dict) -> None:
    ref = reference[name]
    report = archc.analyze(name)
    assert report.totals.params == ref["num_params"]
    assert report.totals.params_without_heads == ref["num_params_no_aux"]
    assert report.totals.macs == ref["macs"]
    assert list(report.output_shape) == ref["out_shape"][1:]
    assert list(report.input_shape) == [3, 224, 224]


@pytest.fixture(scope="module", params=TORCHVISION)
def built(request: pytest.FixtureRequest) -> tuple[str, torch.nn.Module]:
    return request.param, archc.build(request.param)


def layout(state: dict[str, torch.Tensor]) -> list[list]:
    return [[key, list(value.shape)] for key, value in state.items()]


def test_state_dict_keys_and_shapes_in_order(built: tuple[str, torch.nn.Module], reference: dict) -> None:
    name, model = built
    assert layout(model.state_dict()) == reference[name]["state_dict"]


def test_parameters_counted_by_torch(built: tuple[str, torch.nn.Module], reference: dict) -> None:
    name, model = built
    named = dict(model.named_parameters())
    assert sum(p.numel() for p in named.values()) == reference[name]["num_params"]
    assert sum(p.numel() for k, p in named.items() if not k.startswith("aux")) == reference[name]["num_params_no_aux"]


def test_torchvision_weight_init(built: tuple[str, torch.nn.Module]) -> None:
    """The init torchvision's constructors run (AlexNet keeps PyTorch's defaults): the spread of
    every large weight, batch norm 1 / 0."""
    name, model = built
    if name == "alexnet":
        return
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            assert torch.all(module.weight == 1) and torch.all(module.bias == 0)
        if not isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)) or module.weight.numel() < 20_000:
            continue
        weight = module.weight.detach()
        if name == "googlenet":  # truncated normal, std 0.01, cut at ±2
            want = 0.01
        elif isinstance(module, torch.nn.Conv2d):  # He et al. (2015) normal, fan-out
            want = (2 / (weight.shape[0] * weight[0, 0].numel())) ** 0.5
        elif name.startswith("vgg"):
            want = 0.01
        else:  # ResNet's fc keeps PyTorch's default, uniform within ±1/sqrt(fan_in)
            want = (1 / weight.shape[1]) ** 0.5 / 3 ** 0.5
        assert weight.std().item() == pytest.approx(want, rel=0.1), (name, module)
        if module.bias is not None and not name.startswith("resnet"):
            assert torch.all(module.bias == 0)


def reference_state_dict(entries: list[list]) -> dict[str, torch.Tensor]:
    """A state_dict of the reference's keys and shapes: entry k holds the value k everywhere
    (an expanded scalar, so even VGG's costs no memory); num_batches_tracked is an integer."""
    out = {}
    for k, (key, shape) in enumerate(entries):
        dtype = torch.long if key.endswith("num_batches_tracked") else torch.float32
        out[key] = torch.tensor(k, dtype=dtype).expand(shape)
    return out


def test_reference_state_dict_loads_strictly(built: tuple[str, torch.nn.Module], reference: dict) -> None:
    name, model = built
    entries = reference[name]["state_dict"]
    result = model.load_state_dict(reference_state_dict(entries), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    state = model.state_dict()
    # every value landed under its own key (a swap of two same-shaped tensors would show here)
    for k, (key, _) in enumerate(entries):
        value = state[key]
        assert value.dtype == (torch.long if key.endswith("num_batches_tracked") else torch.float32), key
        ends = value.reshape(-1)[[0, -1]] if value.dim() else value.reshape(1)
        assert (ends == k).all(), key
