#!/usr/bin/env bash
# Session 25 (2026-12-06, a new checkout on a machine like H: 2-core AMD EPYC, family 26 model 2, AVX-512 BF16):
# issue 15. Session 24's parts (benchmarks/queue_session24.sh) with the study runs in runs/study25 and their results in
# benchmarks/results/study25; run from the repository root, from a snapshot of src/ (PYTHONPATH):
#   bash benchmarks/queue_session25.sh PART [ARGS]
#   study                               the equal-step study of the regression objective (3,000 x 32, clean + DART):
#                                       regression + proprio dropout 0.5 and regression + stem_grid 4, their closed
#                                       loop (eval_study) and their fit on held-out DART demos (fit_gap0)
#   PART [ARGS]                         any part of queue_session24.sh (data, fit, fit_gap0, eval_study, mt10, ...)
# The session ran, one job at a time: data; study; mt10 xvla_fast_clean_dart_film_regression_h xvla_fast_film_mt10
# --policy.objective=regression; mt10 xvla_fast_clean_dart_film_regression_pdrop_h xvla_fast_film_mt10
# --policy.objective=regression --policy.proprio-dropout=0.5; fit_gap45 regression45 (both regression runs' tags)
set -u
export STUDY=study25
Q24=benchmarks/queue_session24.sh
part=${1:-}
if [ "$part" = study ]; then
    REG=(--policy.objective=regression)
    bash $Q24 fit 3000 xvla_reg_pdrop xvla_fast_film_mt10 "${REG[@]}" --policy.proprio-dropout=0.5
    bash $Q24 fit 3000 xvla_reg_grid4 xvla_fast_film_mt10 "${REG[@]}" --policy.stem-grid=4
    bash $Q24 eval_study xvla_reg_pdrop xvla_reg_grid4
    bash $Q24 fit_gap0 regression_variants xvla_reg_pdrop xvla_reg_grid4
else
    bash $Q24 "$@"
fi
