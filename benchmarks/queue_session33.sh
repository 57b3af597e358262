#!/usr/bin/env bash
# Session 33 (2026-12-07, machine I again: 2-core Intel Xeon, family 6 model 207, AVX-512 without BF16, no AMX, so
# precision=auto trains in fp32): issue 15, the last two checks of X-VLA against BC. Run from the repository root, from
# a snapshot of src/ (PYTHONPATH), one job at a time:  bash benchmarks/queue_session33.sh PART [ARGS]
#   PART [ARGS]    any part of queue_session32.sh (and through it sessions 31 to 24), with every argument spelled D2
#                  replaced by session 32's six dataset roots, read from the recipe xvla_fast_grid_ctx_pegw_onpol2_mt10
#                  (the clean and DART demos and both rounds' rollouts)
# The session ran, one job at a time (the chain in /tmp spelled each through queue_session32.sh with the roots written
# out): mt10_on_seed xvla_fast_clean_dart_film_regression_grid4_ctx_pegw_onpol2_seed2_i 2 xvla_fast_grid_ctx_pegw_mt10
# D2; bc_eq_on bc_tiny_clean_dart_onpol2_eqsamples_seed2_i of it on D2; fresh of both; compare500 of the pair and
# compare_seeds500 of training seeds 0-2; then BC given the protocol's 45 minutes, mt10_on
# bc_tiny_clean_dart_onpol2_45min_i bc_tiny_mt10 D2, and fresh of it (BENCHMARKS.md session 33)
set -u
source benchmarks/queue_lib.sh
d2_roots() {
    $PY -c "from vlaforge.train.recipes import get_recipe as g
print(','.join(g('xvla_fast_grid_ctx_pegw_onpol2_mt10')().data.roots))"
}
args=()
for a in "$@"; do
    if [ "$a" = D2 ]; then args+=("$(d2_roots)"); else args+=("$a"); fi
done
bash benchmarks/queue_session32.sh "${args[@]}"
