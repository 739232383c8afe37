"""Memory figures against torch, measured on the modules archc builds.

- Inference peak: torch's own allocations during ``model.eval()`` under ``torch.no_grad()``,
  followed storage by storage with a dispatch mode (tests/measure.py), plus the input
  batch, which the caller holds: must equal ``Report.memory(batch).inference_peak``.
- Saved activations: the distinct storages ``saved_tensors_hooks`` sees in a training-mode
  forward pass: must equal ``Report.memory(batch).saved_activations``.

Both run on every shipped torchvision-layout spec (at 64×64, to keep them quick; the
rules do not depend on the size) and on a small spec that exercises every liveness rule
and every op's memory rule in a network.
"""

from __future__ import annotations

import pytest
import torch

import archc
from archc.analysis.memory import DTYPES, OPTIMIZERS

from ..measure import inference_peak, saved_bytes
from .conftest import torchvision_specs

pytestmark = pytest.mark.usefixtures("one_thread")

BATCH = 2

# Residual blocks with and without projection, parallel branches merged by concat and by a
# three-way add, `from:` merges of earlier points, a training-only head reading a middle
# tensor, and ops whose memory is unusual: in-place silu and leaky_relu, relu6 that cannot
# be in place, lrn, an even 'same' convolution, reflection padding, dropout, softmax.
SPEC = """
archc: 1
name: memory_rules
input: [3, 20, 20]
blocks:
  Res:
    params: {c: int, stride: 1}
    residual:
      body: [c1: conv(c, 3, stride=stride, padding=1, bias=false), b1: bn(), relu, c2: conv(c, 3, padding=1),
             b2: bn()]
      shortcut: {downsample: [conv(c, 1, stride=stride, bias=false), bn()]}
      then: leaky_relu
layers:
  - stem: conv(8, 3, padding=1)
  - act: silu
  - enc1: Res(8)
  - lrn: lrn(3)
  - enc2: Res(16, stride=2)
  - post: relu  # enc2 is read again by 'up': not in place
  - cat: {parallel: {a: conv(8, 1), b: [maxpool(3, stride=1, padding=1), relu6, conv(8, 2, padding='same')]}}
  - sum:
      parallel: {a: conv(16, 1), b: conv(16, 3, padding=1, padding_mode='reflect'), c: avgpool(3, stride=1, padding=1)}
      merge: add
  - early: {from: enc1, training_only: true, layers: [adaptive_avgpool(1), flatten, linear(4)]}
  - up: {from: [sum, enc2], merge: concat, layers: [conv(8, 1), tanh]}
  - pool: adaptive_maxpool(2)
  - flatten
  - dropout: dropout(0.3)
  - fc: linear(6)
  - softmax
"""


# The ops of modern blocks (issue 17): a squeeze-and-excitation gate (a broadcasting mul that
# keeps both factors, in-place hardsigmoid), in-place hardswish, channel shuffle, and a
# ConvNeXt-style residual with a layer scale parameter and stochastic depth (p = 0 in one block:
# its output is its input, in training too).
MODERN = """
archc: 1
name: memory_modern
input: [3, 12, 12]
blocks:
  SE:
    params: {squeeze: int}
    layers:
      - avgpool: adaptive_avgpool(1)
      - fc1: conv(squeeze, 1)
      - activation: relu
      - fc2: conv(input.channels, 1)
      - scale_activation: hardsigmoid
      - {from: [input, scale_activation], merge: mul}
  CNBlock:
    params: {dim: int, p: float}
    residual:
      body:
        - block: [conv(dim, 3, padding=1, groups=dim), conv(dim, 1), hardswish]
        - layer_scale: layer_scale(1e-6)
        - stochastic_depth: stochastic_depth(p)
layers:
  - stem: conv(8, 3, padding=1)
  - bn: bn()
  - act: hardswish
  - se: SE(2)
  - shuffle: channel_shuffle(2)
  - b1: CNBlock(8, 0.5)
  - b2: CNBlock(8, 0.0)
  - head: [adaptive_avgpool(1), flatten, linear(4)]
"""


def test_modern_ops_in_a_network(tmp_path) -> None:
    path = tmp_path / "memory_modern.yaml"
    path.write_text(MODERN, encoding="utf-8")
    _check(str(path))


def _spec(tmp_path) -> str:
    path = tmp_path / "memory_rules.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return str(path)


def _check(spec: str, *, input: tuple[int, ...] | None = None) -> None:
    report = archc.analyze(spec, input=input)
    x = torch.randn(BATCH, *report.input_shape)
    torch.manual_seed(0)
    model = archc.build(spec, input=input)
    memory = report.memory(BATCH)
    assert memory is not None
    assert memory.inference_peak == inference_peak(model, [x]) + x.numel() * 4, "inference peak"
    assert memory.saved_activations == saved_bytes(model, [x]), "saved activations"


def test_every_liveness_rule_on_a_small_spec(tmp_path) -> None:
    _check(_spec(tmp_path))


# A point read by `from:` keeps a variable of its own in the emitted forward, whatever reads it
# (a parallel, a residual, a repeat, a list, a single layer); so does the join of named points
# (`q = r + c`). Each form once, read where the tensor it holds would otherwise be freed.
FROM_FORMS = {
    "parallel": "{from: a, parallel: {x: conv(8, 1), y: conv(8, 3, padding=1)}, merge: add}",
    "residual": "{from: a, residual: {body: [cv: conv(8, 3, padding=1)]}}",
    "repeat": "{from: a, repeat: 2, each: [conv(8, 3, padding=1), relu]}",
    "list": "{from: a, layers: [conv(8, 3, padding=1), relu]}",
    "layer": "{from: a, layers: conv(8, 3, padding=1)}",
}


@pytest.mark.parametrize("form", FROM_FORMS.values(), ids=list(FROM_FORMS))
def test_points_read_by_name(tmp_path, form: str) -> None:
    path = tmp_path / "points.yaml"
    path.write_text(f"""
archc: 1
name: points
input: [3, 12, 12]
layers:
  - stem: conv(8, 3, padding=1)
  - a: relu
  - b: conv(8, 3, padding=1)
  - c: relu
  - r: {form}
  - q: {{from: [r, c], merge: add}}
  - pool: adaptive_avgpool(1)
  - flatten
  - fc: linear(4)
""", encoding="utf-8")
    _check(str(path))


def test_a_list_that_reads_its_input_again(tmp_path) -> None:
    """`from: input` in the middle of a list: the flow goes on in the input's variable, and the
    variable that held the flow (b's output) keeps it until the forward returns (found by
    comparing generated specs with torch: the estimate freed it after c, 3,200 bytes short)."""
    path = tmp_path / "back.yaml"
    path.write_text("""\
archc: 1
name: back_to_input
input: [2, 10, 10]
layers:
  - a: conv(4, 3, padding=1)
  - b: conv(4, 1)
  - again: {from: input}
  - c: conv(3, 3, padding=1)
  - pool: maxpool(3, stride=1, padding=1)
  - head: adaptive_avgpool(1)
""", encoding="utf-8")
    _check(str(path))


@pytest.mark.parametrize("name", torchvision_specs())
def test_shipped_specs(name: str) -> None:
    _check(name, input=(3, 64, 64))


def test_scaling_with_batch_and_dtype() -> None:
    report = archc.analyze("resnet50")
    one, many = report.memory(1), report.memory(64, "fp16", "momentum")
    assert many.inference_peak == one.inference_peak * 64 // 2
    t = report.totals
    assert many.weights == (t.params + t.buffers) * 2 and many.gradients == t.trainable * 2
    assert many.optimizer_state == OPTIMIZERS["momentum"] * t.trainable * DTYPES["fp16"]
    assert many.training_total == many.weights + many.gradients + many.optimizer_state + many.saved_activations
    assert report.memory(1, optimizer="sgd").optimizer_state == 0


def test_cuda_benchmark_logic_on_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    """benchmarks/memory_vs_cuda.py --dry-run: the whole comparison, measured on CPU."""
    from benchmarks import memory_vs_cuda

    assert memory_vs_cuda.main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "archc inference peak" in out and "torch / archc = 1.000 (within 10%)" in out
