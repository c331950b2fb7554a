#!/usr/bin/env bash
# Train the bundled default model from scratch, then release it to assets/default-model: fp16 safetensors, the
# synthetic-faces check (eval/synthetic.py), the figure and the model card (train/release_default_model.py).
#   bash train/make_default_model.sh                 # STEPS=2500 (the bundled model), bf16 autocast
#   STEPS=2000 bash train/make_default_model.sh      # shorter; re-running resumes from the newest checkpoint
# (accelerate launch would set OMP_NUM_THREADS=1 on CPU; THREADS defaults to all cores.)
# The tiny preset: 64x64, narrow networks, offline synthetic faces (gan-face-generate's DCGAN, DigiFace-1M:
# non-commercial research licence), a jointly trained style encoder, SFace identity loss, L1 in place of LPIPS.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-2500}
OUT=${OUT:-runs/default-model}
start=$(date +%s)
.venv/bin/accelerate launch --num_processes 1 --num_machines 1 --num_cpu_threads_per_process "${THREADS:-$(nproc)}" --mixed_precision "${MIXED_PRECISION:-bf16}" \
  --dynamo_backend no train/train.py --config tiny --output_dir "$OUT" --max_train_steps "$STEPS" \
  --mixed_precision "${MIXED_PRECISION:-bf16}" --resume_from_checkpoint latest
echo "training wall time (this invocation): $(( $(date +%s) - start )) s" | tee -a "$OUT/wall_time.txt"
.venv/bin/python train/release_default_model.py --model_src "$OUT/model" --train_dir "$OUT" --steps "$STEPS"
