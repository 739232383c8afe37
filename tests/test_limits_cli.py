"""``--limit NAME=N``: every limit can be changed from the command line; bad values exit 2."""

from __future__ import annotations

import pytest

from archc.commands._common import limit_arg
from archc.limits import Limits


def test_every_limit_has_a_positive_default_and_a_name() -> None:
    limits = Limits()
    for name in Limits.names():
        assert isinstance(getattr(limits, name), int) and getattr(limits, name) > 0, name
        assert limit_arg(f"{name}=7") == (name, 7)


@pytest.mark.parametrize(("text", "value"), [("max_nodes=500000", 500_000), ("max_nodes=500_000", 500_000),
                                             ("max_nodes=500k", 500_000), ("max_macs=2T", 2 * 10**12),
                                             (" max_nodes = 3M ", 3_000_000)])
def test_values(text: str, value: int) -> None:
    assert limit_arg(text)[1] == value


@pytest.mark.parametrize(("args", "words"), [
    (["--limit", "max_node=10"], "did you mean 'max_nodes'?"),
    (["--limit", "max_nodes"], "expected NAME=VALUE"),
    (["--limit", "max_nodes=0"], "must be a positive integer"),
    (["--limit", "max_nodes=-5"], "must be a positive integer"),
    (["--limit", "max_nodes=1.5"], "must be a positive integer"),
    (["--limit", "max_nodes=lots"], "must be a positive integer"),
    (["--limit", "max_nodes=１２"], "must be a positive integer"),  # full-width digits
    (["--limit", "max_nodes=" + "9" * 5000], "must be a positive integer"),
])
def test_bad_limits_exit_2_with_a_message(cli, args: list[str], words: str) -> None:
    for command in ("validate", "table"):
        result = cli(command, "resnet50", *args)
        assert result.code == 2 and words in result.err, result.err
        assert "Traceback" not in result.err


def test_a_limit_changes_the_outcome(cli) -> None:
    assert cli("validate", "resnet50").code == 0
    result = cli("validate", "resnet50", "--limit", "max_nodes=100")
    assert result.code == 2 and "error[E600]" in result.err and "more than 100 nodes" in result.err
    assert "--limit max_nodes=N" in result.err  # the hint says how to raise it
    result = cli("table", "resnet50", "--limit", "max_params=1M", "--limit", "max_params=30M")  # the last wins
    assert result.code == 0, result.err
    result = cli("table", "resnet50", "--limit", "max_params=1M")
    assert result.code == 2 and "error[E602]" in result.err


def test_limits_reach_the_loader_and_the_expression_parser(cli, spec_file) -> None:
    path = spec_file("archc: 1\nname: t\ninput: [3, 8, 8]\nparams: {n: 1 + 2 + 3}\nlayers: [relu]\n")
    assert cli("validate", path).code == 0
    result = cli("validate", path, "--limit", "max_expr_nodes=3")
    assert result.code == 2 and "error[E404]" in result.err
    result = cli("validate", path, "--limit", "max_bytes=20")
    assert result.code == 2 and "error[E102]" in result.err
    result = cli("validate", path, "--limit", "max_depth=1")
    assert result.code == 2 and "error[E103]" in result.err


def test_limits_api() -> None:
    assert Limits().with_(max_nodes=5).max_nodes == 5
    with pytest.raises(ValueError):
        Limits().with_(max_nodes=0)
    with pytest.raises(ValueError):
        Limits().with_(nonsense=1)


def test_compile_and_diagram_take_limits_too(cli, tmp_path) -> None:
    for command in (["compile", "resnet50", "-o", str(tmp_path / "net.py")],
                    ["diagram", "resnet50", "--format", "dot", "-o", str(tmp_path / "net.dot")]):
        result = cli(*command, "--limit", "max_nodes=100")
        assert result.code == 2 and "error[E600]" in result.err, result.err
        assert not list(tmp_path.iterdir())  # nothing written


def test_diff_and_bench_take_limits_too(cli) -> None:
    result = cli("diff", "resnet18", "resnet50", "--limit", "max_nodes=100")
    assert result.code == 2 and "error[E600]" in result.err, result.err
    result = cli("bench", "resnet18", "--device", "cpu", "--limit", "max_nodes=20")
    assert result.code == 2 and "error[E600]" in result.err, result.err


def test_every_limit_is_documented() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "untrusted-specs.md").read_text(encoding="utf-8")
    for name in Limits.names():
        default = f"{getattr(Limits(), name):,}"
        row = next((line for line in text.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, name
        assert default in row or "2^" in row or "10^" in row, (name, row)


def test_diagram_budgets_fold_or_refuse(cli, tmp_path) -> None:
    out = tmp_path / "net.dot"
    result = cli("diagram", "resnet50", "--format", "dot", "-o", out, "--limit", "max_diagram_nodes=100")
    assert result.code == 0 and "note: the full picture has 177 boxes (max_diagram_nodes is 100)" in result.err
    assert "to stay within the diagram budget" in out.read_text()
    out.unlink()
    result = cli("diagram", "resnet50", "--depth", "3", "-o", out, "--limit", "max_diagram_nodes=100")
    assert result.code == 2 and "error[E606]" in result.err and "--depth 2 fits" in result.err, result.err
    assert not list(tmp_path.iterdir())
    result = cli("diagram", "resnet50", "--format", "dot", "-o", out, "--limit", "max_diagram_clusters=10",
                 "--limit", "max_diagram_nodes=10")
    assert result.code == 2 and "error[E606]" in result.err and "max_diagram_" in result.err, result.err
