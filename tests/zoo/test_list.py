"""`archc list`: every shipped network of the zoo, with its figures and the first line of its doc."""

from __future__ import annotations

import archc
from archc.spec.loader import shipped_names

from .test_torchvision_layout import TORCHVISION

PAPERS = ["lenet5", "alexnet_paper", "googlenet_paper", "resnet_cifar"]


def test_the_zoo_is_shipped() -> None:
    assert set(TORCHVISION + PAPERS) <= set(shipped_names())
    assert not any(name.startswith("_") for name in shipped_names()), "shared definitions are not networks"


def test_list_shows_every_spec_with_figures_and_doc(cli) -> None:
    result = cli("list")
    assert result.code == 0
    lines = {line.split()[0]: line for line in result.out.splitlines()[2:]}
    assert sorted(lines) == sorted(shipped_names())
    for name in shipped_names():
        report = archc.analyze(name)
        first = report.doc.strip().splitlines()[0]
        assert lines[name].split()[1:3] == [f"{report.totals.params:,}", f"{report.totals.macs:,}"], name
        assert lines[name].endswith(first), name
        assert len(first) <= 100 and first.endswith("."), f"{name}: the first doc line should stand alone"


def test_list_reads_in_natural_order(cli) -> None:
    names = [line.split()[0] for line in cli("list").out.splitlines()[2:]]
    assert names.index("resnet18") < names.index("resnet34") < names.index("resnet50") < names.index("resnet101")
    assert names.index("vgg11") < names.index("vgg11_bn") < names.index("vgg13")
