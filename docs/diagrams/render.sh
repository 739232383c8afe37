#!/usr/bin/env bash
# Regenerate every picture in docs/diagrams/ from the specs, as SVG and PNG.
#
#   bash docs/diagrams/render.sh
#
# A network is drawn from its shipped spec (specs/NAME.yaml) when there is one, else
# from the stand-in in benchmarks/specs/ (written before the zoo specs landed).
# Needs archc importable (pip install -e . or PYTHONPATH=.) and Graphviz's `dot`.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=docs/diagrams

spec() {  # the shipped spec if it exists, else the stand-in
  if [[ -f "specs/$1.yaml" ]]; then echo "specs/$1.yaml"; else echo "benchmarks/specs/$1.yaml"; fi
}

draw() {  # draw NAME FILE-STEM [archc diagram options...]
  local name=$1 stem=$2
  shift 2
  for fmt in svg png; do
    python3 -m archc diagram "$(spec "$name")" --format "$fmt" -o "$out/$stem.$fmt" "$@"
  done
}

draw lenet5    lenet5      --direction LR
draw alexnet   alexnet     --show shapes,params
draw vgg16     vgg16       --show shapes,params
draw googlenet googlenet   --fold BasicConv2d
draw googlenet googlenet_full
draw resnet50  resnet50    --depth 2
draw resnet50  resnet50_full
