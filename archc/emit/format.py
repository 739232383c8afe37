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


def docstring(text: str, indent: int) -> str:
    """A docstring for spec text, which cannot break out of its literal: the text is
    checked to read back unchanged, and falls back to an escaped repr otherwise."""
    import ast

    pad = " " * indent
    if not all(c.isprintable() for c in text.replace("\n", "").replace("\r", "")):
        # control, invisible or bidirectional characters stay out of the source, escaped: they could
        # drive a terminal showing the file, or make the code read differently from what it is
        return pad + repr(text)
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').replace("\r", "")
    lines = body.split("\n")
    # blank lines stay empty: indenting them would leave trailing whitespace (ruff W293)
    candidate = '"""' + "\n".join(line.rstrip() if k == 0 or not line.strip() else pad + line.rstrip()
                                   for k, line in enumerate(lines))
    candidate += ('\n' + pad + '"""') if len(lines) > 1 else '"""'
    if candidate.endswith('\\"""') or candidate.count('"""') != 2:
        return pad + repr(text)
    try:
        value = ast.literal_eval(candidate)
    except (SyntaxError, ValueError):
        return pad + repr(text)
    expected = "\n".join(line.rstrip() for line in text.replace("\r", "").split("\n"))
    if value.replace("\n" + pad, "\n").rstrip("\n") != expected.rstrip("\n"):
        return pad + repr(text)
    return pad + candidate
