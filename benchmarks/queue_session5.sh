#!/usr/bin/env bash
# The benchmark queue of session 5 (2026-12-02, a 3-hour session on a fresh 2-core AVX2 machine: no native
# bf16, so precision "auto" trains in fp32). One job at a time, in this order:
# 1. UniVLA-latent (issue 12): both LAM stages on action-free video + their probe, latent pretraining on
#    video, then the data-efficiency ablation -- the policy + decoder fine-tuned from the latent-pretrained
#    checkpoint vs trained on the demos alone (from the same LAM), at 50 and at 10 demos per task, each
#    under the MT10 protocol's evaluation. Policy stages get 8 minutes (inside the 45-minute cap), equal per arm.
# 2. XR-1 (issue 11): stage 1 (UVMC) with vs without the MT40 action-free video, same 5 minutes, both
#    measured by the same probe on held-out episodes.
set -uo pipefail
cd "$(dirname "$0")/.."
source benchmarks/queue_lib.sh
[ $# -ge 1 ] && wait_for "$1"  # a collection started before this queue (its PID as $1) finishes first
collect_mt10_data  # 0. data

# 1. UniVLA-latent
run $VF train --recipe univla_latent_lam_mt50video --time-budget-minutes 4 --resume
run $VF train --recipe univla_latent_lam2_mt50video --time-budget-minutes 4 --resume
run $PY benchmarks/bench_univla_latent_lam.py --checkpoint runs/univla_latent_lam2/checkpoints/last
run $VF train --recipe univla_latent_pretrain --time-budget-minutes 8 --resume
LAM=runs/univla_latent_lam2/checkpoints/last
PRE=runs/univla_latent_pretrain/checkpoints/last
run $PY benchmarks/bench_mt10.py --recipe univla_latent_tiny_mt10 --tag univla_latent_tiny --minutes 8 \
    --init-from $PRE --note "LAM 4+4 min -> latent pretraining on video 8 min -> fine-tune 8 min, 50 demos/task"
run $PY benchmarks/bench_mt10.py --recipe univla_latent_scratch_mt10 --tag univla_latent_scratch --minutes 8 \
    --init-from $LAM --note "ablation: no latent pretraining (same LAM, same 8 min), 50 demos/task"
run $PY benchmarks/bench_mt10.py --recipe univla_latent_tiny_mt10 --tag univla_latent_tiny_10demos --minutes 8 \
    --init-from $PRE --override=--data.episodes-per-task=10 --note "latent-pretrained, fine-tuned on 10 demos/task, 8 min"
run $PY benchmarks/bench_mt10.py --recipe univla_latent_scratch_mt10 --tag univla_latent_scratch_10demos --minutes 8 \
    --init-from $LAM --override=--data.episodes-per-task=10 --note "ablation: no latent pretraining, 10 demos/task, 8 min"
run $VF leaderboard

# 2. XR-1 stage 1 with vs without the action-free video (same 5 minutes, same machine)
run $VF train --recipe xr1_uvmc_mt10 --time-budget-minutes 5 --resume
run $PY benchmarks/bench_xr1_uvmc.py --checkpoint runs/xr1_uvmc_mt10/checkpoints/last --out benchmarks/results/xr1/stage1_video
run $VF train --recipe xr1_uvmc_mt10 --time-budget-minutes 5 "${NOVIDEO[@]}" --out-dir runs/xr1_uvmc_novideo_mt10 --resume
run $PY benchmarks/bench_xr1_uvmc.py --checkpoint runs/xr1_uvmc_novideo_mt10/checkpoints/last --out benchmarks/results/xr1/stage1_novideo

# 3. ALOHA (issue 14): the scripted experts through the evaluation runner (50 episodes per task, seeds 10,000+),
#    then the collection of 50 demos per task (throughput; only successful episodes are kept)
run $VF eval --policy expert --suite aloha --episodes-per-task 50 --image-size 64 --out benchmarks/results/aloha/expert
run $VF collect aloha --tasks transfer-cube,insertion --episodes-per-task 50 --image-size 64 --out data/aloha_64 --workers 2
log "queue finished"
