"""The paper variants against the figures computed from the papers (../shared/reference/README.md).

Figures are typed from that table or the papers themselves (He et al. 2016, Table 6),
never from archc's output; each is also measured on the built module with torch.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import archc


def torch_figures(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, int, tuple[int, ...]]:
    """Parameters, MACs (FlopCounterMode / 2) and output shape of one eval forward."""
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(torch.randn(1, *shape))
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2, tuple(out.shape[1:])


# --- LeNet-5 (LeCun et al. 1998) ----------------------------------------------------------


def test_lenet5_as_published() -> None:
    report = archc.analyze("lenet5")
    assert report.input_shape == (1, 32, 32)
    assert (report.totals.params, report.totals.macs) == (61_706, 416_520)
    assert torch_figures(archc.build("lenet5"), (1, 32, 32)) == (61_706, 416_520, (10,))


def test_lenet5_on_unpadded_mnist(cli) -> None:
    assert archc.analyze("lenet5", input=(1, 28, 28)).totals.params == 44_426
    params, _, out = torch_figures(archc.build("lenet5", input=(1, 28, 28)), (1, 28, 28))
    assert (params, out) == (44_426, (10,))
    assert "44,426" in cli("table", "lenet5", "--input", "1x28x28", "--depth", "0").out


# --- AlexNet (Krizhevsky et al. 2012) -------------------------------------------------------


def test_alexnet_paper() -> None:
    report = archc.analyze("alexnet_paper")
    assert report.input_shape == (3, 227, 227)
    assert (report.totals.params, report.totals.macs) == (60_965_224, 724_406_816)
    model = archc.build("alexnet_paper")
    assert torch_figures(model, (3, 227, 227)) == (60_965_224, 724_406_816, (1000,))
    assert [model.conv2.groups, model.conv3.groups, model.conv4.groups, model.conv5.groups] == [2, 1, 2, 2]
    # the paper's LRN: k + alpha * sum with k=2, n=5, alpha=1e-4, beta=0.75; PyTorch divides alpha by n
    lrn = model.norm1
    assert (lrn.size, lrn.k, lrn.beta, lrn.alpha / lrn.size) == (5, 2.0, 0.75, pytest.approx(1e-4))
    x = torch.rand(1, 96, 4, 4)
    square_sum = F.avg_pool3d(F.pad(x.pow(2).unsqueeze(1), (0, 0, 0, 0, 2, 2)), (5, 1, 1), 1).squeeze(1) * 5
    assert torch.allclose(lrn(x), x / (2 + 1e-4 * square_sum) ** 0.75)


def test_alexnet_paper_without_groups() -> None:
    report = archc.analyze("alexnet_paper", groups=1)
    assert (report.totals.params, report.totals.macs) == (62_378_344, 1_135_256_096)


# --- GoogLeNet (Szegedy et al. 2015) --------------------------------------------------------


def test_googlenet_paper() -> None:
    report = archc.analyze("googlenet_paper")
    assert report.totals.params_without_heads == 6_998_552
    assert report.totals.params == 13_378_280
    assert report.totals.macs == 1_582_671_872
    # (that the built module does these MACs is measured for every shipped spec in tests/emit)
    model = archc.build("googlenet_paper")
    assert sum(p.numel() for p in model.parameters()) == 13_378_280
    assert sum(p.numel() for k, p in model.named_parameters() if not k.startswith("aux")) == 6_998_552
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert all(m.bias is not None for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    assert model.inception3a.branch3[1].conv.kernel_size == (5, 5)
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.7, 0.7, 0.4]
    model.train()  # the heads run only in training; the outputs come in torchvision's order
    with torch.no_grad():
        logits, aux2, aux1 = model(torch.randn(1, 3, 224, 224))
    assert logits.shape == aux1.shape == aux2.shape == (1, 1000)


# --- ResNet on CIFAR-10 (He et al. 2016, §4.2) -------------------------------------------------

# depth -> parameters as Table 6 prints them (millions)
TABLE_6 = {20: "0.27", 32: "0.46", 44: "0.66", 56: "0.85", 110: "1.7", 1202: "19.4"}


def plain_cifar_params(n: int) -> int:
    """The plain counterpart written with torch: 6n + 1 3×3 convolutions with batch norm, the fc."""
    layers: list[nn.Module] = [nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)]
    width = 16
    for planes in (16, 32, 64):
        for _ in range(2 * n):
            layers += [nn.Conv2d(width, planes, 3, padding=1, bias=False), nn.BatchNorm2d(planes)]
            width = planes
    layers.append(nn.Linear(64, 10))
    return sum(p.numel() for p in nn.Sequential(*layers).parameters())


@pytest.mark.parametrize("depth", sorted(TABLE_6))
def test_resnet_cifar_compiles_tables_and_builds(depth: int, cli) -> None:
    result = cli("table", "resnet_cifar", "--set", f"depth={depth}", "--depth", "1")
    assert result.code == 0
    report = archc.analyze("resnet_cifar", depth=depth)
    assert f"{report.totals.params:,}" in result.out
    source = archc.compile_source("resnet_cifar", depth=depth)
    assert "class BasicBlock(nn.Module):" in source and "class Stage(nn.Sequential):" in source
    model = archc.build("resnet_cifar", depth=depth)
    params = sum(p.numel() for p in model.parameters())
    assert params == report.totals.params
    figure = TABLE_6[depth]
    assert f"{params / 1e6:.{len(figure.split('.')[1])}f}" == figure
    # option A: the shortcuts hold no parameters, so the count is the plain network's (§4.2)
    n = (depth - 2) // 6
    assert len(model.layer1) == len(model.layer2) == len(model.layer3) == n
    if depth <= 110:  # the plain network for 1202 is simply 200 times more of the same
        assert params == plain_cifar_params(n)


def test_resnet_cifar_forward_and_option_a_shortcut() -> None:
    report = archc.analyze("resnet_cifar", depth=20)
    model = archc.build("resnet_cifar", depth=20)
    assert torch_figures(model, (3, 32, 32)) == (report.totals.params, report.totals.macs, (10,))
    block = model.layer2[0]
    x = torch.randn(2, 16, 32, 32)
    # the identity with zero entries padded for the new channels, taken with stride 2 (§3.3, option A)
    assert torch.equal(block.shortcut(x), F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, 16)))
    assert block.shortcut is not None and model.layer1[0].shortcut is None and model.layer2[1].shortcut is None
