"""Every spec the repository holds runs in ``build()`` exactly as the oracle runs its IR.

The oracle (tests/oracle.py) interprets the lowered graph with ``torch.nn.functional``;
:func:`tests.emit.agreement.agree` compares it with the emitted network in eval and train
mode, and checks parameters, MACs and the inference variant against torch. The specs:

- one small network per op sample of tests/ops/test_ops_vs_torch.py (every op, several
  attribute combinations), so each op's oracle is checked against its emitted module;
- every shipped spec, on a small input where the size does not change the network;
- the tutorial steps, the docs' spec files, and the complete specs in the docs' YAML blocks;
- the valid specs written out in the test suite's own files (found by reading them).

The generated specs are in tests/test_differential.py; the issue-13 repros in
tests/emit/test_issue13.py.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

import archc
from archc.diagnostics import ArchcError
from archc.ops import registry
from archc.spec.loader import shipped_names

from ..conftest import ROOT
from ..ops.test_ops_vs_torch import SAMPLES, _attrs
from ..oracle import OPS
from .agreement import agree


def test_every_registered_op_has_an_oracle() -> None:
    missing = [op.name for op in registry() if op.name not in OPS]
    assert not missing, f"ops the oracle (tests/oracle.py) cannot run: {missing}"
    unknown = [name for name in OPS if name not in registry()]
    assert not unknown, f"oracle entries for unregistered ops: {unknown}"


# --- one network per op sample -------------------------------------------------------------------


def op_spec(call: str, shapes: list[tuple[int, ...]]) -> str:
    """A network applying ``call`` to its input; a merge joins parallel branches: the input itself
    and, for each further input, a layer with parameters that makes its shape (a 1×1 convolution
    and an adaptive pool, or a linear layer)."""
    lines = ["archc: 1", "name: op_sample", f"input: {list(shapes[0])}", "layers:"]
    op, attrs = _attrs(call)
    if op.arity is not None:
        return "\n".join([*lines, f"  - x: {call}", ""])
    branches = ["b0: identity"]
    for k, shape in enumerate(shapes[1:], start=1):
        if len(shape) == 3:
            branches.append(f"b{k}: [conv({shape[0]}, 1), adaptive_avgpool([{shape[1]}, {shape[2]}])]")
        else:
            assert len(shape) == 1, shape
            branches.append(f"b{k}: linear({shape[0]})")
    dim = f", dim: {attrs.dim}" if op.name == "concat" else ""
    return "\n".join([*lines, f"  - x: {{parallel: {{{', '.join(branches)}}}, merge: {op.name}{dim}}}", ""])


OP_CASES = [(name, call, shapes) for name, samples in SAMPLES.items() for call, shapes, _ in samples]


@pytest.mark.parametrize(("name", "call", "shapes"), OP_CASES, ids=[f"{c[0]}:{c[1]}" for c in OP_CASES])
def test_op_sample(name: str, call: str, shapes: list[tuple[int, ...]]) -> None:
    agree(archc.load("op_sample.yaml", text=op_spec(call, shapes)))


# --- shipped specs ---------------------------------------------------------------------------------


def small_input(spec: object) -> tuple[int, ...] | None:
    """The smallest of a few sizes (channels kept) that the spec accepts; None: its own."""
    shape = archc.lower(spec).input_shape
    if len(shape) < 2:
        return None
    for size in (8, 16, 32, 64, 112):
        if size >= min(shape[1:]):
            return None
        smaller = (shape[0], *(size,) * (len(shape) - 1))
        try:
            archc.lower(spec, input=smaller)
        except ArchcError:
            continue
        return smaller
    return None


@pytest.mark.parametrize("name", shipped_names())
def test_shipped_spec(name: str) -> None:
    program = archc.load(name)
    # lean: the backward pass of 100 M-parameter classifiers costs seconds (tests/emit/test_training.py
    # and tests/zoo train these layouts), and one train step shows the statistics update as the oracle's
    agree(program, input=small_input(program), backward=False, steps=1)


# Shipped specs whose parameters change the network, in their other setting
SHIPPED_SETTINGS = [("googlenet", {"transform_input": True})]  # the setting its published weights need


@pytest.mark.parametrize(("name", "overrides"), SHIPPED_SETTINGS, ids=[n for n, _ in SHIPPED_SETTINGS])
def test_shipped_spec_in_another_setting(name: str, overrides: dict[str, object]) -> None:
    program = archc.load(name)
    agree(program, input=small_input(program), backward=False, steps=1, **overrides)


# --- the docs ------------------------------------------------------------------------------------------

# The tutorial's second step shows an error on purpose (its text walks through the message).
SHOWS_AN_ERROR = {"docs/tutorial/step2.yaml": "E501"}
DOC_FILES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.yaml")
                   if str(p.relative_to(ROOT)) not in SHOWS_AN_ERROR)


def test_the_docs_hold_spec_files() -> None:
    assert len([f for f in DOC_FILES if f.startswith("docs/tutorial/")]) >= 2, DOC_FILES
    assert len(DOC_FILES) >= 5, DOC_FILES
    for path, code in SHOWS_AN_ERROR.items():
        with pytest.raises(ArchcError, match=code):
            archc.lower(ROOT / path)


@pytest.mark.parametrize("path", DOC_FILES)
def test_doc_spec_file(path: str) -> None:
    program = archc.load(ROOT / path)
    agree(program, input=small_input(program))


def doc_blocks() -> list[tuple[str, int, str]]:
    """(file, index, text) of each YAML block in README.md and docs/ that is a complete spec."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        blocks = re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S)
        for k, text in enumerate(blocks):
            if re.search(r"^archc: 1$", text, re.M) and re.search(r"^(layers|extends):", text, re.M):
                found.append((str(path.relative_to(ROOT)), k, text))
    return found


DOC_BLOCKS = doc_blocks()


def test_the_docs_hold_complete_specs() -> None:
    assert len(DOC_BLOCKS) >= 5, [(f, k) for f, k, _ in DOC_BLOCKS]


@pytest.mark.parametrize(("path", "index", "text"), DOC_BLOCKS, ids=[f"{f}#{k}" for f, k, _ in DOC_BLOCKS])
def test_doc_block(path: str, index: int, text: str) -> None:
    # written beside the shipped specs' names: a variant's `extends: _resnet.yaml` finds the shipped file
    program = archc.load(f"{Path(path).stem}_{index}.yaml", text=text)
    agree(program, input=small_input(program))


# --- specs written out in the test suite ---------------------------------------------------------------


# Their specs are checked there, with the known miscompiles marked as expected failures (and
# test_refusals_located.py's and test_module_ir.py's are specs emission must refuse, E720: no
# network to agree).
OWN = {"tests/emit/test_issue13.py", "tests/test_differential.py", "tests/emit/test_refusals_located.py",
       "tests/ir/test_module_ir.py"}


def suite_specs() -> list[tuple[str, int, str]]:
    """(file, line, text) of every string constant in tests/ that is a valid, complete spec."""
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if str(path.relative_to(ROOT)) in OWN:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str) and "archc: 1" in node.value):
                continue
            text = textwrap.dedent(node.value).lstrip("\n")
            if not re.search(r"^layers:", text, re.M):
                continue
            try:
                archc.lower(archc.load("suite.yaml", text=text))
            except ArchcError:
                continue  # an invalid spec, there on purpose (or needing files of its test)
            found.append((str(path.relative_to(ROOT)), node.lineno, text))
    return found


SUITE = suite_specs()

def test_the_suite_holds_specs() -> None:
    assert len(SUITE) >= 30, len(SUITE)


@pytest.mark.parametrize(("path", "line", "text"), SUITE, ids=[f"{p}:{n}" for p, n, _ in SUITE])
def test_suite_spec(path: str, line: int, text: str) -> None:
    agree(archc.load("suite.yaml", text=text))
