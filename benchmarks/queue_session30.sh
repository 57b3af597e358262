#!/usr/bin/env bash
# Session 30 (2026-12-06, machine I again: 2-core Intel Xeon, family 6 model 207, AVX-512 without BF16, no AMX, so
# precision=auto trains in fp32): issue 15, training seeds. Run from the repository root, from a snapshot of src/
# (PYTHONPATH), one job at a time:  bash benchmarks/queue_session30.sh PART [ARGS]
#   bc_eq_seed TAG REF SEED [FLAGS...]     the BC reference under the MT10 protocol on clean + DART demos at
#                                          runs/bench/REF's step count x 32, training seed SEED (bench_mt10.py
#                                          --seed), with any extra `vlaforge train` FLAGS, then the wider evaluation
#   compare_seeds OUT LABELS GROUP...      compare_evals.py over training seeds: each GROUP is comma-separated tags,
#                                          one recipe's training seeds (replicate i paired with replicate i of the
#                                          first GROUP), each tag's 300 episodes (protocol + wide) pooled;
#                                          LABELS comma-separated, one per GROUP: benchmarks/results/mt10/OUT.png
#   PART [ARGS]                            any part of queue_session29.sh (and through it sessions 28, 27, 26, 24)
# The session ran, one job at a time: mt10_seed xvla_fast_clean_dart_film_regression_grid4_ctx_pegw_seed1_i 1
# xvla_fast_grid_ctx_pegw_mt10; bc_eq_seed bc_tiny_clean_dart_eqsamples_pegwseed1_i (that run) 1; the same two with
# seed 2 (_seed2_i, _pegwseed2_i); compare_seeds of the three seeds of each against session 29's seed-0 pair;
# grasp_probe push_seed1_i 20 push-v3 and feature_probe push_seed1_i 30 push-v3 of the seed-1 pair; feature_probe
# carry_seeds01_i 30 push-v3,pick-place-v3 of the seed-0 and seed-1 pairs (BENCHMARKS.md session 30)
set -u
source benchmarks/queue_lib.sh
export STUDY=study30
Q29=benchmarks/queue_session29.sh
DATA=data/mt10_64,data/mt10_64_dart
part=${1:-}
if [ "$part" = bc_eq_seed ]; then
    tag=$2 steps=$(steps_of "$3") seed=$4; shift 4
    run $PY benchmarks/bench_mt10.py --recipe bc_tiny_mt10 --tag "$tag" --data $DATA --steps "$steps" --seed "$seed" \
        --override=--data.batch-size=32 "${@/#/--override=}" \
        --note "BC reference, clean + DART demos, ${steps} x 32 samples, training seed ${seed}${*:+: $*}"
    wide_eval "$tag"
elif [ "$part" = compare_seeds ]; then
    compare_groups "$2" "$3" "mt10 mt10_wide" "${@:4}"
elif [ "$part" = after ]; then
    wait_for "$2"; bash "$0" "${@:3}"
else
    bash $Q29 "$@"
fi
