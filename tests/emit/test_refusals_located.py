"""A spec that validates but that emission cannot write yet (E720) is refused where the spec says
the thing that cannot be written, not at line 1: a str parameter choosing an activation (met by
writers of specs from the docs alone), and an unnamed entry of a numbered list after a named entry
under `when:`, whose number nn.Sequential's numbering cannot reproduce."""

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


@pytest.mark.parametrize(("text", "where", "says"), [
    (STR_PARAMETER, (6, 24), "choose with a bool parameter"),
    (NUMBER_AFTER_A_NAMED_WHEN, (9, 9), "name this entry"),
])
def test_the_refusal_points_at_the_construct(text: str, where: tuple[int, int], says: str) -> None:
    program = archc.load("spec.yaml", text=text)
    assert archc.analyze(program).totals.params > 0  # validate and table accept it
    with pytest.raises(ArchcError) as err:
        archc.compile_source(program)
    (d,) = err.value.diagnostics
    assert d.code == "E720" and says in d.message
    assert (d.span.line, d.span.col) == where, d.render(err.value.sources)
