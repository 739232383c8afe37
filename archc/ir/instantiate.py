"""Instantiation: the concrete :class:`~archc.ir.graph.Graph` of a module IR for given
parameter values, mechanically: conditions decided, loops unrolled, instances expanded,
expressions evaluated, shapes inferred by each op's rule.

Node ids, module paths, scopes and shapes are those :mod:`archc.ir.lower` gives the same
spec (tests/ir/test_module_ir.py checks this on every spec the suite holds), so the
figures archc counts are the figures of the network the module IR describes.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Mapping
from typing import Any

from ..sym import Sym, SymBlock, evaluate, is_symbolic
from .graph import Graph, Head, Node, Path, Scope, path_str
from .module import Container, Definition, Dims, GenName, If, Instance, Layer, Loop, Merge, ModuleIR, Stmt
from .module import Head as HeadStmt

__all__ = ["Unsplicable", "instantiate"]


class Unsplicable(Exception):
    """An instance the module IR cannot stand for (a block-typed parameter holding an inline block)."""

Resolve = Callable[[Any, int], Definition]  # a block value and an input rank -> its definition


def concrete(value: Any, env: Mapping[str, Any]) -> Any:
    """``value`` with every symbol replaced by its value in ``env``."""
    if isinstance(value, tuple):
        return tuple(concrete(v, env) for v in value)
    if isinstance(value, (Sym, SymBlock)) or is_symbolic(value):
        return evaluate(value, env)
    return value


class _Numbers:
    """The numbers of a list's children, as nn.Sequential gives them."""

    def __init__(self) -> None:
        self.position = 0

    def take(self) -> str:
        self.position += 1
        return str(self.position - 1)


class Instantiator:
    def __init__(self, ir: ModuleIR, resolve: Resolve, name: str):
        self.ir = ir
        self.resolve = resolve
        self.name = name
        self.graph: Graph = Graph(name, ())
        self.uses: dict[str, int] = {}
        self.spliced: dict[tuple[str, str], set[bool]] = {}  # dynamic instances: spliced (inline) or not
        self.passed: dict[tuple[str, str], set[str]] = {}  # dynamic instances: the definitions they hold
        self.key = ""  # the definition whose statements run now (nodes record it as their origin)
        self.training_only = False  # inside an instance that only runs in training (a side head)

    def run(self, params: Mapping[str, Any]) -> Graph:
        net = self.ir.network
        shape = tuple(net.input_shape)
        g = self.graph = Graph(self.name, shape, params=dict(params))
        g.add(Node("input", None, None, (), (), net.span, shape=shape, module=False))  # type: ignore[arg-type]
        top = g.add_scope(Scope((), "network", self.name, net.span, "input", mode=net.mode))  # type: ignore[arg-type]
        env: dict[str, Any] = dict(params)
        vals: dict[str, str | None] = {"x": "input"}
        self.body(net.body, env, vals, (), _Numbers())
        g.output = top.output = vals[net.output]
        return g

    def shape(self, nid: str) -> Any:
        return self.graph.nodes[nid].shape

    def add(self, node: Node, shared: bool) -> str:
        if node.id in self.graph.nodes and shared:
            k = self.uses.get(node.id, 1)
            while f"{node.id}#{k}" in self.graph.nodes:
                k += 1
            self.uses[node.id] = k + 1
            node.id = f"{node.id}#{k}"
        self.graph.add(node)
        return node.id

    def body(self, stmts: list[Stmt], env: dict[str, Any], vals: dict[str, str | None], path: Path,
             numbers: _Numbers) -> None:
        for stmt in stmts:
            numbers.position += stmt.skip
            self.stmt(stmt, env, vals, path, numbers)

    def _name(self, stmt: Any, numbers: _Numbers, env: Mapping[str, Any]) -> str:
        number = numbers.take() if stmt.pos else None
        if isinstance(stmt.name, GenName):  # this repeat's name
            return "".join(str(concrete(part, env)) for part in stmt.name.parts)
        return stmt.name if stmt.name is not None else number  # type: ignore[return-value]

    def stmt(self, stmt: Stmt, env: dict[str, Any], vals: dict[str, str | None], path: Path,
             numbers: _Numbers) -> None:
        if isinstance(stmt, Layer):
            attrs = stmt.attrs
            if any(is_symbolic(v) for v in dict(attrs).values()):
                attrs = type(attrs).model_validate({k: concrete(v, env) for k, v in dict(attrs).items()})
            child = (*path, self._name(stmt, numbers, env))
            x = vals[stmt.inputs[0]]
            assert x is not None
            ins = (self.shape(x),)
            node = Node(path_str(child), stmt.op, attrs, child, (x,), stmt.span, shape=stmt.op.infer(ins, attrs),
                        in_shapes=ins, training_only=stmt.training_only or self.training_only,
                        origin=(self.key, stmt.out))
            vals[stmt.out] = self.add(node, stmt.shared and not stmt.op.stateful)
        elif isinstance(stmt, Instance):
            self.instance(stmt, env, vals, path, numbers)
        elif isinstance(stmt, Merge):
            self.merge(stmt, env, vals, path, numbers)
        elif isinstance(stmt, Container):
            child = (*path, self._name(stmt, numbers, env))
            x = vals[stmt.input]
            assert x is not None
            scope = self.graph.add_scope(Scope(child, stmt.kind, stmt.label, stmt.span, x, mode=stmt.mode,
                                               training_only=stmt.training_only or self.training_only,
                                               call=(self.key, stmt.out)))
            self.body(stmt.body, env, vals, child, _Numbers())
            vals[stmt.out] = scope.output = vals[stmt.output]
        elif isinstance(stmt, If):
            if stmt.pos:
                numbers.take()
            if concrete(stmt.cond, env):
                self.body(stmt.body, env, vals, path, numbers)
                numbers.position += stmt.tail_skip
                vals[stmt.out] = vals[stmt.output]
            else:
                vals[stmt.out] = None if stmt.absent else vals[stmt.input]
        elif isinstance(stmt, Loop):
            x = vals[stmt.input]
            assert x is not None
            inner = ChainMap({}, env)
            for i in range(concrete(stmt.count, env)):
                inner.maps[0] = {stmt.index: i, **dict(zip(map(str, stmt.carried), self.shape(x)))}
                vals[stmt.body_input] = x
                self.body(stmt.body, inner, vals, path, numbers)  # type: ignore[arg-type]
                numbers.position += stmt.tail_skip
                x = vals[stmt.output]
                assert x is not None
            vals[stmt.out] = x
            self._bind(stmt.shape, self.shape(x), env)
        elif isinstance(stmt, HeadStmt):
            value = vals[stmt.value]
            assert value is not None
            self.graph.heads.append(Head(stmt.name, value, stmt.span))
        else:  # pragma: no cover
            raise TypeError(f"unknown statement {type(stmt).__name__}")

    def _bind(self, symbolic: Dims, shape: Any, env: dict[str, Any]) -> None:
        """Fresh symbols standing for a size known now (a loop's or an instance's output)."""
        for dim, size in zip(symbolic, shape):
            if isinstance(dim, Sym) and str(dim).startswith("_"):
                env[str(dim)] = size

    def instance(self, stmt: Instance, env: dict[str, Any], vals: dict[str, str | None], path: Path,
                 numbers: _Numbers) -> None:
        x = vals[stmt.input]
        assert x is not None
        in_shape = self.shape(x)
        args = {k: concrete(v, env) for k, v in stmt.args.items()}
        if stmt.block is not None:
            d = self.ir.definitions[stmt.block]
        else:
            d = self.resolve(env[stmt.param], len(in_shape))
            args = _bind_args(d, args)
            self.spliced.setdefault((self.key, stmt.out), set()).add(d.inline and stmt.name is None)
            self.passed.setdefault((self.key, stmt.out), set()).add(d.key)
            if d.inline and stmt.name is None:  # an inline block passed as a value: spliced in, as lowering does
                inner_env: dict[str, Any] = {**args, **{str(s): v for s, v in zip(d.input_shape, in_shape)}}
                inner_vals: dict[str, str | None] = {"x": x}
                saved_key, self.key = self.key, d.key
                try:
                    self.body(d.body, inner_env, inner_vals, path, numbers)
                finally:
                    self.key = saved_key
                out = inner_vals[d.output]
                assert out is not None
                vals[stmt.out] = out
                self._bind(stmt.shape, self.shape(out), env)
                return
        name = self._name(stmt, numbers, env)
        child = (*path, name)
        training_only = stmt.training_only or self.training_only
        scope = self.graph.add_scope(Scope(child, "block", d.name, stmt.span, x, block=d.name, args=args,
                                           training_only=training_only, origin=d.key, call=(self.key, stmt.out),
                                           mode=d.mode))
        inner: dict[str, Any] = {**args, **{str(s): v for s, v in zip(d.input_shape, in_shape)}}
        inner_vals: dict[str, str | None] = {"x": x}
        saved = self.training_only, self.key
        self.training_only, self.key = training_only, d.key
        try:
            self.body(d.body, inner, inner_vals, child, _Numbers())
        finally:
            self.training_only, self.key = saved
        out = inner_vals[d.output]
        vals[stmt.out] = scope.output = out
        assert out is not None
        self._bind(stmt.shape, self.shape(out), env)

    def merge(self, stmt: Merge, env: dict[str, Any], vals: dict[str, str | None], path: Path,
              numbers: _Numbers) -> None:
        site = stmt.site
        where = path
        if site[0] == "child":
            where = (*path, site[1])
        elif site[0] == "take":
            where = (*path, numbers.take())
        elif site[0] == "peek":
            where = (*path, str(numbers.position))
        ins = [vals[i] for i, p in zip(stmt.inputs, stmt.present) if concrete(p, env)]
        present = [i for i in ins if i is not None]
        if len(present) == 1:
            vals[stmt.out] = present[0]
            return
        shapes = tuple(self.shape(i) for i in present)
        node = Node(f"{path_str(where) or self.name}:{stmt.op.name}", stmt.op, stmt.attrs, where, tuple(present),
                    stmt.span, shape=stmt.op.infer(shapes, stmt.attrs), in_shapes=shapes, module=False,
                    training_only=stmt.training_only or self.training_only, role=stmt.role,
                    origin=(self.key, stmt.out))
        vals[stmt.out] = self.add(node, False)


def _bind_args(d: Definition, given: dict[str, Any]) -> dict[str, Any]:
    """Arguments written as a call of a block-typed parameter (``#0`` positional) bound to the
    definition's parameters, defaults filled in."""
    values: dict[str, Any] = {}
    for k, p in enumerate(d.params):
        if f"#{k}" in given:
            values[p.name] = given[f"#{k}"]
        elif p.name in given:
            values[p.name] = given[p.name]
        else:
            values[p.name] = concrete(p.default, values)
    return values


def instantiate(ir: ModuleIR, resolve: Resolve, name: str, params: Mapping[str, Any]) -> Graph:
    """The concrete graph of ``ir`` for the network parameters ``params``."""
    return Instantiator(ir, resolve, name).run(params)
