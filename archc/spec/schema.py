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
block), that every layer calls a known op or a block, and offers completion; the
language itself (arguments, expressions, names, shapes) is checked by ``archc
validate``, which reports far better errors than a schema can. It reads specs as
every YAML reader does: a flow item only archc reads as one (W110, ``archc fmt``
quotes it) is, to the schema, the pieces a standard reader cuts it into, and fails.

Which names a call may start with (``CALLEE``): an op or one of its aliases, or a
block, which JSON Schema cannot look up among the file's ``blocks:`` keys (it cannot
compare a value with keys elsewhere in the document), so blocks are recognised by
the convention that names them like classes, with a capital letter. A lowercase
callee that is not an op is accepted only where a block may be held by a parameter
(``each: block(planes)`` in ResNet's ``Stage``): in a block, or the network, that
declares a parameter of type ``block`` or with a default that names a block. That
permissive alternative is a second copy of the definitions of entries (suffix
``Any``), chosen by an ``if`` on the enclosing ``params``.
"""

from __future__ import annotations

import json
import typing
from typing import Any

from . import model as m
from .expr import show
from .parser import _FREEZE_PART, _IDENT, BLOCK_KEYS, CONTAINER_KEYS, IMPORT_KEYS, INIT_KEYS, RESIDUAL_KEYS, SPEC_KEYS
from .schema_text import key_doc

DRAFT = "http://json-schema.org/draft-07/schema#"
# The parser's own rule for names (layers, branches, blocks, parameters), anchored.
NAME = "^" + _IDENT.pattern
# A variant's path to an entry of its base: names joined by '.', later parts may be positions.
# A layer name, or one generated from the repeat index (`denselayer{i + 1}`, `block{stage}-{i}`: text
# and `{expression}` parts; the text may hold '-').
LAYER_NAME = r"^(?:[A-Za-z][A-Za-z0-9_]*|[A-Za-z0-9_-]*(?:\{[^{}]+\}[A-Za-z0-9_-]*)+)$"
PATH = rf"^{_IDENT.pattern[:-1]}(?:\.(?:{_IDENT.pattern[:-1]}|[0-9]+))*$"
# a frozen module path: parts that are names, positions, ranges (`0-9`) or globs (`layer*`)
FREEZE_PATH = rf"^{_FREEZE_PART.pattern[:-1]}(?:\.{_FREEZE_PART.pattern[:-1]})*$"
# A layer call: a callee, then optionally its arguments in parentheses, closed at the end.
_ARGS = r"\s*(?:\([\s\S]*\))?\s*$"
# A block's name, by the convention that blocks are named like classes (see the module doc).
BLOCK_NAME = r"[A-Z][A-Za-z0-9_]*"
# The keys of which a block holds exactly one, and a container at most one.
BODIES = ("layers", "parallel", "residual", "repeat")
# The definitions that describe entries; each exists twice, strict and with the suffix ANY.
ENTRY_DEFS = ("call", "entries", "entryList", "entry", "named", "container", "value", "residual", "shortcut",
              "parallel")
ANY = "Any"


def known_callee() -> str:
    """A call whose callee is an op, an alias, or a block (a capitalised name). Op names go
    longest first, so that ``conv1d`` is not read as ``conv`` followed by junk."""
    from ..ops import registry

    names = sorted({n for op in registry() for n in (op.name, *op.aliases)}, key=lambda n: (-len(n), n))
    return rf"^\s*(?:{'|'.join(names)}|{BLOCK_NAME}){_ARGS}"


def any_callee() -> str:
    """The permissive alternative: any name (a parameter holding a block)."""
    return rf"^\s*[A-Za-z_][A-Za-z0-9_]*{_ARGS}"


def holds_block() -> dict[str, Any]:
    """A ``params`` mapping with a parameter that may hold a block: typed ``block``, or with a
    default that names one (``block: Bottleneck``)."""
    may_hold = {"anyOf": [{"const": "block"}, {"type": "string", "pattern": f"^{BLOCK_NAME}$"}]}
    return {"type": "object", "not": {"additionalProperties": {"not": may_hold}}}


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


def _value_schemas(suffix: str = "") -> dict[tuple[str, str], dict[str, Any]]:
    """The value each key takes, by ``(context, key)``; ``("*", key)`` serves every context.
    ``suffix`` picks the copy of the entry definitions (strict, or ``ANY``)."""

    def ref(name: str) -> dict[str, Any]:
        return {"$ref": f"#/definitions/{name}{suffix if name in ENTRY_DEFS else ''}"}

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
        # keys are paths into the base's layers (`fc`, `classifier.6`), values what a named entry holds
        ("spec", "replace"): {"type": "object", "minProperties": 1,
                              "propertyNames": {"pattern": PATH, "title": "path of an entry of the base",
                                                "patternErrorMessage": "a name, or names and positions joined "
                                                                       "by '.', e.g. fc or classifier.6"},
                              "additionalProperties": ref("value")},
        ("spec", "drop"): {"anyOf": [{"type": "string", "pattern": PATH},
                                     {"type": "array", "items": {"type": "string", "pattern": PATH},
                                      "minItems": 1}]},
        ("spec", "freeze"): {"anyOf": [{"type": "string", "pattern": FREEZE_PATH},
                                       {"type": "array", "items": {"type": "string", "pattern": FREEZE_PATH},
                                        "minItems": 1},
                                       {"type": "object", "required": ["modules"], "additionalProperties": False,
                                        "properties": {
                                            "modules": {"anyOf": [
                                                {"type": "string", "pattern": FREEZE_PATH},
                                                {"type": "array", "items": {"type": "string", "pattern": FREEZE_PATH},
                                                 "minItems": 1}]},
                                            "norms": {"enum": _literals(m.Freeze, "norms"),
                                                      "default": _default(m.Freeze, "norms")}}}]},
        ("block", "inline"): {"type": "boolean", "default": _default(m.BlockDef, "inline")},
        ("*", "layers"): ref("entries"),
        ("*", "parallel"): ref("parallel"),
        ("*", "residual"): ref("residual"),
        ("*", "repeat"): {"type": ["integer", "string"]},
        ("*", "each"): {"anyOf": [ref("entries"), ref("named"), ref("container")]},
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


def _closed(properties: dict[str, Any]) -> dict[str, Any]:
    """A mapping with only these keys."""
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _name_map(value: dict[str, Any], what: str, *, single: bool = False) -> dict[str, Any]:
    """A mapping from names to values: blocks, branches, parameters (``single``: one named
    layer). Values go in ``additionalProperties``, which is where editors look for value
    completions under a key they do not know in advance."""
    names = {"pattern": NAME, "title": what, "patternErrorMessage": "a name: a letter, then letters, digits or _"}
    schema = {"type": "object", "propertyNames": names, "additionalProperties": value}
    return {**schema, "maxProperties": 1} if single else schema


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


def _entry_definitions(suffix: str, call: dict[str, Any]) -> dict[str, Any]:
    """The definitions that describe entries, each named with ``suffix``: the strict copy
    (``""``), whose calls are ops and blocks, or the permissive one (``ANY``)."""
    values = _value_schemas(suffix)

    def own(name: str) -> dict[str, Any]:
        return ref(name + suffix)

    layer_name = {"pattern": LAYER_NAME, "title": "layer name", "patternErrorMessage": "a name: a letter, then "
                  "letters, digits or _; in a repeat, `{expression}` parts may make it (`denselayer{i + 1}`)",
                  # a mapping with a container key is a container, whatever else it holds
                  "not": {"enum": list(CONTAINER_KEYS)}}
    return {
        "call": call,
        "named": _described(
            {"type": "object", "propertyNames": layer_name, "additionalProperties": own("value"),
             "minProperties": 1, "maxProperties": 1},
            "A named layer, `name: value`. The name is its PyTorch module path (and state_dict "
            "prefix); the value is a layer call, a list (an nn.Sequential) or a container."),
        "container": _described(
            _body_rules(_closed(_properties("container", CONTAINER_KEYS, values)), block=False),
            "A container: a sequence (`layers`), branches (`parallel`), a `residual`, a `repeat`, or a "
            "side branch that reads `from` a named point."),
        "entries": {"anyOf": [own("call"), own("entryList")]},
        "entryList": {"type": "array", "items": own("entry")},
        "entry": {"anyOf": [own("call"), own("named"), own("container")]},
        "value": {"anyOf": [own("call"), own("entryList"), own("container")]},
        "residual": _closed(_properties("residual", RESIDUAL_KEYS, values)) | {"required": ["body"]},
        "shortcut": {"anyOf": [own("entryList"), own("entry")]},
        # a mapping of named branches, or a list of branches whose modules are the enclosing module's
        "parallel": {"anyOf": [_name_map(own("value"), "branch name") | {"minProperties": 1},
                               {"type": "array", "items": own("entry"), "minItems": 1}]},
    }


def _strict_where_no_block_param(context: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """Unless this block (or network) declares a parameter that may hold a block, its calls
    must name ops or blocks: the strict copy of each key whose value holds entries."""
    strict, loose = _value_schemas(), _value_schemas(ANY)
    changed = {}
    for key in keys:
        mine = strict.get((context, key)) or strict.get(("*", key))
        if mine != (loose.get((context, key)) or loose.get(("*", key))):
            changed[key] = mine
    return {"if": {"not": {"required": ["params"], "properties": {"params": holds_block()}}},
            "then": {"properties": changed}}


def _definitions() -> dict[str, Any]:
    loose = _value_schemas(ANY)
    snippets, op_lines = _op_docs()
    call_doc = ("A layer: an op or a block by name, with its arguments in parentheses (without arguments the "
                "parentheses may be left out): `conv(64, 3, stride=2, bias=false)`, `relu`, "
                "`Bottleneck(64, stride=2)`. Arguments are expressions over the parameters. Blocks are named "
                "with a capital letter.")
    markdown = call_doc + "\n\nOps (`archc ops` lists them):\n\n" + "\n".join(op_lines)
    call = {"type": "string", "pattern": known_callee(), "defaultSnippets": snippets,
            "patternErrorMessage": "unknown op or block: expected an op (`archc ops` lists them) or a block, named "
                                   "with a capital letter, as in conv(64, 3), relu or Bottleneck(64)",
            "description": call_doc, "markdownDescription": markdown}
    call_any = {**call, "pattern": any_callee(),
                "patternErrorMessage": "expected a layer call such as conv(64, 3), relu or block(64)"}
    block = _body_rules(_closed(_properties("block", BLOCK_KEYS, loose)), block=True)
    return {
        **_entry_definitions("", call),
        **{name + ANY: schema for name, schema in _entry_definitions(ANY, call_any).items()},
        "block": _described({**block, **_strict_where_no_block_param("block", BLOCK_KEYS)},
                            "A block definition: optional doc and params, and exactly one body (layers, parallel, "
                            "residual, or repeat with each). It becomes one nn.Module class."),
        "expression": {"type": ["string", "integer", "number", "boolean"]},
        "names": {"anyOf": [{"type": "string", "minLength": 1},
                            {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}]},
        "blocks": _name_map(ref("block"), "block name"),
        "params": {"anyOf": [_name_map(ref("paramValue"), "parameter name"), {"type": "null"}]},
        "paramValue": {"anyOf": [
            {"enum": list(m.PARAM_TYPES), "description": "a parameter that must be given, of this type "
                                                          "(`kernel: int | pair`); `type = default` gives it a "
                                                          "default (`stride: int | pair = 1`)"},
            {"type": ["string", "number", "boolean", "array", "null"], "description": "the default (an expression)"}]},
        "import": _closed(_properties("import", IMPORT_KEYS, loose)) | {"required": ["from", "blocks"]},
        "init": _closed(_properties("init", INIT_KEYS, loose)),
    }


SKELETON = ("archc: 1\nname: ${1:net}\ndoc: ${2:What this network is, with its citation.}\ninput: [3, 224, 224]\n"
            "params: {num_classes: 1000}\nlayers:\n  - conv1: conv(64, 3, padding=1)\n  - relu\n"
            "  - pool: adaptive_avgpool(1)\n  - flatten\n  - fc: linear(num_classes)\n")


def build_schema() -> dict[str, Any]:
    """The schema, as a JSON-ready dict (same input, same output: it is committed and compared)."""
    values = _value_schemas(ANY)
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
        "else": {"required": ["input", "layers"],
                 "not": {"anyOf": [{"required": [key]} for key in ("replace", "drop")]}},
        "allOf": [_strict_where_no_block_param("spec", SPEC_KEYS)],
        "defaultSnippets": [{"label": "new archc spec", "description": "a minimal network to start from",
                             "bodyText": SKELETON}],
        "definitions": _definitions(),
    }


def render_schema() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"

