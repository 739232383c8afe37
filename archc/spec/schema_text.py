"""What an editor shows when hovering a key of a spec: one entry per key of the YAML surface.

Kept apart from :mod:`archc.spec.schema` so the generator reads as structure and this
file as prose. Each entry is ``(description, example)``: the description is plain text
(one or two sentences), the example a short YAML snippet shown in the Markdown hover.
A key is looked up as ``(context, key)`` first, then ``("*", key)``; the generator
fails when a key the parser accepts has no entry here, so new keys get documented.
"""

from __future__ import annotations

KEY_DOCS: dict[tuple[str, str], tuple[str, str]] = {
    # --- the spec's top level -------------------------------------------------------------
    ("spec", "archc"): (
        "Version of the spec language this file is written in; always 1.",
        "archc: 1"),
    ("spec", "name"): (
        "The network's name, shown in tables and diagrams and used for the generated module.",
        "name: resnet50"),
    ("spec", "class"): (
        "The name of the generated network class, where the spec's name in CamelCase would not read as a "
        "PyTorch engineer writes it. A variant may set its own.",
        "class: ResNet50"),
    ("spec", "doc"): (
        "What this network is and where it comes from (paper, year). The first line is shown by "
        "`archc list` and at the top of `archc table`.",
        "doc: |\n  ResNet-50 (He et al., 2016) in torchvision's layout."),
    ("spec", "extends"): (
        "A base spec this file is a variant of: a path relative to this file (or a shipped file such as "
        "`_resnet.yaml`). A variant changes name, class, doc, input, params, init, train_outputs and freeze, and "
        "replaces or drops entries of its base (`replace:`, `drop:`); it cannot define layers, blocks or imports.",
        "extends: _resnet.yaml\nparams: {block: Bottleneck, depths: [3, 4, 6, 3]}"),
    ("spec", "input"): (
        "The input's shape without the batch dimension: [channels, height, width] for images, "
        "[channels, length] for sequences, [features] for vectors. `--input 3x32x32` overrides it.",
        "input: [3, 224, 224]"),
    ("spec", "params"): (
        "Parameters of the network, usable in every expression: `name: default`, `name: type` "
        "(int, float, bool, str, list, block, int | pair) for one that must be given, or "
        "`name: type = default`. A default may compute from the parameters before it, e.g. with ceil, "
        "floor, round, int or make_divisible (torchvision's _make_divisible). `--set name=value` "
        "overrides a default.",
        "params: {num_classes: 1000, width: 64}"),
    ("spec", "imports"): (
        "Blocks defined in other spec files, by name. Paths are relative to this file.",
        "imports:\n  - {from: _blocks.yaml, blocks: [BasicBlock, Bottleneck]}"),
    ("spec", "blocks"): (
        "Named, parameterised pieces of network, defined once and used like ops "
        "(`Bottleneck(64, stride=2)`). Each becomes one nn.Module class in the generated code.",
        "blocks:\n  ConvBN:\n    params: {out: int, stride: 1}\n    layers:\n"
        "      - conv: conv(out, 3, stride=stride, padding=1, bias=false)\n      - bn: bn()"),
    ("spec", "layers"): (
        "The network, top to bottom: layer calls (`relu`, `conv(64, 3)`), named layers "
        "(`conv1: conv(64, 7, stride=2)`) and containers. A name is the PyTorch module path; unnamed "
        "entries are numbered the way nn.Sequential numbers them.",
        "layers:\n  - conv1: conv(64, 7, stride=2, padding=3, bias=false)\n  - bn1: bn()\n  - relu\n"
        "  - fc: linear(num_classes)"),
    ("spec", "replace"): (
        "In a variant: entries of the base's layers, by name or dotted path (`classifier.6` is a position "
        "in a list), that get a new value, keeping their name and place. The base is not copied.",
        "replace:\n  fc: linear(37)"),
    ("spec", "drop"): (
        "In a variant: entries of the base's layers, by name or dotted path, that are left out.",
        "drop: [aux1, aux2]"),
    ("spec", "freeze"): (
        "Modules whose parameters are not trained (requires_grad=False): module paths as the table shows "
        "them, whose parts may be globs (`layer*`) or ranges of positions (`features.0-9`). With "
        "`{modules: [...], norms: eval}` the batch norms among them also stay in eval mode.",
        "freeze: {modules: [conv1, bn1, layer1, layer2], norms: eval}"),
    ("spec", "train_outputs"): (
        "Training-only heads (by name) that the module returns after the main output in training mode, "
        "in this order.",
        "train_outputs: [aux2, aux1]"),
    ("spec", "init"): (
        "How weights are initialised, per kind of layer; `default` (or leaving a kind out) keeps PyTorch's "
        "own initialisation.",
        "init: {conv: kaiming_normal_fan_out, norm: ones_zeros, linear: normal, std: 0.01}"),
    # --- blocks and containers (body keys are shared) ---------------------------------------
    ("*", "doc"): (
        "What this does and where it comes from (paper, section, figure).",
        "doc: Two 3×3 convolutions around an identity shortcut (paper Fig. 2)."),
    ("block", "params"): (
        "The block's parameters, in the order positional arguments bind to them: `name: type` "
        "(int, float, bool, str, list, block, or int | pair: one size or [height, width]) for a required "
        "one, `name: default` or `name: type = default` for an optional one.",
        "params: {planes: int, stride: 1}"),
    ("block", "inline"): (
        "true: the block's layers are spliced into the list that calls it instead of forming a module "
        "of their own (like torchvision's VGG `make_layers`, which builds one flat `features`).",
        "inline: true"),
    ("*", "layers"): (
        "A sequence: one layer call, or a list of entries applied in order (an nn.Sequential when it "
        "has a name).",
        "layers:\n  - conv: conv(out, 3, padding=1, bias=false)\n  - bn: bn()\n  - relu"),
    ("*", "parallel"): (
        "Branches that all read the same input; their outputs are merged, by default concatenated on "
        "channels (Inception). Each key names a branch (its module path); written as a list, each item "
        "is a branch made of entries of the enclosing list, whose modules are the enclosing module's "
        "(torchvision's Inception-v3: `- layers: [branch5x5_1: ..., branch5x5_2: ...]`).",
        "parallel:\n  branch1: conv(64, 1)\n  branch2:\n    - conv(96, 1)\n    - conv(128, 3, padding=1)"),
    ("*", "residual"): (
        "A residual connection: `then(body(x) + shortcut(x))`. The shortcut is the identity unless the "
        "body changes the shape (or `when` says otherwise).",
        "residual:\n  body:\n    - conv(c, 3, padding=1)\n    - bn()\n    - relu\n"
        "    - conv(c, 3, padding=1)\n    - bn()\n  then: relu"),
    ("*", "repeat"): (
        "How many copies of `each` to chain (an integer or an expression). The copies are numbered "
        "0, 1, … like nn.Sequential's children; the loop index is readable as `i` (see `index`).",
        "repeat: depth\neach: Bottleneck(planes, stride=stride if i == 0 else 1)"),
    ("*", "each"): (
        "What `repeat` repeats: a layer call or a list of entries, evaluated once per copy with the "
        "loop index set. A named entry's name may be made from the index, `\"denselayer{i + 1}\": "
        "DenseLayer(32)`, so each copy has a name of its own (torchvision's DenseNet); '-' may join "
        "its pieces, `\"block{stage}-{i}\"` (torchvision's RegNet).",
        "each: Bottleneck(planes, stride=stride if i == 0 else 1)"),
    ("*", "index"): (
        "The name of the loop index of `repeat` (default `i`), for nested repeats.",
        "index: j"),
    ("*", "merge"): (
        "How the branches of `parallel` (or the inputs named by a `from` list) are merged: `concat` "
        "(on `dim`, the default), `add`, or `mul` (elementwise product, broadcasting sizes of 1: a "
        "squeeze-and-excitation gate, `{from: [x, scale], merge: mul}`).",
        "merge: add"),
    ("*", "dim"): (
        "The dimension `concat` joins along, in PyTorch's numbering (the batch is 0); default 1, "
        "the channels.",
        "dim: 1"),
    ("container", "from"): (
        "Read from a named point instead of the previous entry: one name, or a list of names whose "
        "outputs are merged (see `merge`); `input` is the network's input. References go back only.",
        "- aux1: {from: inception4a, training_only: true, layers: InceptionAux(num_classes)}"),
    ("container", "training_only"): (
        "true: this branch runs only in training mode (an auxiliary head). It does not feed the next "
        "entry; it counts in the parameters but not in the inference MACs.",
        "training_only: true"),
    ("container", "when"): (
        "A condition (an expression that must be true or false); the entry exists only where it "
        "holds.",
        "- drop: {when: dropout > 0, layers: dropout(dropout)}"),
    # --- residual ----------------------------------------------------------------------------
    ("residual", "body"): (
        "The residual branch: a layer call or a list of entries.",
        "body:\n  - conv1: conv(planes, 3, stride=stride, padding=1, bias=false)\n  - bn1: bn()\n  - relu"),
    ("residual", "shortcut"): (
        "The projection taken when the body changes the shape (stride or channels); otherwise the "
        "shortcut is the identity. A named entry gives the module path (torchvision's `downsample`).",
        "shortcut:\n  downsample:\n    - conv(planes * 4, 1, stride=stride, bias=false)\n    - bn()"),
    ("residual", "when"): (
        "Take the projection shortcut exactly when this condition holds, instead of when the shape "
        "changes.",
        "when: stride != 1 or input.channels != planes"),
    ("residual", "then"): (
        "What follows the addition, e.g. the post-add ReLU.",
        "then: relu"),
    # --- imports -----------------------------------------------------------------------------
    ("import", "from"): (
        "The spec file to import from, relative to this file (a bare name also finds a shipped file).",
        "from: _resnet.yaml"),
    ("import", "blocks"): (
        "The names of the blocks to import.",
        "blocks: [BasicBlock, Bottleneck]"),
    # --- init --------------------------------------------------------------------------------
    ("init", "conv"): (
        "How convolution weights are initialised (`default`: PyTorch's own).",
        "conv: kaiming_normal_fan_out"),
    ("init", "linear"): (
        "How linear weights are initialised (`default`: PyTorch's own); `normal` and `trunc_normal` use `std`.",
        "linear: normal"),
    ("init", "norm"): (
        "How normalisation layers are initialised: `ones_zeros` sets weight 1 and bias 0.",
        "norm: ones_zeros"),
    ("init", "std"): (
        "The standard deviation of `normal` and `trunc_normal` initialisation.",
        "std: 0.01"),
    ("init", "zero_init_residual"): (
        "Zero the weight of the last batch norm in every residual body, so each block starts as the "
        "identity (torchvision's `zero_init_residual`; Goyal et al., 2017).",
        "zero_init_residual: true"),
}


def key_doc(context: str, key: str) -> tuple[str, str]:
    """The description and example of ``key`` in ``context``; KeyError if it has none."""
    for where in ((context, key), ("*", key)):
        if where in KEY_DOCS:
            return KEY_DOCS[where]
    raise KeyError(f"the schema has no description of '{key}' in {context}: add one to archc/spec/schema_text.py")
