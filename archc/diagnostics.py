"""Diagnostics: every error a spec can cause, located and rendered like a compiler's.

A :class:`Diagnostic` names a code, a message, the :class:`Span` it points at, a
hint that says what to do, and notes (each optionally located) that explain
where the values involved came from. :class:`ArchcError` carries one or more of
them plus the text of the files they point into, so it renders on its own:

    specs/net.yaml:12:9: error[E501]: channel mismatch at residual add
       12 |     - conv3: conv(planes * 2, 1, bias=false)
          |       ^^^^^
      note: body output 128×56×56 from layer1.0.bn3 (specs/net.yaml:14:9)
      hint: add a projection shortcut ...

Error codes are grouped by stage (see ``CODES``); docs/errors.md lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

# Code -> short title. Grouped by the stage that raises them.
CODES: dict[str, str] = {
    # E1xx: reading the file
    "E100": "file not found or unreadable",
    "E101": "YAML syntax error",
    "E102": "file too large",
    "E103": "nesting too deep",
    "E104": "YAML anchors and aliases are not allowed",
    "E105": "duplicate key",
    "E106": "ambiguous YAML scalar",
    "E107": "unsupported YAML construct",
    "E110": "flow item only archc reads as one (--strict-yaml)",
    # E2xx: structure and types
    "E200": "unknown key",
    "E201": "missing key",
    "E202": "wrong type",
    "E203": "invalid value",
    "E204": "malformed entry",
    # E3xx: names and references
    "E300": "unknown op or block",
    "E301": "unknown argument",
    "E302": "missing argument",
    "E303": "duplicate name",
    "E304": "invalid name",
    "E305": "unknown reference",
    "E306": "recursive block",
    "E307": "import error",
    "E308": "too many arguments",
    "E309": "unknown parameter override",
    "E310": "replace or drop names no entry of the base",
    "E311": "freeze names no module with parameters",
    # E4xx: expressions
    "E400": "expression syntax error",
    "E401": "undefined name",
    "E402": "type error in expression",
    "E403": "division by zero",
    "E404": "expression too long or complex",
    "E405": "number too large (overflow)",
    # E5xx: shapes
    "E500": "shape error",
    "E501": "shape mismatch at add or mul",
    "E502": "shape mismatch at concat",
    "E503": "size shrinks to zero",
    "E504": "wrong input rank",
    "E505": "attribute does not fit the input",
    # E6xx: budgets
    "E600": "too many nodes",
    "E601": "tensor dimension too large",
    "E602": "too many parameters or MACs",
    "E603": "repeat count too large",
    "E604": "nesting too deep to expand",
    "E605": "expansion takes too many steps",
    "E606": "diagram too large for Graphviz",
    # E7xx: output files
    "E700": "cannot write output",
    "E710": "Graphviz is not installed",
    "E711": "Graphviz failed or took too long",
    "E720": "cannot emit PyTorch code for this spec",
    # E8xx: building and running modules
    "E800": "state_dict does not fit",
    "E801": "device not available",
    "E802": "unsupported benchmark setting",
    "E803": "not a state_dict checkpoint",
    "E804": "port leaves undeclared tensors new or dropped (--strict)",
    "E810": "PyTorch is not installed",
    # W: warnings
    "W100": "unused output",
    "W110": "flow item only archc reads as one",
}


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control characters (ESC sequences could rewrite the
    screen), line and paragraph separators, and invisible format characters (zero-width spaces,
    bidirectional overrides) are shown as escapes, e.g. ``c\\u200b``. Spec text is untrusted."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


# Characters that cannot be seen, or look like a plain space, and so make two names that look
# the same differ (or reorder what is shown: bidirectional controls, "Trojan Source").
_CHAR_NAMES = {
    "\ufeff": "a byte order mark, BOM", "\u00a0": "a no-break space", "\u202f": "a narrow no-break space",
    "\u200b": "a zero-width space", "\u200c": "a zero-width non-joiner", "\u200d": "a zero-width joiner",
    "\u2060": "a word joiner", "\u00ad": "a soft hyphen", "\u2028": "a line separator",
    "\u2029": "a paragraph separator", "\x85": "a next-line control character", "\u200e": "a left-to-right mark",
    "\u200f": "a right-to-left mark", "\u061c": "an Arabic letter mark", "\x1b": "escape, a control character",
    "\x7f": "delete, a control character", "\x08": "backspace", "\x0b": "a vertical tab", "\x0c": "a form feed",
}
BIDI_CONTROLS = frozenset("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_invisible(c: str) -> bool:
    """Whether ``c`` is a control, format (zero-width, bidirectional, BOM) or separator character
    other than tab, newline, carriage return and the plain space."""
    if c.isascii():
        return (c < " " and c not in "\t\n\r") or c == "\x7f"
    import unicodedata

    return unicodedata.category(c) in ("Cc", "Cf", "Zs", "Zl", "Zp")


def first_invisible(text: str, chars: Callable[[str], bool] = is_invisible) -> int:
    """The index of the first character of ``text`` for which ``chars`` holds, or -1."""
    if text.isascii() and text.isprintable():
        return -1
    return next((i for i, c in enumerate(text) if chars(c)), -1)


def describe_char(c: str) -> str:
    """``U+FEFF (a byte order mark (BOM))``: a character by its code point and name, for messages."""
    import unicodedata

    name = _CHAR_NAMES.get(c) or unicodedata.name(c, "a control character").lower()
    if c in BIDI_CONTROLS:
        name += ", a bidirectional control"
    return f"U+{ord(c):04X} ({name})"


def _escape(c: str) -> str:
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def _blank_invisible(line: str) -> str:
    """A source line for an excerpt: unprintable characters become '?', one column each, so
    the caret under it still lines up."""
    return line if line.isprintable() else "".join(c if c.isprintable() else "?" for c in line)


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file. Lines and columns are 1-based; ``end_col`` is exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def sub(self, offset: int, length: int) -> Span:
        """The part of a single-line span starting ``offset`` characters in."""
        if self.end_line != self.line:
            return self
        col = min(self.col + offset, max(self.end_col - 1, self.col))
        end = min(col + max(length, 1), max(self.end_col, col + 1))
        return Span(self.file, self.line, col, self.line, end)

    def sort_key(self) -> tuple[str, int, int]:
        return (self.file, self.line, self.col)


@dataclass(frozen=True, slots=True)
class Note:
    message: str
    span: Span | None = None


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    span: Span | None = None
    hint: str | None = None
    notes: tuple[Note, ...] = ()
    severity: str = "error"

    def sort_key(self) -> tuple[str, int, int, str]:
        if self.span is None:
            return ("", 0, 0, self.code)
        return (*self.span.sort_key(), self.code)

    def render(self, sources: Mapping[str, str] | None = None) -> str:
        where = f"{printable(str(self.span))}: " if self.span else ""
        lines = [f"{where}{self.severity}[{self.code}]: {printable(self.message)}"]
        if self.span is not None and sources:
            lines.extend(_excerpt(self.span, sources))
        for note in self.notes:
            at = f" ({printable(str(note.span))})" if note.span else ""
            lines.append(f"  note: {printable(note.message)}{at}")
        if self.hint:
            lines.append(f"  hint: {printable(self.hint)}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        def span(s: Span | None) -> dict[str, object] | None:
            if s is None:
                return None
            return {"file": s.file, "line": s.line, "col": s.col, "end_line": s.end_line, "end_col": s.end_col}

        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "span": span(self.span),
            "hint": self.hint,
            "notes": [{"message": n.message, "span": span(n.span)} for n in self.notes],
        }


def _excerpt(span: Span, sources: Mapping[str, str]) -> list[str]:
    text = sources.get(span.file)
    if text is None:
        return []
    all_lines = text.splitlines()
    if not 1 <= span.line <= len(all_lines):
        return []
    line = _blank_invisible(all_lines[span.line - 1].expandtabs(1))
    if len(line) > 200:  # keep minified or generated one-liners readable
        start = max(0, span.col - 60)
        line = line[start : start + 160]
        col = span.col - start
    else:
        col = span.col
    width = span.end_col - span.col if span.end_line == span.line else len(line) - col + 1
    width = max(1, min(width, len(line) - col + 1 if len(line) >= col else 1))
    num = str(span.line)
    pad = " " * len(num)
    return [f" {num} | {line}", f" {pad} | {' ' * (col - 1)}{'^' * width}"]


class ArchcError(Exception):
    """One or more diagnostics, with the source texts they point into."""

    def __init__(self, diagnostics: Iterable[Diagnostic], sources: Mapping[str, str] | None = None):
        self.diagnostics: list[Diagnostic] = sorted(diagnostics, key=Diagnostic.sort_key)
        self.sources: dict[str, str] = dict(sources or {})
        first = self.diagnostics[0] if self.diagnostics else None
        super().__init__(first.render() if first else "archc error")

    def render(self) -> str:
        return "\n".join(d.render(self.sources) for d in self.diagnostics)

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]


@dataclass
class Reporter:
    """Collects diagnostics during one run, so that every error is reported, not just the first.

    Passed explicitly through the pipeline (no global state). ``sources`` maps a
    file's display name to its text, for rendering excerpts.
    """

    sources: dict[str, str] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    limit: int = 200  # a spec with hundreds of errors: stop collecting, the first ones matter

    def add(self, diag: Diagnostic) -> None:
        if diag in self.diagnostics:
            return
        # the same error in a block reached by several calls (`called as 'i1'`, `'i2'`, ...): once,
        # with the other calls as notes, not once per call (8 identical E304s for 8 inceptions)
        for k, d in enumerate(self.diagnostics):
            if diag.notes and d.notes and (d.code, d.message, d.span, d.hint, d.severity) == \
                    (diag.code, diag.message, diag.span, diag.hint, diag.severity):
                self.diagnostics[k] = _also(d, diag)
                return
        # errors and warnings are capped apart: hundreds of warnings must never crowd out an error
        same = sum(1 for d in self.diagnostics if d.severity == diag.severity)
        if same < self.limit:
            self.diagnostics.append(diag)

    def error(
        self,
        code: str,
        message: str,
        span: Span | None = None,
        hint: str | None = None,
        notes: Iterable[Note] = (),
    ) -> None:
        self.add(Diagnostic(code, message, span, hint, tuple(notes)))

    def warn(self, code: str, message: str, span: Span | None = None, hint: str | None = None) -> None:
        self.add(Diagnostic(code, message, span, hint, (), "warning"))

    @property
    def full(self) -> bool:
        """As many errors as are kept: later stages may stop looking for more."""
        return len(self.errors) >= self.limit

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    def check(self) -> None:
        """Raise :class:`ArchcError` if any error has been reported."""
        if self.errors:
            raise ArchcError(self.errors, self.sources)


_ALSO = "the same error also "
_SHOWN = 3  # other calls named before "and N more"


def _also(first: Diagnostic, again: Diagnostic) -> Diagnostic:
    """``first`` with a note naming where ``again`` (the same error, reached another way) is: its
    outermost note (the call that led there), up to a few; then a count."""
    notes = list(first.notes)
    shown = [n for n in notes if n.message.startswith(_ALSO)]
    more = notes.pop() if notes and notes[-1].message.startswith("and ") else None
    where = again.notes[-1]
    if len(shown) < _SHOWN:
        notes.append(Note(_ALSO + where.message, where.span))
    else:
        count = int(more.message.split()[1]) + 1 if more is not None else 1
        notes.append(Note(f"and {count} more {'call' if count == 1 else 'calls'}"))
        return replace(first, notes=tuple(notes))
    if more is not None:
        notes.append(more)
    return replace(first, notes=tuple(notes))


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to ``name``, or None. Case-insensitive, difflib-based."""
    import difflib

    key = name.lower()
    lower = {c.lower(): c for c in candidates}
    if key in lower and lower[key] != name:
        return lower[key]
    if len(key) > 100:  # no one mistypes a name this long; difflib would take quadratic time
        return None
    pool = list(lower)
    if len(pool) > 200:  # a spec with thousands of blocks: compare only the plausible ones
        pool = [c for c in pool if c[:1] == key[:1] and abs(len(c) - len(key)) <= 3][:200]
    match = difflib.get_close_matches(key, pool, n=1, cutoff=0.6)
    return lower[match[0]] if match else None


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """A hint sentence: ``did you mean 'x'?``, or None."""
    best = did_you_mean(name, candidates)
    return f"did you mean '{best}'?" if best else None
