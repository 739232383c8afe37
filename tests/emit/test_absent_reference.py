"""A `from:` that names an entry whose `when:` is false reads what that entry passes on, its
input (docs/language.md, "A projection only where the shape changes"): torchvision's RegNet
block registers `proj` before `f` and computes `proj(x) + f(x)` or `x + f(x)`.

- Lowering, the module IR and the emitted class agree with the oracle where the condition
  holds, where it fails, and where it is decided once for the whole network (`when: false`).
- The emitted class reads as torchvision's: `self.proj = None`, then `if ...:` builds it, and
  forward names the shortcut after the module; the add's size is the plain one (`width`).
"""

from __future__ import annotations

import textwrap

import pytest
import torch
from torch import nn

import archc

from .agreement import agree

SPEC = """
archc: 1
name: absent_read
input: [4, 8, 8]
blocks:
  Res:
    params: {width: int, stride: 1}
    layers:
      - proj: {when: stride != 1 or input.channels != width, layers: "conv(width, 1, stride=stride, bias=false)"}
      - f: {from: input, layers: ["conv(width, 3, stride=stride, padding=1, bias=false)", bn(), relu]}
      - {from: [proj, f], merge: add}
      - activation: relu
layers:
  - a: Res(6, stride=2)   # a new shape: proj(x) + f(x)
  - b: Res(6)             # the same shape: x + f(x)
  - c: {when: false, layers: conv(6, 1)}
  - d: {from: [c, b], merge: add}   # c is absent: it passes b on
"""


def load() -> archc.spec.loader.Program:
    return archc.loads(textwrap.dedent(SPEC).lstrip("\n"), name="absent.yaml")


def test_the_built_network_is_the_oracles() -> None:
    agree(load())


def test_it_computes_torchvisions_regnet_block() -> None:
    """By hand, as torchvision's ResBottleneckBlock.forward writes it."""
    model = archc.build(load()).eval()
    assert model.a.proj is not None and model.b.proj is None and not hasattr(model, "c")
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = nn.functional.relu(model.a.proj(x) + model.a.f(x))
        b = nn.functional.relu(a + model.b.f(a))
        assert torch.equal(model(x), b + b)


def test_the_emitted_class_reads_as_torchvisions() -> None:
    source = archc.compile_source(load())
    res = source[source.index("class Res("):source.index("class AbsentRead")]
    assert "        self.proj = None\n        if stride != 1 or in_channels != width:\n" in res
    assert res.index("self.proj = nn.Conv2d") < res.index("self.f = nn.Sequential")  # proj's keys first
    assert "proj = x if self.proj is None else self.proj(x)\n" in res
    assert "out = proj + f\n" in res and "self.out_channels = width\n" in res


def test_reading_an_entry_that_is_never_there_is_still_reading_its_input() -> None:
    keys = list(archc.build(load()).state_dict())
    assert keys[:2] == ["a.proj.weight", "a.f.0.weight"] and not any(k.startswith(("b.proj", "c.")) for k in keys)
    report = archc.analyze(load())
    assert report.output_shape == (6, 4, 4)


@pytest.mark.parametrize("when", ["true", "false"])
def test_a_network_flag_decides_it_in_the_constructor(when: str) -> None:
    """A network parameter: the constructor's `if flag:`, either way the oracle's network."""
    text = SPEC.replace("  - c: {when: false", "  - c: {when: flag").replace(
        "input: [4, 8, 8]", f"input: [4, 8, 8]\nparams: {{flag: {when}}}")
    program = archc.loads(textwrap.dedent(text).lstrip("\n"), name="absent.yaml")
    agree(program)
    assert "if flag:" in archc.compile_source(program)
