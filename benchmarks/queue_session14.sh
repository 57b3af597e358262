#!/usr/bin/env bash
# Session 14 (2026-12-04, machine F): issue 15. One training job at a time; run from the repository root:
#   bash benchmarks/queue_session14.sh [film]
set -u
source benchmarks/queue_lib.sh
part=${1:-all}
if [ "$part" = all ] || [ "$part" = film ]; then
    # one change against xvla_effnet_frozen_clean_dart (71.0%): the instruction FiLMs every visual token, as the
    # paper's Florence-2 encoder reads image and instruction together (session 7: X-VLA near BC on three look-alike
    # tasks, far below it inside the ten-task mix)
    run $PY benchmarks/bench_mt10.py --recipe xvla_effnet_frozen_mt10 --tag xvla_effnet_frozen_clean_dart_film \
        --data data/mt10_64,data/mt10_64_dart --override=--policy.instruction-film \
        --note 'X-VLA tiny, frozen ImageNet EfficientNet-Lite0 (stride 16, feature cache, 3 shifted views), lr 1e-3, clean + DART demos, instruction FiLM on every visual token'
fi
if [ "$part" = film_eval ]; then
    # the evaluation of the run above, alone (its first evaluation failed: the runner's code changed under it)
    run $PY benchmarks/bench_mt10.py --recipe xvla_effnet_frozen_mt10 --tag xvla_effnet_frozen_clean_dart_film \
        --data data/mt10_64,data/mt10_64_dart --override=--policy.instruction-film --skip-train \
        --note 'X-VLA tiny, frozen ImageNet EfficientNet-Lite0 (stride 16, feature cache, 3 shifted views), lr 1e-3, clean + DART demos, instruction FiLM on every visual token'
fi
if [ "$part" = all ] || [ "$part" = film_instr ]; then
    # one change against the FiLM run above (76.0%): the instruction is also added to every action token
    # (--policy.instruction-to-actions, session 7), so the task reaches the action tokens directly too
    run $PY benchmarks/bench_mt10.py --recipe xvla_effnet_frozen_mt10 --tag xvla_effnet_frozen_clean_dart_film_instr \
        --data data/mt10_64,data/mt10_64_dart --override=--policy.instruction-film \
        --override=--policy.instruction-to-actions \
        --note 'X-VLA tiny, frozen ImageNet EfficientNet-Lite0 (stride 16, feature cache, 3 shifted views), lr 1e-3, clean + DART demos, instruction FiLM on every visual token, instruction added to every action token'
fi
if [ "$part" = aloha_te ]; then
    # issue 14: ACT's temporal ensembling (a chunk every step, exp(-0.01 i) weights) in the evaluation runner, on
    # the BC checkpoint of session 13 (bc_tiny_aloha96, this CPU, 45 min: 50% / 22% with 25 of 50 actions queued)
    run $VF eval --policy runs/bc_tiny_aloha96/checkpoints/last --suite aloha --episodes-per-task 50 \
        --dataset data/aloha_96 --temporal-ensemble 0.01 --out benchmarks/results/aloha/bc_tiny_aloha96_te
fi
if [ "$part" = film_te ]; then
    # inference-time ablation on the FiLM checkpoint (76.0%), nothing retrained: ACT's temporal ensembling instead of
    # 8 of 16 actions queued (runs/bench/xvla_effnet_frozen_clean_dart_film_te links to the FiLM run)
    ln -sfn xvla_effnet_frozen_clean_dart_film runs/bench/xvla_effnet_frozen_clean_dart_film_te
    run $PY benchmarks/bench_mt10.py --recipe xvla_effnet_frozen_mt10 --tag xvla_effnet_frozen_clean_dart_film_te \
        --data data/mt10_64,data/mt10_64_dart --override=--policy.instruction-film --skip-train \
        --temporal-ensemble 0.01 \
        --note 'the FiLM checkpoint (xvla_effnet_frozen_clean_dart_film) evaluated with temporal ensembling, k 0.01, a chunk every step'
fi
if [ "$part" = film_te_noise0 ]; then
    # the ensembling above on the deterministic sampler (init_noise_scale 0: one chunk per observation), to test
    # the reading that ensembling hurt because it averages differently-noised flow samples
    ln -sfn xvla_effnet_frozen_clean_dart_film runs/bench/xvla_effnet_frozen_clean_dart_film_te_noise0
    run $PY benchmarks/bench_mt10.py --recipe xvla_effnet_frozen_mt10 --tag xvla_effnet_frozen_clean_dart_film_te_noise0 \
        --data data/mt10_64,data/mt10_64_dart --override=--policy.instruction-film --skip-train \
        --temporal-ensemble 0.01 --set init_noise_scale=0 \
        --note 'the FiLM checkpoint evaluated with temporal ensembling (k 0.01, a chunk every step) and the deterministic sampler (init_noise_scale 0)'
fi
