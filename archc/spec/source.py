"""YAML loading that keeps a source position for every value, and treats input as untrusted.

The document becomes a small tree of :class:`YMap`, :class:`YSeq` and :class:`YScalar`,
each with the :class:`~archc.diagnostics.Span` it was written at. The tree is composed
from YAML's event stream without recursion, so nesting depth is bounded before
anything deep is built (PyYAML's own composers recurse and can overflow the stack),
and anchors and aliases are refused (they would let a small file expand into a
huge tree, "billion laughs").

One extension to YAML's plain scalars, kept so that older specs still load: commas
(and brackets) inside parentheses do not end the scalar, so that
``downsample: [conv(planes * 4, 1, stride=stride, bias=false), bn()]`` is two layer
calls. Every other YAML reader (editors, formatters, scripts) sees five strings there,
so each such flow item gets a warning (W110; an error, E110, with ``strict_yaml``)
whose hint shows the line in standard YAML, and :func:`standard_form` rewrites a
spec's text so (``archc fmt``).

YAML 1.1 resolves some plain scalars in surprising ways; rather than guess, such
scalars are errors that say how to write the value unambiguously:
``no``/``yes``/``on``/``off`` (booleans in YAML 1.1), ``010`` (octal), ``1:30``
(base 60), dates, and ``1e-3`` (a string in YAML 1.1, a float in 1.2).
"""

from __future__ import annotations

import collections
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Union

import yaml

from ..diagnostics import Reporter, Span, describe_char, first_invisible
from .expr import INT_LIMIT

MAX_BYTES = 1_000_000
MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"
_CANONICAL_BOOL = {"true": True, "false": False, "True": True, "False": False, "TRUE": True, "FALSE": False}
_NULL = {"", "~", "null", "Null", "NULL"}
_DEC_INT = re.compile(r"[-+]?(0|[1-9][0-9_]*)$")
_HEX_INT = re.compile(r"[-+]?0x[0-9a-fA-F_]+$")
_BIN_INT = re.compile(r"[-+]?0b[01_]+$")
_FLOAT_12 = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


@dataclass(slots=True)
class YScalar:
    value: object
    span: Span
    raw: str = ""
    quoted: bool = False

    @property
    def kind(self) -> str:
        return type_name(self.value)


@dataclass(slots=True)
class YSeq:
    items: list[YNode]
    span: Span

    @property
    def kind(self) -> str:
        return "list"


@dataclass(slots=True)
class YMap:
    # key -> (key scalar, value node); insertion order is the document's order
    items: dict[str, tuple[YScalar, YNode]]
    span: Span

    @property
    def kind(self) -> str:
        return "mapping"

    def key_span(self, key: str) -> Span:
        return self.items[key][0].span

    def value(self, key: str) -> YNode | None:
        pair = self.items.get(key)
        return pair[1] if pair else None


YNode = Union[YScalar, YSeq, YMap]


def type_name(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


class _SpecLoader(yaml.SafeLoader):
    """PyYAML's pure-Python loader with one change: a plain scalar may contain commas and
    brackets inside parentheses, so ``[conv(planes, 1, stride=2), bn()]`` is a list of two
    layer calls rather than five fragments. Elsewhere YAML's rules are unchanged."""

    def __init__(self, stream: str):
        super().__init__(stream)
        # (start, end, first character a standard reader would stop at) of every plain
        # scalar in a flow collection that only this scanner reads as one
        self.archc_only: list[tuple[yaml.Mark, yaml.Mark, str]] = []

    def scan_plain(self) -> yaml.ScalarToken:  # adapted from yaml.scanner.Scanner.scan_plain
        chunks: list[str] = []
        start_mark = self.get_mark()
        end_mark = start_mark
        indent = self.indent + 1
        spaces: list[str] = []
        depth = 0
        cut = ""  # in a flow collection, where standard YAML would have ended this scalar
        while True:
            length = 0
            if self.peek() == "#":
                break
            while True:
                ch = self.peek(length)
                if depth > 0 and ch in "()[]{},":
                    depth += 1 if ch in "([{" else -1 if ch in ")]}" else 0
                    if self.flow_level and ch != "(" and ch != ")" and not cut:
                        cut = ch
                    length += 1
                    continue
                if ch in "\0 \t\r\n\x85\u2028\u2029" \
                        or (ch == ":" and self.peek(length + 1) in "\0 \t\r\n\x85\u2028\u2029"
                            + (",[]{}" if self.flow_level else "")) \
                        or (self.flow_level and ch in ",?[]{}"):
                    break
                if ch == "(":
                    depth += 1
                length += 1
            if length == 0:
                break
            self.allow_simple_key = False
            chunks.extend(spaces)
            chunks.append(self.prefix(length))
            self.forward(length)
            end_mark = self.get_mark()
            spaces = self.scan_plain_spaces(indent, start_mark)
            if not spaces or self.peek() == "#" or (not self.flow_level and self.column < indent):
                break
        if cut:
            self.archc_only.append((start_mark, end_mark, cut))
        return yaml.ScalarToken("".join(chunks), True, start_mark, end_mark)


class _LinearSimpleKeys:
    """PyYAML's scanner keeps a possible simple key per flow level and scans all of them before
    every token: with n brackets open on one line that is O(n) a token, O(n²) a document (16,000
    nested ``[`` took 41 s, with ``--limit max_depth`` raised). The keys are saved in the order of
    their position (a key is only ever added at the current position), and a key goes stale when
    the scanner leaves its line or moves 1024 characters past it, so the stale ones are always the
    oldest ones, and the nearest key is the oldest one: both become O(1) amortized. (An
    OrderedDict: a plain dict whose oldest entries keep being deleted takes ever longer to find
    its first live entry.)"""

    possible_simple_keys: dict[int, yaml.scanner.SimpleKey]
    line: int
    index: int

    def __init__(self, stream: str) -> None:
        super().__init__(stream)  # type: ignore[call-arg]
        self.possible_simple_keys = collections.OrderedDict()

    def stale_possible_simple_keys(self) -> None:
        keys = self.possible_simple_keys
        while keys:
            level, key = next(iter(keys.items()))
            if key.line == self.line and self.index - key.index <= 1024:
                return
            if key.required:
                raise yaml.scanner.ScannerError("while scanning a simple key", key.mark,
                                                "could not find expected ':'", self.get_mark())  # type: ignore[attr-defined]
            del keys[level]

    def next_possible_simple_key(self) -> int | None:
        keys = self.possible_simple_keys
        return next(iter(keys.values())).token_number if keys else None


class _Loader(_LinearSimpleKeys, _SpecLoader):
    pass


def _events(loader: _SpecLoader) -> Iterator[yaml.Event]:
    """``yaml.parse``, on a loader the caller keeps (to read what its scanner noted)."""
    try:
        while loader.check_event():
            yield loader.get_event()
    finally:
        loader.dispose()


def archc_only_items(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, cut)`` character offsets of each flow item that only archc's scanner
    reads as one, and the character at which standard YAML would end it. The text must
    be YAML that :func:`parse_yaml` reads without a syntax error."""
    loader = _Loader(text)
    for _ in _events(loader):
        pass
    return [(a.index, b.index, cut) for a, b, cut in loader.archc_only]


def _quote(raw: str) -> str:
    """A plain scalar's source text as a quoted scalar with the same value: YAML folds line
    breaks inside quotes exactly as in plain scalars, and only ``"``/``\\`` (double quotes)
    or ``'`` (single quotes) need escaping."""
    if '"' not in raw and "\\" not in raw:
        return f'"{raw}"'
    return "'" + raw.replace("'", "''") + "'"


def standard_form(text: str, items: list[tuple[int, int, str]] | None = None) -> str:
    """``text`` with every flow item that only archc reads as one quoted, and nothing else
    changed (comments, spacing, line breaks, other items): standard YAML with the meaning
    archc gave it. Lines keep their numbers."""
    if items is None:
        items = archc_only_items(text)
    parts, at = [], 0
    for start, end, _ in sorted(items):
        parts += [text[at:start], _quote(text[start:end])]
        at = end
    return "".join(parts) + text[at:]


_MAX_ITEMS_REPORTED = 20  # per file; then one diagnostic for the rest


def _report_archc_only(name: str, text: str, loader: _SpecLoader, reporter: Reporter, strict: bool) -> None:
    """W110 (E110 when strict) at each flow item only archc reads as one, with its line in
    standard YAML in the hint."""
    if not loader.archc_only:
        return
    items = [(a.index, b.index, cut) for a, b, cut in loader.archc_only]
    fixed = standard_form(text, items).splitlines()
    for n, ((start, end, cut), (a, b, _)) in enumerate(zip(items, loader.archc_only, strict=True)):
        span = _mark_span(name, a, b)
        if n == _MAX_ITEMS_REPORTED:  # the reporter keeps 200 diagnostics: leave room for errors
            more = f"{len(items) - n} more flow items here and below are read as one only by archc"
            (reporter.error if strict else reporter.warn)("E110" if strict else "W110", more, span,
                                                          "`archc fmt` quotes every such item in place")
            return
        shown = " ".join(line.strip() for line in fixed[span.line - 1: span.end_line])
        message = (f"only archc reads '{_clip(' '.join(text[start:end].split()), 60)}' as one item; "
                   f"standard YAML (editors, formatters, yaml.safe_load) ends it at '{cut}'")
        hint = (f"quote it: `{_clip(shown, 160)}`, or write the enclosing list or mapping one item a line; "
                "`archc fmt` quotes every such item in place")
        if strict:
            reporter.error("E110", message, span, hint)
        else:
            reporter.warn("W110", message, span, hint)


_RESOLVER = yaml.resolver.Resolver()


def parse_yaml(name: str, text: str, reporter: Reporter, *, max_bytes: int = MAX_BYTES,
               max_depth: int = MAX_DEPTH, strict_yaml: bool = False) -> YNode | None:
    """Parse ``text`` into a located tree, or report why not and return None.

    One pass over YAML's event stream, composing without recursion: nesting depth is
    bounded before anything deep is built, and anchors/aliases are refused. A flow item
    that only archc's scanner reads as one is a warning (W110), or with ``strict_yaml``
    an error (E110)."""
    reporter.sources[name] = text
    start = Span(name, 1, 1, 1, 2)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        reporter.error("E102", f"spec is {size:,} bytes; the limit is {max_bytes:,}", start,
                       hint="split the spec into files with `imports:`")
        return None
    if "\x00" in text:
        at = text.index("\x00")
        line, col = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
        reporter.error("E101", "spec contains a NUL byte; it is not a text file", Span(name, line, col, line, col + 1),
                       hint="a spec is a UTF-8 text file; remove the NUL byte")
        return None
    # The stages after this one walk the tree recursively (a few frames a level): a raised
    # max_depth is held to what Python's stack allows, so that the refusal is located here.
    readable = _readable_depth()
    depth_limit = min(max_depth, readable)
    # Each open collection: [node, pending key (maps only)].
    stack: list[list[object]] = []
    root: YNode | None = None
    documents = 0
    errors_before = len(reporter.errors)
    try:
        loader = _Loader(text)  # its reader refuses unprintable characters at once
        for event in _events(loader):
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    reporter.error("E101", "a spec file holds one YAML document; found a second one",
                                   _mark_span(name, event.start_mark),
                                   hint="remove the `---` separator, or move the second document to its own file")
                    return None
                continue
            if isinstance(event, yaml.AliasEvent):
                reporter.error("E104", f"YAML alias '*{event.anchor}' is not allowed in specs",
                               _mark_span(name, event.start_mark),
                               hint="write the value out, or define a block with `blocks:` and call it twice")
                return None
            if isinstance(event, (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if event.anchor is not None:
                    reporter.error("E104", f"YAML anchor '&{event.anchor}' is not allowed in specs",
                                   _mark_span(name, event.start_mark),
                                   hint="write the value out, or define a block with `blocks:` and call it twice")
                    return None
                if event.tag is not None:  # `! 3` too: the non-specific tag makes 3 a string in YAML
                    reporter.error("E107", f"YAML tags such as '{event.tag}' are not supported in specs",
                                   _mark_span(name, event.start_mark),
                                   hint="specs use plain YAML: mappings, lists, strings, numbers and booleans; "
                                        "remove the tag, or quote the value if you mean text")
                    return None
            node: YNode | None = None
            if isinstance(event, yaml.ScalarEvent):
                node = _scalar(name, event, reporter)
                is_key = bool(stack) and isinstance(stack[-1][0], YMap) and stack[-1][1] is None
                _invisible(name, text, event, is_key, reporter)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if len(stack) >= depth_limit:  # located at the bracket or indentation that crosses it
                    hint = "flatten the structure, or move parts into blocks"
                    if depth_limit < max_depth:
                        hint += (f"; {depth_limit} levels is as deep as archc can read with Python's stack "
                                 f"(max_depth is {max_depth:,})")
                    reporter.error("E103", f"spec nests deeper than {depth_limit} levels",
                                   _mark_span(name, event.start_mark), hint=hint)
                    return None
                span = _mark_span(name, event.start_mark)
                opened: YNode = YMap({}, span) if isinstance(event, yaml.MappingStartEvent) else YSeq([], span)
                stack.append([opened, None])
                continue
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                closed, _ = stack.pop()
                assert isinstance(closed, (YMap, YSeq))
                closed.span = _mark_span(name, _start_mark(closed.span), event.end_mark)
                node = closed
            else:
                continue
            if not stack:
                root = node
            else:
                _attach(stack[-1], node, reporter)
    except yaml.YAMLError as err:
        _report_yaml_error(name, err, reporter)
        return None
    _report_archc_only(name, text, loader, reporter, strict_yaml)
    if len(reporter.errors) > errors_before:
        return None
    return root


def _invisible(name: str, text: str, event: yaml.ScalarEvent, is_key: bool, reporter: Reporter) -> None:
    """Report a character that cannot be seen (a BOM, a zero-width or no-break space, a line
    separator, a bidirectional mark, a control character) in a key or an unquoted value, at the
    character itself: `name:` with a BOM after `na` would otherwise be an unknown key that looks
    exactly like `name:` (and a missing `name`). Quoted values are text (a `doc:`), which may
    hold any character; what is shown of it is escaped (:func:`~archc.diagnostics.printable`,
    the emitter's docstrings)."""
    if not is_key and event.style is not None:
        return
    start, end = event.start_mark.index, event.end_mark.index
    at = first_invisible(text[start:end])
    if at < 0:
        if first_invisible(event.value) < 0:
            return
        span = _mark_span(name, event.start_mark, event.end_mark)  # written as an escape: "\u200b"
        char = event.value[first_invisible(event.value)]
    else:
        line, col = _position(text, event.start_mark, start + at)
        span = Span(name, line, col, line, col + 1)
        char = text[start + at]
    where = "key" if is_key else "value"
    reporter.error("E101", f"invisible character {describe_char(char)} in the {where} "
                           f"'{_clip(event.value)}'", span,
                   hint="delete it (it cannot be seen, yet makes the text differ from what it looks like)"
                        + ("" if is_key else "; quote the text if the character is meant"))


def _position(text: str, start: object, index: int) -> tuple[int, int]:
    """The 1-based line and column of ``text[index]``, counting line breaks as YAML does."""
    line, col, i = start.line + 1, start.column + 1, start.index  # type: ignore[attr-defined]
    while i < index:
        c = text[i]
        if c in "\n\x85\u2028\u2029" or (c == "\r" and text[i + 1:i + 2] != "\n"):
            line, col = line + 1, 1
        else:
            col += 1
        i += 1
    return line, col


# Python frames a YAML level costs the recursive stages at most: measured 2.4 for nested containers
# in layers (the parser's deepest path), 2 for nested lists; tests/ir/test_budgets.py and
# tests/test_robustness.py check that every form of nesting up to the cap fits.
FRAMES_PER_LEVEL = 3


def _readable_depth() -> int:
    """How many levels of nesting the recursive stages can walk from the current stack depth."""
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return max(MAX_DEPTH, (sys.getrecursionlimit() - depth - 50) // FRAMES_PER_LEVEL)


class _Mark:
    def __init__(self, line: int, column: int, index: int = 0):
        self.line, self.column, self.index = line, column, index


def _start_mark(span: Span) -> _Mark:
    return _Mark(span.line - 1, span.col - 1)


def _attach(top: list[object], node: YNode, reporter: Reporter) -> None:
    parent = top[0]
    if isinstance(parent, YSeq):
        parent.items.append(node)
        return
    assert isinstance(parent, YMap)
    key = top[1]
    if key is None:
        top[1] = node
        return
    top[1] = None
    assert isinstance(key, (YScalar, YMap, YSeq))
    if not isinstance(key, YScalar) or not isinstance(key.value, str) or (key.quoted and not key.value):
        shown = key.raw if isinstance(key, YScalar) else key.kind
        reporter.error("E107", f"mapping keys must be names; got {shown!r}", key.span,
                       hint="quote the key if it is meant as text")
        return
    if key.value == "<<" and not key.quoted:
        reporter.error("E107", "YAML merge keys (<<) are not allowed in specs", key.span, hint="write the keys out")
        return
    if key.value in parent.items:
        first = parent.items[key.value][0].span
        reporter.error("E105", f"duplicate key '{key.value}' (first defined at line {first.line})", key.span,
                       hint="each key may appear once in a mapping; remove or rename one")
        return
    parent.items[key.value] = (key, node)


def _report_yaml_error(name: str, err: yaml.YAMLError, reporter: Reporter) -> None:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    context = getattr(err, "context", None)
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    hint = "check indentation and quoting; a value containing ': ' or starting with '{' or '[' must be quoted"
    # PyYAML writes a tab as '\t' in its messages; "unacceptable" is no tab
    if "\t" in problem or "'\\t'" in problem or re.search(r"\btabs?\b", problem):
        hint = "YAML does not allow tabs for indentation; use spaces"
    span = _mark_span(name, mark) if mark else Span(name, 1, 1, 1, 2)
    text = reporter.sources.get(name, "")
    if isinstance(err, yaml.reader.ReaderError) and 0 <= err.position < len(text):
        # the reader refuses a character before any token exists: no mark, but its position
        before = text[:err.position]
        line, col = before.count("\n") + 1, err.position - (before.rfind("\n") + 1) + 1
        char = text[err.position]
        message = f"{describe_char(char)} is not allowed in YAML"
        span, hint = Span(name, line, col, line, col + 1), "delete the character (YAML allows no control characters)"
    odd = _invisible_near(reporter.sources.get(name, ""), err)
    if odd is not None:  # `na\u2028me:` breaks the line where no one sees a break: say so, there
        line, col, char = odd
        message = f"invisible character {describe_char(char)} breaks the YAML here: {problem}"
        span, hint = Span(name, line, col, line, col + 1), "delete the character, or type a plain space or line break"
    reporter.error("E101", message, span, hint=hint)


def _invisible_near(text: str, err: yaml.YAMLError) -> tuple[int, int, str] | None:
    """The first invisible character between the start of the line where YAML's error context
    begins and the point of the error, with its line and column; None if there is none."""
    marks = [m for m in (getattr(err, "context_mark", None), getattr(err, "problem_mark", None))
             if m is not None and getattr(m, "index", None) is not None]
    if not marks or not text:
        return None
    lo, hi = min(m.index for m in marks), max(m.index for m in marks) + 1
    lo = text.rfind("\n", 0, lo) + 1
    at = first_invisible(text[lo:hi])
    if at < 0:
        return None
    line, col = _position(text, _Mark(0, 0, 0), lo + at)
    return line, col, text[lo + at]


def _mark_span(name: str, start: object, end: object | None = None) -> Span:
    line, col = start.line + 1, start.column + 1  # type: ignore[attr-defined]
    if end is None:
        return Span(name, line, col, line, col + 1)
    eline, ecol = end.line + 1, end.column + 1  # type: ignore[attr-defined]
    if (eline, ecol) <= (line, col):
        return Span(name, line, col, line, col + 1)
    return Span(name, line, col, eline, ecol)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _scalar(name: str, event: yaml.ScalarEvent, reporter: Reporter) -> YScalar:
    raw = event.value
    span = _mark_span(name, event.start_mark, event.end_mark)
    bad = _SURROGATE.search(raw)
    if bad:  # only "\ud800"-style escapes make these; no file, terminal or JSON reader can take them
        reporter.error("E101", f"'\\u{ord(bad.group()):04x}' (a lone surrogate) is not a character", span,
                       hint="write the character itself, or escape it as \\U0001F600 (8 hex digits)")
        clean = _SURROGATE.sub("\ufffd", raw)  # go on with a stand-in, so that no second error follows
        return YScalar(clean, span, clean, quoted=True)
    if event.style in ("'", '"', "|", ">") or not event.implicit[0]:
        return YScalar(raw, span, raw, quoted=True)
    tag = _RESOLVER.resolve(yaml.ScalarNode, raw, (True, False))
    tag = tag[len(_TAG):] if tag.startswith(_TAG) else tag
    if tag in ("merge", "value"):  # `<<` and `=`: a merge key is refused where the key is attached
        return YScalar(raw, span, raw)
    if tag == "str":
        if _FLOAT_12.match(raw) and any(c.isdigit() for c in raw):
            reporter.error("E106", f"'{raw}' is text in YAML 1.1, not a number", span,
                           hint=f"write it as {_with_dot(raw)} (YAML 1.1 needs a decimal point and a signed "
                                "exponent), or quote it if you mean text")
        return YScalar(raw, span, raw)
    if tag == "null":
        return YScalar(None, span, raw)
    if tag == "bool":
        if raw in _CANONICAL_BOOL:
            return YScalar(_CANONICAL_BOOL[raw], span, raw)
        reporter.error("E106", f"YAML 1.1 reads '{raw}' as a boolean", span,
                       hint=f"write true or false, or quote '{raw}' if you mean the text")
        return YScalar(raw, span, raw)
    if tag == "int":
        text = raw.replace("_", "")
        base = 10 if _DEC_INT.match(raw) else 16 if _HEX_INT.match(raw) else 2 if _BIN_INT.match(raw) else 0
        if base in (2, 16) and not text.lstrip("+-")[2:]:
            # YAML 1.1 resolves `0x_` and `-0b__` as integers; underscores are not digits
            reporter.error("E106", f"'{raw}' has no digits after its '{text.lstrip('+-')[:2]}' prefix", span,
                           hint="write the digits (0x10, 0b101), or quote it if you mean text")
            return YScalar(raw, span, raw)
        if base:
            # bounded before converting: int() of a long enough string is slow, or refused
            value = int(text, base) if len(text) <= 80 else INT_LIMIT + 1
            if abs(value) > INT_LIMIT:
                reporter.error("E405", f"integer {_clip(raw)} exceeds the limit of {INT_LIMIT:.0e}", span,
                               hint="no size in a network comes near it; check the number")
                return YScalar(raw, span, raw)
            return YScalar(value, span, raw)
        what = "base 60 (1:30 is 90)" if ":" in raw else "octal (010 is 8)"
        reporter.error("E106", f"YAML 1.1 reads '{raw}' as {what}", span,
                       hint="write the number without leading zeros, or quote it if you mean text")
        return YScalar(raw, span, raw)
    if tag == "float":
        text = raw.replace("_", "").lower()
        if ":" in text:
            reporter.error("E106", f"YAML 1.1 reads '{raw}' as a base-60 number", span,
                           hint="write the number in decimal, or quote it if you mean text")
            return YScalar(raw, span, raw)
        value = float(text.replace(".", "")) if text in (".inf", "+.inf", "-.inf", ".nan") else float(text)
        if not math.isfinite(value):
            reporter.error("E405", f"'{_clip(raw)}' is not a finite number", span,
                           hint="specs take finite numbers only; check the value")
            return YScalar(raw, span, raw)
        return YScalar(value, span, raw)
    if tag == "timestamp":
        reporter.error("E106", f"YAML reads '{raw}' as a date", span, hint="quote it if you mean text")
        return YScalar(raw, span, raw)
    reporter.error("E107", f"unsupported YAML type '{tag}'", span,
                   hint="specs use plain YAML: mappings, lists, strings, numbers and booleans")
    return YScalar(raw, span, raw)


def _with_dot(raw: str) -> str:
    """The YAML 1.1 spelling of a float written the YAML 1.2 way: a decimal point in the
    mantissa and a sign on the exponent (``1e-3`` -> ``1.0e-3``, ``2.5e8`` -> ``2.5e+8``)."""
    mant, _, exp = raw.lower().partition("e")
    if "." not in mant:
        mant += ".0"
    elif mant.startswith(".") or mant.startswith(("-.", "+.")):
        mant = mant.replace(".", "0.", 1)
    if exp and exp[0] not in "+-":
        exp = "+" + exp
    return f"{mant}e{exp}" if exp else mant


def _clip(raw: str, width: int = 40) -> str:
    return raw if len(raw) <= width else raw[: width - 3] + "..."


def plain(node: YNode) -> object:
    """The plain Python value of a located node (lists and dicts of scalars)."""
    if isinstance(node, YScalar):
        return node.value
    if isinstance(node, YSeq):
        return [plain(i) for i in node.items]
    return {k: plain(v) for k, (_, v) in node.items.items()}


def locate(node: YNode, loc: tuple[object, ...]) -> YNode:
    """The node at a pydantic error location, as deep as it can be followed."""
    for part in loc:
        if isinstance(node, YMap) and isinstance(part, str) and part in node.items:
            node = node.items[part][1]
        elif isinstance(node, YSeq) and isinstance(part, int) and 0 <= part < len(node.items):
            node = node.items[part]
        else:
            break
    return node
