#!/usr/bin/env bash
# Session 29 (2026-12-06, machine I again: 2-core Intel Xeon, family 6 model 207, AVX-512 without BF16, no AMX, so
# precision=auto trains in fp32): issue 15. Run from the repository root, from a snapshot of src/ (PYTHONPATH), one
# job at a time:  bash benchmarks/queue_session29.sh PART [ARGS]
#   bc_eq_of_flags TAG REF [FLAGS...]      the BC reference under the MT10 protocol on clean + DART demos at
#                                          runs/bench/REF's step count x 32, with any extra `vlaforge train` FLAGS
#                                          (e.g. the same --data.task-weights), then the wider evaluation
#   PART [ARGS]                            any part of queue_session28.sh (and through it sessions 27, 26 and 24)
# The session ran, one job at a time: mt10 xvla_fast_clean_dart_film_regression_grid4_ctx_head_i
# xvla_fast_grid_ctx_mt10 --policy.global-context-head; compare300 of it; mt10
# xvla_fast_clean_dart_film_regression_grid4_ctx_pegw_i xvla_fast_grid_ctx_mt10 --data.task-weights
# peg-insert-side-v3=3; bc_eq_of_flags bc_tiny_clean_dart_pegw_eqsamples_i (that run) --data.task-weights
# peg-insert-side-v3=3; bc_eq_of_flags bc_tiny_clean_dart_eqsamples14742_i (that run); compare300 of them;
# grasp_probe pegw_i 20 pick-place-v3 of the peg-weighted X-VLA and that BC (BENCHMARKS.md session 29)
set -u
source benchmarks/queue_lib.sh
export STUDY=study29
Q28=benchmarks/queue_session28.sh
DATA=data/mt10_64,data/mt10_64_dart
part=${1:-}
if [ "$part" = bc_eq_of_flags ]; then
    tag=$2 steps=$(steps_of "$3"); shift 3
    run $PY benchmarks/bench_mt10.py --recipe bc_tiny_mt10 --tag "$tag" --data $DATA --steps "$steps" \
        --override=--data.batch-size=32 "${@/#/--override=}" \
        --note "BC reference, clean + DART demos, ${steps} x 32 samples${*:+: $*}"
    wide_eval "$tag"
elif [ "$part" = after ]; then
    wait_for "$2"; bash "$0" "${@:3}"
else
    bash $Q28 "$@"
fi
