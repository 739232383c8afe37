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
  computes the plain network's eval output within a relative 1e-5.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

import archc

from ..oracle import State, oracle
from .test_inference import randomize_norms, relative_error

INFERENCE_TOLERANCE = 1e-5  # relative, fp32 (issue 13)
# A batch norm without running statistics normalises with the batch's own in eval mode too:
# dividing by a small batch deviation (after a softmax, say) amplifies the fp32 rounding of the
# folded weights before it, so such networks get test_inference.py's bound.
BATCH_STATISTICS_TOLERANCE = 1e-4


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
          inference: bool = True, backward: bool = True, steps: int = 2, **overrides: Any) -> None:
    """Assert everything listed in the module docstring for ``spec``; raise a
    :class:`Disagreement` subclass saying what differs."""
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
        try:
            fast = archc.build(spec, input=input, inference=True, state_dict=model.state_dict(), **overrides)
            with torch.no_grad():
                plain, folded = model(x), fast(x)
        except Exception as err:
            raise InferenceDiffers(f"inference variant fails: {type(err).__name__}: {str(err)[:300]}") from err
        expect(plain.shape == folded.shape, InferenceDiffers,
               f"inference variant: output shape {tuple(folded.shape)}, plain {tuple(plain.shape)}")
        err = relative_error(plain, folded)
        batch_stats = any(n.op is not None and n.op.family == "norm" and not getattr(n.attrs, "track_running_stats", 1)
                          for n in graph.nodes.values())
        bound = BATCH_STATISTICS_TOLERANCE if batch_stats else INFERENCE_TOLERANCE
        expect(err <= bound, InferenceDiffers, f"inference variant differs by {err:.3g} (relative; bound {bound:g})")
