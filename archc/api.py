"""The public API behind ``archc`` and the CLI: each function takes a spec (a path, a
shipped name, YAML text, a mapping as ``yaml.safe_load`` returns it, or an already
loaded :class:`Program`), plus parameter overrides as keyword arguments, and raises
:class:`~archc.diagnostics.ArchcError` on any error a spec can cause. docs/api.md
documents it with examples.

A ``str`` is YAML text if it holds a line break, else a path or a shipped name; a
``pathlib.Path`` is always a path. :func:`loads` (or ``load(text=...)``) takes text
without that rule, e.g. a spec on one line in YAML's flow style.

    >>> import archc
    >>> report = archc.analyze("resnet50", num_classes=10)
    >>> report.totals.params
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .diagnostics import Reporter
from .ir.graph import Graph
from .limits import Limits
from .spec.loader import TEXT_NAME, Loader, Program, SpecSource, is_text

if TYPE_CHECKING:
    import graphviz

SpecLike = "str | os.PathLike[str] | Mapping[str, Any] | Program | Graph"


def load(spec: SpecSource | None = None, *, text: str | None = None, limits: Limits | None = None,
         strict_yaml: bool = False) -> Program:
    """Read and validate a spec and the files it extends or imports.

    ``spec`` is a path, a shipped name, YAML text (a ``str`` with a line break) or a
    mapping; with ``text=``, the spec is that text and ``spec`` (if given) its file name,
    which locates its errors and the files it extends or imports. ``strict_yaml=True``
    refuses (E110) flow items that only archc reads as one (docs/language.md)."""
    return Loader(Reporter(), limits, strict_yaml=strict_yaml).program(spec, text=text)


def loads(text: str, *, name: str = TEXT_NAME, limits: Limits | None = None, strict_yaml: bool = False) -> Program:
    """Read and validate a spec from YAML ``text`` (named ``name`` in errors); ``extends:``
    and ``imports:`` are relative to the directory of ``name``, by default the working one."""
    return load(name, text=text, limits=limits, strict_yaml=strict_yaml)


def lower(spec: Any, *, input: tuple[int, ...] | None = None, limits: Limits | None = None,
          reporter: Reporter | None = None, strict_yaml: bool = False, **overrides: Any) -> Graph:
    """The spec's graph: every block instantiated, every shape inferred."""
    from .ir.lower import Lowerer

    if isinstance(spec, Graph):
        return spec
    r = reporter or Reporter()
    program = spec if isinstance(spec, Program) else Loader(r, limits, strict_yaml=strict_yaml).program(spec)
    r.sources.update(program.sources)
    return Lowerer(program, r, overrides=overrides, input_shape=input, limits=limits).run()


def analyze(spec: Any, *, input: tuple[int, ...] | None = None, limits: Limits | None = None,
            **overrides: Any) -> Any:
    """Shapes, parameters and MACs per module path, with totals (a :class:`~archc.analysis.Report`)."""
    from .analysis.report import analyze_graph

    return analyze_graph(lower(spec, input=input, limits=limits, **overrides))


def compile_source(spec: Any, *, input: tuple[int, ...] | None = None, limits: Limits | None = None,
                   inference: bool = False, **overrides: Any) -> str:
    """The PyTorch source of a self-contained module for the spec (what ``archc compile`` writes).

    ``inference=True`` gives the inference variant (``archc compile --inference``): batch
    norms folded into the convolutions before them, dropout and training-only heads
    removed, and a ``fold_state_dict`` function that turns the plain network's weights
    into this one's (see :mod:`archc.ir.passes`)."""
    from .emit import compile_graph

    r = Reporter()
    program = spec if isinstance(spec, Program) else Loader(r, limits).program(spec)
    graph = lower(program, input=input, limits=limits, reporter=r, **overrides)
    return compile_graph(graph, inference=inference)


def build(spec: Any, *, input: tuple[int, ...] | None = None, limits: Limits | None = None,
          inference: bool = False, state_dict: Any = None, **overrides: Any) -> Any:
    """A ``torch.nn.Module`` built by executing exactly the source :func:`compile_source` returns.

    ``state_dict`` (of the plain network, e.g. torchvision's pretrained weights for a
    shipped spec) is loaded into it, strictly. With ``inference=True`` the result is the
    inference variant in eval mode, carrying the plain network's weights folded: those of
    ``state_dict``, else those a plain build initialises. In eval mode both compute the
    same function (to float rounding).

        >>> fast = archc.build("resnet50", inference=True, state_dict=plain.state_dict())
    """
    from ._torch import require_torch
    from .emit import exec_source

    require_torch("archc.build()")
    program = spec if isinstance(spec, Program) else load(spec, limits=limits)
    name = _module_name(spec, program)
    plain_module = exec_source(compile_source(program, input=input, limits=limits, **overrides), name)
    if inference and state_dict is not None:
        import torch

        with torch.device("meta"):  # only to check the keys and shapes: no memory, no initialisation
            _load(plain_module.build(), state_dict, assign=True)
    else:
        plain = plain_module.build()
        if state_dict is not None:
            _load(plain, state_dict)
        if not inference:
            return plain
        state_dict = plain.state_dict()
    folded = exec_source(compile_source(program, input=input, limits=limits, inference=True, **overrides),
                         f"{name}_inference")
    return folded.build(state_dict)


def port(checkpoint: Any, source: Any, target: Any, *, strict: bool = False, key: str | None = None,
         input: tuple[int, ...] | None = None, limits: Limits | None = None,
         source_overrides: Mapping[str, Any] | None = None, target_overrides: Mapping[str, Any] | None = None
         ) -> Any:
    """Map a state_dict written for spec ``source`` onto spec ``target`` (a :class:`~archc.porting.PortResult`).

    ``checkpoint`` is a file saved with ``torch.save`` (read with ``weights_only=True``; ``key``
    picks the state_dict out of a training checkpoint) or the state_dict itself. Tensors move
    unchanged where the module path matches (numbered layers aligned as ``archc diff`` aligns
    them), then where modules left on both sides match by structure; B's tensors left are
    initialised as a fresh ``build(target)`` would, A's are dropped, and the result lists each.
    ``strict=True`` raises E804 unless every new or dropped tensor lies in an entry ``target``
    declares with ``replace:`` or ``drop:``. ``source_overrides`` and ``target_overrides`` set
    each spec's parameters.

        >>> result = archc.port("resnet50.pth", "resnet50", "pets.yaml")
        >>> print(result.summary())   # transferred 318/320 tensors; new: fc.weight 37×2048, fc.bias 37; ...
        >>> archc.build("pets.yaml", state_dict=result.state_dict)
    """
    from .porting import port as run

    return run(checkpoint, source, target, strict=strict, key=key, input=input, limits=limits,
               source_overrides=source_overrides, target_overrides=target_overrides)


def _load(model: Any, state_dict: Any, assign: bool = False) -> None:
    from .diagnostics import ArchcError, Diagnostic

    try:
        model.load_state_dict(state_dict, assign=assign)
    except (RuntimeError, TypeError, AttributeError) as err:
        detail = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
        detail = detail if len(detail) <= 400 else detail[:397] + "..."
        raise ArchcError([Diagnostic("E800", f"the state_dict does not fit the network: {detail}",
                                     None, "pass the state_dict of the plain network this spec builds (the same "
                                           "keys and shapes), e.g. torchvision's for a shipped spec")]) from None


def _module_name(spec: Any, program: Program) -> str:
    if isinstance(spec, (str, os.PathLike)) and not is_text(spec):
        return Path(spec).stem
    return program.name  # a Program, YAML text or a mapping


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
    runs Graphviz (stopped after ``timeout=`` seconds, 30 by default).

    The picture is bounded by the diagram budgets of ``limits`` (boxes, arrows,
    clusters, cluster ranks; docs/untrusted-specs.md): with ``depth=None`` a picture
    beyond them is folded to the deepest depth that fits (its title says so); with a
    ``depth`` it is refused (:class:`ArchcError` E606).

        >>> d = archc.diagram("resnet50", depth=2)
        >>> d.render("resnet50", format="svg")
    """
    from .render import draw

    graph = lower(spec, input=input, limits=limits, **overrides)
    return draw(graph, depth=depth, direction=direction, show=show, fold=fold, expand_repeats=expand_repeats,
                limits=limits)


__all__ = ["analyze", "build", "compile_source", "diagram", "load", "loads", "lower", "port"]
