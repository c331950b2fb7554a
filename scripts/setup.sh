#!/usr/bin/env bash
# Create ./.venv with everything exegan needs, from the project's own files (no network beyond package indexes).
#   bash scripts/setup.sh          runtime: library, demo, training, evaluation
#   bash scripts/setup.sh --dev    + test dependencies (and Debian's chromium for the browser test, when root)
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0
[ "${1:-}" = "--dev" ] && dev=1
export PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x .venv/bin/python ] || python3 -m venv .venv
pip=(.venv/bin/pip install -q -c constraints.txt)
"${pip[@]}" -r requirements.txt
# Packages whose declared dependencies are not needed (and would pull an old torch or wandb): no deps.
"${pip[@]}" --no-deps -r requirements-nodeps.txt
# This checkout, editable, in "compat" mode: the repo root goes on the venv's path, so `exegan`, `train` and `eval`
# import from anywhere (accelerate launch train/train.py, notebooks, scripts/) without sys.path edits.
"${pip[@]}" --no-deps -e . --config-settings editable_mode=compat
if [ "$dev" = 1 ]; then
  "${pip[@]}" -r requirements-dev.txt
  if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install chromium; the browser test will be skipped" >&2
  fi
fi
echo "ready: .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
