#!/usr/bin/env bash
# Session 13's CPU runs, one at a time on a quiet machine (2 threads each):
#   bash benchmarks/queue_session13.sh xvla_aloha   # X-VLA tiny (fast stem) on ALOHA alone, 45 min + evaluation
#   bash benchmarks/queue_session13.sh bc_aloha     # the BC reference on ALOHA alone, 45 min + evaluation
# The GPU runs of the same session are benchmarks/gpu_aloha.sh (evaluated here with the `eval` lines below).
# Data: data/aloha_96 (vlaforge collect aloha --tasks transfer-cube,insertion --episodes-per-task 50
# --image-size 96 --out data/aloha_96 --workers 2).
set -euo pipefail
cd "$(dirname "$0")/.."
export MUJOCO_GL=${MUJOCO_GL:-egl}
V=.venv/bin/vlaforge
aloha_eval() {  # checkpoint-run-dir out-name
  $V eval --policy "$1/checkpoints/last" --suite aloha --episodes-per-task 50 --dataset data/aloha_96 \
    --out "benchmarks/results/aloha/$2"
}
case "${1:-}" in
  xvla_aloha)
    $V train --recipe xvla_fast_aloha96 --out-dir runs/xvla_fast_aloha96
    aloha_eval runs/xvla_fast_aloha96 xvla_fast_aloha96 ;;
  bc_aloha)
    $V train --recipe bc_tiny_aloha96 --out-dir runs/bc_tiny_aloha96
    aloha_eval runs/bc_tiny_aloha96 bc_tiny_aloha96 ;;
  gpu_eval)  # after benchmarks/gpu_aloha.sh and ckpt_transport.py unpack into runs/gpu/
    aloha_eval runs/gpu/bc_tiny_aloha96 bc_tiny_aloha96_gpu
    aloha_eval runs/gpu/xvla_effnet_ft_aloha96 xvla_effnet_ft_aloha96_gpu ;;
  *) echo "usage: $0 xvla_aloha|bc_aloha|gpu_eval" >&2; exit 2 ;;
esac
