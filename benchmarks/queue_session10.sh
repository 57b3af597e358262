#!/usr/bin/env bash
# Session 10 (2026-12-04, machine F): issue 15 (b) and (c), X-VLA tiny on the pretrained ImageNet encoder under the
# MT10 protocol, one training job at a time; run from the repository root:
#   bash benchmarks/queue_session10.sh [frozen|finetune|noise0|exec4]
set -u
source benchmarks/queue_lib.sh
part=${1:-all}
if [ "$part" = all ] || [ "$part" = frozen ]; then
    # (b) frozen EfficientNet-Lite0 per camera, stride 16 (16 tokens per 64^2 view), features of 3 random shifts
    # per frame from the feature cache (built before the 45-minute clock starts), lr 1e-3
    run $PY benchmarks/bench_mt10.py --recipe xvla_effnet_frozen_mt10 --tag xvla_effnet_frozen \
        --note 'X-VLA tiny, frozen ImageNet EfficientNet-Lite0 per camera (stride 16, feature cache, 3 shifted views), lr 1e-3'
fi
if [ "$part" = all ] || [ "$part" = finetune ]; then
    # (c) the same encoder fine-tuned at 0.1x lr (1e-4) inside the step, random shifts of 4 px, lr 1e-3
    run $PY benchmarks/bench_mt10.py --recipe xvla_effnet_finetune_mt10 --tag xvla_effnet_finetune \
        --note 'X-VLA tiny, ImageNet EfficientNet-Lite0 per camera fine-tuned at 0.1x lr (stride 16), lr 1e-3'
fi
if [ "$part" = all ] || [ "$part" = noise0 ]; then
    # inference-time ablation on (b)'s checkpoint: the deterministic sampler (initial noise 0) against the paper's
    # N(0, 1) start; the tag's run directory is a link to (b)'s, so nothing is retrained
    ln -sfn xvla_effnet_frozen runs/bench/xvla_effnet_frozen_noise0
    run $PY benchmarks/bench_mt10.py --recipe xvla_effnet_frozen_mt10 --tag xvla_effnet_frozen_noise0 --skip-train \
        --set init_noise_scale=0 \
        --note 'the xvla_effnet_frozen checkpoint evaluated with the deterministic sampler (initial noise 0); inference-time ablation'
fi
if [ "$part" = all ] || [ "$part" = exec4 ]; then
    # inference-time ablation on (b)'s checkpoint: 4 of 16 actions executed per chunk instead of the protocol's 8
    ln -sfn xvla_effnet_frozen runs/bench/xvla_effnet_frozen_exec4
    run $PY benchmarks/bench_mt10.py --recipe xvla_effnet_frozen_mt10 --tag xvla_effnet_frozen_exec4 --skip-train \
        --n-action-steps 4 \
        --note 'the xvla_effnet_frozen checkpoint with 4 of 16 actions executed per chunk (protocol: 8); inference-time ablation'
fi
