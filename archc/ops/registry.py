"""The op registry: names to ops, loud about mistakes.

Looking up an unknown name raises :class:`UnknownOp` with a did-you-mean; registering
a name (or alias) twice raises at once. Binding call arguments to an op's attribute
model lives here too, so every op gets the same positional/keyword rules and the
same messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from ..diagnostics import did_you_mean
from .base import Attrs, Op


class UnknownOp(KeyError):
    def __init__(self, name: str, suggestion: str | None):
        super().__init__(name)
        self.name, self.suggestion = name, suggestion


class BindError(Exception):
    """An argument problem. ``arg`` is the keyword or positional index at fault."""

    def __init__(self, code: str, message: str, arg: str | int | None = None, hint: str | None = None):
        super().__init__(message)
        self.code, self.message, self.arg, self.hint = code, message, arg, hint


class Registry:
    def __init__(self, ops: Iterable[Op] = ()):
        self._ops: dict[str, Op] = {}
        self._names: dict[str, Op] = {}
        for op in ops:
            self.register(op)

    def register(self, op: Op) -> None:
        for name in (op.name, *op.aliases):
            if name in self._names:
                raise ValueError(f"op name '{name}' registered twice ({self._names[name]!r} and {op!r})")
            self._names[name] = op
        self._ops[op.name] = op

    def get(self, name: str) -> Op:
        try:
            return self._names[name]
        except KeyError:
            raise UnknownOp(name, did_you_mean(name, self._names)) from None

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[Op]:
        return iter(self._ops.values())

    def __len__(self) -> int:
        return len(self._ops)

    @property
    def names(self) -> list[str]:
        """Every name and alias."""
        return list(self._names)


def bind(op: Op, args: list[Any], kwargs: Mapping[str, Any]) -> Attrs:
    """Map positional and keyword values onto ``op.Attrs``; raise :class:`BindError`."""
    fields = list(op.Attrs.model_fields)
    if len(args) > len(fields):
        if fields:
            raise BindError("E308", f"{op.name}() takes at most {len(fields)} positional arguments "
                                    f"({', '.join(fields)}), got {len(args)}", len(fields))
        raise BindError("E308", f"{op.name} takes no arguments, got {len(args)}", 0,
                        f"write it as `{op.name}`")
    data: dict[str, Any] = dict(zip(fields, args))
    given_as: dict[str, str | int] = {f: i for i, f in enumerate(fields[: len(args)])}
    for key, value in kwargs.items():
        field = op.arg_aliases.get(key, key)
        if field not in op.Attrs.model_fields:
            known = [*fields, *op.arg_aliases]
            best = did_you_mean(key, known)
            hint = f"did you mean '{op.arg_aliases.get(best, best)}'?" if best else (
                f"{op.name} takes: {', '.join(fields)}" if fields else f"{op.name} takes no arguments")
            if key == "inplace":
                hint = "archc makes activations in-place automatically where that is safe"
            elif key in ("in_channels", "in_features", "num_features"):
                hint = "input sizes are inferred from the previous layer; leave this out"
            raise BindError("E301", f"{op.name}() has no argument '{key}'", key, hint)
        if field in data:
            raise BindError("E301", f"{op.name}() got '{field}' twice", key)
        data[field] = value
        given_as[field] = key
    try:
        return op.Attrs.model_validate(data)
    except ValidationError as err:
        e = err.errors(include_url=False)[0]
        field = str(e["loc"][0]) if e["loc"] else None
        if e["type"] == "missing" and len(e["loc"]) == 1:  # not an item missing from a list
            required = ", ".join(f for f in fields if op.Attrs.model_fields[f].is_required())
            raise BindError("E302", f"{op.name}() is missing its argument '{field}'", None,
                            f"write e.g. {op.name}({required})") from None
        where = given_as.get(field, field) if field else None
        value = data.get(field) if field else None
        is_type_error = len(e["loc"]) > 1 or e["type"].endswith("_type") or e["type"] == "literal_error"
        if field and is_type_error:
            want = describe_type(op.Attrs.model_fields[field].annotation)
            hint = "true/false are not numbers here" if isinstance(value, bool) and "integer" in want else None
            if isinstance(value, float) and "integer" in want and "number" not in want:
                hint = "write an integer: `/` always gives a float, `//` an integer (rounded down)"
            raise BindError("E202", f"{op.name}(): '{field}' must be {want}, got {_kind(value)} {_show(value)}",
                            where, hint) from None
        msg = str(e["msg"]).replace("Input should be", "should be")
        raise BindError("E203", f"{op.name}(): '{field}' {msg}, got {_show(value)}", where) from None


def describe_type(annotation: Any) -> str:
    """Plain words for an attribute's type: ``int | tuple[int, ...]`` -> an integer or a list of integers."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        parts = [describe_type(a) for a in args if a is not type(None)]
        if type(None) in args:
            parts.append("none")
        return " or ".join(dict.fromkeys(parts))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {describe_type(args[0]).removeprefix('an ').removeprefix('a ')}s"
        kinds = {describe_type(a).removeprefix("an ").removeprefix("a ") for a in args}
        return f"a list of {len(args)} {kinds.pop()}s" if len(kinds) == 1 else f"a list of {len(args)} values"
    return {int: "an integer", float: "a number", bool: "true or false", str: "text"}.get(annotation, str(annotation))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return {int: "integer", float: "number", str: "text", tuple: "list", type(None): "none"}.get(type(value), "value")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value)


def describe(op: Op) -> Mapping[str, Any]:
    """Attribute names with their defaults (``...`` when required), for docs and errors."""
    out: dict[str, Any] = {}
    for name, field in op.Attrs.model_fields.items():
        out[name] = ... if field.is_required() else field.default
    return out
