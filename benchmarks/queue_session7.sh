#!/usr/bin/env bash
# Session 7 (2026-12-03, machine E): the push study's two helpful changes under the MT10 protocol, then the
# frozen pretrained encoder with the same two changes. One training job at a time; run from the repo root.
#   bash benchmarks/queue_session7.sh            # everything
#   bash benchmarks/queue_session7.sh --after PID   # the frozen-encoder run only, once PID has exited
set -u
source benchmarks/queue_lib.sh
if [ "${1:-}" = "--after" ]; then
    wait_for "$2"
else
    collect_mt10_data
    run $PY benchmarks/study_push.py --steps 800 --variants xvla_lr1e-3 xvla_4_tokens_per_view xvla_effnet_frozen
    run $PY benchmarks/profile_xvla.py --quick
    # (a') from-scratch stem, 4 tokens per view, lr 1e-3
    run $PY benchmarks/bench_mt10.py --recipe xvla_tiny4_lr1e3_mt10 --tag xvla_tiny4_lr1e3 \
        --note 'X-VLA tiny, 4 tokens per view (5-stage stem) + lr 1e-3, the two changes that helped on push at equal steps'
fi
# (b') frozen ImageNet EfficientNet-Lite0 with the feature cache, stride 32 (4 tokens per view), lr 1e-3
run $PY benchmarks/bench_mt10.py --recipe xvla_effnet_frozen_mt10 --tag xvla_effnet_frozen_s32_lr1e3 \
    --override=--optim.lr=1e-3 --override=--policy.image-encoder.stride=32 \
    --note 'X-VLA tiny, frozen EfficientNet-Lite0 (feature cache, stride 32: 4 tokens per view) + lr 1e-3'
