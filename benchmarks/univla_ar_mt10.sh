#!/usr/bin/env bash
# UniVLA-AR tiny under the MT10 protocol with the world-model ablation, as run for BENCHMARKS.md.
# Two 1-thread lanes share the 2 cores; both merge into benchmarks/results/univla_ar_mt10/results.json.
#   lane A: image VQ report, world model (35 min) + foresight, policy from the world model (all demos, 45 min)
#   lane B: policy from scratch (10 demos/task, 30 min; all demos reuses runs/univla_ar_tiny_mt10_scratch,
#           the 45-min run of `vlaforge train --recipe univla_ar_tiny_mt10_scratch`), then, once the world
#           model exists, policy from the world model on 10 demos/task.
# Prerequisites: data/mt10_64 and data/mt40_video_64 collected, runs/vq_tiny_mt10 and runs/tokenizers/fast_mt10
# (see benchmarks/bench_univla_ar_mt10.py for the from-nothing path). A killed lane resumes when re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
export MUJOCO_GL=egl OMP_NUM_THREADS=1
R=runs/bench_univla_ar_mt10
mkdir -p "$R" runs/logs
ln -sfn ../vq_tiny_mt10 "$R/vq"
ln -sfn ../tokenizers/fast_mt10 "$R/fast_mt10"
[ -e "$R/scratch_full" ] || ln -sfn ../univla_ar_tiny_mt10_scratch "$R/scratch_full"
B="python benchmarks/bench_univla_ar_mt10.py --wm-minutes 35 --small-data-minutes 30"
$B --variants wm_full > runs/logs/univla_lane_a.log 2>&1 &
( $B --variants scratch_10demos scratch_full
  while [ ! -f "$R/wm/train_summary.json" ]; do sleep 30; done
  $B --variants wm_10demos ) > runs/logs/univla_lane_b.log 2>&1 &
wait
# The same world-model policy with strict FAST decoding (no repairs), for the strict-vs-relaxed figure:
vlaforge eval --policy "$R/wm_full/checkpoints/last" --suite mt10 --episodes-per-task 10 --n-action-steps 10 \
  --workers 2 --dataset data/mt10_64 --set fast_decode=strict \
  --out benchmarks/results/univla_ar_mt10/eval_wm_full_strict
