"""Names made from the repeat index (`"denselayer{i + 1}": DenseLayer(...)`, docs/language.md,
"Names made from the repeat index"): lowering names each copy, the module IR keeps one
statement whose name is made per instance, emission writes torchvision's
``self.add_module(f"denselayer{i + 1}", ...)`` and the built module is the oracle's; names that
cannot be made, or are made twice, are located errors."""

from __future__ import annotations

import textwrap

import pytest

import archc
from archc.diagnostics import ArchcError
from archc.ir.module import GenName, Loop, walk

from ..emit.agreement import agree
from .test_module_ir import check

SPEC = """\
archc: 1
name: gen_names
input: [4, 8, 8]
params: {depth: 3}
blocks:
  Layer:
    params: {growth: int}
    layers:
      - norm: bn()
      - conv: conv(growth, 3, padding=1, bias=false)
      - {from: [input, conv], merge: concat}
  Block:
    params: {n: int, growth: 4}
    repeat: n
    each: {"layer{i + 1}": Layer(growth)}
layers:
  - block1: Block(depth)
  - stage:
      repeat: 2
      index: k
      each:
        - "conv_{k * 10}": "conv(8, 1)"
        - relu
  - tail: {repeat: 2, each: {"fixed{depth}_{j}": relu}, index: j}
"""


def load(text: str = SPEC) -> archc.spec.loader.Program:
    return archc.load("t.yaml", text=textwrap.dedent(text))


def paths(text: str = SPEC, **overrides: object) -> list[str]:
    graph = archc.lower(load(text), **overrides)
    return [n.id for n in graph.nodes.values() if n.module]


def errors(text: str) -> list[tuple[str, int, int, str]]:
    with pytest.raises(ArchcError) as err:
        archc.lower(load(text))
    return [(d.code, d.span.line, d.span.col, f"{d.message} | {d.hint}") for d in err.value.diagnostics]


def test_each_copy_is_named_from_the_index() -> None:
    got = paths()
    assert got[:6] == ["block1.layer1.norm", "block1.layer1.conv", "block1.layer2.norm", "block1.layer2.conv",
                       "block1.layer3.norm", "block1.layer3.conv"]
    # a named entry made in a list still takes its position: the relus are 1 and 3
    assert got[6:] == ["stage.conv_0", "stage.1", "stage.conv_10", "stage.3", "tail.fixed3_0", "tail.fixed3_1"]
    assert paths(depth=5)[8:10] == ["block1.layer5.norm", "block1.layer5.conv"]


def test_the_module_ir_keeps_one_statement_whose_name_is_made_per_instance() -> None:
    ir = check(load())
    (loop,) = [s for s in ir.definitions["Block"].body if isinstance(s, Loop)]
    named = [s.name for s in walk(loop.body) if isinstance(getattr(s, "name", None), GenName)]
    assert named == ["layer{i + 1}"]
    (tail,) = [s for s in walk(ir.network.body) if isinstance(s, Loop) and s.index == "j"]
    (made,) = [s.name for s in tail.body]
    assert isinstance(made, GenName) and [str(p) for p in made.parts] == ["fixed", "depth", "_", "j", ""]


def test_emitted_code_adds_each_module_under_its_made_name() -> None:
    source = archc.compile_source(load())
    assert 'self.add_module(f"layer{i + 1}", Layer(in_channels, growth))' in source
    assert "class Block(nn.Sequential):" in source
    assert 'stage.add_module(f"conv_{k * 10}", nn.Conv2d(' in source
    assert "stage.append(nn.ReLU(inplace=True))" in source
    assert 'tail.add_module(f"fixed{depth}_{j}", nn.ReLU' in source


def test_the_built_module_is_the_oracles() -> None:
    agree(load())
    agree(load(), depth=1)


def test_state_dict_keys_are_the_made_names() -> None:
    torch = pytest.importorskip("torch")
    model = archc.build(load())
    keys = [k for k in model.state_dict() if k.endswith("conv.weight")]
    assert keys == ["block1.layer1.conv.weight", "block1.layer2.conv.weight", "block1.layer3.conv.weight"]
    assert isinstance(model.block1, torch.nn.Sequential) and [n for n, _ in model.block1.named_children()] == [
        "layer1", "layer2", "layer3"]


def bad(each: str) -> str:
    return SPEC.split("layers:\n  - block1")[0] + f"layers:\n  - stage: {{repeat: 2, each: {each}}}\n"


def test_a_name_made_twice_is_an_error_in_the_repeat_that_makes_it_again() -> None:
    ((code, line, col, text),) = errors(bad('{"layer{depth}": "conv(8, 1)"}'))
    assert (code, line, col) == ("E303", 17, 31)
    assert "makes 'stage.layer3' again" in text and "layer{i + 1}" in text


def test_a_made_name_that_is_no_name_is_an_error() -> None:
    found = errors(bad('{"{i}x": "conv(8, 1)"}'))
    assert [(c, line, col) for c, line, col, _ in found] == [("E304", 17, 31)] * 2
    assert "makes '0x'" in found[0][3] and "starts with a digit" in found[0][3]
    found = errors(bad('{"for{\'\'}": "conv(8, 1)"}'))
    assert "makes 'for'" in found[0][3] and "keyword" in found[0][3]
    found = errors(bad('{"x{i > 0}": "conv(8, 1)"}'))
    assert found[0][0] == "E304" and "bool" in found[0][3]


def test_a_template_is_checked_where_it_is_written() -> None:
    ((code, line, col, text),) = errors(bad('{"layer{i}.a": "conv(8, 1)"}'))
    assert (code, line, col) == ("E304", 17, 40) and "'.' is not allowed outside braces" in text
    ((code, line, col, text),) = errors(bad('{"{ax*1}ax*": "conv(8, 1)"}'))  # the same text inside the braces
    assert (code, line, col) == ("E304", 17, 40) and "'*'" in text
    ((code, line, col, text),) = errors(bad('{"block{i}--{i}": "conv(8, 1)"}'))  # '-' joins two pieces
    assert (code, line, col) == ("E304", 17, 40) and "'--'" in text and "write one '-'" in text
    ((code, line, col, text),) = errors(bad('{"layer{i": "conv(8, 1)"}'))
    assert (code, line) == ("E304", 17) and "'{'" in text and "one pair of braces" in text
    ((code, line, col, _),) = errors(bad('{"layer{i +}": "conv(8, 1)"}'))
    assert code.startswith("E4") and line == 17 and 38 <= col <= 42
    ((code, _, _, text),) = errors(bad('{"layer{}": "conv(8, 1)"}'))
    assert code == "E400"
    ((code, _, _, text),) = errors(bad('{"layer{k}": "conv(8, 1)"}'))
    assert code.startswith("E4") and "'k'" in text


def test_a_name_is_made_only_in_a_repeats_each() -> None:
    text = SPEC.split("layers:\n  - block1")[0] + 'layers:\n  - "head{depth}": conv(4, 1)\n'
    ((code, line, col, text),) = errors(text)
    assert (code, line, col) == ("E304", 17, 5) and "only an entry of a repeat's `each:`" in text
    nested = bad('[{"group": ["layer{i}: relu"]}]').replace('["layer{i}: relu"]', '[{"layer{i}": relu}]')
    assert [c for c, *_ in errors(nested)] == ["E304"]


def test_a_repeat_in_a_modules_body_adds_each_copy_and_forward_calls_it_by_name() -> None:
    """In a body that names its layers (an nn.Module with a forward), each copy is added with
    add_module in __init__'s loop and forward's loop calls it by the same made name; this was
    E720 before (validate and table accepted the spec)."""
    text = SPEC.split("layers:\n  - block1")[0] + textwrap.dedent("""\
        layers:
          - stem: conv(8, 1)
          - {repeat: 2, each: {"layer{i + 1}": Layer(4)}}
          - head: conv(4, 1)
        """)
    assert paths(text) == ["stem", "layer1.norm", "layer1.conv", "layer2.norm", "layer2.conv", "head"]
    source = archc.compile_source(load(text))
    assert '            self.add_module(f"layer{i + 1}", Layer(in_channels, 4))' in source
    assert '            x = getattr(self, f"layer{i + 1}")(x)' in source
    agree(load(text))
    model = archc.build(load(text))
    assert [k for k, _ in model.named_children()] == ["stem", "layer1", "layer2", "head"]


MODULE_BODY = """\
archc: 1
name: made_in_module_body
input: [4, 8, 8]
params: {first: 2}
blocks:
  Unit:
    params: {c: int}
    layers: [conv: conv(c, 3, padding=1, bias=false), bn: bn(), relu]
  Body:
    params: {n: int, first: int, unit: block, deep: bool}
    layers:
      - stem: conv(8, 1)
      - repeat: n
        each:
          - {"conv{i + first}": "conv(8, 3, padding=1, bias=false)"}  # a parameter in the name
          - {"bn{i + first}": bn()}                                     # folds into conv{i + first}
          - relu
          - {"unit{i}": unit(8)}                                        # sizes only the built block knows
          - {"drop{i}": dropout(0.1)}                                   # goes in the inference variant
      - when: deep
        layers:
          - repeat: 2
            each: {"deep{i}": conv(8, 1)}
      - head: conv(4, 1)
layers:
  - b: Body(2, first, Unit, true)
  - c: Body(1, 5, Unit, false)
  - repeat: 2                                  # read by nothing: the inference variant drops it
    each: {"top{i}": Unit(4)}
  - {from: [c, input], merge: concat}          # numbered after the two tops, in both variants
"""


def test_made_names_in_module_bodies_agree_with_the_oracle() -> None:
    """A parameter in the made name (an attribute forward reads), a block-typed parameter whose
    output sizes only the built module knows, a condition, nested repeats, norms that fold and
    dropout and dead copies that the inference variant drops: built as the oracle runs the IR, in
    both variants."""
    program = load(MODULE_BODY)
    agree(program)
    source = archc.compile_source(program)
    assert "        self.first = first\n" in source
    assert '            x = getattr(self, f"conv{i + self.first}")(x)' in source
    model = archc.build(program)
    assert [k for k, _ in model.b.named_children()] == [
        "relu", "stem", "conv2", "bn2", "unit0", "drop0", "conv3", "bn3", "unit1", "drop1", "deep0", "deep1", "head"]
    assert [k for k, _ in model.c.named_children()] == ["relu", "stem", "conv5", "bn5", "unit0", "drop0", "head"]


# --- '-' in a made name, and a stage number from a parameter or an enclosing repeat ------------

STAGES = """\
archc: 1
name: stages
input: [4, 16, 16]
params: {depths: [2, 3]}
blocks:
  Stage:
    params: {stage: int, depth: int, width: int}
    repeat: depth
    each: {"block{stage}-{i}": "conv(width, 3, stride=2 if i == 0 else 1, padding=1)"}
layers:
  - trunk_output: {repeat: len(depths), index: s, each: {"block{s + 1}": "Stage(s + 1, depths[s], 4 * (s + 2))"}}
  - tail: {repeat: 2, index: s, each: {"x{s}-{s + 1}": relu}}
"""


def test_a_made_name_may_join_pieces_with_a_dash_as_torchvisions_regnet() -> None:
    """`block{stage}-{i}`: the stage from the block's parameter (itself the enclosing repeat's
    index), the block from its own repeat, as torchvision's `trunk_output.block2.block2-0`."""
    assert paths(STAGES) == ["trunk_output.block1.block1-0", "trunk_output.block1.block1-1",
                             "trunk_output.block2.block2-0", "trunk_output.block2.block2-1",
                             "trunk_output.block2.block2-2", "tail.x0-1", "tail.x1-2"]
    source = archc.compile_source(load(STAGES))
    assert 'f"block{stage}-{i}",' in source and 'trunk_output.add_module(f"block{s + 1}", Stage(' in source
    assert 'tail.add_module(f"x{s}-{s + 1}", nn.ReLU' in source
    agree(load(STAGES))
    agree(load(STAGES), depths=[1, 1, 2])


def test_modules_with_a_dash_are_reached_by_name_in_the_built_network() -> None:
    pytest.importorskip("torch")
    model = archc.build(load(STAGES))
    assert [k for k in model.state_dict() if k.endswith(".weight")] == [
        "trunk_output.block1.block1-0.weight", "trunk_output.block1.block1-1.weight",
        "trunk_output.block2.block2-0.weight", "trunk_output.block2.block2-1.weight",
        "trunk_output.block2.block2-2.weight"]
    assert model.get_submodule("trunk_output.block2.block2-2").stride == (1, 1)


def test_a_dash_must_join_two_pieces() -> None:
    found = errors(bad('{"x{i}-{\'\'}": "conv(8, 1)"}'))  # makes 'x0-'
    assert [(c, line, col) for c, line, col, _ in found] == [("E304", 17, 31)] * 2
    text = found[0][3]
    assert "makes 'x0-'" in text and "a '-' joins two pieces" in text and "block{stage}-{i}" in text
    found = errors(bad('{"{\'-\'}x{i}": "conv(8, 1)"}'))  # text from the braces: '-x0'
    assert "makes '-x0'" in found[0][3] and "a '-' joins" in found[0][3]
    found = errors(bad('{"x{\'.\'}{i}": "conv(8, 1)"}'))  # never a '.', which separates a module path
    assert "makes 'x.0'" in found[0][3] and "pieces joined by '-'" in found[0][3]


def test_a_dash_in_a_name_written_out_is_an_error_that_says_where_it_is_allowed() -> None:
    text = SPEC.split("layers:\n  - block1")[0] + "layers:\n  - block1-0: conv(4, 1)\n"
    ((code, line, col, text),) = errors(text)
    assert (code, line, col) == ("E304", 17, 5) and "'block1-0' is not a valid layer name" in text
    assert "made in a repeat's `each:`" in text
