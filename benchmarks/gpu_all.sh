#!/usr/bin/env bash
# Every GPU measurement of issue #9 in one device call (< 8 min on one H100/H200; each part prints a table):
#   0. the CUDA tests: LARS equality, nvJPEG decoding, batched views (equal to torchvision), and CUDA's
#      sync debug mode on the views, a scaled FusedLars step and a scaled epoch (no sync inside a step)
#   1. train step vs floor per variant, ResNet-50 224 px batch 128 fp16, fused and timm LARS interleaved
#   2. the LARS step alone, fused vs timm
#   2b. the device views alone: masked vs whole-batch (compiled), stage times and kernel tables (views_profile.py)
#   3. end to end from 25,600 synthetic 320 px JPEGs: decode / views / step stages, then -aug and +aug
#      with views made in workers, on the device, and with nvJPEG decoding on the device, in steady
#      state (a 30- and a 150-step epoch differenced: 15 workers prefetch 30 batches, so a short epoch
#      alone measures the pipeline's start, not its rate)
#   3b. one profiled epoch of +aug device and -aug workers: device busy vs wall, host blocked on the loader,
#      host ops by own time (what idles the GPU end to end)
# Usage: bash benchmarks/gpu_all.sh [OUT_DIR]     (tables also written to OUT_DIR/gpu_all.md)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-/tmp/emcom-gpu}}
mkdir -p "$OUT"
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
LOG="$OUT/gpu_all.md"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
{
  echo "# benchmarks/gpu_all.sh at $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  echo
  echo "## 0. CUDA tests"
  timeout 150 "$PY" -m pytest -q -p no:cacheprovider -p no:logging tests/test_lars.py tests/test_gpu_decode.py \
      tests/test_training_loop.py tests/test_batch_augment.py tests/test_fused_views.py -k "cuda or read_like" \
      || echo "(CUDA tests failed: $?)"
  echo
  echo "## 1. step vs floor (train_step.py)"
  timeout 180 "$PY" benchmarks/train_step.py --device cuda --backbone resnet50 --size 224 --batch 128 \
      --vocab 2048 --hidden 2048 --steps 8 --repeats 3 --lars fused timm || echo "(step benchmark failed: $?)"
  echo
  echo "## 2. LARS step alone (lars_step.py)"
  timeout 45 "$PY" benchmarks/lars_step.py --device cuda --backbone resnet50 --steps 20 --repeats 5 \
      || echo "(LARS benchmark failed: $?)"
  echo
  echo "## 2b. device views alone (views_profile.py)"
  timeout 120 "$PY" benchmarks/views_profile.py --device cuda --batch 128 --size 224 --kernels \
      || echo "(views benchmark failed: $?)"
  echo
  echo "## 3. end to end (end_to_end.py), 25,600 JPEGs of 320 px"
  [ -d /tmp/emcom-jpegs/train ] || "$PY" benchmarks/jpeg_set.py /tmp/emcom-jpegs --classes 50 --per-class 512 --size 320
  timeout 240 "$PY" benchmarks/end_to_end.py --config benchmarks/configs/gpu_resnet50.yaml --device cuda \
      --steps 150 --repeats 1 --modes "-aug workers" "+aug workers" "+aug device" "+aug device+decode" \
      || echo "(end-to-end benchmark failed: $?)"
  echo
  echo "## 3b. where +aug device's end-to-end time goes (end_to_end.py --profile: device busy, loader wait, host ops)"
  timeout 150 "$PY" benchmarks/end_to_end.py --config benchmarks/configs/gpu_resnet50.yaml --device cuda \
      --steps 60 --repeats 1 --skip-stages --modes "+aug device" "-aug workers" --profile \
      || echo "(profiled end-to-end failed: $?)"
} 2>&1 | tee "$LOG"
