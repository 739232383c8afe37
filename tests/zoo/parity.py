"""The comparison every torchvision-layout network of the zoo goes through, written once.

torchvision's own module is built with ``weights=None`` and random batch norm statistics and
affine parameters (so that every norm shows in the output and folding does real work); its
state_dict loads into ``archc.build(name)`` with ``strict=True``. The checks, each an
assertion against torchvision itself:

- :func:`assert_same_state`: the same keys in the same order, shapes and dtypes, every value;
- :func:`assert_same_eval`: bit for bit in eval mode;
- :func:`assert_same_train`: bit for bit in train mode from the same seed, running statistics
  moved the same way, and (where the network draws random numbers) another seed giving another
  output, the same on both sides;
- :func:`assert_same_gradients`: one training step's parameter gradients, bit for bit;
- :func:`assert_folded`: the inference variant folded from torchvision's weights, within 1e-5
  relative, without the modules the pass removes;
- :func:`assert_figures`: parameters and MACs (``FlopCounterMode`` / 2) at 224×224, in total and
  module by module, and the state_dict layout, on the meta device.

Each network's file keeps what is its own (the input size, the blocks worth checking one by one,
what its inference pass must remove) and calls these.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchvision
from torch import nn

import archc

from ..emit.test_inference import randomize_norms, relative_error
from .test_torchvision import flop_count, gradients, layout

TOLERANCE = 1e-5  # the inference variant: relative to the largest |output|, fp32


def torchvision_pair(name: str, size: int, *, randomize: Callable[[nn.Module, torch.Generator], None] = randomize_norms,
                     count_batches: bool = True) -> tuple[nn.Module, nn.Module]:
    """(torchvision's ``name``, archc's ``name`` built for ``size``×``size`` carrying its weights)."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    reference = getattr(torchvision.models, name)(weights=None)
    randomize(reference, gen)
    if count_batches:  # consulted only with momentum=None, but part of the state and of the strict load
        for module in reference.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.num_batches_tracked.fill_(int(torch.randint(1, 100, (), generator=gen)))
    model = archc.build(name, input=(3, size, size))
    model.load_state_dict(reference.state_dict(), strict=True)
    return reference, model


def batch(size: int) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))


def assert_same_state(reference: nn.Module, model: nn.Module) -> None:
    assert layout(model) == layout(reference)
    ours = model.state_dict()
    for key, value in reference.state_dict().items():
        assert torch.equal(ours[key], value), key


def assert_same_eval(reference: nn.Module, model: nn.Module, x: torch.Tensor, classes: int = 1000) -> None:
    reference.eval()
    model.eval()
    with torch.no_grad():
        want, got = reference(x), model(x)
    assert got.shape == (x.shape[0], classes)
    assert torch.equal(got, want)


def train_output(model: nn.Module, x: torch.Tensor, seed: int) -> torch.Tensor:
    model.train()
    torch.manual_seed(seed)
    with torch.no_grad():  # batch norm still updates its running statistics
        return model(x)


def assert_same_train(reference: nn.Module, model: nn.Module, x: torch.Tensor, *, draws: bool) -> None:
    """``draws``: the network draws random numbers in training (dropout, stochastic depth), so the
    seed must matter, and matter the same way on both sides. Train mode must differ from eval mode
    (batch statistics are not the running ones), or this would not test the mode."""
    want = train_output(reference, x, seed=3)
    assert torch.equal(train_output(model, x, seed=3), want)
    ours = model.state_dict()  # the running statistics moved the same way
    for key, value in reference.state_dict().items():
        assert torch.equal(ours[key], value), key
    if draws:
        other = train_output(reference, x, seed=4)
        assert not torch.equal(other, want)
        assert torch.equal(train_output(model, x, seed=4), other)
    reference.eval()
    with torch.no_grad():
        assert not torch.equal(reference(x), want)


def assert_same_gradients(reference: nn.Module, model: nn.Module, x: torch.Tensor) -> None:
    want, got = gradients(reference, x), gradients(model, x)
    assert want.keys() == got.keys()
    for key, value in want.items():
        assert torch.equal(got[key], value), key


def assert_folded(name: str, reference: nn.Module, x: torch.Tensor, removed: Callable[[nn.Module], bool]) -> nn.Module:
    """The inference variant built from torchvision's weights: in eval mode, no module for which
    ``removed`` holds, and torchvision's output within :data:`TOLERANCE`. Returned for more checks."""
    reference.eval()
    fast = archc.build(name, input=tuple(x.shape[1:]), inference=True, state_dict=reference.state_dict())
    assert not fast.training
    assert not any(removed(m) for m in fast.modules())
    with torch.no_grad():
        want, got = reference(x), fast(x)
    assert relative_error(want, got) <= TOLERANCE
    return fast


def assert_figures(name: str, *, own_parameters: bool = False, train_macs: bool = False,
                   reference: nn.Module | None = None) -> None:
    """Totals and module by module at 224×224: every torchvision module that holds parameters or
    does multiply-adds is a row of archc's table with the same figures, and archc has no other such
    row. ``own_parameters``: a tensor a block holds itself (ConvNeXt's layer_scale, no module) is a
    row of its own. ``train_macs``: also count torchvision in train mode (stochastic depth draws,
    but multiplies nothing). ``reference``: torchvision's model already on the meta device, for one
    that cannot be built there (RegNet's BlockParams computes with tensors)."""
    with torch.device("meta"):
        reference = reference or getattr(torchvision.models, name)(weights=None)
        model = archc.build(name)
    assert layout(model) == layout(reference)
    report = archc.analyze(name)
    assert report.input_shape == (3, 224, 224) and report.output_shape == (1000,)
    assert report.totals.params == sum(p.numel() for p in reference.parameters())
    counts = flop_count(reference, train=False)
    assert report.totals.macs == report.totals.macs_train == counts[""]
    if train_macs:
        assert flop_count(reference, train=True)[""] == counts[""]
    theirs = {}
    for path, module in reference.named_modules():
        figures = (sum(p.numel() for p in module.parameters()), counts.get(path, 0))
        if path and figures != (0, 0):
            theirs[path] = figures
        if own_parameters and next(module.children(), None) is not None:
            for key, param in module.named_parameters(recurse=False):
                theirs[f"{path}.{key}"] = (param.numel(), 0)
    ours = {row.path: (row.params, row.macs) for row in report.rows if (row.params, row.macs) != (0, 0)}
    assert ours == theirs
