"""The counting conventions on whole networks, against the real tools run on the built modules.

For every shipped torchvision-layout spec, ``archc.build(name)`` runs under fvcore's
``FlopCountAnalysis`` and ptflops' ``get_model_complexity_info`` (default pytorch
backend), in eval mode with a batch of one at the spec's input; archc's totals, computed
without torch, must equal theirs exactly. (``FlopCounterMode`` = 2 × MACs on the same
modules is tests/emit/test_emit.py's check.)
"""

from __future__ import annotations

import pytest
import torch

import archc

from ..measure import fvcore_total, ptflops_total
from .conftest import torchvision_specs

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("name", torchvision_specs())
def test_totals_equal_the_tools(name: str) -> None:
    report = archc.analyze(name)
    model = archc.build(name).eval()
    x = torch.randn(1, *report.input_shape)
    costs = report.totals.costs
    assert costs["fvcore"] == fvcore_total(model, [x]), "fvcore"
    assert costs["ptflops"] == ptflops_total(model, [report.input_shape]), "ptflops"
    assert costs["flops"] == 2 * costs["macs"] and costs["macs"] == report.totals.macs


def test_all_counts_more_than_flops_and_the_resnet50_order() -> None:
    """The issue's ordering for ResNet-50: torchvision (MACs) < fvcore < ptflops < FLOPs <= all."""
    c = archc.analyze("resnet50").totals.costs
    assert c["macs"] < c["fvcore"] < c["ptflops"] < c["flops"] < c["all"]


def test_rows_add_up_to_the_totals_in_every_convention() -> None:
    report = archc.analyze("googlenet")
    top = [r for r in report.folded(1) if not r.training_only]
    for convention, total in report.totals.costs.items():
        assert sum(r.costs[convention] for r in top) == total, convention
