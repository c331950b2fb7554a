#!/usr/bin/env bash
# Fine-tune a 64 px model so that its fills follow the exemplar (README, "Where the exemplar enters, at 64 px"):
# the generator of INIT (a 64 px model folder, e.g. the base model that make_default_model.sh releases to
# runs/default-model/base-release) gets a new `sface` exemplar encoder whose codes start at INIT's own exemplar
# codes (match_init) and drive latents 1-9 (phase 4: 2-9) instead of 4-9, with colour-jittered self-exemplars
# (--exemplar_jitter 1.0) so that fills take colour from the context, not from the exemplar. Four phases in one
# run folder, each resuming from the newest checkpoint with its own flags (a resume keeps every tensor, RNG and
# optimiser state; only the loss weights, rates and the exemplar window below change):
#   1. steps 0..GUIDE_STEPS      10x identity loss (--lambda_id 1.0) and whole-image holes on half of the
#                                self-exemplar steps (--inversion_rate 0.5): the codes learn to carry the face;
#   2. ..ID_STEPS                the identity loss back at the preset's weight (--lambda_id 0.1);
#   3. ..QUALITY_STEPS           no whole-image holes (--inversion_rate 0): every self-exemplar step is hole
#                                reconstruction again, which brings hole quality back while the guidance stays;
#   4. ..STEPS                   latent 1 (4 px toRGB, first 8 px conv) goes back to z (--exemplar_start 2
#                                --move_exemplar_window true), so different seeds give different fills again; the
#                                G/D learning rate drops to a quarter (--learning_rate 0.0005) and the seam loss
#                                (--lambda_seam 3.0) makes the fill continue the context's colour at the border.
# README's runs C (phase 1), E (phase 2), F (phase 3) and G -> H -> H2 (phase 4, where the seam loss came in at
# step 3750 with weight 1 and at step 4000 with 3) are this recipe, trained in fp32 on 2 CPU cores.
#   INIT=runs/default-model/base-release bash train/make_guided_model.sh   # into runs/guided; re-running resumes
#   OUT=runs/g2 INIT=runs/base/model STEPS=5000 bash train/make_guided_model.sh
# The result is a model folder ($OUT/model), checked with: python -m eval.synthetic --model $OUT/model --n 200
# TRAIN_ARGS: more train.py flags for every phase (before the recipe's own, which win). THREADS: CPU threads.
set -euo pipefail
cd "$(dirname "$0")/.."
INIT=${INIT:-}
if [[ -z "$INIT" ]]; then
  echo "error: INIT must name the base model to fine-tune (a model folder, e.g. runs/default-model/base-release)" >&2
  exit 2
fi
OUT=${OUT:-runs/guided}
GUIDE_STEPS=${GUIDE_STEPS:-1500}
ID_STEPS=${ID_STEPS:-1750}
QUALITY_STEPS=${QUALITY_STEPS:-3500}
STEPS=${STEPS:-6000}
PRECISION=${MIXED_PRECISION:-no}
if ! (( 0 < GUIDE_STEPS && GUIDE_STEPS <= ID_STEPS && ID_STEPS <= QUALITY_STEPS && QUALITY_STEPS <= STEPS )); then
  echo "error: the phases must end in order: 0 < GUIDE_STEPS ($GUIDE_STEPS) <= ID_STEPS ($ID_STEPS) <=" \
    "QUALITY_STEPS ($QUALITY_STEPS) <= STEPS ($STEPS)" >&2
  exit 2
fi

source train/launch.sh  # train UNTIL [flags]: one logged invocation (commands.txt, wall_time.txt)
guided=(--init_from "$INIT" --style_encoder sface --encoder_init match_init --exemplar_jitter 1.0
  --checkpointing_steps 250 --checkpoints_total_limit 4)

train "$GUIDE_STEPS" "${guided[@]}" --exemplar_start 1 --lambda_id 1.0 --inversion_rate 0.5
train "$ID_STEPS" "${guided[@]}" --exemplar_start 1 --lambda_id 0.1 --inversion_rate 0.5
train "$QUALITY_STEPS" "${guided[@]}" --exemplar_start 1 --lambda_id 0.1 --inversion_rate 0.0
train "$STEPS" "${guided[@]}" --exemplar_start 2 --move_exemplar_window true --lambda_id 0.1 --inversion_rate 0.0 \
  --learning_rate 0.0005 --lambda_seam 3.0
