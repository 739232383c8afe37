"""`archc port` and `archc.port`: a state_dict saved for spec A, moved onto spec B.

The checkpoints are real torchvision models' state_dicts (random weights, saved with
torch.save as users save them). Every ported tensor must be bit-identical to the
checkpoint's; the report's counts are computed here from the two state_dicts, never typed;
the result loads with strict=True into archc.build(B); a renamed network is matched by
structure and then computes what torchvision computes; and every bad input is an E-coded
error with no traceback and no output file.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

import archc
from archc.diagnostics import ArchcError

from .spec.test_edit import NOAUX, PETS

# resnet50 with its layers renamed (stem, stage1..4, head) and a 37-way head: nothing matches by name
RENAMED = """\
archc: 1
name: resnet50_renamed
input: [3, 224, 224]
params: {num_classes: 37}
imports:
  - {from: _resnet.yaml, blocks: [Bottleneck, Stage]}
layers:
  - stem: conv(64, 7, stride=2, padding=3, bias=false)
  - stem_bn: bn()
  - relu
  - maxpool: maxpool(3, stride=2, padding=1)
  - stage1: Stage(Bottleneck, 64, 3)
  - stage2: Stage(Bottleneck, 128, 4, stride=2)
  - stage3: Stage(Bottleneck, 256, 6, stride=2)
  - stage4: Stage(Bottleneck, 512, 3, stride=2)
  - avgpool: adaptive_avgpool(1)
  - flatten
  - head: linear(num_classes)
"""
RENAMES = {"conv1": "stem", "bn1": "stem_bn", "layer1": "stage1", "layer2": "stage2", "layer3": "stage3",
           "layer4": "stage4", "fc": "head"}


@pytest.fixture(scope="module")
def resnet50() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    for m in model.modules():  # statistics and affine parameters that differ from their defaults
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(), m.running_var.uniform_(0.5, 2), m.weight.data.normal_()
            m.num_batches_tracked.fill_(7)
    return model.state_dict()


@pytest.fixture(scope="module")
def checkpoint(resnet50, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "resnet50.pth"
    torch.save(resnet50, path)
    return path


def identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit for bit: same dtype, shape and bytes."""
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a.view(-1).view(torch.uint8),
                                                                     b.view(-1).view(torch.uint8))


def test_a_new_head_transfers_everything_else_bit_for_bit(checkpoint, resnet50, spec_file) -> None:
    result = archc.port(checkpoint, "resnet50", spec_file(PETS))
    target = archc.build(PETS).state_dict()
    # expected from the state_dicts themselves: same key and shape moves, the rest is new or dropped
    same = [k for k in target if k in resnet50 and resnet50[k].shape == target[k].shape]
    assert [t.key for t in result.transferred] == same and all(t.how == "name" for t in result.transferred)
    assert [(t.key, t.shape) for t in result.new] == [(k, tuple(target[k].shape)) for k in target if k not in same]
    assert [(t.key, t.shape) for t in result.dropped] == [(k, tuple(resnet50[k].shape)) for k in resnet50
                                                          if k not in same]
    for key in same:
        assert identical(result.state_dict[key], resnet50[key]), key
    shown = ", ".join(f"{t.key} {'×'.join(map(str, t.shape))}" for t in result.new)
    assert result.summary().startswith(f"transferred {len(same)}/{len(resnet50)} tensors; new: {shown}; dropped: ")
    assert result.summary().startswith("transferred 318/320 tensors; new: fc.weight 37×2048, fc.bias 37")
    assert all(t.declared == "fc" for t in (*result.new, *result.dropped)) and not result.undeclared
    model = archc.build(PETS)
    model.load_state_dict(result.state_dict, strict=True)
    assert list(model.state_dict()) == list(result.state_dict)


def test_the_cli_writes_what_the_api_returns(cli, checkpoint, resnet50, spec_file, tmp_path) -> None:
    out = tmp_path / "pets.pt"
    r = cli("port", checkpoint, "--from", "resnet50", "--to", spec_file(PETS), "-o", out, "--strict")
    assert r.code == 0, r.err
    first = r.out.splitlines()[0]
    assert first == ("resnet50 → resnet50_pets: transferred 318/320 tensors; new: fc.weight 37×2048, fc.bias 37; "
                     "dropped: fc.weight 1000×2048, fc.bias 1000")
    assert "new      fc.weight  37×2048" in r.out and f"wrote {out}" in r.err
    ported = torch.load(out, weights_only=True)
    for key, value in resnet50.items():
        if not key.startswith("fc."):
            assert identical(ported[key], value), key
    archc.build(PETS).load_state_dict(ported, strict=True)
    doc = json.loads(cli("port", checkpoint, "--from", "resnet50", "--to", spec_file(PETS), "-o", out,
                         "--format", "json").out)
    assert doc["tensors"] == {"checkpoint": len(resnet50), "target": len(ported)}
    assert len(doc["transferred"]) + len(doc["dropped"]) == len(resnet50)
    assert [t["key"] for t in doc["new"]] == ["fc.weight", "fc.bias"] and doc["undeclared"] == 0


def test_renamed_modules_are_matched_by_structure(checkpoint, resnet50, spec_file) -> None:
    result = archc.port(checkpoint, "resnet50", spec_file(RENAMED))

    def renamed(key: str) -> str:
        first, _, rest = key.partition(".")
        return f"{RENAMES[first]}.{rest}"

    expected = {renamed(k): k for k in resnet50 if not k.startswith("fc.")}
    assert {t.key: t.source for t in result.transferred} == expected
    assert all(t.how == "structure" for t in result.transferred)
    assert [t.key for t in result.new] == ["head.weight", "head.bias"]
    assert [t.key for t in result.dropped] == ["fc.weight", "fc.bias"]
    for key, source in expected.items():
        assert identical(result.state_dict[key], resnet50[source]), key
    # the ported network computes what torchvision's does with the same weights and head
    ours = archc.build(RENAMED)
    ours.load_state_dict(result.state_dict, strict=True)
    theirs = torchvision.models.resnet50()
    theirs.fc = nn.Linear(2048, 37)
    theirs.load_state_dict({k: result.state_dict[renamed(k)] for k in theirs.state_dict()}, strict=True)
    ours.eval(), theirs.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))


def test_renumbered_layers_follow_the_diff_alignment(spec_file, tmp_path) -> None:
    # batch norms inserted after each convolution renumber every later layer of the Sequential,
    # as VGG → VGG-BN does: each convolution's weights must land on the convolution B has in its place
    plain = spec_file("""\
        archc: 1
        name: plain
        input: [3, 16, 16]
        layers:
          - features: ["conv(8, 3, padding=1)", relu, "conv(16, 3, padding=1)", relu, maxpool(2)]
          - flatten
          - fc: linear(10)
        """, "plain.yaml")
    with_bn = spec_file(plain.read_text().replace("name: plain", "name: with_bn").replace(
        '"conv(8, 3, padding=1)", relu, "conv(16, 3, padding=1)", relu',
        '"conv(8, 3, padding=1)", bn(), relu, "conv(16, 3, padding=1)", bn(), relu'), "bn.yaml")
    torch.manual_seed(0)
    source = archc.build(plain).state_dict()
    result = archc.port(source, plain, with_bn)
    convs_a = [n for n, m in archc.build(plain).named_modules() if isinstance(m, nn.Conv2d)]
    convs_b = [n for n, m in archc.build(with_bn).named_modules() if isinstance(m, nn.Conv2d)]
    assert (convs_a, convs_b) == (["features.0", "features.2"], ["features.0", "features.3"])
    for a, b in zip(convs_a, convs_b):
        for p in ("weight", "bias"):
            assert identical(result.state_dict[f"{b}.{p}"], source[f"{a}.{p}"])
    moved = {t.key: (t.source, t.how) for t in result.transferred}
    assert moved["features.3.weight"] == ("features.2.weight", "renumbered")
    bn_keys = [k for k in archc.build(with_bn).state_dict() if k.startswith(("features.1.", "features.4."))]
    assert sorted(t.key for t in result.new) == sorted(bn_keys) and result.dropped == []


def test_dropped_heads_pass_strict(resnet50) -> None:
    torch.manual_seed(0)
    source = torchvision.models.googlenet(init_weights=False).state_dict()
    result = archc.port(source, "googlenet", NOAUX, strict=True)
    aux = [k for k in source if k.startswith(("aux1.", "aux2."))]
    assert [t.key for t in result.dropped] == aux and result.new == []
    assert len(result.transferred) == len(source) - len(aux)
    assert {t.declared for t in result.dropped} == {"aux1", "aux2"}
    theirs = torchvision.models.googlenet(aux_logits=False, init_weights=False)
    theirs.load_state_dict(result.state_dict, strict=True)
    for key, value in result.state_dict.items():
        assert identical(value, source[key])


def test_strict_refuses_what_the_target_does_not_declare(cli, checkpoint, tmp_path) -> None:
    out = tmp_path / "out.pt"
    out.write_bytes(b"earlier output")
    r = cli("port", checkpoint, "--from", "resnet50", "--to", "resnet50", "--set-to", "num_classes=37", "-o", out,
            "--strict")
    assert r.code == 2 and "Traceback" not in r.err
    assert r.err.startswith("specs/_resnet.yaml:76:9: error[E804]: --strict: in 'fc', 2 of resnet50's tensors are new "
                            "(fc.weight 37×2048, fc.bias 37) and 2 of the checkpoint's tensors are dropped"), r.err
    assert out.read_bytes() == b"earlier output"  # nothing written, nothing replaced
    # without --strict the same port is written, and says what was not declared
    r = cli("port", checkpoint, "--from", "resnet50", "--to", "resnet50", "--set-to", "num_classes=37", "-o", out)
    assert r.code == 0 and "not declared by the target" in r.out
    assert "4 new or dropped tensors lie outside the entries resnet50 declares" in r.out


def write(path: Path, data: object) -> Path:
    torch.save(data, path)
    return path


def put(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("make", "words"), [
    (lambda d: d / "missing.pt", "cannot read the checkpoint"),
    (lambda d: d, "it is a directory"),
    (lambda d: put(d / "empty.pt", b""), "is empty"),
    (lambda d: put(d / "junk.pt", b"hello, not a checkpoint"),
     "is not a PyTorch checkpoint, or is damaged"),
    (lambda d: write(d / "model.pt", nn.Linear(2, 3)), "holds pickled Python objects"),
    (lambda d: put(d / "p.pt", pickle.dumps(print)), "holds pickled Python objects"),
    (lambda d: write(d / "list.pt", [torch.zeros(1)]), "holds a list, not a state_dict"),
    (lambda d: write(d / "mixed.pt", {"a.weight": torch.zeros(1), "epoch": 3}), "'epoch' is not a name with a tensor"),
    (lambda d: write(d / "train.pt", {"model": {"fc.weight": torch.zeros(1)}, "epoch": 3}),
     "pick it with --key model"),
])
def test_a_file_that_is_not_a_state_dict_is_e803(make, words: str, cli, tmp_path) -> None:
    path = make(tmp_path)
    out = tmp_path / "out.pt"
    r = cli("port", path, "--from", "lenet5", "--to", "lenet5", "-o", out)
    assert r.code == 2 and "error[E803]" in r.err and words in r.err, r.err
    assert "Traceback" not in r.err and "internal error" not in r.err and not out.exists()


def test_a_truncated_checkpoint_is_e803(checkpoint, cli, tmp_path) -> None:
    cut = tmp_path / "cut.pth"
    cut.write_bytes(checkpoint.read_bytes()[:100_000])
    r = cli("port", cut, "--from", "resnet50", "--to", "resnet50", "-o", tmp_path / "out.pt")
    assert r.code == 2 and "error[E803]" in r.err and "damaged" in r.err and not (tmp_path / "out.pt").exists()


def test_key_picks_the_state_dict_of_a_training_checkpoint(cli, tmp_path) -> None:
    torch.manual_seed(0)
    state = archc.build("lenet5").state_dict()
    path = write(tmp_path / "train.pt", {"model": state, "epoch": 3})
    r = cli("port", path, "--key", "model", "--from", "lenet5", "--to", "lenet5", "-o", tmp_path / "out.pt")
    assert r.code == 0, r.err
    ported = torch.load(tmp_path / "out.pt", weights_only=True)
    assert all(identical(ported[k], v) for k, v in state.items())
    r = cli("port", path, "--key", "weights", "--from", "lenet5", "--to", "lenet5", "-o", tmp_path / "o.pt")
    assert r.code == 2 and "error[E803]: " in r.err and "has no entry 'weights'" in r.err


def test_a_checkpoint_of_another_spec_is_e800(checkpoint, cli, tmp_path) -> None:
    r = cli("port", checkpoint, "--from", "resnet18", "--to", "resnet18", "-o", tmp_path / "out.pt")
    assert r.code == 2 and "error[E800]" in r.err and "was not saved from resnet18 (--from)" in r.err, r.err
    assert not (tmp_path / "out.pt").exists()
    r = cli("port", checkpoint, "--from", "resnet50", "--set-from", "num_classes=10", "--to", "resnet50",
            "-o", tmp_path / "out.pt")
    assert r.code == 2 and "fc.weight 1000×2048 (expected 10×2048)" in r.err
    with pytest.raises(ArchcError) as err:  # saved from a DistributedDataParallel wrapper
        archc.port({f"module.{k}": v for k, v in archc.build("lenet5").state_dict().items()}, "lenet5", "lenet5")
    assert err.value.codes == ["E800"] and "save model.module.state_dict() instead" in err.value.render()


def test_the_output_never_replaces_an_input(checkpoint, cli) -> None:
    before = checkpoint.read_bytes()
    r = cli("port", checkpoint, "--from", "resnet50", "--to", "resnet50", "-o", checkpoint)
    assert r.code == 2 and "error[E700]: refusing to write over the input" in r.err
    assert checkpoint.read_bytes() == before
    r = cli("port", checkpoint, "--from", "resnet50", "--to", "resnet50", "-o", checkpoint.parent / "no" / "x.pt")
    assert r.code == 2 and "error[E700]" in r.err


def test_old_checkpoints_without_step_counters_are_filled(tmp_path) -> None:
    torch.manual_seed(0)
    state = {k: v for k, v in archc.build("resnet18").state_dict().items() if not k.endswith("num_batches_tracked")}
    result = archc.port(state, "resnet18", "resnet18", strict=True)
    assert result.new == [] and result.dropped == [] and len(result.transferred) == len(state)
    assert len(result.filled) == 20 and all(t.key.endswith(".num_batches_tracked") for t in result.filled)
    archc.build("resnet18").load_state_dict(result.state_dict, strict=True)


def test_the_api_raises_what_the_cli_reports(resnet50) -> None:
    with pytest.raises(ArchcError) as err:
        archc.port(resnet50, "resnet50", "resnet50", strict=True, target_overrides={"num_classes": 37})
    assert err.value.codes == ["E804"] and "specs/_resnet.yaml:76:9" in err.value.render()
    with pytest.raises(ArchcError) as err:
        archc.port({"fc.weight": "not a tensor"}, "resnet50", "resnet50")
    assert err.value.codes == ["E803"] and "'fc.weight' is not a name with a tensor" in err.value.render()
