"""The public API behind ``archc`` and the CLI: each function takes a spec (a path, a
shipped name, or an already loaded :class:`Program`), plus parameter overrides as
keyword arguments, and raises :class:`~archc.diagnostics.ArchcError` on any error
a spec can cause.

    >>> import archc
    >>> report = archc.analyze("resnet50", num_classes=10)
    >>> report.totals.params
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .diagnostics import Reporter
from .ir.graph import Graph
from .limits import Limits
from .spec.loader import Loader, Program

if TYPE_CHECKING:
    import graphviz

SpecLike = "str | os.PathLike[str] | Program | Graph"


def load(spec: str | os.PathLike[str], *, text: str | None = None, limits: Limits | None = None) -> Program:
    """Read and validate a spec and the files it extends or imports."""
    return Loader(Reporter(), limits).program(spec, text=text)


def lower(spec: Any, *, input: tuple[int, ...] | None = None, limits: Limits | None = None,
          reporter: Reporter | None = None, **overrides: Any) -> Graph:
    """The spec's graph: every block instantiated, every shape inferred."""
    from .ir.lower import Lowerer

    if isinstance(spec, Graph):
        return spec
    r = reporter or Reporter()
    program = spec if isinstance(spec, Program) else Loader(r, limits).program(spec)
    r.sources.update(program.sources)
    return Lowerer(program, r, overrides=overrides, input_shape=input, limits=limits).run()


def analyze(spec: Any, *, input: tuple[int, ...] | None = None, limits: Limits | None = None,
            **overrides: Any) -> Any:
    """Shapes, parameters and MACs per module path, with totals (a :class:`~archc.analysis.Report`)."""
    from .analysis.report import analyze_graph

    return analyze_graph(lower(spec, input=input, limits=limits, **overrides))


def compile_source(spec: Any, *, input: tuple[int, ...] | None = None, limits: Limits | None = None,
                   **overrides: Any) -> str:
    """The PyTorch source of a self-contained module for the spec (what ``archc compile`` writes)."""
    from .emit import compile_graph

    r = Reporter()
    program = spec if isinstance(spec, Program) else Loader(r, limits).program(spec)
    graph = lower(program, input=input, limits=limits, reporter=r, **overrides)
    return compile_graph(graph, program)


def build(spec: Any, *, input: tuple[int, ...] | None = None, limits: Limits | None = None,
          **overrides: Any) -> Any:
    """A ``torch.nn.Module`` built by executing exactly the source :func:`compile_source` returns."""
    from .emit import exec_source

    source = compile_source(spec, input=input, limits=limits, **overrides)
    module = exec_source(source, _module_name(spec))
    return module.build()


def _module_name(spec: Any) -> str:
    if isinstance(spec, Program):
        return spec.name
    return Path(str(spec)).stem


def diagram(spec: Any, *, depth: int | None = None, direction: str = "TB",
            show: Iterable[str] = ("shapes",), fold: Iterable[str] = (), expand_repeats: bool = False,
            input: tuple[int, ...] | None = None, limits: Limits | None = None,
            **overrides: Any) -> graphviz.Digraph:
    """The spec as a ``graphviz.Digraph``, which displays inline in Jupyter (as SVG).

    ``depth=N`` folds every scope at depth N or deeper (as in ``archc table --depth``)
    into one box with its summed parameters and MACs; ``fold`` names blocks to fold
    wherever they occur; runs of identical folded blocks become one ``Block ×N`` box
    unless ``expand_repeats``. ``direction`` is ``"TB"`` (top to bottom) or ``"LR"``;
    ``show`` picks what op boxes carry besides the op: ``shapes``, ``params``,
    ``macs``, ``names``. ``.source`` is the DOT text; ``archc.render.export(d, "svg")``
    runs Graphviz.

        >>> d = archc.diagram("resnet50", depth=2)
        >>> d.render("resnet50", format="svg")
    """
    from .render import draw

    graph = lower(spec, input=input, limits=limits, **overrides)
    return draw(graph, depth=depth, direction=direction, show=show, fold=fold, expand_repeats=expand_repeats)


__all__ = ["analyze", "build", "compile_source", "diagram", "load", "lower"]
