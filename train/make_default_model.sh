#!/usr/bin/env bash
# Train the bundled default model from scratch, then release it to assets/default-model: fp16 safetensors, the
# synthetic-faces check (eval/synthetic.py), the figure and the model card (scripts/release_default_model.py).
#   bash train/make_default_model.sh                 # the bundled model: STEPS=7000, bf16 autocast
#   STEPS=3000 bash train/make_default_model.sh      # shorter; re-running resumes from the newest checkpoint
#   OUT=runs/long STEPS=20000 RELEASE_TO=runs/long/release bash train/make_default_model.sh   # longer (a GPU)
# The tiny preset: 64x64, narrow networks, offline synthetic faces (gan-face-generate's DCGAN, DigiFace-1M:
# non-commercial research licence), a jointly trained style encoder, SFace identity loss, L1 in place of LPIPS.
# PHASE1_STEPS (default 0) > 0 first trains steps 0..PHASE1_STEPS with --attribute_judge live (the trained encoder
# scores the composite in the attribute loss), then the rest with the default EMA judge: the recipe of the earlier
# 5000-step bundled model (PHASE1_STEPS=2500 STEPS=5000), kept to reproduce it. Its encoder's codes collapsed
# towards one another in phase 1 and never spread again, so the exemplar barely mattered; not for new models.
# RELEASE_TO (default assets/default-model) is where the release goes; RELEASE_TO= (empty) only trains.
# TRAIN_ARGS: more train.py flags for every phase, e.g. the exemplar-guidance candidates of README's ablation:
#   TRAIN_ARGS="--style_encoder sface --exemplar_jitter 1.0 --inversion_rate 0.5 --exemplar_start 1" \
#   OUT=runs/guided RELEASE_TO= bash train/make_default_model.sh
# (accelerate launch would set OMP_NUM_THREADS=1 on CPU; THREADS defaults to all cores.)
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-7000}
PHASE1_STEPS=${PHASE1_STEPS:-0}
OUT=${OUT:-runs/default-model-ema}  # the bundled model's run (runs/default-model held the earlier two-phase one)
PRECISION=${MIXED_PRECISION:-bf16}
RELEASE_TO=${RELEASE_TO-assets/default-model}

# train UNTIL [flags]: one logged invocation (commands.txt, wall_time.txt; the release quotes both in the card)
source train/launch.sh

if (( PHASE1_STEPS > 0 && PHASE1_STEPS < STEPS )); then
  train "$PHASE1_STEPS" --attribute_judge live
fi
train "$STEPS"
if [[ -n "$RELEASE_TO" ]]; then
  .venv/bin/python scripts/release_default_model.py --model_src "$OUT/model" --train_dir "$OUT" --steps "$STEPS" \
    --phase1_steps "$PHASE1_STEPS" --out "$RELEASE_TO"
fi
