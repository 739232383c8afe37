"""archc: a declarative architecture-spec compiler for PyTorch.

A YAML spec goes in; out come a validated graph with every shape, parameter and
MAC count, Graphviz diagrams, and readable PyTorch source. See README.md.
"""

from ._version import __version__
from .api import analyze, build, compile_source, diagram, load, loads, lower, port
from .diagnostics import ArchcError, Diagnostic, Span

__all__ = ["ArchcError", "Diagnostic", "Span", "__version__", "analyze", "build", "compile_source", "diagram", "load",
           "loads", "lower", "port"]
