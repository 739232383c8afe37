"""The ops of issue 17's first batch inside real torchvision blocks, and in the inference variant.

- MobileNetV3's ``InvertedResidual`` (hardswish, a squeeze-and-excitation gate with
  hardsigmoid and ``merge: mul``) written as a spec has torchvision's state_dict keys, loads
  torchvision's weights strictly, and computes exactly what torchvision's block computes, in
  eval mode and in training;
- ConvNeXt's layer scale is a parameter of the block itself (``<block>.layer_scale``), equal
  to torchvision's ``CNBlock`` one at initialisation;
- the inference variant drops stochastic depth (and its class), keeps layer scales and gates,
  and takes a plain network's weights even where dropping an entry renumbered the block that
  holds a layer scale;
- a layer scale where only a module can stand is refused with E720, never written wrong.
"""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import archc
from archc.diagnostics import ArchcError

from .agreement import agree
from .test_inference import compare

MBV3_BLOCK = """
archc: 1
name: mbv3_block
input: [16, 12, 12]
blocks:
  ConvBNHS:      # torchvision's Conv2dNormActivation with nn.Hardswish
    params: {out: int, kernel: int, stride: 1, groups: 1}
    layers:
      - "conv(out, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups, bias=false)"
      - bn(eps=0.001, momentum=0.01)
      - hardswish
  ConvBN:        # ... without activation
    params: {out: int}
    layers: ["conv(out, 1, bias=false)", "bn(eps=0.001, momentum=0.01)"]
  SqueezeExcitation:
    params: {squeeze: int}
    layers:
      - avgpool: adaptive_avgpool(1)
      - fc1: conv(squeeze, 1)
      - activation: relu
      - fc2: conv(input.channels, 1)
      - scale_activation: hardsigmoid
      - {from: [input, scale_activation], merge: mul}
layers:
  - block: [ConvBNHS(64, 1), ConvBNHS(64, 3, stride=2, groups=64), SqueezeExcitation(16), ConvBN(24)]
"""


def _torchvision_block() -> nn.Module:
    from torchvision.models.mobilenetv3 import InvertedResidual, InvertedResidualConfig

    cnf = InvertedResidualConfig(16, 3, 64, 24, True, "HS", 2, 1, 1.0)
    return InvertedResidual(cnf, partial(nn.BatchNorm2d, eps=0.001, momentum=0.01))


def test_mobilenet_v3_inverted_residual_is_torchvisions() -> None:
    torch.manual_seed(0)
    reference = _torchvision_block()
    with torch.no_grad():  # statistics far from their initial values
        for m in reference.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2)
                m.bias.normal_(0, 0.2)
    program = archc.load("mbv3_block.yaml", text=MBV3_BLOCK)
    model = archc.build(program)
    assert set(model.state_dict()) == set(reference.state_dict())
    model.load_state_dict(reference.state_dict(), strict=True)
    totals = archc.analyze(program).totals
    assert totals.params == sum(p.numel() for p in reference.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        reference.eval()(torch.randn(1, 16, 12, 12))
    assert 2 * totals.macs == counter.get_total_flops()
    x = torch.randn(2, 16, 12, 12)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), reference.eval()(x))
        assert torch.equal(model.train()(x), reference.train()(x))
    for a, b in zip(model.state_dict().values(), reference.state_dict().values()):
        assert torch.equal(a, b)  # batch norm statistics updated alike


def test_layer_scale_is_a_parameter_of_its_block_like_torchvisions_cnblock() -> None:
    from torchvision.models.convnext import CNBlock

    spec = """
archc: 1
name: scaled
input: [8, 6, 6]
blocks:
  CNBlock:
    params: {dim: int, p: float}
    residual:
      body:
        - block: ["conv(dim, 7, padding=3, groups=dim)", "conv(dim, 1)"]
        - layer_scale: layer_scale(1e-6)
        - stochastic_depth: stochastic_depth(p)
layers:
  - b1: CNBlock(8, 0.1)
"""
    model = archc.build(archc.load("scaled.yaml", text=spec))
    ours = model.b1.state_dict()
    theirs = CNBlock(8, 1e-6, 0.1).state_dict()
    assert "layer_scale" in ours and "b1.layer_scale" in model.state_dict()
    assert ours["layer_scale"].shape == theirs["layer_scale"].shape == (8, 1, 1)
    assert torch.equal(ours["layer_scale"], theirs["layer_scale"])
    assert isinstance(model.b1.layer_scale, nn.Parameter) and "layer_scale" not in dict(model.b1.named_children())
    assert repr(model.b1.stochastic_depth) == repr(CNBlock(8, 1e-6, 0.1).stochastic_depth)


RENUMBERED = """
archc: 1
name: renumbered
input: [4, 8, 8]
blocks:
  SE:
    layers:
      - avgpool: adaptive_avgpool(1)
      - fc1: conv(2, 1)
      - activation: relu
      - fc2: conv(input.channels, 1)
      - scale_activation: hardsigmoid
      - {from: [input, scale_activation], merge: mul}
  Scaled:
    params: {p: float}
    residual:
      body:
        - block: ["conv(input.channels, 3, padding=1, bias=false)", bn(), hardswish]
        - layer_scale: layer_scale(0.5)
        - stochastic_depth: stochastic_depth(p)
layers:
  - stem: [conv(8, 3, padding=1, bias=false), bn(), hardswish]
  - features: [dropout(0.2), Scaled(0.1), SE(), channel_shuffle(2), Scaled(0.0)]
"""


def test_inference_variant_drops_stochastic_depth_and_keeps_scales() -> None:
    program = archc.load("renumbered.yaml", text=RENUMBERED)
    source = archc.compile_source(program, inference=True)
    assert "StochasticDepth" not in source and "Dropout" not in source
    assert "self.layer_scale = nn.Parameter(torch.ones(in_channels, 1, 1) * 0.5)" in source
    assert "out = self.layer_scale * out" in source and "out = x * scale_activation" in source
    assert "'features.1': 'features.0'" in source  # the block holding a layer scale moved
    plain_source = archc.compile_source(program)
    assert "class StochasticDepth(nn.Module):" in plain_source
    error, fast = compare(program, (4, 8, 8))
    assert error < 1e-5
    assert "features.0.layer_scale" in fast.state_dict()


@pytest.mark.parametrize("entry", ["features: [conv(4, 1), layer_scale(0.1)]",
                                   "features: [conv(4, 1), s: layer_scale(0.1)]",
                                   "features: {repeat: 2, each: [layer_scale]}"])
def test_a_layer_scale_in_a_numbered_list_is_refused(entry: str) -> None:
    """Where an nn.Sequential needs a module, validation refuses it (E204, at the call), never
    the compiler later."""
    spec = f"archc: 1\nname: bad\ninput: [4, 8, 8]\nlayers:\n  - {entry}\n"
    with pytest.raises(ArchcError, match=r"E204.*layer_scale is a parameter its module holds") as err:
        archc.analyze(archc.load("bad.yaml", text=spec))
    assert ":5:" in str(err.value)  # the spec line


def test_a_repeat_of_eval_identities_only_compiles_in_the_inference_variant() -> None:
    """Found by the differential fuzzer once it drew stochastic depth: a repeat whose body is only
    dropout-like ops is empty in the inference variant (it was an IndentationError, exit 70),
    in a module body, in a block with a symbolic count, and in a list built in __init__."""
    spec = """
archc: 1
name: rep
input: [1, 6, 6]
blocks:
  B:
    params: {n: int}
    layers:
      - n1: sigmoid
      - repeat: n
        each: [stochastic_depth(0.3), dropout(0.3)]
      - fc: conv(2, 1)
layers:
  - n1: sigmoid
  - repeat: 3
    each: [stochastic_depth(0.3), stochastic_depth(0.3)]
  - seq: [conv(2, 1), {repeat: 2, each: [dropout(0.3)]}, relu]
  - b: B(2)
  - c: B(0)
"""
    agree(archc.load("rep.yaml", text=spec))


def test_a_mul_of_branches_behind_when_multiplies_the_factors_present() -> None:
    spec = """
archc: 1
name: gated
input: [3, 6, 6]
blocks:
  Gate:
    params: {flag: bool}
    parallel:
      a: conv(4, 3, padding=1)
      b: [conv(4, 1), hardsigmoid]
      c: {when: flag, layers: [adaptive_avgpool(1), conv(4, 1), sigmoid]}
    merge: mul
layers:
  - g1: Gate(true)
  - g2: Gate(false)
"""
    program = archc.load("gated.yaml", text=spec)
    source = archc.compile_source(program)
    assert "for factor in branches[1:]:" in source
    agree(program)


def test_a_block_only_named_as_a_default_gets_an_inference_class() -> None:
    """Found by the differential fuzzer with the new ops drawn: a block that is only a
    parameter's default (never built) had no class in the inference variant (KeyError, exit 70)."""
    spec = """
archc: 1
name: unused_default
input: [3, 6, 6]
blocks:
  Inner:
    params: {width: int}
    layers: [conv(width, 1), dropout, stochastic_depth(0.1)]
  Outer:
    params: {width: int, inner: Inner}
    layers: [conv(width, 1), relu]
layers:
  - b: Outer(4)
"""
    program = archc.load("unused_default.yaml", text=spec)
    source = archc.compile_source(program, inference=True)
    inner = source.split("class Inner")[1].split("class ")[0]
    assert "Dropout" not in inner and "StochasticDepth" not in source
    agree(program)


# --- emitter bugs the differential fuzzer drew once the generator drew the new ops (on main too) -------


def test_wrapping_a_parenthesised_expression_adds_no_comma() -> None:
    """A long line whose last parentheses group an expression (not a call) was wrapped with a
    trailing comma, which made the size a tuple (TypeError in build)."""
    import ast
    import textwrap

    from archc.emit.format import wrap

    line = ("        self.hidden = nn.Linear(in_channels if depth > 0 and flag else max(width - 1, 1) * 2 + "
            "(max(width - 1, 1) if depth > 0 and flag else 0), 6)")
    wrapped = wrap(line)
    assert len(wrapped) > 1 and all(len(x) <= 110 for x in wrapped)
    assert ast.dump(ast.parse(textwrap.dedent("\n".join(wrapped)))) == ast.dump(ast.parse(line.strip()))


def test_a_shared_module_first_used_under_a_condition_exists_where_it_fails() -> None:
    """An unnamed relu used inside a `when:` group and again after it is one shared module; it
    was built only where the condition held (AttributeError in forward where it did not)."""
    spec = """
archc: 1
name: shared
input: [1, 6, 6]
blocks:
  B0:
    params: {width: int, flag: true}
    layers:
      - c1: conv(width, 1)
      - {when: flag, layers: [relu]}
      - scale: layer_scale(0.5)
      - relu
layers:
  - n1: B0(2, flag=false)
  - n2: B0(3)
"""
    agree(archc.load("shared.yaml", text=spec))
