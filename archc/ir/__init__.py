"""The IR: Graph, Node, Scope; lowering from specs; the verifier."""

from .check import IRError, check
from .graph import Graph, Head, Node, Scope, path_str

__all__ = ["Graph", "Head", "IRError", "Node", "Scope", "check", "path_str"]
