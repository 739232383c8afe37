"""Making spec text safe to put in a DOT file.

Everything in a diagram that comes from a spec (names, block arguments, the doc,
the spec's name) is untrusted: a doc such as ``"]; evil [shape=none`` or
``<b>`` must show up as those characters, never change the picture's structure.
Three rules keep it so:

- labels are HTML-like labels (``<...>``) built here, and every spec string goes
  through :func:`html` first, which escapes ``& < > " '`` and drops the control
  characters that XML (and so SVG) cannot hold;
- plain attribute strings (tooltips) go through :func:`attr`, which also doubles
  backslashes so that ``\\N`` or ``\\G`` are not expanded by Graphviz, and is marked
  as "not HTML" so the ``graphviz`` package quotes it as a string;
- node and cluster ids are generated (``n17``, ``cluster_3``), never taken from the spec.
"""

from __future__ import annotations

import html as _html
import re

import graphviz

# XML 1.0 allows tab, newline and carriage return among the C0 controls, and no C1
# controls are needed in a label; surrogates and U+FFFE/U+FFFF are not characters.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SPACE = re.compile(r"\s+")
_ID = re.compile(r"[^A-Za-z0-9_]")


def clean(text: object, limit: int = 200) -> str:
    """One line of printable text, at most ``limit`` characters (an ellipsis marks a cut)."""
    line = _SPACE.sub(" ", _NOT_XML.sub("", str(text))).strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def html(text: object, limit: int = 200) -> str:
    """``text`` as the content of an HTML-like label: one line, every special character escaped."""
    return _html.escape(clean(text, limit), quote=True)


def attr(text: object, limit: int = 400) -> str:
    """``text`` as a plain (escString) attribute value, e.g. a tooltip."""
    return graphviz.escape(clean(text, limit))


def graph_name(text: object) -> str:
    """A DOT identifier made from ``text`` (used as the graph's name and SVG title)."""
    name = _ID.sub("_", clean(text, 64)) or "network"
    return name if name[0].isalpha() else "g_" + name
