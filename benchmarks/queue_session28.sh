#!/usr/bin/env bash
# Session 28 (2026-12-06, machine I again: 2-core Intel Xeon, family 6 model 207, AVX-512 without BF16, no AMX, so
# precision=auto trains in fp32): issue 15. Run from the repository root, from a snapshot of src/ (PYTHONPATH), one
# job at a time:  bash benchmarks/queue_session28.sh PART [ARGS]
#   mt10_seed TAG SEED RECIPE [FLAGS...]   the MT10 protocol (45 minutes + evaluation) on clean + DART with training
#                                          seed SEED (bench_mt10.py --seed), then the wider evaluation (seeds 20,000+)
#   feature_probe OUT EPISODES TASKS TAG... feature_probe.py: linear probes of object / goal positions from each
#                                          runs/bench/TAG's features (and its untrained copy's) on the scripted
#                                          expert's frames (seeds 10,000+):
#                                          benchmarks/results/feature_probe/session28_OUT
#   latency OUT TAG...                     chunk_latency.py: batch-1 chunk latency of each runs/bench/TAG, together,
#                                          3 interleaved rounds of 200: benchmarks/results/latency/session28_OUT.json
#   PART [ARGS]                            any part of queue_session27.sh (and through it sessions 26 and 24)
# The session ran, one job at a time: mt10_seed xvla_fast_clean_dart_film_regression_grid4_seed1_i 1
# xvla_fast_film_mt10 --policy.objective=regression --policy.stem-grid=4; feature_probe demos_i 30
# push-v3,pick-place-v3,peg-insert-side-v3 of session 26's X-VLA regression and BC and session 27's grid-token run; mt10
# xvla_fast_clean_dart_film_regression_grid4_ctx_i xvla_fast_film_mt10 --policy.objective=regression
# --policy.stem-grid=4 --policy.global-context; feature_probe ctx_i and grasp_probe grid4_ctx_i of it; compare300 of
# the runs (BENCHMARKS.md session 28); latency grid_ctx_i of the five checkpoints
set -u
source benchmarks/queue_lib.sh
export STUDY=study28
Q27=benchmarks/queue_session27.sh
DATA=data/mt10_64,data/mt10_64_dart
part=${1:-}
if [ "$part" = mt10_seed ]; then
    tag=$2 seed=$3 recipe=$4; shift 4
    run $PY benchmarks/bench_mt10.py --recipe "$recipe" --tag "$tag" --data $DATA --seed "$seed" "${@/#/--override=}" \
        --note "$recipe on clean + DART demos, training seed $seed${*:+: $*}"
    wide_eval "$tag"
elif [ "$part" = feature_probe ]; then
    out=$2 episodes=$3 tasks=$4
    runs=()
    for tag in "${@:5}"; do runs+=("runs/bench/$tag"); done
    run $PY benchmarks/feature_probe.py "${runs[@]}" --tasks "$tasks" --episodes "$episodes" --untrained \
        --out "benchmarks/results/feature_probe/session28_$out"
elif [ "$part" = latency ]; then
    out=$2
    runs=()
    for tag in "${@:3}"; do runs+=("runs/bench/$tag"); done
    run $PY benchmarks/chunk_latency.py "${runs[@]}" --out "benchmarks/results/latency/session28_$out.json"
elif [ "$part" = after ]; then
    wait_for "$2"; bash "$0" "${@:3}"
else
    bash $Q27 "$@"
fi
