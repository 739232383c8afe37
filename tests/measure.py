"""Measuring a real module with torch and the tools archc reproduces: the oracles of the
analysis tests. Nothing here uses archc's own figures.

- :class:`AllocationTracker`: every storage an aten op creates while the mode is active,
  alive until Python frees it (refcounting, as in a real run), so its ``peak`` is the
  largest total of tensors allocated during a forward pass.
- :func:`saved_bytes`: the distinct storages autograd keeps for the backward pass
  (``torch.autograd.graph.saved_tensors_hooks``), parameters and buffers excluded.
- :func:`fvcore_total`, :func:`ptflops_total`: the tools' totals, run the way their
  documentation shows, on a module in eval mode with a batch of one.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
import weakref
from collections.abc import Iterable, Sequence

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


def _storage_key(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


class AllocationTracker(TorchDispatchMode):
    """Live bytes of the storages aten ops create; storages of ``known`` tensors (weights,
    the input) do not count when an op returns a view of them."""

    def __init__(self, known: Iterable[torch.Tensor] = ()):
        super().__init__()
        self.live = 0
        self.peak = 0
        self._seen: set[int] = {_storage_key(t) for t in known}

    def _track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        key, size = storage.data_ptr(), storage.nbytes()
        if key in self._seen or size == 0:
            return
        self._seen.add(key)
        self.live += size
        self.peak = max(self.peak, self.live)

        def free(key: int = key, size: int = size) -> None:
            self.live -= size
            self._seen.discard(key)

        weakref.finalize(storage, free)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self._track(t)
        return out


def state_tensors(module: nn.Module) -> list[torch.Tensor]:
    return [*module.parameters(), *module.buffers()]


def inference_peak(module: nn.Module, inputs: Sequence[torch.Tensor]) -> int:
    """Peak bytes allocated by one forward pass in eval mode without autograd (inputs excluded)."""
    module.eval()
    tracker = AllocationTracker([*state_tensors(module), *inputs])
    with torch.no_grad(), tracker:
        module(*inputs)
    return tracker.peak


def saved_bytes(module: nn.Module, inputs: Sequence[torch.Tensor]) -> int:
    """Bytes of the distinct storages autograd saves in one training-mode forward pass."""
    module.train()
    state = {_storage_key(t) for t in state_tensors(module)}
    found: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in state and storage.nbytes():
            found[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(*inputs)
    return sum(found.values())


@contextlib.contextmanager
def _quiet():
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)


def fvcore_total(module: nn.Module, inputs: Sequence[torch.Tensor]) -> int:
    """``fvcore.nn.FlopCountAnalysis(model.eval(), inputs).total()``."""
    from fvcore.nn import FlopCountAnalysis

    module.eval()
    with _quiet():
        analysis = FlopCountAnalysis(module, tuple(inputs))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        return int(analysis.total())


class _Keywords(nn.Module):
    """ptflops passes a dict from ``input_constructor`` as keyword arguments."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, **xs: torch.Tensor) -> torch.Tensor:
        return self.inner(*xs.values())


def ptflops_total(module: nn.Module, shapes: Sequence[tuple[int, ...]]) -> int:
    """``ptflops.get_model_complexity_info(model, input_res, as_strings=False)[0]`` with the default
    (pytorch) backend and defaults; several inputs go through ``input_constructor``."""
    from ptflops import get_model_complexity_info

    constructor = None
    if len(shapes) > 1:
        module = _Keywords(module)

        def constructor(_res: tuple[int, ...]) -> dict[str, torch.Tensor]:
            return {f"x{i}": torch.randn(1, *s) for i, s in enumerate(shapes)}

    with _quiet():
        macs, _ = get_model_complexity_info(module, tuple(shapes[0]), as_strings=False, print_per_layer_stat=False,
                                            input_constructor=constructor, ost=io.StringIO())
    assert macs is not None, "ptflops failed on this module"
    return int(macs)
