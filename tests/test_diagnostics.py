"""Every error a spec can cause: located (file:line:col), explained, exit code 2, no traceback.

Each case is a small bad spec with the code, position and words its diagnostic must
carry. Positions are 1-based and point at the text that caused the error.
"""

from __future__ import annotations

import pytest

HEAD = "archc: 1\nname: bad\ninput: [3, 32, 32]\n"

CASES = {
    "yaml_syntax": (
        "archc: 1\nname: x\n  input: [3\n",
        "E101", 3, 8, "YAML syntax error", "indentation"),
    "unknown_op": (
        HEAD + "layers:\n  - pool: maxpol(2)\n",
        "E300", 5, 11, "unknown op or block 'maxpol'", "did you mean 'maxpool'?"),
    "unknown_argument": (
        HEAD + "layers:\n  - stem: conv(16, 3, paddin=1)\n",
        "E301", 5, 23, "conv() has no argument 'paddin'", "did you mean 'padding'?"),
    "missing_argument": (
        HEAD + "layers:\n  - flatten\n  - fc: linear()\n",
        "E302", 6, 9, "missing its argument 'out'", "linear(out)"),
    "missing_block_argument": (
        HEAD + "blocks:\n  B: {params: {c: int}, layers: [conv(c, 3)]}\nlayers:\n  - b: B()\n",
        "E302", 7, 8, "B() is missing its argument 'c'", "B(c)"),
    "wrong_type": (
        HEAD + "layers:\n  - c: conv(8, 'x')\n",
        "E202", 5, 16, "'kernel' must be an integer or a list of integers, got text 'x'", None),
    "list_too_short": (
        HEAD + "layers:\n  - p: pad([0, 0, 0, 0, 16])\n",
        "E202", 5, 12, "pad(): 'padding' must be a list of 6 integers, got list [0, 0, 0, 0, 16]", None),
    "pad_crops_to_nothing": (
        HEAD + "layers:\n  - p: pad([0, 0, 0, 0, -3, 0])\n",
        "E503", 5, 12, "crops the 3×32×32 input to 0×32×32", "at least 1"),  # at the padding list
    "wrong_type_in_schema": (
        "archc: 1\nname: bad\ninput: [3, 32, 32]\nblocks:\n  B: {inline: 3, layers: [relu]}\nlayers: [relu]\n",
        "E202", 5, 15, "'inline' in block 'B'", "true or false"),
    "undefined_name": (
        HEAD + "params: {width: 16}\nlayers:\n  - c: conv(widht * 2, 3)\n",
        "E401", 6, 13, "name 'widht' is not defined", "did you mean 'width'?"),
    "residual_channel_mismatch": (
        HEAD + "blocks:\n  Res:\n    params: {c: int}\n    residual:\n      body:\n"
               "        - conv1: conv(c, 3, padding=1)\n        - bn1: bn()\n"
               "layers:\n  - stem: conv(16, 3, padding=1)\n  - b1: Res(32)\n",
        "E501", 7, 5, "channel mismatch at residual add: 32×32×32 vs 16×32×32", "add a projection"),
    "concat_spatial_mismatch": (
        HEAD + "layers:\n  - p: {parallel: {a: conv(8, 3), b: conv(8, 1)}}\n",
        "E502", 5, 9, "mismatched spatial sizes at the concat of parallel branches: 8×30×30 vs 8×32×32",
        "same size"),
    "shrinks_to_zero": (
        HEAD + "layers:\n  - features: {repeat: 6, each: [conv(8, 3, stride=2), relu]}\n",
        "E503", 5, 34, "smaller than the kernel", "shrinks to zero"),
    "unknown_from_reference": (
        HEAD + "layers:\n  - stem: conv(8, 3)\n  - u: {from: stemm, layers: relu}\n",
        "E305", 6, 15, "unknown reference 'stemm'", "did you mean 'stem'?"),
    "forward_from_reference": (
        HEAD + "layers:\n  - u: {from: later, layers: relu}\n  - later: conv(8, 3)\n",
        "E305", 5, 15, "'later' is defined later", "move this entry"),
    "recursive_block": (
        HEAD + "blocks:\n  Loop:\n    params: {c: int}\n    layers:\n      - inner: Loop(c)\nlayers:\n  - v: Loop(4)\n",
        "E306", 8, 16, "block 'Loop' uses itself", "repeat"),
    "mutually_recursive_blocks": (
        HEAD + "blocks:\n  A: {layers: [b: B()]}\n  B: {layers: [a: A()]}\nlayers:\n  - x: A()\n",
        "E306", 6, 19, "block 'A' uses itself (A → B → A)", None),
    "unknown_key": (
        HEAD + "layrs: [relu]\n",
        "E200", 4, 1, "unknown key 'layrs' in the spec", "did you mean 'layers'?"),
    "duplicate_name": (
        HEAD + "layers:\n  - c: conv(8, 3)\n  - c: conv(8, 3)\n",
        "E303", 6, 5, "the name 'c' is used twice", "its own name"),
    "keyword_name": (
        HEAD + "layers:\n  - def: conv(8, 3)\n",
        "E304", 5, 5, "'def' is a Python keyword", None),
    "unnamed_layer_with_parameters": (
        HEAD + "layers:\n  - stem: conv(8, 3)\n  - conv(8, 3)\n",
        "E304", 6, 5, "has parameters but no name", "state_dict key"),
    "division_by_zero": (
        HEAD + "params: {n: 0}\nlayers:\n  - c: conv(8 // n, 3)\n",
        "E403", 6, 13, "division by zero", None),
    "yaml_octal": (
        HEAD + "params: {n: 010}\nlayers: [relu]\n",
        "E106", 4, 13, "octal", "leading zeros"),
    "yaml_no_as_bool": (
        HEAD + "params: {flag: no}\nlayers: [relu]\n",
        "E106", 4, 16, "YAML 1.1 reads 'no' as a boolean", "write true or false"),
    "unknown_override_target": (
        HEAD + "train_outputs: [aux]\nlayers: [relu]\n",
        "E305", 4, 17, "'aux' in train_outputs is not a training-only head", None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_located_diagnostic(case: str, cli, spec_file) -> None:
    text, code, line, col, message, hint = CASES[case]
    path = spec_file(text)
    result = cli("validate", path)
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    first = result.err.splitlines()[0]
    assert first.startswith(f"{path}:{line}:{col}: error[{code}]:"), result.err
    assert message in first, result.err
    if hint:
        assert "hint:" in result.err and hint in result.err, result.err
    # the source line is shown with a caret under the offending text
    assert f" {line} | " in result.err and "^" in result.err


def test_every_error_is_reported_sorted_by_position(cli, spec_file) -> None:
    path = spec_file(HEAD + "layers:\n  - a: conv(8, paddin=1)\n  - b: maxpol(2)\n  - c: conv(nope, 3)\n")
    result = cli("validate", path)
    assert result.code == 2
    firsts = [line for line in result.err.splitlines() if ": error[" in line]
    assert [f.split(": error[")[1][:4] for f in firsts] == ["E301", "E300", "E401"]
    assert [int(f.split(":")[1]) for f in firsts] == [5, 6, 7]


def test_error_in_a_repeat_names_the_repeat_and_the_call(cli, spec_file) -> None:
    path = spec_file(HEAD + "blocks:\n  Down:\n    params: {c: int}\n    layers:\n      - conv: conv(c, 3, stride=2)\n"
                            "layers:\n  - s: {repeat: 5, each: Down(8)}\n")
    result = cli("validate", path)
    assert result.code == 2
    assert f"{path}:8:15: error[E503]" in result.err  # the conv line inside the block
    # 32 -> 15 -> 7 -> 3 -> 1: the fifth stride-2 conv (i=4) has nothing left to convolve
    assert "in repeat i=4 of 's'" in result.err
    assert "in block 'Down' called as 's.4'" in result.err


def test_shape_error_shows_both_sides_and_their_origin(cli, spec_file) -> None:
    text, *_ = CASES["residual_channel_mismatch"]
    result = cli("validate", spec_file(text))
    assert "note: body: 32×32×32 from 'b1.bn1'" in result.err
    assert "note: shortcut (identity): 16×32×32 from 'stem'" in result.err


def test_unknown_spec_name_suggests_a_shipped_one(cli) -> None:
    result = cli("table", "resnet5")
    assert result.code == 2
    assert "no spec file or shipped spec named 'resnet5'" in result.err
    assert "did you mean 'resnet50'?" in result.err


def test_bad_command_line_override(cli) -> None:
    result = cli("table", "resnet50", "--set", "num_clases=10")
    assert result.code == 2
    assert "'num_clases' is not a parameter of resnet50" in result.err
    assert "did you mean 'num_classes'?" in result.err
    result = cli("table", "resnet50", "--set", "num_classes=ten")
    assert result.code == 2 and "name 'ten' is not defined" in result.err
    result = cli("table", "resnet50", "--set", "num_classes=2.5")
    assert result.code == 2 and "parameter 'num_classes' must be int, got float 2.5" in result.err


def test_warning_for_an_unused_output(cli, spec_file) -> None:
    path = spec_file(HEAD + "layers:\n  - a: conv(8, 3)\n  - b: conv(8, 3)\n  - c: {from: a, layers: relu}\n")
    result = cli("validate", path)
    assert result.code == 0
    assert f"{path}:6:8: warning[W100]: the output of 'b' is never used" in result.err


def test_json_diagnostics(cli, spec_file) -> None:
    import json

    result = cli("validate", "--format", "json", spec_file(HEAD + "layers:\n  - pool: maxpol(2)\n"))
    assert result.code == 2
    (diag,) = json.loads(result.err)
    assert diag["code"] == "E300" and diag["span"]["line"] == 5 and diag["hint"] == "did you mean 'maxpool'?"


def test_parallel_add_mismatch_says_add(cli, spec_file) -> None:
    path = spec_file(HEAD + "layers:\n  - p: {parallel: {a: conv(8, 1), b: conv(4, 1)}, merge: add}\n")
    result = cli("validate", path)
    assert result.code == 2 and "channel mismatch at the add of parallel branches: 8×32×32 vs 4×32×32" in result.err


def test_spec_text_cannot_drive_the_terminal(cli, spec_file) -> None:
    # double-quoted YAML can hold ESC, bidi overrides and zero-width spaces; none reaches the terminal raw
    path = spec_file('archc: 1\nname: "n\\e[2J"\ndoc: "\\e]0;title\\a\\u202eevil"\ninput: [3, 8, 8]\n'
                     'layers: [{"b\\e[31m": relu}, {"c\\u200b": relu}]\n')
    result = cli("validate", path)
    assert result.code == 2
    assert "\x1b" not in result.err and "\u200b" not in result.err and "\u202e" not in result.err
    # each key's invisible character named and made visible (written as escapes: located at the key)
    assert ":5:11: error[E101]: invisible character U+001B (escape, a control character) in the key 'b\\x1b[31m'" \
        in result.err
    assert ":5:30: error[E101]: invisible character U+200B (a zero-width space) in the key 'c\\u200b'" in result.err
    path = spec_file('archc: 1\nname: "n\\e[2J"\ndoc: "\\e]0;title\\a\\u202eevil"\ninput: [3, 8, 8]\nlayers: [relu]\n')
    for fmt in ("text", "markdown"):
        result = cli("table", path, "--format", fmt)
        assert result.code == 0 and "\x1b" not in result.out and "\u202e" not in result.out
        assert "n\\x1b[2J" in result.out
        result = cli("diff", path, path, "--format", fmt)
        assert result.code == 0 and "\x1b" not in result.out and "n\\x1b[2J" in result.out


def test_a_blank_doc_is_no_summary(cli, spec_file) -> None:
    path = spec_file('archc: 1\nname: t\ndoc: "\\r \\n"\ninput: [3, 8, 8]\nlayers: [relu]\n')
    result = cli("table", path)
    assert result.code == 0 and result.out.splitlines()[1].startswith("─")


def test_warnings_never_crowd_out_errors() -> None:
    # errors and warnings are kept up to the limit each: 250 warnings before an error must not drop
    # it (a run with only warnings kept would end without the error it found)
    from archc.diagnostics import ArchcError, Reporter

    r = Reporter()
    for k in range(250):
        r.warn("W100", f"the output of 'a{k}' is never used")
    assert len(r.warnings) == r.limit and not r.full
    r.error("E505", "conv: out=4 cannot be split into groups=3")
    assert [d.code for d in r.errors] == ["E505"]
    try:
        r.check()
    except ArchcError as err:
        assert [d.code for d in err.diagnostics] == ["E505"]
    else:
        raise AssertionError("check() must raise")
    for k in range(300):
        r.error("E505", f"error {k}")
    assert r.full and len(r.errors) == r.limit


def test_the_same_error_in_a_block_called_many_times_is_reported_once(cli, spec_file) -> None:
    """Issue 17: an unnamed `parallel:` inside a block called eight times gave eight identical E304s;
    now one, naming the other calls (three, then a count)."""
    calls = "".join(f"  - i{k}: Inc({4 + k})\n" for k in range(8))
    path = spec_file(HEAD + "blocks:\n  Inc:\n    params: {c: int}\n    layers:\n      - conv1: conv(c, 1)\n"
                            "      - parallel: {a: conv(c, 1), b: conv(c, 3, padding=1)}\nlayers:\n" + calls)
    result = cli("validate", path)
    assert result.code == 2
    assert result.err.count("error[E304]") == 1
    assert "note: in block 'Inc' called as 'i0'" in result.err
    assert [line.split("called as ")[1][:4] for line in result.err.splitlines() if "the same error also" in line] \
        == ["'i1'", "'i2'", "'i3'"]
    assert "note: and 4 more calls" in result.err
