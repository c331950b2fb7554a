#!/usr/bin/env bash
# The GPU check in one command (scripts/gpu_check.py has the details): tests/test_cuda.py on the device, the
# training and inference benchmarks, a time-boxed run of the default-model recipe and eval.synthetic on its export.
# Writes gpu_report.md + gpu_report.json (and the trained export in <=15 MiB pieces, logs.tar.gz) into $OUT / --out.
#
# On the GPU machine (no network; wheels from scripts/gpu_wheels.sh, run here first):
#   device run: command "bash scripts/gpu_check.sh", carry ["wheels"], timeout_s 600   (the check keeps to 540 s)
# CPU dry run (the same steps at tiny sizes; a few minutes on an idle machine, more on a busy one):
#   bash scripts/gpu_check.sh --dry-run --out /tmp/gpu-check-dry      (or DRY_RUN=1 bash scripts/gpu_check.sh)
# Other flags: bash scripts/gpu_check.sh --help  (--only/--skip steps, --budget-s, --train-steps, --eval-n, ...)
set -uo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${PYTHON:-}" ]]; then
  py=$PYTHON
elif [[ -x .venv/bin/python ]]; then  # this checkout's environment (the GPU machine has none: its python3 has torch)
  py=.venv/bin/python
else
  py=python3
fi
export PYTHONUNBUFFERED=1
exec "$py" scripts/gpu_check.py --python "$py" "$@"
