"""efficientnet_b0 … efficientnet_b7 against torchvision's own EfficientNet, live, on the CPU.

As tests/zoo/test_mobilenet_v3.py does (tests/conftest.py makes torchvision import on the CPU-only
torch). All eight, cheaply, on the meta device (shapes only, no memory, no arithmetic): the
variants' widths and depths are torchvision's ``_make_divisible(c * width_mult, 8)`` and
``ceil(n * depth_mult)``, computed here by torchvision's own MBConvConfig; archc's parameters and
MACs at 224×224 are torchvision's parameters and ``FlopCounterMode`` / 2, module by module; the
state_dict has the same keys in the same order with the same shapes and loads with ``strict=True``;
every block's drop probability is torchvision's float, and the shortcut (with its stochastic
depth) sits in exactly the blocks where torchvision's ``use_res_connect`` says.

Run for real on B0 and B5 (the first with TensorFlow's batch norm, eps 0.001 and momentum 0.01):
torchvision's module is built with ``weights=None`` and random batch norm statistics and affine
parameters; its state_dict loads into ``archc.build(name)``, and both then compute the same
function bit for bit, in eval mode and in train mode from the same seed (stochastic depth draws one
number per sample and residual block, dropout one mask, from the global generator, in the same
order on both sides), with the same gradients (B0). The inference variant folded from torchvision's
weights agrees within 1e-5 relative. The networks reduce their input 32-fold and end in an adaptive
average pool, so a 2×3×32×32 batch (a 1×1 map at the end) runs every layer, gate and shortcut.
"""

from __future__ import annotations

import inspect

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.efficientnet import MBConv, MBConvConfig

import archc

from .parity import (
    assert_figures,
    assert_folded,
    assert_same_eval,
    assert_same_gradients,
    assert_same_train,
    batch,
    torchvision_pair,
    train_output,
)
from .test_torchvision import layout

NETWORKS = [f"efficientnet_b{k}" for k in range(8)]
RUN = ["efficientnet_b0", "efficientnet_b5"]  # run for real: the two norm layers
SIZE = 32

# torchvision's efficientnet_bN: (width_mult, depth_mult), as its builders pass them
MULTIPLIERS = {
    "efficientnet_b0": (1.0, 1.0), "efficientnet_b1": (1.0, 1.1), "efficientnet_b2": (1.1, 1.2),
    "efficientnet_b3": (1.2, 1.4), "efficientnet_b4": (1.4, 1.8), "efficientnet_b5": (1.6, 2.2),
    "efficientnet_b6": (1.8, 2.6), "efficientnet_b7": (2.0, 3.1),
}
# Table 1 of the paper as torchvision's _efficientnet_conf writes it: the stem's and each stage's
# channels, and each stage's number of blocks
TABLE1_WIDTHS = [32, 16, 24, 40, 80, 112, 192, 320]
TABLE1_DEPTHS = [1, 2, 2, 3, 3, 4, 1]


def on_meta(name: str) -> tuple[nn.Module, nn.Module]:
    """(torchvision's model, archc's model), both on the meta device: built in milliseconds."""
    with torch.device("meta"):
        return getattr(torchvision.models, name)(weights=None), archc.build(name)


# --- all eight, on the meta device --------------------------------------------------------------


@pytest.mark.parametrize("name", NETWORKS)
def test_widths_and_depths_are_torchvisions_scaling(name: str) -> None:
    """The variants' lists are compound scaling as torchvision computes it: its own adjust_channels
    (_make_divisible, with the rule that rounding never loses more than 10%) and adjust_depth (ceil)."""
    width_mult, depth_mult = MULTIPLIERS[name]
    params = archc.lower(name).params
    assert list(params["widths"]) == [MBConvConfig.adjust_channels(c, width_mult) for c in TABLE1_WIDTHS]
    assert list(params["depths"]) == [MBConvConfig.adjust_depth(n, depth_mult) for n in TABLE1_DEPTHS]


@pytest.mark.parametrize("name", NETWORKS)
def test_state_dict_and_layers_are_torchvisions(name: str) -> None:
    """Same keys in the same order, shapes and dtypes, a strict load; the same layers under the same
    paths, activations included, with torchvision's batch norm eps and momentum and dropout p.
    torchvision's MBConv holds a StochasticDepth module that its forward calls only where
    use_res_connect; archc's block has it only there (it holds no state). archc's network has one
    more module, the `flatten` where torchvision's forward calls torch.flatten."""
    reference, model = on_meta(name)
    assert layout(model) == layout(reference)
    model.load_state_dict(reference.state_dict(), strict=True)

    def leaves(net: nn.Module) -> list[tuple[str, str, tuple[object, ...]]]:
        out = []
        for path, m in net.named_modules():
            if any(m.children()):
                continue
            settings: tuple[object, ...] = ()
            if isinstance(m, nn.BatchNorm2d):
                settings = (m.eps, m.momentum)
            elif isinstance(m, nn.Dropout):
                settings = (m.p,)
            out.append((path, type(m).__name__, settings))
        return out

    unused = {f"{path}.stochastic_depth" for path, m in reference.named_modules()
              if isinstance(m, MBConv) and not m.use_res_connect}
    theirs = [leaf for leaf in leaves(reference) if leaf[0] not in unused]
    assert sorted(leaves(model)) == sorted([*theirs, ("flatten", "Flatten", ())])


@pytest.mark.parametrize("name", NETWORKS)
def test_shortcuts_and_drop_probabilities_are_torchvisions(name: str) -> None:
    """Block k of n drops with p * k / n, computed by the spec's `/` to torchvision's float, in exactly
    the blocks where torchvision adds the input back (use_res_connect)."""
    reference, model = on_meta(name)
    blocks = [(path, m) for path, m in reference.named_modules() if isinstance(m, MBConv)]
    assert sum(len(stage) for stage in reference.features[1:8]) == len(blocks)
    ours = dict(model.named_modules())
    for path, theirs in blocks:
        block = ours[path]
        assert bool(block.use_res_connect) == theirs.use_res_connect, path
        if theirs.use_res_connect:
            p = block.stochastic_depth.p
            assert type(p) is float and p == theirs.stochastic_depth.p, path
        else:
            assert block.stochastic_depth is None, path
    probabilities = [m.stochastic_depth.p for _, m in blocks]
    assert probabilities[0] == 0.0 and probabilities[-1] == 0.2 * (len(blocks) - 1) / len(blocks)


@pytest.mark.parametrize("name", NETWORKS)
def test_parameters_and_macs_are_torchvisions(name: str) -> None:
    """Totals and module by module, at 224×224: FlopCounterMode on the meta device (stochastic depth
    and dropout multiply nothing in training)."""
    assert_figures(name, train_macs=True)


# the resolution each network is evaluated at in the paper (§4.2 and Table 2)
RESOLUTIONS = {"efficientnet_b0": 224, "efficientnet_b1": 240, "efficientnet_b2": 260, "efficientnet_b3": 300,
               "efficientnet_b4": 380, "efficientnet_b5": 456, "efficientnet_b6": 528, "efficientnet_b7": 600}


@pytest.mark.parametrize("name", NETWORKS)
def test_macs_at_the_papers_resolution_are_torchvisions(name: str) -> None:
    """The figures docs/networks/efficientnet.md compares with the paper's Table 2: archc's MACs at
    each network's own resolution are FlopCounterMode's / 2 for torchvision's model there."""
    side = RESOLUTIONS[name]
    with torch.device("meta"):
        reference = getattr(torchvision.models, name)(weights=None).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        reference(torch.empty(1, 3, side, side, device="meta"))
    assert archc.analyze(name, input=(3, side, side)).totals.macs == counter.get_total_flops() // 2


def test_the_variants_share_one_definition() -> None:
    """Eight specs, one file of blocks: each variant sets only width_mult, depth_mult, dropout and the
    norm layer, so every emitted MBConv class is the same text."""
    sources = {name: archc.compile_source(name) for name in ("efficientnet_b0", "efficientnet_b7")}
    blocks = set()
    for name, source in sources.items():
        assert source.count("class MBConv(nn.Module):") == 1, name
        assert "stochastic_depth_prob * (first + i) / total" in source, name
        blocks.add(source[source.index("class MBConv"):source.index("class Stage")])
    assert len(blocks) == 1


def emitted_class(name: str) -> type[nn.Module]:
    """The network class of ``archc compile name``, from its source as the command writes it."""
    namespace: dict[str, object] = {"__name__": f"archc_{name}"}
    exec(compile(archc.compile_source(name), f"{name}.py", "exec"), namespace)  # a test only: archc's own output
    cls = namespace[archc.lower(name).class_name]
    assert isinstance(cls, type)
    return cls


@pytest.mark.parametrize("name", NETWORKS)
def test_one_class_takes_the_multipliers_of_every_variant(name: str) -> None:
    """The emitted EfficientNetB3 takes width_mult and depth_mult (B3's by default) and computes the
    widths and depths from them as torchvision does, so built with another variant's multipliers (and
    its dropout and norm layer, read from torchvision's model) it is that variant: torchvision's
    state_dict keys, shapes and parameter count, a strict load, the same layers and settings."""
    cls = emitted_class("efficientnet_b3")
    signature = inspect.signature(cls)
    assert signature.parameters["width_mult"].default == 1.2 and signature.parameters["depth_mult"].default == 1.4
    width_mult, depth_mult = MULTIPLIERS[name]
    with torch.device("meta"):
        reference = getattr(torchvision.models, name)(weights=None)
        norm = next(m for m in reference.modules() if isinstance(m, nn.BatchNorm2d))
        model = cls(width_mult=width_mult, depth_mult=depth_mult, dropout=reference.classifier[0].p,
                    norm_eps=norm.eps, norm_momentum=norm.momentum)
    assert layout(model) == layout(reference)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters())
    model.load_state_dict(reference.state_dict(), strict=True)

    def settings(net: nn.Module) -> set[tuple[str, str, tuple[object, ...]]]:
        out = set()
        for path, m in net.named_modules():
            if isinstance(m, nn.BatchNorm2d):
                out.add((path, "norm", (m.eps, m.momentum)))
            elif isinstance(m, nn.Dropout):
                out.add((path, "dropout", (m.p,)))
            elif getattr(m, "use_res_connect", False):  # a block whose branch drops (and only those)
                out.add((path, "drop", (m.stochastic_depth.p,)))
        return out

    assert settings(model) == settings(reference)
    # and with only the multipliers, the widths and depths are the variant's
    with torch.device("meta"):
        plain = cls(width_mult=width_mult, depth_mult=depth_mult)
    assert layout(plain) == layout(reference)


# --- B0 and B5, run -----------------------------------------------------------------------------


@pytest.fixture(scope="module", params=RUN)
def pair(request: pytest.FixtureRequest) -> tuple[str, nn.Module, nn.Module]:
    """(name, torchvision's model, archc's model carrying torchvision's weights), each built once."""
    return (request.param, *torchvision_pair(request.param, SIZE))


def test_eval_outputs_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    _, reference, model = pair
    assert_same_eval(reference, model, batch(SIZE))


def test_train_outputs_are_identical_from_the_same_seed(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Stochastic depth and dropout draw from the global generator in the same order on both sides;
    the draws matter (another seed, another output), and agree there too. The running statistics
    move the same way."""
    _, reference, model = pair
    assert_same_train(reference, model, batch(SIZE), draws=True)


def test_stochastic_depth_draws_are_torchvisions(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Without dropout, train mode still differs between seeds: the per-sample drops of the residual
    branches alone change the output, the same way on both sides."""
    _, reference, model = pair
    x = batch(SIZE)
    p = reference.classifier[0].p
    assert model.classifier[0].p == p > 0
    for net in (reference, model):
        net.classifier[0].p = 0.0
    try:
        outs = {seed: (train_output(reference, x, seed), train_output(model, x, seed)) for seed in (7, 8)}
    finally:
        reference.classifier[0].p = model.classifier[0].p = p
    for theirs, ours in outs.values():
        assert torch.equal(ours, theirs)
    assert not torch.equal(outs[7][0], outs[8][0])


def test_train_gradients_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """In-place activations and the shortcut's add do not change what autograd computes (B0: the
    blocks of B5 are the same classes)."""
    name, reference, model = pair
    if name != "efficientnet_b0":
        pytest.skip("one network: the variants share every block")
    assert_same_gradients(reference, model, batch(SIZE))


def test_inference_variant_from_torchvisions_weights(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Batch norm folds into every convolution (depthwise ones included), dropout and stochastic depth go."""
    name, reference, _ = pair
    assert_folded(name, reference, batch(SIZE), lambda m: isinstance(m, (nn.BatchNorm2d, nn.Dropout))
                  or type(m).__name__ == "StochasticDepth")


def test_inference_source_keeps_only_the_shortcut() -> None:
    """The inference variant drops the guarded stochastic depth: its MBConv asks only use_res_connect,
    with no flag or empty `if` left where the drop was."""
    source = archc.compile_source("efficientnet_b0", inference=True)
    mbconv = source[source.index("class MBConv"):source.index("class Stage")]
    assert "self.stochastic_depth" not in mbconv and "pass" not in mbconv
    assert "if self.use_res_connect:\n            out = out + x" in mbconv
