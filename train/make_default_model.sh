#!/usr/bin/env bash
# Train the bundled default model from scratch, then release it to assets/default-model: fp16 safetensors, the
# synthetic-faces check (eval/synthetic.py), the figure and the model card (scripts/release_default_model.py).
# Two stages, each resumable (re-running the script continues from the newest checkpoint of the unfinished stage):
#   1. the base model: the tiny preset from scratch to STEPS (7000), in $OUT;
#   2. the exemplar-guidance fine-tune of train/make_guided_model.sh on it (its GUIDE_STEPS, ID_STEPS,
#      QUALITY_STEPS and GUIDED_STEPS -> its STEPS), in $OUT/guided; the release is this stage's model, and its card
#      quotes stage 1's card (released first to $OUT/base-release, with its own check).
#   bash train/make_default_model.sh                 # the bundled model
#   OUT=runs/long STEPS=20000 RELEASE_TO=runs/long/release bash train/make_default_model.sh   # longer (a GPU)
#   GUIDED=0 bash train/make_default_model.sh        # stage 1 only, released as it is (the earlier default models)
# The tiny preset: 64x64, narrow networks, offline synthetic faces (gan-face-generate's DCGAN, DigiFace-1M:
# non-commercial research licence), a jointly trained style encoder, SFace identity loss, L1 in place of LPIPS.
# PHASE1_STEPS (default 0) > 0 first trains steps 0..PHASE1_STEPS of stage 1 with --attribute_judge live (the
# trained encoder scores the composite in the attribute loss), then the rest with the default EMA judge: the recipe
# of an earlier 5000-step model (PHASE1_STEPS=2500 STEPS=5000 GUIDED=0), kept to reproduce it; not for new models.
# RELEASE_TO (default assets/default-model) is where the release goes; RELEASE_TO= (empty) only trains.
# TRAIN_ARGS: more train.py flags for every invocation of stage 1; GUIDED_TRAIN_ARGS: the same for stage 2.
# Stage 1 runs in bf16 autocast (MIXED_PRECISION), stage 2 in fp32 (GUIDED_PRECISION).
# (accelerate launch would set OMP_NUM_THREADS=1 on CPU; THREADS defaults to all cores.)
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-7000}
PHASE1_STEPS=${PHASE1_STEPS:-0}
GUIDED=${GUIDED:-1}
GUIDED_STEPS=${GUIDED_STEPS:-6000}  # stage 2's last step (make_guided_model.sh's STEPS)
OUT=${OUT:-runs/default-model}
PRECISION=${MIXED_PRECISION:-bf16}
RELEASE_TO=${RELEASE_TO-assets/default-model}
release=(.venv/bin/python scripts/release_default_model.py)
release_base() {  # $1: where stage 1's model goes, with its check, figure and card
  "${release[@]}" --model_src "$OUT/model" --train_dir "$OUT" --steps "$STEPS" --phase1_steps "$PHASE1_STEPS" --out "$1"
}

# train UNTIL [flags]: one logged invocation (commands.txt, wall_time.txt; the release quotes both in the card)
source train/launch.sh

if (( PHASE1_STEPS > 0 && PHASE1_STEPS < STEPS )); then
  train "$PHASE1_STEPS" --attribute_judge live
fi
train "$STEPS"
if [[ "$GUIDED" == 0 ]]; then
  [[ -z "$RELEASE_TO" ]] || release_base "$RELEASE_TO"
  exit 0
fi

# stage 2 fine-tunes a released base (its card is quoted by the final card)
[[ -f "$OUT/base-release/README.md" ]] || release_base "$OUT/base-release"
INIT="$OUT/base-release" OUT="$OUT/guided" STEPS="$GUIDED_STEPS" MIXED_PRECISION="${GUIDED_PRECISION:-no}" \
  TRAIN_ARGS="${GUIDED_TRAIN_ARGS:-}" bash train/make_guided_model.sh
if [[ -n "$RELEASE_TO" ]]; then
  "${release[@]}" --model_src "$OUT/guided/model" --train_dir "$OUT/guided" --steps "$GUIDED_STEPS" \
    --init_card "$OUT/base-release/README.md" --out "$RELEASE_TO"
fi
