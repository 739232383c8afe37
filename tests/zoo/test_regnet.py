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
import torchvision
from torch import nn
from torchvision.models import regnet

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

NETWORKS = ["regnet_y_400mf", "regnet_x_400mf"]
SIZE = 64


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
    assert theirs.se_ratio in (None, 0.25)  # the ratio _regnet.yaml's round(0.25 * input.channels) has


@pytest.fixture(scope="module", params=NETWORKS)
def pair(request: pytest.FixtureRequest) -> tuple[str, nn.Module, nn.Module]:
    """(name, torchvision's model, archc's model carrying torchvision's weights)."""
    return (request.param, *torchvision_pair(request.param, SIZE))


def test_state_dict_is_torchvisions_key_for_key(pair: tuple[str, nn.Module, nn.Module]) -> None:
    _, reference, model = pair
    assert "trunk_output.block3.block3-5.f.c.1.running_var" in model.state_dict()
    assert_same_state(reference, model)


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
    assert_same_eval(reference, model, batch(SIZE))


def test_train_outputs_and_statistics_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Batch statistics in train mode (which differ from the running ones: the mode matters)."""
    _, reference, model = pair
    assert_same_train(reference, model, batch(SIZE), draws=False)


def test_train_gradients_are_identical(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """In-place activations and the shortcut's add do not change what autograd computes."""
    _, reference, model = pair
    assert_same_gradients(reference, model, batch(SIZE))


def test_inference_variant_from_torchvisions_weights(pair: tuple[str, nn.Module, nn.Module]) -> None:
    """Every batch norm follows a convolution (stem, proj, a, b, c) and folds into it."""
    name, reference, _ = pair
    assert_folded(name, reference, batch(SIZE), lambda m: isinstance(m, nn.BatchNorm2d))


# --- the figures: parameters and MACs against torchvision's modules at 224×224 ---------------


@pytest.mark.parametrize("name", NETWORKS)
def test_parameters_macs_and_layout_are_torchvisions(name: str) -> None:
    # built on the CPU (BlockParams computes with tensors), counted on the meta device: shapes only
    assert_figures(name, reference=getattr(torchvision.models, name)(weights=None).to("meta"))


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
