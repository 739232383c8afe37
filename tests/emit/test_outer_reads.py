"""A named list whose entries read a point of an enclosing list (U-Net's ``up1`` reads ``down3``).

docs/language.md allows a `from:` name "defined earlier in the same list or an enclosing one
within the same block". Where the list is a module of its own, the point it reads from outside
is an argument of that module's forward after ``x``: ``self.up1(x, down3)``. Each spec here runs
through :func:`agree` (oracle in eval and train mode, counts, the inference variant); the shape of
the emitted code is checked on top.
"""

from __future__ import annotations

import ast

import pytest

import archc
from archc.diagnostics import ArchcError

from .agreement import agree

# The smallest U-Net level: the skip is read inside the named list `up`.
LEVEL = """
archc: 1
name: level
input: [3, 16, 16]
layers:
  - enc: ["conv(8, 3, padding=1)", relu]
  - down: [maxpool(2), "conv(16, 3, padding=1)", relu]
  - up:
      - upconv: conv_transpose(8, 2, stride=2)
      - conv: {from: [enc, upconv], layers: "conv(8, 3, padding=1)"}
      - relu
  - head: conv(2, 1)
"""

# Two outer points, one read twice, one inside a nested named list, with `add` and `mul` merges:
# the outer list's class passes on what the inner one reads.
NESTED = """
archc: 1
name: nested
input: [4, 8, 8]
layers:
  - a: conv(4, 3, padding=1)
  - b: [relu, "conv(4, 1)"]
  - c:
      - conv1: conv(4, 1)
      - sum: {from: [conv1, a], merge: add}
      - inner:
          - conv2: conv(4, 1)
          - gate: {from: [conv2, b, a], merge: mul}
      - conv3: conv(4, 1)
  - out: {from: [c, b], merge: concat}
"""

# A block whose named list reads a point of the block's own list (and `from: input`).
IN_BLOCK = """
archc: 1
name: in_block
input: [4, 8, 8]
blocks:
  Level:
    params: {c: int}
    layers:
      - stem: conv(c, 3, padding=1)
      - act: relu
      - tail:
          - proj: conv(c, 1)
          - both: {from: [input, stem, proj], merge: concat}
          - fuse: conv(c, 1)
layers:
  - l1: Level(4)
  - l2: Level(6)
"""

# A ReLU applied to the outer point itself: never in place, since the caller reads it again.
IN_PLACE = """
archc: 1
name: in_place
input: [4, 8, 8]
layers:
  - a: conv(4, 3, padding=1)
  - b:
      - act: {from: a, layers: relu}
      - conv: conv(4, 1)
  - out: {from: [a, b], merge: add}
"""

# The reading list is an entry of a list under a name: every entry named, that list becomes a
# class of its own (same state_dict keys) that passes the point on.
IN_A_LIST = """
archc: 1
name: in_a_list
input: [4, 8, 8]
layers:
  - stem: conv(4, 3, padding=1)
  - stage:
      - pre: conv(4, 1)
      - lvl:
          - c: conv(4, 1)
          - m: {from: [stem, c], merge: add}
      - act: relu
  - head: conv(2, 1)
"""


def forward_args(source: str, cls: str) -> list[str]:
    tree = ast.parse(source)
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls)
    forward = next(n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "forward")
    return [a.arg for a in forward.args.args]


def test_a_list_reading_an_outer_point_agrees_with_the_oracle() -> None:
    agree(archc.load("level.yaml", text=LEVEL))
    source = archc.compile_source(archc.load("level.yaml", text=LEVEL))
    assert forward_args(source, "Up") == ["self", "x", "enc"]
    assert "x = self.up(x, enc)" in source
    assert "torch.cat([enc, upconv], 1)" in source


def test_nested_lists_pass_outer_points_on() -> None:
    program = archc.load("nested.yaml", text=NESTED)
    agree(program)
    source = archc.compile_source(program)
    assert forward_args(source, "C") == ["self", "x", "a"]  # c's input is b: its forward's x
    assert forward_args(source, "Inner") == ["self", "x", "b", "a"]  # in the order the body reads them
    assert "self.inner(sum_, x, a)" in source and "gate = conv2 * b * a" in source
    ast.parse(archc.compile_source(program, inference=True))


def test_a_block_list_reads_the_blocks_points_and_input() -> None:
    program = archc.load("in_block.yaml", text=IN_BLOCK)
    agree(program)
    source = archc.compile_source(program)
    assert forward_args(source, "Tail") == ["self", "x", "skip", "stem"]  # the block's input is its `x`


def test_an_outer_point_is_never_changed_in_place() -> None:
    program = archc.load("in_place.yaml", text=IN_PLACE)
    agree(program)
    source = archc.compile_source(program)
    assert "nn.ReLU()" in source and "inplace=True" not in source


def test_a_list_that_passes_a_point_on_is_a_class() -> None:
    program = archc.load("in_a_list.yaml", text=IN_A_LIST)
    agree(program)
    source = archc.compile_source(program)
    assert forward_args(source, "Stage") == ["self", "x"]  # stage reads stem as its input: its x
    assert forward_args(source, "Lvl") == ["self", "x", "stem"] and "out = self.lvl(out, x)" in source
    keys = list(archc.build(program).state_dict())
    assert keys[:6] == ["stem.weight", "stem.bias", "stage.pre.weight", "stage.pre.bias", "stage.lvl.c.weight",
                        "stage.lvl.c.bias"]


def test_an_nn_sequential_cannot_pass_a_point_and_says_so() -> None:
    """Numbered entries need an nn.Sequential, whose forward passes one value: refused (E720), never
    written wrong, with what to do."""
    text = IN_A_LIST.replace("- pre: conv(4, 1)", "- conv(4, 1)")
    with pytest.raises(ArchcError) as err:
        archc.compile_source(archc.load("numbered.yaml", text=text))
    assert "E720" in str(err.value) and "'lvl' reads a point from outside it" in str(err.value)
    assert "give every entry of the enclosing list a name" in str(err.value)
