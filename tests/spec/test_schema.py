"""The JSON Schema for editors: generated from the parser's keys, committed, used by every shipped spec.

Specs are read here with PyYAML's ``safe_load``, i.e. as an editor's standard YAML
reader sees them, not as archc reads them: the schema must accept exactly that view.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from archc.ops import registry
from archc.spec import parser
from archc.spec.loader import shipped_dir
from archc.spec.schema import BODIES, build_schema, render_schema

from ..conftest import ROOT
from ..test_property import networks

SCHEMA_FILE = ROOT / "schema" / "archc.schema.json"
MODELINE = "# yaml-language-server: $schema=../schema/archc.schema.json"
SHIPPED = sorted(shipped_dir().glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(build_schema())


def standard_yaml(text: str) -> object:
    """What an editor sees: standard YAML, with mapping keys as JSON has them (strings)."""
    return json.loads(json.dumps(yaml.safe_load(text)))


def errors(validator: jsonschema.Draft7Validator, text: str) -> list[str]:
    found = sorted(validator.iter_errors(standard_yaml(text)), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:160]}" for e in found]


def test_committed_schema_is_what_archc_schema_prints() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render_schema(), \
        "schema/archc.schema.json is stale: regenerate it with `archc schema -o schema/archc.schema.json`"


def test_the_schema_is_valid_draft_07() -> None:
    schema = build_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)


def _props(schema: dict, name: str | None) -> set[str]:
    return set((schema["definitions"][name] if name else schema)["properties"])


@pytest.mark.parametrize(("keys", "definition"), [
    (parser.SPEC_KEYS, None), (parser.BLOCK_KEYS, "block"), (parser.CONTAINER_KEYS, "container"),
    (parser.RESIDUAL_KEYS, "residual"), (parser.IMPORT_KEYS, "import"), (parser.INIT_KEYS, "init"),
])
def test_the_schema_has_exactly_the_parser_keys(keys: tuple[str, ...], definition: str | None) -> None:
    assert _props(build_schema(), definition) == set(keys)


def test_every_key_explains_itself_on_hover() -> None:
    schema = build_schema()
    for name in (None, "block", "container", "residual", "import", "init"):
        for key, prop in (schema["definitions"][name] if name else schema)["properties"].items():
            assert prop["description"] and "```yaml" in prop["markdownDescription"], (name, key)
    assert set(BODIES) <= set(parser.BODY_KEYS)


def test_every_op_is_offered_as_a_completion_with_its_signature() -> None:
    call = build_schema()["definitions"]["call"]
    snippets = {s["label"]: s for s in call["defaultSnippets"]}
    assert list(snippets) == [op.name for op in registry()]
    assert snippets["conv"]["bodyText"] == "conv(${1:out}, ${2:kernel})"
    assert snippets["relu"]["bodyText"] == "relu"
    assert snippets["bn"]["bodyText"] == "bn()"
    assert "nn.Conv2d" in snippets["conv"]["description"] and "| `groups` |" in snippets["conv"]["markdownDescription"]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_spec_carries_the_modeline(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == MODELINE, f"{path.name}: make its first line\n{MODELINE}\nso editors find the schema"
    # it resolves here (repo: specs/ -> schema/) and in the wheel (archc/specs/ -> archc/schema/)
    assert (path.parent / "../schema/archc.schema.json").resolve() == SCHEMA_FILE.resolve()


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_spec_is_valid_under_the_schema(path: Path, validator: jsonschema.Draft7Validator) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        standard_yaml(text)
    except yaml.YAMLError as err:
        pytest.fail(f"{path.name} is not standard YAML, so editors show a syntax error: {err}\n"
                    "archc accepts commas inside a call's parentheses in flow lists, but '[' inside them is too "
                    "much for other readers: write that list in block style (one '- ' per line)")
    assert errors(validator, text) == []


def test_the_readme_example_is_valid(validator: jsonschema.Draft7Validator) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```")[0] for b in readme.split("```yaml\n")[1:]]
    assert blocks
    for block in blocks:
        assert errors(validator, block) == []


HEAD = "archc: 1\nname: t\ninput: [3, 32, 32]\n"

BAD = {
    "unknown top-level key": (HEAD + "layers: [relu]\nlayer: [relu]\n", "(top): Additional properties"),
    "inline is not a boolean": (HEAD + "blocks:\n  B: {inline: 3, layers: [relu]}\nlayers: [B]\n",
                                "blocks/B/inline: 3 is not of type 'boolean'"),
    "missing layers": ("archc: 1\nname: t\ninput: [3, 8, 8]\n", "'layers' is a required property"),
    "wrong version": (HEAD.replace("archc: 1", "archc: 2") + "layers: [relu]\n", "archc: 2 is not one of [1]"),
    "variant with layers": ("archc: 1\nname: t\nextends: _resnet.yaml\nlayers: [relu]\n", "should not be valid"),
    "input not a list": (HEAD.replace("[3, 32, 32]", "3x32x32") + "layers: [relu]\n", "input: '3x32x32'"),
    "two layers in one entry": (HEAD + "layers:\n  - conv1: conv(8, 3)\n    bn1: bn()\n", "layers: "),
    "a number as a layer": (HEAD + "layers:\n  - 64\n", "layers: "),
    "not a call": (HEAD + "layers:\n  - conv 64\n", "layers: "),
    "repeat without each": (HEAD + "layers:\n  - {repeat: 3}\n", "layers: "),
    "unknown container key": (HEAD + "layers:\n  - {layers: relu, trainingonly: true}\n", "layers: "),
    "two bodies in a block": (HEAD + "blocks:\n  B: {layers: [relu], parallel: {a: relu}}\nlayers: [B]\n",
                              "blocks/B: "),
    "block without body": (HEAD + "blocks:\n  B: {params: {a: int}}\nlayers: [B(1)]\n", "blocks/B: "),
    "block name not a name": (HEAD + "blocks:\n  2B: {layers: relu}\nlayers: [relu]\n", "blocks: "),
    "unknown residual key": (HEAD + "layers:\n  - r: {residual: {body: relu, shortcutt: relu}}\n", "layers: "),
    "residual without body": (HEAD + "layers:\n  - r: {residual: {then: relu}}\n", "layers: "),
    "unknown init scheme": (HEAD + "layers: [relu]\ninit: {conv: he}\n", "init/conv: 'he' is not one of"),
    "import without blocks": (HEAD + "layers: [relu]\nimports: [{from: a.yaml}]\n", "imports/0: 'blocks' is a req"),
    "merge in a sequence": (HEAD + "layers:\n  - {layers: [relu], merge: add}\n", "layers: "),
    "params as a list": (HEAD + "params: [a, b]\nlayers: [relu]\n", "params: "),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_known_bad_spec_fails_the_schema(case: str, validator: jsonschema.Draft7Validator) -> None:
    text, expected = BAD[case]
    found = errors(validator, text)
    assert any(e.startswith(expected) or expected in e for e in found), found


CUT = {
    # archc keeps commas inside parentheses; standard YAML cuts there: the schema must take the pieces
    "flow list": "layers:\n  - down: [conv(planes * 4, 1, stride=2, bias=false), bn()]\n",
    "flow container": "layers:\n  - s: {repeat: 3, each: Res(16 * (i + 1), stride=1 if i == 0 else 2)}\n",
    "bare name cut off": "layers:\n  - x: {each: B(a, b, c), repeat: 2}\n  - {y: B(a, b, c)}\n",
    "flow branches": "layers:\n  - p: {parallel: {b1: conv(64, 1), b2: [conv(1, 2), B(a, b, c)]}}\n",
    "flow residual": "layers:\n  - r: {residual: {body: [conv(8, 3, padding=1), bn()], then: relu}}\n",
    "flow params": "params: {w: max(16, c), d: min(a, b, c)}\nlayers: [relu]\n",
    "nested calls": "layers: [conv(max(a, b), 3), conv(min(a, max(b, c)), 3)]\n",
}


@pytest.mark.parametrize("case", sorted(CUT))
def test_calls_cut_by_standard_yaml_are_accepted(case: str, validator: jsonschema.Draft7Validator) -> None:
    assert errors(validator, HEAD + CUT[case]) == []


def test_pieces_are_refused_where_nothing_was_cut(validator: jsonschema.Draft7Validator) -> None:
    assert errors(validator, HEAD + "layers: [relu, 3]\n")
    assert errors(validator, HEAD + "layers:\n  - p: {parallel: {b1: relu, b2: null}}\n")
    assert errors(validator, HEAD + "layers:\n  - {layers: relu, x: null}\n")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=networks())
def test_specs_archc_accepts_are_valid_under_the_schema(case: tuple, validator: jsonschema.Draft7Validator) -> None:
    # the property test's generator writes valid specs in every construct and both YAML styles
    assert errors(validator, case[0]) == []


def test_archc_schema_prints_and_writes_the_schema(cli, tmp_path: Path) -> None:
    result = cli("schema")
    assert result.code == 0 and json.loads(result.out) == build_schema()
    target = tmp_path / "archc.schema.json"
    result = cli("schema", "-o", target)
    assert result.code == 0 and target.read_text(encoding="utf-8") == render_schema()
    result = cli("schema", "--output", tmp_path / "missing" / "s.json")
    assert result.code == 2 and "error[E700]" in result.err and "Traceback" not in result.err
