#!/usr/bin/env bash
# Every GPU measurement of issue #9 in one device call (target < 8 min on one H100/H200; each part prints a table):
#   0. the CUDA tests: LARS equality, nvJPEG decoding, batched views (equal to torchvision), and CUDA's
#      sync debug mode on the views, a scaled FusedLars step and a scaled epoch (no sync inside a step)
#   1. train step vs floor per variant, ResNet-50 224 px batch 128 fp16, fused and timm LARS interleaved
#   2. the LARS step alone, fused vs timm
#   2b. the device views alone: masked vs whole-batch (compiled), stage times and kernel tables (views_profile.py)
#   3. end to end from 12,800 synthetic 320 px JPEGs: decode / views stages, then 2 rounds of: the step alone,
#      -aug (views in workers), +aug with views on the device made in the loop and 2 batches ahead by a
#      thread (data.views_ahead); each in steady state (a 20- and a 100-step epoch differenced: 15 workers
#      prefetch 30 batches, so a short epoch alone measures the pipeline's start, not its rate). nvJPEG
#      decoding on the device ("+aug device+decode") is left out: slower than 15 workers here (docs/gpu.md)
#   3b. one profiled 20-step epoch of +aug device: device busy vs wall, host blocked on the loader, host ops
#      by own time (what idles the GPU end to end)
# The end-to-end parts run first (the open target of issue #9); each part prints its seconds.
# Usage: bash benchmarks/gpu_all.sh [OUT_DIR]     (tables also written to OUT_DIR/gpu_all.md)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-/tmp/emcom-gpu}}
mkdir -p "$OUT"
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
LOG="$OUT/gpu_all.md"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
began=$(date +%s)
part() {  # part TITLE TIMEOUT_S COMMAND...: a heading, the command under its timeout, its seconds
  local title=$1 limit=$2 t0
  shift 2
  echo
  echo "## $title"
  t0=$(date +%s)
  timeout "$limit" "$@" || echo "(failed or timed out: exit $?)"
  echo "(part took $(( $(date +%s) - t0 )) s; $(( $(date +%s) - began )) s since the start)"
}
{
  echo "# benchmarks/gpu_all.sh at $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  "$PY" -c "import torch, torchvision, timm; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'timm', timm.__version__)"
  part "0. CUDA tests" 150 "$PY" -m pytest -q -p no:cacheprovider -p no:logging tests/test_lars.py \
      tests/test_gpu_decode.py tests/test_training_loop.py tests/test_batch_augment.py tests/test_fused_views.py \
      tests/test_ahead.py -k "cuda or read_like"
  [ -d /tmp/emcom-jpegs/train ] || "$PY" benchmarks/jpeg_set.py /tmp/emcom-jpegs --classes 50 --per-class 256 --size 320
  part "3. end to end (end_to_end.py), 12,800 JPEGs of 320 px" 240 "$PY" benchmarks/end_to_end.py \
      --config benchmarks/configs/gpu_resnet50.yaml --device cuda --steps 100 --repeats 2 \
      --modes "-aug workers" "+aug device" "+aug device ahead"
  part "3b. where +aug device's end-to-end time goes (end_to_end.py --profile: device busy, loader wait, host ops)" 110 \
      "$PY" benchmarks/end_to_end.py --config benchmarks/configs/gpu_resnet50.yaml --device cuda \
      --steps 20 --repeats 0 --modes "+aug device" --profile
  part "1. step vs floor (train_step.py)" 180 "$PY" benchmarks/train_step.py --device cuda --backbone resnet50 \
      --size 224 --batch 128 --vocab 2048 --hidden 2048 --steps 8 --repeats 3 --lars fused timm
  part "2. LARS step alone (lars_step.py)" 45 "$PY" benchmarks/lars_step.py --device cuda --backbone resnet50 \
      --steps 20 --repeats 5
  part "2b. device views alone (views_profile.py)" 120 "$PY" benchmarks/views_profile.py --device cuda --batch 128 \
      --size 224 --kernels
  echo
  echo "gpu_all.sh: $(( $(date +%s) - began )) s in all"
} 2>&1 | tee "$LOG"
