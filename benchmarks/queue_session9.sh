#!/usr/bin/env bash
# Session 9 (2026-12-03, machine E): issue 14's equal-budget study (ALOHA alone 45 min vs MT10 + ALOHA 90 min,
# the MT10 half being runs/bench/xvla_tiny4_lr1e3) ran as `bash benchmarks/queue_session8.sh aloha`. This queue
# holds what follows it. One training job at a time; run from the repository root:
#   bash benchmarks/queue_session9.sh [stages|dart|frozen]
set -u
source benchmarks/queue_lib.sh
part=${1:-all}
if [ "$part" = all ] || [ "$part" = stages ]; then
    # the ALOHA-alone model again, now that the evaluation records gym-aloha's reward stages (same seeds)
    run $VF eval --policy runs/xvla_tiny4_lr1e3_aloha/checkpoints/last --suite aloha --episodes-per-task 50 \
        --dataset data/aloha_64 --out benchmarks/results/aloha/xvla_tiny4_lr1e3
fi
if [ "$part" = all ] || [ "$part" = dart ]; then
    # issue 15: DART demos (the expert's clean labels at states the executed noise led to), the cure for the
    # closed-loop parting found in session 8; noise held 8 steps (one executed chunk), 0.3 of full speed
    collect_dart_data
    run $PY benchmarks/bench_mt10.py --recipe xvla_tiny4_lr1e3_mt10 --tag xvla_tiny4_lr1e3_dart \
        --override=--data.roots=data/mt10_64_dart \
        --note 'X-VLA tiny, 4 tokens per view, lr 1e-3, DART demos (noise 0.3 held 8 steps)'
fi
if [ "$part" = all ] || [ "$part" = frozen ]; then
    bash benchmarks/queue_session8.sh frozen
fi
