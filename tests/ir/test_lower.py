"""Lowering: names are module paths, containers expand as documented, references resolve."""

from __future__ import annotations

import textwrap

import pytest

import archc
from archc.diagnostics import ArchcError
from archc.ir import check


def lower(text: str, **overrides: object) -> archc.ir.Graph:
    graph = archc.lower(archc.load("t.yaml", text=textwrap.dedent(text)), **overrides)
    check(graph, thorough=True)
    return graph


def paths(graph: archc.ir.Graph) -> list[str]:
    return [n.id for n in graph.nodes.values() if n.module]


def errors(text: str) -> list[tuple[str, int, str]]:
    with pytest.raises(ArchcError) as err:
        lower(text)
    return [(d.code, d.span.line if d.span else 0, f"{d.message} {d.hint}") for d in err.value.diagnostics]


def test_unnamed_entries_are_numbered_like_nn_sequential() -> None:
    g = lower("""
        archc: 1
        name: t
        input: [3, 8, 8]
        layers: [conv(4, 3), relu, maxpool(2), flatten, linear(2)]
    """)
    assert paths(g) == ["0", "1", "2", "3", "4"]


def test_a_named_list_numbers_its_entries_and_names_take_a_position() -> None:
    g = lower("""
        archc: 1
        name: t
        input: [3, 8, 8]
        layers:
          - features: [conv(4, 3), act: relu, conv(4, 3)]
          - flatten
          - head: linear(2)
    """)
    assert paths(g) == ["features.0", "features.act", "features.2", "flatten", "head"]


def test_module_bodies_share_parameter_free_layers_like_torchvision() -> None:
    g = lower("""
        archc: 1
        name: t
        input: [3, 8, 8]
        layers:
          - c1: conv(4, 3, padding=1)
          - relu
          - c2: conv(4, 3, padding=1)
          - relu
          - d1: dropout(0.1)
          - dropout(0.2)
          - dropout(0.3)
    """)
    assert paths(g) == ["c1", "relu", "c2", "relu#1", "d1", "dropout", "dropout_1"]
    assert g.nodes["relu#1"].scope == ("relu",)


def test_inline_blocks_splice_into_the_list() -> None:
    g = lower("""
        archc: 1
        name: t
        input: [3, 16, 16]
        params: {bn: false}
        blocks:
          Stage:
            inline: true
            params: {width: int, convs: int, bn: false}
            layers:
              - {repeat: convs, each: [conv(width, 3, padding=1), {when: bn, layers: bn()}, relu]}
              - maxpool(2, stride=2)
        layers:
          - features: [Stage(8, 1, bn), Stage(16, 2, bn)]
    """)
    assert paths(g) == [f"features.{i}" for i in range(8)]
    assert [g.nodes[f"features.{i}"].op_name for i in range(8)] == \
        ["conv", "relu", "maxpool", "conv", "relu", "conv", "relu", "maxpool"]
    g = lower("""
        archc: 1
        name: t
        input: [3, 16, 16]
        blocks:
          Stage:
            inline: true
            params: {width: int, bn: false}
            layers: [conv(width, 3, padding=1), {when: bn, layers: bn()}, relu]
        layers:
          - features: [Stage(8, bn=true), Stage(16)]
    """)
    assert [g.nodes[p].op_name for p in paths(g)] == ["conv", "bn", "relu", "conv", "relu"]


def test_named_repeat_numbers_its_children_and_reads_the_index() -> None:
    g = lower("""
        archc: 1
        name: t
        input: [3, 16, 16]
        blocks:
          B: {params: {w: int, s: 1}, layers: [conv: conv(w, 3, stride=s, padding=1)]}
        layers:
          - stage: {repeat: 3, each: 'B(4 * (i + 1), s=2 if i == 0 else 1)'}
    """)
    assert paths(g) == ["stage.0.conv", "stage.1.conv", "stage.2.conv"]
    assert [g.nodes[p].shape for p in paths(g)] == [(4, 8, 8), (8, 8, 8), (12, 8, 8)]


def test_from_builds_arbitrary_dags() -> None:
    g = lower("""
        archc: 1
        name: unet
        input: [3, 16, 16]
        layers:
          - enc1: [conv(8, 3, padding=1), relu]
          - down: maxpool(2)
          - enc2: [conv(16, 3, padding=1), relu]
          - up: {layers: [adaptive_avgpool(16), conv(8, 1)]}
          - dec1: {from: [up, enc1], merge: concat, layers: [conv(8, 3, padding=1), relu]}
          - dense: {from: [input, enc1, dec1], merge: concat}
          - out: conv(2, 1)
    """)
    assert g.nodes["dec1:concat"].inputs == ("up.1", "enc1.1")
    assert g.nodes["dec1:concat"].shape == (16, 16, 16)
    assert g.nodes["dense:concat"].inputs == ("input", "enc1.1", "dec1.1")
    assert g.nodes["out"].shape == (2, 16, 16)


def test_heads_branch_off_and_do_not_change_the_flow() -> None:
    g = lower("""
        archc: 1
        name: t
        input: [3, 8, 8]
        train_outputs: [late, early]
        layers:
          - a: conv(4, 3)
          - early: {from: a, training_only: true, layers: [flatten, fc: linear(2)]}
          - b: conv(4, 3)
          - late: {training_only: true, layers: [flatten, fc: linear(2)]}
          - flatten
          - fc: linear(3)
    """)
    assert g.nodes["b"].inputs == ("a",)
    assert [h.name for h in g.heads] == ["late", "early"]
    assert g.nodes["early.fc"].training_only and not g.nodes["fc"].training_only
    report = archc.analyze(g)
    assert report.totals.params_without_heads == report.totals.params - (4 * 36 * 2 + 2) - (4 * 16 * 2 + 2)


def test_input_shape_can_be_read_and_overridden() -> None:
    text = """
        archc: 1
        name: t
        input: [3, 8, 8]
        params: {mult: 2}
        layers:
          - c: conv(input.channels * mult, 1)
          - pool: avgpool(input.height // 2)
    """
    g = lower(text)
    assert g.nodes["pool"].shape == (6, 2, 2)
    g = lower(text, input=(5, 12, 12), mult=3)
    assert g.nodes["pool"].shape == (15, 2, 2)


def test_block_typed_parameters_select_a_block() -> None:
    text = """
        archc: 1
        name: t
        input: [3, 8, 8]
        params: {unit: Big}
        blocks:
          Big: {layers: [c: conv(16, 1)]}
          Small: {layers: [c: conv(2, 1)]}
          Wrap: {params: {b: block}, layers: [inner: b()]}
        layers:
          - w: Wrap(unit)
    """
    assert lower(text).nodes["w.inner.c"].shape == (16, 8, 8)
    assert lower(text, unit="Small").nodes["w.inner.c"].shape == (2, 8, 8)


def test_imports_and_extends(tmp_path) -> None:
    (tmp_path / "_blocks.yaml").write_text(textwrap.dedent("""
        archc: 1
        name: blocks
        input: [3, 8, 8]
        blocks:
          Unit: {params: {w: int}, layers: [conv: conv(w, 3, padding=1), relu]}
          Other: {layers: [relu]}
        layers: [relu]
    """))
    (tmp_path / "base.yaml").write_text(textwrap.dedent("""
        archc: 1
        name: base
        input: [3, 8, 8]
        params: {width: 4}
        imports: [{from: _blocks.yaml, blocks: [Unit]}]
        layers:
          - u: Unit(width)
    """))
    (tmp_path / "variant.yaml").write_text("archc: 1\nextends: base.yaml\nname: variant\nparams: {width: 7}\n")
    g = archc.lower(tmp_path / "variant.yaml")
    assert g.name == "variant" and g.nodes["u.conv"].shape == (7, 8, 8)
    (tmp_path / "bad.yaml").write_text("archc: 1\nextends: base.yaml\nname: bad\nparams: {widht: 7}\n")
    with pytest.raises(ArchcError) as err:
        archc.lower(tmp_path / "bad.yaml")
    assert err.value.codes == ["E309"] and "did you mean 'width'?" in err.value.render()


def test_import_errors(tmp_path) -> None:
    (tmp_path / "a.yaml").write_text("archc: 1\nname: a\ninput: [3]\nimports: [{from: b.yaml, blocks: [B]}]\n"
                                     "blocks: {A: {layers: [relu]}}\nlayers: [relu]\n")
    (tmp_path / "b.yaml").write_text("archc: 1\nname: b\ninput: [3]\nimports: [{from: a.yaml, blocks: [A]}]\n"
                                     "blocks: {B: {layers: [relu]}}\nlayers: [relu]\n")
    with pytest.raises(ArchcError) as err:
        archc.lower(tmp_path / "a.yaml")
    assert "E307" in err.value.codes and "import cycle" in err.value.render()
    (tmp_path / "c.yaml").write_text("archc: 1\nname: c\ninput: [3]\nimports: [{from: nope.yaml, blocks: [X]}]\n"
                                     "layers: [relu]\n")
    with pytest.raises(ArchcError) as err:
        archc.lower(tmp_path / "c.yaml")
    assert err.value.codes == ["E307"] and "cannot find the imported file 'nope.yaml'" in err.value.render()
    (tmp_path / "d.yaml").write_text("archc: 1\nname: d\ninput: [3]\nimports: [{from: b.yaml, blocks: [C]}]\n"
                                     "layers: [relu]\n")
    with pytest.raises(ArchcError) as err:
        archc.lower(tmp_path / "d.yaml")
    assert "'b.yaml' defines no block 'C'" in err.value.render()


def test_names_that_would_break_python_or_torch() -> None:
    for name, words in [("forward", "shadow nn.Module.forward"), ("training", "shadow"), ("class", "keyword"),
                        ("_x", "reserved for nn.Module internals"), ("3x", "not a valid"), ("input", "meaning")]:
        errs = errors(f"archc: 1\nname: t\ninput: [3, 8, 8]\nlayers:\n  - {name}: relu\n")
        assert errs[0][0] == "E304" and words in errs[0][2], name


def test_block_argument_errors() -> None:
    head = "archc: 1\nname: t\ninput: [3, 8, 8]\nblocks:\n  B: {params: {w: int, s: 1}, layers: [c: conv(w, 1)]}\n"
    assert errors(head + "layers:\n  - b: B(4, 1, 2)\n")[0][:2] == ("E308", 7)
    assert errors(head + "layers:\n  - b: B(4, z=1)\n")[0][:2] == ("E301", 7)
    assert errors(head + "layers:\n  - b: B(4, w=1)\n")[0][:2] == ("E301", 7)
    assert "must be int, got float 1.5" in errors(head + "layers:\n  - b: B(4, s=1.5)\n")[0][2]
    # `/` gives a float; where a size needs an integer, the hint points at `//`
    code, _, text = errors("archc: 1\nname: t\ninput: [3, 8, 8]\nparams: {w: 16}\nlayers:\n  - c: conv(w / 2, 1)\n")[0]
    assert code == "E202" and "'out' must be an integer, got number 8.0" in text and "`//` an integer" in text
    assert "'p' is an int parameter, not a layer" in errors(
        "archc: 1\nname: t\ninput: [3]\nparams: {p: 1}\nlayers:\n  - x: p()\n")[0][2]


def test_budgets() -> None:
    from archc.limits import Limits

    text = "archc: 1\nname: t\ninput: [3, 8, 8]\nlayers:\n  - s: {repeat: 100, each: relu}\n"
    with pytest.raises(ArchcError) as err:
        archc.lower(archc.load("t.yaml", text=text), limits=Limits(max_nodes=50))
    assert err.value.codes == ["E600"]
    with pytest.raises(ArchcError) as err:
        archc.lower(archc.load("t.yaml", text=text), limits=Limits(max_repeat=10))
    assert err.value.codes == ["E603"]
    text = "archc: 1\nname: t\ninput: [3, 8, 8]\nlayers:\n  - fc: [flatten, linear(100000000)]\n"
    with pytest.raises(ArchcError) as err:
        archc.lower(archc.load("t.yaml", text=text), limits=Limits(max_params=10**9))
    assert err.value.codes == ["E602"]
