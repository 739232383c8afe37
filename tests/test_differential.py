"""Differential fuzzing: generated specs run in ``build()`` exactly as the oracle runs their IR.

tests/specgen.py draws valid specs that use every construct of the language; for each,
:func:`tests.emit.agreement.agree` checks the built network against the oracle
(tests/oracle.py) in eval and train mode, the table's parameters and MACs against torch,
and the inference variant against the plain network. The random networks of
tests/test_property.py are checked the same way.

CI runs ``ARCHC_DIFFERENTIAL_EXAMPLES`` generated specs (default 300), the same ones every run;
to explore new ones: ``ARCHC_DIFFERENTIAL_RANDOM=1 ARCHC_DIFFERENTIAL_EXAMPLES=5000 pytest
tests/test_differential.py``.

Some constructs used to miscompile (issue 13): each has a minimal reproducer (shrunk by
hypothesis, then by hand) in ``REPRODUCERS``, a regression test now that emission prints the
module IR.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

import archc

from .emit.agreement import BuildFails, CountsDiffer, Disagreement, EvalDiffers, InferenceDiffers, agree
from .specgen import FUNCTION_TAGS, SIZE_TAGS, TAGS, Case, cases
from .test_property import networks

EXAMPLES = int(os.environ.get("ARCHC_DIFFERENTIAL_EXAMPLES", "300"))

def check(case: Case, root: Path) -> None:
    path = case.write(root)
    try:
        agree(archc.load(path), **case.overrides)
    except Disagreement as err:
        raise type(err)(f"{err}\n{case.show()}") from err


# CI draws the same specs every run (derandomized), so that it never fails on a spec a previous run did
# not draw; ARCHC_DIFFERENTIAL_RANDOM=1 explores new ones (with ARCHC_DIFFERENTIAL_EXAMPLES=5000, say).
RANDOM = bool(os.environ.get("ARCHC_DIFFERENTIAL_RANDOM") or os.environ.get("ARCHC_HYPOTHESIS_RANDOM"))
# Shrinking a failure to a minimal spec can take hypothesis five minutes and more, which pushed CI past
# its time: CI reports the drawn spec as it is; ARCHC_DIFFERENTIAL_SHRINK=1 (or a random run) shrinks.
PHASES = [p for p in Phase if p is not Phase.shrink or RANDOM or os.environ.get("ARCHC_DIFFERENTIAL_SHRINK")]


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, derandomize=not RANDOM, phases=PHASES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@_settings(EXAMPLES)
@given(cases())
def test_generated_specs_agree_with_the_oracle(tmp_path_factory: pytest.TempPathFactory, case: Case) -> None:
    check(case, tmp_path_factory.getbasetemp() / "differential")


@_settings(max(EXAMPLES // 3, 10))
@given(cases(functions=True))
def test_generated_specs_with_float_arithmetic_agree_with_the_oracle(tmp_path_factory: pytest.TempPathFactory,
                                                                     case: Case) -> None:
    """Specs that also compute with floats: widths scaled by a float multiplier (the network's and a
    block's) and rounded by ceil, floor, round, int and make_divisible, drop probabilities and layer
    scales computed with `/`. The emitted classes compute them in Python (math, torchvision's
    _make_divisible), the oracle runs the graph archc's evaluator computed: they must agree. A draw of
    its own (tests/specgen.py), so the specs the test above draws stay the ones it always drew."""
    check(case, tmp_path_factory.getbasetemp() / "differential_functions")


@_settings(max(EXAMPLES // 3, 10))
@given(cases(sizes=True))
def test_generated_specs_with_computed_sizes_agree_with_the_oracle(tmp_path_factory: pytest.TempPathFactory,
                                                                   case: Case) -> None:
    """Specs whose blocks compute repeat counts and strides from their input's sizes, and whose output
    may be their input (a `from: input` under a `when:`): the emitted loops carry running sizes that
    read each other, and a class's output sizes choose between its input's and its body's. A random
    run of such blocks found five miscompiles (the reproducers running_width_read_through_a_later_repeat
    to input_read_after_a_guarded_reference_to_it); a draw of its own, so the specs the tests above
    draw stay the ones they always drew."""
    check(case, tmp_path_factory.getbasetemp() / "differential_sizes")


@_settings(max(EXAMPLES // 6, 10))
@given(networks())
def test_property_networks_agree_with_the_oracle(case: tuple[str, Any, tuple[int, ...]]) -> None:
    spec, _, _ = case
    agree(archc.load("generated.yaml", text=spec))


@settings(max_examples=300, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(cases())
def _draw(case: Case) -> None:
    _SEEN.update(case.tags)


_SEEN: set[str] = set()


@settings(max_examples=100, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(cases(functions=True))
def _draw_functions(case: Case) -> None:
    _SEEN_FUNCTIONS.update(case.tags)


_SEEN_FUNCTIONS: set[str] = set()


@settings(max_examples=300, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(cases(sizes=True))
def _draw_sizes(case: Case) -> None:
    _SEEN_SIZES.update(case.tags)


_SEEN_SIZES: set[str] = set()


def test_the_generator_draws_computed_sizes() -> None:
    """With sizes=True, the generator draws sizes computed from a block's input and blocks that pass
    their input on; without, neither."""
    _SEEN_SIZES.clear()
    _draw_sizes()
    assert not SIZE_TAGS - _SEEN_SIZES, f"never drawn: {sorted(SIZE_TAGS - _SEEN_SIZES)}"
    _SEEN.clear()
    _draw()
    assert not SIZE_TAGS & _SEEN, "the plain draw computes sizes: its specs would have changed"


def test_the_generator_draws_float_arithmetic() -> None:
    """With functions=True, the generator draws the expression functions, a float multiplier computed
    with, and true division; without, none of them."""
    _SEEN_FUNCTIONS.clear()
    _draw_functions()
    assert not FUNCTION_TAGS - _SEEN_FUNCTIONS, f"never drawn: {sorted(FUNCTION_TAGS - _SEEN_FUNCTIONS)}"


def test_the_generator_uses_every_construct() -> None:
    """Over a fixed run of the generator (no building: only drawing), every construct appears, and
    every op of issue 17's second batch (an entry that does not lower is left out silently, so a
    listed op could otherwise never reach the oracle)."""
    _SEEN.clear()
    _draw()
    assert not TAGS - _SEEN, f"constructs the generator never drew: {sorted(TAGS - _SEEN)}"
    assert not FUNCTION_TAGS & _SEEN, "the plain draw computes with floats: its specs would have changed"
    ops = {t.removeprefix("op:") for t in _SEEN if t.startswith("op:")}
    wanted = {"group_norm", "layer_norm", "layer_norm2d", "permute", "upsample", "conv_transpose", "chunk"}
    assert not wanted - ops, f"ops the generator never drew: {sorted(wanted - ops)}"


# --- the miscompiles the fuzzer found (issue 13), minimal, now regression tests ---------------------

REPRODUCERS = [
    ("when_group_in_named_list", """
archc: 1
name: g
input: [2, 6, 6]
layers:
  - n1: bn()
  - {when: true, layers: [n2: conv(5, 3, padding=1)]}
  - n3: conv(4, 1)
""", CountsDiffer, "an unnamed `when:` group in a list of named layers is dropped from the module even where "
                   "the condition is true (n2 missing; n3 built for 2 input channels); the table counts it"),
    ("when_repeat_in_named_list", """
archc: 1
name: g
input: [2, 6, 6]
layers:
  - n1: conv(3, 1)
  - {repeat: 2, each: [sigmoid], when: true}
  - n2: conv(4, 1)
""", EvalDiffers, "an unnamed repeat with `when:` in a list of named layers is dropped from forward"),
    ("when_on_from", """
archc: 1
name: g
input: [2, 8, 8]
layers:
  - a: conv(4, 1)
  - b: {from: a, when: true}
""", BuildFails, "`when:` on a `from:` container: compile fails with E720 at 1:1 (issue 13 repro 3)"),
    ("container_as_branch", """
archc: 1
name: g
input: [2, 8, 8]
layers:
  - p: {parallel: {a: conv(4, 1), b: {layers: [conv(4, 1)]}}}
""", BuildFails, "a parallel branch written as a container (`{layers: ...}`, `{when: ..., layers: ...}`) "
                 "validates and counts, then compile fails with E720 'containers as branches' at 1:1"),
    ("named_group_in_inference", """
archc: 1
name: g
input: [2, 6, 6]
layers:
  - n1: {layers: [conv(3, 1), relu]}
  - n2: conv(4, 1)
""", InferenceDiffers, "the inference variant drops a named `{layers: ...}` container (n1), so the plain "
                       "state_dict does not load (issue 13 repro 2)"),
    ("named_from_in_inference", """
archc: 1
name: g
input: [2, 6, 6]
layers:
  - n0: conv(2, 1)
  - n1: {from: n0, layers: [conv(3, 1)]}
  - n2: conv(4, 1)
""", InferenceDiffers, "the inference variant drops a named `{from: ..., layers: ...}` entry and rewires n2 to "
                       "n0 (issue 13 repro 2)"),
    ("block_size_read_through_parallel", """
archc: 1
name: g
input: [1, 6, 6]
blocks:
  B:
    params: {width: int}
    repeat: 1
    each: [conv(width, 1)]
layers:
  - n2: {parallel: {b: conv(1, 1), c: B(1)}, merge: concat}
  - flatten
  - fc: bn1d()
""", BuildFails, "a layer sized by a block's output that sits in a parallel branch (the branches' class builds "
                 "it): compile fails with E720 'no variable holds _output_v2_0'; found by the generator once "
                 "`mul` merges joined it"),
    ("shared_use_after_dead_code", """
archc: 1
name: g
input: [1, 6, 6]
blocks:
  B:
    params: {width: int}
    layers:
      - c1: conv(width, 1, bias=false)
      - relu
      - scale: layer_scale(0.5)
      - joined: {from: [input, c1], merge: concat}
      - relu
layers:
  - n3: B(1)
""", InferenceDiffers, "a shared relu's second use survives the inference pass while its first (dead code) "
                       "goes: the concrete pass kept the id 'relu#1', the graph of the rewritten IR numbers it "
                       "'relu' (E720 'nodes differ')"),
    ("shared_name_in_empty_repeat", """
archc: 1
name: gen
input: [1, 6, 6]
params: {width: 2}
layers:
- repeat: 0
  each:
  - relu
  - dropout(0.0)
  when: 'true'
- n2: conv(1, 1, padding=0, bias=false)
- dropout(0.3)
""", BuildFails, "a shared op in a repeat of 0 of a list of named entries: the module IR names it once as "
                 "written (`dropout`, so the later dropout(0.3) is `dropout_1`), lowering never ran it and named "
                 "the later one `dropout`: E720 'node ids differ' (found by a random generator run)"),
    ("shared_name_in_false_when", """
archc: 1
name: g
input: [1, 6, 6]
params: {use: false}
layers:
- {when: use, layers: [relu, dropout(0.1)]}
- n2: conv(1, 1, bias=false)
- dropout(0.3)
- relu
""", BuildFails, "the same with a `when:` that is false: its ops keep their names in the module IR"),
    ("unnamed_block_in_empty_repeat", """
archc: 1
name: g
input: [1, 8, 8]
blocks:
  B:
    params: {width: int}
    layers: [conv(width, 3, padding=1)]
layers:
  - n3: conv(3, 1)
  - repeat: 0
    each: B(6 + i * 2)
  - n5: bn()
""", BuildFails, "an unnamed block call repeated zero times in a list of named entries (E304 if it ran): "
                 "build() failed with AssertionError 'a numbered entry outside a numbered list'"),
    ("block_size_read_inside_a_sequential_literal", """
archc: 1
name: g
input: [3, 6, 6]
blocks:
  B:
    params: {width: int}
    repeat: 1 + width % 2
    each: [conv(width, 1)]
layers:
  - n1: [B(4), conv(4, 1)]
  - n3: conv(2, 1)
""", BuildFails, "an entry of a numbered list sized by the block before it: the literal nn.Sequential(B(4), "
                 "nn.Conv2d(self.n1[0].out_channels, ...)) read self.n1 before it existed (AttributeError); "
                 "found by a generator run with another seed"),
    ("merge_number_after_a_folded_norm", """
archc: 1
name: g
input: [8, 8, 8]
blocks:
  L:
    layers:
      - norm1: bn()
      - conv1: conv(8, 1, bias=false)
      - norm2: bn()
      - {from: [input, norm2], merge: concat}
layers:
  - a: L
""", InferenceDiffers, "a from: merge after a norm the inference pass folds, in a list of named modules: the "
                       "rewritten IR numbered the merge 2, the concrete pass kept 3 (E720 'nodes differ'); "
                       "found by the DenseNet helper"),
    ("height_of_a_block_whose_body_is_a_repeat", """
archc: 1
name: g
input: [3, 16, 16]
blocks:
  R:
    params: {n: int}
    layers:
      - {repeat: n, each: conv(8, 3, stride=2, padding=1)}
layers:
  - b: R(2)
  - flatten
  - fc: linear(10)
""", BuildFails, "a linear layer sized by the output of a block whose body is a repeat: the network read "
                 "self.b.out_height, which no class set (AttributeError in build())"),
    ("height_of_a_block_passed_as_a_value", """
archc: 1
name: g
input: [4, 16, 16]
blocks:
  R:
    params: {n: int}
    layers:
      - {repeat: n, each: conv(8, 3, stride=2, padding=1)}
  Res:
    params: {body: block, n: 1}
    residual:
      body:
        - b: body(n)
      shortcut:
        downsample: [conv(8, 1, stride=2)]
layers:
  - a: Res(R)
  - c: Res(R, 0)
""", BuildFails, "a residual whose projection condition compares its input with the output of a block-typed "
                 "parameter: Res read self.b.out_height, which R did not set (AttributeError in build())"),
    ("block_passed_as_a_value_reads_its_input_height", """
archc: 1
name: g
input: [3, 16, 16]
blocks:
  R:
    params: {n: int}
    layers:
      - c: conv(8, input.height // 4, stride=n)
  U:
    params: {body: block}
    layers:
      - b: body(2)
      - relu
layers:
  - u: U(R)
""", BuildFails, "a block passed as a value that reads its input's height: R took in_height before n, the "
                 "call through the parameter passed only in_channels (TypeError in build())"),
    ("named_norm_block_passed_as_a_value", """
archc: 1
name: g
input: [3, 8, 8]
blocks:
  BN:
    inline: true
    layers: bn()
  Unit:
    params: {c: int, norm: block}
    layers:
      - conv: conv(c, 3, padding=1, bias=false)
      - n: norm()
      - relu
      - conv2: conv(c, 1)
layers:
  - u: Unit(4, BN)
""", InferenceDiffers, "a named instance of a norm block passed as a value, all of it folded into the conv before "
                       "it: the inference pass dropped the instance but left relu reading its value (KeyError), "
                       "then conv2 sized by its output (E720 'no variable holds')"),
    ("block_called_by_a_default_block_only", """
archc: 1
name: g
input: [3, 6, 6]
params: {flag: false}
blocks:
  B0:
    layers: [c: conv(2, 1)]
  B1:
    layers: [sub: B0]
  B2:
    params: {inner: B1}
    layers: [b: inner()]
layers:
  - n: {when: flag, layers: B2()}
  - c: conv(2, 1)
""", InferenceDiffers, "a block (B0) that only a block named as a parameter's default (B1) calls, neither built: "
                       "the inference variant folded B1 but not B0 (KeyError 'B0'); found by a random generator run"),
    ("dead_merge_named_after_its_entry", """
archc: 1
name: g
input: [2, 6, 6]
layers:
  - a: conv(2, 1)
  - n3: {from: [input, a], merge: concat, layers: [conv(2, 1)]}
  - out: {from: a, layers: [conv(2, 1)]}
""", InferenceDiffers, "a from: merge that nothing the output needs reads, named after its entry (n3:concat): the "
                       "IR pass kept it (its node counted as inside the dropped n3), the concrete pass dropped it "
                       "(E720 'nodes differ'); found by a random generator run"),
    ("named_merge_takes_its_number", """
archc: 1
name: b
input: [3, 8, 8]
layers:
- n2: {from: [input, input], merge: add}
- parallel:
  - a: conv(2, 1)
  - b: conv(2, 1)
""", BuildFails, "a named `from:` merge did not take its entry's number in the module IR's instantiation, so the "
                 "list-form parallel's concat after it was '2:concat' there and '3:concat' in the walk: E720 'node "
                 "ids differ' (found by a generator run of the fold-bound work)"),
    ("from_input_under_when", """
archc: 1
name: a
input: [2, 8, 8]
params: {flag: true}
layers:
- n1: conv(3, 1)
- n6: {from: input, layers: [conv(3, 1)], when: flag}
""", EvalDiffers, "a named entry that reads `input` by name under a `when:`: the emitted forward fed it the "
                  "running value (`out = out if self.n6 is None else self.n6(out)`), so eval failed on 3 channels "
                  "(found by a generator run of the fold-bound work)"),
    ("projection_after_absent_repeat", """
archc: 1
name: c
input: [3, 6, 6]
params: {flag: true}
layers:
- n2: {repeat: 1, each: [conv(2, 1)], when: not flag}
- n3: {residual: {body: [c: conv(4, 1)], shortcut: {downsample: [conv(4, 1)]}}}
""", BuildFails, "a named repeat left out by its `when:`, then a residual with a projection: the repeat's running "
                 "size (`in_channels = 3`) was set only under the condition and the residual's class read it "
                 "after, so __init__ raised UnboundLocalError (found by a generator run of the fold-bound work)"),
    ("running_width_read_through_a_later_repeat", """
archc: 1
name: g
input: [3, 9, 10]
blocks:
  B:
    params: {d: int}
    layers:
      - r0: {repeat: d, each: 'conv(1, 3, stride=2, padding=1)'}
      - r3: {repeat: 'd % 2', each: 'conv(input.width, 1)'}
layers:
  - n0: B(1)
  - n1: B(0)
""", BuildFails, "two repeats in a row whose running width only the block's out_width reads (n1 takes it): the "
                 "class was written twice, and the second writing kept r3's width, which starts from r0's, but "
                 "not r0's, so `self.out_width = __unused__carried_v1_2` (NameError); it is written until every "
                 "size read is kept (found by a random run of blocks with strides and repeats computed from "
                 "their parameters)"),
    ("running_height_reads_the_running_channels", """
archc: 1
name: g
input: [2, 8, 8]
blocks:
  B:
    params: {w: int}
    layers:
      - c: conv(w, 1, stride=1 + input.channels % 2)
layers:
  - r: {repeat: 2, each: 'B(3)'}
  - flatten
  - fc: linear(2)
""", CountsDiffer, "a repeat whose running height depends on its running channels (the stride): the loop set "
                   "`in_channels = 3` before `in_height = ... (in_channels % 2 + 1) ...`, which so read the next "
                   "iteration's channels, and fc was built for the wrong size; found by the same random run"),
    ("running_height_and_width_swap", """
archc: 1
name: g
input: [2, 5, 7]
params: {n: 3}
layers:
  - r: {repeat: n, each: ['permute([0, 1, 3, 2])', 'maxpool([1, 2])']}
  - fc: linear(4)
""", CountsDiffer, "a repeat that swaps height and width: the running sizes read each other, so they are set in "
                   "one assignment (`in_height, in_width = in_width, ...`), not one after the other"),
    ("reference_alone_under_when", """
archc: 1
name: g
input: [1, 6, 6]
params: {flag: true}
layers:
  - n2: conv(3, 1)
  - n3: {from: input, when: flag}
  - n4: conv(2, 1)
""", EvalDiffers, "a named `from:` with no layers under a `when:`: the If has no body and gives the point it reads, "
                  "but emission took an empty body for one whose value passes (`if` dropped), so n4 ran on n2's "
                  "output, and `x` was overwritten before; found by a random generator run (3 distinct failures, "
                  "one a silent 1e-4 difference)"),
    ("block_output_channels_read_after_a_repeat", """
archc: 1
name: g
input: [3, 11, 5]
blocks:
  B:
    params: {f: true}
    layers:
      - r0: {repeat: input.height % 2, each: 'conv(2, 3, stride=2, padding=1)'}
      - j: {from: input, when: f}
layers:
  - b: B(true)
  - flatten
  - fc: linear(2)
""", CountsDiffer, "a block whose output may be its input (`from: input` under a `when:`) after a repeat: the repeat "
                   "ran its channels in the constructor's `in_channels`, which the block's out_channels, printed "
                   "after the body and unknown to the writing, read as the input's (`in_channels if f else "
                   "in_channels`); found by a random run of blocks with strides and repeats computed from their "
                   "parameters"),
    ("input_read_after_a_guarded_reference_to_it", """
archc: 1
name: g
input: [3, 9, 9]
blocks:
  B:
    params: {f: true}
    layers:
      - j0: {from: input, when: f}
      - c2: conv(2, 1)
      - j3: {from: input}
layers:
  - n1: B(false)
""", EvalDiffers, "a guarded `from: input` that passes its input on shares the input's variable; the conv after it "
                  "reused that variable for its output (`x = self.c2(x)`) though the block's output reads the "
                  "input after, so the block returned the conv's output (2 channels, not 3); a variable is reused "
                  "only where no other value it holds is still read (found by the same random run)"),
    ("dead_in_some_instances_only", """
archc: 1
name: g
input: [1, 8, 8]
blocks:
  B:
    params: {f: true}
    layers:
      - c: conv(1, 1)
      - j: {from: input, when: f}
layers:
  - r: {repeat: 2, each: 'B(i == 0)'}
""", InferenceDiffers, "a layer whose output nothing reads in some instances of its block (where `j` passes the "
                       "input on) and something reads in others: the concrete inference pass drops it where it is "
                       "dead, the IR pass cannot write the class once (E720 'treats the instances of ... "
                       "differently' / 'keeps ... in some instances only'); found by random runs of "
                       "cases(sizes=True) and of blocks with computed strides. Such a layer is now kept in every "
                       "instance (fold.py revived, passes.inference_graph keep)"),
]


def test_macs_of_a_network_torch_refuses_one_sample_of() -> None:
    """Found by a random run (seed 215367345801609483528715415933020068681): a group norm whose
    groups hold one value each runs on a batch of two but F.group_norm refuses a single sample,
    which is what the check counted MACs on; it counts them on the batch now."""
    agree(archc.load("g.yaml", text="""
archc: 1
name: g
input: [2, 4, 4]
layers:
  - c: conv(1, 1)
  - pool: adaptive_avgpool(1)
  - n: group_norm(1)
  - flatten
  - fc: linear(2)
"""))


def test_an_in_place_op_leaves_its_input_layout() -> None:
    """Found by a random run: a one-channel map laid out channels-last (after a permute) goes through
    an in-place relu, which keeps its strides, and the oracle's out-of-place F.relu returned other
    strides, so F.group_norm summed in another order (4.8e-7 apart). The oracle lays out the result
    of an op the network runs in place as its input."""
    agree(archc.load("g.yaml", text="""
archc: 1
name: g
input: [2, 6, 6]
layers:
  - permute([0, 2, 3, 1])
  - l: linear(1)
  - permute([0, 3, 1, 2])
  - c: conv(1, 1)
  - relu
  - n: group_norm(1)
"""))


@pytest.mark.parametrize("text", [pytest.param(text, id=name) for name, text, _, _ in REPRODUCERS])
def test_reproducer(text: str) -> None:
    agree(archc.load("repro.yaml", text=text))


def test_the_reproducers_lower() -> None:
    """Each reproducer is a valid spec (the table accepts it), so its failure is emission's."""
    for name, text, _, _ in REPRODUCERS:
        assert archc.analyze(archc.load(f"{name}.yaml", text=text)).totals.params > 0, name
