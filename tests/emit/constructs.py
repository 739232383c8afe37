"""One small spec per construct of the language (docs/language.md), for tests that must cover
every construct: the emitted source is ruff-clean and identical across runs
(tests/emit/test_constructs.py), and the built network runs as the oracle runs its IR.

Each spec is complete and valid; they are kept small (4×8×8 inputs, a few channels).
"""

from __future__ import annotations

CONSTRUCTS: dict[str, str] = {
    "plain layers, shared parameter-free modules": """
        archc: 1
        name: plain
        input: [4, 8, 8]
        layers:
          - conv1: conv(6, 3, padding=1)
          - relu
          - conv2: conv(6, 3, padding=1, bias=false)
          - bn: bn()
          - relu
          - pool: maxpool(2)
          - flatten
          - fc: linear(5)
    """,
    "unnamed layers numbered like nn.Sequential": """
        archc: 1
        name: numbered
        input: [4, 8, 8]
        layers:
          - conv(6, 3)
          - relu
          - conv(6, 3)
          - tanh
    """,
    "named list becomes an nn.Sequential": """
        archc: 1
        name: named_list
        input: [4, 8, 8]
        layers:
          - features:
              - conv(6, 3, padding=1)
              - relu
              - maxpool(2)
          - flatten
          - classifier:
              - linear(8)
              - relu
              - dropout(0.5)
              - linear(3)
    """,
    "block with parameters and defaults": """
        archc: 1
        name: blocks
        input: [4, 8, 8]
        params: {width: 6}
        blocks:
          ConvBN:
            params: {out: int, kernel: 3, stride: 1}
            layers:
              - conv: conv(out, kernel, stride=stride, padding=kernel // 2, bias=false)
              - bn: bn()
              - relu
        layers:
          - stem: ConvBN(width)
          - down: ConvBN(width * 2, stride=2)
          - head: ConvBN(3, kernel=1)
    """,
    "block-typed parameter and repeat with index expressions": """
        archc: 1
        name: block_param
        input: [4, 8, 8]
        params: {unit: Unit, depth: 3}
        blocks:
          Unit:
            params: {out: int, stride: 1}
            layers:
              - conv: conv(out, 3, stride=stride, padding=1)
              - relu
          Stage:
            params: {unit: block, out: int, depth: int}
            repeat: depth
            each: unit(out + i, stride=2 if i == 0 else 1)
        layers:
          - stage: Stage(unit, 6, depth)
    """,
    "inline block spliced into a list": """
        archc: 1
        name: inline
        input: [4, 8, 8]
        blocks:
          Pair:
            params: {c: int, n: int}
            inline: true
            layers:
              - repeat: n
                each:
                  - conv(c, 3, padding=1)
                  - relu
              - maxpool(2)
        layers:
          - features:
              - Pair(6, 2)
              - Pair(8, 1)
    """,
    "when on an entry, a group and a named entry": """
        archc: 1
        name: conditions
        input: [4, 8, 8]
        params: {norm: true, extra: false}
        blocks:
          Layer:
            params: {c: int, norm: bool}
            layers:
              - conv: conv(c, 3, padding=1)
              - {when: norm, layers: [bn1: bn()]}
              - relu
        layers:
          - a: Layer(6, norm)
          - b: Layer(6, not norm)
          - {when: extra, layers: ['conv(6, 1)']}
          - head: {when: not extra, layers: conv(2, 1)}
    """,
    "from: DAG with concat and add": """
        archc: 1
        name: dag
        input: [4, 8, 8]
        layers:
          - enc1: ['conv(4, 3, padding=1)', relu]
          - enc2: [maxpool(2), 'conv(6, 3, padding=1)', relu]
          - up: [adaptive_avgpool(8), 'conv(4, 1)']
          - dec: {from: [up, enc1], merge: concat, layers: ['conv(4, 3, padding=1)', relu]}
          - skip: {from: [dec, input], merge: add}
    """,
    "names made from the repeat index, with '-' and a block parameter": """
        archc: 1
        name: made_names
        input: [4, 8, 8]
        blocks:
          Stage:
            params: {stage: int, depth: int, width: int}
            repeat: depth
            each: {"block{stage}-{i}": "conv(width, 3, stride=2 if i == 0 else 1, padding=1)"}
        layers:
          - trunk: {repeat: 2, index: s, each: {"block{s + 1}": "Stage(s + 1, 2, 4 * (s + 2))"}}
          - head: {repeat: 2, each: {"relu{j}-x": relu}, index: j}
    """,
    "a numbered list with named entries, a repeat of made names and a when: (DenseNet's features)": """
        archc: 1
        name: dense_loop
        input: [3, 16, 16]
        params: {block_config: [2, 3, 1], growth_rate: 4}
        blocks:
          DenseLayer:
            params: {growth: int}
            layers:
              - norm1: bn()
              - relu1: relu
              - conv1: conv(growth, 3, padding=1, bias=false)
              - features: {from: [input, conv1], merge: concat}
          DenseBlock:
            params: {n: int, growth: int}
            repeat: n
            each: {"denselayer{i + 1}": "DenseLayer(growth)"}
          Transition:
            layers:
              - norm: bn()
              - relu: relu
              - conv: conv(input.channels // 2, 1, bias=false)
              - pool: avgpool(2, stride=2)
        layers:
          - features:
              - conv0: conv(8, 3, padding=1, bias=false)
              - norm0: bn()
              - relu0: relu
              - repeat: len(block_config)
                index: s
                each:
                  - {"denseblock{s + 1}": "DenseBlock(block_config[s], growth_rate)"}
                  - {when: "s < len(block_config) - 1", layers: [{"transition{s + 1}": Transition}]}
              - norm5: bn()
          - flatten
          - classifier: linear(5)
    """,
    "a numbered list with named entries under when:": """
        archc: 1
        name: when_list
        input: [4, 8, 8]
        params: {deep: true, wide: false}
        layers:
          - features:
              - conv0: conv(6, 3, padding=1)
              - {when: deep, layers: [{extra: conv(8, 3, padding=1)}, {extra_relu: relu}]}
              - {when: wide, layers: [{wider: conv(12, 1)}]}
              - norm: bn()
              - relu
              - conv(4, 1)
              - last: {when: deep, layers: relu}
    """,
    "a numbered list with a nested repeat of made names and unnamed entries after it": """
        archc: 1
        name: nested_list
        input: [4, 8, 8]
        params: {depths: [1, 2]}
        layers:
          - features:
              - stem: conv(4, 3, padding=1)
              - repeat: len(depths)
                index: s
                each:
                  - repeat: depths[s]
                    index: j
                    each: {"stage{s + 1}_conv{j}": "conv(4 * (s + 2), 3, padding=1)"}
                  - {"stage{s + 1}_relu": relu}
              - conv(4, 1)
              - tail: bn()
    """,
    "a numbered list of unnamed entries with a named entry in a when: group": """
        archc: 1
        name: when_group_list
        input: [4, 8, 8]
        params: {deep: true}
        layers:
          - features:
              - conv(6, 3, padding=1)
              - {when: deep, layers: [{extra: conv(6, 3, padding=1)}]}
              - relu
              - conv(4, 1)
    """,
    "from: reads a named entry whose when is false as its input": """
        archc: 1
        name: absent_read
        input: [4, 8, 8]
        blocks:
          Res:
            params: {width: int, stride: 1}
            layers:
              - proj: {when: stride != 1 or input.channels != width, layers: "conv(width, 1, stride=stride)"}
              - f: {from: input, layers: ["conv(width, 3, stride=stride, padding=1)", relu]}
              - {from: [proj, f], merge: add}
              - activation: relu
        layers:
          - a: Res(6, stride=2)
          - b: Res(6)
          - c: {when: false, layers: conv(6, 1)}
          - d: {from: [c, b], merge: add}
    """,
    "parallel branches with concat and add": """
        archc: 1
        name: branches
        input: [4, 8, 8]
        blocks:
          Mixed:
            params: {c: int}
            parallel:
              branch1: conv(c, 1)
              branch2: ['conv(c, 1)', 'conv(c, 3, padding=1)']
              branch3: ['maxpool(3, stride=1, padding=1)', 'conv(c, 1)']
          Sum:
            params: {c: int}
            parallel:
              left: conv(c, 3, padding=1)
              right: conv(c, 1)
            merge: add
        layers:
          - mixed: Mixed(3)
          - summed: Sum(5)
    """,
    "residual with identity and projection shortcuts": """
        archc: 1
        name: residuals
        input: [4, 8, 8]
        blocks:
          Basic:
            params: {planes: int, stride: 1}
            residual:
              body:
                - conv1: conv(planes, 3, stride=stride, padding=1, bias=false)
                - bn1: bn()
                - relu
                - conv2: conv(planes, 3, padding=1, bias=false)
                - bn2: bn()
              shortcut:
                downsample: ['conv(planes, 1, stride=stride, bias=false)', bn()]
              then: relu
        layers:
          - layer1: Basic(4)
          - layer2: Basic(8, stride=2)
          - layer3: Basic(8)
    """,
    "residual whose projection a condition chooses": """
        archc: 1
        name: residual_when
        input: [4, 8, 8]
        blocks:
          Pre:
            params: {planes: int, project: bool}
            residual:
              body:
                - conv1: conv(planes, 3, padding=1)
                - relu
              shortcut:
                proj: conv(planes, 1)
              when: project
        layers:
          - a: Pre(4, false)
          - b: Pre(6, true)
          - c: Pre(6, true)
    """,
    "side heads in training with train_outputs": """
        archc: 1
        name: heads
        input: [4, 8, 8]
        train_outputs: [aux2, aux1]
        layers:
          - stem: conv(6, 3, padding=1)
          - mid: conv(6, 3, padding=1)
          - aux1: {from: stem, training_only: true, layers: [adaptive_avgpool(1), flatten, fc: linear(3)]}
          - aux2: {from: mid, training_only: true, layers: [adaptive_avgpool(1), flatten, fc: linear(3)]}
          - pool: adaptive_avgpool(1)
          - flatten
          - fc: linear(3)
    """,
    "initialisation schemes": """
        archc: 1
        name: init
        input: [4, 8, 8]
        init: {conv: kaiming_normal_fan_out, linear: normal, norm: ones_zeros, std: 0.01, zero_init_residual: true}
        blocks:
          Res:
            params: {c: int}
            residual:
              body:
                - conv1: conv(c, 3, padding=1, bias=false)
                - bn1: bn()
                - relu
                - conv2: conv(c, 3, padding=1)
                - bn2: bn()
              then: relu
        layers:
          - stem: conv(6, 3, padding=1)
          - res: Res(6)
          - pool: adaptive_avgpool(1)
          - flatten
          - fc: linear(3)
    """,
    "block parameters typed int | pair": """
        archc: 1
        name: int_or_pair
        input: [4, 8, 8]
        blocks:
          BasicConv2d:
            params: {out: int, kernel: int | pair, stride: int | pair = 1, padding: int | pair = 0}
            layers:
              - conv: conv(out, kernel, stride=stride, padding=padding, bias=false)
              - bn: bn(eps=0.001)
              - relu
          Res:
            params: {c: int, stride: int | pair = 1}
            residual:
              body:
                - conv1: BasicConv2d(c, 3, stride=stride, padding=1)
              shortcut:
                downsample: "conv(c, 1, stride=stride, bias=false)"
        layers:
          - square: BasicConv2d(6, 3, padding=1)
          - wide: BasicConv2d(6, [1, 3], padding=[0, 1])
          - tall: BasicConv2d(6, [3, 1], stride=[2, 1], padding=[1, 0])
          - res: Res(6, [1, 2])
    """,
    "parallel branches as a list, in the enclosing module": """
        archc: 1
        name: flat_branches
        input: [4, 8, 8]
        blocks:
          Mixed:
            parallel:
              - branch1x1: conv(3, 1)
              - layers:
                  - branch3x3_1: conv(3, 1)
                  - relu
                  - parallel:
                      - branch3x3_2a: conv(2, [1, 3], padding=[0, 1])
                      - branch3x3_2b: conv(2, [3, 1], padding=[1, 0])
              - layers:
                  - avgpool(3, stride=1, padding=1)
                  - branch_pool: conv(2, 1)
        layers:
          - mixed: Mixed
          - parallel:
              - left: conv(5, 1)
              - right: ["conv(5, 3, padding=1)", bn()]
            merge: add
          - flatten
          - fc: linear(3)
    """,
    "network class named by the spec": """
        archc: 1
        name: named_class
        class: NamedNet
        input: [4, 8, 8]
        layers:
          - conv: conv(6, 3)
    """,
    # `init:` on norms some of which have no affine parameters: the test of each module's weight on
    # a line of its own (with the class test it passed 120 characters, E501)
    "init of norms, some without affine parameters": """
        archc: 1
        name: init_norms
        input: [4, 8, 8]
        init: {conv: kaiming_normal_fan_out, linear: xavier_uniform, norm: ones_zeros}
        layers:
          - conv: conv(6, 3, padding=1)
          - bn: bn(affine=false)
          - gn: groupnorm(2, 6)
          - pool: adaptive_avgpool(1)
          - flatten: flatten
          - fc: linear(4)
          - bn1: bn1d()
    """,
    # a repeat of dropouts only, which the inference variant drops: no loop is left (it wrote
    # `x_ = x` and `for _ in range(3): pass`, F841), and a `from:` reads past it
    "repeats of dropouts only, read past": """
        archc: 1
        name: dropped_repeats
        input: [2, 8, 8]
        layers:
          - {repeat: 3, each: 'dropout(0.2)'}
          - n4: {from: [input, input], merge: mul, layers: ['conv(4, 1)']}
          - {repeat: 2, each: 'dropout(0.1)'}
          - n5: conv(4, 1)
    """,
    # `when:` groups whose value nothing reads (a `from:` after them reads past them): the last one's
    # modules are called where it holds, without a variable nothing reads (F841)
    "when groups whose value nothing reads": """
        archc: 1
        name: unread_groups
        input: [4, 8, 8]
        params: {use: true}
        layers:
          - c1: conv(4, 1)
          - {when: use, layers: [tanh]}
          - g: {when: use, layers: 'conv(4, 1)'}
          - {when: use, layers: [d1: 'conv(4, 1)', d2: 'conv(4, 1)']}
          - j: {from: [input, c1], merge: concat, layers: [tanh]}
    """,
    # shared parameter-free modules repeated in a module body: forward loops, the constructor makes
    # them once (it wrote an empty `for _ in range(n): pass` and an unused `in_channels = 3`, F841)
    "repeats of shared modules in a module body": """
        archc: 1
        name: shared_repeats
        input: [3, 8, 8]
        params: {n: 3}
        layers:
          - a: conv(3, 1)
          - {repeat: n, each: relu}
          - {repeat: 2, each: 'dropout(0.1)'}
          - b: conv(4, 1)
    """,
}
