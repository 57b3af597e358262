#!/usr/bin/env bash
# Session 18 (2026-12-05, machine G, a 2-core Xeon with AMX-BF16): issue 15, DAgger. One training job at a time;
# run from the repository root, from a snapshot of src/ (PYTHONPATH) so edits cannot reach a running job:
#   bash benchmarks/queue_session18.sh PART
set -u
source benchmarks/queue_lib.sh
part=${1:-}
DATA=data/mt10_64,data/mt10_64_dart
ACTOR=runs/bench/xvla_fast_clean_dart_film_regression/checkpoints/last
if [ "$part" = dagger_data ]; then
    # Session 17: on its own states the X-VLA parts from the expert (onpolicy_gap.py), on the expert's it does not.
    # DAgger's first iteration: the regression X-VLA of session 16 (75.0%) drives, the scripted expert labels every
    # state it reaches (vlaforge collect --actor), failed rollouts kept, 250 steps at most; seeds 3,000+ (the demos
    # train on 0+, the held-out demos 5,000+, the protocol 10,000+, the wide evaluation 20,000+)
    [ -f data/mt10_64_dagger1/meta/info.json ] || run $VF collect metaworld --tasks mt10 --episodes-per-task 20 \
        --image-size 64 --cameras corner2,gripperPOV --seed-start 3000 --out data/mt10_64_dagger1 --workers 2 \
        --max-steps 250 --actor $ACTOR
fi
if [ "$part" = xvla_dagger ]; then
    # one change against xvla_fast_clean_dart_film_regression (75.0%): its own labelled rollouts added to the demos,
    # the same recipe, budget (45 minutes) and seeds
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_mt10 --tag xvla_fast_clean_dart_dagger1_film_regression \
        --data $DATA,data/mt10_64_dagger1 --override=--policy.objective=regression \
        --note 'xvla_fast_film_mt10, regression, on clean + DART demos + one DAgger round (data/mt10_64_dagger1)'
    wide_eval xvla_fast_clean_dart_dagger1_film_regression
fi
if [ "$part" = bc_dagger ]; then
    # BC on the data of an X-VLA DAgger run (its tag and its comma list of datasets), at that run's sample count (read
    # from its train_summary.json): the X-VLA's DAgger rollouts are data BC may use too
    # (session 18 ran it once, on round 1's data:
    #   bash benchmarks/queue_session18.sh bc_dagger xvla_fast_clean_dart_dagger1_film_regression \
    #       data/mt10_64,data/mt10_64_dart,data/mt10_64_dagger1 bc_tiny_clean_dart_dagger1_eqsamples)
    xtag=$2 data=$3 tag=$4
    steps=$(steps_of "$xtag")
    run $PY benchmarks/bench_mt10.py --recipe bc_tiny_mt10 --tag "$tag" --data "$data" --steps "$steps" \
        --override=--data.batch-size=32 \
        --note "BC reference on $data (the X-VLA's DAgger rollouts included), at $xtag's sample count ($steps x 32)"
    wide_eval "$tag"
fi
if [ "$part" = dagger2_data ]; then
    # DAgger's second iteration: the round-1 X-VLA drives (seeds 3,100+), the expert labels
    [ -f data/mt10_64_dagger2/meta/info.json ] || run $VF collect metaworld --tasks mt10 --episodes-per-task 20 \
        --image-size 64 --cameras corner2,gripperPOV --seed-start 3100 --out data/mt10_64_dagger2 --workers 2 \
        --max-steps 250 --actor runs/bench/xvla_fast_clean_dart_dagger1_film_regression/checkpoints/last
fi
if [ "$part" = xvla_dagger2 ]; then
    # the same recipe and budget on clean + DART + both DAgger rounds
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_mt10 --tag xvla_fast_clean_dart_dagger2_film_regression \
        --data $DATA,data/mt10_64_dagger1,data/mt10_64_dagger2 --override=--policy.objective=regression \
        --note 'xvla_fast_film_mt10, regression, on clean + DART demos + two DAgger rounds (data/mt10_64_dagger1, 2)'
    wide_eval xvla_fast_clean_dart_dagger2_film_regression
fi
if [ "$part" = probes ]; then
    # where the DAgger rounds moved the gap (benchmarks/onpolicy_gap.py, now split before / after the hand first
    # reaches the object): peg-insert (DAgger left it at 30% / 10%) and pick-place (47% -> 83% over 300 episodes)
    run $PY benchmarks/onpolicy_gap.py runs/bench/bc_tiny_clean_dart_eqsamples_27462x32 \
        runs/bench/xvla_fast_clean_dart_film_regression runs/bench/xvla_fast_clean_dart_dagger1_film_regression \
        runs/bench/xvla_fast_clean_dart_dagger2_film_regression --tasks peg-insert-side-v3,pick-place-v3 --episodes 10 \
        --threads 1 --out benchmarks/results/fit_gap/onpolicy_dagger
fi
if [ "$part" = probes_bc ]; then
    # the same for BC trained on the DAgger round (bc_dagger above), on its own
    run $PY benchmarks/onpolicy_gap.py runs/bench/bc_tiny_clean_dart_dagger1_eqsamples \
        --tasks peg-insert-side-v3,pick-place-v3 --episodes 10 --threads 1 \
        --out benchmarks/results/fit_gap/onpolicy_dagger_bc
fi
if [ "$part" = ensemble ]; then
    # peg-insert's carry-phase error has the chunk's 8-step period (session 17); a new chunk every 4 steps did not
    # fix it. Evaluation only: the round-1 checkpoint with ACT's temporal ensembling (a chunk every step, the
    # overlapping predictions averaged with weights exp(-0.01 i)), the protocol's episodes
    ln -sfn xvla_fast_clean_dart_dagger1_film_regression runs/bench/xvla_fast_clean_dart_dagger1_film_regression_ens
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_mt10 --tag xvla_fast_clean_dart_dagger1_film_regression_ens \
        --data $DATA,data/mt10_64_dagger1 --override=--policy.objective=regression --skip-train --temporal-ensemble 0.01 \
        --note 'the xvla_fast_clean_dart_dagger1_film_regression checkpoint with temporal ensembling (k 0.01, a chunk every step)'
fi
if [ "$part" = bc_nostate ]; then
    # session 17: X-VLA's chunk follows the state, BC's the images. Does BC need its state at all? One change against
    # bc_tiny_clean_dart_dagger1_eqsamples: no state input (the chunk from images and instruction alone)
    run $PY benchmarks/bench_mt10.py --recipe bc_tiny_mt10 --tag bc_tiny_clean_dart_dagger1_eqsamples_nostate \
        --data $DATA,data/mt10_64_dagger1 --steps 22449 --override=--data.batch-size=32 --override=--policy.no-use-state \
        --note "bc_tiny_clean_dart_dagger1_eqsamples without the state input (use_state False)"
fi
