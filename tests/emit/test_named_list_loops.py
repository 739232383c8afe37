"""A numbered list that names its entries and holds repeats of made names or ``when:`` groups
(torchvision's DenseNet `features`): emitted as torchvision writes it, an ``nn.Sequential``
filled with ``add_module`` in a Python ``for`` loop / ``if``, the running channel count a
variable of that loop, and ``forward`` still one call, ``self.features(x)``.

Checked against the oracle (tests/emit/agreement.py) on four small specs (DenseNet-like, a
list with ``when:`` groups only, a nested repeat with unnamed entries after it, whose numbers
must be nn.Sequential's, and unnamed entries around a named one in a ``when:`` group), and
against torchvision's real ``densenet121``: its state_dict loads with ``strict=True`` into the
same network written with the loop, and both compute the same eval output at 64×64. Ruff and
run-to-run identity of the emitted code are checked with the other constructs
(tests/emit/constructs.py, tests/emit/test_constructs.py).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import torch
import torchvision

import archc

from ..zoo.parity import assert_same_eval, assert_same_state, batch
from ..zoo.test_densenet import randomize
from .agreement import agree
from .constructs import CONSTRUCTS

DENSE = "a numbered list with named entries, a repeat of made names and a when: (DenseNet's features)"
WHEN = "a numbered list with named entries under when:"
NESTED = "a numbered list with a nested repeat of made names and unnamed entries after it"
GROUP = "a numbered list of unnamed entries with a named entry in a when: group"


def _program(key: str, **replace: str) -> archc.Program:
    text = textwrap.dedent(CONSTRUCTS[key]).lstrip("\n")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return archc.loads(text, name="spec.yaml")


@pytest.mark.parametrize(("key", "replace"), [
    (DENSE, {}),
    (WHEN, {}),
    (WHEN, {"deep: true, wide: false": "deep: false, wide: true"}),
    (NESTED, {}),
    (NESTED, {"depths: [1, 2]": "depths: [3, 0, 2]"}),
    (GROUP, {}),
    (GROUP, {"deep: true": "deep: false"}),
])
def test_the_built_network_is_the_one_counted(key: str, replace: dict[str, str]) -> None:
    agree(_program(key, **replace))


def test_a_repeat_in_a_list_that_names_entries_is_no_longer_refused() -> None:
    """The spec tests/emit/test_refusals_located.py used to expect E720 for."""
    agree(archc.loads("""\
archc: 1
name: n
input: [3, 8, 8]
layers:
  - features:
      - conv0: conv(4, 3, padding=1)
      - repeat: 2
        each: {"block{i + 1}": conv(4, 3, padding=1)}
""", name="spec.yaml"))


def test_densenet_features_are_written_as_torchvision_writes_them() -> None:
    source = archc.compile_source(_program(DENSE))
    init = source[source.index("class DenseLoop(nn.Module):"):]
    for line in (
        "features = nn.Sequential()",
        "features.add_module('conv0', nn.Conv2d(3, 8, 3, padding=1, bias=False))",
        "for s in range(len(block_config)):",
        'features.add_module(f"denseblock{s + 1}", block)',
        "if s < len(block_config) - 1:",
        'features.add_module(f"transition{s + 1}", Transition(block.out_channels))',
        "features.add_module('norm5', nn.BatchNorm2d(in_channels))",
        "self.features = features",
        "x = self.features(x)",
    ):
        assert line in init, line


def test_unnamed_entries_after_a_repeat_keep_nn_sequentials_numbers() -> None:
    state = archc.build(_program(NESTED)).state_dict()
    # stem, stage1_conv0, stage1_relu, stage2_conv0, stage2_conv1, stage2_relu, then number 6
    assert "features.6.weight" in state and "features.tail.weight" in state


DENSENET121_WITH_A_LOOP = """\
archc: 1
name: densenet121_loop
input: [3, 224, 224]
params: {growth_rate: 32, block_config: [6, 12, 24, 16], num_init_features: 64, bn_size: 4}
blocks:
  DenseLayer:
    params: {growth_rate: int, bn_size: int}
    layers:
      - norm1: bn()
      - relu1: relu
      - conv1: conv(bn_size * growth_rate, 1, bias=false)
      - norm2: bn()
      - relu2: relu
      - conv2: conv(growth_rate, 3, padding=1, bias=false)
      - features: {from: [input, conv2], merge: concat}
  DenseBlock:
    params: {num_layers: int, growth_rate: int, bn_size: int}
    repeat: num_layers
    each: {"denselayer{i + 1}": "DenseLayer(growth_rate, bn_size)"}
  Transition:
    layers:
      - norm: bn()
      - relu: relu
      - conv: conv(input.channels // 2, 1, bias=false)
      - pool: avgpool(2, stride=2)
layers:
  - features:
      - conv0: conv(num_init_features, 7, stride=2, padding=3, bias=false)
      - norm0: bn()
      - relu0: relu
      - pool0: maxpool(3, stride=2, padding=1)
      - repeat: len(block_config)
        index: s
        each:
          - {"denseblock{s + 1}": "DenseBlock(block_config[s], growth_rate, bn_size)"}
          - {when: "s < len(block_config) - 1", layers: [{"transition{s + 1}": Transition}]}
      - norm5: bn()
  - relu
  - adaptive_avgpool(1)
  - flatten
  - classifier: linear(1000)
"""


def test_torchvisions_densenet121_loads_into_the_loop_form() -> None:
    size = 64
    torch.manual_seed(0)
    reference = torchvision.models.densenet121(weights=None)
    randomize(reference, torch.Generator().manual_seed(1))
    program = archc.loads(DENSENET121_WITH_A_LOOP, name="densenet121_loop.yaml")
    assert 'features.add_module(f"denseblock{s + 1}", block)' in archc.compile_source(program)
    model = archc.build(program, input=(3, size, size))
    model.load_state_dict(reference.state_dict(), strict=True)
    assert_same_state(reference, model)  # the same keys in the same order
    assert_same_eval(reference, model, batch(size))


def test_the_language_reference_shows_what_compile_writes() -> None:
    """docs/language.md's example of such a list (a complete spec) and the class it says is emitted."""
    text = (Path(__file__).parents[2] / "docs" / "language.md").read_text()
    spec = re.search(r"```yaml\n(archc: 1\nname: dense_features\n.*?)```", text, re.S)
    shown = re.search(r"```python\n(class DenseFeatures\(nn\.Module\):\n.*?)```", text, re.S)
    assert spec and shown
    source = archc.compile_source(archc.loads(spec.group(1), name="dense_features.yaml"))
    assert shown.group(1) in source
