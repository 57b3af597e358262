#!/usr/bin/env bash
# Session 26 (2026-12-06, a new checkout on machine I: 2-core Intel Xeon, family 6 model 207, AVX-512 without BF16,
# no AMX, so precision=auto trains in fp32): issue 15. Run from the repository root, from a snapshot of src/
# (PYTHONPATH), one job at a time:  bash benchmarks/queue_session26.sh PART [ARGS]
#   onpolicy_data XTAG BTAG             roll out runs/bench/XTAG and runs/bench/BTAG (20 episodes per MT10 task from
#                                       seed 3,000, 250 steps at most, failures kept), every state they reach
#                                       labelled by the scripted expert: data/mt10_64_onpolicy_TAG
#   onpolicy_fit OUT XTAG BTAG          fit_gap.py of both checkpoints on both rollout sets (each policy on its own
#                                       states and on the other's): benchmarks/results/fit_gap/session26_OUT.json
#   demo_steps OUT XTAG BTAG            fit_gap.py of both on the held-out clean and DART demos (seeds 5,000+, never
#                                       trained on), by episode step: benchmarks/results/fit_gap/session26_OUT.json
#   handover XTAG BTAG TASK...          per task, 10 protocol seeds: X's first K steps then B's, K = 0 (B alone), 50,
#                                       100, 150, 500 (X alone), and B's first K then X's, K = 50, 100, 150
#                                       (expert_takeover.py --taker): benchmarks/results/takeover/session26_TASK_*
#   handover_more XTAG BTAG TASK...     handover's decisive cells on 20 more seeds (10,010+): X then B at K = 0, 50,
#                                       500, B then X at K = 50: benchmarks/results/takeover/session26_TASK_*_more
#   handover_k K XTAG BTAG TASK...      both hand-overs at step K alone on all 30 seeds (10,000+):
#                                       benchmarks/results/takeover/session26_TASK_*_kK
#   PART [ARGS]                         any part of queue_session24.sh (data, mt10, bc_eq_of, fit_gap45, ...)
# The session ran, one job at a time: data; mt10 xvla_fast_clean_dart_film_regression_i xvla_fast_film_mt10
# --policy.objective=regression; bc_eq_of bc_tiny_clean_dart_eqsamples_i xvla_fast_clean_dart_film_regression_i;
# onpolicy_data and onpolicy_fit onpolicy of those two tags; handover of them on reach, push, pick-place, peg-insert;
# onpolicy_fit onpolicy again (fit_gap.py's new progress measure); demo_steps heldout_steps of the two tags;
# handover_more of them on push and peg-insert; handover_k 75 of them on push and peg-insert
set -u
source benchmarks/queue_lib.sh
export STUDY=study26
Q24=benchmarks/queue_session24.sh
part=${1:-}
onpolicy_root() { echo "data/mt10_64_onpolicy_$1"; }
# expert_takeover.py: runs/bench/FROM's first K steps, then runs/bench/TAKER's, into
# benchmarks/results/takeover/session26_OUT (FLAGS: --takeover, --seed-start, --episodes)
takeover() {  # FROM TAKER TASK OUT FLAGS...
    local from=$1 taker=$2 task=$3 out=$4; shift 4
    run $PY benchmarks/expert_takeover.py "runs/bench/$from" --taker "runs/bench/$taker" --task "$task" "$@" \
        --out "benchmarks/results/takeover/session26_$out"
}
if [ "$part" = onpolicy_data ]; then
    for tag in "${@:2}"; do collect_onpolicy 3000 "$tag"; done
elif [ "$part" = onpolicy_fit ]; then
    out=$2 x=$3 b=$4
    # "train" in the JSON is X's rollouts, "heldout" B's: neither checkpoint trained on either
    run $PY benchmarks/fit_gap.py "runs/bench/$x" "runs/bench/$b" --data "$(onpolicy_root "$x")" \
        --heldout "$(onpolicy_root "$b")" --frames 3000 --reliance \
        --out "benchmarks/results/fit_gap/session26_$out.json"
elif [ "$part" = demo_steps ]; then
    out=$2 x=$3 b=$4
    # "train" in the JSON is the held-out clean demos, "heldout" the held-out DART demos
    run $PY benchmarks/fit_gap.py "runs/bench/$x" "runs/bench/$b" --data data/mt10_64_heldout \
        --heldout data/mt10_64_dart_heldout --frames 3000 --out "benchmarks/results/fit_gap/session26_$out.json"
elif [ "$part" = handover ]; then
    for task in "${@:4}"; do
        takeover "$2" "$3" "$task" "${task}_xvla_then_bc" --takeover 0,50,100,150,500
        takeover "$3" "$2" "$task" "${task}_bc_then_xvla" --takeover 50,100,150
    done
elif [ "$part" = handover_more ]; then
    for task in "${@:4}"; do
        takeover "$2" "$3" "$task" "${task}_xvla_then_bc_more" --takeover 0,50,500 --seed-start 10010 --episodes 20
        takeover "$3" "$2" "$task" "${task}_bc_then_xvla_more" --takeover 50 --seed-start 10010 --episodes 20
    done
elif [ "$part" = handover_k ]; then
    k=$2
    for task in "${@:5}"; do
        takeover "$3" "$4" "$task" "${task}_xvla_then_bc_k$k" --takeover "$k" --episodes 30
        takeover "$4" "$3" "$task" "${task}_bc_then_xvla_k$k" --takeover "$k" --episodes 30
    done
elif [ "$part" = after ]; then
    wait_for "$2"; bash "$0" "${@:3}"
else
    bash $Q24 "$@"
fi
