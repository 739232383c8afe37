"""The JSON Schema of a spec file's YAML form, for editors (``archc schema``).

It is generated, never written by hand: the keys come from the parser's own tuples
(``SPEC_KEYS``, ``BLOCK_KEYS``, ``CONTAINER_KEYS``, …), enums and defaults from the
pydantic models, op names and signatures from the op registry. A key the parser
learns without a description in :mod:`archc.spec.schema_text` makes generation fail.

Draft-07, because it is the draft editors have supported longest and most completely
(yaml-language-server, behind VS Code, Neovim, Helix and others, added 2019-09 and
2020-12 only recently), and it has every keyword this schema needs (``if``/``then``/
``else``, ``contains``, ``propertyNames``, ``dependencies``).
Editor extensions it also carries: ``markdownDescription`` (hover text),
``defaultSnippets`` (completions with tab stops) and ``patternErrorMessage``;
validators ignore them.

The schema checks structure (which keys exist where, value types, one body per
block) and offers completion; the language itself (call syntax, expressions, names,
shapes) is checked by ``archc validate``, which reports far better errors than a
schema can. One liberty, described in ``SPLIT_NOTE``: archc's YAML keeps the commas
inside a call's parentheses, standard YAML readers cut there, and the schema accepts
the pieces they see.
"""

from __future__ import annotations

import json
import typing
from typing import Any

from . import model as m
from .expr import show
from .parser import _IDENT, BLOCK_KEYS, CONTAINER_KEYS, IMPORT_KEYS, INIT_KEYS, RESIDUAL_KEYS, SPEC_KEYS
from .schema_text import key_doc

DRAFT = "http://json-schema.org/draft-07/schema#"
# The parser's own rule for names (layers, branches, blocks, parameters), anchored.
NAME = "^" + _IDENT.pattern
NOT_NAME = "^(?!" + _IDENT.pattern + ")"
# A layer call: an op or block name, then optionally its arguments. The closing
# parenthesis is not required, because a standard YAML reader may have cut the call
# at a comma (see SPLIT_NOTE); `archc validate` checks the call itself.
CALL = r"^\s*[A-Za-z][A-Za-z0-9_]*\s*(\([\s\S]*)?$"
# Text whose parentheses balance (nested up to three deep, plenty for a layer call).
# A list holding a string that does not match was cut by a standard YAML reader.
_FLAT = r"[^()]*"
_DEPTH1 = rf"\({_FLAT}\)"
_DEPTH2 = rf"\({_FLAT}(?:{_DEPTH1}{_FLAT})*\)"
_DEPTH3 = rf"\({_FLAT}(?:{_DEPTH2}{_FLAT})*\)"
BALANCED = rf"^{_FLAT}(?:{_DEPTH3}{_FLAT})*$"
# The keys of which a block holds exactly one, and a container at most one.
BODIES = ("layers", "parallel", "residual", "repeat")

SPLIT_NOTE = (
    "archc reads `[conv(64, 3, stride=2), bn()]` as two layer calls: in a spec, commas inside parentheses do not "
    "end a value. Standard YAML readers (editors included) cut the call at its commas, into 'conv(64', 3, "
    "'stride=2)' and 'bn()', and in a flow mapping into extra keys with no value. The schema accepts such pieces; "
    "`archc validate` checks the calls as archc reads them.")


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/definitions/{name}"}


def _doc(schema: dict[str, Any], description: str, example: str | None = None) -> dict[str, Any]:
    """Attach hover text. A draft-07 ``$ref`` ignores keywords beside it, so a reference
    that gets a description of its own is wrapped in ``allOf``."""
    if "$ref" in schema:
        schema = {"allOf": [schema]}
    markdown = description + (f"\n\n```yaml\n{example}\n```" if example else "")
    return {**schema, "description": description, "markdownDescription": markdown}


def _literals(model: type[m.Model], field: str) -> list[Any]:
    """The values a ``Literal`` field of a spec model admits (``None`` left out)."""
    found: list[Any] = []

    def walk(annotation: Any) -> None:
        if typing.get_origin(annotation) is typing.Literal:
            found.extend(typing.get_args(annotation))
        for arg in typing.get_args(annotation):
            walk(arg)

    walk(model.model_fields[field].annotation)
    return list(dict.fromkeys(found))


def _default(model: type[m.Model], field: str) -> Any:
    return model.model_fields[field].default


def _value_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """The value each key takes, by ``(context, key)``; ``("*", key)`` serves every context."""
    return {
        ("spec", "archc"): {"enum": _literals(m.Spec, "archc")},
        ("spec", "name"): {"type": "string", "minLength": 1},
        ("spec", "class"): {"type": "string", "pattern": NAME},
        ("*", "doc"): {"type": "string"},
        ("spec", "extends"): {"type": "string", "minLength": 1},
        ("spec", "input"): {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1},
        ("*", "params"): ref("params"),
        ("spec", "imports"): {"type": "array", "items": ref("import")},
        ("spec", "blocks"): ref("blocks"),
        ("spec", "layers"): ref("entries"),
        ("spec", "train_outputs"): ref("names"),
        ("spec", "init"): ref("init"),
        ("block", "inline"): {"type": "boolean", "default": _default(m.BlockDef, "inline")},
        ("*", "layers"): ref("entries"),
        ("*", "parallel"): ref("parallel"),
        ("*", "residual"): ref("residual"),
        ("*", "repeat"): {"type": ["integer", "string"]},
        ("*", "each"): ref("entries"),
        ("*", "index"): {"type": "string", "pattern": NAME, "default": _default(m.BodyFields, "index")},
        ("*", "merge"): {"enum": _literals(m.BodyFields, "merge")},
        ("*", "dim"): {"type": "integer", "default": _default(m.BodyFields, "dim")},
        ("container", "from"): ref("names"),
        ("container", "training_only"): {"type": "boolean", "default": _default(m.Container, "training_only")},
        ("container", "when"): ref("expression"),
        ("residual", "body"): ref("entries"),
        ("residual", "shortcut"): ref("shortcut"),
        ("residual", "when"): ref("expression"),
        ("residual", "then"): ref("entries"),
        ("import", "from"): {"type": "string", "minLength": 1},
        ("import", "blocks"): ref("names"),
        ("init", "conv"): {"enum": _literals(m.InitSpec, "conv")},
        ("init", "linear"): {"enum": _literals(m.InitSpec, "linear")},
        ("init", "norm"): {"enum": _literals(m.InitSpec, "norm")},
        ("init", "std"): {"type": "number", "default": _default(m.InitSpec, "std")},
        ("init", "zero_init_residual"): {"type": "boolean", "default": _default(m.InitSpec, "zero_init_residual")},
    }


def _properties(context: str, keys: tuple[str, ...], values: dict[tuple[str, str], dict[str, Any]]
                ) -> dict[str, Any]:
    out = {}
    for key in keys:
        schema = values.get((context, key)) or values.get(("*", key))
        if schema is None:
            raise KeyError(f"the schema does not know the value of '{key}' in {context}: "
                           "add it to archc/spec/schema.py")
        out[key] = _doc(schema, *key_doc(context, key))
    return out


def _closed(properties: dict[str, Any], *, calls: bool) -> dict[str, Any]:
    """A mapping with only these keys. Where a value may be a layer call written in a
    flow mapping (``{each: Block(a, b)}``), a standard YAML reader turns the cut-off
    arguments into extra keys with no value; those are accepted when some key shows
    the cut (a character no name has, such as ')' or '=')."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if not calls:
        return {**schema, "additionalProperties": False}
    known = {key: True for key in properties}
    return {**schema,
            "if": {"propertyNames": {"pattern": NAME}},
            "then": {"properties": known, "additionalProperties": False},
            "else": {"properties": known, "additionalProperties": ref("pieceKey")}}


def _name_map(value: dict[str, Any], what: str, *, calls: bool, single: bool = False) -> dict[str, Any]:
    """A mapping from names to values: blocks, branches, parameters (``single``: one named
    layer). Values go in ``additionalProperties``, which is where editors look for value
    completions under a key they do not know in advance. Cut calls are tolerated as in
    :func:`_closed`; a cut-off argument that is a bare name also becomes a key without
    value, so names may hold null only where the cut shows."""
    names = {"pattern": NAME, "title": what, "patternErrorMessage": "a name: a letter, then letters, digits or _"}
    if not calls:
        return {"type": "object", "propertyNames": names, "additionalProperties": value}
    strict: dict[str, Any] = {"additionalProperties": value}
    return {"type": "object",
            "additionalProperties": {"anyOf": [value, ref("pieceKey")]},
            "if": {"propertyNames": names},
            "then": {**strict, "maxProperties": 1} if single else strict,
            "else": {"patternProperties": {NOT_NAME: ref("pieceKey")}}}


def _body_rules(schema: dict[str, Any], *, block: bool) -> dict[str, Any]:
    """One body per block (at most one per container, which may instead just read ``from``),
    ``repeat`` with ``each``, ``index`` only with ``repeat``, ``merge`` only with branches."""
    one_of: list[dict[str, Any]] = [{"required": [key]} for key in BODIES]
    if not block:
        one_of.append({"required": ["from"], "not": {"anyOf": [{"required": [key]} for key in BODIES]}})
    merge: Any = ["parallel"] if block else {"anyOf": [{"required": ["parallel"]}, {"required": ["from"]}]}
    return {**schema, "oneOf": one_of,
            "dependencies": {"repeat": ["each"], "each": ["repeat"], "index": ["repeat"], "merge": merge}}


def _op_docs() -> tuple[list[dict[str, Any]], list[str]]:
    """A completion snippet per op (tab stops on its required arguments, its signature
    and argument table as documentation) and a Markdown line per op, from the registry."""
    from ..ops import registry
    from ..ops.registry import describe, describe_type

    snippets, lines = [], []
    for op in registry():
        fields = op.Attrs.model_fields
        args = describe(op)
        shown = ", ".join(k if v is ... else f"{k}={show(v)}" for k, v in args.items())
        signature = f"{op.name}({shown})"
        target = f" → {op.torch_class}" if op.torch_class else ""
        also = f" (also: {', '.join(op.aliases)})" if op.aliases else ""
        required = [k for k, v in args.items() if v is ...]
        tab_stops = ", ".join(f"${{{n}:{k}}}" for n, k in enumerate(required, 1))
        rows = "".join(f"\n| `{k}` | {describe_type(fields[k].annotation)} | "
                       f"{'required' if v is ... else f'`{show(v)}`'} |" for k, v in args.items())
        table = f"\n\n| argument | type | default |\n|---|---|---|{rows}" if args else ""
        snippets.append({"label": op.name, "description": f"{signature}{target}",
                         "markdownDescription": f"`{signature}`{target} — {op.family}{also}{table}",
                         "bodyText": f"{op.name}({tab_stops})" if fields else op.name})
        lines.append(f"- `{signature}`{target}{also}")
    return snippets, lines


def _described(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A definition with hover text. Only definitions that stand for an entry get one:
    editors show the innermost description, which would hide the key's own on a value
    such as ``layers:``. (No titles either: yaml-language-server shows the nearest title
    as the heading of every hover, where it would name the wrong thing.)"""
    return {**schema, "description": description, "markdownDescription": description}


def _definitions() -> dict[str, Any]:
    values = _value_schemas()
    snippets, op_lines = _op_docs()
    call_doc = ("A layer: an op or a block by name, with its arguments in parentheses (without arguments the "
                "parentheses may be left out): `conv(64, 3, stride=2, bias=false)`, `relu`, "
                "`Bottleneck(64, stride=2)`. Arguments are expressions over the parameters.")
    call = {"type": "string", "pattern": CALL, "defaultSnippets": snippets,
            "patternErrorMessage": "expected a layer call such as conv(64, 3) or relu"}
    return {
        "call": {**_described(call, call_doc),
                 "markdownDescription": call_doc + "\n\nOps (`archc ops` lists them):\n\n" + "\n".join(op_lines)},
        "named": _described(
            {**_name_map(ref("value"), "layer name", calls=True, single=True), "minProperties": 1,
             # a mapping with a container key is a container, whatever else it holds
             "propertyNames": {"title": "layer name", "not": {"enum": list(CONTAINER_KEYS)}}},
            "A named layer, `name: value`. The name is its PyTorch module path (and state_dict "
                           "prefix); the value is a layer call, a list (an nn.Sequential) or a container."),
        "container": _described(
            _body_rules(_closed(_properties("container", CONTAINER_KEYS, values), calls=True), block=False),
            "A container: a sequence (`layers`), branches (`parallel`), a `residual`, a `repeat`, or a "
                         "side branch that reads `from` a named point."),
        "block": _described(
            _body_rules(_closed(_properties("block", BLOCK_KEYS, values), calls=True), block=True),
            "A block definition: optional doc and params, and exactly one body (layers, parallel, residual, "
                     "or repeat with each). It becomes one nn.Module class."),
        "piece": {"type": ["string", "number", "boolean"], "description": SPLIT_NOTE},
        "pieceKey": {"type": "null", "description": SPLIT_NOTE},
        "cut": {"type": "string", "not": {"pattern": BALANCED}},
        "expression": {"type": ["string", "integer", "number", "boolean"]},
        "names": {"anyOf": [{"type": "string", "minLength": 1},
                            {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}]},
        "entries": {"anyOf": [ref("call"), ref("entryList")]},
        # the pieces of a cut call are accepted only in a list that shows the cut
        "entryList": {"type": "array", "items": {"anyOf": [ref("entry"), ref("piece")]},
                      "if": {"contains": ref("cut")}, "else": {"items": ref("entry")}},
        "entry": {"anyOf": [ref("call"), ref("named"), ref("container")]},
        "value": {"anyOf": [ref("call"), ref("entryList"), ref("container")]},
        "blocks": _name_map(ref("block"), "block name", calls=False),
        "residual": _closed(_properties("residual", RESIDUAL_KEYS, values), calls=True) | {"required": ["body"]},
        "shortcut": {"anyOf": [ref("entryList"), ref("entry")]},
        "parallel": _name_map(ref("value"), "branch name", calls=True) | {"minProperties": 1},
        "params": {"anyOf": [_name_map(ref("paramValue"), "parameter name", calls=True), {"type": "null"}]},
        "paramValue": {"anyOf": [
            {"enum": list(m.PARAM_TYPES), "description": "a parameter that must be given, of this type"},
            {"type": ["string", "number", "boolean", "array", "null"], "description": "the default (an expression)"}]},
        "import": _closed(_properties("import", IMPORT_KEYS, values), calls=False) | {"required": ["from", "blocks"]},
        "init": _closed(_properties("init", INIT_KEYS, values), calls=False),
    }


SKELETON = ("archc: 1\nname: ${1:net}\ndoc: ${2:What this network is, with its citation.}\ninput: [3, 224, 224]\n"
            "params: {num_classes: 1000}\nlayers:\n  - conv1: conv(64, 3, padding=1)\n  - relu\n"
            "  - pool: adaptive_avgpool(1)\n  - flatten\n  - fc: linear(num_classes)\n")


def build_schema() -> dict[str, Any]:
    """The schema, as a JSON-ready dict (same input, same output: it is committed and compared)."""
    values = _value_schemas()
    description = ("An archc spec: a neural network written as YAML. `archc validate FILE` checks it fully; "
                   "docs/language.md is the reference.")
    return {
        "$schema": DRAFT,
        "title": "archc spec",
        "$comment": "Generated by `archc schema`; do not edit.",
        "description": description,
        "markdownDescription": description,
        "type": "object",
        "properties": _properties("spec", SPEC_KEYS, values),
        "additionalProperties": False,
        "required": ["archc", "name"],
        # a variant (extends) only changes values; any other spec defines the network
        "if": {"required": ["extends"]},
        "then": {"not": {"anyOf": [{"required": [key]} for key in ("layers", "blocks", "imports")]}},
        "else": {"required": ["input", "layers"]},
        "defaultSnippets": [{"label": "new archc spec", "description": "a minimal network to start from",
                             "bodyText": SKELETON}],
        "definitions": _definitions(),
    }


def render_schema() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"

