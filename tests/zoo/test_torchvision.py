"""The 15 torchvision-layout specs against torchvision's own model code, live, on the CPU.

tests/conftest.py makes torchvision 0.28 import on the CPU-only torch (its model code is pure
Python). For each model, torchvision's module is built with ``weights=None`` and random batch
norm statistics and affine parameters; its state_dict must load into ``archc.build(spec)``
with ``strict=True`` under the same keys in the same order, and then both must compute the
same function bit for bit: in eval mode, and in train mode from the same seed (dropout draws
its masks in the same order on both sides, batch norm updates its running statistics the same
way), with the same gradients (GoogLeNet's to the last bits, see
test_train_gradients_are_identical). The inference variant folded from torchvision's weights must agree within 1e-5
relative. The figures are compared too: archc's parameter and MAC counts at 224×224 against
torchvision's parameters and ``FlopCounterMode`` on the meta device, module by module.

Inputs are the smallest cheap sizes each network accepts (``SIZE``), and the smallest size
archc accepts is the smallest torchvision accepts (``test_smallest_input_is_torchvisions``).

GoogLeNet runs twice: as torchvision's constructor builds it (``transform_input=False``) and as
``googlenet(weights=...)`` builds it for the published weights (``transform_input=True``: the
input is re-normalised channel by channel before conv1), against the spec with the same setting.
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

# The networks compared, each with the spec parameters it is built with on both sides
TRANSFORMED = "googlenet[transform_input]"
CASES = [*TORCHVISION, TRANSFORMED]


def settings(case: str) -> tuple[str, dict[str, bool]]:
    """(network, spec parameters = torchvision constructor arguments) of a case."""
    return ("googlenet", {"transform_input": True}) if case == TRANSFORMED else (case, {})


def torchvision_model(name: str, transform_input: bool = False) -> nn.Module:
    if name == "googlenet":
        # weights=None leaves transform_input as the constructor's default, False;
        # googlenet(weights=...) sets it to True, which the spec's parameter of that name matches
        return torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True,
                                            transform_input=transform_input)
    return getattr(torchvision.models, name)(weights=None)


def layout(model: nn.Module) -> list[tuple[str, tuple[int, ...], torch.dtype]]:
    return [(key, tuple(value.shape), value.dtype) for key, value in model.state_dict().items()]


@pytest.fixture(scope="module", params=CASES)
def pair(request: pytest.FixtureRequest) -> tuple[str, nn.Module, nn.Module]:
    """(name, torchvision's model, archc's model carrying torchvision's weights); module scope,
    so each pair is built once and only one pair is in memory at a time (VGG's is ~1 GB)."""
    name, overrides = settings(request.param)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    reference = torchvision_model(name, **overrides)
    randomize_norms(reference, gen)
    for module in reference.modules():  # consulted only with momentum=None, but part of the state
        if isinstance(module, nn.BatchNorm2d):
            module.num_batches_tracked.fill_(int(torch.randint(1, 100, (), generator=gen)))
    model = archc.build(name, input=(3, SIZE[name], SIZE[name]), **overrides)
    model.load_state_dict(reference.state_dict(), strict=True)
    return name, reference, model


def overrides_of(name: str, reference: nn.Module) -> dict[str, bool]:
    """The spec parameters the pair was built with (GoogLeNet's transform_input, read off torchvision's)."""
    return {"transform_input": reference.transform_input} if name == "googlenet" else {}


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


def test_googlenet_transform_input_matters() -> None:
    """The two GoogLeNet cases compare different functions: with the same weights the transform
    changes what conv1 computes (so a spec ignoring it could not pass both cases), and it is all
    that differs: archc's network without it, fed torchvision's transformed input, is archc's
    network with it, bit for bit. (At the logits random weights hide the difference: with
    torchvision's truncated-normal init the output barely depends on the input.)"""
    torch.manual_seed(0)
    reference = torchvision_model("googlenet", transform_input=True).eval()
    x = batch("googlenet")
    models, conv1 = {}, {}
    for flag in (True, False):
        model = archc.build("googlenet", input=(3, SIZE["googlenet"], SIZE["googlenet"]), transform_input=flag)
        model.load_state_dict(reference.state_dict(), strict=True)
        model.conv1.register_forward_hook(lambda module, args, out, flag=flag: conv1.__setitem__(flag, out))
        models[flag] = model.eval()
    with torch.no_grad():
        transformed = models[True](x)
        models[False](x)
        assert relative_error(conv1[True], conv1[False]) > 0.1
        assert torch.equal(transformed, models[False](reference._transform_input(x)))
        assert torch.equal(conv1[True], conv1[False])  # the last call: the same input now


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


def gradients(model: nn.Module, x: torch.Tensor, forward=None) -> dict[str, torch.Tensor]:
    """Parameter gradients of one training step from fixed seeds (dropout masks, loss weights)."""
    model.train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(5)
    out = (forward or model)(x)
    if isinstance(out, torchvision.models.GoogLeNetOutputs):
        out = (out.logits, out.aux_logits2, out.aux_logits1)
    gen = torch.Generator().manual_seed(6)
    loss = sum((o * torch.randn(o.shape, generator=gen)).sum() for o in (out if isinstance(out, tuple) else [out]))
    loss.backward()
    grads = {key: p.grad for key, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return grads


def googlenet_in_archcs_order(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """torchvision's GoogLeNet modules, called in the order of archc's emitted forward
    (`archc compile googlenet`): the aux heads after inception5b, not where their inputs appear."""
    x = net._transform_input(x)  # the input unchanged where transform_input is False
    x = net.maxpool2(net.conv3(net.conv2(net.maxpool1(net.conv1(x)))))
    x = net.maxpool3(net.inception3b(net.inception3a(x)))
    inception4a = net.inception4a(x)
    inception4d = net.inception4d(net.inception4c(net.inception4b(inception4a)))
    x = net.inception5b(net.inception5a(net.maxpool4(net.inception4e(inception4d))))
    aux1, aux2 = net.aux1(inception4a), net.aux2(inception4d)
    return net.fc(net.dropout(torch.flatten(net.avgpool(x), 1))), aux2, aux1


# GoogLeNet's parameters that run before the aux heads branch off (inception4d's output and
# upstream): their gradients sum contributions from the aux heads and the main path
GOOGLENET_BEFORE_AUX = ("conv1.", "conv2.", "conv3.", "inception3a.", "inception3b.", "inception4a.",
                        "inception4b.", "inception4c.", "inception4d.")


def test_train_gradients_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """A training step's gradients too, so that in-place activations and `+=` residuals provably
    do not change what autograd computes: one network of each kind of block (VGG's are left out
    for their size, half a GB of gradients on each side).

    GoogLeNet's agree exactly except, in the last bits, upstream of its aux heads. Not a
    difference in the network: autograd sums the gradients arriving at a tensor used by several
    consumers in the reverse order of the consumers' creation, and archc's forward calls the aux
    heads after inception5b, torchvision's right after inception4a and 4d. Called in archc's
    order, torchvision's own modules give archc's gradients bit for bit (checked below)."""
    name, reference, model = pair
    if name not in ("alexnet", "googlenet", "resnet18", "resnet50"):
        pytest.skip("one network per kind of block")
    x = batch(name)
    want, got = gradients(reference, x), gradients(model, x)
    assert want.keys() == got.keys()
    for key, value in want.items():
        if name == "googlenet" and key.startswith(GOOGLENET_BEFORE_AUX):
            assert relative_error(value, got[key]) <= TOLERANCE, key
        else:
            assert torch.equal(got[key], value), key
    if name == "googlenet":
        buffers = {k: v.clone() for k, v in reference.named_buffers()}  # keep the pair in step
        reordered = gradients(reference, x, lambda x: googlenet_in_archcs_order(reference, x))
        reference.load_state_dict(buffers, strict=False)
        for key, value in reordered.items():
            assert torch.equal(got[key], value), key


def test_inference_variant_from_torchvisions_weights(pair: tuple[str, nn.Module, nn.Module]) -> None:
    name, reference, _ = pair
    x = batch(name)
    reference.eval()
    fast = archc.build(name, input=(3, SIZE[name], SIZE[name]), inference=True, state_dict=reference.state_dict(),
                       **overrides_of(name, reference))
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


@pytest.mark.parametrize("case", CASES)
def test_parameters_and_macs_are_torchvisions(case: str) -> None:
    name, overrides = settings(case)
    with torch.device("meta"):
        reference = torchvision_model(name, **overrides)
    report = archc.analyze(name, **overrides)
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


def assert_smallest_input(reference: nn.Module, spec: object, side: int) -> None:
    """``side`` is the smallest input side both torchvision's module (on the meta device) and archc's
    spec accept: one below it, both refuse (archc with a diagnostic, torchvision with an error)."""

    def torchvision_runs(n: int) -> bool:
        try:
            reference(torch.empty(2, 3, n, n, device="meta"))
        except RuntimeError:
            return False
        return True

    def archc_accepts(n: int) -> bool:
        try:
            archc.analyze(spec, input=(3, n, n))
        except ArchcError:
            return False
        return True

    assert torchvision_runs(side) and archc_accepts(side)
    assert not torchvision_runs(side - 1) and not archc_accepts(side - 1)


@pytest.mark.parametrize("name", sorted(SMALLEST))
def test_smallest_input_is_torchvisions(name: str) -> None:
    """archc accepts exactly the input sizes torchvision's module runs on, at the lower end: the
    smallest side both accept, and one below it both refuse (archc with a diagnostic)."""
    with torch.device("meta"):
        reference = torchvision_model(name).train()  # GoogLeNet: its aux heads must run too
    assert_smallest_input(reference, name, SMALLEST[name])
