"""A variant's ``replace:`` and ``drop:``: edits of the base's layers by name, before lowering.

What the edited network is gets checked against torchvision itself in
tests/zoo/test_variant_edits.py; here: the figures follow from the base's without the
edited rows, `archc diff` shows exactly the edited rows, and every mistake is located.
"""

from __future__ import annotations

import json

import pytest

import archc
from archc.diagnostics import ArchcError

PETS = """\
archc: 1
extends: resnet50.yaml
name: resnet50_pets
replace:
  fc: linear(37)
"""
NOAUX = """\
archc: 1
extends: googlenet.yaml
name: googlenet_noaux
drop: [aux1, aux2]
"""
VGG_HEAD = """\
archc: 1
extends: vgg16.yaml
name: vgg16_small_head
replace:
  classifier:
    - linear(1024)
    - relu
    - dropout(0.5)
    - linear(37)
"""
VGG_LAST = """\
archc: 1
extends: vgg16.yaml
name: vgg16_37
replace: {classifier.6: linear(37)}
"""


def rows(report) -> dict[str, object]:
    return {r.path: r for r in report.rows}


def test_a_new_head_changes_only_the_head() -> None:
    base, pets = archc.analyze("resnet50"), archc.analyze(PETS)
    assert pets.output_shape == (37,)
    # the base's parameters less its head's, plus 2048 × 37 weights and 37 biases
    fc = rows(base)["fc"]
    assert pets.totals.params == base.totals.params - fc.params + 2048 * 37 + 37
    assert [r.path for r in pets.rows] == [r.path for r in base.rows]
    changed = [r.path for r, s in zip(base.rows, pets.rows) if (r.params, r.shape) != (s.params, s.shape)]
    assert changed == ["fc"]


def test_the_replacement_lowers_as_if_written_out() -> None:
    # the same network with its head's width set by the base's parameter: the same graph, node by
    # node (op, attributes, module path, inputs, shape), except where the head's span points
    def nodes(graph):
        return [(n.id, n.op_name, n.attrs, n.scope, n.inputs, n.shape) for n in graph.nodes.values()]

    assert nodes(archc.lower(PETS)) == nodes(archc.lower("resnet50", num_classes=37))
    assert archc.lower(PETS).nodes["fc"].span.file == "<string>"


def test_dropped_heads_are_gone_and_nothing_else() -> None:
    base, noaux = archc.analyze("googlenet"), archc.analyze(NOAUX)
    heads = sum(r.params for r in base.rows if r.path in ("aux1", "aux2"))
    assert noaux.totals.params == base.totals.params - heads == base.totals.params_without_heads
    assert noaux.totals.macs == base.totals.macs  # heads do not count in inference MACs
    assert [r.path for r in noaux.rows] == [r.path for r in base.rows if r.path.split(".")[0] not in ("aux1", "aux2")]


def test_a_position_in_a_list_is_replaced() -> None:
    base, v = archc.analyze("vgg16"), archc.analyze(VGG_LAST)
    assert v.output_shape == (37,)
    assert rows(v)["classifier.6"].params == 4096 * 37 + 37
    assert v.totals.params == base.totals.params - rows(base)["classifier.6"].params + 4096 * 37 + 37


def diff_rows(cli, a: str, b: str) -> dict[str, str]:
    doc = json.loads(cli("diff", a, b, "--format", "json").out)
    return {r["path"]: r["status"] for r in doc["rows"] if r["status"] != "same"}


def test_diff_shows_exactly_the_replaced_head(cli, spec_file) -> None:
    assert diff_rows(cli, "resnet50", spec_file(PETS)) == {"fc": "changed"}


def test_diff_shows_exactly_the_dropped_heads(cli, spec_file) -> None:
    base = archc.analyze("googlenet")
    heads = {r.path for r in base.rows if r.path.split(".")[0] in ("aux1", "aux2")}
    assert diff_rows(cli, "googlenet", spec_file(NOAUX)) == dict.fromkeys(heads, "removed")


def test_diff_shows_exactly_the_new_classifier(cli, spec_file) -> None:
    # four layers of seven kept (their widths change, so their outputs do), three removed
    assert diff_rows(cli, "vgg16", spec_file(VGG_HEAD)) == {
        "classifier": "changed", "classifier.0": "changed", "classifier.1": "changed", "classifier.2": "changed",
        "classifier.3": "changed", "classifier.4": "removed", "classifier.5": "removed", "classifier.6": "removed"}


def test_diff_names_the_edits_that_explain_the_rows(cli, spec_file) -> None:
    path = spec_file(NOAUX)
    text = cli("diff", "googlenet", path, "--only-changed").out
    assert text.splitlines()[1] == f"B drops aux1 ({path}:4:8); drops aux2 ({path}:4:14)"
    for fmt in ("markdown", "html"):
        assert f"B drops aux1 ({path}:4:8)" in cli("diff", "googlenet", path, "--format", fmt).out
    doc = json.loads(cli("diff", path, "googlenet", "--format", "json").out)
    assert doc["edits"] == {"a": [{"kind": "drop", "path": "aux1", "file": str(path), "line": 4, "col": 8},
                                  {"kind": "drop", "path": "aux2", "file": str(path), "line": 4, "col": 14}],
                            "b": []}
    # a variant of a variant: only the edits the other side does not make
    second = spec_file(f"archc: 1\nextends: {path.name}\nname: two\nreplace: {{fc: linear(7)}}\n", "two.yaml")
    doc = json.loads(cli("diff", path, second, "--format", "json").out)
    assert [e["path"] for e in doc["edits"]["a"]] == [] and [e["path"] for e in doc["edits"]["b"]] == ["fc"]
    assert json.loads(cli("diff", "resnet18", "resnet34", "--format", "json").out)["edits"] == {"a": [], "b": []}


def test_a_variant_of_a_variant_applies_both_edits_in_order(spec_file) -> None:
    first = spec_file(PETS, "pets.yaml")
    second = spec_file(f"""\
        archc: 1
        extends: {first.name}
        name: pets_features
        drop: [fc]
        """, "features.yaml")
    report = archc.analyze(second)
    assert report.output_shape == (2048,) and "fc" not in rows(report)
    # the train_outputs of a base do not name the heads a variant dropped
    assert archc.load(NOAUX).train_outputs == ()


def test_a_replacement_with_parameters_of_the_network() -> None:
    spec = PETS.replace("linear(37)", "linear(num_classes // 2)")
    assert archc.analyze(spec, num_classes=74).output_shape == (37,)


def test_an_error_in_the_replacement_points_into_the_variant(spec_file) -> None:
    path = spec_file(PETS.replace("linear(37)", "conv(37, 3)"))
    with pytest.raises(ArchcError) as err:
        archc.analyze(path)
    assert f"{path.name}:5:" in err.value.render(), err.value.render()


@pytest.mark.parametrize(("edit", "code", "where", "words"), [
    ("replace: {fcc: linear(37)}", "E310", "4:11", "did you mean 'fc'?"),
    ("drop: [xyz]", "E310", "4:8", "the entries of the network's layers are: conv1, bn1"),
    ("drop: [layer4.0]", "E310", "4:8", "replace 'layer4' as a whole"),
    ("drop: [fc.weight]", "E310", "4:8", "which is a call of 'linear'"),
    ("replace: {fc: linear(37)}\ndrop: [fc]", "E303", "5:8", "'fc' is edited twice"),
    ("drop: [fc.0]", "E310", "4:8", "reaches into 'fc'"),
    ("drop: [Fc-1]", "E304", "4:8", "is not a path to an entry"),
    ("drop: []", "E202", "4:7", "'drop' is a name or a list of names"),
    ("replace: fc", "E202", "4:10", "'replace' maps names"),
])
def test_edit_errors_are_located(edit: str, code: str, where: str, words: str) -> None:
    text = f"archc: 1\nextends: resnet50.yaml\nname: v\n{edit}\n"
    with pytest.raises(ArchcError) as err:
        archc.load(text)
    shown = err.value.render()
    assert code in err.value.codes and f"<string>:{where}:" in shown and words in shown, shown


def test_positions_only_where_each_item_is_one_layer() -> None:
    # vgg16's features are calls of the inline block Stage: a spec position is not a module number
    with pytest.raises(ArchcError) as err:
        archc.load("archc: 1\nextends: vgg16.yaml\nname: v\ndrop: [features.3]\n")
    assert err.value.codes == ["E310"] and "item 0 is not one layer of its own" in err.value.render()
    with pytest.raises(ArchcError) as err:
        archc.load("archc: 1\nextends: vgg16.yaml\nname: v\ndrop: [classifier.7]\n")
    assert "has 7 items, numbered 0 to 6" in err.value.render()
    with pytest.raises(ArchcError) as err:
        archc.load("archc: 1\nextends: vgg16.yaml\nname: v\nreplace: {classifier.6: [relu]}\n")
    assert err.value.codes == ["E204"] and "replaced by a layer call only" in err.value.render()


def test_a_base_is_edited_for_its_variant_only() -> None:
    # one loader reads resnet50 for both: the edit must not leak into the base as loaded
    assert archc.analyze(PETS).output_shape == (37,)
    assert archc.analyze("resnet50").output_shape == (1000,)


def test_edits_are_listed_on_the_program() -> None:
    program = archc.load(NOAUX.replace("drop: [aux1, aux2]", "drop: [aux1, aux2]\nreplace: {fc: linear(5)}"))
    assert [(kind, path, span.line) for kind, path, span in program.edits] == [
        ("replace", "fc", 5), ("drop", "aux1", 4), ("drop", "aux2", 4)]
