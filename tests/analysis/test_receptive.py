"""Receptive field and effective stride, against a brute-force measurement and known values.

Brute force: build the module, make every weight positive and feed a positive input (so
no ReLU is ever zero and no path cancels), take the gradient of one output position of a
row's module (the centre of its map) with respect to the input, and measure the extent
of its non-zero region; the region of the next position along the diagonal gives the
effective stride (how far the region moves). Max pools become average pools of the same
geometry first, since a max pool's gradient reaches only the maximum of each window
while its receptive field is the whole window. Inputs are large enough that the centre's
region touches no border, so padding does not clip it. Float64 keeps far, tiny
contributions non-zero.

Known values: VGG-16's conv5_3 sees 196×196 pixels and pool5 212×212 (the layer-by-layer
recurrence of Araujo, Norris and Sim, "Computing Receptive Fields of Convolutional
Neural Networks", Distill, 2019).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict

import pytest
import torch
from torch import nn

import archc
from archc.spec.loader import shipped_names

from ..conftest import FIXTURES

pytestmark = pytest.mark.usefixtures("one_thread")

HEAD = "archc: 1\nname: rf\n"

SPECS = {
    # strides, paddings, dilation, ceil_mode, average pooling, a 1×1 head
    "chain": HEAD + """input: [2, 64, 64]
layers:
  - a: conv(4, 3, padding=1)
  - relu
  - b: conv(4, 5, stride=2, padding=2)
  - p: maxpool(3, stride=2, padding=1, ceil_mode=true)
  - c: conv(4, 3, padding=2, dilation=2)
  - tanh
  - q: avgpool(2)
  - d: conv(3, 1)
""",
    # a strided residual block with a projection, then Inception-like branches of different sizes
    "branches": HEAD + """input: [2, 72, 72]
blocks:
  Res:
    params: {c: int, stride: 1}
    residual:
      body: [c1: conv(c, 3, stride=stride, padding=1, bias=false), b1: bn(), relu, c2: conv(c, 3, padding=1)]
      shortcut: {downsample: [conv(c, 1, stride=stride, bias=false), bn()]}
      then: relu
layers:
  - stem: conv(4, 3, stride=2, padding=1)
  - r1: Res(4)
  - r2: Res(6, stride=2)
  - mix:
      parallel:
        one: conv(2, 1)
        three: conv(2, 3, padding=1)
        five: [conv(2, 1), conv(2, 5, padding=2)]
        pool: [maxpool(3, stride=1, padding=1), conv(2, 1)]
""",
    # rectangular kernels and strides, and an asymmetric dilation
    "rectangles": HEAD + """input: [1, 48, 60]
layers:
  - a: conv(3, [3, 5], stride=[2, 1], padding=[1, 2])
  - b: conv(3, [5, 3], padding=[4, 1], dilation=[2, 1])
  - p: maxpool([2, 3], stride=[2, 3])
  - c: conv(2, 3, padding=1)
""",
    # sequences
    "sequence": HEAD + """input: [2, 80]
layers:
  - a: conv1d(4, 5, stride=2, padding=2)
  - relu
  - b: conv1d(4, 3, padding=2, dilation=2)
  - c: conv1d(4, 3, stride=3)
""",
}


def _positive(model: nn.Module) -> nn.Module:
    """Max pools as average pools of the same windows; every weight positive; float64."""
    for name, child in list(model.named_children()):
        if isinstance(child, nn.MaxPool2d):
            assert child.dilation in (1, (1, 1)), "a dilated max pool has no average-pool twin"
            setattr(model, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode))
        elif isinstance(child, nn.AdaptiveMaxPool2d):
            setattr(model, name, nn.AdaptiveAvgPool2d(child.output_size))
        else:
            _positive(child)
    with torch.no_grad():  # weights averaging over their fan-in keep values near 1: no tanh saturates
        for p in model.parameters():
            p.copy_((torch.rand_like(p) + 0.5) / (p[0].numel() if p.dim() > 1 else 1))
    return model.double().eval()


def _region(grad: torch.Tensor) -> list[tuple[int, int]]:
    """Per spatial dimension, the first and last index where the gradient is non-zero."""
    nonzero = grad.abs().sum(dim=(0, 1)) != 0
    out = []
    for d in range(nonzero.dim()):
        other = tuple(k for k in range(nonzero.dim()) if k != d)
        idx = (nonzero.any(dim=other) if other else nonzero).nonzero().flatten()
        out.append((int(idx.min()), int(idx.max())))
    return out


class _Enough(Exception):
    """Raised by a hook once every wanted output is in: the rest of the network need not run."""


def measure(spec: str, paths: list[str] | None = None, *, input: tuple[int, ...] | None = None,
            **overrides: object) -> dict[tuple[str, int], tuple[tuple[int, ...], ...]]:
    """(row path, use) -> (receptive field, stride) measured by gradients, for each module output
    that keeps the input's spatial rank."""
    model = _positive(archc.build(spec, input=input, **overrides))
    report = archc.analyze(spec, input=input, **overrides)
    x = torch.ones(1, *report.input_shape, dtype=torch.float64, requires_grad=True)
    outputs: dict[str, list[torch.Tensor]] = defaultdict(list)
    wanted = {r.path for r in report.rows} if paths is None else set(paths)

    def keep(module: nn.Module, args: object, out: torch.Tensor, name: str) -> None:
        outputs[name].append(out)
        if paths is not None and wanted <= set(outputs):
            raise _Enough

    for name, module in model.named_modules():
        if name in wanted:
            module.register_forward_hook(lambda m, i, o, name=name: keep(m, i, o, name))
    with contextlib.suppress(_Enough):
        model(x)
    found = {}
    for path, outs in outputs.items():
        for use, out in enumerate(outs):
            if out.dim() != x.dim():
                continue
            centre = [s // 2 for s in out.shape[2:]]
            regions = []
            for offset in (0, 1):
                position = tuple(min(c + offset, s - 1) for c, s in zip(centre, out.shape[2:]))
                grad, = torch.autograd.grad(out[(0, slice(None), *position)].sum(), x, retain_graph=True)
                regions.append(_region(grad))
            sizes = x.shape[2:]
            assert all(lo > 0 and hi < n - 1 for (lo, hi), n in zip(regions[0], sizes)), \
                f"{path}: the region touches the border; use a larger input"
            rf = tuple(hi - lo + 1 for lo, hi in regions[0])
            stride = tuple(b[0] - a[0] for a, b in zip(regions[0], regions[1]))
            found[(path, use)] = (rf, stride)
    return found


@pytest.mark.parametrize("name", sorted(SPECS))
def test_receptive_field_and_stride_match_gradients(name: str, spec_file) -> None:
    spec = str(spec_file(SPECS[name], f"{name}.yaml"))
    measured = measure(spec)
    uses: dict[str, int] = defaultdict(int)
    checked = 0
    for row in archc.analyze(spec).rows:
        key = (row.path, uses[row.path])
        uses[row.path] += 1
        if key in measured:
            rf, stride = measured[key]
            assert (row.rf, row.stride) == (rf, stride), row.path
            checked += 1
    assert checked >= 4


def test_branches_take_the_largest_field(spec_file) -> None:
    """Where paths merge, the field is the largest: here the 5×5 branch beats the others."""
    rows = {r.path: r for r in archc.analyze(spec_file(SPECS["branches"])).rows}
    assert rows["mix"].rf == max(rows[f"mix.{b}"].rf for b in ("one", "three", "five", "pool"))
    assert rows["mix"].rf == rows["mix.five"].rf != rows["mix.one"].rf


def test_resnet50_stem_and_early_stages_match_gradients() -> None:
    """The shipped ResNet-50 spec itself, one block in each of the first stages to keep it
    quick, up to layer2 (whose field fits inside 3×112×112)."""
    paths = ["conv1", "maxpool", "layer1", "layer2.0.conv2", "layer2"]
    setting = {"input": (3, 112, 112), "depths": [1, 1, 2, 2]}
    measured = measure("resnet50", paths, **setting)
    rows = {r.path: r for r in archc.analyze("resnet50", **setting).rows}
    for path in paths:
        assert (rows[path].rf, rows[path].stride) == measured[(path, 0)], path


def vgg16() -> str:
    """The shipped vgg16 when there is one, else the test-local spec (same torchvision layout)."""
    return "vgg16" if "vgg16" in shipped_names() else str(FIXTURES / "specs" / "vgg16.yaml")


def test_vgg16_known_values() -> None:
    rows = {r.path: r for r in archc.analyze(vgg16()).rows}
    assert rows["features.28"].label == "conv 3×3" and rows["features.30"].label.startswith("maxpool")
    assert rows["features.28"].rf == (196, 196)  # conv5_3
    assert rows["features.30"].rf == (212, 212)  # pool5
    assert rows["features.28"].stride == (16, 16) and rows["features.30"].stride == (32, 32)


def test_global_pooling_and_dense_layers_see_the_whole_map() -> None:
    """After a global pool, or a dense layer on flattened features, the field covers the whole
    last map (and a second dense layer adds nothing)."""
    rows = {r.path: r for r in archc.analyze(vgg16()).rows}
    pool5, fc1, fc3 = rows["features.30"], rows["classifier.0"], rows["classifier.6"]
    assert fc1.rf == tuple(r + (7 - 1) * j for r, j in zip(pool5.rf, pool5.stride))  # a 7×7 map
    assert fc3.rf == fc1.rf
    resnet = {r.path: r for r in archc.analyze("resnet50").rows}
    layer4, avgpool = resnet["layer4"], resnet["avgpool"]
    assert avgpool.rf == tuple(r + (7 - 1) * j for r, j in zip(layer4.rf, layer4.stride))
    assert resnet["fc"].rf == avgpool.rf


def test_no_spatial_dimensions(spec_file) -> None:
    report = archc.analyze(spec_file(HEAD + "input: [20]\nlayers: [fc1: linear(10), relu, fc2: linear(2)]\n"))
    assert all(r.rf is None and r.stride is None for r in report.rows)


GATED = HEAD + """input: [2, 40, 40]
blocks:
  SE:
    layers:
      - avgpool: adaptive_avgpool(1)
      - fc1: conv(2, 1)
      - activation: relu
      - fc2: conv(input.channels, 1)
      - gate: sigmoid
      - {from: [input, gate], merge: mul}
layers:
  - stem: conv(4, 3, stride=2, padding=1)
  - se: SE()
  - c: conv(4, 3, padding=1)
"""


def test_a_squeeze_and_excitation_gate_widens_the_field_not_the_stride(spec_file) -> None:
    """Behind an SE gate every output position reads the whole input (the gate pooled it): the
    gradient of one position reaches every input pixel. The stride stays the map's: measured on
    the same network without the gate, where fields are local."""
    gated = str(spec_file(GATED, "gated.yaml"))
    rows = {r.path: r for r in archc.analyze(gated).rows}
    model = _positive(archc.build(gated))
    x = torch.ones(1, 2, 40, 40, dtype=torch.float64, requires_grad=True)
    out = model.se(model.stem(x))
    grad, = torch.autograd.grad(out[0, :, 10, 10].sum(), x)
    assert (grad.abs().sum(1) != 0).all(), "the gated output reads every input position"
    assert all(rf >= 40 for rf in rows["se"].rf)
    plain = str(spec_file(GATED.replace("  - se: SE()\n", ""), "plain.yaml"))
    measured = measure(plain, ["stem", "c"])
    assert rows["stem"].stride == rows["se"].stride == measured[("stem", 0)][1]
    assert rows["c"].stride == measured[("c", 0)][1]
    assert rows["c"].rf == tuple(r + 2 * s for r, s in zip(rows["se"].rf, rows["se"].stride))
