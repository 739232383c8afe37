"""Each op's shape rule is one piece of code for numbers and for symbols.

On every sample of tests/ops/test_ops_vs_torch.py (so an op added with samples is
checked too):

- ``output_shape`` on the sample's numbers equals ``infer`` and the shape torch itself
  gives;
- with the input's sizes as symbols (``in_channels``, ``in_height``, ...), the symbolic
  shape evaluated at the sample's sizes is the same shape;
- with every attribute the rule can follow symbolically as a symbol too (ints and
  booleans, list elements one by one), the same; the attributes that cannot be symbols
  are listed here, and must refuse with NotSymbolic rather than answer;
- ``torch_args`` passes symbols through: evaluated, it gives the concrete arguments.

One symbolic shape per op is printed and compared with the text a person would write.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from archc.ops import registry
from archc.ops.base import REFUSED, Op
from archc.ops.chunk import ChunkAttrs
from archc.ops.conv import ConvAttrs
from archc.ops.permute import PermuteAttrs
from archc.ops.pool import AdaptiveAttrs, AvgPoolAttrs, MaxPoolAttrs
from archc.ops.reshape import PadAttrs
from archc.ops.transpose import ConvTransposeAttrs
from archc.ops.upsample import UpsampleAttrs
from archc.sym import NotSymbolic, Sym, SymbolicBranch, evaluate, to_python

from .test_ops_vs_torch import CASES, _attrs

IDS = [f"{c[0]}:{c[1]}" for c in CASES]
DIMS = {1: ("features",), 2: ("channels", "length"), 3: ("channels", "height", "width")}

# Attributes whose value decides the shape's structure (which dimension): a symbol there is
# refused with NotSymbolic. Every other int or bool attribute must work as a symbol.
NOT_SYMBOLIC = {("concat", "dim"), ("flatten", "start_dim"), ("flatten", "end_dim"), ("permute", "dims"),
                ("chunk", "dim"),
                ("upsample", "scale_factor")}  # a parameter may hold a fraction


def symbolic_ins(shapes: list[tuple[int, ...]]) -> tuple[tuple[Sym, ...], dict[str, int]]:
    """The inputs with every size a symbol (``in_height``; ``x1_height`` for a merge's second
    input), and the sample's value of each symbol."""
    ins, env = [], {}
    for i, shape in enumerate(shapes):
        prefix = "in" if len(shapes) == 1 else f"x{i}"
        names = [f"{prefix}_{d}" for d in DIMS[len(shape)]]
        ins.append(tuple(Sym(n) for n in names))
        env.update(zip(names, shape))
    return tuple(ins), env


def _symbol(name: str, value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, (bool, int)):
        env[name] = value
        return Sym(name, boolean=isinstance(value, bool))
    if isinstance(value, tuple):
        return tuple(_symbol(f"{name}_{k}", v, env) for k, v in enumerate(value))
    return value  # floats, strings, None: not sizes


def symbolic_attrs(op: Op, attrs: Any, skip: set[str] = frozenset()) -> tuple[Any, dict[str, Any]]:
    """The attributes with every int and bool (list elements one by one) a symbol, but ``skip``."""
    env: dict[str, Any] = {}
    values = {k: v if k in skip or (op.name, k) in NOT_SYMBOLIC else _symbol(k, v, env) for k, v in attrs}
    return type(attrs).model_construct(**values), env


def concrete(value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, tuple):
        return tuple(concrete(v, env) for v in value)
    if isinstance(value, dict):
        return {k: concrete(v, env) for k, v in value.items()}
    return evaluate(value, env)


def _torch_shape(oracle: Any, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    xs = [torch.zeros(1, *s) for s in shapes]
    module = oracle()
    with torch.no_grad():
        out = module.eval()(*xs) if isinstance(module, nn.Module) else module(xs)
    return tuple(out.shape[1:])


@pytest.mark.parametrize(("name", "call", "shapes", "oracle"), CASES, ids=IDS)
def test_concrete_rule_is_infer_and_torch(name: str, call: str, shapes: list[tuple[int, ...]], oracle: Any) -> None:
    op, attrs = _attrs(call)
    ins = tuple(shapes)
    assert op.output_shape(ins, attrs) == op.infer(ins, attrs) == _torch_shape(oracle, shapes)


@pytest.mark.parametrize(("name", "call", "shapes", "oracle"), CASES, ids=IDS)
def test_rule_on_symbolic_input_sizes(name: str, call: str, shapes: list[tuple[int, ...]], oracle: Any) -> None:
    op, attrs = _attrs(call)
    ins, env = symbolic_ins(shapes)
    out = op.output_shape(ins, attrs)
    assert concrete(out, env) == op.infer(tuple(shapes), attrs)


@pytest.mark.parametrize(("name", "call", "shapes", "oracle"), CASES, ids=IDS)
def test_rule_on_symbolic_inputs_and_attributes(name: str, call: str, shapes: list[tuple[int, ...]],
                                                oracle: Any) -> None:
    op, attrs = _attrs(call)
    ins, env = symbolic_ins(shapes)
    sym_attrs, attr_env = symbolic_attrs(op, attrs)
    env.update(attr_env)
    assert concrete(op.output_shape(ins, sym_attrs), env) == op.infer(tuple(shapes), attrs)
    args, kwargs = op.torch_args(ins, sym_attrs)  # torch_args passes symbols through
    assert (concrete(args, env), concrete(kwargs, env)) == op.torch_args(tuple(shapes), attrs)


@pytest.mark.parametrize(("name", "call", "shapes", "oracle"),
                         [c for c in CASES if any((c[0], k) in NOT_SYMBOLIC for k, _ in _attrs(c[1])[1])],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_structural_attributes_refuse_symbols(name: str, call: str, shapes: list[tuple[int, ...]],
                                              oracle: Any) -> None:
    op, attrs = _attrs(call)
    for key, _ in attrs:
        if (name, key) in NOT_SYMBOLIC:
            with pytest.raises(NotSymbolic, match=key):
                op.output_shape(tuple(shapes), type(attrs).model_construct(**{**dict(attrs), key: Sym(key)}))


def test_a_list_attribute_given_as_one_symbol_is_refused() -> None:
    op = registry().get("pad")
    with pytest.raises(NotSymbolic, match="padding"):
        op.output_shape(((3, 4, 4),), PadAttrs.model_construct(padding=Sym("padding")))


S = Sym
# op -> (attributes, input ranks, the symbolic output shape as a person would write it)
PRINTED: dict[str, tuple[Any, tuple[int, ...], str]] = {
    "conv": (ConvAttrs.model_construct(out=S("out"), kernel=S("kernel"), stride=S("stride"), padding=S("padding"),
                                       dilation=S("dilation")), (3,),
             "out, (in_height + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1, "
             "(in_width + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1"),
    "conv1d": (ConvAttrs.model_construct(out=S("planes") * 4, kernel=3, stride=2, padding=1), (2,),
               "planes * 4, (in_length - 1) // 2 + 1"),
    "linear": (None, (1,), "out"),
    "bn": (None, (3,), "in_channels, in_height, in_width"),
    "bn1d": (None, (2,), "in_channels, in_length"),
    "lrn": (None, (3,), "in_channels, in_height, in_width"),
    "maxpool": (MaxPoolAttrs.model_construct(kernel=3, stride=2, padding=0, dilation=1, ceil_mode=True), (3,),
                "in_channels, (in_height - 2) // 2 if (in_height - 2) // 2 * 2 >= in_height "
                "else (in_height - 2) // 2 + 1, (in_width - 2) // 2 if (in_width - 2) // 2 * 2 >= in_width "
                "else (in_width - 2) // 2 + 1"),
    "avgpool": (AvgPoolAttrs.model_construct(kernel=S("kernel"), stride=None, padding=0, ceil_mode=False), (3,),
                "in_channels, (in_height - kernel) // kernel + 1, (in_width - kernel) // kernel + 1"),
    "adaptive_avgpool": (AdaptiveAttrs.model_construct(output_size=S("size")), (3,), "in_channels, size, size"),
    "adaptive_maxpool": (AdaptiveAttrs.model_construct(output_size=(3, None)), (3,), "in_channels, 3, in_width"),
    "relu": (None, (3,), "in_channels, in_height, in_width"),
    "relu6": (None, (2,), "in_channels, in_length"),
    "leaky_relu": (None, (1,), "in_features"),
    "tanh": (None, (1,), "in_features"),
    "sigmoid": (None, (1,), "in_features"),
    "gelu": (None, (1,), "in_features"),
    "silu": (None, (3,), "in_channels, in_height, in_width"),
    "softmax": (None, (1,), "in_features"),
    "log_softmax": (None, (2,), "in_channels, in_length"),
    "dropout": (None, (1,), "in_features"),
    "dropout2d": (None, (3,), "in_channels, in_height, in_width"),
    "flatten": (None, (3,), "in_channels * in_height * in_width"),
    "identity": (None, (3,), "in_channels, in_height, in_width"),
    "pad": (PadAttrs.model_construct(padding=(S("left"), S("right"), 1, 1, 0, S("extra"))), (3,),
            "in_channels + extra, in_height + 2, in_width + left + right"),
    "channel_affine": (None, (3,), "in_channels, in_height, in_width"),
    "concat": (None, (3, 3, 3), "x0_channels + x1_channels + x2_channels, x0_height, x0_width"),
    "add": (None, (2, 2), "x0_channels, x0_length"),
    "group_norm": (None, (3,), "in_channels, in_height, in_width"),
    "layer_norm": (None, (1,), "in_features"),
    "layer_norm2d": (None, (3,), "in_channels, in_height, in_width"),
    "permute": (PermuteAttrs.model_construct(dims=(0, 2, 3, 1)), (3,), "in_height, in_width, in_channels"),
    "upsample": (UpsampleAttrs.model_construct(size=None, scale_factor=(2, 1.5), mode="nearest",
                                               align_corners=None), (3,),
                 "in_channels, in_height * 2, in_width * 3 // 2"),
    "conv_transpose": (ConvTransposeAttrs.model_construct(out=S("out"), kernel=2, stride=S("stride"), padding=0,
                                                          output_padding=S("extra"), dilation=1), (3,),
                       "out, (in_height - 1) * stride + extra + 2, (in_width - 1) * stride + extra + 2"),
    # broadcast sizes are equal or 1, so the larger: printed for sizes no rule can compare
    "mul": (None, (3, 3), "max(x0_channels, x1_channels), max(x0_height, x1_height), max(x0_width, x1_width)"),
    "hardswish": (None, (3,), "in_channels, in_height, in_width"),
    "hardsigmoid": (None, (1,), "in_features"),
    "channel_shuffle": (None, (3,), "in_channels, in_height, in_width"),
    "stochastic_depth": (None, (3,), "in_channels, in_height, in_width"),
    "layer_scale": (None, (2,), "in_channels, in_length"),
    "chunk": (ChunkAttrs.model_construct(chunks=3, index=1, dim=1), (3,),
              "min((in_channels + 2) // 3, in_channels - (in_channels + 2) // 3), in_height, in_width"),
}


@pytest.mark.parametrize("name", sorted(PRINTED))
def test_symbolic_shape_prints_as_written(name: str) -> None:
    op = registry().get(name)
    attrs, ranks, text = PRINTED[name]
    if attrs is None:  # the defaults, with ``out`` a symbol where the op has one
        fields = op.Attrs.model_fields
        attrs = op.Attrs.model_construct(**({"out": Sym("out")} if "out" in fields else {}))
    ins, _ = symbolic_ins([(0,) * r for r in ranks])
    assert ", ".join(to_python(d) for d in op.output_shape(ins, attrs)) == text


def test_every_op_has_one_shape_rule_that_works_on_symbols() -> None:
    """infer is never overridden (checks go in check, sizes in output_shape), and every op's
    rule runs on symbolic input sizes and is printed above."""
    overridden = [op.name for op in registry() if type(op).infer is not Op.infer]
    assert not overridden, f"ops overriding infer instead of check/output_shape: {overridden}"
    missing = [op.name for op in registry() if op.name not in PRINTED]
    assert not missing, f"ops without a printed symbolic shape: {missing}"
    covered = {name for name, *_ in CASES}
    assert {op.name for op in registry()} <= covered


@pytest.mark.parametrize(("name", "call", "shapes", "oracle"), CASES, ids=IDS)
def test_rule_on_inputs_of_any_rank_sizes_or_refuses(name: str, call: str, shapes: list[tuple[int, ...]],
                                                     oracle: Any) -> None:
    """Run without its check (on sizes written once, archc/ir/define.py), a rule given an input of
    another rank than it takes either sizes it or raises what ops.base.REFUSED names: a permute of
    four dims on a rank-1 input raised IndexError, an internal error once no walk lowered such a
    spec instead."""
    op, attrs = _attrs(call)
    for rank in range(1, 6):
        for sizes in ((1,) * rank, (3,) * rank, tuple(Sym(f"s{k}") for k in range(rank))):
            try:
                op.output_shape((sizes,) * len(shapes), attrs)
            except (*REFUSED, NotSymbolic, SymbolicBranch):
                pass
