#!/usr/bin/env bash
# Session 27 (2026-12-06, machine I again: 2-core Intel Xeon, family 6 model 207, AVX-512 without BF16, no AMX, so
# precision=auto trains in fp32): issue 15. Run from the repository root, from a snapshot of src/ (PYTHONPATH), one
# job at a time:  bash benchmarks/queue_session27.sh PART [ARGS]
#   grasp_probe OUT EPISODES TASKS TAG...   grasp_probe.py: each runs/bench/TAG alone on the protocol's seeds
#                                          (10,000+), read through the expert's phases (align, descend, carry):
#                                          benchmarks/results/grasp_probe/session27_OUT
#   compare300 OUT LABELS TAG...            compare_evals.py over each TAG's 300 episodes (protocol + wide), paired
#                                          with the first TAG; LABELS comma-separated, one per TAG:
#                                          benchmarks/results/mt10/OUT.png
#   PART [ARGS]                            any part of queue_session26.sh (and through it queue_session24.sh)
# The session ran, one job at a time: grasp_probe demos_i 20 push-v3,pick-place-v3,peg-insert-side-v3 of session 26's
# xvla_fast_clean_dart_film_regression_i and bc_tiny_clean_dart_eqsamples_i; mt10
# xvla_fast_clean_dart_film_regression_kp32_i xvla_fast_film_mt10 --policy.objective=regression
# --policy.stem-keypoints=32; grasp_probe kp32_i of it; mt10
# xvla_fast_clean_dart_film_regression_grid4_i xvla_fast_film_mt10 --policy.objective=regression --policy.stem-grid=4;
# grasp_probe grid4_i of it; compare300 of the four 45-minute runs (session 26's X-VLA regression first, then BC first)
set -u
source benchmarks/queue_lib.sh
export STUDY=study27
Q26=benchmarks/queue_session26.sh
part=${1:-}
if [ "$part" = grasp_probe ]; then
    out=$2 episodes=$3 tasks=$4
    runs=()
    for tag in "${@:5}"; do runs+=("runs/bench/$tag"); done
    run $PY benchmarks/grasp_probe.py "${runs[@]}" --tasks "$tasks" --episodes "$episodes" \
        --out "benchmarks/results/grasp_probe/session27_$out"
elif [ "$part" = compare300 ]; then
    compare_groups "$2" "$3" "mt10 mt10_wide" "${@:4}"  # one tag per group
elif [ "$part" = after ]; then
    wait_for "$2"; bash "$0" "${@:3}"
else
    bash $Q26 "$@"
fi
