#!/usr/bin/env bash
# The benchmark queue of session 4 (2026-12-02, a 3-hour session on a fresh 2-core machine with
# AVX512-BF16, so bf16 autocast is on): one job at a time, in this order. It measures the central
# ablations of InternVLA-A1 (with vs without the generation expert) and XR-1 (stage 2 with vs without
# the UVMC supervision, same time), then UniVLA-latent's LAM stages. To fit the session, policy stages
# get 8-15 minutes, below the protocol's 45-minute cap; every figure states its budget, and the
# ablation partners always share data and budget. Every figure is recorded in BENCHMARKS.md.
set -uo pipefail
cd "$(dirname "$0")/.."
source benchmarks/queue_lib.sh
[ $# -ge 1 ] && wait_for "$1"  # a collection started before this queue (its PID as $1) finishes first
collect_mt10_data  # 0. data

# 1. InternVLA-A1: autoencoder (MT10 + MT40 frames), then the policy with and without the generation
#    expert, both on the MT10 demos alone for 15 minutes
run $VF train --recipe internvla_a1_ae_mt10 --time-budget-minutes 5 --resume
run $PY benchmarks/bench_mt10.py --recipe internvla_a1_tiny_mt10_demos --tag internvla_a1_tiny --minutes 15 \
    --init-from runs/internvla_a1_ae_mt10/checkpoints/last --note "with the generation expert (foresight m=16), MT10 demos only, 15 min"
run $PY benchmarks/bench_internvla_a1.py --checkpoint runs/bench/internvla_a1_tiny/checkpoints/last
run $PY benchmarks/bench_mt10.py --recipe internvla_a1_tiny_mt10_nogen --tag internvla_a1_tiny_nogen --minutes 15 \
    --init-from runs/internvla_a1_ae_mt10/checkpoints/last --note "ablation: no generation expert, MT10 demos only, 15 min"

# 2. XR-1: UVMC (MT10 + MT40 video), then stage 2 with vs without the code loss (same 8 minutes, MT10
#    demos), each followed by the same 8-minute stage 3
run $VF train --recipe xr1_uvmc_mt10 --time-budget-minutes 5 --resume
run $PY benchmarks/bench_xr1_uvmc.py --checkpoint runs/xr1_uvmc_mt10/checkpoints/last
run $VF train --recipe xr1_pretrain_mt10 --time-budget-minutes 8 "${NOVIDEO[@]}" \
    --init-from runs/xr1_uvmc_mt10/checkpoints/last --resume
run $PY benchmarks/bench_mt10.py --recipe xr1_tiny_mt10 --tag xr1_tiny --minutes 8 \
    --init-from runs/xr1_pretrain_mt10/checkpoints/last --note "UVMC 5 min -> stage 2 8 min (MT10 demos) -> stage 3 8 min"
run $VF train --recipe xr1_pretrain_mt10 --time-budget-minutes 8 "${NOVIDEO[@]}" --policy.code-loss-weight 0 \
    --init-from runs/xr1_uvmc_mt10/checkpoints/last --out-dir runs/xr1_pretrain_nocode_mt10 --resume
run $PY benchmarks/bench_mt10.py --recipe xr1_tiny_mt10 --tag xr1_tiny_nocode --minutes 8 \
    --init-from runs/xr1_pretrain_nocode_mt10/checkpoints/last --note "ablation: stage 2 without the UVMC code loss (same 8 min)"
run $VF leaderboard

# (session 4 ran the test suite here, on the quiet machine, before the UniVLA part)

# 3. UniVLA-latent: the two LAM stages on video
run $VF train --recipe univla_latent_lam_mt50video --time-budget-minutes 4 --resume
run $VF train --recipe univla_latent_lam2_mt50video --time-budget-minutes 4 --resume
run $PY benchmarks/bench_univla_latent_lam.py --checkpoint runs/univla_latent_lam2/checkpoints/last
log "queue finished"
