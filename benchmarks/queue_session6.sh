#!/usr/bin/env bash
# The benchmark queue of session 6 (2026-12-02, 3 hours, the same 2-core AVX2 machine as session 5: fp32).
# One job at a time, in this order:
# 1. XR-1 (issue 11): stage 1 with vs without the MT40 action-free video under the MT10 protocol. Both
#    UVMCs were trained in session 5 on this machine (5 min each; runs/xr1_uvmc_mt10, runs/xr1_uvmc_novideo_mt10);
#    each arm now gets the same stage 2 (8 min, MT10 demos, UVMC code loss) and stage 3 (8 min) + the evaluation.
set -uo pipefail
cd "$(dirname "$0")/.."
source benchmarks/queue_lib.sh
[ $# -ge 1 ] && wait_for "$1"
collect_mt10_data

for arm in video novideo; do
    if [ $arm = video ]; then UVMC=runs/xr1_uvmc_mt10; else UVMC=runs/xr1_uvmc_novideo_mt10; fi
    run $VF train --recipe xr1_pretrain_mt10 --time-budget-minutes 8 "${NOVIDEO[@]}" \
        --init-from $UVMC/checkpoints/last --out-dir runs/xr1_pretrain_uvmc_${arm}_mt10 --resume
    run $PY benchmarks/bench_mt10.py --recipe xr1_tiny_mt10 --tag xr1_tiny_uvmc_${arm} --minutes 8 \
        --init-from runs/xr1_pretrain_uvmc_${arm}_mt10/checkpoints/last \
        --note "stage-1 ablation: UVMC 5 min $( [ $arm = video ] && echo with || echo without ) MT40 video -> stage 2 8 min (demos) -> stage 3 8 min"
done
run $VF leaderboard

# 2. ALOHA (issue 14): X-VLA tiny on the ALOHA scripted demos alone (50 transfer-cube + 13 insertion, top + both
#    wrists at 64^2), the 45-minute budget, then 50 evaluation episodes per task from seed 10,000 (videos kept).
#    This is also the "separate" ALOHA arm of the joint-vs-separate study (xvla_tiny_mt10_aloha, 90 min).
run $VF train --recipe xvla_tiny_aloha --resume
run $VF eval --policy runs/xvla_tiny_aloha/checkpoints/last --suite aloha --episodes-per-task 50 \
    --dataset data/aloha_64 --out benchmarks/results/aloha/xvla_tiny
log "queue finished"

# 3. (added at the end of the session, run by hand in this order) one change to the ALOHA run: chunks of 50
#    steps (1 s at 50 Hz), 25 executed, with a shorter 25-minute budget (what the session had left).
#    $VF train --recipe xvla_tiny_aloha --policy.chunk-size 50 --policy.n-action-steps 25 \
#        --time-budget-minutes 25 --out-dir runs/xvla_tiny_aloha_chunk50 --resume
#    $VF eval --policy runs/xvla_tiny_aloha_chunk50/checkpoints/last --suite aloha --episodes-per-task 50 \
#        --dataset data/aloha_64 --out benchmarks/results/aloha/xvla_tiny_chunk50
