"""A numbered list whose entry takes a size only an earlier entry of the same list knows once
built: a downsampling layer after a stage that repeats a block (ConvNeXt's ``features``).

The stage's width is a loop's output, read as ``out_channels`` of the built stage. Written as
``self.features = nn.Sequential(..., Down(self.features[1].out_channels, ...))`` it read the
attribute before it existed (AttributeError in build()); the list is now built first, with the
stage kept in a variable whose ``out_channels`` the next entry reads.
"""

from __future__ import annotations

import archc

from .agreement import agree

STAGE_THEN_DOWN = """
archc: 1
name: sibling_sizes
input: [3, 16, 16]
blocks:
  Stage:
    params: {width: int, depth: int}
    repeat: depth
    each: conv(width, 3, padding=1)
  Down:
    params: {out: int}
    layers: [bn(), "conv(out, 2, stride=2)"]
layers:
  - features:
      - conv(8, 1)
      - Stage(8, 2)
      - Down(16)
      - Stage(16, 1)
  - classifier: [adaptive_avgpool(1), flatten, linear(10)]
"""


def test_an_entry_reads_the_width_of_the_stage_before_it() -> None:
    program = archc.load("sibling_sizes.yaml", text=STAGE_THEN_DOWN)
    agree(program)
    source = archc.compile_source(program)
    assert "self.features[" not in source.split("self.features =")[0]  # nothing read before it exists
    assert "features.append(block)" in source and "Down(block.out_channels, 16)" in source
    model = archc.build(program)
    assert [k for k in model.state_dict() if k.endswith("weight")][:4] == [
        "features.0.weight", "features.1.0.weight", "features.1.1.weight", "features.2.0.weight"]


def test_a_list_that_reads_no_sibling_is_still_one_expression() -> None:
    """Only where an entry reads a sibling: other numbered lists keep the nn.Sequential(...) form."""
    source = archc.compile_source("vgg11")
    assert "self.classifier = nn.Sequential(" in source
