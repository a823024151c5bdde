#!/usr/bin/env bash
# Regenerates the README's control examples (docs/images/control_*.png) from the bundled samples.
set -euo pipefail
cd "$(dirname "$0")/.."
S=samples; O=out/controls; R=".venv/bin/stylo run --size 384 --seed 0 --quiet"
mkdir -p $O
$R $S/tubingen.jpg $S/starry_night.jpg -o $O/control_plain.png
$R $S/tubingen.jpg $S/starry_night.jpg -o $O/control_luminance.png --preserve-color luminance
$R $S/tubingen.jpg $S/starry_night.jpg -o $O/control_histogram.png --preserve-color histogram
$R $S/tubingen.jpg $S/starry_night.jpg $S/the_scream.jpg -o $O/control_blend.png --style-blend 5,5
$R $S/tubingen.jpg $S/starry_night.jpg -o $O/control_scale_small.png --style-scale 0.5
$R $S/tubingen.jpg $S/starry_night.jpg -o $O/control_scale_large.png --style-scale 2
$R $S/tubingen.jpg $S/starry_night.jpg $S/the_scream.jpg -o $O/control_masks.png --masks $S/tubingen_sky_mask.png
$R $S/tubingen.jpg $S/the_scream.jpg -o $O/control_protect.png --masks $S/tubingen_protect_houses.png
.venv/bin/python docs/contact_sheet.py docs/images/controls.jpg \
  "plain:$O/control_plain.png" "luminance:$O/control_luminance.png" "histogram:$O/control_histogram.png" \
  "blend 5,5 with The Scream:$O/control_blend.png" "style scale 0.5:$O/control_scale_small.png" \
  "style scale 2:$O/control_scale_large.png" "sky mask: Starry Night / Scream:$O/control_masks.png" \
  "houses protected:$O/control_protect.png"
