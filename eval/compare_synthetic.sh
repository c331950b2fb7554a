#!/usr/bin/env bash
# Regenerate the committed outputs of eval/compare_methods.ipynb: the bundled model, OpenCV Telea and Navier-Stokes,
# and the exemplar pasted into the hole ("paste"), on N held-out synthetic faces (no dataset, nothing downloaded),
# every mask bucket, two seeds, with the offline stand-ins for FID (FD-SFace, IDS-SFace) and for LPIPS diversity
# (the SFace-trunk distance). Then the notebook is executed in place.
#   bash eval/compare_synthetic.sh                 # N=64 faces, runs/compare-synthetic
#   N=200 OUT=runs/cmp bash eval/compare_synthetic.sh
# With real data and the FID weights, run python -m eval.run --data DIR --fid-weights ... yourself (eval/README.md)
# and python -m eval.notebook OUT/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-64}
OUT=${OUT:-runs/compare-synthetic}
.venv/bin/python -m eval.run --data "synthetic-faces:$N" --size 64 --out "$OUT" \
  --method bundled=exegan=assets/default-model --method telea --method ns --method paste \
  --masks center,10-20,20-30,30-40,40-50,50-60 --seeds 0,1 --fid-weights sface --lpips-vgg sface \
  --threads "${THREADS:-$(nproc)}"
.venv/bin/python -m eval.notebook "$OUT/results.json"
