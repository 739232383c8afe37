"""Lowering: from a loaded :class:`~archc.spec.loader.Program` to a concrete :class:`Graph`.

The graph is the instantiation of the spec's module IR: :mod:`archc.ir.define` lowers each
block definition once (or, for a spec that cannot be written once for all its instances, the
network for its values), and :mod:`archc.ir.instantiate` expands it, making lowering's checks
as it goes, so that what every later stage counts and draws is what emission prints. This
module reads the network's parameters and input shape, runs the two, and finishes the graph
(an undefined name where nothing was evaluated, the training heads' order, unused outputs,
what is frozen).

Names follow PyTorch (see :mod:`archc.ir.naming`): a named entry's name is its attribute name;
unnamed entries are numbered like ``nn.Sequential``'s children, or, in a module body,
parameter-free ones are named after their op and shared. Unnamed ``repeat``/``layers``
containers and ``inline`` blocks splice their layers into the surrounding list (VGG's flat
``features``).

Errors are collected, not raised one by one; after an error the affected values become
unknown and quietly propagate, so one mistake does not cascade. A node made inside a block
carries the chain of calls that produced it, so an error in the fifth repeat of a block says
which repeat.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..diagnostics import Note, Reporter, Span, suggest
from ..limits import Limits
from ..ops import Registry, registry
from ..ops.base import fmt_shape
from ..spec import model as m
from ..spec.expr import UNKNOWN, Expr, ExprError, evaluate
from ..spec.loader import Program
from .define import Definer, Unsymbolic
from .derive import Derived, NotDerivable
from .freeze import resolve_freeze
from .graph import Graph, Shape
from .instantiate import Instantiator
from .module import Disagrees, ModuleIR, Stop, TooLong, Varies, strip_reads
from .params import SetValue, defined_names, network_params, undefined_hint
from .report import expr_error, stack_exhausted, written_out_limit
from .scope import undefined_names

__all__ = ["Lowerer", "SetValue", "lower"]


class Lowerer:
    def __init__(self, program: Program, reporter: Reporter, *, overrides: Mapping[str, Any] | None = None,
                 input_shape: tuple[int, ...] | None = None, limits: Limits | None = None,
                 ops: Registry | None = None):
        self.program = program
        self.r = reporter
        self.overrides = dict(overrides or {})
        self.input_override = input_shape
        self.limits = limits or Limits()
        self.ops = ops or registry()
        self.graph = Graph(program.name, ())

    def run(self) -> Graph:
        unit = self.program.unit
        params = network_params(self.r, self.program, dict(unit.blocks), self.overrides, self.eval)
        shape = self._input_shape()
        self.graph = Graph(self.program.name, shape or (), params=params, doc=self.program.doc,
                           class_name=self._class_name(), file=self.program.leaf.file)
        if shape is None or unit.spec.layers is None:
            self.r.check()
            return self.graph
        return self._finish(self._instantiated(params, shape))

    def _instantiated(self, params: dict[str, Any], shape: Shape) -> Graph:
        """The graph as the instantiation of the spec's module IR, made with lowering's checks
        (archc/ir/instantiate.py): of the definitions written once for all their instances, or, where
        they cannot be, of the network written for its values (which emission refuses, E720)."""
        program = self.program
        refused: NotDerivable | None = None

        def attempt(per_instance: bool) -> tuple[Definer, ModuleIR, Instantiator, Graph]:
            nonlocal found, running
            found = running = None  # (an attempt that stops in writing its definitions has reported nothing)
            definer = Definer(program, Graph(program.name, shape, params=params), self.ops,
                              per_instance=per_instance, limits=self.limits)
            ir = definer.run()
            # the errors it reports (an op's shape rule that fails), kept apart until it is done: where
            # the network is written for its values after all, that attempt's are reported
            found = Reporter(sources=self.r.sources, limit=self.r.limit)
            inst = running = Instantiator(ir, definer.definition, program.name, self.limits, found)
            return definer, ir, inst, inst.run(params)

        found: Reporter | None = None
        running: Instantiator | None = None  # (where it was when Python's stack ran out)

        def report() -> None:  # what the last attempt's instantiation reported
            for diag in found.diagnostics if found is not None else ():
                self.r.add(diag)

        try:
            try:
                definer, ir, inst, g = attempt(False)
            except (Unsymbolic, Disagrees) as err:
                # not once for all instances: written for these values instead (emission refuses it)
                why = str(err) if isinstance(err, (Unsymbolic, Varies)) else \
                    f"the module IR does not reproduce the checked graph: {err}"
                refused = NotDerivable(why, err.span or program.leaf.span, dict(program.sources), err.hint)
                definer, ir, inst, g = attempt(True)
        except Stop:  # an error it reported, after which lowering goes no further (a limit passed)
            assert running is not None
            report()
            self.graph = running.graph  # (what was made when it stopped)
            self.r.check()
            raise
        except RecursionError:  # only with a raised max_nesting: Python's stack ran out before the limit
            report()
            # (where it ran out; in writing the definitions, which defer a call past it, the spec)
            span, trace = (running.at if running is not None else None) or (self.program.leaf.span, ())
            stack_exhausted(self.r, self.limits.max_nesting, span, trace)
            self.r.check()
            raise
        except TooLong as long:  # a repeat written out for values that passes a limit, and cannot be written once
            assert long.span is not None
            report()  # (those before it, where it runs)
            written_out_limit(self.r, long.limit, long.span)
            self.r.check()
            raise
        report()
        g.doc, g.class_name, g.file = self.graph.doc, self.graph.class_name, self.graph.file
        # emission's input: the module IR this graph is the instantiation of; or, for one written
        # per instance, why archc cannot write the network's classes (E720 at compile)
        definer.reads = False  # what emission reads holds no reads by name (instantiation's alone)
        g.derivation = refused or Derived(strip_reads(ir), g, inst.spliced, inst.passed, definer.definition,
                                          program.leaf.span, dict(program.sources))
        self.graph = g
        return g

    def _finish(self, g: Graph) -> Graph:
        if not self.r.errors:  # what instantiation evaluated it has checked: this finds the rest, each once
            self._check_names(g)
        self._order_heads()
        self._warn_unused()
        resolve_freeze(g, self.program.freeze, self.r)
        self.r.check()
        from .check import check

        check(g)
        return g

    def _check_names(self, g: Graph) -> None:
        """An undefined name where instantiation evaluated nothing (a false `when:`, a repeat of 0, a
        short-circuit): emission writes that code too (archc/ir/scope.py)."""
        for u in undefined_names(self.program.unit, frozenset(g.params)):
            self.r.error("E401", f"name '{u.name}' is not defined", u.span, undefined_hint(u.name, u.scope, self.ops))

    def _class_name(self) -> str:
        found = self.program.class_name
        if found is None:
            return ""
        name, span = found
        if name in self.program.unit.blocks:
            self.r.error("E303", f"the network class '{name}' has the name of a block", span,
                         "the generated module holds one class per block: give the network another class name")
            return ""
        return name

    def _input_shape(self) -> Shape | None:
        if self.input_override is not None:
            shape, span = tuple(self.input_override), Span("--input", 1, 1, 1, 2)
        else:
            found = self.program.input
            if found is None:
                self.r.error("E201", "the spec has no input shape", self.program.leaf.span,
                             "add `input: [channels, height, width]`, or pass --input")
                return None
            shape, span = found
        if not shape or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape):
            self.r.error("E203", f"input sizes must be positive integers, got {list(shape)}", span)
            return None
        if any(d > self.limits.max_dim for d in shape):
            self.r.error("E601", f"input size {fmt_shape(shape)} exceeds the limit of {self.limits.max_dim:,} per "
                                 "dimension", span)
            return None
        return shape

    # --- helpers ---------------------------------------------------------------------------

    def eval(self, expr: Expr, loc: m.Loc, env: Mapping[str, Any], trace: tuple[Note, ...]) -> Any:
        try:
            return evaluate(expr, env)
        except ExprError as err:
            names = defined_names(env)
            self.r.add(dataclasses.replace(expr_error(err, loc, lambda name: undefined_hint(name, names, self.ops)),
                                           notes=trace))
            return UNKNOWN

    # --- after lowering -----------------------------------------------------------------------

    def _order_heads(self) -> None:
        wanted = self.program.train_outputs
        if not wanted:
            return
        by_name = {h.name: h for h in self.graph.heads}
        ordered = []
        for ref in wanted:
            head = by_name.pop(ref.name, None)
            if head is None:
                names = [h.name for h in self.graph.heads]
                self.r.error("E305", f"'{ref.name}' in train_outputs is not a training-only head", ref.span,
                             suggest(ref.name, names) or f"heads: {', '.join(names) or 'none'}")
                continue
            ordered.append(head)
        self.graph.heads = ordered + list(by_name.values())

    def _warn_unused(self) -> None:
        users = self.graph.users()
        outputs = set(self.graph.outputs())
        for nid, node in self.graph.nodes.items():
            if not users[nid] and nid not in outputs and node.op is not None:
                self.r.warn("W100", f"the output of '{nid}' is never used", node.span,
                            "a later entry reads from elsewhere with `from:`; remove this layer or use it")


def lower(program: Program, reporter: Reporter | None = None, *, overrides: Mapping[str, Any] | None = None,
          input_shape: tuple[int, ...] | None = None, limits: Limits | None = None) -> Graph:
    """Lower a loaded program to a graph with shapes; raise ArchcError on any error."""
    r = reporter or Reporter(sources=dict(program.sources))
    return Lowerer(program, r, overrides=overrides, input_shape=input_shape, limits=limits).run()
