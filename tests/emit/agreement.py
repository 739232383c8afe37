"""One check, used by every oracle test: the network archc builds is the network it counted.

For a spec (anything :func:`archc.build` takes) :func:`agree` checks, against torch and
against the oracle (tests/oracle.py, which runs the lowered IR with ``torch.nn.functional``):

- eval mode, fp32: ``build()``'s output equals the oracle's exactly (``torch.equal``);
- train mode with a fixed seed: the main output and every head equal the oracle's exactly,
  the batch norm statistics both update are equal afterwards, and again after a second
  step; the backward pass runs (an unsafe in-place operation would fail it);
- the oracle reads every key of the state_dict (the IR's module paths are the emitted ones);
- parameters: the table's total equals ``sum(p.numel())``;
- MACs: the table's total equals ``FlopCounterMode`` total / 2 per sample in eval mode (counted
  on the whole batch: PyTorch refuses some valid networks one sample, a group norm whose groups
  hold one value each);
- the inference variant built from the plain network's state (random batch norm statistics)
  computes the plain network's eval output within a relative 1e-5 in fp32, or, where the plain
  network's own fp32 output is too far from float64 for that to mean anything, within rounding
  in float64 (:func:`check_inference`).
"""

from __future__ import annotations

import contextlib
import copy
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

import archc

from ..oracle import State, oracle
from .test_inference import randomize_norms, relative_error

INFERENCE_TOLERANCE = 1e-5  # relative, fp32 (issue 13)
# The fold is exact algebra, so the folded network differs from the plain one by rounding alone:
# fp32 rounding of the folded weights and of every activation after them. A network that divides
# by a tiny deviation after the folded layer (a group norm whose groups hold one value, a batch
# norm on batch statistics of two nearly equal values, a layer norm of nearly equal features)
# amplifies that rounding past 1e-5, and the fp32 comparison can no longer tell a wrong fold from
# rounding. Which networks do that is measured, not guessed from their ops: where the fp32
# comparison exceeds 1e-5, the plain network's own fp32 output is compared with its float64
# output. Within a tenth of the bound the network is well-conditioned and the fp32 comparison
# fails it; above, the float64 comparison decides (:func:`check_inference`). Only then: float64
# convolutions are slow on CPU (the shipped EfficientNets' would add minutes to test_oracle.py).
CONDITIONING_LIMIT = INFERENCE_TOLERANCE / 10
# In float64 the same computation rounds 2**-29 (unit roundoffs 2**-53 / 2**-24) times as much as
# in fp32, so an exact fold's float64 error is about the plain network's fp32 error times 2**-29,
# times how much more the folded network's output moves with rounding than the plain one's. The
# bound allows 1,000 times 2**-29 times that fp32 error: over 3,100 generated specs (91 of them
# above the limit) the largest exact fold used 0.4% of it. A wrong fold's weights would have to be
# within about 1e-13 relative of the right ones to pass (a forgotten bias, scale or eps is off by
# 1e-5 and more).
FLOAT64_MARGIN = 1000 * 2.0**-29


class Disagreement(AssertionError):
    """The built network is not the one the IR describes. Subclasses say in which respect, so
    a test can expect one known failure (``pytest.mark.xfail(raises=...)``) and no other."""


class BuildFails(Disagreement):
    """``archc.build()`` of a spec that lowers raised (an error, or a crash)."""


class CountsDiffer(Disagreement):
    """Parameters or MACs of the table differ from torch's."""


class EvalDiffers(Disagreement):
    """Eval-mode output differs from the oracle's."""


class TrainDiffers(Disagreement):
    """Train-mode outputs, heads, statistics or backward differ from the oracle's (or fail)."""


class InferenceDiffers(Disagreement):
    """The inference variant fails to build or run, or computes something else."""


def expect(cond: bool, kind: type[Disagreement], message: str) -> None:
    if not cond:
        raise kind(message)


def clone_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    # state_dict() tensors share storage with the module: the oracle gets its own copies
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def as_tuple(out: Any) -> tuple[torch.Tensor, ...]:
    return out if isinstance(out, tuple) else (out,)


def agree(spec: Any, *, input: tuple[int, ...] | None = None, seed: int = 0, batch: int = 2,
          inference: bool = True, backward: bool = True, steps: int = 2,
          **overrides: Any) -> InferenceErrors | None:
    """Assert everything listed in the module docstring for ``spec``; raise a
    :class:`Disagreement` subclass saying what differs. Return the inference check's errors."""
    graph = archc.lower(spec, input=input, **overrides)
    report = archc.analyze(graph)
    torch.manual_seed(seed)
    try:
        model = archc.build(spec, input=input, **overrides)
    except Exception as err:  # an ArchcError (E720) or a crash: either way, no network
        raise BuildFails(f"build() fails: {type(err).__name__}: {err}") from err
    gen = torch.Generator().manual_seed(seed)
    randomize_norms(model, gen)
    x = torch.randn(batch, *graph.input_shape, generator=gen)

    params = sum(p.numel() for p in model.parameters())
    expect(report.totals.params == params, CountsDiffer, f"parameters: table {report.totals.params}, torch {params}")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)  # `freeze:`
    expect(report.totals.trainable == trainable, CountsDiffer,
           f"trainable parameters: table {report.totals.trainable}, torch {trainable}")

    # eval mode: exactly the oracle's output
    model.eval()
    state = State(clone_state(model))
    with torch.no_grad():
        try:
            got = model(x)
        except Exception as err:
            raise EvalDiffers(f"eval forward fails: {type(err).__name__}: {err}") from err
        want = oracle(graph, state, x)
    expect(isinstance(got, torch.Tensor), EvalDiffers, f"eval mode returns {type(got).__name__}, not one tensor")
    expect(got.shape == want.shape, EvalDiffers, f"eval output shape {tuple(got.shape)}, oracle {tuple(want.shape)}")
    expect(torch.equal(got, want), EvalDiffers,
           f"eval output differs from the oracle's by {(got - want).abs().max().item():g}")

    # MACs per sample, as torch counts them (on the whole batch: F.group_norm refuses one sample
    # whose groups hold a single value each, which the generator draws)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    flops = counter.get_total_flops()
    expect(2 * report.totals.macs * batch == flops, CountsDiffer,
           f"MACs: table {report.totals.macs}, torch {flops / 2 / batch:g} per sample")

    # train mode, fixed seed: outputs, heads and updated statistics, twice
    model.train()
    state = State(clone_state(model))
    for step in range(steps):
        torch.manual_seed(seed + 1 + step)
        try:
            got_t = as_tuple(model(x))
        except Exception as err:
            raise TrainDiffers(f"train forward fails: {type(err).__name__}: {err}") from err
        torch.manual_seed(seed + 1 + step)
        with torch.no_grad():
            want_t = as_tuple(oracle(graph, state, x, training=True))
        expect(len(got_t) == len(want_t), TrainDiffers,
               f"train mode returns {len(got_t)} tensors, the oracle {len(want_t)}")
        for k, (g, w) in enumerate(zip(got_t, want_t)):
            expect(g.shape == w.shape, TrainDiffers,
                   f"train output {k}: shape {tuple(g.shape)}, oracle {tuple(w.shape)}")
            expect(torch.equal(g.detach(), w), TrainDiffers,
                   f"train output {k} differs from the oracle's by {(g.detach() - w).abs().max().item():g}")
        if backward and any(t.requires_grad for t in got_t):
            try:
                sum(t.sum() for t in got_t).backward()
            except RuntimeError as err:
                raise TrainDiffers(f"backward fails: {err}") from err
        after = model.state_dict()
        for key, value in state.tensors.items():
            expect(torch.equal(after[key], value), TrainDiffers,
                   f"after train step {step + 1}: {key} differs from the oracle's")
    expect(state.read == set(state.tensors), TrainDiffers,
           f"state_dict keys no IR node reads: {sorted(set(state.tensors) - state.read)}")

    # the inference variant computes the plain network's eval output
    if inference:
        model.eval()
        return check_inference(spec, model, x, input=input, **overrides)
    return None


@dataclass(frozen=True)
class InferenceErrors:
    """Relative errors of one inference check (:func:`check_inference`); the float64 figures only
    where the fp32 comparison exceeded :data:`INFERENCE_TOLERANCE`."""

    fp32: float  # the folded network against the plain one, both fp32
    plain_fp32: float | None = None  # the plain network's fp32 output against its float64 output
    fp64: float | None = None  # the folded network against the plain one, both float64 (the folding too)
    fp64_bound: float | None = None

    @property
    def fp32_decides(self) -> bool:
        return self.plain_fp32 is None or self.plain_fp32 <= CONDITIONING_LIMIT


@contextlib.contextmanager
def float64() -> Iterator[None]:
    """Modules built and tensors made in here are float64 (the emitted classes' own constants too)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def check_inference(spec: Any, model: torch.nn.Module, x: torch.Tensor, *, input: tuple[int, ...] | None = None,
                    **overrides: Any) -> InferenceErrors:
    """The inference variant built from ``model``'s state computes ``model``'s eval output on ``x``:
    in fp32 within :data:`INFERENCE_TOLERANCE`, or, where the plain network's own fp32 error exceeds
    :data:`CONDITIONING_LIMIT`, in float64 (the folding too, from the same weights made float64
    exactly) within :data:`FLOAT64_MARGIN` times that error. Raise :class:`InferenceDiffers`."""
    try:
        fast = archc.build(spec, input=input, inference=True, state_dict=model.state_dict(), **overrides)
        with torch.no_grad():
            plain, folded = model(x), fast(x)
    except Exception as err:
        raise InferenceDiffers(f"inference variant fails: {type(err).__name__}: {str(err)[:300]}") from err
    expect(plain.shape == folded.shape, InferenceDiffers,
           f"inference variant: output shape {tuple(folded.shape)}, plain {tuple(plain.shape)}")
    fp32 = relative_error(plain, folded)
    if fp32 <= INFERENCE_TOLERANCE:
        return InferenceErrors(fp32)
    plain64 = copy.deepcopy(model).double()  # the same weights and statistics, exactly
    # the module archc.build executed (exec_source registers it): its build() folds the state it is given
    variant = sys.modules[type(fast).__module__]
    try:
        with float64(), torch.no_grad():
            exact = plain64(x.double())
            folded64 = variant.build(plain64.state_dict())(x.double())
    except Exception as err:
        raise InferenceDiffers(f"float64 run fails: {type(err).__name__}: {str(err)[:300]}") from err
    own = relative_error(exact, plain.double())
    errors = InferenceErrors(fp32, own, relative_error(exact, folded64), FLOAT64_MARGIN * own)
    expect(not errors.fp32_decides, InferenceDiffers,
           f"inference variant differs by {fp32:.3g} (relative, fp32; bound {INFERENCE_TOLERANCE:g}; the plain "
           f"network's own fp32 error is {own:.3g}, so this is not rounding)")
    expect(errors.fp64 <= errors.fp64_bound, InferenceDiffers,
           f"inference variant differs by {errors.fp64:.3g} (relative, float64; bound {errors.fp64_bound:.3g}, from "
           f"the plain network's own fp32 error {own:.3g}, which makes the fp32 comparison's {fp32:.3g} meaningless)")
    return errors
