"""``chunk`` beyond the registry-wide samples: torch's part sizes for every split, networks that
use it (the built module against the oracle, counts, the inference variant), its memory and
receptive field against torch's measurements, in-place activations after a view, and the errors
a spec author sees.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

import archc
from archc.ops import ShapeError, registry
from archc.ops.chunk import ChunkAttrs

from ..emit.agreement import agree

HEAD = "archc: 1\nname: t\n"


def test_part_sizes_are_torchs() -> None:
    """Every size up to 24, every number of chunks up to 7, every index: the shape archc infers is
    the shape of ``torch.chunk``'s part, and archc refuses exactly the indices torch has no part for."""
    op = registry().get("chunk")
    for size in range(1, 25):
        x = torch.empty(1, size, 2)
        for chunks in range(1, 8):
            parts = torch.chunk(x, chunks, 1)
            for index in range(chunks + 1):
                attrs = ChunkAttrs(chunks=chunks, index=index)
                if index < len(parts):
                    assert op.infer(((size, 2),), attrs) == tuple(parts[index].shape[1:]), (size, chunks, index)
                else:
                    with pytest.raises(ShapeError):
                        op.infer(((size, 2),), attrs)


# a channel split as ShuffleNetV2's basic unit does it, an uneven split, a split of the width,
# a relu right after a view of the input (which must not run in place: the input is read again)
NETWORK = HEAD + """input: [6, 10, 10]
blocks:
  Split:
    layers:
      - x1: chunk(2, 0)
      - x2: {from: input, layers: chunk(2, 1)}
      - branch2: [conv(input.channels // 2, 1, bias=false), bn(), relu, conv(input.channels // 2, 3, padding=1)]
      - {from: [x1, branch2]}
      - channel_shuffle(2)
layers:
  - stem: [conv(8, 3, padding=1, bias=false), bn(), relu]
  - unit: Split
  - unit2: Split
  - third: chunk(3, 2)
  - act: relu
  - wide: conv(7, 3, padding=1)
  - odd:
      - a: chunk(2, 0)
      - b: {from: wide, layers: [chunk(2, 1), relu]}
      - {from: [a, b]}
  - cols: chunk(2, 1, dim=3)
  - head: conv(4, 3, stride=2)
"""


def test_a_network_with_chunks_is_the_oracle(spec_file: Any) -> None:
    spec = spec_file(NETWORK)
    agree(str(spec))
    rows = {r.path: r for r in archc.analyze(str(spec)).rows}
    assert rows["unit.x1"].shape == rows["unit.x2"].shape == (4, 10, 10)
    assert rows["third"].shape == (2, 10, 10)  # 8 channels in 3 chunks: 3 + 3 + 2
    assert rows["odd.a"].shape == (4, 10, 10) and rows["odd.b"].shape == (3, 10, 10)  # 7 = 4 + 3
    assert rows["cols"].shape == (7, 10, 5)
    assert all(rows[p].macs == 0 and rows[p].params == 0 for p in ("unit.x1", "third", "cols"))


def test_the_emitted_class_holds_no_state_and_relu_after_a_view_is_not_in_place(spec_file: Any) -> None:
    source = archc.compile_source(archc.load(spec_file(NETWORK)))
    assert source.count("class Chunk(nn.Module):") == 1
    assert "self.x1 = Chunk(2, 0)" in source and "self.cols = Chunk(2, 1, dim=3)" in source
    model = archc.build(spec_file(NETWORK))
    assert not any(k.startswith(("unit.x1", "unit.x2", "third", "cols")) for k in model.state_dict())
    # odd.b's relu follows a view of `wide`, which `odd.a` reads too: in place would change it
    assert "nn.ReLU(inplace=True)" in source
    b = model.odd.b if hasattr(model.odd, "b") else model.odd[1]
    assert isinstance(b[1], torch.nn.ReLU) and not b[1].inplace


def test_memory_of_a_network_with_chunks(spec_file: Any) -> None:
    """Inference peak and saved activations against torch's allocations and saved tensors: a
    chunk is a view (no new memory) whose backward keeps nothing."""
    from ..analysis.test_memory import _check

    _check(str(spec_file(NETWORK)))


def test_receptive_field_matches_gradients(spec_file: Any) -> None:
    """tests/analysis/test_receptive.py's brute-force measurement: a part of the channels or of
    the width reads each position once, so the field and the stride do not change."""
    from ..analysis.test_receptive import measure

    spec = str(spec_file(HEAD + """input: [4, 40, 40]
layers:
  - a: conv(4, 3, stride=2, padding=1)
  - split: chunk(2, 1)
  - b: conv(4, 3, padding=1)
  - cols: chunk(2, 0, dim=3)
  - c: conv(4, 3, stride=2)
"""))
    paths = ["a", "split", "b", "cols", "c"]
    measured = measure(spec, paths)
    rows = {r.path: r for r in archc.analyze(spec).rows}
    for path in paths:
        assert (rows[path].rf, rows[path].stride) == measured[(path, 0)], path
    assert rows["split"].rf == rows["a"].rf


ERRORS = [
    ("chunk(4, 3)", "[6, 4, 4]", "index 3 is past the last part", "use an index from 0 to 2"),
    ("chunk(2, 2)", "[6, 4, 4]", "index 2 is past the last part", "use an index from 0 to 1"),
    ("chunk(2, 1, dim=0)", "[6, 4, 4]", "cannot split the batch dimension", "use dim=1"),
    ("chunk(2, 1, dim=4)", "[6, 4, 4]", "dim=4 is out of range", "use a dim between 1 and 3"),
]


@pytest.mark.parametrize(("call", "shape", "text", "hint"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_have_a_code_a_location_and_a_hint(cli: Any, spec_file: Any, call: str, shape: str, text: str,
                                                  hint: str) -> None:
    spec = spec_file(HEAD + f"input: {shape}\nlayers:\n  - x: {call}\n")
    result = cli("validate", spec)
    assert result.code != 0 and result.code != 70
    assert f"{spec}:5:" in result.err and "error[E505]" in result.err and text in result.err, result.err
    assert f"hint: {hint}" in result.err, result.err
