"""Assembling the generated module from the module IR: header, one class per block
definition (callees first), the network class, ``build()``.

The module IR comes with the graph that was checked and counted (:mod:`archc.ir.derive`,
which refuses an IR whose instantiation differs from that graph: E720, never a different
network); emission reads those two and never the spec. The IR's instantiation also says,
per statement, whether every one of its modules may run in place
(:func:`archc.ir.inplace.inplace_nodes`), which the class then writes.
"""

from __future__ import annotations

import ast
from typing import Any

from .._version import __version__
from ..analysis.counts import node_counts, totals
from ..diagnostics import printable
from ..ir.define import Unsymbolic
from ..ir.derive import NotDerivable, derived, differences
from ..ir.fold import Unfoldable, fold, inference_definition
from ..ir.graph import Graph
from ..ir.inplace import inplace_nodes
from ..ir.instantiate import Instantiator, Unsplicable
from ..ir.module import Instance, Layer, Merge, walk
from ..ir.passes import Folding
from ..sym import MAKE_DIVISIBLE_SOURCE
from .classdef import ClassCode, Context, Unsupported, write_class
from .format import WIDTH, docstring, wrap
from .freeze import frozen_constants, frozen_init, frozen_methods
from .inference import fold_source, header_lines
from .names import Namespace, camel
from .printer import Unprintable

__all__ = ["write_module"]


class ModuleWriter:
    def __init__(self, graph: Graph, *, inference: bool = False):
        self.plain = graph
        self.graph = graph
        self.source_name = graph.file
        self.inference = inference
        self.folding: Folding | None = None
        self.names = Namespace()
        self.codes: dict[str, ClassCode] = {}

    def write(self) -> str:
        try:
            derived_ir = derived(self.graph)  # the module IR, already checked against the graph
        except NotDerivable as err:
            raise Unsupported(str(err), err.span, err.hint) from None
        ir, again, spliced, passed = derived_ir.ir, derived_ir.plain, derived_ir.spliced, derived_ir.passed
        if self.inference:
            # the pass over the module IR, checked against the concrete pass (the IR verifier)
            try:
                plain = again
                ir, self.graph, self.folding = fold(ir, again)
                folded = ir.definitions

                def resolve(block: Any, rank: int, *more: Any) -> Any:  # (more: see Definer.definition)
                    return self.folded_definition(derived_ir.definition(block, rank, *more).key)

                def folded_definition(key: str) -> Any:
                    if key not in folded:  # a block only named as a default: defined after the pass
                        folded[key] = inference_definition(derived_ir.ir.definitions[key], plain, self.folding)
                    return folded[key]

                self.folded_definition = folded_definition
                self.unseen = resolve
                inst = Instantiator(ir, resolve, self.graph.name)
                again = inst.run(self.graph.params)
                spliced, passed = inst.spliced, inst.passed
            except (Unfoldable, Unsymbolic, Unsplicable) as err:
                raise Unsupported(f"inference variant: {err}", getattr(err, "span", None)) from None
            found = differences(self.graph, again, notes=False)
            if found:
                raise Unsupported("the inference pass over the module IR differs from the graph's: "
                                  + "; ".join(found[:3]))
        t = totals(self.graph, node_counts(self.graph))
        self.params, self.macs = t.params, t.macs
        self.ir = ir
        self.definition = derived_ir.definition
        self.definitions = ir.definitions
        inplace = inplace_nodes(again)
        self.inplace: dict[tuple[str, str], bool] = {}
        for node in again.nodes.values():
            if node.origin is not None:
                key = node.origin
                self.inplace[key] = self.inplace.get(key, True) and node.id in inplace
        depth: dict[str, int] = {}
        for scope in again.scopes.values():
            if scope.kind == "block" and scope.origin is not None:
                depth[scope.origin] = max(depth.get(scope.origin, 0), len(scope.path))
        order = sorted(self.definitions, key=lambda k: -depth.get(k, 0))
        self.by_block: dict[str, str] = {}
        for key in order:
            d = self.definitions[key]
            self.by_block.setdefault(d.name, key)

        def is_spliced(key: str, out: str) -> bool:
            seen = spliced.get((key, out), {False})
            if len(seen) > 1:
                raise Unsupported("a block-typed parameter holds an inline block in some instances only")
            return True in seen

        self.helpers = _helpers(ir)
        # what callers read of a class (an output's height, a block passed as a value that needs its
        # input's height) shows when the callers are written, after it: the file is written again,
        # each class told what its callers read, until no caller reads more
        self.passed = {site: keys for site, keys in passed.items() if not is_spliced(*site)}
        self.expose: dict[str, set[int]] = {}
        self.spatial: set[str] = set()
        self.site_dims: dict[tuple[str, str], int] = {}
        for _ in range(2 * len(self.definitions) + 2):  # each writing but the last adds a demand
            net = self.write_classes(order, is_spliced)
            if not self.demands():
                break
        else:  # pragma: no cover - demands only grow, and there are finitely many
            raise Unsupported("what the classes read of each other does not settle")
        rank = {k: n for n, k in enumerate(order)}  # blocks only passed along come first
        codes = [self.codes[k] for k in sorted(self.codes, key=lambda k: rank.get(k, -1))]
        return self.source(net, _defaults_first(codes))

    def write_classes(self, order: list[str], is_spliced: Any) -> ClassCode:
        """Every class (callees first) and the network's, told what their callers read."""
        self.names = Namespace()
        self.codes = {}
        # classes torch.nn lacks (torchvision's LayerNorm2d, Permute), written once at the top: their
        # names are taken first, so a block of the same name gets another
        for op in self.helpers:
            self.names.claim(op.torch_class)
        ctx = Context(self.class_of, self.block_name, self.inplace_of, self.names.claim,
                      [h.name for h in self.graph.heads], is_spliced,
                      expose=lambda key: frozenset(self.expose.get(key, ())),
                      spatial=lambda key: key in self.spatial,
                      passes=lambda key, out: self.site_dims.get((key, out), 1))
        self._ctx = ctx
        for key in order:
            self.class_of(key)
        net_name = self.names.claim(self.graph.class_name or camel(self.graph.name))
        try:
            net = write_class(ctx, self.ir.network, net_name, {})
        except Unprintable as err:
            raise Unsupported(str(err)) from None
        net.heads = bool(self.graph.heads)
        return net

    def demands(self) -> bool:
        """Record what the classes just written read of their callees that those do not provide:
        an output size past the channels (``self.body.out_height``), or, where a block-typed
        parameter is called, the input's spatial sizes some block passed there takes (then every
        block passed there takes them, and the call passes them). Did anything new turn up?"""
        owner: dict[tuple[str, str], tuple[Instance, int]] = {}  # (definition, fresh symbol) -> instance
        for d in [*self.definitions.values(), self.ir.network]:
            for s in walk(d.body):
                if isinstance(s, Instance):
                    for k, dim in enumerate(s.shape):
                        if k and d.fresh.get(str(dim)) == ("output", s.out, k):
                            owner[(d.key, str(dim))] = (s, k)
        new = False
        for key, printer in self._ctx.printers:
            for symbol in printer.used:
                if (key, symbol) not in owner:
                    continue
                s, k = owner[(key, symbol)]
                for callee in {s.block} if s.block is not None else self.passed.get((key, s.out), set()):
                    if k not in self.expose.setdefault(callee, set()):
                        self.expose[callee].add(k)
                        new = True
        for site, keys in self.passed.items():
            codes = [self.codes[k] for k in keys if k in self.codes]
            if any(set(code.args) & set(code.dims[1:]) for code in codes):
                self.site_dims[site] = max(len(self.definitions[k].input_shape) for k in keys)
                for k in keys - self.spatial:
                    self.spatial.add(k)
                    new = True
        return new

    def class_of(self, key: str) -> ClassCode:
        code = self.codes.get(key)
        if code is None:
            if key not in self.definitions and self.inference:
                # a block that only a block named as a parameter's default calls: folded like it
                self.folded_definition(key)
            d = self.definitions[key]
            name = self.names.claim(d.name)
            try:
                code = write_class(self._ctx, d, name, {})
            except Unprintable as err:
                raise Unsupported(f"block '{d.name}': {err}") from None
            code.last_norms = _last_norms(d)  # type: ignore[attr-defined]
            self.codes[key] = code
        return code

    def block_name(self, block: Any) -> str:
        key = self.by_block.get(block.name)
        if key is None:  # a block passed along but not built in this network (a repeat of 0, say)
            for rank in (3, 2, 1):
                try:
                    key = self.definition(block, rank).key
                except Unsymbolic:
                    continue
                self.by_block[block.name] = key
                break
            else:
                raise Unprintable(f"no class for block {block.name}")
            if self.inference:
                self.unseen(block, rank)  # folded like the others
        return self.class_of(key).name

    def inplace_of(self, key: str, out: str) -> bool:
        return self.inplace.get((key, out), False)

    # --- the file ----------------------------------------------------------------------------

    def source(self, net: ClassCode, codes: list[ClassCode]) -> str:
        from ..ops.base import fmt_shape
        from .init import init_method

        doc = (self.ir.doc or self.ir.name).strip()
        input_shape = self.graph.input_shape
        variant = ", inference variant" if self.inference else ""
        lines = [
            # spec text in a comment must stay on its line: printable() escapes line breaks
            *_comment(f"# Generated by archc {__version__} from", f"{printable(self.source_name)} "
                      f"(spec {self.ir.name!r}{variant})."),
            f"# {self.params:,} parameters; {self.macs:,} MACs for one {fmt_shape(input_shape)} input.",
            *(header_lines(self.folding) if self.folding is not None else []),
            f"# Do not edit: change the spec and run `archc compile{' --inference' if self.inference else ''}` "
            "again.",
            docstring(doc, 0),
            "",
            "from __future__ import annotations",
            "",
        ]
        # the inference variant's weights always come from a plain network (fold_state_dict)
        init = [] if self.inference else init_method(self.ir.init, codes, net.name, self.graph)
        # the inference variant is not trained: nothing to freeze
        frozen = self.plain if not self.inference else Graph(self.graph.name, ())
        init += frozen_init(frozen)
        if self.inference:  # the class of a dropped head (GoogLeNet's InceptionAux) is not written
            codes = _reachable(net, codes)
        body = [f"INPUT_SHAPE = {tuple(input_shape)!r}"]
        if frozen.frozen:
            body += ["", *frozen_constants(frozen)]
        for op in self.helpers:
            body += ["", "", *op.helper.rstrip("\n").split("\n")]
        for code in codes:
            for child in _all_children(code):
                body += ["", "", *class_source(child, None)]
            body += ["", "", *class_source(code, None)]
        for child in _all_children(net):
            body += ["", "", *class_source(child, None)]
        body += ["", "", *class_source(net, init, frozen_methods(frozen, net.name))]
        if self.folding is not None:
            body += ["", "", *fold_source(self.folding, net.name)]
        else:
            body += ["", "", f"def build() -> {net.name}:", f'    """A new {net.name}, as the spec describes it."""',
                     f"    return {net.name}()", ""]
        text = "\n".join(out for line in body for out in (wrap(line) if "\n" not in line else [line]))
        used = {n.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Name)}
        if "_make_divisible" in used:  # an expression calls make_divisible: torchvision's function, once
            body[1:1] = ["", "", *MAKE_DIVISIBLE_SOURCE.rstrip("\n").split("\n")]
            text = "\n".join(out for line in body for out in (wrap(line) if "\n" not in line else [line]))
        # math only where an expression calls ceil or floor (math.ceil, math.floor)
        lines += [*(["import math", ""] if "math" in used else []), *(["import torch"] if "torch" in used else []),
                  "from torch import nn", ""]
        return "\n".join(out for line in lines for out in (wrap(line) if "\n" not in line else [line])) + "\n" + text


def _comment(start: str, rest: str) -> list[str]:
    """A comment of one line, or two where one would pass the width linters allow (a long path);
    one word longer than that line is marked for them (``noqa``: it cannot be broken)."""
    if len(start) + 1 + len(rest) <= WIDTH:
        return [f"{start} {rest}"]
    second = f"# {rest}"
    return [start, second if len(second) <= WIDTH else f"{second}  # noqa: E501"]


def _helpers(ir: Any) -> list[Any]:
    """The ops whose module class the file must define (:attr:`archc.ops.base.Op.helper`), in
    registry order."""
    from ..ops import registry

    used = {s.op.name for d in [*ir.definitions.values(), ir.network] for s in walk(d.body) if isinstance(s, Layer)}
    return [op for op in registry() if op.helper is not None and op.name in used]


def _defaults_first(codes: list[ClassCode]) -> list[ClassCode]:
    """A class a signature names as a default (``inner: type[nn.Module] = B1``) must exist first."""
    out = list(codes)
    for _ in range(len(out)):
        moved = False
        for k, code in enumerate(out):
            for j in range(k + 1, len(out)):
                if any(sig.endswith(f"= {out[j].name}") for sig in code.signature):
                    out.insert(k, out.pop(j))
                    moved = True
                    break
            if moved:
                break
        if not moved:
            break
    return out


def _reachable(net: ClassCode, codes: list[ClassCode]) -> list[ClassCode]:
    """The classes the network's class uses, directly or through another (a constructor call or
    a parameter's default), in their order."""
    import re

    by_name = {c.name: c for c in codes}
    keep: set[str] = set()
    todo = [net]
    while todo:
        code = todo.pop()
        text = "\n".join(line for c in [*_all_children(code), code] for line in class_source(c, None))
        for word in set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)):
            if word in by_name and word not in keep:
                keep.add(word)
                todo.append(by_name[word])
    return [c for c in codes if c.name in keep]


def _all_children(code: ClassCode) -> list[ClassCode]:
    out = []
    for child in code.children:
        out += [*_all_children(child), child]
    return out


def _last_norms(d: Any) -> list[str]:
    """The last norm of each residual branch (``zero_init_residual`` zeroes it)."""
    producers = {s.out: s for s in walk(d.body)}
    out = []
    for s in walk(d.body):
        if isinstance(s, Merge) and s.role == "residual":
            last = producers.get(s.inputs[0])
            if isinstance(last, Layer) and last.name and last.op.init_role == "norm":
                try:
                    affine = last.op.has_affine(last.attrs)
                except Exception:  # a symbolic `affine`: not known for every instance
                    affine = False
                if affine is True:
                    out.append(last.name)
    return out


def class_source(code: ClassCode, init: list[str] | None, methods: list[str] | None = None) -> list[str]:
    out = [f"class {code.name}({code.base}):"]
    if code.doc.strip():
        out.append(docstring(code.doc.strip(), 4))
        out.append("")
    sig = ", ".join(["self", *code.signature])
    header = f"    def __init__({sig}) -> None:"
    if len(header) > 118:
        params = "".join(f"        {p},\n" for p in ["self", *code.signature])
        header = f"    def __init__(\n{params}    ) -> None:"
    out.append(header)
    out += [f"        {line}" for line in code.init]
    if init:
        out += [f"        {line}" for line in init]
    if code.base == "nn.Module":
        ret = "torch.Tensor | tuple[torch.Tensor, ...]" if code.heads else "torch.Tensor"
        args = "".join(f", {arg}: torch.Tensor" for _, arg in code.inputs)
        out += ["", f"    def forward(self, x: torch.Tensor{args}) -> {ret}:"]
        out += [f"        {line}" for line in code.forward]
    if methods:
        out += ["", *(f"    {line}" for line in methods)]
    return out


def write_module(graph: Graph, *, inference: bool = False) -> str:
    """The Python module for ``graph`` (its inference variant with ``inference``), printed from
    its module IR (:func:`archc.ir.derive.derived`)."""
    return ModuleWriter(graph, inference=inference).write()

