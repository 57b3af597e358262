#!/usr/bin/env bash
# Session 21 (2026-12-05, machine G, a 2-core Xeon with AMX-BF16): issue 15, X-VLA's seed fragility. Session 20 found
# the best X-VLA recipe at 96.0 / 87.0 / 88.0% over training seeds 0-2 (BC 96.0 / 95.0%), seeds 1 and 2 losing
# peg-insert (hovering beside the box) and push. A DAgger round from those two weak policies labels the states they
# visit; then X-VLA and BC retrain on all the data, two training seeds each. One training job at a time; run from the
# repository root, from a snapshot of src/ (PYTHONPATH) so edits cannot reach a running job:
#     bash benchmarks/queue_session21.sh PART [ARGS]
set -u
source benchmarks/queue_lib.sh
part=${1:-}
DATA=data/mt10_64,data/mt10_64_dart,data/mt10_64_dagger1,data/mt10_64_dagger_flow
SEEDS_DATA=data/mt10_64_dagger_seed1,data/mt10_64_dagger_seed2
X=xvla_fast_clean_dart_dagger1_flowdagger_film_flow   # session 20's runs, the actors of this round
X3=xvla_fast_clean_dart_dagger1_flowdagger_seedsdagger_film_flow
B3=bc_tiny_clean_dart_dagger1_flowdagger_seedsdagger_eqsamples
sfx() { [ "$1" = 0 ] && echo "" || echo "_seed$1"; }  # training seed 0 keeps the bare tag, as in session 20
if [ "$part" = seeds_data ]; then
    # the weak seeds' own round: X-VLA training seeds 1 and 2 (87.0 / 88.0% on the protocol) each drive 10 rollouts
    # per task with their default sampler, the expert labels; seeds 3,300+ and 3,400+ (earlier rounds: 3,000+,
    # 3,100+, 3,200+ with 20 per task, so no episode seed repeats)
    for s in 1 2; do
        [ -f data/mt10_64_dagger_seed$s/meta/info.json ] || run $VF collect metaworld --tasks mt10 \
            --episodes-per-task 10 --image-size 64 --cameras corner2,gripperPOV --seed-start $((3200 + 100 * s)) \
            --out data/mt10_64_dagger_seed$s --workers 2 --max-steps 250 --actor runs/bench/${X}_seed$s/checkpoints/last
    done
fi
if [ "$part" = xvla ]; then  # SEED: the X-VLA recipe on all six datasets with training seed SEED, protocol only
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_dagger_mt10 --tag ${X3}$(sfx $2) \
        --data $DATA,$SEEDS_DATA --override=--policy.objective=flow --seed "$2" \
        --note "xvla_fast_film_dagger_mt10, flow objective, clean + DART + DAgger round 1 + the flow round + the weak seeds' round, training seed $2"
fi
if [ "$part" = bc ]; then  # SEED REF: BC on the same six datasets at the X-VLA run REF's sample count, training seed SEED
    steps=$(steps_of "$3")
    run $PY benchmarks/bench_mt10.py --recipe bc_tiny_mt10 --tag ${B3}$(sfx $2) --data $DATA,$SEEDS_DATA \
        --steps "$steps" --override=--data.batch-size=32 --seed "$2" \
        --note "BC reference on the six datasets at $3's sample count ($steps x 32), training seed $2"
fi
if [ "$part" = takeover ]; then
    # evaluation only: can the expert finish peg-insert from where the weak X-VLA leaves it? The policy for K steps,
    # then the scripted expert, on the protocol's 10 peg-insert seeds (benchmarks/expert_takeover.py)
    run $PY benchmarks/expert_takeover.py runs/bench/${X3}_seed1 --task peg-insert-side-v3 --takeover 0,50,80,120,200 \
        --episodes 10 --out benchmarks/results/takeover/peg_${X3}_seed1
fi
if [ "$part" = after ]; then  # PID PART [ARGS]: PART once the job PID (an earlier queue) has finished
    wait_for "$2"; shift 2; bash "$0" "$@"
fi
if [ "$part" = main ]; then
    # the whole round in order: data, X-VLA seed 1, BC seed 0, X-VLA seed 2, BC seed 1 (BC at X-VLA seed 1's samples)
    bash "$0" seeds_data
    bash "$0" xvla 1
    bash "$0" bc 0 ${X3}_seed1
    bash "$0" xvla 2
    bash "$0" bc 1 ${X3}_seed1
fi
