"""Shipped specs against the reference figures read off torchvision (../shared/reference/)."""

from __future__ import annotations

import pytest

import archc
from archc.ir import check
from archc.spec.loader import shipped_names

# spec -> the reference model it reproduces in torchvision's layout
TORCHVISION = {"resnet50": "resnet50", "googlenet": "googlenet"}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_totals_match_torchvision(name: str, reference: dict) -> None:
    ref = reference[TORCHVISION[name]]
    report = archc.analyze(name)
    assert report.totals.params == ref["num_params"]
    assert report.totals.params_without_heads == ref["num_params_no_aux"]
    assert report.totals.macs == ref["macs"]
    assert list(report.output_shape) == ref["out_shape"][1:]


def test_table_prints_the_exact_totals(cli) -> None:
    out = cli("table", "resnet50").out
    assert "Total parameters:     25,557,032" in out
    assert "MACs:                 4,089,184,256" in out
    out = cli("table", "googlenet").out
    assert "13,004,888" in out and "without training-only heads: 6,624,904" in out
    assert "1,498,376,192" in out


def test_googlenet_heads_in_torchvision_order() -> None:
    graph = archc.lower("googlenet")
    assert [h.name for h in graph.heads] == ["aux2", "aux1"]


@pytest.mark.parametrize("name", shipped_names())
def test_every_shipped_spec_lowers_to_a_valid_graph(name: str) -> None:
    graph = archc.lower(name)
    check(graph, thorough=True)


def test_shipped_spec_by_name_from_any_directory(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("table", "resnet50", "--depth", "1")
    assert result.code == 0 and "25,557,032" in result.out
