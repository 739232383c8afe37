"""A shortcut that exists only where a block keeps its shape (MobileNetV2/V3's use_res_connect),
written as a named, `when:`-guarded `from: [block, input], merge: add` entry (docs/language.md).

- Its lowering and emission agree with a hand-written torch module, block for block: the input
  is added back exactly where the condition holds, and nothing is added elsewhere.
- The emitted class reads as torchvision's InvertedResidual: a flag named after the entry,
  `block = block + x` under it, no empty `if` in __init__.
- A numbered list whose later child reads an earlier child's size (a block whose output
  channels only its module knows, here one that splices a block-typed activation) is built as
  a list; a literal `nn.Sequential(...)` would read the list before it exists.
- A parameter that is not declared `block` but is called as one is an E720, not a crash.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import archc
from archc.diagnostics import ArchcError

from .test_inference import randomize_norms

SPEC = """
archc: 1
name: guarded
input: [8, 10, 10]
blocks:
  RE: {inline: true, layers: relu}
  ConvBNAct:
    params: {out: int, kernel: 1, stride: 1, groups: 1, activation: block}
    layers:
      - conv(out, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups, bias=false)
      - bn()
      - activation
  Inverted:
    params: {expanded: int, out: int, stride: 1}
    layers:
      - block:
          - {when: expanded != input.channels, layers: "ConvBNAct(expanded, activation=RE)"}
          - ConvBNAct(expanded, 3, stride=stride, groups=expanded, activation=RE)
          - conv(out, 1, bias=false)
          - bn()
      - use_res_connect: {when: stride == 1 and input.channels == out, from: [block, input], merge: add}
layers:
  - features:
      - ConvBNAct(8, 3, activation=RE)
      - Inverted(8, 8)             # no expansion, shortcut
      - Inverted(16, 12, stride=2)  # new shape: no shortcut
      - Inverted(24, 12)            # shortcut
      - Inverted(24, 16)            # new width: no shortcut
"""

# (expanded, out, stride, input channels) of the four blocks, and whether each adds its input
BLOCKS = [(8, 8, 1, 8), (16, 12, 2, 8), (24, 12, 1, 12), (24, 16, 1, 12)]
SHORTCUT = [True, False, True, False]


def conv_bn_relu(cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU())


class Reference(nn.Module):
    """What torchvision's InvertedResidual does, by hand."""

    def __init__(self, expanded: int, out: int, stride: int, cin: int):
        super().__init__()
        layers: list[nn.Module] = []
        if expanded != cin:
            layers.append(conv_bn_relu(cin, expanded))
        layers += [conv_bn_relu(expanded, expanded, 3, stride, expanded),
                   nn.Conv2d(expanded, out, 1, bias=False), nn.BatchNorm2d(out)]
        self.block = nn.Sequential(*layers)
        self.use_res_connect = stride == 1 and cin == out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.block(x)
        if self.use_res_connect:
            result += x
        return result


def test_shortcut_exactly_where_the_shape_is_kept() -> None:
    torch.manual_seed(0)
    model = archc.build(archc.load("guarded.yaml", text=SPEC))
    randomize_norms(model, torch.Generator().manual_seed(2))
    model.eval()
    features = nn.Sequential(conv_bn_relu(8, 8, 3), *(Reference(*b) for b in BLOCKS)).eval()
    reference = nn.Sequential()
    reference.add_module("features", features)
    reference.load_state_dict(model.state_dict(), strict=True)
    assert list(model.state_dict()) == list(reference.state_dict())
    assert [m.use_res_connect for m in list(model.features)[1:]] == SHORTCUT
    x = torch.randn(2, 8, 10, 10, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))
        for k, block in enumerate(list(features)[1:], start=1):  # the add matters where it is made
            y = features[:k](x)
            assert torch.equal(model.features[k](y), block(y))
            assert torch.equal(model.features[k](y), block.block(y)) != SHORTCUT[k - 1]


def test_emitted_class_reads_as_torchvisions() -> None:
    source = archc.compile_source(archc.load("guarded.yaml", text=SPEC))
    inverted = source[source.index("class Inverted("):source.index("\nclass ", source.index("class Inverted("))]
    assert "self.use_res_connect = stride == 1 and in_channels == out\n" in inverted
    assert ("        block = self.block(x)\n        if self.use_res_connect:\n            block = block + x\n"
            "        return block\n") in inverted
    assert "pass" not in inverted and "use_branch" not in inverted
    # the first child's size is read from the built child, after it exists
    assert "self.features[" not in source


def test_a_parameter_called_as_a_block_must_be_declared_one() -> None:
    spec = SPEC.replace("activation: block}", "activation: none}")
    archc.analyze(archc.load("guarded.yaml", text=spec))  # lowering takes the block it is given
    with pytest.raises(ArchcError) as err:
        archc.compile_source(archc.load("guarded.yaml", text=spec))
    assert err.value.diagnostics[0].code == "E720"
    assert "not declared `activation: block`" in err.value.diagnostics[0].message
