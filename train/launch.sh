# Sourced by train/make_*_model.sh: one logged training invocation of the tiny preset.
#   train UNTIL [train.py flags...]
# runs `accelerate launch train/train.py --config tiny` into $OUT up to step UNTIL, resuming the newest checkpoint,
# with $TRAIN_ARGS and then the given flags (later flags win), in $PRECISION (accelerate launch would set
# OMP_NUM_THREADS=1 on CPU; THREADS defaults to all cores). The command goes into $OUT/commands.txt, its wall time
# and exit status into $OUT/wall_time.txt (an interrupted run that is resumed shows up twice).
train() {
  local until=$1; shift
  local cmd=(.venv/bin/accelerate launch --num_processes 1 --num_machines 1
    --num_cpu_threads_per_process "${THREADS:-$(nproc)}" --mixed_precision "$PRECISION" --dynamo_backend no
    train/train.py --config tiny --output_dir "$OUT" --max_train_steps "$until" --mixed_precision "$PRECISION"
    --resume_from_checkpoint latest ${TRAIN_ARGS:-} "$@")
  mkdir -p "$OUT"
  { printf "%q " "${cmd[@]}"; echo; } >> "$OUT/commands.txt"
  local start status=0; start=$(date +%s)
  "${cmd[@]}" || status=$?
  echo "training wall time (this invocation, to step $until, exit status $status): $(( $(date +%s) - start )) s" \
    | tee -a "$OUT/wall_time.txt"
  return "$status"
}
