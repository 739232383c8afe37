"""`freeze:` (issue 14): what a fine-tuning spec does not train, against torch.

The frozen set is compared with torch's own view of the built module: which parameters have
``requires_grad`` (computed here from the spec's paths over ``named_parameters()``, never
from archc's figures), trainable counts against ``sum(p.numel() for p in m.parameters() if
p.requires_grad)``, gradients and Adam's state after a real step, saved activations against
``saved_tensors_hooks`` (tests/measure.py), and frozen batch norms against their running
statistics after training-mode forwards.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import archc
from archc.analysis.memory import DTYPES
from archc.diagnostics import ArchcError

from .measure import saved_bytes

pytestmark = pytest.mark.usefixtures("one_thread")

# the user story of the seed texts: a pretrained ResNet, its stem and first two stages
# frozen with their batch norms, a new head for 37 classes
PETS = """\
archc: 1
extends: {base}
name: {name}
replace:
  fc: linear(37)
freeze:
  modules: [{modules}]
  norms: {norms}
"""


def variant(tmp_path, modules: str, *, base: str = "resnet18.yaml", norms: str = "eval",
            name: str = "pets") -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(PETS.format(base=base, name=name, modules=modules, norms=norms), encoding="utf-8")
    return str(path)


def frozen_by_hand(model: nn.Module, prefixes: list[str]) -> set[str]:
    """The parameters under these module paths, as a user freezing by hand would find them."""
    return {k for k, _ in model.named_parameters() if any(k == p or k.startswith(p + ".") for p in prefixes)}


def test_requires_grad_follows_the_spec(tmp_path) -> None:
    spec = variant(tmp_path, "conv1, bn1, layer1, layer2")
    model = archc.build(spec, input=(3, 32, 32))
    want = frozen_by_hand(model, ["conv1", "bn1", "layer1", "layer2"])
    assert want and {k for k, p in model.named_parameters() if not p.requires_grad} == want
    report = archc.analyze(spec, input=(3, 32, 32))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert report.totals.trainable == trainable
    assert report.totals.frozen == sum(p.numel() for p in model.parameters() if not p.requires_grad)
    # each row's trainable count, against the module at that path
    for row in report.rows:
        sub = model.get_submodule(row.path)
        assert row.trainable == sum(p.numel() for p in sub.parameters() if p.requires_grad), row.path


@pytest.mark.parametrize(("modules", "prefixes"), [
    ("'layer[12]'", ["layer1", "layer2"]),  # a glob
    ("'layer*'", ["layer1", "layer2", "layer3", "layer4"]),
    ("layer1.0-1, layer2.0.conv1", ["layer1.0", "layer1.1", "layer2.0.conv1"]),  # a range, a deep path
    ("layer3.1.bn*", ["layer3.1.bn1", "layer3.1.bn2"]),
])
def test_patterns(tmp_path, modules: str, prefixes: list[str]) -> None:
    model = archc.build(variant(tmp_path, modules, norms="train"), input=(3, 32, 32))
    assert {k for k, p in model.named_parameters() if not p.requires_grad} == frozen_by_hand(model, prefixes)


def test_frozen_batch_norms_stay_in_eval_mode(tmp_path) -> None:
    model = archc.build(variant(tmp_path, "conv1, bn1, layer1"), input=(3, 32, 32))
    norms = [m for p, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)
             and (p == "bn1" or p.startswith("layer1."))]
    others = [m for p, m in model.named_modules() if isinstance(m, nn.BatchNorm2d) and m not in norms]
    assert norms and others
    for _ in range(2):  # after construction, and after eval() then train() again
        assert not any(m.training for m in norms) and all(m.training for m in others)
        model.eval()
        model.train()
    before = [m.running_mean.clone() for m in norms]
    after_others = [m.running_mean.clone() for m in others]
    model(torch.randn(2, 3, 32, 32))
    assert all(torch.equal(a, m.running_mean) for a, m in zip(before, norms)), "frozen statistics moved"
    assert not all(torch.equal(a, m.running_mean) for a, m in zip(after_others, others))


def test_norms_train_is_the_default(tmp_path) -> None:
    path = tmp_path / "short.yaml"
    path.write_text("archc: 1\nextends: resnet18.yaml\nname: short\nfreeze: [conv1, bn1]\n", encoding="utf-8")
    model = archc.build(str(path), input=(3, 32, 32))
    assert model.bn1.training and not model.bn1.weight.requires_grad and not model.conv1.weight.requires_grad
    assert "FROZEN_NORMS" not in archc.compile_source(str(path))


def test_one_step_of_adam_trains_only_what_is_not_frozen(tmp_path) -> None:
    spec = variant(tmp_path, "conv1, bn1, layer1, layer2, layer3")
    model = archc.build(spec, input=(3, 32, 32))
    start = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    loss = model(torch.randn(4, 3, 32, 32)).logsumexp(1).mean()
    loss.backward()
    optimizer.step()
    frozen = frozen_by_hand(model, ["conv1", "bn1", "layer1", "layer2", "layer3"])
    for key, value in model.state_dict().items():
        owner = key.rpartition(".")[0]
        if key in frozen or any(owner == p or owner.startswith(p + ".") for p in ("bn1", "layer1", "layer2",
                                                                                   "layer3")):
            assert torch.equal(value, start[key]), f"{key} changed though frozen"
    assert not torch.equal(model.fc.weight, start["fc.weight"])
    # the estimate's gradients and optimizer state, against what torch holds after the step
    memory = archc.analyze(spec, input=(3, 32, 32)).memory(4, optimizer="adam")
    grads = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None)
    state = sum(t.numel() * t.element_size() for s in optimizer.state.values() for k, t in s.items() if k != "step")
    assert memory.gradients == grads and memory.optimizer_state == state
    assert memory.weights == sum(t.numel() * DTYPES["fp32"] for t in model.state_dict().values())


@pytest.mark.parametrize(("modules", "norms"), [
    ("conv1, bn1, layer1, layer2", "eval"),  # below the first trainable layer nothing is saved
    ("conv1, bn1, layer1, layer2", "train"),
    ("layer2, layer3.0, fc", "train"),  # frozen between trainable layers, and a frozen linear
])
def test_saved_activations_against_torch(tmp_path, modules: str, norms: str) -> None:
    spec = variant(tmp_path, modules, norms=norms)
    memory = archc.analyze(spec, input=(3, 32, 32)).memory(2)
    model = archc.build(spec, input=(3, 32, 32))
    assert memory.saved_activations == saved_bytes(model, [torch.randn(2, 3, 32, 32)])


def test_the_table_shows_what_trains(cli, tmp_path) -> None:
    spec = variant(tmp_path, "conv1, bn1, layer1, layer2", base="resnet50.yaml")
    out = cli("table", spec, "--depth", "1").out
    header = next(line for line in out.splitlines() if line.startswith("Module"))
    assert header.split() == ["Module", "Op", "Output", "Params", "Trainable", "MACs"]
    rows = {line.split()[0]: line.split() for line in out.splitlines()[4:] if line and line[0].isalpha()}
    assert rows["layer2"][-2] == "frozen" and rows["layer3"][-2] == "yes" and rows["relu"][-2] == "–"
    model = archc.build(spec)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    assert f"  frozen:             {frozen:,}" in out
    doc = json.loads(cli("table", spec, "--format", "json", "--depth", "1").out)
    assert doc["totals"]["frozen"] == frozen
    assert {r["path"]: r["trainable"] for r in doc["rows"]}["layer3"] == \
        sum(p.numel() for p in model.layer3.parameters())
    # a spec that freezes nothing keeps the default columns
    plain = cli("table", "resnet50", "--depth", "1").out
    assert "Trainable " not in next(line for line in plain.splitlines() if line.startswith("Module"))


def test_emitted_code_reads_what_is_frozen(tmp_path) -> None:
    source = archc.compile_source(variant(tmp_path, "conv1, bn1, layer1"))
    assert "FROZEN: tuple[str, ...] = ('conv1', 'bn1', 'layer1')" in source
    assert "self.get_submodule(path).requires_grad_(False)" in source
    assert "def train(self, mode: bool = True)" in source
    inference = archc.compile_source(variant(tmp_path, "conv1, bn1, layer1"), inference=True)
    assert "FROZEN" not in inference and "requires_grad" not in inference


def test_a_tensor_a_module_holds_itself(tmp_path) -> None:
    """ConvNeXt's layer_scale is a parameter of its block, not a module: freezing it (or its block)
    freezes that tensor."""
    path = tmp_path / "scaled.yaml"
    path.write_text("""\
archc: 1
name: scaled
input: [4, 6, 6]
blocks:
  Block:
    params: {c: int}
    layers:
      - conv: conv(c, 3, padding=1)
      - gamma: layer_scale(0.5)
layers:
  - a: Block(4)
  - b: Block(4)
freeze: [a.gamma, b]
""", encoding="utf-8")
    model = archc.build(str(path))
    assert {k for k, p in model.named_parameters() if not p.requires_grad} == {"a.gamma", "b.conv.weight",
                                                                                "b.conv.bias", "b.gamma"}
    assert archc.analyze(str(path)).totals.trainable == model.a.conv.weight.numel() + model.a.conv.bias.numel()


@pytest.mark.parametrize(("freeze", "message"), [
    ("[conv1, layr2]", "no module 'layr2' to freeze"),
    ("[relu]", "'relu' has no parameters to freeze"),
    ("[layer9.0-3]", "no module 'layer9.0-3' to freeze"),
    ("{norms: eval}", "missing key 'modules' in 'freeze'"),
    ("{modules: [conv1], norms: frozen}", "norms"),
    ("{modules: [conv1], keep: 1}", "keep"),
    ("[]", "'freeze' names the modules"),
    ("['a b']", "is not a module path"),
])
def test_errors(tmp_path, freeze: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"archc: 1\nextends: resnet18.yaml\nname: bad\nfreeze: {freeze}\n", encoding="utf-8")
    with pytest.raises(ArchcError) as err:
        archc.analyze(str(path))
    assert message in str(err.value)
    assert "bad.yaml:4:" in str(err.value)


def test_a_variant_of_a_variant_replaces_the_freeze(tmp_path) -> None:
    base = variant(tmp_path, "conv1, bn1, layer1, layer2", name="base")
    leaf = tmp_path / "leaf.yaml"
    leaf.write_text(f"archc: 1\nextends: {base}\nname: leaf\nfreeze: [layer4]\n", encoding="utf-8")
    model = archc.build(str(leaf), input=(3, 32, 32))
    assert {k for k, p in model.named_parameters() if not p.requires_grad} == frozen_by_hand(model, ["layer4"])
    inherit = tmp_path / "inherit.yaml"
    inherit.write_text(f"archc: 1\nextends: {base}\nname: inherit\n", encoding="utf-8")
    model = archc.build(str(inherit), input=(3, 32, 32))
    assert {k for k, p in model.named_parameters() if not p.requires_grad} == \
        frozen_by_hand(model, ["conv1", "bn1", "layer1", "layer2"])


def test_diff_says_what_a_variant_freezes(cli, tmp_path) -> None:
    spec = variant(tmp_path, "conv1, bn1, layer1, layer2", base="resnet50.yaml")
    out = cli("diff", "resnet50", spec, "--depth", "0").out
    assert f"B replaces fc ({spec}:5:3); freezes conv1, bn1, layer1, layer2 ({spec}:7:13)" in out
    model = archc.build(spec)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert f"Trainable:  A 25,557,032, B {trainable:,}" in out  # A: torchvision's resnet50, all of it
    doc = json.loads(cli("diff", "resnet50", spec, "--format", "json").out)
    assert [(e["kind"], e["path"]) for e in doc["edits"]["b"]] == [
        ("replace", "fc"), ("freeze", "conv1"), ("freeze", "bn1"), ("freeze", "layer1"), ("freeze", "layer2")]
    # the same freeze on both sides is no difference
    same = cli("diff", spec, spec, "--depth", "0").out
    assert "freezes" not in same
