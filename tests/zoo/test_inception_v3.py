"""inception_v3 against torchvision's own Inception3, live, on the CPU.

As tests/zoo/test_torchvision.py does: torchvision's module is built with ``weights=None`` and
random batch norm statistics and affine parameters; its state_dict must load into
``archc.build(spec)`` with ``strict=True`` under the same keys in the same order (InceptionA's
flat ``branch5x5_1``/``branch5x5_2`` siblings: a `parallel:` written as a list; InceptionC's
1×7 / 7×1 convolutions: one BasicConv2d whose ``kernel_size`` is ``int | pair``), and both must
then compute the same function bit for bit, in eval mode and in train mode from the same seed
(dropout draws its mask in the same order). The inference variant folded from torchvision's
weights must agree within 1e-5 relative. The figures are compared at 299×299 on the meta device:
parameters and ``FlopCounterMode`` / 2, module by module.

The aux head reads a 17×17 map through a 5×5 pool of stride 3 and a 5×5 convolution, so with it
the network needs its full 299×299 input. Most tests therefore run torchvision's
``aux_logits=False`` against a variant that drops ``AuxLogits`` (archc's way to leave a head
out) at 75×75, the smallest side both accept; one test runs the whole network with its aux head
at 299×299 in train mode.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

import archc

from ..emit.test_inference import randomize_norms, relative_error
from .test_torchvision import assert_smallest_input, flop_count, layout

SMALL = 75  # torchvision's min_size for inception_v3 without the aux head
FULL = 299
TOLERANCE = 1e-5  # the inference variant: relative to the largest |output|, fp32
NOAUX = "archc: 1\nextends: inception_v3.yaml\nname: inception_v3_noaux\ndrop: [AuxLogits]\n"


def torchvision_model(*, aux_logits: bool, transform_input: bool = False) -> nn.Module:
    # init_weights=True: torchvision's own init, and no FutureWarning about its default
    return torchvision.models.Inception3(aux_logits=aux_logits, transform_input=transform_input, init_weights=True)


def random_norms(model: nn.Module, seed: int) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    randomize_norms(model, gen)
    for module in model.modules():  # consulted only with momentum=None, but part of the state
        if isinstance(module, nn.BatchNorm2d):
            module.num_batches_tracked.fill_(int(torch.randint(1, 100, (), generator=gen)))
    return model


@pytest.fixture(scope="module")
def noaux(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inception") / "inception_v3_noaux.yaml"
    path.write_text(NOAUX, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pair(noaux: Path) -> tuple[nn.Module, nn.Module]:
    """(torchvision's Inception3 without its aux head, archc's carrying its weights), at 75×75."""
    torch.manual_seed(0)
    reference = random_norms(torchvision_model(aux_logits=False), 1)
    model = archc.build(noaux, input=(3, SMALL, SMALL))
    model.load_state_dict(reference.state_dict(), strict=True)
    return reference, model


def batch(side: int = SMALL) -> torch.Tensor:
    return torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(2))


def test_state_dict_is_torchvisions_key_for_key(pair: tuple[nn.Module, nn.Module]) -> None:
    reference, model = pair
    assert layout(model) == layout(reference)
    ours = model.state_dict()
    assert "Mixed_5b.branch5x5_2.conv.weight" in ours and "Mixed_7c.branch3x3dbl_3b.bn.running_var" in ours
    assert ours["Mixed_6b.branch7x7_2.conv.weight"].shape == (128, 128, 1, 7)
    assert ours["Mixed_6b.branch7x7_3.conv.weight"].shape == (192, 128, 7, 1)
    for key, value in reference.state_dict().items():
        assert torch.equal(ours[key], value), key


def test_eval_outputs_are_identical(pair: tuple[nn.Module, nn.Module]) -> None:
    reference, model = pair
    x = batch()
    reference.eval()
    model.eval()
    with torch.no_grad():
        want, got = reference(x), model(x)
    assert isinstance(got, torch.Tensor) and got.shape == (2, 1000)
    assert torch.equal(got, want)


def train_outputs(model: nn.Module, x: torch.Tensor, seed: int) -> list[torch.Tensor]:
    model.train()
    torch.manual_seed(seed)
    with torch.no_grad():  # batch norm still updates its running statistics
        out = model(x)
    if isinstance(out, torchvision.models.InceptionOutputs):
        return [out.logits] if out.aux_logits is None else [out.logits, out.aux_logits]
    return list(out) if isinstance(out, tuple) else [out]


def test_train_outputs_are_identical_from_the_same_seed(pair: tuple[nn.Module, nn.Module]) -> None:
    reference, model = pair
    x = batch()
    want, got = train_outputs(reference, x, seed=3), train_outputs(model, x, seed=3)
    assert len(got) == len(want) == 1
    assert torch.equal(got[0], want[0])
    ours = model.state_dict()  # batch norm updated its running statistics identically
    for key, value in reference.state_dict().items():
        assert torch.equal(ours[key], value), key
    other = train_outputs(reference, x, seed=4)  # the dropout mask matters, the same on both sides
    assert not torch.equal(other[0], want[0])
    assert torch.equal(train_outputs(model, x, seed=4)[0], other[0])


def test_inference_variant_from_torchvisions_weights(pair: tuple[nn.Module, nn.Module], noaux: Path) -> None:
    """Every BasicConv2d's batch norm folds into its convolution (94 of them)."""
    reference, model = pair
    reference.eval()
    fast = archc.build(noaux, input=(3, SMALL, SMALL), inference=True, state_dict=reference.state_dict())
    assert not fast.training
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.Dropout)) for m in fast.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 94
    x = batch()
    with torch.no_grad():
        want, got = reference(x), fast(x)
    assert relative_error(want, got) <= TOLERANCE


def test_transform_input_is_torchvisions(noaux: Path) -> None:
    """inception_v3(weights=...) sets transform_input=True; the spec's parameter of that name matches it."""
    torch.manual_seed(0)
    reference = random_norms(torchvision_model(aux_logits=False, transform_input=True), 1).eval()
    model = archc.build(noaux, input=(3, SMALL, SMALL), transform_input=True)
    model.load_state_dict(reference.state_dict(), strict=True)
    model.eval()
    x = batch()
    with torch.no_grad():
        want = reference(x)
        assert torch.equal(model(x), want)
        plain = archc.build(noaux, input=(3, SMALL, SMALL))
        plain.load_state_dict(reference.state_dict(), strict=True)
        assert torch.equal(plain.eval()(reference._transform_input(x)), want)


def test_whole_network_with_its_aux_head_in_train_mode() -> None:
    """The shipped spec as it is, aux head included, at 299×299: torchvision's state_dict loads
    strictly, and train() returns (logits, aux) equal to torchvision's InceptionOutputs."""
    torch.manual_seed(0)
    reference = random_norms(torchvision_model(aux_logits=True), 1)
    model = archc.build("inception_v3")
    assert layout(model) == layout(reference)
    model.load_state_dict(reference.state_dict(), strict=True)
    x = batch(FULL)
    want, got = train_outputs(reference, x, seed=3), train_outputs(model, x, seed=3)
    assert len(got) == len(want) == 2
    assert got[1].shape == (2, 1000)
    for k, (a, b) in enumerate(zip(want, got)):
        assert torch.equal(a, b), f"output {k}"


# --- the figures: parameters and MACs against torchvision's modules at 299×299 -----------------


def flop_count_299(model: nn.Module, *, train: bool) -> dict[str, int]:
    """test_torchvision's flop_count, at Inception-v3's input size."""
    model.train(train)
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(2, 3, FULL, FULL, device="meta"))  # batch 2: train-mode batch norm on 1×1 maps
    root = type(model).__name__
    out = {}
    for key, per_op in counter.get_flop_counts().items():
        if key == "Global":
            out[""] = sum(per_op.values()) // 4  # two samples, two FLOPs per MAC
        elif key.startswith(root + "."):
            out[key[len(root) + 1:]] = sum(per_op.values()) // 4
    return out


def test_parameters_and_macs_are_torchvisions() -> None:
    with torch.device("meta"):
        reference = torchvision_model(aux_logits=True)
    report = archc.analyze("inception_v3")
    assert report.input_shape == (3, FULL, FULL) and report.output_shape == (1000,)
    params = dict(reference.named_parameters())
    assert report.totals.params == sum(p.numel() for p in params.values()) == 27_161_264  # torchvision's meta
    assert report.totals.params_without_heads == sum(
        p.numel() for k, p in params.items() if not k.startswith("AuxLogits"))
    inference = flop_count_299(reference, train=False)
    assert report.totals.macs == inference[""]
    assert round(report.totals.macs / 1e9, 3) == 5.713  # torchvision's documented _ops
    training = flop_count_299(reference, train=True)  # the aux head runs
    assert report.totals.macs_train == training[""] > inference[""]
    theirs = {}
    for path, module in reference.named_modules():
        figures = (sum(p.numel() for p in module.parameters()), training.get(path, 0))
        if path and figures != (0, 0):
            theirs[path] = figures
    ours = {row.path: (row.params, row.macs) for row in report.rows if (row.params, row.macs) != (0, 0)}
    assert ours == theirs


def test_flop_count_at_224_is_the_shared_helpers(noaux: Path) -> None:
    """At 224×224 (without the aux head, which needs 299) test_torchvision's helper, one sample, gives
    archc's figure too, module by module."""
    with torch.device("meta"):
        reference = torchvision_model(aux_logits=False)
    counts = flop_count(reference, train=False)
    report = archc.analyze(noaux, input=(3, 224, 224))
    assert report.totals.macs == counts[""]
    assert {row.path: row.macs for row in report.rows if row.macs} == {k: v for k, v in counts.items() if k and v}


@pytest.mark.parametrize("aux", [False, True], ids=["without_aux", "with_aux"])
def test_smallest_input_is_torchvisions(noaux: Path, aux: bool) -> None:
    """75×75 without the aux head, 299×299 with it: the smallest side both archc and torchvision
    accept, and one below it both refuse (archc with a diagnostic)."""
    side, spec = (FULL, "inception_v3") if aux else (SMALL, str(noaux))
    with torch.device("meta"):
        reference = torchvision_model(aux_logits=aux).train()
    assert_smallest_input(reference, spec, side)


# --- the emitted source ------------------------------------------------------------------------------


def test_emitted_source_reads_like_torchvisions() -> None:
    source = archc.compile_source("inception_v3")
    assert ("kernel_size: int | tuple[int, int],\n        stride: int | tuple[int, int] = 1,\n"
            "        padding: int | tuple[int, int] = 0,") in source
    assert source.count("class BasicConv2d(nn.Module):") == 1  # one block for 1×1, 3×3, 1×7 and 7×1
    assert "self.branch5x5_1 = BasicConv2d(in_channels, 48, 1)" in source
    assert "self.branch7x7_2 = BasicConv2d(channels_7x7, channels_7x7, (1, 7), padding=(0, 3))" in source
    assert "self.Mixed_6b = InceptionC(768, 128)" in source


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff comes with the test extra")
def test_emitted_source_passes_ruff_and_is_stable(tmp_path: Path) -> None:
    source = archc.compile_source("inception_v3")
    (tmp_path / "inception_v3.py").write_text(source)
    for config in (["--isolated"], ["--isolated", "--select", "E,F,W,B,UP", "--line-length", "120"]):
        proc = subprocess.run(["ruff", "check", *config, str(tmp_path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout
    code = "import archc, sys; sys.stdout.write(archc.compile_source('inception_v3'))"
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert again == source
