#!/usr/bin/env bash
# UniVLA-AR tiny under the MT10 protocol, as run for BENCHMARKS.md on 2026-11-21.
# Stage 0 (image VQ, reported separately), then stage 2 (policy) from scratch = initialised from the VQ
# only; the world-model stage (univla_ar_wm_mt40) did not fit this session's CPU budget.
# The figure in BENCHMARKS.md used the defaults below (10 episodes per task, 10 actions per chunk).
set -euo pipefail
cd "$(dirname "$0")/.."
EPISODES=${EPISODES:-10}; ACTIONS=${ACTIONS:-10}; THREADS=${THREADS:-1}
vlaforge train --recipe vq_tiny_mt10 --time-budget-minutes 15 --num-threads "$THREADS" --data.num-workers 0
vlaforge tokenizer fit-fast --dataset data/mt10_64 --chunk 10 --vocab 1024 --out runs/tokenizers/fast_mt10
vlaforge train --recipe univla_ar_tiny_mt10_scratch --num-threads "$THREADS" --data.num-workers 0
vlaforge eval --policy runs/univla_ar_tiny_mt10_scratch/checkpoints/last --suite mt10 \
  --episodes-per-task "$EPISODES" --n-action-steps "$ACTIONS" --workers 1 \
  --dataset data/mt10_64 --out benchmarks/results/univla_ar_mt10_scratch
