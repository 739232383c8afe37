"""Two constructs Inception-v3 needs (issue 17), each checked against torch:

- block parameters typed ``int | pair`` (``kernel_size: int | pair``, ``stride: int | pair = 1``):
  one size or ``[height, width]``, passed on to ``conv``, kept a parameter of the emitted class
  (not specialised per call), anything else a located E202 with a hint;
- ``parallel:`` written as a list: each branch an entry of the enclosing list, so that the
  branches' modules are the enclosing module's children (torchvision's flat ``branch5x5_1`` /
  ``branch5x5_2`` siblings), merged in the order written.

The networks here run against the oracle (tests/emit/agreement.py: emitted module vs the IR's
interpreter in eval and train mode, counts vs torch); InceptionA, InceptionC and InceptionE are
compared with torchvision's own modules, state_dict and outputs.
"""

from __future__ import annotations

import textwrap

import pytest
import torch

import archc
from archc.diagnostics import ArchcError

from ..emit.agreement import agree
from ..emit.test_inference import randomize_norms

BASIC = """
  BasicConv2d:
    params: {out_channels: int, kernel_size: int | pair, stride: int | pair = 1, padding: int | pair = 0}
    layers:
      - conv: conv(out_channels, kernel_size, stride=stride, padding=padding, bias=false)
      - bn: bn(eps=0.001)
      - relu
"""

FACTORISED = """
archc: 1
name: factorised
input: [4, 9, 9]
blocks:
  BasicConv2d:
    params: {out_channels: int, kernel_size: int | pair, stride: int | pair = 1, padding: int | pair = 0}
    layers:
      - conv: conv(out_channels, kernel_size, stride=stride, padding=padding, bias=false)
      - bn: bn(eps=0.001)
      - relu
  Twice:
    params: {k: int | pair, p: int | pair = 0}
    layers:
      - first: BasicConv2d(6, k, padding=p)
      - second: BasicConv2d(6, k, padding=p, stride=[2, 1])
layers:
  - square: BasicConv2d(6, 3, padding=1)
  - wide: BasicConv2d(6, [1, 7], padding=[0, 3])
  - tall: Twice([7, 1], [3, 0])
  - plain: Twice(3)
"""

STRIDED_RESIDUAL = """
archc: 1
name: strided_residual
input: [4, 8, 8]
blocks:
  Res:
    params: {c: int, stride: int | pair = 1}
    residual:
      body:
        - conv1: conv(c, 3, stride=stride, padding=1, bias=false)
        - bn1: bn()
        - relu
      shortcut:
        downsample: ["conv(c, 1, stride=stride, bias=false)", bn()]
      then: relu
layers:
  - a: Res(4)
  - b: Res(4, [2, 1])
  - c: Res(4, 2)
"""

FLAT = """
archc: 1
name: flat
input: [6, 7, 7]
blocks:
  Mixed:
    params: {pool_features: int}
    parallel:
      - branch1x1: conv(4, 1)
      - layers:
          - branch5x5_1: conv(3, 1)
          - relu
          - branch5x5_2: conv(4, 5, padding=2)
      - layers:
          - branch3x3_1: conv(4, 1)
          - parallel:
              - branch3x3_2a: conv(4, [1, 3], padding=[0, 1])
              - branch3x3_2b: conv(4, [3, 1], padding=[1, 0])
      - layers:
          - avgpool(3, stride=1, padding=1)
          - branch_pool: conv(pool_features, 1)
layers:
  - stem: conv(6, 3, padding=1)
  - Mixed_5b: Mixed(2)
  - parallel:
      - left: conv(5, 1)
      - right: ["conv(5, 3, padding=1)", relu]
    merge: add
  - named:
      parallel:
        - up: conv(3, 1)
        - layers: [down: "conv(3, 3, padding=1)", tanh]
  - pool: adaptive_avgpool(1)
  - flatten
  - fc: linear(3)
"""


def spec(text: str) -> archc.Program:
    return archc.load("spec.yaml", text=textwrap.dedent(text).lstrip("\n"))


def errors(text: str) -> list:
    with pytest.raises(ArchcError) as info:
        archc.lower(spec(text))
    return info.value.diagnostics


# --- int | pair ------------------------------------------------------------------------------


def test_int_or_pair_sizes_reach_the_convolution_and_agree_with_torch() -> None:
    program = spec(FACTORISED)
    agree(program)
    model = archc.build(program)
    assert model.wide.conv.kernel_size == (1, 7) and model.wide.conv.padding == (0, 3)
    assert model.tall.second.conv.kernel_size == (7, 1) and model.tall.second.conv.stride == (2, 1)
    assert model.square.conv.kernel_size == (3, 3) and model.plain.first.conv.padding == (0, 0)
    x = torch.randn(2, 4, 9, 9)
    # 9×9 kept by 3×3, 1×7 and 7×1 with their paddings; stride [2, 1] halves the height (5×9);
    # plain's 3×3 without padding leaves 3×7, then 1×5 after its strided second
    assert model.eval()(x).shape == (2, 6, 1, 5)


def test_int_or_pair_stays_a_parameter_of_the_emitted_class() -> None:
    """One class for every call, as torchvision's BasicConv2d takes **kwargs: the sizes are written
    where the block is called, never baked into a class per call."""
    source = archc.compile_source(spec(FACTORISED))
    assert source.count("class BasicConv2d(nn.Module):") == 1 and source.count("class Twice(nn.Module):") == 1
    assert "kernel_size: int | tuple[int, int],\n        stride: int | tuple[int, int] = 1," in source
    assert "def __init__(self, in_channels: int, k: int | tuple[int, int], p: int | tuple[int, int] = 0)" in source
    assert "self.conv = nn.Conv2d(" in source and "kernel_size,\n" in source
    assert "self.wide = BasicConv2d(6, 6, (1, 7), padding=(0, 3))" in source
    assert "self.second = BasicConv2d(6, 6, k, stride=(2, 1), padding=p)" in source
    assert "self.tall = Twice(6, (7, 1), p=(3, 0))" in source


POOLS = """
archc: 1
name: pool_pair
input: [3, 9, 9]
blocks:
  P:
    params: {k: int | pair, s: int | pair = 1, p: int | pair = 0}
    layers:
      - mp: maxpool(k, stride=s, padding=p)
      - ap: avgpool(k, stride=s, padding=p)
layers:
  - a: P([1, 3], p=[0, 1])
  - b: P(3, s=[2, 1], p=1)
"""


def test_pools_take_int_or_pair_sizes_too() -> None:
    program = spec(POOLS)
    agree(program)
    assert archc.analyze(program).output_shape == (3, 3, 9)  # b: stride 2 then 1 halves the height, twice
    assert "self.mp = nn.MaxPool2d(k, stride=s, padding=p)" in archc.compile_source(program)


def test_a_strided_residual_decides_its_shortcut_per_axis() -> None:
    """The shortcut's condition reads each axis of an `int | pair` stride as nn.Conv2d would."""
    program = spec(STRIDED_RESIDUAL)
    agree(program)
    source = archc.compile_source(program)
    assert "stride: int | tuple[int, int] = 1" in source
    assert "isinstance(stride, int)" in source
    model = archc.build(program)
    assert model.a.downsample is None and model.b.downsample is not None and model.c.downsample is not None


def test_a_network_parameter_can_be_int_or_pair() -> None:
    text = """
        archc: 1
        name: net_pair
        input: [3, 8, 8]
        params: {kernel: int | pair = 3, pad: int | pair = 1}
        layers:
          - conv: conv(4, kernel, padding=pad)
    """
    program = spec(text)
    assert archc.analyze(program).output_shape == (4, 8, 8)
    assert archc.analyze(program, kernel=(1, 3), pad=[0, 1]).rows[0].params == 4 * 3 * 3 + 4
    model = archc.build(program, kernel=(1, 3), pad=(0, 1))
    assert model.conv.kernel_size == (1, 3)
    assert "kernel: int | tuple[int, int] = 3" in archc.compile_source(program)
    with pytest.raises(ArchcError) as info:
        archc.analyze(program, kernel=(1, 3, 3))
    assert info.value.diagnostics[0].code == "E202"


@pytest.mark.parametrize(("arg", "shown"), [("[1, 7, 3]", "list [1, 7, 3]"), ("2.0", "float 2.0"),
                                             ("'3'", "str '3'"), ("true", "bool true"),
                                             ("[1, 2.5]", "list [1, 2.5]")])
def test_a_wrong_size_is_a_located_error_with_a_hint(arg: str, shown: str) -> None:
    text = f"archc: 1\nname: bad\ninput: [3, 16, 16]\nblocks:{BASIC}layers:\n  - a: BasicConv2d(8, {arg})\n"
    (d,) = errors(text)
    assert d.code == "E202"
    assert d.message == f"BasicConv2d() argument 'kernel_size' must be an int or a pair of ints, got {shown}"
    line = text.splitlines()[d.span.line - 1]
    assert line[d.span.col - 1:d.span.end_col - 1] == arg
    assert "[height, width]" in d.hint and "[1, 7]" in d.hint


def test_a_default_of_the_wrong_type_is_located_at_the_default() -> None:
    text = """
        archc: 1
        name: bad_default
        input: [3, 8, 8]
        blocks:
          B:
            params: {k: int | pair = 1.5}
            layers: [conv: "conv(4, k)"]
        layers:
          - b: B
    """
    (d,) = errors(text)
    assert d.code == "E202" and "'k' must be an int or a pair of ints, got float 1.5" in d.message
    line = textwrap.dedent(text).lstrip("\n").splitlines()[5]
    assert (d.span.line, d.span.col, d.span.end_col) == (6, line.index("1.5") + 1, line.index("1.5") + 4)


@pytest.mark.parametrize(("decl", "message", "at"), [
    ("int | pairs", "'int | pairs' is not a parameter type", "int"),
    ("'int | pairs'", "'int | pairs' is not a parameter type", "'int"),
    ("int | pair =", "parameter 'k' has '=' but no default", "int"),
    ("int | pair = 1 +", "syntax error in expression", "+"),
])
def test_a_malformed_declaration_is_located(decl: str, message: str, at: str) -> None:
    text = f"""
        archc: 1
        name: bad_decl
        input: [3, 8, 8]
        blocks:
          B:
            params: {{k: {decl}}}
            layers: [conv: "conv(4, k)"]
        layers:
          - b: B
    """
    with pytest.raises(ArchcError) as info:
        spec(text)
    d = info.value.diagnostics[0]
    line = textwrap.dedent(text).lstrip("\n").splitlines()[5]
    assert message in d.message and (d.span.line, d.span.col) == (6, line.index(at) + 1) and d.hint


def test_typed_defaults_and_spellings() -> None:
    text = """
        archc: 1
        name: typed
        input: [3, 8, 8]
        blocks:
          B:
            params: {out: int = 4, k: int|pair, s: "int  |  pair = [1, 1]", t: int | pair = 1}
            layers: [conv: "conv(out, k, stride=s)"]
        layers:
          - b: B(k=[3, 1])
    """
    program = spec(text)
    decls = {d.name: d.type for d in program.unit.spec.blocks[0].params}
    assert decls == {"out": "int", "k": "int | pair", "s": "int | pair", "t": "int | pair"}
    assert archc.analyze(program).output_shape == (4, 6, 8)


def test_computing_with_an_int_or_pair_is_refused_by_compile_only() -> None:
    """`kernel_size // 2` means one thing for an int and fails for a pair: validate and table take
    the calls as they are, a class written once for all calls cannot (E720)."""
    # assembled here, not one string: tests/ir/test_module_ir.py writes every complete spec constant of
    # the suite once for all instances, which this one, on purpose, cannot be
    text = "archc: 1\n" + textwrap.dedent("""
        name: computed
        input: [3, 8, 8]
        blocks:
          B:
            params: {k: int | pair}
            layers: [conv: "conv(4, k, padding=k // 2)"]
        layers:
          - b: B(3)
    """).lstrip("\n")
    program = spec(text)
    assert archc.analyze(program).output_shape == (4, 8, 8)
    with pytest.raises(ArchcError) as info:
        archc.compile_source(program)
    assert info.value.diagnostics[0].code == "E720"


# --- parallel: as a list -----------------------------------------------------------------------


def test_flat_branches_are_the_enclosing_modules_children_and_agree_with_torch() -> None:
    program = spec(FLAT)
    agree(program)
    keys = list(archc.build(program).state_dict())
    assert [k for k in keys if k.startswith("Mixed_5b.")] == [
        f"Mixed_5b.{m}.{p}" for m in ("branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3_1", "branch3x3_2a",
                                      "branch3x3_2b", "branch_pool") for p in ("weight", "bias")]
    assert [k for k in keys if k.split(".")[0] in ("left", "right", "named")] == [
        "left.weight", "left.bias", "right.0.weight", "right.0.bias",
        "named.up.weight", "named.up.bias", "named.down.weight", "named.down.bias"]
    report = archc.analyze(program)
    mixed = next(r for r in report.rows if r.path == "Mixed_5b")
    assert mixed.shape == (4 + 4 + 8 + 2, 7, 7)


def test_flat_branches_emit_one_class_whose_forward_chains_and_concatenates() -> None:
    source = archc.compile_source(spec(FLAT))
    start = source.index("class Mixed(nn.Module):")
    mixed = source[start:source.index("\n\n\nclass ", start)]
    assert "self.branch5x5_1 = nn.Conv2d(in_channels, 3, 1)" in mixed
    assert "nn.Sequential" not in mixed
    assert "torch.cat([branch3x3_2a, branch3x3_2b], 1)" in mixed
    assert mixed.count("torch.cat(") == 2


@pytest.mark.parametrize(("name", "args", "side"), [("InceptionA", (32,), 7), ("InceptionC", (128,), 5),
                                                     ("InceptionE", (), 3)])
def test_inception_modules_are_torchvisions(name: str, args: tuple[int, ...], side: int) -> None:
    """Each module of the shipped spec, alone, against torchvision's class of the same name: same
    state_dict keys in the same order, the same outputs in eval and in train mode."""
    from torchvision.models import inception

    channels = {"InceptionA": 192, "InceptionC": 768, "InceptionE": 1280}[name]
    text = (f"archc: 1\nname: one\ninput: [{channels}, {side}, {side}]\n"
            f"imports: [{{from: inception_v3.yaml, blocks: [BasicConv2d, {name}]}}]\n"
            f"layers:\n  - m: {name}({', '.join(map(str, args))})\n")
    torch.manual_seed(0)
    reference = getattr(inception, name)(channels, *args)
    randomize_norms(reference, torch.Generator().manual_seed(1))
    model = archc.build(archc.load("one.yaml", text=text))
    ours = {k.removeprefix("m."): v for k, v in model.state_dict().items()}
    assert list(ours) == list(reference.state_dict())
    model.load_state_dict({f"m.{k}": v for k, v in reference.state_dict().items()}, strict=True)
    x = torch.randn(2, channels, side, side, generator=torch.Generator().manual_seed(2))
    for train in (False, True):
        reference.train(train)
        model.train(train)
        with torch.no_grad():
            assert torch.equal(model(x), reference(x)), (name, train)


def test_a_flat_parallel_in_a_numbered_list_is_an_error() -> None:
    """A repeat numbers its copies' entries as nn.Sequential does; a named list holding one is a
    module instead (as with `from:`), where every layer with parameters needs a name."""
    text = """
        archc: 1
        name: numbered
        input: [3, 8, 8]
        layers:
          - seq:
              repeat: 2
              each:
                - parallel:
                    - a: conv(4, 1)
                    - b: conv(4, 1)
    """
    (d,) = errors(text)
    assert d.code == "E204" and "numbers its entries" in d.message and d.span.line == 8 and d.hint


def test_a_conditional_flat_branch_is_an_error() -> None:
    text = """
        archc: 1
        name: conditional
        input: [3, 8, 8]
        layers:
          - parallel:
              - a: conv(4, 1)
              - b: {when: true, layers: "conv(4, 1)"}
    """
    with pytest.raises(ArchcError) as info:
        spec(text)
    (d,) = info.value.diagnostics
    assert d.code == "E204" and "`when:`" in d.message and (d.span.line, d.span.col) == (7, 9) and d.hint


def test_names_are_unique_across_flat_branches() -> None:
    text = """
        archc: 1
        name: twice
        input: [3, 8, 8]
        layers:
          - parallel:
              - a: conv(4, 1)
              - layers: [a: "conv(4, 3, padding=1)"]
    """
    assert [d.code for d in errors(text)] == ["E303"]


def test_an_unnamed_mapping_parallel_in_a_named_list_is_still_E304_and_says_what_to_do() -> None:
    text = """
        archc: 1
        name: unnamed_mapping
        input: [3, 8, 8]
        layers:
          - stem: conv(4, 1)
          - parallel: {a: "conv(4, 1)", b: "conv(4, 1)"}
    """
    (d,) = errors(text)
    assert d.code == "E304" and "parallel: [...]" in d.hint


def test_an_int_or_pair_symbol_reads_per_axis_as_python_does() -> None:
    """The symbol of an `int | pair` parameter: its axes evaluate as nn.Conv2d reads kernel_size, and
    print as Python that computes the same; arithmetic on the symbol itself is refused."""
    from archc.sym import NotSymbolic, Sym, SymIntPair, axis_of, evaluate, free_symbols, substitute, to_python

    k = SymIntPair("k")
    size = Sym("h") + 2 - axis_of(k, 1)
    for value in (3, (1, 7), (7, 1)):
        env = {"k": value, "h": 9}
        want = 9 + 2 - (value if isinstance(value, int) else value[1])
        assert evaluate(size, env) == want
        assert eval(to_python(size), {}, env) == want  # the printed expression, run as Python
    assert free_symbols(size) == {"k", "h"}
    assert to_python(axis_of(k, 0)) == "(k if isinstance(k, int) else k[0])"
    renamed = substitute(size, {"k": SymIntPair("kernel_size")})
    assert evaluate(renamed, {"kernel_size": (1, 7), "h": 9}) == 4
    assert "isinstance(kernel_size, int)" in to_python(renamed)
    assert axis_of((1, 7), 1) == 7 and axis_of(5, 0) == 5
    for compute in (lambda: k + 1, lambda: k // 2, lambda: k[0], lambda: k == 3):
        with pytest.raises(NotSymbolic):
            compute()
