"""From the located YAML tree to the typed spec models, one mapping level at a time.

The parser decides the *shape* of the language (which key makes a container, what a
list entry may be) and gives each model its span; pydantic then checks each level's
keys and scalar types strictly. Errors are collected, not raised, so one run reports
everything that is wrong with a spec.
"""

from __future__ import annotations

import builtins
import keyword
import re
from typing import Any

from pydantic import ValidationError

from ..diagnostics import Reporter, Span, did_you_mean, suggest
from ..limits import Limits
from . import model as m
from .expr import Const, ExprError, ListLit, parse_call, parse_expr
from .source import YMap, YNode, YScalar, YSeq, type_name

# Keys that make a mapping in a list a container rather than a named entry.
CONTAINER_KEYS = ("layers", "parallel", "residual", "repeat", "each", "index", "merge", "dim", "doc", "from",
                  "training_only", "when")
BODY_KEYS = ("layers", "parallel", "residual", "repeat", "each", "index", "merge", "dim")
BLOCK_KEYS = ("doc", "params", "inline", *BODY_KEYS)
# `planes: int`, `kernel: int | pair`, `stride: int | pair = 1`: a type, then maybe a default
_TYPED = re.compile(r"\s*(?P<type>int\s*\|\s*pair|int|float|bool|str|list|block)\s*(?:=(?!=)\s*(?P<default>.*?))?\s*$",
                    re.DOTALL)
_UNION = re.compile(r"\s*[A-Za-z_]\w*\s*\|")  # a type with a `|` that is none of the above


def _typed(value: YNode) -> re.Match[str] | None:
    """A declaration's type (and default), if ``value`` is one. Quoted text is a default (`mode: 'row'`),
    except a union or `type = default`, which no expression can be: YAML needs the quotes where the
    default holds a comma inside a flow mapping (`{stride: "int | pair = [1, 1]"}`)."""
    if not isinstance(value, YScalar) or not isinstance(value.value, str):
        return None
    typed = _TYPED.match(value.value)
    if typed is None or (value.quoted and "|" not in typed["type"] and typed["default"] is None):
        return None
    return typed

SPEC_KEYS = ("archc", "name", "class", "doc", "extends", "input", "params", "imports", "blocks", "layers",
             "train_outputs", "init", "replace", "drop", "freeze")
FREEZE_KEYS = ("modules", "norms")
# a part of a frozen module path: a name, a position, a range of positions (`0-9`) or a glob (`layer*`)
_FREEZE_PART = re.compile(r"[A-Za-z0-9_*?\[\]!-]+$")
RESIDUAL_KEYS = ("body", "shortcut", "when", "then")
IMPORT_KEYS = ("from", "blocks")
INIT_KEYS = ("conv", "linear", "norm", "std", "zero_init_residual")

_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*$")
# a name made from a template may also join such pieces with '-', as torchvision's RegNet names
# its blocks `block1-0` (registered with add_module, so no Python identifier is needed)
_GENERATED = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*$")
# an `{expression}` part of a name generated from the repeat index (`denselayer{i + 1}`)
_TEMPLATE_PART = re.compile(r"\{([^{}]*)\}")
# Attribute names nn.Module (and nn.Sequential) already use: a layer with such a name
# would shadow a method or break state_dict handling.
MODULE_ATTRS = frozenset((
    "T_destination", "add_module", "append", "apply", "bfloat16", "buffers", "call_super_init", "children",
    "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extend", "extra_repr", "float", "forward",
    "get_buffer", "get_extra_state", "get_parameter", "get_submodule", "half", "insert", "ipu", "load_state_dict",
    "modules", "mtia", "named_buffers", "named_children", "named_modules", "named_parameters", "parameters", "pop",
    "register_backward_hook", "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter", "register_state_dict_post_hook",
    "register_state_dict_pre_hook", "requires_grad_", "self", "set_extra_state", "set_submodule", "share_memory",
    "state_dict", "to", "to_empty", "train", "training", "type", "xpu", "zero_grad",
))
# Names the expression language gives a meaning of its own.
# Names the generated module defines or imports, which the network class must not hide.
GENERATED_NAMES = frozenset({"torch", "nn", "math", "build", "INPUT_SHAPE", "annotations", "fold_state_dict",
                             "fold_batch_norm", "FOLDED_NORMS", "MOVED", "DROPPED"})
RESERVED_NAMES = frozenset({"true", "false", "none", "True", "False", "None", "input", "min", "max", "len",
                            "ceil", "floor", "round", "int", "make_divisible"})


def generated_name_problem(name: str) -> tuple[str, str] | None:
    """Why a name made from a template (`denselayer{i + 1}`) cannot name a module, with a hint; None
    where it can. The rules of :meth:`Parser.name`, applied once the name is made, except that
    '-' may join pieces (`block1-0`): such a module is added by name, never an attribute."""
    if not _GENERATED.match(name):
        if name[:1].isdigit():
            return "it starts with a digit", "put text before the first `{...}`, e.g. `layer{i}`"
        if name.startswith("_"):
            return "it begins with '_'", "names beginning with '_' are reserved for nn.Module internals"
        if name.startswith("-") or name.endswith("-") or "--" in name:
            return "a '-' joins two pieces of a name, so it cannot begin or end it or follow another", \
                "write text or `{expression}` on both sides of each '-', e.g. `block{stage}-{i}`"
        return "a name is a letter, then letters, digits and '_', in pieces joined by '-'", \
            "the expressions in braces must give whole numbers or names"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return "it is a Python keyword", "add text around the braces"
    if len(name) > 100:
        return f"it is {len(name)} characters long; the limit is 100", "shorten the template"
    if name in MODULE_ATTRS or name in RESERVED_NAMES:
        return "it would shadow a name nn.Module or the spec language uses", "add text around the braces"
    return None


class _Invalid(Exception):
    """Raised inside the parser to abandon one value after its error was reported."""


class Parser:
    def __init__(self, file: str, reporter: Reporter, limits: Limits | None = None):
        self.file = file
        self.r = reporter
        limits = limits or Limits()
        self.expr_limits = {"max_length": limits.max_expr_length, "max_nodes": limits.max_expr_nodes}
        self.in_each = False  # parsing the entries of a repeat's `each:`, where names may be made

    # --- helpers ---------------------------------------------------------------------

    def _loc(self, node: YScalar) -> m.Loc:
        span = node.span
        if span.line != span.end_line and not node.quoted:
            return m.Loc(span, span.col)
        if span.line != span.end_line:
            return m.Loc(span, None)
        return m.Loc(span, span.col + (1 if node.quoted else 0))

    def _fail(self, code: str, message: str, span: Span, hint: str | None = None) -> _Invalid:
        self.r.error(code, message, span, hint)
        return _Invalid()

    def _keys(self, node: YMap, allowed: tuple[str, ...], context: str) -> None:
        for key, (kscalar, _) in node.items.items():
            if key not in allowed:
                hint = suggest(key, allowed) or f"allowed keys: {', '.join(allowed)}"
                self.r.error("E200", f"unknown key '{key}' in {context}", kscalar.span, hint)

    def _validate(self, model: type[m.Model], node: YMap, data: dict[str, Any], context: str) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as err:
            for e in err.errors(include_url=False):
                self._pydantic_error(e, node, context)
            raise _Invalid() from None

    def _pydantic_error(self, e: Any, node: YMap, context: str) -> None:
        loc = e["loc"]
        key = loc[0] if loc and isinstance(loc[0], str) else None
        pair = node.items.get(key) if key else None
        if e["type"] == "missing":
            self.r.error("E201", f"missing key '{key}' in {context}", node.span.sub(0, 1),
                         f"add `{key}: ...` to this mapping")
            return
        span = node.span
        raw: object = e.get("input")
        if pair is not None:
            target: YNode = pair[1]
            for part in loc[1:]:
                if isinstance(target, YSeq) and isinstance(part, int) and part < len(target.items):
                    target = target.items[part]
                elif isinstance(target, YMap) and isinstance(part, str) and part in target.items:
                    target = target.items[part][1]
            span = target.span
            if isinstance(target, YScalar):
                raw = target.raw
        msg = str(e["msg"]).replace("Input should be", "expected").replace("input should be", "expected")
        where = ".".join(str(p) for p in loc)
        shown = raw if isinstance(raw, str) else type_name(raw)
        self.r.error("E202" if e["type"].endswith("_type") else "E203",
                     f"'{where}' in {context}: {msg}, got {shown!r}", span, _type_hint(e["type"], raw))

    def name(self, scalar: YScalar, what: str, *, module_attr: bool = True) -> str:
        name = scalar.value
        if not isinstance(name, str) or not name:
            raise self._fail("E304", f"{what} names must be text", scalar.span)
        if keyword.iskeyword(name) or keyword.issoftkeyword(name):
            raise self._fail("E304", f"'{name}' is a Python keyword and cannot name a {what}", scalar.span,
                             f"rename it, e.g. '{name}_'")
        if not _IDENT.match(name):
            hint = "names start with a letter and use letters, digits and '_'"
            if name[0].isdigit():
                hint = "numbers are given to unnamed entries automatically; pick a name that starts with a letter"
            elif name.startswith("_"):
                hint = "names beginning with '_' are reserved for nn.Module internals; start with a letter"
            elif _GENERATED.match(name) and module_attr:
                hint = ("'-' joins the pieces of a name made in a repeat's `each:` (`\"block{stage}-{i}\"`), "
                        "which the emitted code adds by name; a name written out uses letters, digits and '_'")
            raise self._fail("E304", f"'{name}' is not a valid {what} name", scalar.span, hint)
        if len(name) > 100:
            raise self._fail("E304", f"{what} name is {len(name)} characters long; the limit is 100", scalar.span)
        if module_attr and name in MODULE_ATTRS:
            what_it_is = "the module itself in generated code" if name == "self" else f"nn.Module.{name}"
            raise self._fail("E304", f"'{name}' would shadow {what_it_is}", scalar.span,
                             f"rename it, e.g. '{name}_layer'")
        if name in RESERVED_NAMES:
            raise self._fail("E304", f"'{name}' has a meaning of its own in specs and cannot name a {what}",
                             scalar.span, f"rename it, e.g. '{name}_'")
        return name

    def class_name(self, node: YNode) -> str:
        """The emitted network class's name: a Python identifier that hides nothing the generated
        module uses (torch, nn, build, INPUT_SHAPE) and no builtin."""
        if not isinstance(node, YScalar) or not isinstance(node.value, str) or not node.value:
            raise self._fail("E202", "'class' names the generated network class", node.span,
                             "e.g. `class: ResNet50`")
        name = node.value
        if not _IDENT.match(name) or keyword.iskeyword(name) or keyword.issoftkeyword(name):
            raise self._fail("E304", f"'{name}' is not a valid class name", node.span,
                             "a class name starts with a letter and uses letters, digits and '_', e.g. ResNet50")
        if len(name) > 100:
            raise self._fail("E304", f"class name is {len(name)} characters long; the limit is 100", node.span)
        if name in GENERATED_NAMES or name in dir(builtins):
            raise self._fail("E304", f"'{name}' would hide a name the generated module uses", node.span,
                             f"rename it, e.g. '{name[0].upper()}{name[1:]}Net'")
        return name

    def code(self, node: YNode, what: str) -> m.Code:
        if isinstance(node, YScalar):
            if isinstance(node.value, str):
                loc = self._loc(node)
                try:
                    return m.Code(expr=parse_expr(node.value, **self.expr_limits), loc=loc)
                except ExprError as err:
                    raise self._fail(err.code, err.message, loc.at(err.off, err.end), err.hint) from None
            return m.Code(expr=Const(0, len(node.raw), node.value), loc=m.Loc(node.span, node.span.col))
        if isinstance(node, YSeq):
            items = tuple(self.code(item, what).expr for item in node.items)
            return m.Code(expr=ListLit(0, 0, items), loc=m.Loc(node.span, None))
        raise self._fail("E202", f"{what} must be a value or an expression, not a mapping", node.span)

    def call(self, node: YScalar) -> m.Call:
        if not isinstance(node.value, str):
            raise self._fail("E204", f"expected a layer call such as conv(64, 3) or relu; got {node.kind} {node.raw!r}",
                             node.span, "quote it if it is meant as a name")
        loc = self._loc(node)
        try:
            return m.Call(call=parse_call(node.value, **self.expr_limits), loc=loc)
        except ExprError as err:
            raise self._fail(err.code, err.message, loc.at(err.off, err.end), err.hint) from None

    def refs(self, node: YNode, what: str) -> tuple[m.Ref, ...]:
        items = node.items if isinstance(node, YSeq) else [node]
        out = []
        for item in items:
            if not isinstance(item, YScalar) or not isinstance(item.value, str) or not item.value:
                raise self._fail("E202", f"{what} must be a name or a list of names", item.span)
            out.append(m.Ref(name=item.value, span=item.span))
        return tuple(out)

    # --- entries ---------------------------------------------------------------------

    def entries(self, node: YNode, what: str) -> tuple[m.Entry, ...]:
        """A list of entries (a single call string is accepted as a one-entry list)."""
        if isinstance(node, YScalar):
            return (self.call(node),)
        if not isinstance(node, YSeq):
            raise self._fail("E202", f"{what} must be a list of layers", node.span,
                             "write one layer per line, each starting with '- '")
        out: list[m.Entry] = []
        failed = False
        for item in node.items:
            try:
                out.append(self.entry(item))
            except _Invalid:
                failed = True
        if failed:
            raise _Invalid()
        return tuple(out)

    def entry(self, node: YNode) -> m.Entry:
        if isinstance(node, YScalar):
            return self.call(node)
        if isinstance(node, YSeq):
            raise self._fail("E204", "a list cannot stand directly in a list of layers", node.span,
                             "give it a name (`- name: [...]`) to make it an nn.Sequential")
        keys = list(node.items)
        if any(k in CONTAINER_KEYS for k in keys):
            return self.container(node)
        if len(keys) != 1:
            hint = "start each layer on its own line with '- '" if keys else "an empty mapping is not a layer"
            raise self._fail("E204", f"an entry names one layer, but this mapping has {len(keys)} keys "
                                     f"({', '.join(keys)})", node.span, hint)
        return self.named(node, "layer")

    def named(self, node: YMap, what: str) -> m.Named:
        ((kscalar, value),) = node.items.values()
        made_here, self.in_each = self.in_each, False  # a list inside the entry is a scope of its own
        try:
            if isinstance(kscalar.value, str) and "{" in kscalar.value:
                if not made_here:
                    raise self._fail("E304", f"'{kscalar.value}' makes a name from an expression, which only an "
                                             "entry of a repeat's `each:` does", kscalar.span,
                                     "write the name out, or make it in `repeat: n` / `each: {\"layer{i + 1}\": ...}`")
                parts = self.template(kscalar, what)
                name = kscalar.value
                return m.Named(name=name, name_span=kscalar.span, value=self.value(value, name), span=node.span,
                               template=parts)
            name = self.name(kscalar, what)
            return m.Named(name=name, name_span=kscalar.span, value=self.value(value, name), span=node.span)
        finally:
            self.in_each = made_here

    def template(self, scalar: YScalar, what: str) -> tuple[str | m.Code, ...]:
        """``denselayer{i + 1}``: text and ``{expression}`` parts, the name each repeat makes.
        The text must be what a name is made of; the whole name is checked once made (lowering)."""
        text = str(scalar.value)
        loc = self._loc(scalar)
        parts: list[str | m.Code] = []
        starts: list[int] = []  # where each part begins in the text
        pos = 0
        for match in _TEMPLATE_PART.finditer(text):
            starts += [pos, match.start() + 1]
            parts.append(text[pos:match.start()])
            inner = match.group(1)
            try:
                expr = parse_expr(inner, **self.expr_limits)
            except ExprError as err:
                start = match.start() + 1
                raise self._fail(err.code, err.message, loc.at(start + err.off, start + err.end), err.hint) from None
            # the expression's offsets count from its own first character, its Loc from the name's
            col0 = loc.col0 + match.start() + 1 if loc.col0 is not None else None
            parts.append(m.Code(expr=expr, loc=m.Loc(scalar.span, col0)))
            pos = match.end()
        parts.append(text[pos:])
        starts.append(pos)
        for part, at in zip(parts, starts):
            if not isinstance(part, str):
                continue
            bad = re.search(r"[^A-Za-z0-9_-]|--", part)
            if bad is not None:
                start = at + bad.start()
                char = bad.group(0)
                if char == "--":
                    raise self._fail("E304", f"'{text}' is not a valid {what} name template: '--' would make an "
                                             "empty piece of the name", loc.at(start, start + 2),
                                     "a '-' joins two pieces, e.g. `block{stage}-{i}`: write one '-'")
                hint = ("write each expression in one pair of braces, e.g. `denselayer{i + 1}`" if char in "{}"
                        else "a generated name is letters, digits, '_' and '-' around `{expression}` parts")
                raise self._fail("E304", f"'{text}' is not a valid {what} name template: {char!r} is not allowed "
                                         "outside braces", loc.at(start, start + 1), hint)
        if len(parts) == 1:  # pragma: no cover - "{" in the text always makes a part or an error
            raise self._fail("E304", f"'{text}' is not a valid {what} name", scalar.span)
        return tuple(parts)

    def value(self, node: YNode, name: str) -> m.Call | m.Seq | m.Container:
        if isinstance(node, YScalar):
            if node.value is None:
                raise self._fail("E204", f"'{name}' has no value", node.span,
                                 "write a layer call after the colon, e.g. `conv1: conv(64, 3)`")
            return self.call(node)
        if isinstance(node, YSeq):
            return m.Seq(items=self.entries(node, f"'{name}'"), span=node.span)
        return self.container(node)

    def body(self, node: YNode, what: str) -> m.Call | m.Seq:
        if isinstance(node, YScalar):
            return self.call(node)
        if isinstance(node, YSeq):
            return m.Seq(items=self.entries(node, what), span=node.span)
        raise self._fail("E202", f"{what} must be a layer call or a list of layers", node.span)

    def _body_fields(self, node: YMap, context: str) -> dict[str, Any]:
        """Parse the structural keys a block or container may hold."""
        data: dict[str, Any] = {"span": node.span}
        failed = False
        in_each = self.in_each
        for key, (kscalar, value) in node.items.items():
            # names are made from the index in the entries of `each:` (and of a group spliced there)
            self.in_each = key == "each" or (key == "layers" and in_each)
            try:
                if key == "layers":
                    data[key] = self.body(value, "'layers'")
                elif key == "each":
                    # one named entry may stand alone: `each: {"denselayer{i + 1}": DenseLayer(32)}`
                    data[key] = (m.Seq(items=(self.entry(value),), span=value.span)
                                 if isinstance(value, YMap) else self.body(value, "'each'"))
                elif key == "parallel":
                    data[key] = self.parallel(value)
                    data["merge_span"] = kscalar.span
                    data["flat"] = isinstance(value, YSeq)
                elif key == "residual":
                    data[key] = self.residual(value, kscalar.span)
                elif key in ("repeat", "when"):
                    data[key] = self.code(value, f"'{key}'")
                elif key == "from":
                    data[key] = self.refs(value, "'from'")
                elif key == "index":
                    if isinstance(value, YScalar) and isinstance(value.value, str):
                        data[key] = self.name(value, "loop index", module_attr=False)
                    else:
                        data[key] = _plain_scalar(value)
                elif key in BLOCK_KEYS or key in CONTAINER_KEYS:
                    data[key] = _plain_scalar(value)
            except _Invalid:
                failed = True
            finally:
                self.in_each = in_each
        present = [k for k in ("layers", "parallel", "residual", "repeat") if k in node.items]
        if len(present) > 1:
            self.r.error("E204", f"{context} holds {' and '.join(present)}; it can hold only one of them",
                         node.items[present[1]][0].span,
                         "nest one inside the other, or split them into consecutive entries")
            failed = True
        if ("repeat" in node.items) != ("each" in node.items):
            have, need = ("repeat", "each") if "repeat" in node.items else ("each", "repeat")
            self.r.error("E201", f"'{have}' needs '{need}' beside it in {context}", node.items[have][0].span,
                         "write `repeat: N` and `each: Layer(...)` together")
            failed = True
        if "index" in node.items and "repeat" not in node.items:
            self.r.error("E204", f"'index' only makes sense with 'repeat' in {context}", node.items["index"][0].span)
            failed = True
        if "merge" in node.items and not ("parallel" in node.items or "from" in node.items):
            self.r.error("E204", f"'merge' needs 'parallel' or a 'from' list in {context}", node.items["merge"][0].span)
            failed = True
        if failed:
            raise _Invalid()
        return data

    def container(self, node: YMap) -> m.Container:
        self._keys(node, CONTAINER_KEYS, "a container")
        if any(k not in CONTAINER_KEYS for k in node.items):
            raise _Invalid()
        data = self._body_fields(node, "this container")
        if not any(k in node.items for k in ("layers", "parallel", "residual", "repeat", "from")):
            raise self._fail("E201", "this container holds no layers", node.span,
                             "add `layers:`, `parallel:`, `residual:`, `repeat:`/`each:` or `from:`")
        return self._validate(m.Container, node, data, "a container")

    def parallel(self, node: YNode) -> tuple[m.Entry, ...]:
        if isinstance(node, YSeq):
            return self.flat_branches(node)
        if not isinstance(node, YMap) or not node.items:
            raise self._fail("E202", "'parallel' must map branch names to layers", node.span,
                             "e.g. `parallel: {branch1: relu, branch2: [maxpool(2), \"conv(96, 1)\"]}`")
        out = []
        failed = False
        for kscalar, value in node.items.values():
            try:
                name = self.name(kscalar, "branch")
                out.append(m.Named(name=name, name_span=kscalar.span, value=self.value(value, name),
                                   span=kscalar.span))
            except _Invalid:
                failed = True
        if failed:
            raise _Invalid()
        return tuple(out)

    def flat_branches(self, node: YSeq) -> tuple[m.Entry, ...]:
        """``parallel:`` as a list: each item is one branch, written as an entry of the enclosing
        list (its modules are the enclosing module's children; see docs/language.md)."""
        if not node.items:
            raise self._fail("E202", "'parallel' needs at least one branch", node.span,
                             "write one branch per item: `- branch1x1: BasicConv2d(64, 1)`, or "
                             "`- layers: [...]` for a branch of several layers")
        branches = self.entries(node, "'parallel'")
        for branch in branches:
            c = branch.value if isinstance(branch, m.Named) else branch
            if isinstance(c, m.Container) and (c.when is not None or c.training_only):
                what = "`when:`" if c.when is not None else "`training_only`"
                raise self._fail("E204", f"a branch of a `parallel:` list cannot have {what}", branch.span,
                                 "every branch of a list of branches exists wherever the `parallel:` does; put the "
                                 "condition inside the branch (`- layers: [..., {when: ..., layers: ...}]`) or on "
                                 "the `parallel:` itself")
        return branches

    def residual(self, node: YNode, key_span: Span) -> m.Residual:
        if not isinstance(node, YMap):
            raise self._fail("E202", "'residual' must be a mapping with 'body' (and optionally 'shortcut', "
                                     "'when', 'then')", node.span)
        self._keys(node, RESIDUAL_KEYS, "'residual'")
        data: dict[str, Any] = {"span": key_span}  # errors at the add point at `residual:`
        failed = any(k not in RESIDUAL_KEYS for k in node.items)
        for key, (_, value) in node.items.items():
            try:
                if key == "body":
                    data[key] = self.entries(value, "'body'")
                elif key == "then":
                    data[key] = self.entries(value, "'then'")
                elif key == "when":
                    data[key] = self.code(value, "'when'")
                elif key == "shortcut":
                    data[key] = (m.Seq(items=self.entries(value, "'shortcut'"), span=value.span)
                                 if isinstance(value, YSeq) else self.entry(value))
            except _Invalid:
                failed = True
        if failed:
            raise _Invalid()
        return self._validate(m.Residual, node, data, "'residual'")

    # --- declarations ------------------------------------------------------------------

    def params(self, node: YNode, context: str) -> tuple[m.ParamDecl, ...]:
        if isinstance(node, YScalar) and node.value is None:
            return ()
        if not isinstance(node, YMap):
            raise self._fail("E202", f"'params' of {context} must map names to defaults or types", node.span,
                             "e.g. `params: {planes: int, stride: 1}`")
        out = []
        failed = False
        for kscalar, value in node.items.values():
            try:
                name = self.name(kscalar, "parameter", module_attr=False)
                typed = _typed(value)
                if typed is not None:
                    out.append(self.typed_param(name, kscalar, value, typed))
                elif isinstance(value, YScalar) and isinstance(value.value, str) and _UNION.match(value.value):
                    raise self._fail("E202", f"'{value.value}' is not a parameter type", value.span,
                                     f"the types are {', '.join(m.PARAM_TYPES)}")
                else:
                    default = self.code(value, f"parameter '{name}'")
                    out.append(m.ParamDecl(name=name, span=kscalar.span, default=default))
            except _Invalid:
                failed = True
        if failed:
            raise _Invalid()
        return tuple(out)

    def typed_param(self, name: str, kscalar: YScalar, value: YScalar, typed: re.Match[str]) -> m.ParamDecl:
        """``name: type`` (required) or ``name: type = default`` (``stride: int | pair = 1``)."""
        kind = re.sub(r"\s+", " ", typed["type"]).replace(" | ", "|").replace("|", " | ")
        text = typed["default"]
        if text is None:
            return m.ParamDecl(name=name, span=kscalar.span, type=kind)
        loc = self._loc(value)
        if not text.strip():
            raise self._fail("E202", f"parameter '{name}' has '=' but no default", value.span,
                             f"write `{name}: {kind} = DEFAULT`, or `{name}: {kind}` for a required parameter")
        start = typed.start("default")
        if loc.col0 is None:  # over several lines: errors point at the whole declaration
            at = m.Loc(loc.span, None)
        else:  # on one line: at the default itself, where an error about its value points
            col = loc.col0 + start
            at = m.Loc(Span(loc.span.file, loc.span.line, col, loc.span.line, col + len(text)), col)
        try:
            expr = parse_expr(text, **self.expr_limits)
        except ExprError as err:
            raise self._fail(err.code, err.message, at.at(err.off, err.end), err.hint) from None
        return m.ParamDecl(name=name, span=kscalar.span, type=kind, default=m.Code(expr=expr, loc=at))

    def block(self, kscalar: YScalar, node: YNode) -> m.BlockDef:
        name = self.name(kscalar, "block", module_attr=False)
        context = f"block '{name}'"
        if not isinstance(node, YMap):
            raise self._fail("E202", f"{context} must be a mapping", node.span,
                             "e.g. `MyBlock: {params: {out: int}, layers: [\"conv(out, 3)\", relu]}`")
        self._keys(node, BLOCK_KEYS, context)
        failed = any(k not in BLOCK_KEYS for k in node.items)
        data: dict[str, Any] = {}
        try:
            data = self._body_fields(node, context)
        except _Invalid:
            failed = True
        if "params" in node.items:
            try:
                data["params"] = self.params(node.items["params"][1], context)
            except _Invalid:
                failed = True
        if not any(k in node.items for k in ("layers", "parallel", "residual", "repeat")):
            self.r.error("E201", f"{context} has no body", kscalar.span,
                         "add `layers:`, `parallel:`, `residual:` or `repeat:`/`each:`")
            failed = True
        if failed:
            raise _Invalid()
        data.update(name=name, name_span=kscalar.span)
        return self._validate(m.BlockDef, node, data, context)

    def imports(self, node: YNode) -> tuple[m.Import, ...]:
        if not isinstance(node, YSeq):
            raise self._fail("E202", "'imports' must be a list", node.span,
                             "e.g. `imports: [{from: _blocks.yaml, blocks: [BasicBlock]}]`")
        out = []
        for item in node.items:
            if not isinstance(item, YMap):
                raise self._fail("E202", "each import is a mapping with 'from' and 'blocks'", item.span)
            self._keys(item, IMPORT_KEYS, "an import")
            data: dict[str, Any] = {"span": item.span}
            for key, (_, value) in item.items.items():
                if key == "blocks":
                    data[key] = self.refs(value, "'blocks'")
                elif key == "from":
                    data[key] = _plain_scalar(value)
            if any(k not in IMPORT_KEYS for k in item.items):
                raise _Invalid()
            out.append(self._validate(m.Import, item, data, "an import"))
        return tuple(out)

    def spec(self, root: YNode | None) -> m.Spec | None:
        if root is None or (isinstance(root, YScalar) and root.value is None):
            self.r.error("E201", "the spec is empty", Span(self.file, 1, 1, 1, 2),
                         "a spec needs at least `archc: 1`, `name:`, `input:` and `layers:`")
            return None
        if not isinstance(root, YMap):
            self.r.error("E202", f"a spec is a mapping of keys such as name: and layers:, not a {root.kind}",
                         root.span)
            return None
        self._keys(root, SPEC_KEYS, "the spec")
        failed = any(k not in SPEC_KEYS for k in root.items)
        data: dict[str, Any] = {"span": root.span, "file": self.file}
        for key, (_, value) in root.items.items():
            try:
                if key == "params":
                    data[key] = self.params(value, "the spec")
                elif key == "layers":
                    data[key] = self.entries(value, "'layers'")
                elif key == "blocks":
                    data[key] = self._blocks(value)
                elif key == "imports":
                    data[key] = self.imports(value)
                elif key == "extends":
                    if not isinstance(value, YScalar) or not isinstance(value.value, str) or not value.value:
                        raise self._fail("E202", "'extends' names one spec file", value.span,
                                         "e.g. `extends: _resnet.yaml`")
                    data[key] = self.refs(value, "'extends'")[0]
                elif key == "train_outputs":
                    data[key] = self.refs(value, "'train_outputs'")
                elif key == "init":
                    data[key] = self._init(value)
                elif key == "replace":
                    data[key] = self._replace(value)
                elif key == "drop":
                    data[key] = self._drop(value)
                elif key == "freeze":
                    data[key] = self._freeze(value)
                elif key == "class":
                    data["class_name"] = self.class_name(value)
                    data["class_span"] = value.span
                elif key == "input":
                    data[key] = _input(value, self)
                    data["input_span"] = value.span
                elif key in SPEC_KEYS:
                    data[key] = _plain_scalar(value)
            except _Invalid:
                failed = True
        # a misspelt key was reported as unknown, with the right name as its hint: do not
        # also report the right name as missing
        misspelt = {did_you_mean(k, SPEC_KEYS) for k in root.items if k not in SPEC_KEYS}
        if "extends" not in root.items:
            for key in ("input", "layers"):
                if key not in root.items and key not in misspelt:
                    self.r.error("E201", f"missing key '{key}' in the spec", root.span.sub(0, 1),
                                 f"add `{key}:`" + (" (e.g. `input: [3, 224, 224]`)" if key == "input" else ""))
                    failed = True
        for key in ("replace", "drop"):
            if key in root.items and "extends" not in root.items:
                self.r.error("E204", f"'{key}' edits a base spec, but this spec extends none",
                             root.items[key][0].span,
                             "add `extends: BASE.yaml`, or edit `layers:` here directly")
                failed = True
        if "extends" in root.items:
            for key in ("layers", "blocks", "imports"):
                if key in root.items:
                    self.r.error("E204", f"a spec that extends another cannot define '{key}'",
                                 root.items[key][0].span,
                                 "a variant changes params, input, name, class and doc, and replaces or drops "
                                 "entries of its base (`replace:`, `drop:`); import blocks to build a new network")
                    failed = True
        try:  # even when a part failed, pydantic still reports the scalar keys' type errors
            spec = self._validate(m.Spec, root, data, "the spec")
        except _Invalid:
            return None
        return None if failed else spec

    def _blocks(self, node: YNode) -> tuple[m.BlockDef, ...]:
        if not isinstance(node, YMap):
            raise self._fail("E202", "'blocks' must map block names to definitions", node.span)
        out = []
        failed = False
        for kscalar, value in node.items.values():
            try:
                out.append(self.block(kscalar, value))
            except _Invalid:
                failed = True
        if failed:
            raise _Invalid()
        return tuple(out)

    def _path(self, scalar: YNode, what: str) -> tuple[str, ...]:
        """A variant's name for an entry of its base: ``fc``, or a dotted path into named lists
        and containers, whose later parts may be positions in a list (``classifier.6``)."""
        if not isinstance(scalar, YScalar) or not isinstance(scalar.value, str) or not scalar.value:
            raise self._fail("E202", f"{what} names an entry of the base spec", scalar.span,
                             "e.g. `fc`, `aux1`, or a dotted path such as `classifier.6`")
        parts = tuple(scalar.value.split("."))
        for i, part in enumerate(parts):
            if i > 0 and part.isdigit() and part.isascii():
                continue
            if not _IDENT.match(part) or keyword.iskeyword(part):
                hint = ("a path is names joined by '.', its later parts may be positions in a list: "
                        "`fc`, `features.0`, `classifier.6`")
                raise self._fail("E304", f"'{scalar.value}' is not a path to an entry", scalar.span, hint)
        return parts

    def _replace(self, node: YNode) -> tuple[m.Replace, ...]:
        if not isinstance(node, YMap) or not node.items:
            raise self._fail("E202", "'replace' maps names of the base's entries to new values", node.span,
                             "e.g. `replace: {fc: linear(37)}`")
        out = []
        failed = False
        for kscalar, value in node.items.values():
            try:
                path = self._path(kscalar, "a key of 'replace'")
                out.append(m.Replace(path=path, path_span=kscalar.span, value=self.value(value, path[-1]),
                                     span=kscalar.span))
            except _Invalid:
                failed = True
        if failed:
            raise _Invalid()
        return tuple(out)

    def _drop(self, node: YNode) -> tuple[m.Drop, ...]:
        items = node.items if isinstance(node, YSeq) else [node]
        if isinstance(node, YMap) or not items:
            raise self._fail("E202", "'drop' is a name or a list of names of the base's entries", node.span,
                             "e.g. `drop: [aux1, aux2]`")
        return tuple(m.Drop(path=self._path(item, "an item of 'drop'"), span=item.span) for item in items)

    def _freeze(self, node: YNode) -> m.Freeze:
        """``freeze: [conv1, bn1, layer1]`` or ``freeze: {modules: [...], norms: eval}``."""
        example = "e.g. `freeze: [conv1, bn1, layer1, layer2]` or `freeze: {modules: [features.0-9], norms: eval}`"
        data: dict[str, Any] = {"span": node.span}
        listed: YNode = node
        if isinstance(node, YMap):
            self._keys(node, FREEZE_KEYS, "'freeze'")
            if any(k not in FREEZE_KEYS for k in node.items):
                raise _Invalid()
            if "modules" not in node.items:
                raise self._fail("E201", "missing key 'modules' in 'freeze'", node.span, example)
            listed = node.items["modules"][1]
            if "norms" in node.items:
                data["norms"] = _plain_scalar(node.items["norms"][1])
        items = listed.items if isinstance(listed, YSeq) else [listed]
        if isinstance(listed, YMap) or not items:
            raise self._fail("E202", "'freeze' names the modules whose parameters are not trained", listed.span,
                             example)
        paths = []
        for item in items:
            if not isinstance(item, YScalar) or item.value is None or isinstance(item.value, bool) \
                    or not str(item.value):
                raise self._fail("E202", "an item of 'freeze' is a module path", item.span, example)
            parts = tuple(str(item.value).split("."))
            bad = next((part for part in parts if not _FREEZE_PART.match(part)), None)
            if bad is not None:
                raise self._fail("E202", f"'{item.value}' is not a module path: part {bad!r}", item.span,
                                 "parts are names, positions, ranges such as `0-9`, or globs such as `layer*`, "
                                 "joined by `.`")
            paths.append(m.FreezePath(parts=parts, span=item.span))
        data["modules"] = tuple(paths)
        return self._validate(m.Freeze, node, data, "'freeze'")

    def _init(self, node: YNode) -> m.InitSpec:
        if not isinstance(node, YMap):
            raise self._fail("E202", "'init' must be a mapping", node.span,
                             "e.g. `init: {conv: kaiming_normal_fan_out, norm: ones_zeros}`")
        self._keys(node, INIT_KEYS, "'init'")
        if any(k not in INIT_KEYS for k in node.items):
            raise _Invalid()
        data: dict[str, Any] = {"span": node.span, **{k: _plain_scalar(v) for k, (_, v) in node.items.items()}}
        return self._validate(m.InitSpec, node, data, "'init'")


def _plain_scalar(node: YNode) -> object:
    if isinstance(node, YScalar):
        return node.value
    if isinstance(node, YSeq):
        return [_plain_scalar(i) for i in node.items]
    return {k: _plain_scalar(v) for k, (_, v) in node.items.items()}


def _input(node: YNode, parser: Parser) -> object:
    if isinstance(node, YSeq):
        return tuple(_plain_scalar(i) for i in node.items)
    raise parser._fail("E202", "'input' must be a list of sizes without the batch, e.g. [3, 224, 224]", node.span)


def _type_hint(kind: str, raw: object) -> str | None:
    if kind in ("int_type", "float_type") and isinstance(raw, str):
        return "remove the quotes to write a number"
    if kind == "bool_type":
        return "write true or false"
    if kind == "string_type":
        return "quote the value to write text"
    return None
