"""A spec that validates but that emission cannot write yet (E720) is refused where the spec says
the thing that cannot be written, not at line 1: a str parameter choosing an activation (met by
writers of specs from the docs alone), and an unnamed entry of a numbered list after a named entry
under `when:`, whose number nn.Sequential's numbering cannot reproduce, and an unnamed
parameter-free op whose arguments change in a repeat of a list that names its layers, which one
shared module cannot be (its hint says how to write it so that it can), and a layer that is an
error whatever the values where these values do not run it."""

from __future__ import annotations

import pytest

import archc
from archc.diagnostics import ArchcError

STR_PARAMETER = """\
archc: 1
name: s
input: [3, 8, 8]
blocks:
  ConvAct:
    params: {out: int, act: str = 'RE'}
    layers:
      - conv: conv(out, 3, padding=1)
      - {when: act == 'RE', layers: relu}
      - {when: act == 'HS', layers: hardswish}
layers:
  - a: ConvAct(4)
  - b: ConvAct(4, 'HS')
"""

NUMBER_AFTER_A_NAMED_WHEN = """\
archc: 1
name: n
input: [3, 8, 8]
params: {deep: true}
layers:
  - features:
      - conv0: conv(4, 3, padding=1)
      - extra: {when: deep, layers: conv(4, 3, padding=1)}
      - relu
"""

SHARED_DROPOUT_IN_A_REPEAT = """\
archc: 1
name: d
input: [3, 8, 8]
layers:
  - a: conv(3, 1)
  - {repeat: 3, each: relu}
  - {repeat: 3, each: 'dropout(i * 0.1)'}
"""

# a merge op called as a layer is an error whatever the values, reported where it runs; where these
# values do not run it (a repeat of 0, a `when:` that is false) the class would still hold it: E720
# at it (it was an internal error; found by the fuzzer)
NEVER_RUN_ERRORS = """\
archc: 1
name: z
input: [3, 8, 8]
params: {n: 0, use: false}
layers:
  - conv(4, 1)
  - {repeat: n, each: 'add()'}
  - {when: use, layers: 'concat()'}
"""


@pytest.mark.parametrize(("text", "where", "says"), [
    (STR_PARAMETER, (6, 24), "choose with a bool parameter"),
    (NUMBER_AFTER_A_NAMED_WHEN, (9, 9), "name this entry"),
    (SHARED_DROPOUT_IN_A_REPEAT, (7, 23), "one shared `self.dropout` cannot be both"),
    (NEVER_RUN_ERRORS, (7, 24), "add joins two or more inputs"),
    (NEVER_RUN_ERRORS.replace("'add()'", "relu"), (8, 26), "concat joins two or more inputs"),
])
def test_the_refusal_points_at_the_construct(text: str, where: tuple[int, int], says: str) -> None:
    program = archc.load("spec.yaml", text=text)
    assert archc.analyze(program).totals.params > 0  # validate and table accept it
    with pytest.raises(ArchcError) as err:
        archc.compile_source(program)
    (d,) = err.value.diagnostics
    assert d.code == "E720" and says in d.message
    assert (d.span.line, d.span.col) == where, d.render(err.value.sources)


def test_a_shared_op_that_varies_in_a_repeat_is_counted_as_the_module_ir_makes_it() -> None:
    # each use of `dropout(i * 0.1)` is a module of its own (docs/language.md: two different
    # parameter-free layers of the same op are `dropout` and `dropout_1`); the graph is the module
    # IR's instantiation, written for the spec's values (it used to fall back on lowering's walk)
    graph = archc.lower(archc.load("spec.yaml", text=SHARED_DROPOUT_IN_A_REPEAT))
    assert graph.derivation is not None  # made by instantiating the module IR
    assert [n for n in graph.nodes if n != "input"] == ["a", "relu", "relu#1", "relu#2",
                                                         "dropout", "dropout_1", "dropout_2"]
    assert [graph.nodes[f"dropout{s}"].attrs.p for s in ("", "_1", "_2")] == [0, 0.1, 0.2]
    with pytest.raises(ArchcError) as err:
        archc.compile_source(archc.load("spec.yaml", text=SHARED_DROPOUT_IN_A_REPEAT))
    (d,) = err.value.diagnostics
    assert "name the repeat" in (d.hint or "")
    # the way the hint gives: a named repeat, numbered as nn.Sequential's children, compiles
    named = SHARED_DROPOUT_IN_A_REPEAT.replace("- {repeat: 3, each: 'dropout", "- drops: {repeat: 3, each: 'dropout")
    module = archc.build(archc.load("spec.yaml", text=named))
    assert [m.p for m in module.drops] == pytest.approx([0, 0.1, 0.2])
