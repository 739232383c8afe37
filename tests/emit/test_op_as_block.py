"""Passing an op where a ``block`` parameter is expected (issue 17: torchvision passes
``activation_layer=nn.Hardswish``, ``norm_layer=nn.BatchNorm2d``). An op is not a value: the
name is refused where it is written, with a hint that says how to pass it (a block that holds
the op). Written that way, relu / hardswish / sigmoid / bn passed as defaults and as call
arguments, also through two levels of blocks, build the network archc counts, and compute what
torchvision's ``Conv2dNormActivation`` computes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from torch import nn

import archc
from archc.diagnostics import ArchcError

from .agreement import agree

OP_AS_VALUE = """\
archc: 1
name: op_as_value
input: [4, 8, 8]
blocks:
  ConvAct:
    params: {out: int, act: block = relu}
    layers:
      - conv: conv(out, 3, padding=1)
      - act
layers:
  - c1: ConvAct(8)
  - c2: ConvAct(8, act=hardswish)
"""

HOLDERS = """\
archc: 1
name: op_holders
input: [4, 8, 8]
blocks:
  ReLU:
    layers: relu
  Hardswish:
    layers: hardswish
  Sigmoid:
    layers: sigmoid
  BatchNorm:
    layers: bn
  ConvNormAct:
    params: {out: int, norm: block = BatchNorm, act: block = ReLU}
    layers:
      - conv: conv(out, 3, padding=1, bias=false)
      - norm: norm()
      - act: act()
  Stage:                      # passes its own block parameter one level down
    params: {out: int, act: block = Hardswish}
    layers:
      - a: ConvNormAct(out, act=act)
      - b: ConvNormAct(out)
layers:
  - c1: ConvNormAct(8)
  - c2: ConvNormAct(8, act=Hardswish)
  - s1: Stage(8)
  - s2: Stage(8, Sigmoid)
"""


def test_an_op_passed_as_a_block_value_is_refused_where_written_with_a_hint() -> None:
    program = archc.load("spec.yaml", text=OP_AS_VALUE)
    for run in (archc.analyze, archc.compile_source):  # validate/table and compile say the same
        with pytest.raises(ArchcError) as err:
            run(program)
        default, argument = err.value.diagnostics
        assert default.code == argument.code == "E401"
        assert (default.span.line, default.span.col) == (6, 37)   # `relu` in the default
        assert (argument.span.line, argument.span.col) == (12, 24)  # `hardswish` in the call
        assert "Hardswish: {layers: hardswish}" in argument.hint and "pass Hardswish" in argument.hint
        assert "Relu: {layers: relu}" in default.hint


def test_a_name_that_is_no_op_keeps_its_suggestion() -> None:
    program = archc.load("spec.yaml", text=OP_AS_VALUE.replace("act=hardswish", "act=hardwish"))
    with pytest.raises(ArchcError) as err:
        archc.analyze(program)
    assert "is an op" not in (err.value.diagnostics[-1].hint or "")


def test_ops_passed_in_holder_blocks_agree_with_the_oracle() -> None:
    agree(archc.load("holders.yaml", text=HOLDERS))


def test_emitted_holders_are_stable_and_ruff_clean(tmp_path: Path) -> None:
    program = archc.load("holders.yaml", text=HOLDERS)
    source = archc.compile_source(program)
    assert source == archc.compile_source(archc.load("holders.yaml", text=HOLDERS))
    assert "norm: type[nn.Module] = BatchNorm" in source and "act: type[nn.Module] = ReLU" in source
    if shutil.which("ruff") is None:
        pytest.skip("ruff comes with the test extra")
    (tmp_path / "holders.py").write_text(source)
    proc = subprocess.run(["ruff", "check", "--isolated", "--select", "E,F,W,B,UP,SIM", "--line-length", "120",
                           str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_a_hardswish_holder_computes_torchvisions_conv2d_norm_activation() -> None:
    from torchvision.ops import Conv2dNormActivation

    torch.manual_seed(0)
    reference = Conv2dNormActivation(4, 8, 3, activation_layer=nn.Hardswish)
    with torch.no_grad():
        bn = reference[1]
        bn.running_mean.normal_(0, 0.5)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.normal_(1, 0.2)
        bn.bias.normal_(0, 0.2)
    # the blocks above, with torchvision's block as the network's only layer
    text = HOLDERS.split("\nlayers:\n")[0] + "\nlayers:\n  - c: ConvNormAct(8, act=Hardswish)\n"
    model = archc.build(archc.load("conv2d_norm_activation.yaml", text=text)).c
    # the holder block adds one level to the norm's keys (norm.0.weight for torchvision's 1.weight)
    ours, theirs = model.state_dict(), reference.state_dict()
    assert [k.replace("conv.", "0.").replace("norm.0.", "1.") for k in ours] == list(theirs)
    model.load_state_dict(dict(zip(ours, theirs.values())), strict=True)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters())
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), reference.eval()(x))
        assert torch.equal(model.train()(x), reference.train()(x))
    for a, b in zip(model.state_dict().values(), reference.state_dict().values()):
        assert torch.equal(a, b)  # batch norm statistics updated alike


NETWORK_PARAMETER = """\
archc: 1
name: network_parameter
input: [4, 8, 8]
params: {act: block = ReLU}
blocks:
  ReLU:
    layers: relu
  Hardswish:
    layers: hardswish
layers:
  - c: conv(8, 3)
  - a: act()
"""


def test_an_op_given_for_a_network_block_parameter_gets_the_hint_from_set_and_python() -> None:
    program = archc.load("spec.yaml", text=NETWORK_PARAMETER)
    assert archc.analyze(program, act="Hardswish").totals.params == 4 * 8 * 9 + 8
    with pytest.raises(ArchcError) as err:
        archc.analyze(program, act="hardswish")  # a Python keyword argument: a str naming an op
    (d,) = err.value.diagnostics
    assert d.code == "E202" and "pass Hardswish" in d.hint
    with pytest.raises(ArchcError) as err:
        archc.analyze(program, act="Hardswsh")  # naming nothing: no word about ops
    (d,) = err.value.diagnostics
    assert d.code == "E202" and "is an op" not in d.hint
