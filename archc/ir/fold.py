"""The inference variant as a pass over the module IR: what :func:`archc.ir.passes.inference_graph`
does to the concrete graph (training-only heads dropped, dropout dropped, batch norm folded
into the layer before it), done once per statement of each definition.

The concrete pass decides, node by node, by each op's own facts (:attr:`Op.eval_identity`,
:meth:`Op.folds_into`); a statement stands for its nodes in every instance, so it is
rewritten where the concrete pass treated all of them alike:

- a statement none of whose nodes remain (a dropout, a head, what only a head reads) goes,
  and what read its value reads its input (a dropout) instead;
- a norm folded in every instance goes, and the layer before it gains a bias; a norm under
  a condition (VGG's ``{when: batch_norm, layers: bn()}``) gives the layer a bias where the
  condition holds: ``bias=batch_norm``;
- statements with no instance in this network keep their form, except eval-identity ops.

Where instances disagree the class cannot be written once: :class:`Unfoldable`. The caller
instantiates the result and compares it with the concrete pass's graph (the IR verifier),
so a mistake here is an error, never a different network.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from ..sym import Sym, and_, is_symbolic, or_, substitute
from .graph import Graph
from .module import Container, Definition, Head, If, Instance, Layer, Loop, Merge, ModuleIR, Stmt, walk
from .passes import Folding

__all__ = ["Unfoldable", "inference_ir"]


class Unfoldable(Exception):
    """The inference pass treated the instances of one statement differently."""


class _Pass:
    def __init__(self, plain: Graph, folding: Folding):
        # statement (definition, value) -> ids of its nodes in the plain instantiation
        self.nodes: dict[tuple[str, str], list[str]] = {}
        for node in plain.nodes.values():
            if node.origin is not None:
                self.nodes.setdefault(node.origin, []).append(node.id)
        self.kept = folding.kept  # plain node ids the concrete pass keeps
        self.kept_scopes = folding.kept_scopes
        self.scopes: dict[tuple[str, str], list[Any]] = {}  # statement -> the plain paths of its modules
        for path, scope in plain.scopes.items():
            if scope.call is not None and not scope.training_only:
                self.scopes.setdefault(scope.call, []).append(path)
        self.folded = {f.norm for f in folding.norms}
        self.lists: list[list[Any]] = []  # the numbered lists being rewritten, innermost last
        self.bodies: list[tuple[list[Stmt], Any]] = []  # the bodies being rewritten (and the `when:`
        # condition each one runs under, for an If's body), outermost first
        self.vetoed: set[tuple[str, str]] = set()  # norms to keep in every instance after all
        # statements (definition, value) whose nodes the concrete pass drops in some instances
        # only (nothing reads them there): to keep in every instance, as the class writes them once
        self.revived: set[tuple[str, str]] = set()
        # nodes that go with a statement above them (a training-only head, an instance or a
        # container the concrete pass drops whole) do not decide their own statement's fate
        dropped = {p for p in plain.scopes if p and p not in folding.kept_scopes}
        # (a module's scope is its own path; a merge's is the container it joins in)
        self.training = {n.id for n in plain.nodes.values()
                         if n.training_only or any(n.scope[:k] in dropped
                                                   for k in range(1, len(n.scope) + (not n.module)))}
        self.within_dropped = {p for p in plain.scopes if any(p[:k] in dropped for k in range(1, len(p)))}
        # a merge named after the entry it feeds (`n3: {from: [a, b], layers: ...}` makes n3:concat)
        # is made in the enclosing list: only a scope dropped above that list takes it along
        self.beside_child = {n.id for n in plain.nodes.values()
                             if not n.module and not n.training_only and n.scope
                             and not any(n.scope[:k] in dropped for k in range(1, len(n.scope)))}
        self.absorbing, self.across = self._across_classes(plain, folding)

    def _across_classes(self, plain: Graph, folding: Folding) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        """Norms folded into a layer of another definition's class (a norm block passed as a value,
        spliced after a convolution; a block's first norm after the caller's convolution), where
        the two statements agree in every instance: each instance of the norm folds into such a
        layer, and each instance of the layer absorbs such a norm. Then the norm's statement goes
        and the layer's gains a bias, each in its own class. Returns (layers, norms)."""
        origin = {n.id: n.origin for n in plain.nodes.values()}
        pairs = [(origin.get(f.conv), origin.get(f.norm)) for f in folding.norms]
        cross = [(c, n) for c, n in pairs if c is not None and n is not None and c[0] != n[0]]
        layers = {c for c, _ in cross}
        norms = {n for _, n in cross}
        absorbed = {f.conv for f in folding.norms}
        folded_by: dict[tuple[str, str], set[tuple[str, str]]] = {}
        for c, n in pairs:
            if c is not None and n is not None:
                folded_by.setdefault(n, set()).add(c)
                folded_by.setdefault(c, set()).add(n)

        def alive(stmt: tuple[str, str]) -> list[str]:
            return [i for i in self.nodes.get(stmt, []) if i not in self.training]

        changed = True
        while changed:
            changed = False
            for c in list(layers):  # every instance absorbs a norm of another class, and only such
                if not all(i in absorbed for i in alive(c)) or not folded_by[c] <= norms:
                    layers.discard(c)
                    changed = True
            for n in list(norms):  # every instance folds, into such a layer
                if not all(i in self.folded for i in alive(n)) or not folded_by[n] <= layers:
                    norms.discard(n)
                    changed = True
        return layers, norms

    def fate(self, key: str, stmt: Stmt) -> str:
        """keep | drop | fold, the same for every node of the statement."""
        # nodes inside training-only heads go with the head's own statement
        ids = [i for i in self.nodes.get((key, stmt.out), [])
               if i not in self.training or (isinstance(stmt, Merge) and stmt.site[0] == "child"
                                             and i in self.beside_child)]
        if not ids:
            if isinstance(stmt, Layer) and stmt.op.eval_identity:
                return "drop"
            return "keep"
        fates = {"fold" if i in self.folded else "keep" if i in self.kept else "drop" for i in ids}
        if "drop" in fates and len(fates) > 1 and not (isinstance(stmt, Layer) and stmt.op.eval_identity):
            self.revived.add((key, stmt.out))  # dead in some instances only: kept in all
            return "keep"
        if fates == {"fold", "keep"}:  # folded in some instances only: kept in all
            self.vetoed.add((key, stmt.out))
            return "keep"
        if len(fates) > 1:
            raise Unfoldable(f"the inference pass treats the instances of '{getattr(stmt, 'name', None) or stmt.out}' "
                             f"differently ({', '.join(sorted(fates))})")
        return fates.pop()

    def definition(self, d: Definition) -> Definition:
        out = copy.copy(d)
        alias: dict[str, str] = {}
        # the sizes of each value, and the fresh symbols of a dropped instance's output, which
        # are its input's sizes now (a norm block passed as a value, all of it folded)
        self.shapes: dict[str, Any] = {"x": d.input_shape}
        for s in walk(d.body):
            self.shapes[s.out] = s.shape
            if isinstance(s, Loop):
                self.shapes[s.body_input] = s.carried
        self.fresh, self.renamed = d.fresh, {}
        self.lists.append([d.mode, 0])
        out.body = self.body(d.key, d.body, alias, None)
        self.lists.pop()
        out.output = _resolve(alias, d.output)
        if self.renamed:
            _rename(out.body, self.renamed)
            out.out_shape = tuple(_substituted(v, self.renamed) for v in d.out_shape)
        return out

    def passes_through(self, stmt: Stmt, value: str) -> None:
        """``stmt`` (an instance or a container) went, and its value is ``value`` now: its output's
        fresh symbols stand for that value's sizes."""
        for dim, size in zip(stmt.shape, self.shapes.get(value, ())):
            if isinstance(dim, Sym) and str(dim) in self.fresh:
                self.renamed[str(dim)] = _substituted(size, self.renamed)

    def body(self, key: str, stmts: list[Stmt], alias: dict[str, str], cond: Any) -> list[Stmt]:
        out: list[Stmt] = []
        self.bodies.append((out, cond))
        numbered = self.lists[-1]  # the list whose numbers these statements take: [mode, passed over]
        try:
            for stmt in stmts:
                # numbers passed over inside a condition or a repeat are passed over where it holds,
                # in each repeat: they stay with it (tail_skip), not with what follows
                pending, numbered[1] = numbered[1], 0
                new = self.stmt(key, stmt, alias, cond)
                trailing, numbered[1] = numbered[1], pending
                if new is None:
                    # a numbered entry that goes: in a list of named modules the entries after it
                    # keep their numbers (an nn.Sequential numbers the rest anew, as the concrete pass)
                    if stmt.pos and numbered[0] == "module":
                        numbered[1] += 1
                    continue
                if isinstance(new, (If, Loop)):
                    new.tail_skip += trailing
                if numbered[1]:
                    new.skip += numbered[1]
                    numbered[1] = 0
                out.append(new)
        finally:
            self.bodies.pop()
        return out

    def stmt(self, key: str, stmt: Stmt, alias: dict[str, str], cond: Any) -> Stmt | None:
        stmt = copy.copy(stmt)
        if isinstance(stmt, Head) or stmt.training_only:
            return None
        if isinstance(stmt, Layer):
            stmt.inputs = tuple(_resolve(alias, i) for i in stmt.inputs)
            fate = self.fate(key, stmt)
            if fate == "drop":
                alias[stmt.out] = stmt.inputs[0]
                return None
            if fate == "fold":
                if (key, stmt.out) in self.across:  # into a layer of another class, which gains the bias
                    alias[stmt.out] = stmt.inputs[0]
                    return None
                found = self.producer(stmt.inputs[0])
                if found is None:  # the layer is in another class, not in every instance: kept, not folded
                    self.vetoed.add((key, stmt.out))
                    return stmt
                layer, conds = found
                # the layer gains a bias where the norm exists: under the conditions between them
                bias = True if not conds else or_(layer.attrs.bias, and_(*conds))
                layer.attrs = layer.attrs.model_construct(**{**dict(layer.attrs), "bias": bias})
                alias[stmt.out] = layer.out
                return None
            if (key, stmt.out) in self.absorbing:  # the norm after it, in another class, went
                stmt.attrs = stmt.attrs.model_construct(**{**dict(stmt.attrs), "bias": True})
            return stmt
        if isinstance(stmt, Merge):
            stmt.inputs = tuple(_resolve(alias, i) for i in stmt.inputs)
            if self.fate(key, stmt) == "keep":
                return stmt
            alias[stmt.out] = stmt.inputs[0]  # read by nothing the pass keeps (the verifier would see it)
            return None
        if isinstance(stmt, Instance):
            stmt.input = _resolve(alias, stmt.input)
            if self.scope_fate(key, stmt) == "drop":
                # nothing of it is left (its norm folded into the layer before it, its dropout
                # went): what read its value reads its input
                alias[stmt.out] = stmt.input
                self.passes_through(stmt, stmt.input)
                return None
            return stmt
        if isinstance(stmt, (Container, If, Loop)):
            stmt.input = _resolve(alias, stmt.input)
            inner = stmt.cond if isinstance(stmt, If) else None
            if isinstance(stmt, Loop):  # the body's first statements read the running value
                alias_inner = alias
            else:
                alias_inner = alias
            if isinstance(stmt, Container):  # a list of its own, numbered from 0
                self.lists.append([stmt.mode, 0])
            try:
                stmt.body = self.body(key, stmt.body, alias_inner, inner)
            finally:
                if isinstance(stmt, Container):
                    self.lists.pop()
            stmt.output = _resolve(alias, stmt.output)
            if isinstance(stmt, Loop):
                return stmt
            if isinstance(stmt, Container) and self.scope_fate(key, stmt) == "drop":
                alias[stmt.out] = stmt.input
                self.passes_through(stmt, stmt.input)
                return None
            if not stmt.body:
                if isinstance(stmt, If) and (stmt.pos or stmt.absent or self.lists[-1][1]):
                    # a numbered entry keeps its number; a branch stays a branch; the entries that
                    # went keep the numbers they held where the condition holds
                    return stmt
                alias[stmt.out] = stmt.input
                return None
            return stmt
        return stmt

    def scope_fate(self, key: str, stmt: Stmt) -> str:
        """keep | drop for a statement that makes a module of its own (an instance, a container)."""
        # a container inside one the concrete pass drops whole goes with it
        paths = [p for p in self.scopes.get((key, stmt.out), []) if p not in self.within_dropped]
        fates = {"keep" if p in self.kept_scopes else "drop" for p in paths}
        if len(fates) > 1:  # dead in some instances only: kept in all
            self.revived.add((key, stmt.out))
            return "keep"
        return fates.pop() if fates else "keep"

    def producer(self, value: str) -> tuple[Layer, list[Any]] | None:
        """The layer that made ``value``, in the bodies being rewritten (innermost first), and the
        conditions of the bodies between it and the statement being rewritten."""
        for k in range(len(self.bodies) - 1, -1, -1):
            for s in self.bodies[k][0]:
                if s.out == value:
                    if not isinstance(s, Layer):
                        return None
                    return s, [c for _, c in self.bodies[k + 1:] if c is not None]
        return None


def _substituted(value: Any, mapping: dict[str, Any]) -> Any:
    if isinstance(value, tuple):
        return tuple(_substituted(v, mapping) for v in value)
    return substitute(value, mapping) if is_symbolic(value) else value


def _rename(body: list[Stmt], mapping: dict[str, Any]) -> None:
    """Put ``mapping``'s values in for its symbols in every expression of ``body`` (whose
    statements are the pass's own copies; attributes are rebuilt, never changed in place)."""
    for s in walk(body):
        s.shape = _substituted(s.shape, mapping)
        if isinstance(s, Layer) and any(is_symbolic(v) or isinstance(v, tuple) for v in dict(s.attrs).values()):
            s.attrs = s.attrs.model_construct(**{k: _substituted(v, mapping) for k, v in dict(s.attrs).items()})
        elif isinstance(s, Instance):
            s.args = {k: _substituted(v, mapping) for k, v in s.args.items()}
        elif isinstance(s, If):
            s.cond = _substituted(s.cond, mapping)
        elif isinstance(s, Loop):
            s.count = _substituted(s.count, mapping)
        elif isinstance(s, Merge):
            s.present = _substituted(s.present, mapping)


def _resolve(alias: dict[str, str], value: str) -> str:
    while value in alias:
        value = alias[value]
    return value


def inference_ir(ir: ModuleIR, plain: Graph, folding: Folding) -> tuple[ModuleIR, set[tuple[str, str]]]:
    """The inference variant of ``ir``: ``plain`` is ``ir`` instantiated (its nodes know their
    statement), ``folding`` what the concrete pass made of it. Also the norms (definition,
    value) the pass kept although the concrete pass folded some of their instances: the caller
    runs the concrete pass again without them (see :func:`fold`)."""
    p = _Pass(plain, folding)
    defs = {k: p.definition(d) for k, d in ir.definitions.items()}
    return dataclasses.replace(ir, definitions=defs, network=p.definition(ir.network)), p.vetoed, p.revived


def inference_definition(d: Definition, plain: Graph, folding: Folding) -> Definition:
    """The inference variant of a definition that no module of ``plain`` instantiates (a block
    only named as a parameter's default): eval-identity statements dropped, the rest kept."""
    return _Pass(plain, folding).definition(d)


def fold(ir: ModuleIR, plain: Graph) -> tuple[ModuleIR, Graph, Folding]:
    """The inference variant of ``ir`` and the concrete pass's graph and folding it must equal: a
    norm folds where it folds in every instance of its statement (else the concrete pass runs
    again with it kept, until they agree)."""
    from .passes import inference_graph

    origin = {n.id: n.origin for n in plain.nodes.values()}
    allow: set[str] | None = None
    keep: set[str] = set()
    for _ in range(8):
        graph, folding = inference_graph(plain, allow, keep)
        out, vetoed, revived = inference_ir(ir, plain, folding)
        if not vetoed and not revived:
            return out, graph, folding
        folded = {f.norm for f in folding.norms}
        allow = {nid for nid in folded if origin.get(nid) not in vetoed}
        # a statement dead in some instances only: every node of it kept, and of the modules it makes
        paths = [p for p, s in plain.scopes.items() if s.call in revived]
        keep |= {n.id for n in plain.nodes.values()
                 if n.origin in revived or any(n.scope[:len(p)] == p for p in paths)}
    raise Unfoldable("folding does not settle")
