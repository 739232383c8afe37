#!/usr/bin/env bash
# Regenerate every picture in docs/diagrams/ from the specs, as SVG and PNG.
#
#   bash docs/diagrams/render.sh
#
# Every network is drawn from its shipped spec, specs/NAME.yaml.
# Needs archc importable (pip install -e . or PYTHONPATH=.) and Graphviz's `dot`.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=docs/diagrams

draw() {  # draw NAME FILE-STEM [archc diagram options...]
  local name=$1 stem=$2
  shift 2
  for fmt in svg png; do
    python3 -m archc diagram "specs/$name.yaml" --format "$fmt" -o "$out/$stem.$fmt" "$@"
  done
}

draw lenet5          lenet5          --direction LR
draw alexnet         alexnet         --show shapes,params
draw alexnet_paper   alexnet_paper   --show shapes,params
draw vgg16           vgg16           --show shapes,params
draw googlenet       googlenet       --fold BasicConv2d
draw googlenet       googlenet_full
draw googlenet_paper googlenet_paper --fold ConvReLU
draw inception_v3    inception_v3    --fold BasicConv2d
draw resnet50        resnet50        --depth 2
draw resnet50        resnet50_full
draw resnet_cifar    resnet8_cifar   --set depth=8
draw unet            unet            --fold DoubleConv
draw convnext_tiny   convnext_tiny   --depth 2
draw convnext_tiny   convnext_tiny_one_block_per_stage --set "depths=[1, 1, 1, 1]"
draw mobilenet_v3_large mobilenet_v3_large --depth 2
draw mobilenet_v3_small mobilenet_v3_small --fold Conv2dNormActivation,Conv2dNorm,SqueezeExcitation
draw shufflenet_v2_x1_0 shufflenet_v2_x1_0 --depth 2
draw shufflenet_v2_x1_0 shufflenet_v2_units --set "stages_repeats=[2, 1, 1]"
draw efficientnet_b0 efficientnet_b0 --depth 2
draw densenet121     densenet121     --depth 2
draw densenet121     densenet121_two_layers_per_block --set "block_config=[2, 2, 2, 2]"
draw regnet_y_400mf  regnet_y_400mf  --depth 3
draw regnet_y_400mf  regnet_y_400mf_blocks --set "depths=[2, 1, 1, 1]" --fold Conv2dNormActivation,Conv2dNorm,SqueezeExcitation
