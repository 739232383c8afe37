"""The JSON Schema for editors: generated from the parser's keys, committed, used by every shipped spec.

Specs are read here with PyYAML's ``safe_load``, i.e. as an editor's standard YAML
reader sees them. Shipped specs mean the same to both readers (tests/spec/test_standard_yaml.py),
and a flow item only archc reads as one (W110) fails the schema until it is quoted.
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
from archc.spec.source import standard_form

from ..conftest import ROOT
from ..test_property import networks

SCHEMA_FILE = ROOT / "schema" / "archc.schema.json"
MODELINE = "# yaml-language-server: $schema=../schema/archc.schema.json"
SHIPPED = sorted(shipped_dir().glob("*.yaml"))
DOC_SPECS = sorted([*(ROOT / "docs" / "tutorial").glob("*.yaml"), *(ROOT / "docs" / "networks").glob("*.yaml")])


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


@pytest.mark.parametrize("path", SHIPPED + DOC_SPECS, ids=[p.name for p in SHIPPED + DOC_SPECS])
def test_shipped_spec_is_valid_under_the_schema(path: Path, validator: jsonschema.Draft7Validator) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        standard_yaml(text)
    except yaml.YAMLError as err:
        pytest.fail(f"{path.name} is not standard YAML, so editors show a syntax error: {err}\n"
                    "quote the calls in flow lists (`archc fmt`), or write those lists one '- ' item a line")
    assert errors(validator, text) == []


def test_doc_specs_carry_the_modeline() -> None:
    assert DOC_SPECS
    for path in DOC_SPECS:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        assert (path.parent / first.split("=", 1)[1]).resolve() == SCHEMA_FILE.resolve(), path


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
    # archc reads these flow items as one call each; standard YAML cuts them at their commas
    "flow list": "layers:\n  - down: [conv(planes * 4, 1, stride=2, bias=false), bn()]\n",
    "flow container": "layers:\n  - s: {repeat: 3, each: Res(16 * (i + 1), stride=1 if i == 0 else 2)}\n",
    "bare name cut off": "layers:\n  - x: {each: B(a, b, c), repeat: 2}\n  - {y: B(a, b, c)}\n",
    "flow branches": "layers:\n  - p: {parallel: {b1: conv(64, 1), b2: [conv(1, 2), B(a, b, c)]}}\n",
    "flow residual": "layers:\n  - r: {residual: {body: [conv(8, 3, padding=1), bn()], then: relu}}\n",
    "flow params": "params: {w: max(16, c), d: min(a, b, c)}\nlayers: [relu]\n",
    "nested calls": "layers: [conv(max(a, b), 3), conv(min(a, max(b, c)), 3)]\n",
}


@pytest.mark.parametrize("case", sorted(CUT))
def test_items_only_archc_reads_as_one_fail_until_quoted(case: str, validator: jsonschema.Draft7Validator) -> None:
    text = HEAD + CUT[case]
    assert errors(validator, text), "the pieces a standard reader sees must not pass"
    assert errors(validator, standard_form(text)) == [], "archc fmt's rewrite must pass"


def test_pieces_are_refused_where_nothing_was_cut(validator: jsonschema.Draft7Validator) -> None:
    assert errors(validator, HEAD + "layers: [relu, 3]\n")
    assert errors(validator, HEAD + "layers:\n  - p: {parallel: {b1: relu, b2: null}}\n")
    assert errors(validator, HEAD + "layers:\n  - {layers: relu, x: null}\n")


BLOCKS = "blocks:\n  U:\n    params: {c: int}\n    layers:\n      - conv: conv(c, 3, padding=1)\n      - relu\n"
# Calls the schema refuses, with the error archc gives the same spec: both readers agree.
UNKNOWN = {
    "misspelt op": ("layers: [relux]\n", "E300"),
    "misspelt op with arguments": ("layers:\n  - c1: conv2(64, 3)\n", "E300"),
    "lowercase block name": ("blocks:\n  unit: {layers: [relu]}\nlayers: [unit]\n", None),
    "call not closed": ("layers:\n  - c1: conv(64, 3\n", "E400"),
    "in a branch": ("layers:\n  - p: {parallel: {a: relu, b: sigmoidd}}\n", "E300"),
    "in a residual": ("layers:\n  - r: {residual: {body: [relu], then: rleu}}\n", "E300"),
    "in each": ("layers:\n  - {repeat: 2, each: rellu}\n", "E300"),
    "in a block": (BLOCKS.replace("- relu", "- relu_") + "layers: [U(8)]\n", "E300"),
    "a block's misspelt op where no parameter holds a block": (
        BLOCKS + "  S:\n    params: {n: int}\n    repeat: n\n    each: maxpol(2)\nlayers:\n  - s: S(2)\n", "E300"),
}
# Calls the schema accepts, which archc accepts too.
KNOWN = {
    "ops and aliases": "layers:\n  - c: conv2d(8, 3)\n  - b: batchnorm2d()\n  - swish\n  - global_avgpool\n",
    "a block": BLOCKS + "layers:\n  - u: U(8)\n  - v: U(4)\n",
    "a parameter that holds a block, in a block": (
        BLOCKS + "  Stage:\n    params: {block: block, n: int}\n    repeat: n\n    each: block(8)\n"
        "layers:\n  - s: Stage(U, 2)\n"),
    "a network parameter that names a block": "params: {unit: U}\n" + BLOCKS + "layers:\n  - a: unit(8)\n",
    "multi-line call": "layers:\n  - c: conv(8,\n      3, padding=1)\n",
}


@pytest.mark.parametrize("case", sorted(UNKNOWN))
def test_unknown_ops_fail_the_schema(case: str, validator: jsonschema.Draft7Validator) -> None:
    import archc
    from archc.diagnostics import ArchcError

    text, code = UNKNOWN[case]
    assert errors(validator, HEAD + text)
    if code is not None:
        with pytest.raises(ArchcError) as err:
            archc.lower(archc.load("t.yaml", text=HEAD + text))
        assert code in err.value.codes


@pytest.mark.parametrize("case", sorted(KNOWN))
def test_known_ops_and_blocks_pass_the_schema(case: str, validator: jsonschema.Draft7Validator) -> None:
    import archc

    text = HEAD + KNOWN[case]
    assert errors(validator, text) == []
    assert archc.lower(archc.load("t.yaml", text=text, strict_yaml=True)).nodes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=networks())
def test_specs_archc_accepts_are_valid_under_the_schema(case: tuple, validator: jsonschema.Draft7Validator) -> None:
    # the property test's generator writes valid specs in every construct and both YAML styles, some with
    # flow items only archc reads as one: in standard form (archc fmt) every one passes the schema
    assert errors(validator, standard_form(case[0])) == []


def test_archc_schema_prints_and_writes_the_schema(cli, tmp_path: Path) -> None:
    result = cli("schema")
    assert result.code == 0 and json.loads(result.out) == build_schema()
    target = tmp_path / "archc.schema.json"
    result = cli("schema", "-o", target)
    assert result.code == 0 and target.read_text(encoding="utf-8") == render_schema()
    result = cli("schema", "--output", tmp_path / "missing" / "s.json")
    assert result.code == 2 and "error[E700]" in result.err and "Traceback" not in result.err
