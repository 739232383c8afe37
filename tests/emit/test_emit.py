"""Emission: the built module is exactly the network the graph describes, measured by torch.

For every shipped spec: output shape, parameters and FlopCounterMode MACs of the module
``archc.build`` returns equal the figures inferred without torch; the source ``archc
compile`` writes, imported as a file, has the same state_dict keys and shapes; the
source parses, passes ruff, is byte-identical across runs and says where it came from.
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

import archc
from archc.spec.loader import shipped_names


def measure(model: torch.nn.Module, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int, int]:
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(torch.randn(1, *shape))
    return tuple(out.shape[1:]), sum(p.numel() for p in model.parameters()), counter.get_total_flops()


def import_file(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", shipped_names())
def test_built_module_matches_inferred_figures(name: str) -> None:
    report = archc.analyze(name)
    shape, params, flops = measure(archc.build(name), report.input_shape)
    assert shape == report.output_shape
    assert params == report.totals.params
    assert flops == 2 * report.totals.macs


@pytest.mark.parametrize("name", shipped_names())
def test_compiled_file_equals_built_module(name: str, cli, tmp_path: Path) -> None:
    out = tmp_path / f"{name}_net.py"
    assert cli("compile", name, "-o", out).code == 0
    source = out.read_text()
    ast.parse(source)
    assert source == archc.compile_source(name), "compile and build run the same source"
    module = import_file(out)
    from_file = module.build().state_dict()  # type: ignore[attr-defined]
    built = archc.build(name).state_dict()
    assert [(k, tuple(v.shape)) for k, v in from_file.items()] == [(k, tuple(v.shape)) for k, v in built.items()]
    assert archc.analyze(name).input_shape == module.INPUT_SHAPE  # type: ignore[attr-defined]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff comes with the test extra")
def test_generated_source_passes_ruff(tmp_path: Path) -> None:
    for name in shipped_names():
        (tmp_path / f"{name}.py").write_text(archc.compile_source(name))
    for config in (["--isolated"], ["--isolated", "--select", "E,F,W,B,UP", "--line-length", "120"]):
        proc = subprocess.run(["ruff", "check", *config, str(tmp_path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout


def test_source_is_byte_identical_across_runs() -> None:
    code = "import archc, sys; sys.stdout.write(archc.compile_source('googlenet'))"
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1] == archc.compile_source("googlenet")


def test_header_says_where_it_came_from() -> None:
    source = archc.compile_source("resnet50")
    head = "\n".join(source.splitlines()[:3])
    assert f"archc {archc.__version__}" in head and "specs/resnet50.yaml" in head
    assert "25,557,032 parameters" in head and "4,089,184,256 MACs" in head
    imports = [n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert {n.module if isinstance(n, ast.ImportFrom) else n.names[0].name for n in imports} == \
        {"__future__", "torch"}


def test_reads_like_torchvision() -> None:
    source = archc.compile_source("resnet50")
    assert "class Bottleneck(nn.Module):" in source
    assert "def __init__(self, in_channels: int, planes: int, stride: int = 1) -> None:" in source
    assert "self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)" in source
    assert "if stride != 1 or in_channels != planes * 4:" in source
    assert "self.relu = nn.ReLU(inplace=True)" in source
    assert "out += identity" in source
    assert "class Stage(nn.Sequential):" in source and "for i in range(depth):" in source
    # the network class takes the spec's parameters, as torchvision's ResNet(block, layers, num_classes)
    # does (issue 13): sizes that follow from them are read from the stage built before
    assert "block: type[nn.Module] = Bottleneck," in source and "num_classes: int = 1000," in source
    assert "self.layer2 = Stage(self.layer1.out_channels, block, 128, depths[1], stride=2)" in source
    assert "self.fc = nn.Linear(self.layer4.out_channels, num_classes)" in source


def test_the_network_class_takes_the_spec_parameters() -> None:
    """``ResNet50(num_classes=37)`` works without compiling again (issue 13)."""
    import torch

    from archc.emit import exec_source

    module = exec_source(archc.compile_source("resnet18", input=(3, 32, 32)), "resnet18")
    model = module.ResNet18(num_classes=37).eval()
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 37)
    deeper = module.ResNet18(depths=(1, 1, 2, 1))
    assert deeper.layer3[1].conv1.in_channels == 256 and len(deeper.layer1) == 1
    expected = archc.analyze("resnet18", depths=[1, 1, 2, 1], num_classes=37).totals.params
    assert sum(p.numel() for p in module.ResNet18(depths=(1, 1, 2, 1), num_classes=37).parameters()) == expected


def test_heads_only_in_training_in_documented_order() -> None:
    model = archc.build("googlenet")
    seen: dict[str, torch.Tensor] = {}
    for name in ("aux1", "aux2", "fc"):
        getattr(model, name).register_forward_hook(lambda _m, _i, out, name=name: seen.__setitem__(name, out))
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 224, 224))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 1000)
    assert set(seen) == {"fc"}, "heads do not run in eval mode"
    model.train()
    outs = model(torch.randn(2, 3, 224, 224))
    # torchvision's order (GoogLeNetOutputs): logits, aux2, aux1
    assert outs[0] is seen["fc"] and outs[1] is seen["aux2"] and outs[2] is seen["aux1"]


def test_overrides_reach_the_module() -> None:
    model = archc.build("resnet50", num_classes=10, input=(3, 64, 64))
    assert model.fc.out_features == 10
    assert measure(model, (3, 64, 64))[0] == (10,)


def test_inline_block_repeating_by_its_parameter_in_the_network(spec_file) -> None:
    # VGG's shape: the network's own (concrete) class splices inline blocks whose repeat count
    # is a block parameter; the count must be read through the call's arguments
    path = spec_file("""
        archc: 1
        name: t
        input: [3, 16, 16]
        params: {depths: [1, 2]}
        blocks:
          Stage:
            inline: true
            params: {width: int, depth: int, batch_norm: bool}
            layers:
              - repeat: depth
                each:
                  - conv(width, 3, padding=1)
                  - {when: batch_norm, layers: bn()}
                  - relu
              - maxpool(2)
        layers:
          - features:
              - Stage(4, depths[0], false)
              - Stage(8, depths[1], true)
        """)
    model = archc.build(path)
    want = nn_sequential_keys([(0, (4, 3, 3, 3)), (3, (8, 4, 3, 3)), (4, (8,)), (6, (8, 8, 3, 3)), (7, (8,))])
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == want
    assert measure(model, (3, 16, 16))[0] == (8, 4, 4)


def nn_sequential_keys(entries: list[tuple[int, tuple[int, ...]]]) -> list[tuple[str, tuple[int, ...]]]:
    """state_dict entries of `features`: a conv's weight and bias, a batch norm's five."""
    out = []
    for index, shape in entries:
        if len(shape) == 4:
            out += [(f"features.{index}.weight", shape), (f"features.{index}.bias", shape[:1])]
        else:
            out += [(f"features.{index}.{k}", shape) for k in ("weight", "bias", "running_mean", "running_var")]
            out.append((f"features.{index}.num_batches_tracked", ()))
    return out


def test_doc_paragraphs_keep_blank_lines_empty(spec_file) -> None:
    path = spec_file("""
        archc: 1
        name: t
        doc: |
          Summary line.

          Details.
        input: [3, 8, 8]
        blocks:
          B:
            doc: |
              Block summary.

              Block details.
            layers: [relu]
        layers:
          - b: B()
        """)
    source = archc.compile_source(path)
    assert not [line for line in source.splitlines() if line and not line.strip()], "whitespace-only lines"
    tree = ast.parse(source)
    classes = {n.name: ast.get_docstring(n) for n in tree.body if isinstance(n, ast.ClassDef)}
    assert ast.get_docstring(tree) == classes["T"] == "Summary line.\n\nDetails."
    assert classes["B"] == "Block summary.\n\nBlock details."


LONG = ("A network whose documentation runs on and on, far past the width of any reasonable line of Python "
        "source, as a spec's doc often does: one line per paragraph, however long.")


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff comes with the test extra")
def test_long_docs_are_wrapped_to_the_line_length(tmp_path: Path) -> None:
    # a long `doc:` used to be written as one line, and the emitted source failed ruff (E501)
    docs = {"T": f"{LONG}\n\n- a list item {LONG}", "B": f'A block: {LONG} With """ quotes and a \\ backslash.',
            "C": f"A bell \a rings (escaped): {LONG}"}
    spec = archc.loads(yaml.safe_dump({"archc": 1, "name": "t", "doc": docs["T"], "input": [3, 8, 8],
                                      "blocks": {"B": {"doc": docs["B"], "layers": ["relu"]},
                                                 "C": {"doc": docs["C"], "layers": ["relu"]}},
                                      "layers": [{"b": "B()"}, {"c": "C()"}]}), name="t.yaml")
    for inference in (False, True):
        source = archc.compile_source(spec, inference=inference)
        (tmp_path / "net.py").write_text(source)
        proc = subprocess.run(["ruff", "check", "--isolated", "--select", "E,W", "--line-length", "120",
                               str(tmp_path / "net.py")], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout
        assert max(len(line) for line in source.splitlines()) <= 120
        tree = ast.parse(source)
        got = {n.name: ast.get_docstring(n, clean=False) for n in tree.body if isinstance(n, ast.ClassDef)}
        got["module"] = ast.get_docstring(tree, clean=False)
        for name, doc in [*docs.items(), ("module", docs["T"])]:
            assert got[name].split() == doc.split(), name  # the same words, in order
        assert "\n\n- a list item" in got["module"], "paragraphs and list items stay"
        assert got["C"] == docs["C"], "an escaped doc reads back exactly"


def test_network_class_named_by_the_spec_and_its_variants(spec_file) -> None:
    # `class:` names the network class where CamelCase of the name would not read as a PyTorch
    # engineer writes it (issue 13); a variant inherits it from its base unless it sets its own
    base = spec_file("""
        archc: 1
        name: resnet_tiny
        class: ResNetTiny
        input: [3, 8, 8]
        layers:
          - c: conv(4, 3)
    """, "base.yaml")
    same = spec_file("archc: 1\nextends: base.yaml\nname: resnet_tiny2\n", "same.yaml")
    own = spec_file("archc: 1\nextends: base.yaml\nname: resnet_wide\nclass: ResNetWide\n", "own.yaml")
    plain = spec_file("archc: 1\nname: resnet_tiny\ninput: [3, 8, 8]\nlayers:\n  - c: conv(4, 3)\n", "plain.yaml")
    for path, name in ((base, "ResNetTiny"), (same, "ResNetTiny"), (own, "ResNetWide"), (plain, "ResnetTiny")):
        source = archc.compile_source(path)
        assert f"\nclass {name}(nn.Module):" in source and f"def build() -> {name}:" in source
        assert type(archc.build(path)).__name__ == name
    assert "class ResNetTiny" in archc.compile_source(base, inference=True)
