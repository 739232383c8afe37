"""``channel_affine``, the one op whose module archc writes itself (``ChannelAffine``), against
torchvision's own code: the class every generated module defines computes what
``GoogLeNet._transform_input`` computes, bit for bit, with the constants specs/googlenet.yaml
writes; and the facts the op declares hold for that class (the generic tests in this folder
measure the hand-written oracle of test_ops_vs_torch.py).
"""

from __future__ import annotations

import ast
import math
import types

import pytest
import torch
import torchvision

import archc
from archc.ops import ShapeError, registry

from ..measure import inference_peak, saved_bytes
from .test_ops_vs_torch import _attrs, torch_class

OP = registry().get("channel_affine")
# torchvision/models/googlenet.py, GoogLeNet._transform_input: mean (0.485, 0.456, 0.406), std
# (0.229, 0.224, 0.225), and x_c * (std_c / 0.5) + (mean_c - 0.5) / 0.5, in Python floats
TORCHVISION_SCALE = (0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5)
TORCHVISION_SHIFT = ((0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5, (0.406 - 0.5) / 0.5)


def googlenet_transform() -> torch.nn.Module:
    """The ``transform`` module of ``archc.build("googlenet", transform_input=True)``."""
    model = archc.build("googlenet", input=(3, 32, 32), transform_input=True)
    assert isinstance(model.transform, torch.nn.Module)
    return model.transform


def torchvision_transform(x: torch.Tensor) -> torch.Tensor:
    """torchvision's own method, on a stand-in ``self`` that has only the flag it reads."""
    return torchvision.models.GoogLeNet._transform_input(types.SimpleNamespace(transform_input=True), x)


def test_googlenet_constants_are_torchvisions_to_the_last_bit() -> None:
    node = archc.lower("googlenet", transform_input=True).nodes["transform"]
    assert node.attrs.scale == TORCHVISION_SCALE  # float64, exactly
    assert node.attrs.shift == TORCHVISION_SHIFT
    # rounded decimals would do in float32 (not in float64): what docs/ops.md says
    decimals = (torch.tensor([0.458, 0.448, 0.45]), torch.tensor([-0.03, -0.088, -0.188]))
    assert torch.equal(decimals[0], torch.tensor(TORCHVISION_SCALE))
    assert torch.equal(decimals[1], torch.tensor(TORCHVISION_SHIFT))
    assert TORCHVISION_SHIFT[0] != -0.03


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
def test_the_emitted_class_is_torchvisions_transform_bit_for_bit(dtype: torch.dtype) -> None:
    transform = googlenet_transform().to(dtype)
    gen = torch.Generator().manual_seed(0)
    # normalised images, and values far outside that range, where rounding differences show
    x = torch.cat([torch.randn(4, 3, 17, 19, generator=gen), 1e4 * torch.randn(2, 3, 17, 19, generator=gen)])
    x = x.to(dtype)
    with torch.no_grad():
        assert torch.equal(transform(x), torchvision_transform(x))
    x.requires_grad_(True)  # and the gradient autograd computes through it
    ours = torch.autograd.grad(transform(x).square().sum(), x)[0]
    theirs = torch.autograd.grad(torchvision_transform(x).square().sum(), x)[0]
    assert torch.equal(ours, theirs)


def test_the_module_has_no_state_and_shows_its_constants() -> None:
    transform = googlenet_transform()
    assert list(transform.parameters()) == list(transform.buffers()) == []
    assert transform.state_dict() == {}
    assert repr(transform) == f"ChannelAffine(scale={TORCHVISION_SCALE}, shift={TORCHVISION_SHIFT})"
    with_transform = archc.build("googlenet", input=(3, 32, 32), transform_input=True).state_dict()
    without = archc.build("googlenet", input=(3, 32, 32)).state_dict()
    assert [(k, v.shape) for k, v in with_transform.items()] == [(k, v.shape) for k, v in without.items()]


@pytest.mark.parametrize("call, shape", [("channel_affine([0.458, 0.448, 0.45], [-0.03, -0.088, -0.188])", (3, 6, 5)),
                                         ("channel_affine([2.0, -1.0], [0.5, 0.0])", (2, 9)),
                                         ("channel_affine([3.0], [1.0])", (1,))])
def test_memory_facts_hold_for_the_emitted_class(call: str, shape: tuple[int, ...]) -> None:
    op, attrs = _attrs(call)
    module = torch_class(op)(*op.torch_args((shape,), attrs)[0])
    batch = 2
    out = op.infer((shape,), attrs)
    fresh = batch * math.prod(out) * 4
    workspace = sum(e.elements * (batch if e.per_sample else 1) * (e.itemsize or 4)
                    for e in op.workspace((shape,), out, attrs))
    assert not op.aliases_input(attrs, False)
    assert inference_peak(module, [torch.randn(batch, *shape)]) == fresh + workspace
    assert op.saved((shape,), out, attrs, False) == ()
    leaf = torch.randn(batch, *shape, requires_grad=True)
    assert saved_bytes(module, [leaf * 1]) == 0


@pytest.mark.parametrize("call, shape, arg", [("channel_affine([1.0, 2.0], [0.0, 0.0, 0.0])", (2, 4, 4), "shift"),
                                              ("channel_affine([1.0], [0.0])", (3, 4, 4), "scale"),
                                              ("channel_affine([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])", (4,), "scale")])
def test_one_number_per_channel(call: str, shape: tuple[int, ...], arg: str) -> None:
    op, attrs = _attrs(call)
    with pytest.raises(ShapeError) as err:
        op.infer((shape,), attrs)
    assert (err.value.code, err.value.arg) == ("E505", arg)
    assert f"{shape[0]} channel" in err.value.message and err.value.hint


def test_the_error_points_at_the_list_given_positionally(cli, spec_file) -> None:
    path = spec_file("""
        archc: 1
        name: grey
        input: [1, 8, 8]
        layers:
          - normalise: channel_affine([1.0, 2.0], [0.0, 0.0])
    """)
    result = cli("validate", path)
    assert result.code == 2
    assert f"{path}:5:31: error[E505]: channel_affine: scale has 2 numbers, but the 1×8×8 input has 1 channel" \
        in result.err
    assert "hint: give one scale per channel: a list of 1 number\n" in result.err


def test_the_class_is_written_only_where_the_network_can_build_it() -> None:
    assert "class ChannelAffine" not in archc.compile_source("resnet18")
    source = archc.compile_source("googlenet")  # transform_input=False, but GoogLeNet(transform_input=True) works
    assert source.count("class ChannelAffine(nn.Module):") == 1
    namespace: dict[str, object] = {}
    exec(compile(source, "googlenet.py", "exec"), namespace)
    net = namespace["GoogLeNet"](transform_input=True)
    assert type(net.transform).__name__ == "ChannelAffine"
    assert namespace["GoogLeNet"]().transform is None


def test_a_block_of_the_same_name_is_renamed() -> None:
    spec = """
archc: 1
name: clash
input: [3, 8, 8]
blocks:
  ChannelAffine:
    params: {width: int}
    layers: ["conv(width, 3, padding=1)", relu]
layers:
  - norm: "channel_affine([2.0, 2.0, 2.0], [-1.0, -1.0, -1.0])"
  - body: ChannelAffine(4)
"""
    program = archc.load("clash.yaml", text=spec)
    source = archc.compile_source(program)
    classes = [n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef)]
    assert classes[0] == "ChannelAffine" and len(set(classes)) == len(classes) == 3, classes
    model = archc.build(program)
    assert type(model.norm).__name__ == "ChannelAffine" and type(model.body).__name__ != "ChannelAffine"
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), model.body(x * 2.0 - 1.0))
