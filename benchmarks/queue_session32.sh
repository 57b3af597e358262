#!/usr/bin/env bash
# Session 32 (2026-12-06, machine I again: 2-core Intel Xeon, family 6 model 207, AVX-512 without BF16, no AMX, so
# precision=auto trains in fp32): issue 15, a second round of on-policy states. Run from the repository root, from a
# snapshot of src/ (PYTHONPATH), one job at a time:  bash benchmarks/queue_session32.sh PART [ARGS]
#   onpolicy_round START TAG...            roll out each runs/bench/TAG (20 episodes per MT10 task from seed START,
#                                          250 steps at most, failures kept), every state it reaches labelled by the
#                                          scripted expert (queue_lib's collect_onpolicy): data/mt10_64_onpolicy_TAG
#   compare_seeds500 OUT LABELS GROUP...   session 31's compare500 with GROUPs of training seeds (session 30's
#                                          compare_seeds over 500 episodes each): benchmarks/results/mt10/OUT.png
#   PART [ARGS]                            any part of queue_session31.sh (and through it sessions 30 to 24)
# The session ran, one job at a time: onpolicy_round 4000 of session 31's two on-policy tags; mt10_on
# xvla_fast_clean_dart_film_regression_grid4_ctx_pegw_onpol2_i xvla_fast_grid_ctx_pegw_mt10 on the demos and both
# rounds' four rollout roots, bc_eq_on bc_tiny_clean_dart_onpol2_eqsamples_i of it; fresh of both; compare500 and
# compare300 of the two rounds' four runs; then training seed 1 of the same pair (mt10_on_seed ..._onpol2_seed1_i 1,
# bc_eq_on bc_tiny_clean_dart_onpol2_eqsamples_seed1_i) and fresh of both (BENCHMARKS.md session 32)
set -u
source benchmarks/queue_lib.sh
export STUDY=study32
Q31=benchmarks/queue_session31.sh
part=${1:-}
if [ "$part" = onpolicy_round ]; then
    for tag in "${@:3}"; do collect_onpolicy "$2" "$tag"; done
elif [ "$part" = compare_seeds500 ]; then
    bash $Q31 compare500 "${@:2}"  # the same pairing: a GROUP of comma-separated tags pools training seeds
elif [ "$part" = after ]; then
    wait_for "$2"; bash "$0" "${@:3}"
else
    bash $Q31 "$@"
fi
