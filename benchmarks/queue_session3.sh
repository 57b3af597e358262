#!/usr/bin/env bash
# The benchmark queue of session 3 (2026-12-02), one job at a time on the 2 cores, in this order.
# Every figure it produces is recorded in BENCHMARKS.md with the command of its own script.
set -uo pipefail
cd "$(dirname "$0")/.."
export MUJOCO_GL=egl
PY=.venv/bin/python
log() { echo "[queue] $(date +%H:%M:%S) $*"; }
run() { log "start: $*"; "$@"; log "done ($?): $*"; }

# 1. quick reproductions and speed
run $PY benchmarks/param_counts.py
run $PY benchmarks/profile_xvla.py
run $PY benchmarks/bench_distributed.py
# 2. why the VLAs lose to BC on push (one change at a time, equal steps)
run $PY benchmarks/study_push.py --steps 800 --variants bc xvla_tiny xvla_regression_l1 xvla_gripper_regression xvla_lr1e-3
# 3. InternVLA-A1: autoencoder stage, then the policy with and without the generation expert
[ -f data/mt10_64_heldout/meta/info.json ] || run .venv/bin/vlaforge collect metaworld --tasks mt10 \
    --episodes-per-task 3 --seed-start 5000 --out data/mt10_64_heldout --workers 2
run .venv/bin/vlaforge train --recipe internvla_a1_ae_mt10 --resume
run $PY benchmarks/bench_mt10.py --recipe internvla_a1_tiny_mt10 --tag internvla_a1_tiny \
    --init-from runs/internvla_a1_ae_mt10/checkpoints/last --note "with the generation expert (foresight m=16)"
run $PY benchmarks/bench_internvla_a1.py --checkpoint runs/bench/internvla_a1_tiny/checkpoints/last
run $PY benchmarks/bench_mt10.py --recipe internvla_a1_tiny_mt10_nogen --tag internvla_a1_tiny_nogen \
    --init-from runs/internvla_a1_ae_mt10/checkpoints/last --note "ablation: no generation expert"
# 4. X-VLA with the pretrained encoder
run $PY benchmarks/bench_mt10.py --recipe xvla_effnet_frozen_mt10 --tag xvla_effnet_frozen \
    --note "frozen EfficientNet-Lite0 + feature cache"
run $PY benchmarks/bench_eval_baselines.py --suite mt10 --episodes-per-task 10 --workers 2
run .venv/bin/vlaforge leaderboard
log "queue finished"
