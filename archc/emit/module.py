"""Assembling the generated Python module: header, one class per block, the network class.

Classes are written children first (a block before the blocks that use it), which is
also the order a reader wants. Each block definition becomes one generic class when
its body can be written once for all instances; otherwise (rare: e.g. a size that
varies between instances with no expression for it) each distinct instance gets a
specialised class, named ``Block``, ``Block_2``…, which is always correct.

The inference variant (``folding`` given) is written the same way from the graph of
:func:`archc.ir.passes.inference_graph`: a spec entry whose nodes that pass removed in
every instance of a class is left out of it (batch norms folded away, dropout), one
removed in some instances only makes the class specialised, and the file ends with the
folding tables and functions of :mod:`archc.emit.inference` instead of plain ``build()``.
"""

from __future__ import annotations

import ast
from typing import Any

from .._version import __version__
from ..diagnostics import printable
from ..ir.graph import Graph, Node, Scope
from ..ir.passes import Folding
from ..spec import model as m
from ..spec.loader import BlockRef, Program
from .classes import ClassEmitter
from .format import wrap
from .inference import fold_source, header_lines
from .init import init_method
from .lookup import Lookup, is_class_scope
from .names import Namespace, camel
from .values import ClassCode, Unsupported, Val


class ModuleEmitter:
    def __init__(self, graph: Graph, program: Program, *, source_name: str, params: int, macs: int,
                 folding: Folding | None = None):
        self.graph = graph
        # the inference variant: ``graph`` came from archc.ir.passes.inference_graph, and spec
        # entries whose nodes that pass removed are left out of the classes
        self.folding = folding
        self.inference = folding is not None
        self.program = program
        self.source_name = source_name
        self.params, self.macs = params, macs
        self.lookup = Lookup.of(graph)
        self.names = Namespace()
        self.generic: dict[int, ClassCode] = {}
        self.special: dict[int, dict[tuple[str, ...], ClassCode]] = {}
        self.codes: list[ClassCode] = []
        self.users = graph.users()
        self._uses: dict[tuple[str, ...], list[Node]] = {}
        for node in graph.nodes.values():
            if node.module:
                self._uses.setdefault(node.scope, []).append(node)

    # --- what classes refer to --------------------------------------------------------

    def block_class_names(self) -> dict[str, str]:
        """Block names an expression may use as values (block-typed arguments) -> class names."""
        out = {}
        for key, code in self.generic.items():
            ref = self._refs.get(key)
            if isinstance(ref, BlockRef):
                out[ref.name] = code.name
        return out

    def class_name(self, ref: BlockRef, scope: Scope | None) -> str:
        return self.class_code(ref, scope).name

    def class_code(self, ref: Any, scope: Scope | None) -> ClassCode:
        key = id(ref)
        if key in self.generic:
            return self.generic[key]
        if scope is None or key not in self.special:
            raise Unsupported("a block passed as a value has no single class")
        return self.special[key][scope.path]

    def is_specialised(self, ref: Any) -> bool:
        return id(ref) not in self.generic

    def inplace_ok(self, nodes: list[Node]) -> bool:
        """May this activation overwrite its input? Only if, at every use of the module, the input
        is a fresh tensor nothing else reads and whose producer's backward does not keep it."""
        for node in nodes:
            for use in self._uses.get(node.scope, [node]):
                producer = self.graph.nodes[use.inputs[0]]
                if producer.op is None or not producer.op.fresh_output or self.users[producer.id] != [use.id]:
                    return False
        return True

    def add_inplace_ok(self, body_ids: list[str], adds: list[Node]) -> bool:
        for body, add in zip(body_ids, adds):
            producer = self.graph.nodes[body]
            if producer.op is None or not producer.op.fresh_output or self.users[body] != [add.id]:
                return False
        return True

    def removed(self, present: list[bool]) -> bool:
        """Inference variant: did the pass remove what a spec entry made, in every instance?
        (In some only: the class cannot be written once; in none: emit it as usual.)"""
        if not self.inference or all(present):
            return False
        if any(present):
            raise Unsupported("an entry the inference pass removed in some instances only")
        return True

    def heads_for(self, emitter: ClassEmitter) -> list[str]:
        if emitter.instances[0].path != ():
            return []
        return [h.name for h in self.graph.heads]

    def anonymous(self, container: m.Container, scopes: list[Scope], runtime: str, x: Any, parent: ClassEmitter
                  ) -> tuple[str, Any]:
        """The constructor of a named container's own class (parallel branches, a residual), and
        its output. ``runtime`` is how built code refers to the constructed module."""
        codes = {self.class_code(container, s).name for s in scopes}
        if len(codes) != 1:
            raise Unsupported("anonymous containers differ between instances")
        cls = codes.pop()
        code = self.class_code(container, scopes[0])
        args = ""
        if code.signature:
            args = parent.src(x.dims[0] if x.dims else None,
                              [self.graph.nodes[s.input].shape[0] for s in scopes])  # type: ignore[index]
        from .symbolic import Raw

        shape = self.lookup.shape(scopes[0]) or ()
        cands = [[Raw(0, 0, f"{runtime}.out_channels")] if d == 0 and code.out_channels is not None else []
                 for d in range(len(shape))]
        return f"{cls}({args})", Val(None, parent.dims_of(scopes, cands), [self.lookup.output(s) for s in scopes])

    # --- emission ----------------------------------------------------------------------------

    def emit(self) -> str:
        groups: dict[int, list[Scope]] = {}
        self._refs: dict[int, Any] = {}
        for path, scope in self.graph.scopes.items():
            if path and is_class_scope(scope) and scope.origin is not None:
                groups.setdefault(id(scope.origin), []).append(scope)
                self._refs[id(scope.origin)] = scope.origin
        order = sorted(groups, key=lambda k: -max(len(s.path) for s in groups[k]))
        for key in order:
            self._emit_definition(self._refs[key], groups[key])
        top = self.graph.scopes[()]
        name = self.names.claim(self.graph.class_name or camel(self.graph.name))
        network = ClassEmitter(self, name, [top], doc=self.program.doc, params=[],
                               body=self.program.unit.spec.layers, concrete=True)
        net = network.emit()
        net.returns_tuple = bool(self.graph.heads)
        self.codes.append(net)
        return self._source(net)

    def _emit_definition(self, origin: Any, scopes: list[Scope]) -> None:
        if isinstance(origin, BlockRef):
            base_name, doc, params, body = origin.name, origin.defn.doc, list(origin.defn.params), origin.defn
        elif isinstance(origin, m.Container):
            base_name, doc, params, body = camel(scopes[0].path[-1]), origin.doc, [], origin
        else:  # a module-mode list under a name
            base_name, doc, params, body = camel(scopes[0].path[-1]), "", [], getattr(origin, "items", origin)
        generic = isinstance(origin, BlockRef) and len(scopes) > 0
        if generic:
            name = self.names.claim(base_name)
            try:
                code = ClassEmitter(self, name, scopes, doc=doc, params=params, body=body, concrete=False).emit()
            except Unsupported:
                self.names.used.discard(name)
            else:
                self.generic[id(origin)] = code
                self.codes.append(code)
                return
        variants: dict[str, ClassCode] = {}
        self.special[id(origin)] = {}
        for scope in scopes:
            trial = ClassEmitter(self, "_", [scope], doc=doc, params=params, body=body, concrete=True).emit()
            key = repr((trial.base, trial.init, trial.forward))
            if key not in variants:
                trial.name = self.names.claim(base_name if not variants else f"{base_name}_{len(variants) + 1}")
                variants[key] = trial
                self.codes.append(trial)
            self.special[id(origin)][scope.path] = variants[key]

    def _source(self, net: ClassCode) -> str:
        from ..ops.base import fmt_shape

        doc = (self.program.doc or self.program.name).strip()
        input_shape = self.graph.input_shape
        variant = ", inference variant" if self.inference else ""
        lines = [
            # spec text in a comment must stay on its line: a newline in the spec's name or file
            # name would otherwise start a line of code
            f"# Generated by archc {__version__} from {printable(self.source_name)} "
            f"(spec {self.program.name!r}{variant}).",
            f"# {self.params:,} parameters; {self.macs:,} MACs for one {fmt_shape(input_shape)} input.",
            *(header_lines(self.folding) if self.folding is not None else []),
            f"# Do not edit: change the spec and run `archc compile{' --inference' if self.inference else ''}` "
            "again.",
            _docstring(doc, 0),
            "",
            "from __future__ import annotations",
            "",
        ]
        # the inference variant's weights always come from a plain network (fold_state_dict)
        init = [] if self.inference else init_method(self.program.init, self.codes, net.name, self.graph)
        body = [f"INPUT_SHAPE = {tuple(input_shape)!r}"]
        for code in self.codes:
            body += ["", "", *_class_source(code, init if code is net else None)]
        if self.folding is not None:
            body += ["", "", *fold_source(self.folding, net.name)]
        else:
            body += ["", "", f"def build() -> {net.name}:", f'    """A new {net.name}, as the spec describes it."""',
                     f"    return {net.name}()", ""]
        # a network of nn.Sequential classes alone has no forward and never names torch itself
        text = "\n".join(out for line in body for out in (wrap(line) if "\n" not in line else [line]))
        uses_torch = any(isinstance(n, ast.Name) and n.id == "torch" for n in ast.walk(ast.parse(text)))
        lines += [*(["import torch"] if uses_torch else []), "from torch import nn", ""]
        return "\n".join(out for line in lines for out in (wrap(line) if "\n" not in line else [line])) + "\n" + text


def _class_source(code: ClassCode, init: list[str] | None) -> list[str]:
    out = [f"class {code.name}({code.base}):"]
    if code.doc.strip():
        out.append(_docstring(code.doc.strip(), 4))
        out.append("")
    sig = ", ".join(["self", *code.signature])
    header = f"    def __init__({sig}) -> None:"
    if len(header) > 118:
        params = "".join(f"        {p},\n" for p in ["self", *code.signature])
        header = f"    def __init__(\n{params}    ) -> None:"
    out.append(header)
    if code.base == "nn.Module":
        out.append("        super().__init__()")
    out += [f"        {line}" for line in code.init]
    if init:
        out += [f"        {line}" for line in init]
    if code.forward is not None:
        ret = "torch.Tensor | tuple[torch.Tensor, ...]" if code.returns_tuple else "torch.Tensor"
        out += ["", f"    def forward(self, x: torch.Tensor) -> {ret}:"]
        out += [f"        {line}" for line in code.forward]
    return out


def _docstring(text: str, indent: int) -> str:
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
