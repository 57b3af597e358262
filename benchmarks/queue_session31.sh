#!/usr/bin/env bash
# Session 31 (2026-12-06, machine I again: 2-core Intel Xeon, family 6 model 207, AVX-512 without BF16, no AMX, so
# precision=auto trains in fp32): issue 15, the mid-carry loss in closed loop. Run from the repository root, from a
# snapshot of src/ (PYTHONPATH), one job at a time:  bash benchmarks/queue_session31.sh PART [ARGS]
#   nas_eval TAG RECIPE N [wide_only]      runs/bench/TAG's checkpoint, nothing retrained, with N actions executed per
#                                          chunk instead of the recipe's 8: the protocol's 100 episodes
#                                          (bench_mt10.py --skip-train --n-action-steps N under the tag TAG_nasN,
#                                          whose run directory links to TAG's), then the wider 200 from seed 20,000
#   mt10_on TAG RECIPE DATA [FLAGS...]     the MT10 protocol (45 minutes + evaluation) of RECIPE on the dataset roots
#                                          DATA (comma-separated), with any extra `vlaforge train` FLAGS, then the
#                                          wider evaluation (seeds 20,000+)
#   mt10_on_seed TAG SEED RECIPE DATA [FLAGS...]   mt10_on with training seed SEED (bench_mt10.py --seed)
#   bc_eq_on TAG REF DATA [FLAGS...]       the BC reference on DATA at runs/bench/REF's step count x 32 (REF's
#                                          training seed), with any extra FLAGS, then the wider evaluation
#   fresh TAG...                           session 20's fresh evaluation of each runs/bench/TAG: 20 more episodes per
#                                          task from seed 30,000 (benchmarks/results/mt10_fresh/TAG)
#   compare500 OUT LABELS GROUP...         compare_evals.py over each GROUP's 500 episodes (protocol + wide + fresh; a
#                                          TAG, or training seeds' tags comma-joined), paired with the first GROUP:
#                                          benchmarks/results/mt10/OUT.png
#   PART [ARGS]                            any part of queue_session30.sh (and through it sessions 29, 28, 27, 26, 24)
# The session ran, one job at a time: nas_eval 4 of session 29's seed-0 X-VLA and BC; mt10
# xvla_fast_clean_dart_film_regression_grid4_ctx_carryw_i xvla_fast_grid_ctx_pegw_mt10 --data.task-weights
# peg-insert-side-v3=3 push-v3=2 pick-place-v3=2; mt10_on ..._pegw_onpol_i and bc_eq_on
# bc_tiny_clean_dart_onpol_eqsamples_i on the demos + session 26's two on-policy sets; compare300 of each;
# grasp_probe onpol_i 20 pick-place-v3 of the on-policy pair; fresh and compare500 of that pair (BENCHMARKS.md
# session 31)
set -u
source benchmarks/queue_lib.sh
export STUDY=study31
Q30=benchmarks/queue_session30.sh
DATA=data/mt10_64,data/mt10_64_dart
part=${1:-}
train_on() {  # TAG RECIPE DATA NOTE [bench_mt10.py flags...]: the protocol on the roots DATA, then the wider evaluation
    local tag=$1 recipe=$2 data=$3 note=$4; shift 4
    run $PY benchmarks/bench_mt10.py --recipe "$recipe" --tag "$tag" --data "$data" "$@" --note "$note"
    wide_eval "$tag"
}
if [ "$part" = nas_eval ]; then
    tag=$2 recipe=$3 n=$4
    ln -sfn "$tag" "runs/bench/${tag}_nas$n"
    if [ "${5:-}" != wide_only ]; then
        run $PY benchmarks/bench_mt10.py --recipe "$recipe" --tag "${tag}_nas$n" --data $DATA --skip-train \
            --n-action-steps "$n" --note "the $tag checkpoint, $n actions executed per chunk instead of 8"
    fi
    wide_eval "${tag}_nas$n" --n-action-steps "$n"
elif [ "$part" = mt10_on ]; then
    tag=$2 recipe=$3 data=$4; shift 4
    train_on "$tag" "$recipe" "$data" "$recipe on $data${*:+: $*}" "${@/#/--override=}"
elif [ "$part" = mt10_on_seed ]; then
    tag=$2 seed=$3 recipe=$4 data=$5; shift 5
    train_on "$tag" "$recipe" "$data" "$recipe on $data, training seed ${seed}${*:+: $*}" --seed "$seed" \
        "${@/#/--override=}"
elif [ "$part" = bc_eq_on ]; then
    tag=$2 steps=$(steps_of "$3") seed=$(seed_of "$3") data=$4; shift 4
    note="BC reference on $data, ${steps} x 32 samples, training seed ${seed}${*:+: $*}"
    train_on "$tag" bc_tiny_mt10 "$data" "$note" --steps "$steps" --seed "$seed" --override=--data.batch-size=32 \
        "${@/#/--override=}"
elif [ "$part" = fresh ]; then
    for tag in "${@:2}"; do fresh_eval "$tag"; done
elif [ "$part" = compare500 ]; then
    compare_groups "$2" "$3" "mt10 mt10_wide mt10_fresh" "${@:4}"  # TAG, or tags of training seeds comma-joined
elif [ "$part" = after ]; then
    wait_for "$2"; bash "$0" "${@:3}"
else
    bash $Q30 "$@"
fi
