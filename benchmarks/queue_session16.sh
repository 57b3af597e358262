#!/usr/bin/env bash
# Session 16 (2026-12-05, a new checkout on machine G, a 2-core Xeon with AMX-BF16): issue 15. One training job at a time;
# run from the repository root, from a snapshot of src/ (PYTHONPATH) so edits cannot reach a running job:
#   bash benchmarks/queue_session16.sh PART
set -u
source benchmarks/queue_lib.sh
part=${1:-}
DATA=data/mt10_64,data/mt10_64_dart
if [ "$part" = data ]; then
    # the clean and DART demos (sessions 3 and 12), for a checkout that has none
    collect_clean_data
    collect_dart_data
fi
if [ "$part" = fast_regression ]; then
    # one change against the best X-VLA (xvla_fast_film_mt10, 78.0%): plain L1 regression on the same network, one
    # pass per chunk. Session 15: one or two Euler steps from the flow-trained checkpoint (its near-mean prediction)
    # lifted push and reach over 300 episodes, the two tasks where X-VLA trails BC; does training for it lift more?
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_mt10 --tag xvla_fast_clean_dart_film_regression \
        --data $DATA --override=--policy.objective=regression \
        --note 'X-VLA tiny, from-scratch fast stem, clean + DART demos, instruction FiLM, L1 regression (one pass)'
    wide_eval xvla_fast_clean_dart_film_regression
fi
if [ "$part" = fast_film_seed1 ]; then
    # the best X-VLA recipe again with training seed 1: how far one seed moves the mean, with 10 and 2 Euler
    # steps (session 15: 2 steps 80.7% over 300 episodes, 1.3 +- 2.1 below BC), on the protocol's and the wider episodes
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_mt10 --tag xvla_fast_clean_dart_film_seed1 \
        --data $DATA --seed 1 --note 'xvla_fast_film_mt10, training seed 1'
    wide_eval xvla_fast_clean_dart_film_seed1
    steps_eval xvla_fast_clean_dart_film_seed1 xvla_fast_film_mt10 2 wide
fi
if [ "$part" = bc45 ]; then
    # the BC reference with the protocol's full 45 minutes on the same clean + DART demos (session 12's ran 8,345 x 32,
    # X-VLA's sample count at the time)
    run $PY benchmarks/bench_mt10.py --recipe bc_tiny_mt10 --tag bc_tiny_clean_dart --data $DATA \
        --note 'BC reference, 45 minutes, clean + DART demos'
    wide_eval bc_tiny_clean_dart
fi
if [ "$part" = bc_eq_regression ]; then
    # BC at the regression X-VLA's sample count on this machine (27,462 x 32): is the 45-minute BC's lead (92.0%)
    # throughput (3.3x the samples) or per-sample efficiency? (session 12's BC at 8,345 x 32: 79.0%)
    run $PY benchmarks/bench_mt10.py --recipe bc_tiny_mt10 --tag bc_tiny_clean_dart_eqsamples_27462x32 --data $DATA \
        --steps 27462 --override=--data.batch-size=32 \
        --note "BC reference, clean + DART demos, at xvla_fast_clean_dart_film_regression's sample count (27,462 x 32)"
    wide_eval bc_tiny_clean_dart_eqsamples_27462x32
fi
