"""Line wrapping for generated code: a call that does not fit puts one argument per line,
as a person (or a formatter) would write it::

    self.downsample = nn.Sequential(
        nn.Conv2d(in_channels, planes * 4, 1, stride=stride, bias=False),
        nn.BatchNorm2d(planes * 4),
    )
"""

from __future__ import annotations

WIDTH = 110


def _split_args(text: str) -> list[str]:
    """Split at top-level commas (outside brackets and string literals)."""
    parts, depth, quote, start = [], 0, "", 0
    for k, ch in enumerate(text):
        if quote:
            if ch == quote and text[k - 1] != "\\":
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:k].strip())
            start = k + 1
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    return parts


def _outer_call(line: str) -> int | None:
    """Index of the '(' whose matching ')' ends the line, if any."""
    if not line.endswith(")"):
        return None
    depth, quote = 0, ""
    for k in range(len(line) - 1, -1, -1):
        ch = line[k]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == ")":
            depth += 1
        elif ch == "(":
            depth -= 1
            if depth == 0:
                return k
    return None


def wrap(line: str, width: int = WIDTH) -> list[str]:
    """``line`` (with its indentation), wrapped at call arguments if it is too long."""
    if len(line) <= width:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    at = _outer_call(line)
    if at is None or at == len(line) - 2:
        return [line]
    args = _split_args(line[at + 1 : -1])
    if not args:
        return [line]
    out = [line[: at + 1]]
    if len(args) == 1 and not (line[at - 1].isalnum() or line[at - 1] in "_)]"):
        # parentheses around an expression, not a call: a trailing comma would make it a tuple
        return [*out, *wrap(f"{indent}    {args[0]}", width), f"{indent})"]
    for arg in args:
        out += wrap(f"{indent}    {arg},", width) if not arg.endswith(")") else [
            *wrap(f"{indent}    {arg}", width)[:-1], wrap(f"{indent}    {arg}", width)[-1] + ","]
    out.append(f"{indent})")
    return out


def _split_top(text: str, op: str) -> list[str]:
    """``text`` split at ``op`` (`` or ``, `` and ``) outside brackets and string literals."""
    parts, depth, quote, start, k = [], 0, "", 0, 0
    while k < len(text):
        ch = text[k]
        if quote:
            if ch == quote and text[k - 1] != "\\":
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(op, k):
            parts.append(text[start:k])
            start = k = k + len(op)
            continue
        k += 1
    return [*parts, text[start:]]


def if_lines(indent: str, cond: str, width: int = WIDTH) -> list[str]:
    """``if cond:``, or where that is too long, the condition in parentheses one operand a line, split
    at its outermost ``or`` (else ``and``), as a formatter writes it. (A condition whose outermost
    operator is neither, such as ``a if b else c``, stays on one line.)"""
    line = f"{indent}if {cond}:"
    if len(line) <= width or len(_split_top(cond, " if ")) > 1:
        return [line]
    for op in (" or ", " and "):
        parts = _split_top(cond, op)
        if len(parts) > 1:
            body = [f"{indent}    {parts[0]}"] + [f"{indent}    {op.strip()} {p}" for p in parts[1:]]
            return [f"{indent}if (", *body, f"{indent}):"]
    return [line]


def wrap_text(text: str, width: int, first: int = 0) -> str:
    """``text`` with each line longer than ``width`` broken at spaces (``first``: what stands before
    the first line). Paragraphs, blank lines and short lines stay as written; a broken line's
    continuation is indented as its text starts (past a list marker: ``- ``, ``1. ``). A word
    longer than the line stays whole."""
    import re
    import textwrap

    out: list[str] = []
    for k, line in enumerate(text.split("\n")):
        room = width - (first if k == 0 else 0)
        if len(line) <= room or not line.strip():
            out.append(line)
            continue
        lead = re.match(r"\s*(?:[-*+]\s+|\d+[.)]\s+)?", line).group(0)  # type: ignore[union-attr]
        hanging = " " * len(lead) if lead.strip() else lead
        # the first line is shortened by what stands before it: wrapped as if that were text
        filler = "\0" * (width - room)
        parts = textwrap.wrap(filler + line, width, subsequent_indent=hanging, break_long_words=False,
                              break_on_hyphens=False, replace_whitespace=False, expand_tabs=False)
        if not parts or not parts[0].startswith(filler):
            out.append(line)  # its first word alone is too long: nothing gained by breaking the rest
            continue
        parts[0] = parts[0][len(filler):]
        out += [p.rstrip() for p in parts]
    return "\n".join(out)


def docstring(text: str, indent: int) -> str:
    """A docstring for spec text, which cannot break out of its literal: the text is
    checked to read back unchanged (but for line breaks where a line was too long for
    :data:`WIDTH`), and falls back to an escaped repr otherwise."""
    import ast

    pad = " " * indent
    if not all(c.isprintable() for c in text.replace("\n", "").replace("\r", "")):
        # control, invisible or bidirectional characters stay out of the source, escaped: they could
        # drive a terminal showing the file, or make the code read differently from what it is
        return _long_repr(text, pad)
    text = "\n".join(line.rstrip() for line in text.replace("\r", "").split("\n"))
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    # a long line (a spec's doc is prose, often one line per paragraph) is broken at a space where it
    # would pass the width of the file's lines (ruff E501 checks them); the quotes count on the first
    body = wrap_text(body, WIDTH - indent, first=6 if "\n" not in body else 3)
    lines = body.split("\n")
    # blank lines stay empty: indenting them would leave trailing whitespace (ruff W293)
    candidate = '"""' + "\n".join(line.rstrip() if k == 0 or not line.strip() else pad + line.rstrip()
                                   for k, line in enumerate(lines))
    candidate += ('\n' + pad + '"""') if len(lines) > 1 else '"""'
    if candidate.endswith('\\"""') or candidate.count('"""') != 2:
        return _long_repr(text, pad)
    try:
        value = ast.literal_eval(candidate)
    except (SyntaxError, ValueError):
        return _long_repr(text, pad)
    # it reads back as the text (where a long line was broken: as the text's words, in order)
    read = value.replace("\n" + pad, "\n").rstrip("\n")
    if read != text.rstrip("\n") and (len(lines) == text.count("\n") + 1 or read.split() != text.split()):
        return _long_repr(text, pad)
    return pad + candidate


def _long_repr(text: str, pad: str) -> str:
    """``repr(text)``, as adjacent literals in parentheses where it is longer than a line (still the
    docstring: Python joins them when it compiles)."""
    if len(pad) + len(repr(text)) <= WIDTH:
        return pad + repr(text)
    pieces: list[str] = []
    piece = ""
    for ch in text:
        if len(pad) + 4 + len(repr(piece + ch)) > WIDTH and piece:
            pieces.append(repr(piece))
            piece = ""
        piece += ch
    pieces.append(repr(piece))
    return "\n".join([pad + "(", *(pad + "    " + p for p in pieces), pad + ")"])
