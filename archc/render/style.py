"""How a diagram looks: colours per op family, edge and cluster styles, number formats.

One palette for every picture, so a reader learns it once: convolutions blue,
normalisation yellow, activations red, pooling green, linear layers purple, merges
(add, concat) orange; dropout and reshapes stay grey because they change nothing a
designer sizes. The colours are light fills with a darker border of the same hue, so
black text stays legible in print and on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

FONT = "Helvetica"


@dataclass(frozen=True, slots=True)
class Swatch:
    fill: str
    border: str
    title: str  # how the legend names it


FAMILIES: dict[str, Swatch] = {
    "conv": Swatch("#cfe2f3", "#3d85c6", "convolution"),
    "norm": Swatch("#fff2cc", "#bf9000", "normalisation"),
    "activation": Swatch("#f4cccc", "#cc4125", "activation"),
    "pooling": Swatch("#d9ead3", "#6aa84f", "pooling"),
    "linear": Swatch("#d9d2e9", "#674ea7", "linear"),
    "merge": Swatch("#fce5cd", "#e69138", "add / concat"),
    "dropout": Swatch("#eeeeee", "#999999", "dropout"),
    "reshape": Swatch("#ffffff", "#999999", "reshape"),
}
LEGEND_ORDER = ("conv", "norm", "activation", "pooling", "linear", "merge", "dropout", "reshape")
OTHER = Swatch("#ffffff", "#999999", "other")
TERMINAL = Swatch("#ffffff", "#333333", "input / output")
BLOCK = Swatch("#e3e9f4", "#1c4587", "folded block")

# Edges: data flow, the two kinds of residual shortcut, and the way into a training-only head.
EDGES: dict[str, dict[str, str]] = {
    "data": {},
    "identity": {"style": "dashed", "color": "#e69138", "penwidth": "1.6"},
    "projection": {"color": "#e69138", "penwidth": "1.6"},
    "head": {"style": "dashed", "color": "#999999"},
}
EDGE_TITLES = {"identity": "identity shortcut", "projection": "projection shortcut",
               "head": "into a training-only head"}

# Clusters by what they group.
CLUSTERS: dict[str, dict[str, str]] = {
    "block": {"style": "rounded,filled", "fillcolor": "#f4f6fa", "color": "#8e9aaf"},
    "sequential": {"style": "rounded", "color": "#b7b7b7"},
    "shortcut": {"style": "rounded,filled", "fillcolor": "#fef6ee", "color": "#e69138"},
    "head": {"style": "rounded,dashed,filled", "fillcolor": "#fafafa", "color": "#888888"},
}

GRAPH = {"fontname": FONT, "fontsize": "11", "nodesep": "0.22", "ranksep": "0.28", "labelloc": "t",
         "labeljust": "l", "newrank": "true", "outputorder": "edgesfirst", "bgcolor": "white"}
NODE = {"shape": "box", "style": "rounded,filled", "fontname": FONT, "fontsize": "10", "margin": "0.09,0.03",
        "height": "0.3", "penwidth": "1.0"}
EDGE = {"arrowsize": "0.6", "color": "#555555", "penwidth": "1.0"}
CLUSTER = {"fontname": FONT, "fontsize": "10", "labeljust": "l", "margin": "7", "penwidth": "1.0"}

DIM = "#555555"  # secondary text: shapes and figures
SMALL = 8  # point size of secondary text


def swatch(family: str | None) -> Swatch:
    return FAMILIES.get(family or "", OTHER)


def human(n: int) -> str:
    """A count in three significant figures: ``9408`` -> ``9.41 k``, ``14964736`` -> ``15.0 M``."""
    for size, unit in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k")):
        if abs(n) >= size:
            value = n / size
            digits = 2 if value < 10 else 1 if value < 100 else 0
            return f"{value:.{digits}f} {unit}"
    return str(n)


def figures(params: int, macs: int, *, params_on: bool = True, macs_on: bool = True) -> str:
    """``25.6 M params · 4.09 G MACs`` (either part can be left out)."""
    parts = []
    if params_on:
        parts.append(f"{human(params)} params")
    if macs_on:
        parts.append(f"{human(macs)} MACs")
    return " · ".join(parts)
