"""Memory: each layer's output, the peak of an inference pass, and a training estimate.

Everything is derived from the graph and each op's own rules (``Op.aliases_input``,
``Op.workspace``, ``Op.saved``); sizes are kept per sample and multiplied out for a
batch and an element size on request, so one analysis serves every ``--batch`` and
``--dtype``. docs/counting.md ("Memory") states the model; in short:

**Inference peak** (eval mode, no autograd). The ops run in the graph's order, which is
the emitted ``forward``'s. An op's output is allocated while its inputs are alive; it
needs no memory when it is a view of its input (flatten, identity, dropout in eval) or
runs in place (what emission makes in place, :mod:`archc.ir.inplace`); temporaries an
op makes (``Op.workspace``, e.g. a max pool's int64 indices) exist only while it runs.
A tensor is freed after its last reader, except where the emitted code still holds it:

- the network's input (held by the caller) and output, never;
- a module's input, not before the module returns (its caller's variable holds it);
- the inputs of a residual or parallel merge, not before the merging module returns
  (``identity`` in a residual block, the branches of a parallel block: variables);
- a point that a ``from:`` entry or a training-only head reads by name, not before the
  module whose forward assigns it returns (its own variable: in eval mode the head does
  not run, but the variable that would feed it stays alive); so does a ``from:`` join of
  named points (``q = r + c``: a variable of its own); ``from: input`` in a block
  reads the block's own input, which the rule above covers (a squeeze-and-excitation
  gate's ``{from: [input, gate], merge: mul}``);
- the main flow's tensor (``x = self.layer(x)``), not before the next statement that
  assigns the flow variable completes: after a statement that assigns a named point
  instead, the previous tensor is still in ``x``; after a ``from:`` merge the flow
  moves to a new variable, and the old one keeps its tensor until the forward returns;
  so does a plain list that reads its own input again (``{from: input}`` midway).

The peak is the largest total of live tensors (the input included, weights excluded)
at any step. Not modelled: allocator rounding and caching, and the workspaces of
convolution and matrix-multiply libraries (cuDNN, MKL).

**Training estimate** = weights + gradients + optimizer state + saved activations, with
weights = (parameters + buffers) × element size, gradients = trainable parameters ×
element size, optimizer state = k × trainable parameters × element size (k: SGD 0, SGD
with momentum 1, Adam 2), and saved activations the distinct tensors autograd keeps
for the backward pass (``Op.saved``; the input batch included), only where a gradient flows:
below the first trainable layer of a network with ``freeze:`` autograd records nothing, so
nothing is saved there, and frozen parameters have no gradient or optimizer state. Everything is in the
one ``--dtype`` (no mixed-precision master copies); transient memory of the backward
pass itself is not included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..ir.graph import Graph, Node
from ..ir.inplace import inplace_nodes
from ..ops.base import Extra

DTYPES = {"fp32": 4, "fp16": 2, "bf16": 2}
DTYPE_NAMES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
OPTIMIZERS = {"sgd": 0, "momentum": 1, "adam": 2}  # state tensors per parameter
OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "SGD with momentum", "adam": "Adam"}


def extra_bytes(extras: tuple[Extra, ...] | list[Extra], batch: int, itemsize: int) -> int:
    return sum(e.elements * (batch if e.per_sample else 1) * (e.itemsize or itemsize) for e in extras)


# One step of an inference pass: (elements per sample of a new output, 0 for a view or an
# in-place op; the op's temporaries; elements per sample freed after it). Plain tuples: a
# big network has thousands, and this runs on `archc table`'s cold path.
_Step = tuple[int, tuple[Extra, ...], int]


class MemoryPlan:
    """What one analysis knows about memory, per sample: call :meth:`inference_peak` and
    :meth:`saved_activations` with a batch and an element size."""

    __slots__ = ("input_elements", "saved_elements", "saved_extras", "steps")

    def __init__(self, input_elements: int, steps: list[_Step], saved_elements: int,
                 saved_extras: tuple[Extra, ...]):
        self.input_elements = input_elements
        self.steps = steps
        self.saved_elements = saved_elements  # activation-dtype elements per sample autograd keeps
        self.saved_extras = saved_extras  # masks, indices, statistics

    def inference_peak(self, batch: int = 1, itemsize: int = 4) -> int:
        """Peak bytes of live tensors during an inference pass (input included, weights excluded)."""
        live = self.input_elements * batch * itemsize
        peak = live
        for alloc, workspace, frees in self.steps:
            live += alloc * batch * itemsize
            peak = max(peak, live + extra_bytes(workspace, batch, itemsize) if workspace else live)
            live -= frees * batch * itemsize
        return peak

    def saved_activations(self, batch: int = 1, itemsize: int = 4) -> int:
        """Bytes autograd keeps for the backward pass of one training step."""
        return self.saved_elements * batch * itemsize + extra_bytes(self.saved_extras, batch, itemsize)


@dataclass(frozen=True)
class MemoryEstimate:
    """The memory figures for one batch size, dtype and optimizer, in bytes."""

    batch: int
    dtype: str
    itemsize: int
    optimizer: str
    inference_peak: int
    weights: int
    gradients: int
    optimizer_state: int
    saved_activations: int

    @property
    def training_total(self) -> int:
        return self.weights + self.gradients + self.optimizer_state + self.saved_activations

    def to_json(self) -> dict[str, object]:
        return {"batch": self.batch, "dtype": self.dtype, "bytes_per_element": self.itemsize,
                "inference_peak_bytes": self.inference_peak,
                "training": {"optimizer": self.optimizer, "weights": self.weights, "gradients": self.gradients,
                             "optimizer_state": self.optimizer_state, "saved_activations": self.saved_activations,
                             "total": self.training_total}}


def _storages(graph: Graph, nodes: list[Node], inplace: set[str], training: bool) -> tuple[dict[str, str],
                                                                                         dict[str, int]]:
    """Node id -> id of the node whose output storage it uses; storage id -> elements per sample."""
    storage = {graph.input: graph.input}
    size = {graph.input: math.prod(graph.input_shape)}
    for n in nodes:
        assert n.op is not None and n.shape is not None
        if n.id in inplace or n.op.aliases_input(n.attrs, training):
            storage[n.id] = storage[n.inputs[0]]
        else:
            storage[n.id] = n.id
            size[n.id] = math.prod(n.shape)
    return storage, size


def plan(graph: Graph) -> MemoryPlan | None:
    """The memory plan of a graph whose shapes are all known (None otherwise)."""
    nodes = [n for n in graph.nodes.values() if n.op is not None]
    if any(n.shape is None or n.in_shapes is None for n in nodes) or graph.output is None:
        return None
    inplace = inplace_nodes(graph)
    saved_elements, saved_extras = _saved(graph, nodes, inplace)
    return MemoryPlan(math.prod(graph.input_shape), _inference_steps(graph, nodes, inplace), saved_elements,
                      saved_extras)


def _points(graph: Graph) -> set[str]:
    """Tensors that a ``from:`` entry or a training-only head reads by name: the emitted forward
    keeps each in a variable of its own."""
    out: set[str] = set()
    for n in graph.nodes.values():
        if n.read_by_name:
            out.add(n.id)
        if n.role == "from":
            # `from: [input, gate]` in a block reads the block's own argument, which its caller
            # holds until the block returns (below), not a variable of the caller's forward
            out.update(src for src in n.inputs if src != _block_input(graph, n.scope))
        if n.training_only:
            out.update(src for src in n.inputs if not graph.nodes[src].training_only)
    return out


def _block_input(graph: Graph, path: tuple[str, ...]) -> str:
    """What ``from: input`` reads in the entry at ``path``: the input of the block around it
    (the entry's own module, even a block, is not around it), or the network's."""
    for k in range(len(path) - 1, 0, -1):
        scope = graph.scopes.get(path[:k])
        if scope is not None and scope.kind == "block":
            return scope.input
    return graph.input


def _statements(graph: Graph) -> dict[tuple[str, ...], list[tuple[str, bool, str]]]:
    """Per module path, its forward's statements in order: (output node id, starts a new flow
    variable, the tensor it reads), i.e. its direct children, training-only heads left out."""
    out: dict[tuple[str, ...], list[tuple[str, bool, str]]] = {}
    for path, item in graph.modules():
        if item.training_only:
            continue
        if isinstance(item, Node):
            out.setdefault(path[:-1], []).append((item.id, False, item.inputs[0] if item.inputs else ""))
        elif item.output is not None:
            out.setdefault(path[:-1], []).append((item.output, item.reads > 0, item.input))
    return out


def _inference_steps(graph: Graph, all_nodes: list[Node], inplace: set[str]) -> list[_Step]:
    run = [n for n in all_nodes if not n.training_only]
    storage, size = _storages(graph, run, inplace, training=False)
    index = {n.id: i for i, n in enumerate(run)}
    end = len(run)
    last: dict[str, int] = {}

    def hold(node_id: str, until: int) -> None:
        if node_id in storage:
            sid = storage[node_id]
            last[sid] = max(last.get(sid, -1), until)

    def returns(path: tuple[str, ...]) -> int:
        """The step after which the module at ``path`` has returned (the network: never)."""
        scope = graph.scopes.get(path)
        return index[scope.output] if path and scope is not None and scope.output in index else end

    for i, n in enumerate(run):  # until the last reader
        hold(n.id, i)
        for src in n.inputs:
            hold(src, i)
    # Python's variables in the emitted forward functions:
    for scope in graph.scopes.values():  # a module's input, held by its caller
        if scope.output in index:
            hold(scope.input, index[scope.output])
    points = _points(graph)
    joined = {n.scope for n in graph.nodes.values() if not n.module and n.role in ("residual", "parallel")}
    for path, statements in _statements(graph).items():
        stop = returns(path)
        scope = graph.scopes.get(path)
        # in a plain list, a statement that reads the list's own input again (`from: input`)
        # leaves the flow: it goes on in the input's variable, and the variable that held the
        # flow keeps its tensor until the forward returns
        again = scope.input if scope is not None and path not in joined else None
        flow: str | None = None  # the tensor in the flow variable (`x = self.conv(x)`)
        for out, new_variable, reads in statements:
            if out in points:  # a variable of its own, until the forward returns
                hold(out, stop)
                continue
            if flow is not None:  # replaced when the next flow statement completes
                left = reads == again and reads != flow
                hold(flow, stop if new_variable or left else index.get(out, stop))
            flow = out
    for n in run:
        if n.role == "from":  # a join of named points has a variable of its own (`q = r + c`)
            hold(n.id, returns(n.scope[:-1]))
        elif not n.module:  # the inputs of a residual or parallel merge: until the merging module returns
            for src in n.inputs:
                hold(src, returns(n.scope))
    hold(graph.input, end)
    hold(graph.output, end)  # type: ignore[arg-type]
    frees = [0] * len(run)
    for sid, i in last.items():
        if i < end:
            frees[i] += size[sid]
    return [(size[n.id] if storage[n.id] == n.id else 0,
             n.op.workspace(n.in_shapes, n.shape, n.attrs), frees[i])  # type: ignore[union-attr,arg-type]
            for i, n in enumerate(run)]


def _saved(graph: Graph, nodes: list[Node], inplace: set[str]) -> tuple[int, tuple[Extra, ...]]:
    storage, size = _storages(graph, nodes, inplace, training=True)
    kept: set[str] = set()
    extras: list[Extra] = []
    grad = _needs_grad(graph, nodes)
    for n in nodes:
        if n.id not in grad:  # autograd records nothing where no input or parameter needs a gradient
            continue
        frozen = graph.is_frozen(n)
        for s in n.op.saved(n.in_shapes, n.shape, n.attrs, n.id in inplace):  # type: ignore[union-attr,arg-type]
            if s.for_weight and frozen:
                continue
            if s.what == "input":
                kept.add(storage[n.inputs[s.index]])
            elif s.what == "output":
                kept.add(storage[n.id])
            elif s.extra is not None:
                extras.append(s.extra)
    return sum(size[sid] for sid in kept), tuple(extras)


def _needs_grad(graph: Graph, nodes: list[Node]) -> set[str]:
    """The nodes whose output requires grad: below the first trainable layer (``freeze:``)
    nothing does, as the input batch does not."""
    out: set[str] = set()
    for n in nodes:  # in the graph's (topological) order
        trainable = n.op is not None and n.in_shapes is not None and not graph.is_frozen(n) \
            and n.op.params(n.in_shapes, n.attrs) > 0
        if trainable or any(i in out for i in n.inputs):
            out.add(n.id)
    return out


def estimate(memory: MemoryPlan | None, *, params: int, buffers: int, trainable: int, batch: int = 1,
             dtype: str = "fp32", optimizer: str = "adam") -> MemoryEstimate | None:
    if memory is None:
        return None
    itemsize = DTYPES[dtype]
    return MemoryEstimate(batch, dtype, itemsize, optimizer, memory.inference_peak(batch, itemsize),
                          (params + buffers) * itemsize, trainable * itemsize,
                          OPTIMIZERS[optimizer] * trainable * itemsize, memory.saved_activations(batch, itemsize))
