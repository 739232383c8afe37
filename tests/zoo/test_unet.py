"""The shipped `unet` against a U-Net written by hand here, from the paper, in plain PyTorch.

Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015 (arXiv:1505.04597), §2 and Fig. 1, in the padded form most PyTorch
code uses (each 3×3 convolution padded by 1, bias-free and followed by batch norm), with the
module names of milesial/Pytorch-UNet (``inc``, ``down1.maxpool_conv.1.double_conv.0``,
``up1.up``, ``up1.conv``, ``outc.conv``). The state_dict of the module below must load into
``archc.build('unet')`` with ``strict=True`` under the same keys in the same order, and both must
compute the same function bit for bit in eval and in train mode; parameters and MACs are torch's
(``FlopCounterMode`` / 2) on the hand-written module; the inference variant (batch norm folded)
agrees within 1e-5.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import archc
from archc.diagnostics import ArchcError

from ..emit.test_inference import randomize_norms, relative_error

SIZE = 64  # the smallest side with a 4×4 map at the bottom; 3.0 GMACs, fast on one thread
TOLERANCE = 1e-5  # the inference variant: relative to the largest |output|, fp32


# --- the reference, written from the paper --------------------------------------------------


class DoubleConv(nn.Module):
    """(3×3 conv, padded, no bias → batch norm → ReLU) × 2: one level of either path."""

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None) -> None:
        super().__init__()
        mid_channels = mid_channels or out_channels
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.double_conv(x)


class Down(nn.Module):
    """2×2 max pool with stride 2, then DoubleConv doubling the channels."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool_conv(x)


class Up(nn.Module):
    """2×2 up-convolution halving the channels, concatenation with the skip, DoubleConv. Bilinear:
    upsampling without parameters, the concatenation halved by DoubleConv's first convolution."""

    def __init__(self, in_channels: int, out_channels: int, bilinear: bool = False) -> None:
        super().__init__()
        if bilinear:
            self.up: nn.Module = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([skip, self.up(x)], dim=1))


class OutConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class UNet(nn.Module):
    def __init__(self, in_channels: int = 3, n_classes: int = 2, width: int = 64, bilinear: bool = False) -> None:
        super().__init__()
        factor = 2 if bilinear else 1  # bilinear: the bottom and the decoder at half the channels
        self.inc = DoubleConv(in_channels, width)
        self.down1 = Down(width, width * 2)
        self.down2 = Down(width * 2, width * 4)
        self.down3 = Down(width * 4, width * 8)
        self.down4 = Down(width * 8, width * 16 // factor)
        self.up1 = Up(width * 16, width * 8 // factor, bilinear)
        self.up2 = Up(width * 8, width * 4 // factor, bilinear)
        self.up3 = Up(width * 4, width * 2 // factor, bilinear)
        self.up4 = Up(width * 2, width, bilinear)
        self.outc = OutConv(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)


# --- the comparison --------------------------------------------------------------------------


def make_pair(size: int = SIZE, in_channels: int = 3, bilinear: bool = False,
              **params: int) -> tuple[nn.Module, nn.Module]:
    """(the hand-written U-Net with random weights and batch norm statistics, archc's carrying them)."""
    torch.manual_seed(0)
    reference = UNet(in_channels, bilinear=bilinear, **params)
    randomize_norms(reference, torch.Generator().manual_seed(1))
    model = archc.build("unet_bilinear" if bilinear else "unet", input=(in_channels, size, size), **params)
    model.load_state_dict(reference.state_dict(), strict=True)
    return reference, model


@pytest.fixture(scope="module")
def pair() -> tuple[nn.Module, nn.Module]:
    return make_pair()


def batch(channels: int = 3, size: int = SIZE) -> torch.Tensor:
    return torch.randn(2, channels, size, size, generator=torch.Generator().manual_seed(2))


def torch_figures(model: nn.Module, shape: tuple[int, ...], device: str = "cpu") -> tuple[int, int]:
    """Parameters and MACs (FlopCounterMode / 2) of one forward."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, *shape, device=device))
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2


def test_state_dict_is_the_hand_written_one_key_for_key(pair) -> None:
    reference, model = pair
    layout = [(k, tuple(v.shape), v.dtype) for k, v in reference.state_dict().items()]
    assert [(k, tuple(v.shape), v.dtype) for k, v in model.state_dict().items()] == layout
    keys = [k for k, _, _ in layout]
    assert "up1.up.weight" in keys and "down1.maxpool_conv.1.double_conv.0.weight" in keys and "outc.conv.bias" in keys
    ours = model.state_dict()
    for key, value in reference.state_dict().items():
        assert torch.equal(ours[key], value), key


def test_eval_outputs_are_identical(pair) -> None:
    reference, model = pair
    reference.eval()
    model.eval()
    with torch.no_grad():
        want, got = reference(batch()), model(batch())
    assert got.shape == (2, 2, SIZE, SIZE)  # n_classes channels at the input's size (padded form)
    assert torch.equal(got, want)


def test_train_outputs_statistics_and_gradients_are_identical() -> None:
    reference, model = make_pair()
    reference.train()
    model.train()
    x = batch()
    want, got = reference(x), model(x)
    assert torch.equal(got, want)
    want.square().mean().backward()
    got.square().mean().backward()
    ours = dict(model.named_parameters())
    for key, p in reference.named_parameters():
        assert torch.equal(ours[key].grad, p.grad), key
    theirs = reference.state_dict()
    for key, value in model.state_dict().items():  # running statistics, updated the same way
        assert torch.equal(value, theirs[key]), key


def test_parameters_and_macs_are_torchs(pair) -> None:
    reference, _ = pair
    report = archc.analyze("unet", input=(3, SIZE, SIZE))
    assert (report.totals.params, report.totals.macs) == torch_figures(reference.eval(), (3, SIZE, SIZE))
    assert report.output_shape == (2, SIZE, SIZE)


def test_figures_at_the_default_size_are_torchs() -> None:
    """At the spec's own input, 3×256×256 (the doc's figures), measured on the meta device."""
    report = archc.analyze("unet")
    assert report.input_shape == (3, 256, 256) and report.output_shape == (2, 256, 256)
    with torch.device("meta"):
        reference = UNet()
    assert (report.totals.params, report.totals.macs) == torch_figures(reference, (3, 256, 256), "meta")
    # the doc quotes them
    assert f"{report.totals.params:,}" in report.doc and f"{report.totals.macs / 1e9:.2f} GMACs" in report.doc


def test_the_papers_23_convolutional_layers() -> None:
    """§2: "In total the network has 23 convolutional layers": 18 3×3, 4 up-convolutions, one 1×1."""
    model = archc.build("unet", input=(3, SIZE, SIZE))
    kinds = [type(m).__name__ for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert (len(kinds), kinds.count("ConvTranspose2d")) == (23, 4)


def test_other_channels_classes_and_width() -> None:
    """The paper's grey input (1 channel), five classes, a narrow network: still the hand-written one."""
    reference, model = make_pair(size=32, in_channels=1, n_classes=5, width=8)
    reference.eval()
    model.eval()
    x = batch(1, 32)
    with torch.no_grad():
        got = model(x)
    assert got.shape == (2, 5, 32, 32)
    assert torch.equal(got, reference(x))
    report = archc.analyze("unet", input=(1, 32, 32), n_classes=5, width=8)
    assert (report.totals.params, report.totals.macs) == torch_figures(reference, (1, 32, 32))


def test_inference_variant_is_within_tolerance(pair) -> None:
    _, model = pair
    model.eval()
    fast = archc.build("unet", input=(3, SIZE, SIZE), inference=True, state_dict=model.state_dict())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())  # all 18 folded into their convs
    x = batch()
    with torch.no_grad():
        err = relative_error(model(x), fast(x))
    assert err < TOLERANCE, err


def test_sizes_that_are_not_multiples_of_16_are_refused_clearly() -> None:
    """The paper's 572×572 tile: padded, the maps are 286, 143, 71, 35, and the up-convolution's 70
    cannot join the encoder's 71 (the paper crops, this form does not)."""
    with pytest.raises(ArchcError) as err:
        archc.lower("unet", input=(1, 572, 572))
    assert "E502" in str(err.value) and "70" in str(err.value) and "71" in str(err.value)


def test_cli_table_diagram_compile(cli, tmp_path) -> None:
    table = cli("table", "unet", "--input", "3x64x64", "--depth", "1")
    assert table.code == 0 and "up1" in table.out and "2×64×64" in table.out
    dot = tmp_path / "unet.dot"
    assert cli("diagram", "unet", "-o", dot).code == 0 and "digraph" in dot.read_text()
    out = tmp_path / "unet_net.py"
    assert cli("compile", "unet", "-o", out).code == 0
    source = out.read_text()
    # the skip is an argument of the decoder level's forward, as a hand-written U-Net has it
    assert "def forward(self, x: torch.Tensor, down3: torch.Tensor) -> torch.Tensor:" in source
    assert "x = self.up1(x, down3)" in source and "x = self.up4(x, inc)" in source


# --- the bilinear variant -------------------------------------------------------------------------


def test_bilinear_variant_is_the_hand_written_one() -> None:
    reference, model = make_pair(bilinear=True)
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in model.modules())
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in reference.state_dict().items()]
    x = batch()
    for mode in (False, True):  # eval, then train (batch statistics, running averages updated)
        reference.train(mode)
        model.train(mode)
        with torch.no_grad():
            assert torch.equal(model(x), reference(x)), f"train={mode}"
    theirs = reference.state_dict()
    assert all(torch.equal(v, theirs[k]) for k, v in model.state_dict().items())
    report = archc.analyze("unet_bilinear", input=(3, SIZE, SIZE))
    assert (report.totals.params, report.totals.macs) == torch_figures(reference.eval(), (3, SIZE, SIZE))
    default = archc.analyze("unet_bilinear")
    with torch.device("meta"):
        big = UNet(bilinear=True)
    assert (default.totals.params, default.totals.macs) == torch_figures(big, (3, 256, 256), "meta")
    assert f"{default.totals.params:,}" in default.doc and f"{default.totals.macs / 1e9:.2f} GMACs" in default.doc
    model.eval()
    fast = archc.build("unet_bilinear", input=(3, SIZE, SIZE), inference=True, state_dict=model.state_dict())
    with torch.no_grad():
        assert relative_error(model(x), fast(x)) < TOLERANCE
