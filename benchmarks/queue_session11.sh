#!/usr/bin/env bash
# Session 11 (2026-12-04, machine F): issue 15, X-VLA tiny on the frozen ImageNet encoder with the one-pass
# regression objective (the latency goal) and at a larger image size; one training job at a time; run from the
# repository root:
#   bash benchmarks/queue_session11.sh [frozen_reg|frozen96|bc_effnet15]
set -u
source benchmarks/queue_lib.sh
part=${1:-all}
if [ "$part" = all ] || [ "$part" = frozen_reg ]; then
    # (b) with L1 regression instead of flow matching: one forward pass per chunk (~7 ms), same cache, same lr
    run $PY benchmarks/bench_mt10.py --recipe xvla_effnet_frozen_mt10 --tag xvla_effnet_frozen_reg \
        --override=--policy.objective=regression \
        --note 'X-VLA tiny, frozen ImageNet EfficientNet-Lite0 (stride 16, feature cache, 3 shifted views), lr 1e-3, L1 regression objective (one pass per chunk)'
fi
if [ "$part" = all ] || [ "$part" = frozen96 ]; then
    # the image-size measurement: the protocol's demos re-collected at 96^2 (same seeds 0.., same cameras), the
    # frozen encoder at stride 16 (36 tokens per view), its feature cache built before the 45-minute clock
    [ -f data/mt10_96/meta/info.json ] || run $VF collect metaworld --tasks mt10 --episodes-per-task 50 \
        --image-size 96 --cameras corner2,gripperPOV --out data/mt10_96 --workers 2
    run $PY benchmarks/bench_mt10.py --recipe xvla_effnet_frozen96_mt10 --tag xvla_effnet_frozen96 --data data/mt10_96 \
        --note 'X-VLA tiny, frozen ImageNet EfficientNet-Lite0 on 96x96 views (stride 16: 36 tokens per view, feature cache, 3 views shifted by 6 px), lr 1e-3'
fi
if [ "$part" = bc_effnet15 ]; then
    # the BC reference on the same frozen encoder and feature cache (stride 16, 3 shifted views), a 15-minute
    # budget (the protocol's cap is 45; the end of session 11 had 30 minutes left)
    run $PY benchmarks/bench_mt10.py --recipe bc_effnet_mt10 --tag bc_effnet_15min --minutes 15 \
        --note 'BC reference on the frozen ImageNet EfficientNet-Lite0 per camera (stride 16, feature cache, 3 shifted views), 15-minute budget'
fi
