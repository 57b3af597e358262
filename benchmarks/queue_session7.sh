#!/usr/bin/env bash
# Session 7 (2026-12-03, machine E): the push study's single changes, a quiet profile, the two helpful changes
# under the MT10 protocol, then the three look-alike tasks together (does the instruction reach the actions?).
# One training job at a time; run from the repository root: bash benchmarks/queue_session7.sh
set -u
source benchmarks/queue_lib.sh
collect_mt10_data
run $PY benchmarks/study_push.py --steps 800 --variants xvla_lr1e-3 xvla_4_tokens_per_view xvla_effnet_frozen
run $PY benchmarks/profile_xvla.py --quick
# from-scratch stem, 4 tokens per view, lr 1e-3
run $PY benchmarks/bench_mt10.py --recipe xvla_tiny4_lr1e3_mt10 --tag xvla_tiny4_lr1e3 \
    --note 'X-VLA tiny, 4 tokens per view (5-stage stem) + lr 1e-3, the two changes that helped on push at equal steps'
# reach + push + pick-place trained together: BC vs X-VLA vs X-VLA with the instruction on every action token
run $PY benchmarks/study_push.py --task reach-v3,push-v3,pick-place-v3 --steps 2400 --episodes 10 \
    --out benchmarks/results/study_3task --runs runs/study_3task \
    --variants bc xvla_tiny4_lr1e3 xvla_tiny4_lr1e3_instruction
# Not run this session (next): the frozen ImageNet EfficientNet-Lite0 with the feature cache, stride 32
# (4 tokens per view), lr 1e-3, under the MT10 protocol:
#   $PY benchmarks/bench_mt10.py --recipe xvla_effnet_frozen_mt10 --tag xvla_effnet_frozen_s32_lr1e3 \
#       --override=--optim.lr=1e-3 --override=--policy.image-encoder.stride=32
# ALOHA insertion expert: diagnosis at the session's start (commit a8a7161), the grasp-offset sweep, then the
# kept expert (PEG_GRASP_OFFSET 0.025, 10 ILC iterations) through the runner
#   $PY benchmarks/aloha_insertion_probe.py 12 10000 ; $PY benchmarks/aloha_insertion_tilt.py
#   for dx in -0.01 0.01 0.02 0.025 0.03 0.04; do $PY benchmarks/aloha_insertion_offset.py $dx 12; done
run $VF eval --policy expert --suite aloha --episodes-per-task 50 --image-size 64 --out benchmarks/results/aloha/expert
