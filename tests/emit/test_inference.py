"""The inference variant (``archc compile --inference``, ``archc.build(..., inference=True)``):
the IR pass that folds batch norms and drops dropout and heads, the source written from
its graph, and the weights that flow from a plain network into it.

Equality is measured by torch: a plain network gets random weights *and* random batch
norm statistics (mean, variance, γ, β far from their initial 0, 1, 1, 0), its eval-mode
output is compared with the inference network's, built from its state_dict.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings

import archc
from archc.diagnostics import ArchcError
from archc.emit import exec_source
from archc.ir import check
from archc.ir.passes import inference_graph
from archc.spec.loader import shipped_names

from ..test_property import EXAMPLES, networks

TOLERANCE = 1e-4  # relative, fp32: the bound


def randomize_norms(model: torch.nn.Module, gen: torch.Generator) -> None:
    """Batch norm statistics and affine parameters that make folding do real work."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                if module.track_running_stats:
                    module.running_mean.normal_(0.0, 0.5, generator=gen)
                    module.running_var.uniform_(0.5, 2.0, generator=gen)
                if module.affine:
                    module.weight.uniform_(0.5, 1.5, generator=gen)
                    module.bias.normal_(0.0, 0.2, generator=gen)


def relative_error(reference: torch.Tensor, other: torch.Tensor) -> float:
    return ((reference - other).abs().max() / reference.abs().max().clamp_min(1e-12)).item()


def compare(spec: object, input_shape: tuple[int, ...], **kwargs: object) -> tuple[float, torch.nn.Module]:
    """Plain network with random statistics vs the inference network folded from it, in eval mode."""
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    plain = archc.build(spec, **kwargs)
    randomize_norms(plain, gen)
    plain.eval()
    fast = archc.build(spec, inference=True, state_dict=plain.state_dict(), **kwargs)
    x = torch.randn(2, *input_shape, generator=gen)
    with torch.no_grad():
        return relative_error(plain(x), fast(x)), fast


def small_input(name: str) -> tuple[int, ...]:
    """The smallest of 1/4, 1/2 and the full spatial size that the spec accepts (a lean test)."""
    c, *sizes = archc.analyze(name).input_shape
    for div in (4, 2):
        shape = (c, *(s // div for s in sizes))
        try:
            archc.analyze(name, input=shape)
        except ArchcError:
            continue
        return shape
    return (c, *sizes)


# --- every shipped spec ----------------------------------------------------------------------


@pytest.mark.parametrize("name", shipped_names())
def test_inference_graph_passes_the_verifier(name: str) -> None:
    graph = archc.lower(name)
    folded, folding = inference_graph(graph)
    check(folded, thorough=True)
    check(graph, thorough=True)  # the pass copies: the plain graph is untouched
    assert folded.nodes[folded.output].shape == graph.nodes[graph.output].shape
    assert not folded.heads and not any(n.training_only for n in folded.nodes.values())
    assert not any(n.op is not None and n.op.family == "dropout" for n in folded.nodes.values())
    left = {n.id for n in folded.nodes.values() if n.op is not None and n.op.name in ("bn", "bn1d")}
    assert left == {folding.moved.get(k, k) for k in folding.kept_norms}


@pytest.mark.parametrize("name", shipped_names())
def test_folded_network_equals_plain_in_eval(name: str) -> None:
    shape = small_input(name)
    err, fast = compare(name, shape, input=shape)
    assert err < TOLERANCE, f"{name}: max relative error {err:.2e}"
    # what is left, counted by torch: no dropout; batch norms only where the pass kept them
    _, folding = inference_graph(archc.lower(name, input=shape))
    kinds = [type(m).__name__ for m in fast.modules()]
    assert not any(k.startswith("Dropout") for k in kinds)
    assert sum(k.startswith("BatchNorm") for k in kinds) == len(folding.kept_norms)
    assert not fast.training


def test_figures_of_the_inference_module_are_torchs() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from archc.analysis.counts import node_counts, totals

    fast = archc.build("googlenet", inference=True)
    graph, _ = inference_graph(archc.lower("googlenet"))
    t = totals(graph, node_counts(graph))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = fast(torch.randn(1, 3, 224, 224))
    assert tuple(out.shape) == (1, 1000)
    assert sum(p.numel() for p in fast.parameters()) == t.params
    assert counter.get_total_flops() == 2 * t.macs
    source = archc.compile_source("googlenet", inference=True)
    assert f"# {t.params:,} parameters; {t.macs:,} MACs" in source


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff comes with the test extra")
def test_inference_source_passes_ruff(tmp_path: Path) -> None:
    for name in shipped_names():
        (tmp_path / f"{name}_inference.py").write_text(archc.compile_source(name, inference=True))
    (tmp_path / "edge_inference.py").write_text(archc.compile_source(archc.load("edge.yaml", text=EDGE),
                                                                     inference=True))
    for config in (["--isolated"], ["--isolated", "--select", "E,F,W,B,UP", "--line-length", "120"]):
        proc = subprocess.run(["ruff", "check", *config, str(tmp_path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout


def test_resnet50_reads_like_the_plain_one_without_norms() -> None:
    source = archc.compile_source("resnet50", inference=True)
    head = "\n".join(source.splitlines()[:6])
    assert "inference variant" in head and "53 batch norms folded" in head
    assert "archc compile --inference" in head
    imports = [n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert {n.module if isinstance(n, ast.ImportFrom) else n.names[0].name for n in imports} == \
        {"__future__", "torch"}
    assert "class Bottleneck(nn.Module):" in source and "BatchNorm" not in source
    assert "self.conv1 = nn.Conv2d(in_channels, planes, 1)" in source  # gains a bias
    assert "self.relu = nn.ReLU(inplace=True)" in source and "out += identity" in source
    assert "self.downsample = nn.Sequential(nn.Conv2d(in_channels, planes * 4, 1, stride=stride))" in source
    assert "    ('layer1.0.downsample.0', 'layer1.0.downsample.1', 1e-05)," in source
    assert archc.compile_source("resnet50", inference=True) == source  # deterministic


def test_googlenet_loses_heads_and_dropout() -> None:
    source = archc.compile_source("googlenet", inference=True)
    assert "self.aux1" not in source and "self.aux2" not in source
    assert "self.training" not in source and "Dropout" not in source
    assert "DROPPED: tuple[str, ...] = ('aux1', 'aux2')" in source
    fast = archc.build("googlenet", inference=True)
    fast.train()  # even in training mode: one output, no heads
    with torch.no_grad():
        assert isinstance(fast(torch.randn(1, 3, 64, 64)), torch.Tensor)


# --- the edge cases of folding ------------------------------------------------------------------

EDGE = """
archc: 1
name: edge
input: [4, 12, 12]
blocks:
  CB:
    params: {c: int, groups: 1, stats: true}
    layers: [conv: conv(c, 3, padding=1, groups=groups, bias=false), bn: bn(track_running_stats=stats), relu]
layers:
  - a: conv(8, 3, padding=1)                     # a conv with its own bias
  - a_bn: bn()
  - dw: conv(8, 3, padding=1, groups=8, bias=false)   # depthwise
  - dw_bn: bn(affine=false)                      # no gamma, beta
  - g: CB(16, groups=4)                          # grouped, in a block
  - g2: CB(16, stats=false)                      # no running statistics: kept (a class of its own)
  - stats: conv(16, 1)
  - stats_bn: bn(track_running_stats=false)      # kept
  - r: relu
  - after_relu: bn()                             # kept: no convolution before it
  - two: conv(16, 1)                             # read by its norm and by the add: not folded
  - two_bn: bn()
  - sum: {from: [two, two_bn], merge: add}
  - feats: [conv(8, 3, padding=1), dropout(0.5), bn(), relu, dropout2d(0.2), conv(8, 1, bias=false), bn(), relu]
  - head: {from: feats, training_only: true, layers: [adaptive_avgpool(1), flatten, linear(3)]}
  - pool: adaptive_avgpool(1)
  - flatten
  - fc: linear(16)
  - fc_bn: bn1d()                                # linear on features, then bn1d
  - classifier: [dropout(0.5), linear(10), relu, dropout(0.5), linear(5)]
"""


def edge() -> object:
    return archc.load("edge.yaml", text=EDGE)


def test_edge_cases_fold_where_exact_and_keep_the_rest() -> None:
    _, folding = inference_graph(archc.lower(edge()))
    assert [(f.conv, f.norm, f.affine, f.had_bias) for f in folding.norms] == [
        ("a", "a_bn", True, True), ("dw", "dw_bn", False, False), ("g.conv", "g.bn", True, False),
        ("feats.0", "feats.2", True, True), ("feats.5", "feats.6", True, False), ("fc", "fc_bn", True, True)]
    assert folding.kept_norms == ["g2.bn", "stats_bn", "after_relu", "two_bn"]
    assert folding.moved == {"feats.5": "feats.2", "classifier.1": "classifier.0", "classifier.4": "classifier.2"}
    assert folding.dropped == ["head"] and folding.heads == ["head"]
    assert folding.dropouts == ["feats.1", "feats.4", "classifier.0", "classifier.3"]


def test_edge_cases_equal_plain_in_eval() -> None:
    err, fast = compare(edge(), (4, 12, 12))
    assert err < TOLERANCE
    assert [k for k, _ in fast.named_children()] == ["a", "dw", "g", "g2", "stats", "stats_bn", "r", "after_relu",
                                                     "two", "two_bn", "feats", "pool", "flatten", "fc", "classifier"]
    assert [type(m).__name__ for m in fast.feats] == ["Conv2d", "ReLU", "Conv2d", "ReLU"]
    assert [type(m).__name__ for m in fast.classifier] == ["Linear", "ReLU", "Linear"]


def test_conv1d_and_bn1d_fold() -> None:
    text = """
        archc: 1
        name: seq
        input: [4, 20]
        layers:
          - c: conv1d(8, 3, padding=1, bias=false)
          - n: bn1d()
          - r: relu
          - l: linear(6)     # on a sequence: maps L, while bn1d normalises C, so not folded
          - m: bn1d()
    """
    program = archc.load("seq.yaml", text=textwrap.dedent(text))
    _, folding = inference_graph(archc.lower(program))
    assert [(f.conv, f.norm) for f in folding.norms] == [("c", "n")] and folding.kept_norms == ["m"]
    err, _ = compare(program, (4, 20))
    assert err < TOLERANCE


VGGISH = """
archc: 1
name: vggish
input: [3, 32, 32]
params: {batch_norm: true}
blocks:
  Stage:
    params: {width: int, batch_norm: bool}
    inline: true
    layers:
      - repeat: 2
        each: [conv(width, 3, padding=1), {when: batch_norm, layers: bn()}, relu]
      - maxpool(2, stride=2)
layers:
  - features: [Stage(8, batch_norm), Stage(16, batch_norm)]
  - avgpool: adaptive_avgpool(2)
  - flatten
  - classifier: [linear(32), relu, dropout(0.5), linear(32), relu, dropout(0.5), linear(10)]
"""


def test_vgg_like_features_fold_and_renumber() -> None:
    """torchvision's VGG-BN layout: one flat nn.Sequential whose batch norms (a conditional
    entry of an inline block) fold away, so every later index moves."""
    program = archc.load("vggish.yaml", text=VGGISH)
    _, folding = inference_graph(archc.lower(program))
    assert [(f.conv, f.norm) for f in folding.norms] == [
        ("features.0", "features.1"), ("features.3", "features.4"), ("features.7", "features.8"),
        ("features.10", "features.11")]
    assert folding.moved == {"features.3": "features.2", "features.7": "features.5", "features.10": "features.7",
                             "classifier.3": "classifier.2", "classifier.6": "classifier.4"}
    err, fast = compare(program, (3, 32, 32))
    assert err < TOLERANCE
    assert [type(m).__name__ for m in fast.features] == ["Conv2d", "ReLU"] * 2 + ["MaxPool2d"] + \
        ["Conv2d", "ReLU"] * 2 + ["MaxPool2d"]
    err, _ = compare(program, (3, 32, 32), batch_norm=False)  # nothing to fold: only dropout goes
    assert err < TOLERANCE


def test_a_point_read_after_its_dropout_is_removed() -> None:
    """`from: d` where d was a dropout: it reads what flowed into d, kept in its own variable."""
    text = """
        archc: 1
        name: dropref
        input: [3, 8, 8]
        layers:
          - a: conv(4, 3, padding=1)
          - d: dropout(0.5)
          - b: conv(4, 3, padding=1)
          - c: relu
          - m: {from: [d, c], merge: add}
          - pool: adaptive_avgpool(1)
          - flatten
          - fc: linear(2)
    """
    program = archc.load("dropref.yaml", text=textwrap.dedent(text))
    source = archc.compile_source(program, inference=True)
    assert "a = self.a(x)\n        x = self.b(a)" in source and "m = a + c" in source
    err, _ = compare(program, (3, 8, 8))
    assert err < TOLERANCE


# Found by test_random_networks_fold_exactly: an instance whose output nothing reads is dead in
# eval mode; the pass drops it whole, and neither its containers and merges (shared with a live
# instance of the same block) nor the class around them may then be judged by it.
DEAD_INSTANCE = {
    "beside_a_live_one": "  - n0: Mixed(1, 1)\n  - n1: Mixed(1, 1)\n",
    "alone": "  - n0: relu\n  - n1: Mixed(1, 1)\n",
}


@pytest.mark.parametrize("layers", DEAD_INSTANCE.values(), ids=list(DEAD_INSTANCE))
def test_an_instance_nothing_reads_is_dropped_whole(layers: str) -> None:
    from ..test_property import BLOCKS

    text = ("archc: 1\nname: dead\ninput: [3, 8, 8]\n" + BLOCKS + "layers:\n" + layers
            + "  - n2: {from: [n0, n0], merge: concat}\n  - pool: adaptive_avgpool(1)\n  - flat: flatten\n"
            "  - fc: linear(1)\n")
    program = archc.load("dead.yaml", text=text)
    source = archc.compile_source(program, inference=True)
    assert "self.n1" not in source
    err, _ = compare(program, (3, 8, 8))
    assert err < TOLERANCE


@settings(max_examples=max(EXAMPLES // 10, 10), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_random_networks_fold_exactly(case: tuple[str, object, tuple[int, ...]]) -> None:
    spec, _, input_shape = case
    program = archc.load("generated.yaml", text=spec)
    folded, _ = inference_graph(archc.lower(program))
    check(folded, thorough=True)
    err, _ = compare(program, input_shape)
    assert err < TOLERANCE, spec


# --- weights: plain -> fold -> inference ------------------------------------------------------


def test_build_without_state_dict_folds_the_plain_initialisation() -> None:
    torch.manual_seed(0)
    plain = archc.build(edge()).eval()
    torch.manual_seed(0)
    fast = archc.build(edge(), inference=True)
    x = torch.randn(3, 4, 12, 12)
    with torch.no_grad():
        assert relative_error(plain(x), fast(x)) < TOLERANCE


def test_compiled_file_loads_plain_weights(cli, tmp_path: Path) -> None:
    out = tmp_path / "net.py"
    assert cli("compile", "resnet50", "--inference", "--input", "3x64x64", "-o", out).code == 0
    module = exec_source(out.read_text(), "net")
    torch.manual_seed(0)
    plain = archc.build("resnet50", input=(3, 64, 64))
    randomize_norms(plain, torch.Generator().manual_seed(1))
    state = module.fold_state_dict(plain.state_dict())
    assert not any("bn" in key for key in state)
    fast = module.build(plain.state_dict())
    assert set(fast.state_dict()) == set(state)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert relative_error(plain.eval()(x), fast(x)) < TOLERANCE


def test_default_file_name(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("compile", "resnet50", "--inference").code == 0
    assert (tmp_path / "resnet50_inference.py").is_file()


def test_build_loads_a_plain_state_dict() -> None:
    torch.manual_seed(0)
    source = archc.build(edge())
    randomize_norms(source, torch.Generator().manual_seed(2))
    torch.manual_seed(1)
    loaded = archc.build(edge(), state_dict=source.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), loaded.state_dict().values()))


def test_a_state_dict_that_does_not_fit_is_a_clear_error(cli) -> None:
    wrong = archc.build("resnet50", num_classes=10).state_dict()
    with pytest.raises(ArchcError) as info:
        archc.build("resnet50", inference=True, state_dict=wrong)
    assert info.value.diagnostics[0].code == "E800"
    assert "fc.weight" in info.value.diagnostics[0].message


def test_an_empty_repeat_after_a_dead_layer_is_dropped_with_it() -> None:
    # found by tests/test_differential.py: n2's output is never used, so the inference pass drops
    # it, and the empty repeat n3 that reads it kept pointing at the dropped node (KeyError)
    text = """
        archc: 1
        name: g
        input: [3, 8, 8]
        blocks:
          Unit:
            params: {width: int}
            layers:
              - conv: conv(width, 3, padding=1)
        layers:
          - n0: relu
          - n2: conv(1, 1, bias=false)
          - n3: {repeat: 0, each: Unit(4)}
          - n4: {from: [n0, n0], merge: concat}
          - pool: adaptive_avgpool(1)
          - flat: flatten
          - fc: linear(1)
    """
    program = archc.loads(textwrap.dedent(text).lstrip("\n"), name="g.yaml")
    plain = archc.build(program).eval()
    fast = archc.build(program, inference=True, state_dict=plain.state_dict())
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(plain(x), fast(x))


@pytest.mark.parametrize("layers", [["conv(2, 1)", "bn()", "bn()"], ["conv(2, 1)", "bn()", "dropout(0.5)", "bn()"]])
def test_a_layer_absorbs_one_norm_and_a_second_stays(layers: list[str]) -> None:
    # found by tests/test_differential.py: both norms were folded into the conv, each from the plain
    # conv's weights, so the first fold was lost (relative error ~0.4)
    text = "archc: 1\nname: g\ninput: [2, 8, 8]\nlayers:\n" + "".join(f"  - {layer}\n" for layer in layers)
    program = archc.loads(text, name="g.yaml")
    plain = archc.build(program)
    randomize_norms(plain, torch.Generator().manual_seed(0))
    plain.eval()
    fast = archc.build(program, inference=True, state_dict=plain.state_dict())
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules()) == 1
    x = torch.randn(3, 2, 8, 8)
    with torch.no_grad():
        assert relative_error(plain(x), fast(x)) <= 1e-5


def test_a_norm_under_a_condition_folds_into_a_conditional_bias() -> None:
    """One class for both instances (issue 13): the layer gains a bias exactly where the `when:`
    that holds the norm is true, and both instances run as the plain network does."""
    text = """
        archc: 1
        name: cond_norm
        input: [3, 8, 8]
        params: {norm: true}
        blocks:
          Unit:
            params: {c: int, norm: bool}
            layers:
              - conv: conv(c, 3, padding=1, bias=false)
              - {when: norm, layers: [bn: bn()]}
              - relu
        layers:
          - a: Unit(4, norm)
          - b: Unit(4, not norm)
    """
    program = archc.load("cond_norm.yaml", text=textwrap.dedent(text))
    source = archc.compile_source(program, inference=True)
    assert source.count("class Unit(") == 1
    assert "self.conv = nn.Conv2d(in_channels, c, 3, padding=1, bias=norm)" in source
    model = archc.build(program, inference=True, state_dict=archc.build(program).state_dict())
    assert model.a.conv.bias is not None and model.b.conv.bias is None
    err, _ = compare(program, (3, 8, 8))
    assert err < TOLERANCE


def test_the_class_of_a_dropped_head_is_not_written() -> None:
    """GoogLeNet's inference variant drops both aux heads: their InceptionAux class, used by nothing
    there, is not in the file (the plain network has it)."""
    assert "class InceptionAux(" in archc.compile_source("googlenet")
    inference = archc.compile_source("googlenet", inference=True)
    assert "InceptionAux" not in inference and "class Inception(" in inference


# --- norms in another class than the layer they fold into ---------------------------------------

def norms_left(model: torch.nn.Module) -> list[str]:
    return sorted(k for k, m in model.named_modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))


def torch_folded(spec: object) -> list[str]:
    """The batch norms torch's own conv-bn fusion (torch.fx) leaves in the plain network."""
    from torch.fx.experimental.optimization import fuse

    return norms_left(fuse(archc.build(spec).eval()))


NORM_AS_A_VALUE = """
archc: 1
name: norm_value
input: [3, 8, 8]
params: {norm_layer: BatchNorm}
blocks:
  BatchNorm:
    inline: true  # spliced where it is called, as torchvision's norm_layer (EfficientNet before 21c027f)
    layers: bn()
  ConvNormActivation:
    params: {out: int, norm_layer: block}
    layers:
      - conv(out, 3, padding=1, bias=false)
      - norm_layer
      - silu
  ConvNorm:
    params: {out: int, norm_layer: block}
    layers:
      - conv(out, 1, bias=false)
      - norm_layer
  Named:
    params: {out: int, norm: block}
    layers:
      - conv: conv(out, 3, padding=1, bias=false)
      - n: norm()
      - relu
      - after: conv(out, 1)  # sized by the norm block's output
  ConvOnly:
    params: {out: int}
    layers: [conv: conv(out, 1, bias=false)]
layers:
  - a: ConvNormActivation(8, norm_layer)
  - b: ConvNorm(6, norm_layer)
  - c: ConvNormActivation(8, BatchNorm)
  - d: Named(4, norm_layer)
  - e: ConvOnly(4)
  - e_bn: bn()  # the layer it folds into is the last of another class
"""


def test_a_norm_block_passed_as_a_value_folds_as_torch_folds_it() -> None:
    # found on EfficientNet: a norm in a block passed as a value (torchvision's norm_layer) stayed in
    # the inference variant, because the layer before it is another class's; a named instance of
    # such a block failed to compile (KeyError)
    program = archc.loads(NORM_AS_A_VALUE, name="norm_value.yaml")
    assert len(norms_left(archc.build(program))) == 5
    err, fast = compare(program, (3, 8, 8))
    assert err <= 1e-5
    assert norms_left(fast) == torch_folded(program) == []
    source = archc.compile_source(program, inference=True)
    assert "5 batch norms folded" in source
    assert "self.conv = nn.Conv2d(in_channels, out, 1)" in source  # ConvOnly's conv gains the bias


MIXED = """
archc: 1
name: mixed
input: [3, 8, 8]
blocks:
  BatchNorm:
    inline: true
    layers: bn()
  ConvNorm:
    params: {out: int, norm_layer: block}
    layers: [conv(out, 3, padding=1, bias=false), norm_layer]
  ActNorm:
    params: {norm_layer: block}
    layers: [relu, norm_layer]
  ConvOnly:
    params: {out: int}
    layers: [conv: conv(out, 1, bias=false)]
layers:
  - a: ConvNorm(8, BatchNorm)
  - b: ActNorm(BatchNorm)   # no layer before this use: it cannot fold
  - e: ConvOnly(4)
  - e_bn: bn()
  - f: ConvOnly(4)          # the same class, with no norm after it
  - relu
"""


def test_a_norm_in_another_class_stays_where_its_instances_disagree() -> None:
    """One class per block definition: a norm folds only where every instance of its statement
    and of the layer before it fold alike, as a norm in the layer's own class does (torch's
    per-module fusion folds a.1 and e_bn; the class written once cannot)."""
    program = archc.loads(MIXED, name="mixed.yaml")
    err, fast = compare(program, (3, 8, 8))
    assert err <= 1e-5
    assert torch_folded(program) == ["b.1"]
    assert norms_left(fast) == ["a.1", "b.1", "e_bn"]
