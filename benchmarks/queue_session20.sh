#!/usr/bin/env bash
# Session 20 (2026-12-05, machine G, a 2-core Xeon with AMX-BF16): issue 15, is X-VLA above BC or level with it? The
# session-19 pair (X-VLA flow + the flow policy's DAgger round against BC on the same four datasets at the same
# samples) differed by +1.7 +- 1.6 points over 300 episodes. Two sources of noise: the episodes (more of them) and the
# training seed (a second one of each). One training job at a time; run from the repository root, from a snapshot of
# src/ (PYTHONPATH) so edits cannot reach a running job:   bash benchmarks/queue_session20.sh PART
set -u
source benchmarks/queue_lib.sh
part=${1:-}
DATA=data/mt10_64,data/mt10_64_dart,data/mt10_64_dagger1,data/mt10_64_dagger_flow
X=xvla_fast_clean_dart_dagger1_flowdagger_film_flow
B=bc_tiny_clean_dart_dagger1_flowdagger_eqsamples
if [ "$part" = fresh ]; then
    # evaluation only: 200 fresh episodes (seeds 30,000+) for the session-19 pair, and for half the sampler's spread
    # (init_noise_scale 0.5, picked in session 19 on the protocol's and wider episodes, so checked here on new ones)
    fresh_eval $X
    fresh_eval $B
    fresh_eval ${X}_noise05 --set init_noise_scale=0.5
fi
if [ "$part" = xvla_seed1 ]; then
    # the same X-VLA recipe and data (xvla_fast_film_dagger_flow_mt10) with training seed 1; every evaluation set
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_dagger_mt10 --tag ${X}_seed1 --data $DATA \
        --override=--policy.objective=flow --seed 1 \
        --note 'xvla_fast_film_dagger_mt10, flow objective, clean + DART + DAgger round 1 + the flow round, training seed 1'
    wide_eval ${X}_seed1
    fresh_eval ${X}_seed1
fi
if [ "$part" = bc_seed1 ]; then
    # BC on the same data at the seed-0 X-VLA's sample count (25,283 x 32), training seed 1; every evaluation set
    steps=$(steps_of "$X")
    run $PY benchmarks/bench_mt10.py --recipe bc_tiny_mt10 --tag ${B}_seed1 --data $DATA --steps "$steps" \
        --override=--data.batch-size=32 --seed 1 \
        --note "BC reference on $DATA at $X's sample count ($steps x 32), training seed 1"
    wide_eval ${B}_seed1
    fresh_eval ${B}_seed1
fi
if [ "$part" = xvla_seed2 ]; then
    # a third training seed of the X-VLA recipe (seeds 0 and 1 scored 96.0% and 87.0% on the protocol), protocol only
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_dagger_mt10 --tag ${X}_seed2 --data $DATA \
        --override=--policy.objective=flow --seed 2 \
        --note 'xvla_fast_film_dagger_mt10, flow objective, clean + DART + DAgger round 1 + the flow round, training seed 2'
fi
if [ "$part" = seed2_evals ]; then
    # seed 2's wider and fresh episodes, for the three-seed pooled comparison
    wide_eval ${X}_seed2
    fresh_eval ${X}_seed2
fi
if [ "$part" = after ]; then  # PID PART: PART once the job PID (an earlier queue) has finished
    wait_for "$2"; bash "$0" "$3"
fi
