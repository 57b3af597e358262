#!/usr/bin/env bash
# Session 12 (2026-12-04, machine F): issue 15, DART demonstrations (the expert's clean labels at the states that
# injected noise led to) on the best X-VLA recipe so far (frozen EfficientNet-Lite0, 68.0%) and on the BC
# reference, one change each (the data). One training job at a time; run from the repository root:
#   bash benchmarks/queue_session12.sh [dart_frozen|dart_bc|mixed_frozen|mixed_bc_eq]
set -u
source benchmarks/queue_lib.sh
part=${1:-all}
if [ "$part" = all ] || [ "$part" = dart_frozen ]; then
    collect_dart_data
    run $PY benchmarks/bench_mt10.py --recipe xvla_effnet_frozen_mt10 --tag xvla_effnet_frozen_dart \
        --data data/mt10_64_dart \
        --note 'X-VLA tiny, frozen ImageNet EfficientNet-Lite0 (stride 16, feature cache, 3 shifted views), lr 1e-3, DART demos (noise 0.3 held 8 steps)'
fi
if [ "$part" = all ] || [ "$part" = dart_bc ]; then
    collect_dart_data
    run $PY benchmarks/bench_mt10.py --recipe bc_tiny_mt10 --tag bc_tiny_dart --data data/mt10_64_dart \
        --note 'BC reference: from-scratch CNN per camera, DART demos (noise 0.3 held 8 steps)'
fi
if [ "$part" = all ] || [ "$part" = mixed_frozen ]; then
    # the clean demos and the DART demos together (1,000 episodes, 103k frames; sampled by frame): DART alone lifted
    # push and reach but cost peg-insert and window-open, which the clean demos teach
    collect_dart_data
    run $PY benchmarks/bench_mt10.py --recipe xvla_effnet_frozen_mt10 --tag xvla_effnet_frozen_clean_dart \
        --data data/mt10_64,data/mt10_64_dart \
        --note 'X-VLA tiny, frozen ImageNet EfficientNet-Lite0 (stride 16, feature cache, 3 shifted views), lr 1e-3, clean + DART demos'
fi
if [ "$part" = all ] || [ "$part" = mixed_bc_eq ]; then
    # BC on the same mixed data at the equal-samples budget of bc_tiny_eqsamples_8345x32 (77.0% on clean demos)
    collect_dart_data
    run $PY benchmarks/bench_mt10.py --recipe bc_tiny_mt10 --tag bc_tiny_clean_dart_eqsamples_8345x32 \
        --data data/mt10_64,data/mt10_64_dart --steps 8345 --override=--data.batch-size=32 \
        --note 'BC reference: from-scratch CNN per camera, clean + DART demos, 8,345 steps x 32 (as bc_tiny_eqsamples_8345x32)'
fi
