"""Fuzzing: whatever a spec file holds, archc answers with output or located diagnostics.

Three kinds of input, drawn by hypothesis:

- random text and random bytes (binary, invalid UTF-8, NUL, control characters);
- random YAML documents built structurally from the spec language's vocabulary (keys,
  op and block names, layer calls with plausible and absurd arguments, containers),
  so that most of them get past the YAML and schema stages into lowering;
- mutations of the shipped specs (lines deleted, duplicated, swapped or re-indented,
  numbers changed, junk inserted, keys renamed), written next to the files they
  extend or import so that errors also arise across files.

The property, for ``archc validate``, ``archc table`` (in every format) and ``archc
compile``: the exit code is 0 or 2 (never 70, an internal error, and never an uncaught
exception); validate and table agree, and compile fails only where they do or with its
own located error; every error carries a span ``file:line:col`` inside the file it
names; emitted source compiles and has the fixed skeleton of statements whatever the
spec's text. A timer turns a hang into a failure.

CI runs ``ARCHC_FUZZ_EXAMPLES`` examples in all (default 2,100); for a long local run:
``ARCHC_FUZZ_EXAMPLES=50000 pytest tests/test_fuzz.py``.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import shutil
import signal
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archc.cli import main
from archc.ops import registry
from archc.spec.loader import shipped_dir

TOTAL = int(os.environ.get("ARCHC_FUZZ_EXAMPLES", "2100"))
HANG_SECONDS = 10


def _settings(share: float) -> settings:
    return settings(max_examples=max(1, int(TOTAL * share)), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


class Hang(Exception):
    pass


@contextlib.contextmanager
def hang_guard(seconds: float):
    def alarm(signum, frame):  # pragma: no cover - only on a hang
        raise Hang(f"archc ran for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with hang_guard(HANG_SECONDS), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


FORMATS = ("text", "json", "csv", "markdown")
_LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (error|warning)\[[EW]\d{3}\]: ")


def check_spec(path: Path) -> int:
    """Run validate (JSON diagnostics) and table on ``path``; check the property; return the exit code."""
    files = {str(p.resolve()): p for p in path.parent.iterdir() if p.is_file()}
    code, _, err = run("validate", "--format", "json", str(path))
    assert code in (0, 2), err
    diags = json.loads(err) if err.strip() else []
    errors = [d for d in diags if d["severity"] == "error"]
    assert bool(errors) == (code == 2), err
    for d in diags:
        span = d["span"]
        assert span is not None, d
        assert span["line"] >= 1 and span["col"] >= 1, d
        target = files.get(str(Path(span["file"]).resolve()))
        if target is not None:  # within a file of this test: the line exists (or is the end of the file)
            text = target.read_bytes().decode("utf-8", "replace")
            assert span["line"] <= len(text.splitlines()) + 1, (d, len(text.splitlines()))
    tcode, _, terr = run("table", str(path), "--format", FORMATS[path.stat().st_size % len(FORMATS)])
    assert tcode == code, terr
    ccode, source, cerr = run("compile", str(path), "-o", "-")
    assert ccode in (0, 2) and (ccode == 2 or code == 0), cerr
    if ccode == 0:
        check_source(source)
    for line in (terr + cerr).splitlines():
        if "error[" in line and not line.startswith(" "):
            assert _LOCATED.match(line), line
    assert "Traceback" not in err + terr + cerr
    return code


def check_source(source: str) -> None:
    """Emitted code compiles, and spec text added no statement to its skeleton (see tests/emit/test_injection.py)."""
    compile(source, "<emitted>", "exec")
    tree = ast.parse(source)
    assert all(isinstance(n, (ast.Expr, ast.ImportFrom, ast.Import, ast.Assign, ast.ClassDef, ast.FunctionDef))
               for n in tree.body)
    # `import torch` only where the code names torch (a network of nn.Sequential classes does not), and
    # `import math` only where an expression computes with ceil/floor (EfficientNet's depth_mult)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))] == [
        "from __future__ import annotations", *(["import math"] if "math" in names else []),
        *(["import torch"] if "torch" in names else []), "from torch import nn"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def fresh(workdir: Path) -> Path:
    for p in workdir.iterdir():
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()
    return workdir


# --- random text and bytes ------------------------------------------------------------------

YAMLISH = st.sampled_from(list(":-[]{}(),#&*!|>'\"%@`?\t\n \r\u2028\x85\ufeff\x00") +
                          ["  ", "- ", ": ", "<<", "---", '"\\ud800"', '"\\e[2J"', '"\\x00"'])
texts = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(YAMLISH, st.text(max_size=8), st.sampled_from(["archc", "layers", "input", "conv(8, 3)"])),
             max_size=60).map("".join),
)


@_settings(0.12)
@given(texts)
def test_random_text(workdir: Path, text: str) -> None:
    path = fresh(workdir) / "spec.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    check_spec(path)


@_settings(0.04)
@given(st.binary(max_size=300))
def test_random_bytes(workdir: Path, data: bytes) -> None:
    path = fresh(workdir) / "spec.yaml"
    path.write_bytes(data)
    check_spec(path)


# --- random YAML documents, built from the spec language's vocabulary ----------------------------

OPS = sorted(registry().names)
BLOCKS = ["Block", "Res", "Stage", "Mixed", "blk"]
NAMES = ["a", "b", "c", "stem", "conv1", "bn1", "relu", "fc", "layer1", "i", "j", "x", "input", "forward", "self",
         "__import__", "os", "def", "0", "_x", "A", "Block", "ñ", "c\u200b", "a-b", "training", "s\ud800",
         "e\x1b[2J", "n\nl"]
PARAMS = ["width", "depth", "stride", "num_classes", "c", "n", "flag", "block", "xs"]
KEYS = ["layers", "parallel", "residual", "repeat", "each", "index", "merge", "dim", "doc", "from", "training_only",
        "when", "body", "shortcut", "then", "params", "inline", "blocks", "imports", "extends", "input", "name",
        "archc", "train_outputs", "init", "conv", "linear", "norm"]

ints = st.one_of(st.integers(-3, 70), st.sampled_from([0, 1, 2, 3, 64, 1000, 10**6, 10**9, 10**18, 10**19, -1]))
atoms = st.one_of(ints.map(str), st.sampled_from(PARAMS + ["i", "j", "input.channels", "input.height", "input.width",
                                                          "input.length", "true", "false", "none", "0.5", "'same'",
                                                          "[1, 2]", "[]", "xs[0]", "xs[9]", "1e400"]))
exprs = st.recursive(atoms, lambda e: st.one_of(
    st.tuples(e, st.sampled_from(["+", "-", "*", "//", "%", "==", "<", "and", "or"]), e).map(" ".join),
    st.tuples(st.sampled_from(["min", "max", "len", "-", "not ", ""]), e).map(lambda t: f"{t[0]}({t[1]})"),
    st.tuples(e, e, e).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
), max_leaves=6)
ARG_NAMES = ["stride", "padding", "dilation", "groups", "bias", "kernel", "out", "p", "dim", "eps", "ceil_mode",
             "output_size", "start_dim", "end_dim", "width", "depth", "paddin", "inplace"]


@st.composite
def calls(draw: st.DrawFn) -> str:
    callee = draw(st.one_of(st.sampled_from(OPS), st.sampled_from(BLOCKS + PARAMS + ["maxpol", "Conv", "x.y"])))
    if draw(st.booleans()):
        return callee
    args = draw(st.lists(exprs, max_size=3))
    kwargs = draw(st.lists(st.tuples(st.sampled_from(ARG_NAMES), exprs), max_size=3))
    return f"{callee}({', '.join([*args, *(f'{k}={v}' for k, v in kwargs)])})"


def entries(children: st.SearchStrategy) -> st.SearchStrategy:
    name = st.sampled_from(NAMES)
    lists = st.lists(children, max_size=4)
    return st.one_of(
        calls(),
        st.dictionaries(name, st.one_of(calls(), lists, children), min_size=1, max_size=1),
        st.fixed_dictionaries({"repeat": st.one_of(ints, exprs), "each": st.one_of(calls(), lists)},
                              optional={"index": st.sampled_from(["i", "j", "k", "input"])}),
        st.fixed_dictionaries({"parallel": st.dictionaries(name, st.one_of(calls(), lists), max_size=3)},
                              optional={"merge": st.sampled_from(["concat", "add", "mul"]), "dim": ints}),
        st.fixed_dictionaries({"residual": st.fixed_dictionaries(
            {"body": lists}, optional={"shortcut": st.one_of(calls(), lists, children), "then": calls(),
                                       "when": exprs})}),
        st.fixed_dictionaries({"from": st.one_of(st.sampled_from(NAMES), st.lists(st.sampled_from(NAMES), max_size=3))},
                              optional={"layers": st.one_of(calls(), lists), "training_only": st.booleans(),
                                        "merge": st.sampled_from(["concat", "add"]), "when": exprs}),
        st.fixed_dictionaries({"layers": lists}, optional={"when": exprs, "doc": st.text(max_size=10)}),
    )


entry = st.recursive(calls(), entries, max_leaves=12)
scalars = st.one_of(ints, st.floats(allow_nan=True), st.booleans(), st.none(), st.text(max_size=10), exprs,
                    st.sampled_from(["int", "float", "bool", "str", "list", "block"]))
param_maps = st.dictionaries(st.sampled_from(PARAMS + NAMES), st.one_of(scalars, st.lists(ints, max_size=4)),
                             max_size=4)
block_defs = st.one_of(
    st.fixed_dictionaries({"layers": st.lists(entry, max_size=4)},
                          optional={"params": param_maps, "inline": st.booleans(), "doc": st.text(max_size=10)}),
    st.fixed_dictionaries({"repeat": st.one_of(ints, exprs), "each": entry}, optional={"params": param_maps}),
    st.fixed_dictionaries({"parallel": st.dictionaries(st.sampled_from(NAMES), entry, max_size=3)},
                          optional={"params": param_maps}),
    st.fixed_dictionaries({"residual": st.fixed_dictionaries({"body": st.lists(entry, max_size=3)},
                                                             optional={"shortcut": entry, "then": calls()})},
                          optional={"params": param_maps}),
)
shapes = st.one_of(st.lists(st.integers(-1, 40), max_size=4), st.just([3, 32, 32]), st.just([3, 224, 224]),
                   st.just([16, 100]), st.just([10]), st.just([3, 10**8, 10**8]))
specs = st.fixed_dictionaries(
    {"archc": st.sampled_from([1, 1, 1, 2, "1"]), "name": st.sampled_from(["net", "", "x y", "d\ud800", "\x1b]0;t"]),
     "input": shapes, "layers": st.lists(entry, max_size=6)},
    optional={"params": param_maps, "blocks": st.dictionaries(st.sampled_from(BLOCKS + OPS[:3]), block_defs,
                                                              max_size=3),
              "doc": st.text(max_size=20), "train_outputs": st.lists(st.sampled_from(NAMES), max_size=2),
              "init": st.dictionaries(st.sampled_from(["conv", "linear", "norm", "std", "bogus"]), scalars,
                                      max_size=2),
              "extends": st.sampled_from(["_resnet.yaml", "resnet50.yaml", "spec.yaml", "nowhere.yaml"]),
              "imports": st.lists(st.fixed_dictionaries({"from": st.sampled_from(["_resnet.yaml", "spec.yaml",
                                                                                  "other.yaml", "../x.yaml"]),
                                                         "blocks": st.lists(st.sampled_from(BLOCKS + ["Bottleneck"]),
                                                                            max_size=2)}), max_size=2)},
)
any_yaml = st.recursive(scalars, lambda c: st.one_of(
    st.lists(c, max_size=4), st.dictionaries(st.one_of(st.sampled_from(KEYS + NAMES), st.text(max_size=5)), c,
                                             max_size=4)), max_leaves=20)


def dump(doc: object, flow: bool | None) -> str:
    return yaml.safe_dump(doc, default_flow_style=flow, sort_keys=False, allow_unicode=True, width=10**6)


@_settings(0.34)
@given(specs, st.sampled_from([None, False, True]))
def test_random_specs(workdir: Path, doc: dict, flow: bool | None) -> None:
    path = fresh(workdir) / "spec.yaml"
    path.write_text(dump(doc, flow), encoding="utf-8")
    check_spec(path)


@_settings(0.1)
@given(any_yaml)
def test_random_yaml(workdir: Path, doc: object) -> None:
    path = fresh(workdir) / "spec.yaml"
    path.write_text(dump(doc, None), encoding="utf-8")
    check_spec(path)


# --- mutations of the shipped specs -----------------------------------------------------------------

SHIPPED = {p.name: p.read_text(encoding="utf-8") for p in sorted(shipped_dir().glob("*.yaml"))}
LEAVES = [n for n in SHIPPED if not n.startswith("_")]
FILE_NAMES = [n for n in NAMES if not any(0xD800 <= ord(c) <= 0xDFFF for c in n)]  # what UTF-8 text can hold
JUNK = ["", " ", ":", "- ", "[", "]", "{", "}", "(", ")", ",", "#", "&a", "*a", "!!str", "'", '"', "\t", "\x00",
        "\u200b", "0", "-1", "999999999999", "10**9", "1e-3", "no", "010", "2024-01-01", "<<", "~", "conv(", "relu",
        "x" * 200]


@st.composite
def mutation(draw: st.DrawFn) -> tuple[str, str]:
    """(file to mutate, its mutated text)."""
    name = draw(st.sampled_from(sorted(SHIPPED)))
    lines = SHIPPED[name].splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        k = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "number", "junk", "rename", "indent", "truncate",
                                     "blank"]))
        line = lines[k]
        if kind == "delete":
            del lines[k]
        elif kind == "duplicate":
            lines.insert(k, line)
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[k], lines[j] = lines[j], lines[k]
        elif kind == "number":
            nums = list(re.finditer(r"\d+", line))
            if nums:
                m = draw(st.sampled_from(nums))
                new = draw(st.sampled_from(["0", "-1", "1", "3", "7", "1000000", "10000000000", "2.5", "x", ""]))
                lines[k] = line[: m.start()] + new + line[m.end():]
        elif kind == "junk":
            pos = draw(st.integers(0, len(line)))
            lines[k] = line[:pos] + draw(st.sampled_from(JUNK)) + line[pos:]
        elif kind == "rename":
            words = list(re.finditer(r"[A-Za-z_][A-Za-z0-9_]*", line))
            if words:
                m = draw(st.sampled_from(words))
                new = draw(st.sampled_from([*FILE_NAMES, *OPS[:5], *BLOCKS, m.group()[:-1], m.group() + "s"]))
                lines[k] = line[: m.start()] + new + line[m.end():]
        elif kind == "indent":
            lines[k] = draw(st.sampled_from(["", " ", "  ", "    ", "\t"])) + line.lstrip()
        elif kind == "truncate":
            lines[k] = line[: draw(st.integers(0, len(line)))]
        else:
            lines.insert(k, "")
    return name, "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))


def readers(name: str) -> list[str]:
    """The shipped specs that read ``name``: itself if it is a network, else those that extend or import it."""
    if name in LEAVES:
        return [name]
    return [leaf for leaf in LEAVES if name in SHIPPED[leaf]] or LEAVES[:1]


@_settings(0.4)
@given(mutation(), st.booleans(), st.data())
def test_mutated_shipped_specs(workdir: Path, mutated: tuple[str, str], crlf: bool, data: st.DataObject) -> None:
    folder = fresh(workdir)
    name, text = mutated
    for other, original in SHIPPED.items():
        (folder / other).write_text(original, encoding="utf-8")
    (folder / name).write_bytes((text.replace("\n", "\r\n") if crlf else text).encode("utf-8"))
    check_spec(folder / data.draw(st.sampled_from(readers(name)), label="checked"))
