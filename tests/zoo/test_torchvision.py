"""The 15 torchvision-layout specs against torchvision's own model code, live, on the CPU.

tests/conftest.py makes torchvision 0.28 import on the CPU-only torch (its model code is pure
Python). For each model, torchvision's module is built with ``weights=None`` and random batch
norm statistics and affine parameters; its state_dict must load into ``archc.build(spec)``
with ``strict=True`` under the same keys in the same order, and then both must compute the
same function bit for bit: in eval mode, and in train mode from the same seed (dropout draws
its masks in the same order on both sides, batch norm updates its running statistics the same
way). The inference variant folded from torchvision's weights must agree within 1e-5
relative. The figures are compared too: archc's parameter and MAC counts at 224×224 against
torchvision's parameters and ``FlopCounterMode`` on the meta device, module by module.

Inputs are the smallest cheap sizes each network accepts (``SIZE``), and the smallest size
archc accepts is the smallest torchvision accepts (``test_smallest_input_is_torchvisions``).
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import archc
from archc.diagnostics import ArchcError

from ..emit.test_inference import randomize_norms, relative_error
from .test_torchvision_layout import TORCHVISION

TOLERANCE = 1e-5  # the inference variant: relative to the largest |output|, fp32

# Input side per model, batch 2. ResNets and VGGs end in an adaptive average pool, so any
# size that survives their strides works. The first of each family runs at 64, which leaves a
# 2×2 map before the adaptive pool (real windows: VGG's spreads it over 7×7); the deeper ones
# repeat the same blocks and run at the smallest size, 32 (a 1×1 map), at a tenth of the cost.
# AlexNet needs at least 63 and GoogLeNet 15 (test_smallest_input_is_torchvisions); GoogLeNet
# at 32 still has 2×2 maps in inception4, where its auxiliary heads branch off.
SIZE = {name: 32 for name in TORCHVISION} | {"alexnet": 64, "vgg11": 64, "vgg11_bn": 64, "resnet18": 64,
                                             "resnet34": 64}

# The smallest input side each network accepts in torchvision, where one exists (ResNets accept
# any): one below it, some pooling or convolution has nothing left to work on.
SMALLEST = {"alexnet": 63, "googlenet": 15} | {name: 32 for name in TORCHVISION if name.startswith("vgg")}


def torchvision_model(name: str) -> nn.Module:
    if name == "googlenet":
        # transform_input=True (torchvision's default when loading its weights: it re-normalises
        # the input from ImageNet statistics to [-1, 1]) is not expressible yet: issue 14.
        return torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True,
                                            transform_input=False)
    return getattr(torchvision.models, name)(weights=None)


def layout(model: nn.Module) -> list[tuple[str, tuple[int, ...], torch.dtype]]:
    return [(key, tuple(value.shape), value.dtype) for key, value in model.state_dict().items()]


@pytest.fixture(scope="module", params=TORCHVISION)
def pair(request: pytest.FixtureRequest) -> tuple[str, nn.Module, nn.Module]:
    """(name, torchvision's model, archc's model carrying torchvision's weights); module scope,
    so each pair is built once and only one pair is in memory at a time (VGG's is ~1 GB)."""
    name = request.param
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    reference = torchvision_model(name)
    randomize_norms(reference, gen)
    for module in reference.modules():  # consulted only with momentum=None, but part of the state
        if isinstance(module, nn.BatchNorm2d):
            module.num_batches_tracked.fill_(int(torch.randint(1, 100, (), generator=gen)))
    model = archc.build(name, input=(3, SIZE[name], SIZE[name]))
    model.load_state_dict(reference.state_dict(), strict=True)
    return name, reference, model


def batch(name: str) -> torch.Tensor:
    return torch.randn(2, 3, SIZE[name], SIZE[name], generator=torch.Generator().manual_seed(2))


def test_state_dict_is_torchvisions_key_for_key(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Same keys in the same order (torchvision's order is its modules' construction order, what a
    reader of either source sees), with the same shapes and dtypes; and every value was copied."""
    _, reference, model = pair
    assert layout(model) == layout(reference)
    ours = model.state_dict()
    for key, value in reference.state_dict().items():
        assert torch.equal(ours[key], value), key


def test_eval_outputs_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    name, reference, model = pair
    x = batch(name)
    reference.eval()
    model.eval()
    with torch.no_grad():
        want, got = reference(x), model(x)
    assert isinstance(got, torch.Tensor) and got.shape == (2, 1000)
    assert torch.equal(got, want)


def train_outputs(model: nn.Module, x: torch.Tensor, seed: int) -> list[torch.Tensor]:
    """One training-mode forward from a fixed seed, as (main, aux2, aux1) for GoogLeNet."""
    model.train()
    torch.manual_seed(seed)
    with torch.no_grad():  # batch norm still updates its running statistics
        out = model(x)
    if isinstance(out, torchvision.models.GoogLeNetOutputs):
        return [out.logits, out.aux_logits2, out.aux_logits1]
    return list(out) if isinstance(out, tuple) else [out]


def test_train_outputs_are_identical_from_the_same_seed(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Dropout draws its masks from the global generator in call order, so the same seed gives the
    same masks only if both networks apply their dropouts in the same order to tensors of the same
    shapes. GoogLeNet's emitted forward runs its aux heads after inception5b, torchvision's right
    after inception4a and 4d; the order of the draws is still aux1, aux2, main (nothing between
    draws from the generator), so the outputs agree exactly."""
    name, reference, model = pair
    x = batch(name)
    want, got = train_outputs(reference, x, seed=3), train_outputs(model, x, seed=3)
    assert len(got) == len(want) == (3 if name == "googlenet" else 1)
    for k, (a, b) in enumerate(zip(want, got)):
        assert torch.equal(a, b), f"output {k} of {name} in train mode"
    if name == "googlenet":  # a swap of the two heads would show: they compute different things
        assert not torch.equal(want[1], want[2])
    # batch norm updated its running statistics identically (and the eval test still compares
    # two equal networks, whichever order the tests run in)
    ours = model.state_dict()
    for key, value in reference.state_dict().items():
        assert torch.equal(ours[key], value), key
    if any(isinstance(m, nn.Dropout) for m in reference.modules()):
        # the masks matter: another seed gives another output, on both sides the same
        other = train_outputs(reference, x, seed=4)
        assert not torch.equal(other[0], want[0])
        assert all(torch.equal(a, b) for a, b in zip(other, train_outputs(model, x, seed=4)))


def test_inference_variant_from_torchvisions_weights(pair: tuple[str, nn.Module, nn.Module]) -> None:
    name, reference, _ = pair
    x = batch(name)
    reference.eval()
    fast = archc.build(name, input=(3, SIZE[name], SIZE[name]), inference=True, state_dict=reference.state_dict())
    assert not fast.training
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.Dropout)) for m in fast.modules())
    with torch.no_grad():
        want, got = reference(x), fast(x)
    assert relative_error(want, got) <= TOLERANCE


# --- the figures: parameters and MACs against torchvision's modules at 224×224 ---------------


def flop_count(model: nn.Module, *, train: bool) -> dict[str, int]:
    """MACs per module path ("" for the whole network): FlopCounterMode / 2 of one forward of a
    1×3×224×224 batch, on the meta device (shapes only: no memory, no arithmetic)."""
    model.train(train)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(1, 3, 224, 224, device="meta"))
    root = type(model).__name__
    out = {}
    for key, per_op in counter.get_flop_counts().items():
        if key == "Global":
            out[""] = sum(per_op.values()) // 2
        elif key.startswith(root + "."):
            out[key[len(root) + 1:]] = sum(per_op.values()) // 2
    return out


@pytest.mark.parametrize("name", TORCHVISION)
def test_parameters_and_macs_are_torchvisions(name: str) -> None:
    with torch.device("meta"):
        reference = torchvision_model(name)
    report = archc.analyze(name)
    assert report.input_shape == (3, 224, 224)
    params = dict(reference.named_parameters())
    assert report.totals.params == sum(p.numel() for p in params.values())
    assert report.totals.params_without_heads == sum(p.numel() for k, p in params.items() if not k.startswith("aux"))
    inference = flop_count(reference, train=False)
    assert report.totals.macs == inference[""]
    training = flop_count(reference, train=True)  # GoogLeNet's aux heads run
    assert report.totals.macs_train == training[""]
    # module by module: every torchvision module that holds parameters or does multiply-adds is
    # a row of archc's table with the same figures, and archc has no other such row
    rows = {row.path: row for row in report.rows}
    theirs = {}
    for path, module in reference.named_modules():
        figures = (sum(p.numel() for p in module.parameters()), training.get(path, 0))
        if path and figures != (0, 0):
            theirs[path] = figures
    ours = {path: (row.params, row.macs) for path, row in rows.items() if (row.params, row.macs) != (0, 0)}
    assert ours == theirs


@pytest.mark.parametrize("name", sorted(SMALLEST))
def test_smallest_input_is_torchvisions(name: str) -> None:
    """archc accepts exactly the input sizes torchvision's module runs on, at the lower end: the
    smallest side both accept, and one below it both refuse (archc with a diagnostic)."""
    with torch.device("meta"):
        reference = torchvision_model(name).train()  # GoogLeNet: its aux heads must run too

    def torchvision_runs(side: int) -> bool:
        try:
            reference(torch.empty(2, 3, side, side, device="meta"))
        except RuntimeError:
            return False
        return True

    def archc_accepts(side: int) -> bool:
        try:
            archc.analyze(name, input=(3, side, side))
        except ArchcError:
            return False
        return True

    side = SMALLEST[name]
    assert torchvision_runs(side) and archc_accepts(side)
    assert not torchvision_runs(side - 1) and not archc_accepts(side - 1)
