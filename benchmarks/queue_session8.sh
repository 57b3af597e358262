#!/usr/bin/env bash
# Session 8 (2026-12-03, machine E again): the ALOHA demos re-collected with the 98% expert, the instruction-swap
# probe of the look-alike tasks; then (next session) the frozen ImageNet encoder under the MT10 protocol
# (issue 15 (b)) and issue 14's 45 + 45 vs 90 minute study.
# One training job at a time; run from the repository root: bash benchmarks/queue_session8.sh [data|frozen|aloha]
set -u
source benchmarks/queue_lib.sh
part=${1:-all}
if [ "$part" = all ] || [ "$part" = data ]; then
    collect_mt10_data
    [ -f data/aloha_64/meta/info.json ] || run $VF collect aloha --tasks transfer-cube,insertion \
        --episodes-per-task 50 --image-size 64 --out data/aloha_64 --workers 2
    run $PY benchmarks/instruction_swap.py --checkpoints runs/bench/xvla_tiny4_lr1e3/checkpoints/last \
        runs/study_3task/xvla_tiny4_lr1e3/checkpoints/last runs/study_3task/xvla_tiny4_lr1e3_instruction/checkpoints/last \
        runs/study_3task/bc/checkpoints/last --out benchmarks/results/instruction_swap --push-gap
    run $PY benchmarks/closed_loop_experts.py runs/bench/xvla_tiny4_lr1e3/checkpoints/last
fi
if [ "$part" = all ] || [ "$part" = frozen ]; then
    # (b) the frozen ImageNet EfficientNet-Lite0 with the feature cache, stride 32 (4 tokens per view, as the
    # from-scratch recipe), lr 1e-3; the cache is built before the 45-minute clock starts
    run $PY benchmarks/bench_mt10.py --recipe xvla_effnet_frozen_mt10 --tag xvla_effnet_frozen_s32_lr1e3 \
        --override=--optim.lr=1e-3 --override=--policy.image-encoder.stride=32 \
        --note 'X-VLA tiny, frozen ImageNet EfficientNet-Lite0 per camera (stride 32: 4 tokens per view, feature cache), lr 1e-3'
fi
if [ "$part" = all ] || [ "$part" = aloha ]; then
    # issue 14: ALOHA alone (45 min) and MT10 + ALOHA in one model (90 min); the MT10 half is xvla_tiny4_lr1e3
    run $VF train --recipe xvla_tiny4_lr1e3_aloha
    run $VF eval --policy runs/xvla_tiny4_lr1e3_aloha/checkpoints/last --suite aloha --episodes-per-task 50 \
        --dataset data/aloha_64 --out benchmarks/results/aloha/xvla_tiny4_lr1e3
    run $VF train --recipe xvla_tiny4_lr1e3_mt10_aloha
    run $VF eval --policy runs/xvla_tiny4_lr1e3_mt10_aloha/checkpoints/last --suite aloha --episodes-per-task 50 \
        --dataset data/aloha_64 --out benchmarks/results/aloha/xvla_tiny4_lr1e3_mt10_aloha
    run $VF eval --policy runs/xvla_tiny4_lr1e3_mt10_aloha/checkpoints/last --suite mt10 --episodes-per-task 10 \
        --dataset data/mt10_64 --out benchmarks/results/mt10/xvla_tiny4_lr1e3_mt10_aloha
fi
