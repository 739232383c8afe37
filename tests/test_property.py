"""Property: for random valid specs, archc's figures equal what torch measures.

Hypothesis draws a network structure; from it this file writes (a) a YAML spec and
(b) the equivalent torch module, built directly by the test (not by archc). archc's
inferred output shape, parameter count, MACs and the module paths that hold
parameters must equal torch's output shape, ``sum(p.numel())``, ``FlopCounterMode``
total / 2 and ``named_parameters()``. Training-only heads hold parameters but do
not run in eval mode, so they count in parameters and not in MACs, in both.

The structures mix sequences (named lists), parallel branches merged by concat or
add, residuals with identity or projection shortcuts, repeats using the loop index,
module blocks with parameters, inline blocks spliced into a list, ``from:`` merges
of named points, and side heads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import archc

EXAMPLES = int(os.environ.get("ARCHC_PROPERTY_EXAMPLES", "300"))

BLOCKS = """\
blocks:
  Unit:
    params: {width: int, stride: 1}
    residual:
      body:
        - conv1: conv(width, 3, stride=stride, padding=1, bias=false)
        - bn1: bn()
        - relu
        - conv2: conv(width, 3, padding=1, bias=false)
        - bn2: bn()
      shortcut:
        downsample: [conv(width, 1, stride=stride, bias=false), bn()]
      then: relu
  ConvBN:
    params: {width: int, kernel: 3}
    layers: [conv(width, kernel, padding=kernel // 2), bn(), relu]
  Pair:
    inline: true
    params: {width: int}
    layers: [conv(width, 3, padding=1), relu]
  Mixed:
    params: {a: int, b: int}
    parallel:
      left: ConvBN(a, 1)
      right: [ConvBN(b, 1), ConvBN(b, 3)]
      pool: [maxpool(3, stride=1, padding=1), conv(a, 1)]
"""


# --- torch side: modules mirroring the YAML names ----------------------------------------


class TUnit(nn.Module):
    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = None
        if stride != 1 or cin != width:
            self.downsample = nn.Sequential(nn.Conv2d(cin, width, 1, stride, bias=False), nn.BatchNorm2d(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


def conv_bn(cin: int, width: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, width, kernel, padding=kernel // 2), nn.BatchNorm2d(width), nn.ReLU())


class TMixed(nn.Module):
    def __init__(self, cin: int, a: int, b: int):
        super().__init__()
        self.left = conv_bn(cin, a, 1)
        self.right = nn.Sequential(conv_bn(cin, b, 1), conv_bn(b, b, 3))
        self.pool = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(cin, a, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.left(x), self.right(x), self.pool(x)], 1)


class TBranches(nn.Module):
    def __init__(self, branches: dict[str, nn.Module], merge: str):
        super().__init__()
        for name, module in branches.items():
            self.add_module(name, module)
        self.merge = merge

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [m(x) for m in self.children()]
        return torch.cat(outs, 1) if self.merge == "concat" else sum(outs[1:], outs[0])


@dataclass
class Step:
    name: str
    module: nn.Module | None
    refs: tuple[str, ...] = ()
    merge: str = "concat"
    head: bool = False


class TNet(nn.Module):
    """Runs named steps; `from` steps read named outputs; heads do not run in eval mode."""

    def __init__(self, steps: list[Step]):
        super().__init__()
        self.steps = steps
        for s in steps:
            if s.module is not None:
                self.add_module(s.name, s.module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        env: dict[str, torch.Tensor] = {"input": x}
        for s in self.steps:
            if s.head and not self.training:
                continue
            inp = x
            if s.refs:
                ins = [env[r] for r in s.refs]
                inp = ins[0] if len(ins) == 1 else (torch.cat(ins, 1) if s.merge == "concat" else sum(ins[1:], ins[0]))
            out = s.module(inp) if s.module is not None else inp
            env[s.name] = out
            if not s.head:
                x = out
        return x


# --- the generator ----------------------------------------------------------------------------


@dataclass
class Net:
    yaml: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    points: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # named outputs and their shapes
    shape: tuple[int, int, int] = (3, 16, 16)
    input_hw: tuple[int, int] = (16, 16)

    def add(self, name: str, yaml: str, module: nn.Module | None, shape: tuple[int, int, int], **step) -> None:
        self.yaml.append(f"  - {name}: {yaml}")
        self.steps.append(Step(name, module, **step))
        if not step.get("head"):  # a head's output is a side output: nothing reads it
            self.shape = shape
            self.points[name] = shape


def conv_out(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def pool_out(size: int, k: int, s: int, p: int, ceil: bool) -> int:
    out = (size + 2 * p - k + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


@st.composite
def networks(draw: st.DrawFn) -> tuple[str, TNet, tuple[int, int, int]]:
    h, w = draw(st.integers(8, 20)), draw(st.integers(8, 20))
    net = Net(shape=(3, h, w), input_hw=(h, w))
    n_steps = draw(st.integers(1, 6))
    for k in range(n_steps):
        c, h, w = net.shape
        name = f"n{k}"
        kind = draw(st.sampled_from(["conv", "act", "pool", "seq", "unit", "repeat", "parallel", "add", "mixed",
                                     "inline", "from", "head"]))
        width = draw(st.integers(1, 8))
        if kind == "conv":
            kern = draw(st.sampled_from([1, 3, 5]))
            stride = draw(st.sampled_from([1, 2]))
            pad = draw(st.sampled_from([0, kern // 2]))
            groups = draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0 and width * g % g == 0]))
            out = width * groups
            if min(h, w) + 2 * pad < kern:
                continue
            bias = draw(st.booleans())
            net.add(name, f"conv({out}, {kern}, stride={stride}, padding={pad}, groups={groups}, "
                          f"bias={str(bias).lower()})",
                    nn.Conv2d(c, out, kern, stride, pad, groups=groups, bias=bias),
                    (out, conv_out(h, kern, stride, pad), conv_out(w, kern, stride, pad)))
        elif kind == "act":
            op, module = draw(st.sampled_from([("relu", nn.ReLU()), ("tanh", nn.Tanh()), ("gelu", nn.GELU()),
                                               ("leaky_relu(0.1)", nn.LeakyReLU(0.1)), ("bn()", nn.BatchNorm2d(c)),
                                               ("dropout(0.3)", nn.Dropout(0.3)), ("identity", nn.Identity()),
                                               ("lrn(3)", nn.LocalResponseNorm(3))]))
            net.add(name, op, module, (c, h, w))
        elif kind == "pool":
            kern = draw(st.sampled_from([2, 3]))
            stride = draw(st.sampled_from([1, 2]))
            pad = draw(st.sampled_from([0, kern // 2]))
            ceil = draw(st.booleans())
            if min(h, w) + 2 * pad < kern:
                continue
            op = draw(st.sampled_from(["maxpool", "avgpool"]))
            cls = nn.MaxPool2d if op == "maxpool" else nn.AvgPool2d
            net.add(name, f"{op}({kern}, stride={stride}, padding={pad}, ceil_mode={str(ceil).lower()})",
                    cls(kern, stride, pad, ceil_mode=ceil),
                    (c, pool_out(h, kern, stride, pad, ceil), pool_out(w, kern, stride, pad, ceil)))
        elif kind == "seq":
            net.add(name, f"[conv({width}, 3, padding=1), bn(), relu]",
                    nn.Sequential(nn.Conv2d(c, width, 3, 1, 1), nn.BatchNorm2d(width), nn.ReLU()), (width, h, w))
        elif kind == "unit":
            stride = draw(st.sampled_from([1, 2]))
            net.add(name, f"Unit({width}, stride={stride})", TUnit(c, width, stride),
                    (width, conv_out(h, 3, stride, 1), conv_out(w, 3, stride, 1)))
        elif kind == "repeat":
            reps, step = draw(st.integers(0, 3)), draw(st.integers(0, 2))
            units, cin = [], c
            hh, ww = h, w
            for i in range(reps):
                stride = 2 if i == 0 else 1
                units.append(TUnit(cin, width + i * step, stride))
                cin = width + i * step
                hh, ww = conv_out(hh, 3, stride, 1), conv_out(ww, 3, stride, 1)
            net.add(name, f"{{repeat: {reps}, each: 'Unit({width} + i * {step}, stride=2 if i == 0 else 1)'}}",
                    nn.Sequential(*units), (cin, hh, ww))
        elif kind in ("parallel", "add"):
            n = draw(st.integers(1, 3))
            widths = [width] * n if kind == "add" else [draw(st.integers(1, 6)) for _ in range(n)]
            kerns = [draw(st.sampled_from([1, 3, 5])) for _ in range(n)]
            pairs = list(enumerate(zip(widths, kerns)))
            yaml = ", ".join(f"b{j}: conv({wd}, {kk}, padding={kk // 2})" for j, (wd, kk) in pairs)
            merge = ", merge: add" if kind == "add" else ""
            branches = {f"b{j}": nn.Conv2d(c, wd, kk, padding=kk // 2) for j, (wd, kk) in pairs}
            module = TBranches(branches, "add" if kind == "add" else "concat")
            net.add(name, f"{{parallel: {{{yaml}}}{merge}}}", module,
                    (width if kind == "add" else sum(widths), h, w))
        elif kind == "mixed":
            a, b = draw(st.integers(1, 4)), draw(st.integers(1, 4))
            net.add(name, f"Mixed({a}, {b})", TMixed(c, a, b), (2 * a + b, h, w))
        elif kind == "inline":
            net.add(name, f"[Pair({width}), Pair({width + 1})]",
                    nn.Sequential(nn.Conv2d(c, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, width + 1, 3, padding=1), nn.ReLU()), (width + 1, h, w))
        elif kind == "from":
            same = [p for p, s in net.points.items() if s[1:] == (h, w)]
            if not same:
                continue
            refs = draw(st.lists(st.sampled_from(same), min_size=2, max_size=3))
            shapes = [net.points[r] for r in refs]
            merge = "add" if draw(st.booleans()) and len({s[0] for s in shapes}) == 1 else "concat"
            channels = shapes[0][0] if merge == "add" else sum(s[0] for s in shapes)
            net.add(name, f"{{from: [{', '.join(refs)}], merge: {merge}}}", None, (channels, h, w),
                    refs=tuple(refs), merge=merge)
        elif kind == "head":
            ref = draw(st.sampled_from(sorted(net.points) or ["input"])) if net.points else "input"
            cin = net.points.get(ref, net.shape)[0] if ref != "input" else 3
            net.add(name, f"{{from: {ref}, training_only: true, layers: [adaptive_avgpool(1), flatten, linear(5)]}}",
                    nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 5)), (5, 1, 1),
                    refs=(ref,), head=True)
    c, h, w = net.shape
    classes = draw(st.integers(1, 10))
    net.add("pool", "adaptive_avgpool(1)", nn.AdaptiveAvgPool2d(1), (c, 1, 1))
    net.add("flat", "flatten", nn.Flatten(), (c, 1, 1))
    net.add("fc", f"linear({classes})", nn.Linear(c, classes), (classes, 1, 1))
    spec = "\n".join(["archc: 1", "name: generated", f"input: [3, {net.input_hw[0]}, {net.input_hw[1]}]",
                      BLOCKS.rstrip(), "layers:", *net.yaml]) + "\n"
    return spec, TNet(net.steps), (3, *net.input_hw)


def _measure(model: nn.Module, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int, int]:
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(torch.randn(1, *shape))
    return tuple(out.shape[1:]), sum(p.numel() for p in model.parameters()), counter.get_total_flops()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_inferred_figures_equal_torch(case: tuple[str, TNet, tuple[int, ...]]) -> None:
    spec, model, input_shape = case
    program = archc.load("generated.yaml", text=spec)
    graph = archc.lower(program)
    report = archc.analyze(graph)
    shape, params, flops = _measure(model, input_shape)
    assert report.output_shape == shape, spec
    assert report.totals.params == params, spec
    assert 2 * report.totals.macs == flops, spec
    # the modules that hold parameters are named exactly as in the torch module
    torch_paths = {name.rsplit(".", 1)[0] for name, _ in model.named_parameters()}
    archc_paths = {n.id for n in graph.nodes.values() if n.op is not None and n.in_shapes is not None
                   and n.op.params(n.in_shapes, n.attrs) > 0}
    assert archc_paths == torch_paths, spec
    # and the module archc emits is that same network, state_dict included
    built = archc.build(program)
    assert _measure(built, input_shape) == (shape, params, flops), spec
    assert {k: tuple(v.shape) for k, v in built.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in model.state_dict().items()}, spec
