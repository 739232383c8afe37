"""The Python API takes a spec in every form a notebook has one: a path, a shipped name, YAML
text, or a mapping as ``yaml.safe_load`` returns it; and its errors speak Python."""

from __future__ import annotations

import textwrap
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

import archc
from archc import ArchcError
from archc.limits import Limits

from .conftest import ROOT

# Standard YAML (no flow lists of calls), so that yaml.safe_load reads it as archc does.
TEXT = textwrap.dedent("""\
    archc: 1
    name: small
    doc: A small network for the API tests.
    input: [3, 16, 16]
    params:
      width: 8
      num_classes: 10
    blocks:
      Unit:
        params: {planes: int}
        layers:
          - conv: conv(planes, 3, padding=1, bias=false)
          - bn: bn()
          - relu
    layers:
      - stem: Unit(width)
      - body: Unit(2 * width)
      - pool: adaptive_avgpool(1)
      - flatten
      - fc: linear(num_classes)
    """)


def figures(report) -> list[tuple]:
    return [(r.path, r.shape, r.params, r.macs) for r in report.rows]


def test_every_form_of_a_spec_gives_the_same_report(tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(TEXT)
    reports = [archc.analyze(path), archc.analyze(str(path)), archc.analyze(TEXT), archc.analyze(archc.loads(TEXT)),
               archc.analyze(archc.load(text=TEXT)), archc.analyze(yaml.safe_load(TEXT)),
               archc.analyze(archc.load(yaml.safe_load(TEXT)))]
    first = figures(reports[0])
    assert all(figures(r) == first for r in reports[1:])
    assert reports[0].totals.params == 8 * 3 * 9 + 2 * 8 + 16 * 8 * 9 + 2 * 16 + 16 * 10 + 10
    assert reports[0].file.endswith("small.yaml")
    assert [r.file for r in reports[2:]] == ["<string>"] * 3 + ["<dict>"] * 2


def test_every_api_function_takes_text_and_a_mapping() -> None:
    for spec in (TEXT, yaml.safe_load(TEXT)):
        assert archc.lower(spec).nodes["fc"].shape == (10,)
        source = archc.compile_source(spec)
        assert "class Small(nn.Module):" in source and "self.fc = nn.Linear(2 * width, num_classes)" in source
        assert "def __init__(self, width: int = 8, num_classes: int = 10) -> None:" in source
        assert "Unit" in archc.diagram(spec).source
        assert archc.analyze(spec, num_classes=4).output_shape == (4,)


def test_build_takes_a_mapping_and_text() -> None:
    torch = pytest.importorskip("torch")
    for spec in (TEXT, yaml.safe_load(TEXT)):
        model = archc.build(spec, num_classes=3)
        assert model(torch.zeros(2, 3, 16, 16)).shape == (2, 3)
        assert sum(p.numel() for p in model.parameters()) == archc.analyze(spec, num_classes=3).totals.params


def test_the_rule_for_strings_is_a_line_break() -> None:
    # one line of text is a file name, never guessed to be YAML: the hint says how to pass text
    one_line = "{archc: 1, name: x, input: [3, 4, 4], layers: [relu]}"
    with pytest.raises(ArchcError) as err:
        archc.load(one_line)
    assert err.value.codes == ["E100"] and "archc.loads(text)" in err.value.render()
    assert archc.loads(one_line).name == "x"
    assert archc.load(text=one_line).name == "x"
    # a Path is always a path, whatever its name holds
    with pytest.raises(ArchcError) as err:
        archc.load(Path("no\nsuch.yaml"))
    assert err.value.codes == ["E100"] and "no spec file" in err.value.render()
    with pytest.raises(TypeError):
        archc.load(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        archc.load()


def test_text_errors_point_into_the_text() -> None:
    bad = TEXT.replace("adaptive_avgpool(1)", "adaptive_avgpol(1)")
    with pytest.raises(ArchcError) as err:
        archc.analyze(bad)
    line = bad.splitlines().index("  - pool: adaptive_avgpol(1)") + 1
    assert str(err.value.diagnostics[0].span).startswith(f"<string>:{line}:")
    assert "adaptive_avgpol(1)" in err.value.render() and "did you mean 'adaptive_avgpool'" in err.value.render()
    with pytest.raises(ArchcError) as err:
        archc.analyze(archc.loads(bad, name="mine.yaml"))
    assert str(err.value.diagnostics[0].span).startswith(f"mine.yaml:{line}:")


def test_mapping_errors_point_at_the_line_of_its_yaml_that_they_show() -> None:
    spec = yaml.safe_load(TEXT)
    spec["layers"][2] = {"pool": "adaptive_avgpol(1)"}
    with pytest.raises(ArchcError) as err:
        archc.analyze(spec)
    diag = err.value.diagnostics[0]
    assert diag.span is not None and diag.span.file == "<dict>"
    shown = err.value.sources["<dict>"].splitlines()[diag.span.line - 1]
    assert shown.strip() == "- pool: adaptive_avgpol(1)"
    assert f"{diag.span.line} | " in err.value.render() and "adaptive_avgpol(1)" in err.value.render()


def test_mapping_values_yaml_cannot_hold_are_named_by_key_path() -> None:
    spec = yaml.safe_load(TEXT)
    spec["layers"].append({"odd": {1, 2}})
    spec["blocks"]["Unit"]["params"] = {"planes": object()}
    with pytest.raises(ArchcError) as err:
        archc.analyze(spec)
    text = err.value.render()
    assert err.value.codes == ["E202", "E202"]
    assert "spec['layers'][5]['odd'] is a set" in text and "spec['blocks']['Unit']['params']['planes'] is a" in text


def test_a_mapping_that_contains_itself_or_nests_too_deep_is_an_error() -> None:
    spec = yaml.safe_load(TEXT)
    spec["layers"].append(spec["layers"])
    with pytest.raises(ArchcError) as err:
        archc.analyze(spec)
    assert err.value.codes == ["E104"] and "spec['layers'][5] contains itself" in err.value.render()
    deep: dict = {}
    inner = deep
    for _ in range(100):
        inner["x"] = {}
        inner = inner["x"]
    with pytest.raises(ArchcError) as err:
        archc.load(deep)
    assert err.value.codes == ["E103"]
    assert "spec['x']['x']" in err.value.render() and "more than 64 levels deep" in err.value.render()
    for _ in range(5000):
        inner["x"] = {}
        inner = inner["x"]
    with pytest.raises(ArchcError) as err:  # Python's stack runs out first: still a located error
        archc.load(deep, limits=Limits(max_depth=100_000))
    assert err.value.codes == ["E103"] and "more than Python's stack allows" in err.value.render()


def test_a_mapping_may_hold_tuples_and_numbers_of_other_types() -> None:
    numpy = pytest.importorskip("numpy")
    spec = yaml.safe_load(TEXT)
    spec["input"] = (3, numpy.int64(16), 16)
    spec["params"]["width"] = numpy.int32(4)
    report = archc.analyze(spec)
    assert report.input_shape == (3, 16, 16) and report.rows[0].shape == (4, 16, 16)


def test_a_mapping_shared_twice_is_written_out_twice() -> None:
    layer = {"c": "conv(4, 3)"}
    spec = {"archc": 1, "name": "twice", "input": [3, 8, 8],
            "blocks": {"A": {"layers": [layer]}, "B": {"layers": [layer]}}, "layers": [{"a": "A()"}, {"b": "B()"}]}
    report = archc.analyze(spec)
    assert [r.path for r in report.rows] == ["a", "a.c", "b", "b.c"]
    assert "&id" not in archc.load(spec).sources["<dict>"]


def test_text_and_mappings_extend_relative_to_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "base.yaml").write_text("archc: 1\nname: base\ninput: [3, 8, 8]\nparams: {width: 4}\n"
                                        "layers:\n  - c: conv(width, 3)\n")
    variant = "archc: 1\nextends: base.yaml\nname: variant\nparams: {width: 6}\n"
    monkeypatch.chdir(tmp_path)
    assert archc.lower(variant).nodes["c"].shape == (6, 6, 6)
    assert archc.lower(yaml.safe_load(variant)).nodes["c"].shape == (6, 6, 6)
    # text named after a file resolves next to that file
    monkeypatch.chdir(ROOT)
    assert archc.lower(archc.loads(variant, name=str(tmp_path / "v.yaml"))).nodes["c"].shape == (6, 6, 6)
    with pytest.raises(ArchcError) as err:
        archc.lower(variant)
    assert err.value.codes == ["E307"] and "<string>:2:10" in err.value.render()


def test_a_mapping_is_subject_to_the_size_limit() -> None:
    spec = yaml.safe_load(TEXT)
    spec["doc"] = "x" * 300_000
    with pytest.raises(ArchcError) as err:
        archc.load(spec)
    assert err.value.codes == ["E102"]


# --- keyword overrides ----------------------------------------------------------------------


def test_an_unknown_keyword_is_named_as_a_keyword_with_a_did_you_mean() -> None:
    with pytest.raises(ArchcError) as err:
        archc.analyze("resnet50", num_clases=10)
    text = err.value.render()
    assert text.startswith("error[E309]: keyword argument num_clases=10 is not a parameter of resnet50")
    assert "did you mean 'num_classes'?" in text and "--set" not in text


def test_a_mistyped_keyword_is_named_as_a_keyword() -> None:
    with pytest.raises(ArchcError) as err:
        archc.analyze("resnet50", num_classes="10")
    assert err.value.render() == "error[E202]: keyword argument 'num_classes' must be int, got str '10'"
    with pytest.raises(ArchcError) as err:
        archc.analyze(TEXT, width=2.5)
    assert "keyword argument 'width' must be int, got float 2.5" in err.value.render()


def test_the_command_line_still_speaks_set(cli) -> None:
    result = cli("table", "resnet50", "--set", "num_clases=10")
    assert result.code == 2 and result.err.startswith("--set num_clases:1:1: error[E309]")
    assert "keyword argument" not in result.err


def test_a_keyword_value_of_another_number_type_is_taken_as_the_number() -> None:
    numpy = pytest.importorskip("numpy")
    assert archc.analyze(TEXT, num_classes=numpy.int64(7)).output_shape == (7,)
    with pytest.raises(ArchcError) as err:  # a bool is no int, in a spec as on the command line
        archc.analyze(TEXT, num_classes=True)
    assert "keyword argument 'num_classes' must be int, got bool true" in err.value.render()
    with pytest.raises(ArchcError) as err:  # a Fraction is a number: a float, and width takes an int
        archc.analyze(TEXT, width=Fraction(4, 1))
    assert "keyword argument 'width' must be int, got float 4.0" in err.value.render()


def test_a_long_keyword_value_is_elided_in_the_message() -> None:
    with pytest.raises(ArchcError) as err:
        archc.analyze(TEXT, nope=list(range(100)))
    assert "keyword argument nope=... is not a parameter of small" in err.value.render()


def test_a_parameter_without_default_says_how_to_give_it() -> None:
    text = TEXT.replace("  width: 8\n", "  width: int\n")
    with pytest.raises(ArchcError) as err:
        archc.analyze(text)
    assert "the keyword argument width=... in Python" in err.value.render()
    assert archc.analyze(text, width=4).rows[0].shape == (4, 16, 16)
