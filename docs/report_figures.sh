#!/usr/bin/env bash
# The report's four comparison figures (§4.3–4.5), each one `stylo sweep`, with metrics beside every cell.
set -euo pipefail
cd "$(dirname "$0")/.."
S=samples; O=${1:-out/figures}; RUN=".venv/bin/stylo sweep $S/tubingen.jpg $S/starry_night.jpg --size 256 --seed 0"
$RUN -o $O/ratio --vary ratio=1,2e-1,5e-2,1e-2,1e-3                              # §4.3 α/β (default 5e-2)
$RUN -o $O/model --vary model=vgg11,vgg13,vgg16,vgg19                               # §4.4 (where weights exist)
$RUN -o $O/content_layer --vary content_layers=conv1_1,conv2_2,conv3_2,conv4_2,conv5_2  # §4.5 content layer
# §4.5 style-layer weighting: equal ω_l; stylo's default 1/N_l²; shallow layers only; deep layers only
$RUN -o $O/style_weighting --vary style_layer_weights=2e-5+2e-5+2e-5+2e-5+2e-5,2.4e-4+6.1e-5+1.5e-5+3.8e-6+3.8e-6,2.4e-4+6.1e-5+0+0+0,0+0+0+3.8e-6+3.8e-6
for f in ratio model content_layer style_weighting; do  # the README's copies
  .venv/bin/python -c "import sys; from PIL import Image; Image.open(sys.argv[1]).convert('RGB').save(sys.argv[2], quality=88)" \
    "$O/$f/sheet.png" "docs/images/report/$f.jpg"
done
