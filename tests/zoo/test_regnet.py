"""regnet_y_400mf and regnet_x_400mf against torchvision's own RegNet, live, on the CPU.

As tests/zoo/test_densenet.py does: torchvision's module is built with ``weights=None`` and its
batch norms' affine parameters and running statistics made random (so every norm shows in the
output); its state_dict loads into ``archc.build(name)`` with ``strict=True`` under the same keys
in the same order (``trunk_output.block2.block2-0.proj.0.weight`` …: names made from the stage
and the repeat index, joined by '-', and each block's projection before its body), and both then
compute the same function bit for bit, in eval mode and in train mode (batch statistics; RegNet
draws nothing at random), with the same gradients. The inference variant, built from
torchvision's weights, folds every batch norm into the convolution before it and must agree
within 1e-5 relative. The figures are torchvision's parameters and ``FlopCounterMode`` / 2 at
224×224 on the meta device, module by module; the stage widths and depths the specs write out
are the ones torchvision's ``BlockParams.from_init_params`` computes, read from its own
``regnet_*`` functions.

Inputs are 2×3×64×64: the network reduces 32-fold, so a 2×2 map reaches the last stage and
every block, gate and projection runs.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models import regnet

import archc

from ..emit.test_inference import randomize_norms, relative_error
from .test_torchvision import flop_count, gradients, layout

NETWORKS = ["regnet_y_400mf", "regnet_x_400mf"]
SIZE = 64
TOLERANCE = 1e-5  # the inference variant: relative to the largest |output|, fp32


def block_params(name: str, monkeypatch: pytest.MonkeyPatch) -> regnet.BlockParams:
    """The BlockParams torchvision's own `regnet_*` function computes (its d, w0, wa, wm, g)."""
    made = []
    real = regnet._regnet

    def spy(params: regnet.BlockParams, *args: object, **kwargs: object) -> regnet.RegNet:
        made.append(params)
        return real(params, *args, **kwargs)

    monkeypatch.setattr(regnet, "_regnet", spy)
    getattr(regnet, name)(weights=None)  # not on the meta device: BlockParams computes with tensors
    (params,) = made
    return params


@pytest.mark.parametrize("name", NETWORKS)
def test_stages_are_torchvisions_block_params(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The widths and depths written out in the specs can never drift from torchvision's."""
    theirs = block_params(name, monkeypatch)
    ours = archc.lower(name).params
    assert list(ours["depths"]) == theirs.depths
    assert list(ours["widths"]) == theirs.widths
    assert list(ours["group_widths"]) == theirs.group_widths
    assert theirs.bottleneck_multipliers == [1.0] * 4 and theirs.strides == [2] * 4  # what _regnet.yaml assumes
    assert ours["use_se"] == (theirs.se_ratio is not None)
    assert theirs.se_ratio in (None, 0.25)  # the quarter SqueezeExcitation(input.channels // 4) takes


@pytest.fixture(scope="module", params=NETWORKS)
def pair(request: pytest.FixtureRequest) -> tuple[str, nn.Module, nn.Module]:
    """(name, torchvision's model, archc's model carrying torchvision's weights)."""
    name = request.param
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    reference = getattr(torchvision.models, name)(weights=None)
    randomize_norms(reference, gen)
    for module in reference.modules():  # consulted only with momentum=None, but part of the state
        if isinstance(module, nn.BatchNorm2d):
            module.num_batches_tracked.fill_(int(torch.randint(1, 100, (), generator=gen)))
    model = archc.build(name, input=(3, SIZE, SIZE))
    model.load_state_dict(reference.state_dict(), strict=True)
    return name, reference, model


def batch() -> torch.Tensor:
    return torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(2))


def test_state_dict_is_torchvisions_key_for_key(pair: tuple[str, nn.Module, nn.Module]) -> None:
    _, reference, model = pair
    assert layout(model) == layout(reference)
    assert "trunk_output.block3.block3-5.f.c.1.running_var" in model.state_dict()
    ours = model.state_dict()
    for key, value in reference.state_dict().items():
        assert torch.equal(ours[key], value), key


def leaves(model: nn.Module) -> list[tuple[str, str]]:
    """Every module without children (the layers, activations included), by path and type."""
    return [(path, type(m).__name__) for path, m in model.named_modules() if not any(m.children())]


def test_layers_are_torchvisions(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Module for module, parameter-free ones included, so each projection exists exactly where
    torchvision's should_proj says and each gate is torchvision's. Sorted: torchvision's
    SqueezeExcitation registers fc2 before the ReLU it applies first, archc in the order of
    forward. archc's network has one more module, the `flatten` torchvision's forward calls."""
    _, reference, model = pair
    assert sorted(leaves(model)) == sorted([*leaves(reference), ("flatten", "Flatten")])
    theirs = [path for path, m in reference.named_modules() if isinstance(m, regnet.ResBottleneckBlock)
              and m.proj is not None]
    assert [path for path, m in model.named_modules() if type(m).__name__ == "ResBottleneckBlock"
            and m.proj is not None] == theirs == [f"trunk_output.block{k}.block{k}-0" for k in range(1, 5)]


def test_eval_outputs_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    _, reference, model = pair
    x = batch()
    reference.eval()
    model.eval()
    with torch.no_grad():
        want, got = reference(x), model(x)
    assert got.shape == (2, 1000)
    assert torch.equal(got, want)


def train_output(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.train()
    torch.manual_seed(3)
    with torch.no_grad():  # batch norm still updates its running statistics
        return model(x)


def test_train_outputs_and_statistics_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Batch statistics in train mode (which differ from the running ones: the mode matters)."""
    _, reference, model = pair
    x = batch()
    want = train_output(reference, x)
    assert torch.equal(train_output(model, x), want)
    ours = model.state_dict()  # the running statistics moved the same way
    for key, value in reference.state_dict().items():
        assert torch.equal(ours[key], value), key
    reference.eval()
    with torch.no_grad():
        assert not torch.equal(reference(x), want)


def test_train_gradients_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """In-place activations and the shortcut's add do not change what autograd computes."""
    _, reference, model = pair
    x = batch()
    want, got = gradients(reference, x), gradients(model, x)
    assert want.keys() == got.keys()
    for key, value in want.items():
        assert torch.equal(got[key], value), key


def test_inference_variant_from_torchvisions_weights(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Every batch norm follows a convolution (stem, proj, a, b, c) and folds into it."""
    name, reference, _ = pair
    reference.eval()
    fast = archc.build(name, input=(3, SIZE, SIZE), inference=True, state_dict=reference.state_dict())
    assert not fast.training
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    x = batch()
    with torch.no_grad():
        want, got = reference(x), fast(x)
    assert relative_error(want, got) <= TOLERANCE


# --- the figures: parameters and MACs against torchvision's modules at 224×224 ---------------


@pytest.mark.parametrize("name", NETWORKS)
def test_parameters_macs_and_layout_are_torchvisions(name: str) -> None:
    # built on the CPU (BlockParams computes with tensors), counted on the meta device: shapes only
    reference = getattr(torchvision.models, name)(weights=None).to("meta")
    with torch.device("meta"):
        model = archc.build(name)
    assert layout(model) == layout(reference)
    report = archc.analyze(name)
    assert report.input_shape == (3, 224, 224) and report.output_shape == (1000,)
    assert report.totals.params == sum(p.numel() for p in reference.parameters())
    counts = flop_count(reference, train=False)
    assert report.totals.macs == report.totals.macs_train == counts[""]
    # module by module: every torchvision module that holds parameters or does multiply-adds is a
    # row of archc's table with the same figures, and archc has no other such row
    theirs = {}
    for path, module in reference.named_modules():
        figures = (sum(p.numel() for p in module.parameters()), counts.get(path, 0))
        if path and figures != (0, 0):
            theirs[path] = figures
    ours = {row.path: (row.params, row.macs) for row in report.rows if (row.params, row.macs) != (0, 0)}
    assert ours == theirs


# --- the emitted source ---------------------------------------------------------------------


def test_the_variants_share_one_definition_and_name_blocks_as_torchvision() -> None:
    """Two specs, one file of blocks: the variants set only the stage lists and the gate; the
    stage's loop adds each block as torchvision's AnyStage does, and the block builds its
    projection before its body (`proj` comes first in the state_dict)."""
    sources = {name: archc.compile_source(name) for name in NETWORKS}
    for block in ("Conv2dNormActivation", "Conv2dNorm", "BottleneckTransform", "ResBottleneckBlock", "AnyStage"):
        # (SqueezeExcitation too, but the X network never builds one, so its ReLU is not made in-place)
        assert len({classes(source)[block] for source in sources.values()}) == 1, block
    source = sources["regnet_y_400mf"]
    flat = " ".join(source.split())  # the calls are wrapped over lines
    assert 'for i in range(depth): self.add_module( f"block{stage}-{i}", ResBottleneckBlock(' in flat
    assert 'for s in range(len(depths)): trunk_output.add_module( f"block{s + 1}", AnyStage(' in flat
    block = source[source.index("class ResBottleneckBlock"):source.index("class AnyStage")]
    assert block.index("self.proj = Conv2dNorm(") < block.index("self.f = BottleneckTransform(")
    assert "proj = x if self.proj is None else self.proj(x)" in block


def classes(source: str) -> dict[str, str]:
    """The source of each class of an emitted module, by name."""
    return {node.name: ast.get_source_segment(source, node) or "" for node in ast.parse(source).body
            if isinstance(node, ast.ClassDef)}


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff comes with the test extra")
def test_emitted_source_passes_ruff_and_is_the_same_in_every_run(tmp_path: Path) -> None:
    script = ("import sys, archc; sys.stdout.write('\\0'.join(archc.compile_source(n, inference=f) "
              f"for n in {NETWORKS!r} for f in (False, True)))")
    here = [archc.compile_source(name, inference=inference) for name in NETWORKS for inference in (False, True)]
    for seed in ("1", "2"):  # set and dict order must never leak into the code
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True,
                             timeout=120)
        assert run.stdout.split("\0") == here
    for k, source in enumerate(here):
        (tmp_path / f"regnet_{k}.py").write_text(source)
    for config in (["--isolated"], ["--isolated", "--select", "E,F,W,B,UP,SIM", "--line-length", "120"]):
        proc = subprocess.run(["ruff", "check", *config, str(tmp_path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout
