"""Variants that replace and drop entries of a shipped spec, against torchvision's own models
edited the way its users edit them: ``model.fc = nn.Linear(2048, 37)``, ``aux_logits=False``,
``model.classifier[6] = nn.Linear(4096, 37)``. The edited torchvision module's state_dict must
load with strict=True under the same keys in the same order, and both compute the same function.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

import archc

from ..spec.test_edit import NOAUX, PETS, VGG_LAST


def layout(model: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def same_function(ours: nn.Module, theirs: nn.Module, size: int) -> None:
    ours.load_state_dict(theirs.state_dict(), strict=True)
    ours.eval(), theirs.eval()
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))


def test_resnet50_with_a_new_head_is_torchvisions_with_fc_replaced() -> None:
    torch.manual_seed(0)
    theirs = torchvision.models.resnet50()
    theirs.fc = nn.Linear(2048, 37)
    ours = archc.build(PETS)
    assert layout(ours) == layout(theirs)
    assert sum(p.numel() for p in ours.parameters()) == archc.analyze(PETS).totals.params
    same_function(ours, theirs, 32)


def test_googlenet_without_aux_heads_is_torchvisions_without_aux_logits() -> None:
    torch.manual_seed(0)
    theirs = torchvision.models.googlenet(aux_logits=False, init_weights=False)
    ours = archc.build(NOAUX)
    assert layout(ours) == layout(theirs)
    ours.train()
    assert isinstance(ours(torch.randn(2, 3, 32, 32)), torch.Tensor)  # no heads to return in training either
    same_function(ours, theirs, 32)


def test_vgg16_with_its_last_layer_replaced_is_torchvisions() -> None:
    torch.manual_seed(0)
    theirs = torchvision.models.vgg16()
    theirs.classifier[6] = nn.Linear(4096, 37)
    ours = archc.build(VGG_LAST)
    assert layout(ours) == layout(theirs)
    ours.load_state_dict(theirs.state_dict(), strict=True)
