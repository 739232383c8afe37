"""Errors that lowering reports from the module IR's instantiation are the walk's, word for word.

Where an op's shape rule fails (a residual that does not add up, a kernel larger than its
input, channels that do not divide into groups), instantiation (archc/ir/instantiate.py)
reports it itself, with the code, message, position, hint and notes that the walk of
archc/ir/lower.py gives. The sizes that depend on the failing layer then become unknown, as
they do in the walk, so one mistake is reported once. The walk's reports are the reference:
the corpus (tests/corpus) and tests/test_diagnostics.py pin them. Every comparison here lowers
the same spec both ways.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archc
from archc.commands._common import limit_arg
from archc.diagnostics import ArchcError, Diagnostic, Reporter
from archc.ir.lower import Lowerer
from archc.limits import Limits

from ..specgen import Case, cases
from ..test_fuzz import specs as fuzzed_specs
from .walk import Walker

CORPUS = Path(__file__).parents[1] / "corpus"
EXAMPLES = int(os.environ.get("ARCHC_DIFFERENTIAL_EXAMPLES", "300"))


def lowered(program: Any, *, direct: bool, **kwargs: Any) -> tuple[Lowerer, list[Diagnostic] | None]:
    """The lowerer (archc's, ``direct``; else the reference walk, tests/ir/walk.py), and what it
    reported (None: the spec lowered without an error)."""
    low = (Lowerer if direct else Walker)(program, Reporter(sources=dict(program.sources)), **kwargs)
    try:
        low.run()
    except ArchcError:
        return low, low.r.diagnostics
    return low, None


def same_reports(program: Any, **kwargs: Any) -> Lowerer:
    """Lower both ways; the reports must be equal. Returns the direct lowerer."""
    low, found = lowered(program, direct=True, **kwargs)
    _, walked = lowered(program, direct=False, **kwargs)
    assert found == walked, f"instantiation reported\n{found}\nthe walk reported\n{walked}"
    return low


def corpus_programs() -> list[Any]:
    """(program, limits) of each corpus spec that loads, with the limits its header asks for."""
    out = []
    for path in sorted(CORPUS.glob("*.yaml")):
        args = next((shlex.split(line[len("# args:"):]) for line in path.read_text(errors="replace").splitlines()[1:4]
                     if line.startswith("# args:")), [])
        limits = Limits().with_(**dict(limit_arg(a) for k, a in itertools.pairwise(args) if k == "--limit"))
        try:
            out.append(pytest.param(archc.load(path, limits=limits), limits, id=path.stem))
        except ArchcError:  # an error of the file itself (YAML, schema, imports): lowering never runs
            continue
    return out


@pytest.mark.parametrize(("program", "limits"), corpus_programs())
def test_a_corpus_spec_is_reported_the_same_both_ways(program: Any, limits: Limits) -> None:
    same_reports(program, limits=limits)


HEAD = "archc: 1\nname: t\ninput: [8, 8, 8]\n"

# each: a spec whose shape rules fail, and the codes the walk reports for it, in order
SPECS = {
    # in a block called three times: once, with the other calls as notes ("also")
    "in_a_block_called_thrice": ("""
        blocks:
          B:
            layers:
              - a: conv(8, 3, groups=3)
              - b: conv(8, 1)
        layers:
          - p:
              parallel: {b1: B(), b2: B(), b3: B()}
              merge: add
        """, ["E505"]),
    # a kernel larger than the input in a repeat's third pass: the rest of the repeat, the
    # blocks after it and their residuals see an unknown size, and say nothing more
    "then_unknown_through_blocks": ("""
        blocks:
          Res:
            params: {c: int}
            residual:
              body: [a: conv(c, 3, stride=2, padding=1), b: bn(), r: relu]
              shortcut: {down: [conv(c, 1, stride=2)]}
        layers:
          - s: {repeat: 5, each: [conv(8, 3)]}
          - r1: Res(16)
          - r2: Res(input.channels)
          - out: {repeat: input.channels, each: [relu]}
        """, ["E503"]),
    # a concat of branches whose heights differ, then an add that a wrong shortcut breaks
    "two_errors_in_turn": ("""
        layers:
          - p:
              parallel:
                a: conv(4, 3)
                b: conv(4, 3, padding=1)
              merge: concat
          - q: {residual: {body: [c: conv(16, 1)]}}
        """, ["E502"]),
    "a_residual_without_its_projection": ("""
        layers:
          - q: {residual: {body: [c: conv(16, 1)]}}
        """, ["E501"]),
    "a_repeat_count_that_is_not_whole": ("""
        params: {n: 2}
        layers:
          - s: {repeat: n / 4, each: [conv(8, 1)]}
          - t: {repeat: n - 3, each: [conv(8, 1)]}
          - u: {repeat: n * 100000, each: [relu]}
          - v: {repeat: n, each: [conv(8, 1)]}
        """, ["E202", "E202", "E603"]),
    "a_tensor_too_large": ("""
        layers:
          - up: upsample(scale_factor=4096)
          - c: conv(8, 1)
          - up2: upsample(scale_factor=4096)
        """, ["E601"]),
    "a_network_too_large": ("""
        layers:
          - a: conv(1000000, 1)
          - b: conv(1000000, 3)
          - c: conv(1000000, 3)
        """, ["E602"]),
    # a block call's arguments: the call runs on, with the values it has, as in the walk
    "a_block_call_with_wrong_arguments": ("""
        blocks:
          B:
            params: {width: int, stride: 1, act: true}
            layers:
              - c: conv(width, 3, stride=stride, padding=1)
              - {when: act, layers: [relu]}
        layers:
          - a: B(8, 1, true, 4)
          - b: B(widht=8)
          - c: B(stride=2)
          - d: B(8, act=3)
          - e: B(8, stride=true)
        """, ["E308", "E301", "E302", "E302", "E202", "E202"]),
    # a block inside itself, through another and under a condition: once, with the cycle
    "a_block_that_uses_itself": ("""
        blocks:
          A:
            params: {d: int}
            layers:
              - c: conv(8, 1)
              - b: {when: d > 0, layers: [B(d - 1)]}
          B:
            params: {d: int}
            layers: [a: A(d)]
        layers:
          - s: {repeat: 3, each: [relu]}
          - x: A(2)
        """, ["E306"]),
    "a_projection_turned_off": ("""
        params: {use: false}
        layers:
          - w: {residual: {body: [c: conv(32, 1)], shortcut: [conv(32, 1)], when: use}}
        """, ["E501"]),
    # arguments a shape rule refuses whatever the sizes, on sizes written once (after a repeat): the
    # module IR's definer sized an upsample of neither size nor factor and crashed (TypeError; the
    # walk reported it; found by a random run of the fuzzer)
    "an_upsample_of_neither_size_nor_factor": ("""
        params: {n: 2}
        layers:
          - {repeat: n, each: relu}
          - s: [interpolate]
          - upsample()
        """, ["E505"]),  # (the second's input is of unknown size after the first)
}


@pytest.mark.parametrize("name", SPECS)
def test_a_shape_error_is_reported_by_instantiation_as_the_walk_reports_it(name: str) -> None:
    text, codes = SPECS[name]
    program = archc.load(f"{name}.yaml", text=HEAD + textwrap.dedent(text))
    low = same_reports(program)
    assert [d.code for d in low.r.diagnostics] == codes


def test_the_other_calls_are_notes_of_one_error() -> None:
    text, _ = SPECS["in_a_block_called_thrice"]
    low = same_reports(archc.load("t.yaml", text=HEAD + textwrap.dedent(text)))
    (diag,) = low.r.diagnostics
    assert (diag.span.line, diag.span.col) == (8, 23)  # groups=3
    assert diag.notes[0].message == "input: 8×8×8 from the network input"
    assert [n.message for n in diag.notes[1:]] == ["in block 'B' called as 'p.b1'",
                                                    "the same error also in block 'B' called as 'p.b2'",
                                                    "the same error also in block 'B' called as 'p.b3'"]


def test_an_integer_past_the_bound_on_the_way_is_an_error_both_ways() -> None:
    # the module IR keeps `n * n * n // (n * n * n + 1) + 7` simplified and evaluated it to 7 without
    # the language's bound (1e18) on the way: lowering accepted what the walk refuses
    program = archc.load("t.yaml", text=HEAD + "params: {n: 10000000}\nlayers:\n"
                                               "  - c: conv(n * n * n // (n * n * n + 1) + 7, 3)\n")
    _, found = lowered(program, direct=True)
    assert [d.code for d in found or []] == ["E405"]
    same_reports(program)


# --- generated specs, given an input too small or of another rank ---------------------------------


@settings(max_examples=EXAMPLES // 3, deadline=None, database=None,
          derandomize=not os.environ.get("ARCHC_DIFFERENTIAL_RANDOM"),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(cases(), st.sampled_from([(1, 1), (2, 2), (3, 3), (2, 5), (4, 1), (9,)]))
def test_a_generated_spec_on_a_small_input_is_reported_the_same_both_ways(
        tmp_path_factory: pytest.TempPathFactory, case: Case, size: tuple[int, ...]) -> None:
    # kernels larger than the input, strides to nothing, merges of branches that shrink unlike:
    # errors anywhere in every construct, and what follows each
    path = case.write(tmp_path_factory.getbasetemp() / "reported")
    program = archc.load(path)
    channels = program.input[0][0] if program.input else 3
    try:
        same_reports(program, overrides=case.overrides, input_shape=(channels, *size))
    except AssertionError as err:
        raise AssertionError(f"{err}\non input {(channels, *size)}\n{case.show()}") from err


def test_a_block_that_uses_itself_says_the_cycle() -> None:
    low = same_reports(archc.load("t.yaml", text=HEAD + textwrap.dedent(SPECS["a_block_that_uses_itself"][0])))
    (diag,) = low.r.diagnostics
    assert diag.message == "block 'A' uses itself (A → B → A)"


def test_a_residual_says_which_shortcut_it_took_and_why() -> None:
    for name, hint, role in (("a_residual_without_its_projection", "add a projection", "shortcut (identity)"),
                             ("a_projection_turned_off", "the `when:` condition is false here",
                              "shortcut (identity)")):
        low = same_reports(archc.load("t.yaml", text=HEAD + textwrap.dedent(SPECS[name][0])))
        (diag,) = low.r.diagnostics
        assert hint in (diag.hint or ""), name
        assert [n.message.split(":")[0] for n in diag.notes] == ["body", role], name


# a named entry's name is made and claimed before its `when:` is asked, as the walk does: the
# module IR once asked the condition first, and accepted these (a false `when:` hid the error)
NAMED_BEFORE_WHEN = {
    "a_made_name_that_names_nothing": ("""
        params: {use: false}
        layers:
          - s:
              repeat: 2
              each:
                - "{i}x": {when: use, layers: [c: conv(3, 1)]}
        """, ["E304", "E304"]),
    "a_name_taken_under_a_false_when": ("""
        params: {use: false}
        layers:
          - c: conv(3, 1)
          - c: {when: use, layers: [conv(3, 1)]}
        """, ["E303"]),
    "in_a_block": ("""
        params: {use: false}
        blocks:
          B:
            params: {u: bool}
            layers:
              - c: conv(3, 1)
              - c: {when: u, layers: [conv(3, 1)]}
        layers:
          - b: B(use)
        """, ["E303"]),
    "a_made_name_made_again": ("""
        layers:
          - s:
              repeat: 3
              each:
                - "layer{i // 2}": conv(3, 1)
        """, ["E303"]),
}


@pytest.mark.parametrize("name", NAMED_BEFORE_WHEN)
def test_a_named_entry_is_named_before_its_condition_is_asked(name: str) -> None:
    text, codes = NAMED_BEFORE_WHEN[name]
    low = same_reports(archc.load(f"{name}.yaml", text=HEAD + textwrap.dedent(text)))
    assert [d.code for d in low.r.diagnostics] == codes


# a `from:` that names no point before it: reported where it runs, with the names visible there
# (the innermost list's first), or that the name is defined later; what reads it says nothing more
FROM_NOTHING = {
    # containers of branches without a name where a list names its layers (E304): numbered all the same;
    # branches written as a list where a list numbers its entries (E204): the entry makes nothing
    "unnamed_branches_in_a_list_that_names_its_layers": ("""
        layers:
          - a: conv(8, 1)
          - residual: {body: [conv(8, 3, padding=1)]}
          - {parallel: {p: conv(8, 1), q: conv(8, 1)}, merge: add}
          - b: relu
        """, ["E304", "E304", "E304"]),
    "branches_as_a_list_in_a_numbered_list": ("""
        layers:
          - s: {repeat: 2, each: [conv(8, 1), {parallel: [x: conv(4, 1), y: conv(4, 1)]}, relu]}
        """, ["E204"]),
    # then a layer with parameters and no name, in each repeat of a list that names its layers: named by
    # the list's next number in each repeat, as the walk names it (Layer.numbered; instantiation had
    # named it once for all repeats and declined, and a random run of the fuzzed specs below found it
    # reporting a second E303)
    "nothing_then_an_unnamed_layer_in_a_repeat": ("""
        layers:
          - adaptive_avgpool()
          - from: a
          - repeat: 2
            each: [adaptive_avgpool(), batchnorm()]
        """, ["E305", "E304"]),
    # several names merged, with branches after (E204): merged all the same, then the branches' merge
    # at the same path (E303, kept apart), as the walk goes on
    "several_names_with_parallel_branches": ("""
        layers:
          - a: conv(8, 1)
          - b: conv(8, 1)
          - p: {from: [a, b], merge: add, parallel: {x: conv(4, 1), y: conv(4, 1)}}
          - c: conv(2, 1)
        """, ["E204", "E303"]),
    "misspelt_in_a_nested_list": ("""
        layers:
          - stem: conv(8, 3, padding=1)
          - s:
              - a: conv(8, 1)
              - b: {from: stemm, layers: [relu]}
              - c: conv(8, 1)
        """, ["E305"]),
    "defined_later_in_the_outer_list": ("""
        layers:
          - s: [a: conv(8, 1), b: {from: tail, layers: [relu]}]
          - tail: conv(8, 1)
        """, ["E305"]),
    "in_a_block_called_twice": ("""
        blocks:
          B:
            params: {c: int}
            layers:
              - a: conv(c, 1)
              - j: {from: [a, inptu], merge: concat}
              - d: conv(c, 3)
        layers:
          - b1: B(8)
          - b2: B(4)
        """, ["E305"]),
    "the_second_of_two_names": ("""
        layers:
          - a: conv(8, 1)
          - j: {from: [a, bb], merge: add}
          - k: {from: [a, j, zz], merge: add}
        """, ["E305", "E305"]),
    "under_a_when_in_a_repeat": ("""
        params: {use: true}
        layers:
          - s:
              repeat: 2
              each:
                - "s{i}":
                    - a: conv(8, 1)
                    - r: {when: use, from: [a, q], merge: add}
        """, ["E305"]),
    # the name `a` is refused in the second repeat (taken already), so the walk finds no point of
    # that name there: E303, then E305 for `a` (module.Read: instantiation had declined)
    "a_name_read_where_it_is_refused": ("""
        params: {use: true}
        layers:
          - s:
              repeat: 2
              each:
                - a: conv(8, 1)
                - r: {when: use, from: [a, q], merge: add}
        """, ["E305", "E303", "E305"]),
    # a `from:` naming a point under a name taken already: refused, the running value passes on (the
    # first `n3`), not the point (found by the mistakes below; instantiation had declined)
    "a_reference_whose_name_is_taken": ("""
        layers:
          - n1: conv(8, 3, padding=1)
          - n3: conv(4, 1)
          - n3: {from: n1}
          - n5: conv(2, 1)
        """, ["E303"]),
    # ... or one whose `from:` merges names before its layers (the merge is a statement of its own)
    "a_merging_entry_whose_name_is_taken": ("""
        layers:
          - n3: conv(4, 1)
          - n3: {from: [input, n3], merge: concat, layers: [conv(2, 1)]}
          - n5: conv(2, 1)
        """, ["E303"]),
    # a `from:` reads the first of two entries of one name, the second refused: the add reads the
    # first's 8 channels and adds up (the second's 4 would not)
    "a_name_read_after_its_second_entry_is_refused": ("""
        layers:
          - n1: conv(8, 1)
          - n1: conv(4, 1)
          - m: {from: [n1, input], merge: add}
          - c: conv(2, 1)
        """, ["E303"]),
    # ... as in a `when:` group, whose names are seen after it
    "a_name_refused_in_a_when_group": ("""
        params: {deep: true}
        layers:
          - a: conv(8, 1)
          - {when: deep, layers: [a: conv(4, 1), b: {from: a}]}
          - c: {from: [b, input], merge: add}
        """, ["E303"]),
    # a name whose only entry is refused (an inline block's layer took it): no such point where it is
    # read, E305 with the names seen there, and the `from:`'s other names not looked at (no E305 for
    # `zz`); the entry that read it still binds its own name
    "a_name_whose_only_entry_is_refused": ("""
        blocks:
          Stage: {inline: true, layers: [x1: conv(8, 1), x2: relu]}
        layers:
          - Stage()
          - x1: conv(4, 1)
          - x0: relu
          - y: {from: [x1, zz], merge: add}
          - z: {from: x1}
          - w: {from: [x0, input], merge: add}
        """, ["E303", "E305", "E305"]),
}


# a parameter that holds no block called as a layer (E300, naming its value's type, per instance)
PARAM_AS_LAYER = {
    "in_a_numbered_list": ("""
        params: {width: 8}
        layers:
          - conv(8, 1)
          - width()
          - relu
        """, ["E300"]),
    "in_a_block_of_each_type": ("""
        blocks:
          B:
            params: {n: int, f: 0.5, flag: true, sizes: "[1, 2]", k: int | pair = 3}
            layers:
              - a: n(1)
              - b: f()
              - c: flag()
              - d: sizes()
              - e: k()
              - g: conv(n, 1)
        layers:
          - b1: B(8)
          - b2: B(4, k=[1, 3])
        """, ["E300"] * 6),  # k: an int in one call, a list in the other
    "in_a_repeat": ("""
        params: {depth: 2}
        layers:
          - s: {repeat: depth, each: [conv(8, 1), depth()]}
        """, ["E300"]),
}


# an expression's error (E401-E405), reported where it is evaluated, at the part of it that is
# wrong, with this instance's values: where define cannot evaluate it (an undefined name), or where
# its value is an error in some instances only (a division by a parameter that one call makes zero)
EXPRESSIONS = {
    "undefined_in_a_block_called_twice": ("""
        blocks:
          B:
            params: {width: int}
            layers:
              - a: conv(widht * 2, 3, padding=1)
              - b: conv(width, 1)
        layers:
          - b1: B(8)
          - b2: B(4)
        """, ["E401"]),
    # by a divisor that is 0 whatever the parameter (define cannot write it once, yet it is an error in
    # every instance: reported where each runs)
    "a_division_by_a_zero_of_symbols": ("""
        blocks:
          B:
            params: {width: int}
            layers:
              - a: conv(width, 3, padding=1 // (width - width))
        layers:
          - b1: B(8)
          - b2: B(4)
        """, ["E403"]),
    "an_op_as_a_value": ("""
        layers:
          - a: conv(relu, 3)
        """, ["E401"]),
    "divided_by_zero_in_one_call": ("""
        blocks:
          B:
            params: {g: int}
            layers:
              - a: conv(16 // g, 3, padding=1)
              - b: conv(8, 1, stride=4 % g + 1)
        layers:
          - b1: B(2)
          - b2: B(0)
          - b3: B(4)
        """, ["E403", "E403"]),
    "at_one_index_of_a_repeat": ("""
        layers:
          - s: {repeat: 3, each: [conv(8 // i, 1)]}
        """, ["E403"]),
    "a_repeat_count": ("""
        params: {n: 0}
        layers:
          - s: {repeat: 8 // n, each: [conv(8, 1)]}
          - t: {repeat: depht, each: [conv(8, 1)]}
        """, ["E403", "E401"]),
    "a_condition": ("""
        params: {n: 0}
        layers:
          - s: {when: 8 // n > 1, layers: [conv(8, 1)]}
          - t: {when: usee, layers: [conv(8, 1)]}
          - u: conv(8, 1)
        """, ["E403", "E401"]),
    "a_block_argument": ("""
        params: {n: 0}
        blocks:
          B:
            params: {c: int, d: 2}
            layers: [a: conv(c, 1), b: conv(d, 1)]
        layers:
          - b1: B(8 // n, d=widht)
          - b2: B(c=4, d=1 + true)
          - b3: B(8, d=3, e=1)
        """, ["E403", "E401", "E402", "E301"]),
    # (of a parameter that is a symbol where the block is written once: the block written for its
    # values stands on an input of unknown size after the first call's error, and declines)
    "a_type_error_with_a_bool_parameter": ("""
        blocks:
          B:
            params: {flag: bool}
            layers: [a: conv(8 + flag, 3)]
        layers:
          - b1: B(true)
          - b2: B(false)
        """, ["E402", "E402"]),
    "a_float_past_its_bounds": ("""
        params: {x: 1.0e+300}
        blocks:
          B:
            params: {p: float}
            layers: [a: conv(8, 1), d: dropout(p * p)]
        layers:
          - b1: B(0.5)
          - b2: B(x)
        """, ["E405"]),
    "an_integer_past_its_bounds_in_a_block": ("""
        blocks:
          B:
            params: {n: int}
            layers: [a: conv(n * n * n, 1)]
        layers:
          - b1: B(10)
          - b2: B(1000000000)
        """, ["E405"]),
}


# a block that calls itself through a block-typed parameter: found where it runs (E306, the cycle)
RECURSION = {
    "passed_to_itself": ("""
        blocks:
          A:
            params: {b: block}
            layers: [c: conv(8, 1), x: b(b)]
        layers:
          - a: A(A)
        """, ["E306"]),
    "through_another_block": ("""
        blocks:
          A:
            params: {b: block}
            layers: [c: conv(8, 1), x: b(A)]
          B:
            params: {b: block}
            layers: [y: b(B)]
        layers:
          - s: conv(8, 1)
          - a: A(B)
        """, ["E306"]),
    "inline_on_the_way": ("""
        blocks:
          A:
            params: {b: block}
            inline: true
            layers: [conv(8, 1), b(b)]
        layers:
          - A(A)
        """, ["E306"]),
}


# a training-only head elsewhere than a named entry of the network's own list (E204), reported
# after what the head holds, where it runs (under its `when:`)
HEADS = {
    "unnamed": ("""
        layers:
          - c: conv(8, 3, padding=1)
          - {from: c, training_only: true, layers: [avgpool(2), flatten]}
          - relu
        """, ["E204", "W100"]),  # (W100: the head's output, read by nothing)
    "in_a_block": ("""
        blocks:
          B:
            params: {use: bool}
            layers:
              - c: conv(8, 1)
              - aux: {when: use, training_only: true, layers: [flatten, linear(2)]}
        layers:
          - b1: B(true)
          - b2: B(false)
          - b3: B(true)
        """, ["E204", "W100", "W100"]),
    "in_a_nested_list_after_an_error_inside": ("""
        layers:
          - s:
              - c: conv(8, 1)
              - aux: {training_only: true, layers: [conv(8, 9), flatten, linear(2)]}
        """, ["E503", "E204", "W100"]),
    "in_a_repeat_with_a_made_name": ("""
        layers:
          - s:
              repeat: 2
              each:
                - "aux{i}": {training_only: true, layers: [flatten, linear(2)]}
        """, ["E204", "W100", "W100"]),
}


# values an op does not take, known only where its layer runs (E203), and a `when:` that is not
# true or false (E202, taken as false)
VALUES = {
    # errors in a network written for its values (a str parameter chooses a layer): block calls with
    # arguments of the wrong type, one they do not take, one left out (inline), repeats whose counts
    # are errors; each as the walk reports it (instantiation had declined each of them)
    "errors_where_the_network_is_written_for_its_values": ("""
        params: {act: "'RE'"}
        blocks:
          ConvAct:
            params: {c: int, act: str = 'RE', p: 0.5}
            layers:
              - conv: conv(c, 1)
              - {when: act == 'RE', layers: relu}
              - d: dropout(p)
          Stage:
            params: {c: int, k: int}
            inline: true
            layers: ['conv(c, k)', relu, {repeat: k, each: relu}]
        layers:
          - a: ConvAct(8, act)
          - b: ConvAct(8.5, act)
          - e: ConvAct(8, act, p=1)
          - f: ConvAct(8, act, q=1)
          - Stage(k=1)
          - Stage(4, 1)
          - {repeat: 2.5, each: relu}
          - {repeat: widht, each: relu}
          - {repeat: -1, each: relu}
          - g: ConvAct(widht, act)
          - h: conv(2, 1)
        """, ["E202", "E301", "E302", "E304", "E202", "E401", "E202", "E401"]),
    # an op called with arguments it does not take, some of them of the block's parameters: refused
    # (E301) where every argument is known, not after an expression's error (b2's division by 0) or
    # an argument an error left unknown (b3's), as the walk binds them (module.IfKnown; instantiation
    # had declined)
    "an_op_given_too_many_arguments_of_parameters": ("""
        blocks:
          B:
            params: {c: int, d: int}
            layers: ['conv(c, 1, 8 // d, padding=0, stride=1, dilation=1, groups=1, bias=true, zz=1)']
        layers:
          - b1: B(8, 2)
          - b2: B(8, 0)
          - b3: B(widht, 1)
          - c: conv(2, 1)
        """, ["E301", "E403", "E401"]),
    # a default that is an error (an op passed as a value, a name defined nowhere): E401 where a call
    # takes the default, not where it gives the parameter (the module IR's definer could not write
    # the block and lowering fell back on the walk; tests/emit/test_op_as_block.py has the hints)
    "an_op_as_a_block_parameter_s_default": ("""
        blocks:
          Act: {layers: relu}
          NormAct:
            params: {norm: block = bn, act: block = Act}
            layers: [n: norm(), a: act()]
        layers:
          - c: conv(8, 1)
          - a: NormAct()
          - b: NormAct(norm=batchnorm)
          - d: NormAct(act=Act)
        """, ["E401", "E401"]),
    "an_op_argument_from_a_block_parameter": ("""
        blocks:
          B:
            params: {p: float, g: int}
            layers: [c: conv(8, 3, padding=1, groups=g), d: dropout(p)]
        layers:
          - b1: B(0.5, 1)
          - b2: B(2.0, 2)
          - b3: B(0.5, -1)
        """, ["E203", "E203"]),
    "a_condition_that_is_a_number": ("""
        params: {n: 3}
        layers:
          - a: {when: n, layers: [conv(8, 1)]}
          - b: {when: 3, layers: [conv(8, 1)]}
          - {when: "'yes'", layers: [relu]}
          - c: conv(4, 1)
        """, ["E202", "E202", "E202"]),
    # a residual's `when:`, asked after its body (found by the fuzzer: `when: '0'` with no shortcut)
    "a_residual_condition": ("""
        params: {n: 0}
        blocks:
          R:
            params: {k: int}
            residual:
              body: [a: conv(8, 3, padding=1)]
              shortcut: [conv(8, 1)]
              when: 4 // k > 1
        layers:
          - r1: {residual: {body: [a: conv(8, 1)], when: 0}}
          - r2: {residual: {body: [a: conv(8, 1)], shortcut: [conv(8, 1)], when: nn > 1}}
          - r3: R(1)
          - r4: R(n)
          - r5: {residual: {body: [a: conv(8, 9)], when: 2}}
        """, ["E202", "E401", "E403", "E503", "E202"]),
    # arguments an op does not take, of symbolic value (E301, E308), and a block called with too
    # many arguments, one of the wrong type among them (found while the mistakes below were ported)
    "an_op_argument_it_does_not_take": ("""
        params: {width: 3}
        blocks:
          B:
            params: {c: int, use: false}
            layers: [a: conv(c, 1), n: bn(c, eps=0.001), d: dropout(c, 0.5, 1, 2)]
        layers:
          - b1: B(width)
          - b2: B(8, 3, 4)
        """, ["E301", "E308", "E308", "E202"]),
}


# errors found before lowering starts (the network's parameters, the class name), after which
# lowering goes on to find more: what reads a parameter in error is of unknown value
AFTER_PARAMETERS = {
    "a_parameter_in_error_then_a_shape_error": ("""
        params: {a: 1 // 0, b: 4, flag: 3 > widht}
        layers:
          - d: conv(b, 9)
          - c: conv(a, 3)
          - e: {when: flag, layers: [conv(b, 1)]}
          - f: {repeat: a, each: [relu]}
        """, ["E403", "E401", "E503"]),
    "a_class_named_like_a_block": ("""
        class: B
        blocks:
          B: {layers: [c: conv(8, 1)]}
        layers:
          - b: B()
          - c: conv(8, 9)
        """, ["E303", "E503"]),
}


# blocks nested past the nesting limit (E604, here lowered to 6): instantiation reports it where
# the walk enters the level past it, a block call, a container or list, or an inline block spliced
# (Definition.nest_at)
NESTING = {
    "blocks": "".join(f"  B{k}: {{layers: [b: B{k - 1}()]}}\n" for k in range(1, 9)),
    "inline_blocks": "".join(f"  B{k}: {{inline: true, layers: [B{k - 1}()]}}\n" for k in range(1, 9)),
    "blocks_in_containers": "".join(f"  B{k}: {{layers: [s: [b: B{k - 1}()]]}}\n" for k in range(1, 9)),
    "lists": "",
}


@pytest.mark.parametrize("name", NESTING)
def test_nesting_past_the_limit_is_reported_the_same_both_ways(name: str) -> None:
    blocks = NESTING[name]
    text = HEAD + ("blocks:\n  B0: {layers: [c: conv(8, 1)]}\n" + blocks + "layers:\n  - s: B8()\n" if blocks
                   else "layers:\n  - s: " + "[t: " * 9 + "relu" + "]" * 9 + "\n")
    limits = Limits(max_nesting=6)
    low = same_reports(archc.load(f"{name}.yaml", text=text, limits=limits), limits=limits)
    assert [d.code for d in low.r.diagnostics] == ["E604"]


# specs nesting lists, containers, repeats, `when:` groups, blocks and inline blocks, lowered at
# every nesting limit that cuts them somewhere: the level past the limit may be one with nothing in
# it (an entry that only names a point, Definition.deeper), inside a repeat or an inline block
# (whose notes the report keeps) or around them (whose notes it does not); with the levels each
# spec nests
NESTED = {
    "a_point_named_deep": ("""
        layers:
          - a: conv(8, 1)
          - s: [t: [u: {from: a}, v: [relu]]]
        """, 3),
    "repeats": ("""
        layers:
          - s:
              - repeat: 2
                each:
                  - 't{i}': [relu, {repeat: 2, each: relu}, u: [relu]]
        """, 4),
    "inline_blocks_in_containers": ("""
        blocks:
          Stage: {inline: true, params: {c: int}, layers: [conv(c, 1), relu, r: {residual: {body: [conv(c, 1)]}}]}
          Pair: {layers: [p: [Stage(8)], q: {parallel: {x: [Stage(8)], y: [relu]}, merge: add}]}
        layers:
          - s: {repeat: 2, each: Pair()}
          - t: [Stage(8), u: [Pair()]]
        """, 7),
    "when_groups": ("""
        params: {deep: true}
        layers:
          - s: [{when: deep, layers: [t: [relu, u: [relu]]]}, v: {when: not deep, layers: [relu]}]
        """, 4),
}


@pytest.mark.parametrize("limit", range(1, 9))
@pytest.mark.parametrize("name", NESTED)
def test_nesting_at_every_limit_is_reported_the_same_both_ways(name: str, limit: int) -> None:
    text, depth = NESTED[name]
    limits = Limits(max_nesting=limit)
    low = same_reports(archc.load(f"{name}.yaml", text=HEAD + textwrap.dedent(text), limits=limits), limits=limits)
    assert ("E604" in [d.code for d in low.r.diagnostics]) == (limit < depth)


# an inline block's call with arguments it does not take, or whose expression is an error:
# reported before its body, which runs on with what it could bind
INLINE = {
    "arguments_it_does_not_take": ("""
        blocks:
          Stage:
            params: {c: int, k: 3}
            inline: true
            layers: [conv(c, k, padding=1), relu]
        layers:
          - Stage(8, 3, 5)
          - Stage(8, k=11, kk=1)
          - Stage(widht)
          - Stage(8 // 0, k=9)
          - conv(4, 1)
        """, ["E308", "E301", "E503", "E401", "E403"]),
    # left out: unknown where the body reads it, in each call (the second call reads it nowhere known)
    "an_argument_left_out": ("""
        blocks:
          Stage:
            params: {c: int, k: int}
            inline: true
            layers: [conv(c, 3, padding=1), relu, conv(8, k)]
        layers:
          - Stage(k=1)
          - Stage(c=4)
          - conv(4, 1)
        """, ["E302", "E302"]),
    # of the wrong type: unknown where it is read, as the walk takes it (define splices a symbol for it)
    "an_argument_of_the_wrong_type": ("""
        blocks:
          Stage:
            params: {c: int, use: bool}
            inline: true
            layers: [conv(c, 1), {when: use, layers: [relu]}]
        layers:
          - Stage(8, 2)
          - Stage(true, false)
          - Stage(4, use=[1])
        """, ["E202", "E202", "E202"]),
    # ... once where the call runs, though each statement spliced from it enters the call (a random run
    # of the mistakes below found each reported again, a note "also" for each)
    "an_argument_of_the_wrong_type_in_a_block_called_twice": ("""
        blocks:
          Stage:
            params: {c: int, use: bool}
            inline: true
            layers: [conv(c, 1), relu, {when: use, layers: [relu]}]
          B: {layers: [Stage(8, 2)]}
        layers:
          - b1: B()
          - b2: B()
        """, ["E202"]),
    # an inline block whose body cannot be spliced (branches): E204 where each call runs, in the block,
    # after the call's own errors (instantiation had declined)
    "an_inline_block_of_branches": ("""
        blocks:
          P: {inline: true, params: {c: int, k: 1}, parallel: {a: 'conv(c, k)', b: conv(4, 1)}}
        layers:
          - c: conv(8, 1)
          - P(true)
          - P()
          - P(4, 5, 6)
          - P(4, kk=1)
          - d: conv(2, 1)
        """, ["E202", "E204", "E302", "E308", "E301"]),
    # ... of the wrong type only in some calls of the block that calls it (a list's items): reported
    # there, and unknown in what is spliced from it, there only; another argument read from the same
    # list stays known (instantiation had declined)
    "an_argument_of_the_wrong_type_in_some_calls": ("""
        blocks:
          Stage:
            params: {c: int, use: bool, k: 1}
            inline: true
            layers: [conv(c, k), relu, {when: use, layers: [relu]}, conv(c * 2, 1), {repeat: c, each: relu},
                     'conv(k * 2, 1)']
          B:
            params: {ws: list, u: bool = true}
            layers: [Stage(ws[0], u, k=ws[1]), conv(4, 1), 'conv(ws[0] // 3, 1)']
        layers:
          - b1: B([8, 1])
          - b2: B([2.5, 1])
          - b3: B([4, 1.5])
          - b4: B([2.5, 2.5], false)
          - b5: B([4, 1])
        """, ["E202", "E202", "E202", "E202"]),
}

# a block passed as a parameter's value, called with arguments it does not take: bound where it runs,
# to the block it holds there (the same call is right for one block and wrong for another)
PASSED = {
    # a block passed as a value whose default is an error (an op passed as a value): E401 where a
    # call of it takes the default (Param.default_error; instantiation had declined)
    "a_passed_block_s_default_in_error": ("""
        blocks:
          Act: {layers: relu}
          P:
            params: {c: 4, act: block = relu}
            layers: [x: 'conv(c, 1)', a: act()]
          S:
            params: {blk: block = P}
            layers: [c: conv(8, 1), b: blk(), d: blk(act=Act), e: conv(8, 1)]
        layers:
          - s1: S()
          - s2: S(P)
        """, ["E401"]),
    # an inline block passed whose body cannot be spliced (branches): E204 where each call runs, after
    # its arguments' errors, with the inline note (instantiation had declined)
    "an_inline_block_of_branches_passed": ("""
        blocks:
          P: {inline: true, params: {c: 4}, parallel: {a: 'conv(c, 1)', b: conv(4, 1)}}
          Q: {inline: true, params: {c: 4}, layers: [q: 'conv(c, 1)']}
          S:
            params: {blk: block = Q}
            layers: [c: conv(8, 1), blk(c=4), 'blk(5, 6)', e: conv(8, 1)]
        layers:
          - s2: S(P)
          - s3: S(Q)
        """, ["E204", "E308", "E308", "E303"]),
    "arguments_a_passed_block_does_not_take": ("""
        blocks:
          R:
            params: {c: int, k: 1}
            layers: [conv(c, k)]
          S:
            params: {c: int}
            layers: [conv(c, 3, padding=1)]
          A:
            params: {b: block}
            layers: [x: "b(4, 5, 6)", y: "b(d=3)", z: "b(c=true)", w: "b()", v: "b(4, c=5)", u: "b(4, k=3)"]
        layers:
          - a: A(R)
          - s: A(S)
        """, ["E308", "E301", "E302", "E202", "E302", "E301", "E308", "E301", "E302", "E202", "E302", "E301",
              "E301"]),
    # a block-typed parameter given a number (E202): unknown after, its calls stand-ins of unknown size
    # (named and numbered), and what reads them reports nothing more
    "a_number_passed_for_a_block": ("""
        blocks:
          A:
            params: {b: block}
            layers: [x: b(), b(), y: conv(8, 1)]
        layers:
          - a: A(3)
          - c: conv(4, 1)
        """, ["E202"]),
}

# a `from:` that names nothing, in a repeat that makes the names seen there: E305 in each repeat,
# each hint with the names that repeat made (instantiation listed `b{i}` once, for all repeats)
NAMES_MADE = {
    "a_reference_to_nothing_among_made_names": ("""
        layers:
          - s:
              - repeat: 2
                each:
                  - 'b{i}': conv(8, 1)
                  - {from: zz}
        """, ["E305", "E305"]),
    # a made name whose part is an error: reported where the name is made, each repeat, and the entry
    # passed over (instantiation had declined: the module IR's definer could not write the name)
    "a_made_name_of_a_name_defined_nowhere": ("""
        layers:
          - s:
              - repeat: 2
                each:
                  - 'b{k}': conv(8, 1)
                  - 'c{i // 0}': conv(8, 1)
                  - 'd{i}': conv(4, 1)
        """, ["E401", "E403"]),
}

# a layer named after its op whose name an inline block's layer took (spliced into the same list):
# E303, and the layer made under another name, as no module (instantiation had declined; a list of
# that name, a scope, was not seen by the walk either: "internal error: scope 'relu' is also a node")
TAKEN = {
    "by_a_layer": ("""
        blocks:
          Stage: {inline: true, layers: [relu: conv(4, 1)]}
        layers:
          - a: conv(3, 1)
          - Stage()
          - relu
          - c: conv(2, 1)
        """, ["E303"]),
    "by_a_list": ("""
        blocks:
          Stage: {inline: true, layers: [relu: [conv(4, 1)]]}
        layers:
          - a: conv(3, 1)
          - Stage()
          - relu
          - c: conv(2, 1)
        """, ["E303"]),
}

# the last kinds the walk lowered alone (instantiation declined)
LAST = {
    # a parameter whose default reads another of the wrong type: unknown too, as the walk binds a call
    # (instantiation had reported the default's value as an error of its own as well)
    "a_default_reading_an_argument_of_the_wrong_type": ("""
        blocks:
          X: {params: {a: 4, b: a}, layers: [conv(a, 1), conv(b, 1)]}
        layers:
          - x: X(2.5)
        """, ["E202"]),
    "a_default_reading_an_argument_of_the_wrong_type_in_some_calls": ("""
        blocks:
          X: {params: {a: 4, b: a}, layers: [conv(a, 1), conv(b, 1)]}
          Outer: {params: {c}, layers: [x: X(c)]}
        layers: [o1: Outer(4), o2: Outer(2.5)]
        """, ["E202"]),
    # the same of an inline block: called with a constant, in some calls, and passed as a value
    "an_inline_blocks_default_reading_a_constant_of_the_wrong_type": ("""
        blocks:
          Inner: {inline: true, params: {a: 4, b: a}, layers: [conv(a, 1), conv(b, 1)]}
        layers: [Inner(2.5)]
        """, ["E202"]),
    "an_inline_blocks_default_reading_an_argument_of_the_wrong_type_in_some_calls": ("""
        blocks:
          Inner: {inline: true, params: {a: 4, b: a}, layers: [conv(a, 1), conv(b, 1)]}
          Outer: {params: {c}, layers: [Inner(c)]}
        layers: [o1: Outer(4), o2: Outer(2.5)]
        """, ["E202"]),
    "a_passed_inline_blocks_default_reading_a_constant_of_the_wrong_type": ("""
        blocks:
          Inner: {inline: true, params: {a: 4, b: a}, layers: [conv(a, 1), conv(b, 1)]}
          Outer: {params: {f: block}, layers: [f(2.5)]}
        layers: [o1: Outer(Inner)]
        """, ["E202"]),
    # a shape rule run on sizes written once, given an input of another rank than its arguments
    # fit: the definer took the rule's IndexError for a fault of archc's (a generated spec on a
    # 1×9 input found it); the op's check reports it where it runs
    "a_permute_of_more_dims_than_its_input_has": ("""
        layers:
          - flatten
          - permute([0, 2, 3, 1])
        """, ["E505"]),
    # an inline block spliced at the top, passed as a value inside itself: E306 at the call that
    # enters it again (instantiation had found the cycle one block later)
    "an_inline_block_passed_inside_its_own_splice": ("""
        blocks:
          I:
            inline: true
            layers:
              - conv(4, 1)
              - a: A(I)
          A:
            params: {f: block}
            layers: [f()]
        layers:
          - I()
        """, ["E306"]),
}

# the hand-written specs above, by kind of error: instantiation reports each of them
HANDWRITTEN = {"expressions": EXPRESSIONS, "after_parameters": AFTER_PARAMETERS, "values": VALUES, "heads": HEADS,
               "recursion": RECURSION, "parameter_as_layer": PARAM_AS_LAYER, "from_nothing": FROM_NOTHING,
               "inline": INLINE, "passed": PASSED, "taken": TAKEN, "names_made": NAMES_MADE,
               "last": LAST}


@pytest.mark.parametrize(("kind", "name"), [(kind, name) for kind, specs in HANDWRITTEN.items() for name in specs])
def test_a_handwritten_spec_is_reported_by_instantiation(kind: str, name: str) -> None:
    text, codes = HANDWRITTEN[kind][name]
    low = same_reports(archc.load(f"{name}.yaml", text=HEAD + textwrap.dedent(text)))
    assert [d.code for d in low.r.diagnostics] == codes


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          derandomize=not os.environ.get("ARCHC_DIFFERENTIAL_RANDOM"),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(fuzzed_specs)
def test_a_fuzzed_spec_is_reported_the_same_both_ways(doc: dict) -> None:
    # the fuzzer's random specs (tests/test_fuzz.py), valid or not: whatever lowering reports, on
    # either path, is the same
    text = yaml.safe_dump(doc, sort_keys=False)
    try:
        program = archc.load("fuzzed.yaml", text=text)
    except ArchcError:  # an error of the file itself: lowering never runs
        return
    try:
        same_reports(program)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{text}") from err


# one mistake put into a valid generated spec (the first place its pattern matches), as a person
# editing a spec makes one: a misspelt op, a block called with too many arguments, a name used
# twice, a negative padding, a kernel far too large, a condition that is not true or false, a
# misspelt `from:` name, a parameter called as a layer, a misspelt name, a division by zero
MISTAKES = [(r"\bconv\(", "convv("), (r"\b(B\d+)\(", r"\1(1, 2, 3, 4, 5, 6, 7, "), (r"- n4:", "- n3:"),
            (r"padding=1\b", "padding=-1"), (r"\bconv\((\w+), 3\b", r"conv(\1, 31"), (r"when: 'false'", "when: '3'"),
            (r"\bbn\(", "bn(width, "), (r"- fc: linear\(", "- n2: linear("),
            (r"from:\n(\s+)- (\w+)", r"from:\n\1- \2x"), (r"from: (\w+)", r"from: \1_"),
            (r"- (relu|silu)\n", "- width()\n"), (r"\(width\b", "(widht"),
            (r"padding=1\b", "padding=1 // (width - width)")]


@settings(max_examples=EXAMPLES // 3, deadline=None, database=None,
          derandomize=not os.environ.get("ARCHC_DIFFERENTIAL_RANDOM"),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(cases(), st.sampled_from(MISTAKES))
def test_a_generated_spec_with_a_mistake_is_reported_the_same_both_ways(
        tmp_path_factory: pytest.TempPathFactory, case: Case, mistake: tuple[str, str]) -> None:
    main = case.files[case.main]
    wrong = re.sub(mistake[0], mistake[1], main, count=1)
    if wrong == main:
        return
    path = Case({**case.files, case.main: wrong}, case.main, case.overrides).write(
        tmp_path_factory.getbasetemp() / "mistakes")
    try:
        program = archc.load(path)
    except ArchcError:  # a mistake the loader finds: lowering never runs
        return
    try:
        same_reports(program, overrides=case.overrides)
    except AssertionError as err:
        raise AssertionError(f"{err}\nmistake {mistake}\n{wrong}") from err


@settings(max_examples=EXAMPLES // 3, deadline=None, database=None,
          derandomize=not os.environ.get("ARCHC_DIFFERENTIAL_RANDOM"),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(cases())
def test_a_valid_generated_spec_is_lowered_by_instantiation(tmp_path_factory: pytest.TempPathFactory,
                                                              case: Case) -> None:
    # what the checks above keep for an error must not turn a valid spec away from the module IR:
    # an inline block called with arguments of symbolic value once fell back on the walk
    path = case.write(tmp_path_factory.getbasetemp() / "valid")
    _, found = lowered(archc.load(path), direct=True, overrides=case.overrides)
    assert found is None or not any(d.severity == "error" for d in found)


def test_an_inline_argument_of_the_wrong_type_leaves_unknown_what_holds_it() -> None:
    # `a` of the wrong type in one call only (c = 2.5), and `b` (c * 2) holds its value: both read as
    # unknown in what is spliced from that call, so the follow-on error the walk also reported (a
    # dropout of 1.25) is not; the mistake itself is reported as the walk reports it (instantiation
    # had declined)
    program = archc.load("t.yaml", text=HEAD + textwrap.dedent("""
        blocks:
          Inner:
            inline: true
            params: {a: int, b: float}
            layers: [conv(a, 1), dropout(b / 4)]
          Outer:
            params: {c}
            layers: [Inner(c, c * 2)]
        layers:
          - o1: Outer(1)
          - o2: Outer(2.5)
        """))
    _, found = lowered(program, direct=True)
    _, walked = lowered(program, direct=False)
    assert found is not None and walked is not None
    assert [d.code for d in found] == ["E202"] and found[0] == walked[0]
    assert found[0].message == "Inner() argument 'a' must be int, got float 2.5"
