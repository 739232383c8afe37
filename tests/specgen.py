"""A hypothesis strategy for *valid* specs that use every construct of the language.

:func:`cases` draws a :class:`Case`: one or more spec files (a main spec, maybe a file it
imports blocks from, maybe a base spec it ``extends``) plus parameter overrides. The
constructs (docs/language.md): blocks with parameters (required, with defaults,
block-typed), inline blocks, ``repeat`` with index expressions (named: a Sequential;
unnamed: spliced; zero times), ``when:`` on groups, named entries, parallel (branches as a
mapping, or as a list whose modules are the enclosing module's), residual,
repeat and ``from:`` containers and on a residual's shortcut, ``from:`` DAGs (of the
network's and of a block's points, and ``input``), ``parallel`` merged by concat, add and mul
(and squeeze-and-excitation gates),
residuals with identity and projection shortcuts (every way of writing one), side heads
with ``train_outputs``, ``imports`` and ``extends``, named and unnamed entries, shared
parameter-free modules, ``init:`` schemes, ``int | pair`` block parameters, and every op.

Validity: the generator makes shape-sensible choices (small images, few channels), and
archc lowers each candidate entry as it is added: an entry that does not lower is left
out, so every drawn case is a valid spec. (The checks that matter compare archc's output
with the oracle and with torch, never with archc's own view of validity.)

Each case carries ``tags``: the constructs its final spec uses, for a coverage meta-test
and for routing the combinations that miscompile today (tests/test_differential.py).
``avoid`` names tags the generator must not produce.

With ``functions=True``, the specs also compute with floats (:data:`FUNCTION_TAGS`): a float
width multiplier ``mult`` of the network and of some blocks, channel counts rounded from it by
``ceil``, ``floor``, ``round``, ``int`` and ``make_divisible``, and drop probabilities and layer
scales computed with ``/``. Without, every draw is what it was before these existed, so the
specs the derandomized tests draw (tests/test_differential.py, tests/ir/test_module_ir.py) stay
the same ones.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

import archc
from archc.diagnostics import ArchcError

# Every construct a spec can use; the coverage test checks the generator reaches each.
TAGS = frozenset({
    "block", "block_default", "block_param", "block_call_in_block", "inline_block", "block_layers",
    "block_residual", "block_parallel", "block_repeat",
    "repeat_named", "repeat_spliced", "repeat_index", "repeat_zero", "repeat_in_block", "repeat_made_name",
    "when_group", "when_group_named", "when_parallel", "when_residual_container", "when_repeat", "when_from",
    "when_false", "when_in_block", "when_shortcut", "when_spliced",
    "from_merge", "from_single", "from_input", "from_in_block", "from_layers",
    "parallel_concat", "parallel_add", "parallel_mul", "from_gate", "layer_scale",
    "parallel_flat", "parallel_flat_nested", "parallel_flat_in_list", "param_int_or_pair", "arg_pair",
    "residual_identity", "residual_projection", "shortcut_named",
    "shortcut_list", "shortcut_call", "residual_then",
    "container_branch", "named_group", "init_norm_no_affine", "norm_after_norm",
    "head", "train_outputs", "imports", "extends", "overrides", "unnamed_shared", "sequential_list",
    "named_call", "group_named", "group_spliced", "init", "classifier", "freeze",
})
# What `cases(functions=True)` adds: the expression functions that make an integer of a number
# (expr_function), a channel count computed with them from a float parameter (float_param: `mult`,
# a width multiplier, as EfficientNet scales its widths), true division (true_division)
FUNCTION_TAGS = frozenset({"expr_function", "float_param", "true_division"})
FUNCTIONS = ("ceil(", "floor(", "round(", "int(", "make_divisible(")
# What `cases(sizes=True)` adds: blocks whose repeat counts and strides are computed from their
# parameters and their input's sizes (so the emitted loops carry symbolic running sizes,
# size_computed), and a named `from: input` under a `when:` in a block, whose output may then be
# its input (size_passed)
SIZE_TAGS = frozenset({"size_computed", "size_passed"})

POINTWISE = ["relu", "relu6", "tanh", "sigmoid", "gelu", "silu", "hardswish", "hardsigmoid", "channel_shuffle(1)",
             "chunk(1, 0)", "leaky_relu(0.1)", "gelu(approximate='tanh')",
             "identity", "lrn(3)", "softmax(dim=1)", "log_softmax(dim=1)"]
# Ops that change the spatial size: pooling, and upsampling (nearest, bilinear, learnt)
RESIZE = ["maxpool(2)", "avgpool(2)", "maxpool(3, stride=2, padding=1, ceil_mode=true)", "adaptive_avgpool([4, 4])",
          "adaptive_maxpool(4)", "upsample(scale_factor=2)", "upsample(scale_factor=1.5, mode='bilinear')",
          "interpolate(size=[5, 7], mode='bilinear', align_corners=true)"]


def channels_last(width: str) -> list[str]:
    """ConvNeXt's block body: a depthwise convolution, then channels-last layer norm and linear
    layers between two permutes."""
    return [f"conv({width}, 3, padding=1, groups={width})", "permute([0, 2, 3, 1])", "layer_norm(eps=1e-6)",
            f"linear({width} * 2)", "gelu", f"linear({width})", "permute([0, 3, 1, 2])"]
NORMS = ("bn", "group_norm", "layer_norm")  # ops with parameters, so named in a named list
# Norms that never fold into the layer before them (no running statistics). Not
# layer_norm2d(affine=false): its channels-last output, needing no gradient at the start of a
# network, crashes a later group_norm's backward in PyTorch (tests/ops/test_issue17_ops.py)
OTHER_NORMS = ["group_norm(1)", "group_norm(2, eps=0.001)", "layer_norm2d(eps=1e-6)", "layer_norm2d()"]
DROPOUT = ["dropout(0.3)", "dropout2d(0.2)", "dropout(0.0)", "dropout", "stochastic_depth(0.3)",
           "stochastic_depth(0.5, mode='batch')", "stochastic_depth(0.0)"]


@dataclass
class Case:
    files: dict[str, str]
    main: str = "spec.yaml"
    overrides: dict[str, Any] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()

    def write(self, root: Path) -> Path:
        """The files in a fresh folder under ``root`` (named by their content); the main spec's path."""
        digest = hashlib.sha256(repr(sorted(self.files.items())).encode()).hexdigest()[:16]
        where = root / digest
        where.mkdir(parents=True, exist_ok=True)
        for name, text in self.files.items():
            (where / name).write_text(text, encoding="utf-8")
        return where / self.main

    def show(self) -> str:
        """All files, for a failure message or a reproducer."""
        parts = [f"# --- {name}\n{text}" for name, text in self.files.items()]
        if self.overrides:
            parts.append(f"# overrides: {self.overrides}")
        return "\n".join(parts)


_WORK = Path(tempfile.mkdtemp(prefix="archc-specgen-"))
atexit.register(shutil.rmtree, _WORK, ignore_errors=True)


def dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1000, allow_unicode=True)


def lowers(files: dict[str, str], main: str, overrides: dict[str, Any] | None = None) -> Any:
    """The graph of the spec, or None where archc refuses it."""
    path = Case(files, main).write(_WORK)
    try:
        return archc.lower(archc.load(path), **(overrides or {}))
    except ArchcError:
        return None


class Gen:
    """One draw: decisions come from ``draw``, so hypothesis can shrink them."""

    def __init__(self, draw: st.DrawFn, avoid: frozenset[str], functions: bool = False, sizes: bool = False):
        self.draw = draw
        self.avoid = avoid
        self.functions = functions  # draw float arithmetic and the expression functions too
        self.sizes = sizes  # draw repeat counts and strides computed from a block's sizes too
        self.counter = 0

    def pick(self, options: list[Any]) -> Any:
        return self.draw(st.sampled_from(options))

    def coin(self, p: float = 0.5) -> bool:
        return self.draw(st.integers(0, 99)) < int(p * 100)

    def num(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def ok(self, *tags: str) -> bool:
        return not any(t in self.avoid for t in tags)

    def fresh(self, prefix: str = "n") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # --- leaves: ops, with channels given as an expression ------------------------------------

    def conv(self, out: str, stride: str = "1") -> str:
        k = self.pick([1, 3])
        extra = ""
        if self.coin(0.2):
            extra += ", bias=false"
        if self.coin(0.1) and k == 3:
            extra += ", padding_mode='reflect'"
        s = "" if stride == "1" else f", stride={stride}"
        return f"conv({out}, {k}{s}, padding={k // 2}{extra})"

    def norm(self) -> str:
        return self.pick(["bn()", "bn()", "bn(eps=0.001)", "bn(affine=false)", "bn(momentum=none)",
                          "bn(track_running_stats=false)"])

    def free_op(self) -> str:
        """A parameter-free op that keeps the shape."""
        return self.pick(POINTWISE + DROPOUT + ["maxpool(3, stride=1, padding=1)",
                                                "avgpool(3, stride=1, padding=1, count_include_pad=false)"])

    def unit(self, out: str, stride: str = "1", *, t: set[str] | None = None, extras: bool = False) -> list[Any]:
        """A short unnamed list (numbered like nn.Sequential): a convolution to ``out`` channels,
        maybe a norm and an op; with ``extras``, maybe a conditional norm and a spliced repeat
        (VGG's features)."""
        items: list[Any] = [self.conv(out, stride)]
        if self.coin(0.5):
            items.append(self.norm())
            if self.coin(0.1):
                items.append(self.norm())  # two in a row: the inference pass must fold only the first
        if self.coin(0.7):
            items.append(self.free_op())
        if extras and t is not None and self.coin(0.4):
            items.append({"when": self.pick(["input.channels % 2 == 0", "true", "false"]), "layers": self.norm()})
            t.add("when_group")
        if extras and t is not None and self.coin(0.4):
            items.append({"repeat": self.num(0, 2), "each": [self.conv(f"{out} + i"), self.free_op()]})
            t |= {"repeat_spliced", "repeat_index"}
        return items

    # --- blocks ----------------------------------------------------------------------------------

    def blocks(self, tags: dict[str, set[str]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in range(self.num(0, 3)):
            name = f"B{k}"
            t: set[str] = {"block"}
            params: dict[str, Any] = {"width": "int"}
            strided = self.coin(0.3)
            if strided:
                params["stride"] = 1
                t.add("block_default")
            flag = self.coin(0.5) and self.ok("when_in_block")
            if flag:
                params["flag"] = self.coin()
                t.add("block_default")
            inner = None
            if out and self.coin(0.4):
                inner = self.pick(sorted(out))
                if self.coin(0.5) and self.ok("block_param"):
                    params["inner"] = inner
                    t |= {"block_param", "block_default"}
                t |= {"block_call_in_block"} | tags[inner]
            kinds = ["layers", "residual", "parallel", "repeat", "inline"]
            kind = self.pick([k for k in kinds if self.ok(f"block_{k}" if k != "inline" else "inline_block")])
            stride = "stride" if strided else "1"
            call_inner = None
            if inner is not None:
                callee = "inner" if "inner" in params else inner
                call_inner = f"{callee}(width)"
            defn: dict[str, Any] = {"params": params}
            if kind in ("layers", "inline"):
                t.add("block_layers" if kind == "layers" else "inline_block")
                if kind == "inline":
                    defn["inline"] = True
                named = kind == "layers" and self.coin(0.7)
                width = "width"
                if self.functions and k != 1:  # a width scaled by a float parameter, rounded in the block's class
                    # (decided by values already drawn: another draw would shift the derandomized stream)
                    params["mult"] = (1.5, 0.5, 1.25)[k]
                    width = ("make_divisible(width * mult, 2)", "ceil(width * mult)",
                             "max(round(width / mult), 1)", "int(width * mult) + 1")[(k + int(named)) % 4]
                    t.add("block_default")
                defn["layers"] = self.block_layers(stride, flag, call_inner, t, named=named, width=width)
                if named and self.ok("param_int_or_pair"):
                    # sizes typed `int | pair` (Inception-v3's BasicConv2d), passed on to a convolution;
                    # callers give a square or a factorised kernel (see entry)
                    params["k"] = "int | pair = 3"
                    params["pad"] = "int | pair = 1"
                    defn["layers"].insert(1, {"cp": "conv(width, k, padding=pad)"})
                    t.add("param_int_or_pair")
            elif kind == "residual":
                t.add("block_residual")
                defn["residual"] = self.residual_body("width", stride, flag, call_inner, t)
            elif kind == "parallel":
                t.add("block_parallel")
                merge = self.pick(["concat", "add", "mul"])
                branches = {"p1": self.unit("width", stride), "p2": self.conv("width", stride)}
                if call_inner and stride == "1":
                    branches["p3"] = call_inner
                if flag and self.ok("when_parallel") and self.ok("container_branch"):
                    branches["p4"] = {"when": "flag", "layers": self.unit("width", stride)}
                    t |= {"when_in_block", "when_parallel", "container_branch"}
                if merge == "concat" and "p4" not in branches and self.ok("parallel_flat"):
                    # by values already drawn (another draw would shift the derandomized stream): the
                    # branches as a list, their modules the block's own, one of them split in two
                    # side by side as Inception-v3's InceptionE does
                    flat: list[Any] = [{"p1": branches["p1"]},
                                       {"layers": [{"p2": branches["p2"]}, "relu",
                                                   {"parallel": [{"p2a": "conv(width, [1, 3], padding=[0, 1])"},
                                                                 {"p2b": "conv(width, [3, 1], padding=[1, 0])"}]}]}]
                    if "p3" in branches:
                        flat.append({"p3": branches["p3"]})
                    branches = flat  # type: ignore[assignment]
                    t |= {"parallel_flat", "parallel_flat_nested", "arg_pair"}
                defn["parallel"] = branches
                if merge != "concat" or self.coin(0.5):
                    defn["merge"] = merge
                t.add(f"parallel_{merge}")
            else:
                t |= {"block_repeat", "repeat_index", "repeat_in_block"}
                if call_inner is not None:
                    each = call_inner
                else:
                    # the index changes the kernel, not the shape, so any caller's shapes still fit
                    s = ", stride=stride if i == 0 else 1" if strided else ""
                    if self.sizes and not strided:  # the stride of each copy from the running input's sizes
                        s = ", stride=1 + input.channels % 2 + input.height % 2 * i"
                        t.add("size_computed")
                    each = [f"conv(width, 1 + 2 * (i % 2){s}, padding=i % 2)", self.free_op()]
                defn["repeat"] = self.pick([1, 2, "1 + width % 2"])
                if self.sizes and defn["repeat"] == 2:  # a count of the input's sizes, maybe 0
                    defn["repeat"] = "input.height % 3"
                    t.add("size_computed")
                # each copy's module named from the index (an nn.Sequential built with add_module), decided
                # by a value already drawn: another draw would shift the derandomized stream
                if self.ok("repeat_made_name") and defn["repeat"] == "1 + width % 2":
                    first, *rest = each if isinstance(each, list) else [each]
                    each = [{"layer{i + 1}": first}, *rest]
                    t.add("repeat_made_name")
                defn["each"] = each
            out[name] = defn
            tags[name] = t
        return out

    def block_layers(self, stride: str, flag: bool, call_inner: str | None, t: set[str], named: bool,
                     width: str = "width") -> list[Any]:
        """A block's ``layers``: named (module mode) or not (a Sequential's numbering); the first
        convolution has ``width`` channels."""
        items: list[Any] = []
        first = self.unit(width, stride, t=t, extras=not named)
        if named:
            items.append({"c1": first[0]})
            items += [{"n1": x} if x.startswith(NORMS) else x for x in first[1:]]
        else:
            items += first
        if call_inner is not None:
            items.append({"sub": call_inner} if named else call_inner)
        if flag:
            t |= {"when_in_block", "when_group"} | ({"when_spliced"} if named else set())
            group = {"when": self.pick(["flag", "not flag"]), "layers": [self.norm() if not named else self.free_op()]}
            items.append(group)
        if named and self.coin(0.3):
            # a parameter of the block; its initial value may be a quotient of the block's parameter
            quotient = ["layer_scale(1 / (width + 1))"] if self.functions else []
            items.append({"scale": self.pick(["layer_scale(0.5)", "layer_scale", *quotient])})
            t.add("layer_scale")
        if named and stride == "1" and self.coin(0.7) and self.ok("from_in_block"):
            # a block's own points and its input: `from: [input, c1]` (the shape is kept: width channels)
            merge = self.pick(["concat", "add", "mul"])
            ref = {"from": ["input", "c1"], "merge": merge}
            if merge == "add":
                items.insert(1, {"fit": "conv(input.channels, 1)"})
                ref["from"] = ["input", "fit"]
            elif merge == "mul":  # a squeeze-and-excitation gate on the block's input
                items.append({"gate": ["adaptive_avgpool(1)", "conv(input.channels, 1)", "hardsigmoid"]})
                ref["from"] = ["input", "gate"]
                t.add("from_gate")
            t |= {"from_in_block", "from_input", "from_merge"}
            if flag and self.coin(0.5) and self.ok("when_from"):
                ref["when"] = "flag"
                t.add("when_from")
            items.append({"joined": ref})
        if named and self.coin(0.3):
            items.append(self.free_op())
            t.add("unnamed_shared")
        if self.sizes and named and self.coin(0.6):
            # the block's output is its input where the condition holds: the class's output sizes
            # are a choice between its input's and its body's
            cond = self.pick(["flag", "not flag"]) if flag else self.pick(["input.channels % 2 == 0", "width > 2"])
            items.append({"back": {"from": "input", "when": cond}})
            if self.coin(0.5):
                items.append({"c2": f"conv({width}, 1)"})
            t.add("size_passed")
        return items

    def residual_body(self, width: str, stride: str, flag: bool, call_inner: str | None, t: set[str]) -> dict:
        """A residual; without a projection the body keeps the shape (the identity shortcut)."""
        projection = self.coin(0.7)
        if not projection:
            width, stride = "input.channels", "1"
        body: list[Any] = [{"conv1": self.conv(width, stride)}]
        if self.coin(0.6):
            body.append({"bn1": self.norm()})
        body.append(self.pick(["relu", "relu", "silu", "dropout(0.2)"]))
        if call_inner is not None and projection:
            body.append({"inner_call": call_inner.replace("(width)", f"({width})")})
        res: dict[str, Any] = {"body": body}
        if projection:
            how = self.pick([k for k in ("named", "list", "call") if self.ok(f"shortcut_{k}")])
            s = "" if stride == "1" else f", stride={stride}"
            proj = f"conv({width}, 1{s}, bias=false)"
            if how == "named":
                res["shortcut"] = {"downsample": [proj, self.norm()]}
            elif how == "list":
                res["shortcut"] = [proj, self.norm()]
            else:
                res["shortcut"] = proj
            t |= {f"shortcut_{how}", "residual_projection"}
            if self.coin(0.4) and self.ok("when_shortcut"):
                # ResNet's condition: the projection exactly where the body changes the shape
                res["when"] = f"{stride} != 1 or input.channels != {width}"
                t.add("when_shortcut")
        else:
            t.add("residual_identity")
        if self.coin(0.6):
            res["then"] = self.pick(["relu", "leaky_relu(0.1)", "identity"])
            t.add("residual_then")
        return res

    # --- the network -------------------------------------------------------------------------------------

    def arg_expr(self, net: dict[str, Any]) -> str:
        """A channel count: a literal or an expression of the network's parameters."""
        options = [str(self.num(1, 6))]
        if "width" in net:
            options += ["width", "width + 1", "width * 2", "max(width - 1, 1)"]
            if self.functions:
                options += ["ceil(width / 2)", "floor(width * 1.5)", "make_divisible(width * mult, 2)",
                            "ceil(width * mult)", "round(width * mult) + 1", "int(width / mult) + 1",
                            "make_divisible(width * 3, 4, 8)"]
        return self.pick(options)

    def condition(self, net: dict[str, Any]) -> str:
        options = ["true", "false", "input.channels % 2 == 0", "input.height > 4"]
        if "flag" in net:
            options += ["flag", "not flag", "depth > 0 and flag"]
        return self.pick(options)

    def entry(self, ctx: Ctx) -> tuple[Any, set[str], bool]:
        """One top-level candidate: (YAML item, tags, is_head)."""
        kinds = ["op", "op", "free", "list", "block", "block", "parallel", "residual", "repeat", "group", "from",
                 "head", "head", "downsample"]
        kind = self.pick(kinds)
        name = self.fresh()
        w = self.arg_expr(ctx.net)
        t: set[str] = set()
        when = self.condition(ctx.net) if self.coin(0.25) else None
        if when == "false":
            t.add("when_false")
        if kind == "op":
            t.add("named_call")
            return {name: self.pick([self.conv(w), self.norm(), self.free_op(), "pad([1, 1, 0, 0, 0, 2])", *OTHER_NORMS,
                                     "conv(" + w + ", 3, padding='same', dilation=2)"])}, t, False
        if kind == "free":
            t.add("unnamed_shared")
            # a drop probability computed as a quotient of the network's parameters
            computed = ["dropout(0.5 / (width + 1))", "stochastic_depth(mult / 4)"] if "mult" in ctx.net else []
            return self.pick(["relu", "relu", "dropout(0.3)", "tanh", "identity", *computed]), t, False
        if kind == "downsample":
            t.add("named_call")
            return {name: self.pick([*RESIZE, self.conv(w, "2"), f"conv_transpose({w}, 2, stride=2)",
                                     f"conv_transpose({w}, 3, stride=2, padding=1, output_padding=1, bias=false)",
                                     f"conv_transpose({w}, 3, padding=1)"])}, t, False
        if kind == "list":
            t.add("sequential_list")
            if self.coin(0.2):  # the body of a ConvNeXt block: channels-last between two permutes
                return {name: channels_last(w)}, t, False
            return {name: self.unit(w, t=t, extras=True)}, t, False
        if kind == "block":
            if not ctx.blocks:
                return {name: self.conv(w)}, {"named_call"}, False
            b = self.pick(sorted(ctx.blocks))
            t |= {"block"} | ctx.block_tags[b]
            args = [w]
            defn = ctx.blocks[b]
            if "stride" in defn["params"] and self.coin(0.5):
                args.append(f"stride={self.pick([1, 2])}")
            if "flag" in defn["params"] and self.coin(0.5):
                args.append(f"flag={self.pick(['true', 'false', 'flag'] if 'flag' in ctx.net else ['true', 'false'])}")
            if "k" in defn["params"] and w.isdigit():  # by the width already drawn: 1×3 or 3×1 when odd
                args.append("k=[1, 3], pad=[0, 1]" if int(w) % 2 else "k=[3, 1], pad=[1, 0]")
                t.add("arg_pair")
            if "inner" in defn["params"] and self.coin(0.5):
                others = [o for o in sorted(ctx.blocks) if o != b and "inner" not in ctx.blocks[o]["params"]
                          and "inline" not in ctx.blocks[o]]
                if others:
                    other = self.pick(others)
                    args.append(f"inner={other}")
                    t |= ctx.block_tags[other]
            call = f"{b}({', '.join(args)})"
            if "inline" in defn:
                # spliced into a list numbered like nn.Sequential (VGG's features)
                return {name: [call, f"{b}({w})"] if self.coin(0.5) else [call]}, t, False
            return {name: call}, t, False
        if kind == "parallel":
            merge = self.pick(["concat", "add", "mul"])
            t.add(f"parallel_{merge}")
            branches: dict[str, Any] = {"a": self.unit(w, t=t), "b": self.conv(w)}
            modules = sorted(b for b in ctx.blocks if "inline" not in ctx.blocks[b])
            if self.coin(0.3) and modules:
                blk = self.pick(modules)
                branches["c"] = f"{blk}({w})"
                t |= ctx.block_tags[blk]
            if self.coin(0.3) and self.ok("container_branch"):
                branches["d"] = {"when": self.condition(ctx.net), "layers": [self.conv(w)]}
                t |= {"when_group_named", "container_branch"}
            if merge == "concat" and "c" not in branches and "d" not in branches and self.ok("parallel_flat"):
                # by values already drawn: the branches as a list, their modules this list's own (an
                # unnamed entry; where this list numbers its entries the spec is an error, left out)
                flat = [{f"{name}a": branches["a"]}, {"layers": [{f"{name}b": branches["b"]}, "relu"]}]
                value = {"parallel": flat}
                self.coin(0.5)  # the draw the mapping form makes below: the stream stays as it was
                if when:
                    value["when"] = when
                    t.add("when_parallel")
                t |= {"parallel_flat", "parallel_flat_in_list"}
                return value, t, False
            value: dict[str, Any] = {"parallel": branches}
            if merge != "concat" or self.coin(0.5):
                value["merge"] = merge
            if when:
                value["when"] = when
                t.add("when_parallel")
            return {name: value}, t, False
        if kind == "residual":
            stride = self.pick(["1", "2"])
            res = self.residual_body(w, stride, False, None, t)
            value = {"residual": res}
            if when:
                value["when"] = when
                t.add("when_residual_container")
            return {name: value}, t, False
        if kind == "repeat":
            count = self.pick([0, 1, 2, 3, "depth"] if "depth" in ctx.net else [0, 1, 2, 3])
            t |= {"repeat_zero"} if count == 0 else set()
            index = self.pick(["i", "j"])
            if self.coin(0.3):
                # unnamed: spliced into this list, whose layers need names unless parameter-free (shared)
                value = {"repeat": count, "each": [self.free_op(), self.free_op()]}
                t |= {"repeat_spliced", "unnamed_shared"}
            else:
                t |= {"repeat_named", "repeat_index"}
                each: Any = [self.conv(f"{w} + {index}"), self.free_op()]
                modules = sorted(b for b in ctx.blocks if "inline" not in ctx.blocks[b])
                if modules and self.coin(0.4):
                    blk = self.pick(modules)
                    each = f"{blk}({w} + {index} * 2)"
                    t |= ctx.block_tags[blk]
                if self.ok("repeat_made_name") and index == "j":  # by a value already drawn, as above
                    first, *rest = each if isinstance(each, list) else [each]
                    each = [{f"c{{{index} + 1}}-{{{index}}}": first}, *rest]  # '-' joins pieces: c1-0, c2-1
                    t.add("repeat_made_name")
                value = {"repeat": count, "each": each}
            if index != "i":
                value["index"] = index
            if when:
                value["when"] = when
                t.add("when_repeat")
                if "repeat_spliced" in t:
                    t.add("when_spliced")
            return (value if "repeat_spliced" in t else {name: value}), t, False
        if kind == "group":
            if self.coin(0.5):
                t.add("group_spliced")
                value = {"layers": [{f"{name}a": self.conv(w)}, self.free_op()]}
                if when:
                    value["when"] = when
                    t |= {"when_group", "when_spliced"}
                return value, t, False
            t |= {"group_named", "named_group"}
            value = {"layers": self.unit(w, t=t)}
            if when:
                value["when"] = when
                t.add("when_group_named")
            return {name: value}, t, False
        if kind == "from":
            by_size: dict[tuple[int, ...], list[str]] = {}
            for p, shape in sorted(ctx.points.items()):
                by_size.setdefault(shape[1:], []).append(p)
            group = by_size[self.pick(sorted(by_size))]
            refs = self.draw(st.lists(st.sampled_from(group), min_size=1, max_size=3))
            value = {"from": refs[0] if len(refs) == 1 else refs}
            t.add("from_single" if len(refs) == 1 else "from_merge")
            t |= {"from_input"} if "input" in refs else set()
            if len(refs) > 1:
                same = len({ctx.points[r] for r in refs}) == 1
                value["merge"] = self.pick(["concat", "add", "mul"] if same else ["concat"])
            if self.coin(0.6):
                value["layers"] = self.unit(w, t=t)
                t |= {"from_layers", "named_group"}
            if when:
                value["when"] = when
                t.add("when_from")
            return {name: value}, t, False
        # a side head, from a named point
        ref = self.pick(sorted(ctx.points))
        t.add("head")
        value = {"from": ref, "training_only": True,
                 "layers": [*self.unit(w, t=t), "adaptive_avgpool(1)", "flatten", f"linear({self.num(1, 4)})"]}
        return {f"aux{name}": value}, t, True


@dataclass
class Ctx:
    net: dict[str, Any]
    blocks: dict[str, Any]
    block_tags: dict[str, set[str]]
    points: dict[str, tuple[int, ...]]
    shape: tuple[int, ...]


def _output_shape(graph: Any) -> tuple[int, ...]:
    return graph.nodes[graph.output].shape


def graph_tags(graph: Any) -> set[str]:
    """Tags that only the expanded network shows: ``norm_after_norm``, a batch norm whose input
    is a batch norm, dropout between them aside (what the inference pass folds twice)."""
    nodes = graph.nodes

    def producer(nid: str) -> Any:
        node = nodes[nid]
        while node.op is not None and node.op.family == "dropout":
            node = nodes[node.inputs[0]]
        return node

    for node in nodes.values():
        if node.op is not None and node.op.family == "norm" and node.op.name != "lrn":
            before = producer(node.inputs[0])
            if before.op is not None and before.op.name == node.op.name:
                return {"norm_after_norm"}
    return set()


@st.composite
def cases(draw: st.DrawFn, avoid: frozenset[str] = frozenset(), functions: bool = False,
          sizes: bool = False) -> Case:
    """A valid spec (see the module docstring) that uses none of the constructs in ``avoid``; with
    ``functions``, one that may compute with floats and the expression functions; with ``sizes``,
    one whose blocks may compute repeat counts and strides from their input's sizes (SIZE_TAGS)."""
    g = Gen(draw, avoid, functions, sizes)
    channels = g.num(1, 4)
    size = g.pick([6, 8])
    net: dict[str, Any] = {}
    if g.coin(0.7):
        net = {"width": g.num(2, 5), "flag": g.coin(), "depth": g.num(0, 2)}
        if functions:  # a width multiplier (from a value drawn already)
            net["mult"] = (0.5, 1.0, 1.25, 1.6)[net["width"] % 4]
    block_tags: dict[str, set[str]] = {}
    blocks = g.blocks(block_tags)
    doc: dict[str, Any] = {"archc": 1, "name": "gen", "input": [channels, size, size]}
    if net:
        doc["params"] = net
    if g.coin(0.3) and g.ok("init"):
        doc["init"] = {"conv": g.pick(["kaiming_normal_fan_out", "xavier_uniform", "trunc_normal"]),
                       "linear": g.pick(["normal", "xavier_uniform"]), "std": 0.02}
        if g.coin(0.5):
            doc["init"]["norm"] = "ones_zeros"
    files: dict[str, str] = {}
    lib = sorted(blocks)[: g.num(0, len(blocks))] if blocks and g.coin(0.3) and g.ok("imports") else []
    tags: set[str] = set()
    if lib:
        # blocks only use earlier blocks, so a prefix of them can live in a file of their own
        # (an imported file is a spec of its own, so it has an input and layers)
        files["_lib.yaml"] = dump({"archc": 1, "name": "lib", "input": [1, 4, 4],
                                   "blocks": {b: blocks[b] for b in lib}, "layers": ["identity"]})
        doc["imports"] = [{"from": "_lib.yaml", "blocks": lib}]
    own = {b: d for b, d in blocks.items() if b not in lib}
    if own:
        doc["blocks"] = own
    layers: list[Any] = []
    ctx = Ctx(net, blocks, block_tags, {"input": (channels, size, size)}, (channels, size, size))
    heads: list[str] = []

    def attempt(*items: Any) -> Any:
        files["spec.yaml"] = dump({**doc, "layers": [*layers, *items]})
        return lowers(files, "spec.yaml")

    for _ in range(g.num(1, 6)):
        item, t, head = g.entry(ctx)
        if any(x in avoid for x in t):
            continue
        graph = attempt(item)
        if graph is None:
            continue
        layers.append(item)
        tags |= t
        if head:
            heads.append(next(iter(item)))
            continue
        ctx.shape = _output_shape(graph)
        if isinstance(item, dict) and len(item) == 1 \
                and next(iter(item)) not in ("layers", "repeat", "from", "parallel") \
                and not any(k in item for k in ("when",)):
            ctx.points[next(iter(item))] = ctx.shape
    if not layers:
        layers.append("identity")
    if g.coin(0.5):
        tail = ["adaptive_avgpool(1)", "flatten", {"fc": f"linear({g.num(1, 5)})"}]
        if g.coin(0.5):
            tail[2:2] = [{"hidden": "linear(6)"}, g.pick([{"hidden_bn": "bn1d()"}, {"hidden_ln": "layer_norm()"}]),
                         g.pick(["relu", "gelu", "dropout(0.5)"])]
        if attempt(*tail) is not None:
            layers += tail
            tags.add("classifier")
    if len(heads) == 1 and g.coin(0.5):
        second = {"aux_input": {"from": "input", "training_only": True,
                                "layers": ["adaptive_avgpool(1)", "flatten", f"linear({g.num(1, 3)})"]}}
        if attempt(second) is not None:
            layers.append(second)
            heads.append("aux_input")
    if len(heads) >= 2 and g.coin(0.5) and g.ok("train_outputs"):
        doc["train_outputs"] = list(reversed(heads))
        tags.add("train_outputs")
    if "norm" in doc.get("init", {}) and any("affine=false" in text for text in [*files.values(), dump(layers)]):
        tags.add("init_norm_no_affine")
        if "init_norm_no_affine" in avoid:
            del doc["init"]["norm"]
            tags.discard("init_norm_no_affine")
    files["spec.yaml"] = dump({**doc, "layers": layers})
    graph = lowers(files, "spec.yaml")
    assert graph is not None, Case(files).show()
    tags |= graph_tags(graph)
    tags |= {f"op:{n.op.name}" for n in graph.nodes.values() if n.op is not None}
    if "init" in doc:
        tags.add("init")
    named = [next(iter(x)) for x in layers if isinstance(x, dict) and len(x) == 1
             and next(iter(x)) not in ("layers", "repeat", "from", "parallel", "residual", "when")]
    if named and g.coin(0.25) and g.ok("freeze"):
        # freeze a named entry (an error if it holds no parameters: then the spec goes without)
        frozen = {"modules": [g.pick(named)], "norms": g.pick(["eval", "train"])}
        files["spec.yaml"] = dump({**doc, "layers": layers, "freeze": frozen})
        if lowers(files, "spec.yaml") is not None:
            tags.add("freeze")
        else:
            files["spec.yaml"] = dump({**doc, "layers": layers})
    if lib:
        tags.add("imports")
    case = Case(dict(files), "spec.yaml", tags=frozenset(tags))
    if net and g.coin(0.3) and g.ok("extends"):
        # a variant of this spec: another name and input, other parameter defaults
        variant: dict[str, Any] = {"archc": 1, "extends": "base.yaml", "name": "variant"}
        options = {"width": g.num(1, 4), "flag": g.coin(), "depth": g.num(0, 2)}
        if functions:
            options["mult"] = g.pick([0.75, 1.5])
        changed = {k: v for k, v in options.items() if g.coin(0.5)}
        if changed:
            variant["params"] = changed
        if g.coin(0.3):
            variant["input"] = [channels, size + 2, size + 2]
        trial = {**{k: v for k, v in files.items() if k != "spec.yaml"}, "base.yaml": files["spec.yaml"],
                 "spec.yaml": dump(variant)}
        if lowers(trial, "spec.yaml") is not None:
            case = Case(trial, "spec.yaml", tags=frozenset(tags | {"extends"}))
    if net and g.coin(0.2) and g.ok("overrides"):
        overrides = {k: v for k, v in {"width": g.num(1, 4), "flag": g.coin()}.items() if g.coin(0.6)}
        if overrides and lowers(case.files, case.main, overrides) is not None:
            case.overrides = overrides
            case.tags = case.tags | {"overrides"}
    case.tags = case.tags | graph_tags(lowers(case.files, case.main, case.overrides)) | text_tags(case.files)
    return case


def text_tags(files: dict[str, str]) -> set[str]:
    """The expression features the spec's text uses: the functions, a float parameter computed with,
    true division."""
    text = "\n".join(files.values())
    out = set()
    if any(f in text for f in FUNCTIONS):
        out.add("expr_function")
    if "* mult" in text or "/ mult" in text or "(mult /" in text:
        out.add("float_param")
    if " / " in text:
        out.add("true_division")
    return out

