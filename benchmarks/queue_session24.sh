#!/usr/bin/env bash
# Session 24 (2026-12-06, a new checkout on machine H: 2-core AMD EPYC, family 26 model 2, AVX-512 BF16, no AMX):
# issue 15. One training job at a time; run from the repository root, from a snapshot of src/ (PYTHONPATH) so edits
# cannot reach a running job:  bash benchmarks/queue_session24.sh PART [ARGS]
#   data                                the clean and DART demos and the held-out demos (seeds 5000+)
#   fit STEPS NAME RECIPE [FLAGS...]    train NAME for STEPS steps of batch 32 on clean + DART (runs/$STUDY/NAME)
#   fit_gap OUT NAME...                 fit_gap.py over those runs on the DART demos and held-out DART demos
#   fit_gap0 OUT NAME...                the same with the flow sampler's deterministic start (init_noise_scale=0)
#   eval_study NAME...                  the protocol's 100 episodes for runs/$STUDY/NAME (no videos)
#   fit_gap45 OUT TAG...                fit_gap over runs/bench/TAG (45-minute runs; fit_gap0's sampler for X-VLA)
#   mt10 TAG RECIPE [FLAGS...]          the MT10 protocol (45 minutes + evaluation) on clean + DART, then wide_eval
#   bc_eq TAG STEPS                     BC at STEPS x 32 on clean + DART (an X-VLA run's sample count), then wide_eval
#   bc_eq_of TAG XTAG                   the same at the step count of runs/bench/XTAG
set -u
source benchmarks/queue_lib.sh
part=${1:-}
shift || true
DATA=data/mt10_64,data/mt10_64_dart
STUDY=${STUDY:-study24}  # the study parts' folder under runs/ and benchmarks/results/ (session 25: study25)
if [ "$part" = data ]; then
    collect_clean_data
    collect_dart_data
    collect_heldout_data
fi
if [ "$part" = fit ]; then
    # equal steps, no evaluation: how closely each network fits the expert's chunks per sample (fit_gap below)
    steps=$1 name=$2 recipe=$3; shift 3
    run $VF train --recipe "$recipe" --steps "$steps" --data.roots data/mt10_64 data/mt10_64_dart \
        --data.batch-size 32 --out-dir "runs/$STUDY/$name" --save-every 100000 "$@"
fi
# fit_gap.py on the DART demos and held-out DART demos (the expert's labels at perturbed states: where the clean-demo
# fits of session 17 parted) over DIR/NAME..., into benchmarks/results/fit_gap/${STUDY}_OUT.json; SAMPLER 0: X-VLA's
# flow sampler from its deterministic start (init_noise_scale=0), so its error has no sampler spread
dart_fit_gap() {  # OUT DIR SAMPLER NAME...
    local out=$1 dir=$2 sampler=$3 flags=(); shift 3
    [ "$sampler" = 0 ] && flags=(--set init_noise_scale=0)
    run $PY benchmarks/fit_gap.py "${@/#/$dir/}" --data data/mt10_64_dart --heldout data/mt10_64_dart_heldout \
        --frames 640 --reliance "${flags[@]}" --out "benchmarks/results/fit_gap/${STUDY}_$out.json"
}
[ "$part" = fit_gap ] && dart_fit_gap "$1" runs/$STUDY noise "${@:2}"
[ "$part" = fit_gap0 ] && dart_fit_gap "$1" runs/$STUDY 0 "${@:2}"
if [ "$part" = fit_gap45 ]; then  # the 45-minute runs: X-VLA's with the deterministic start, as fit_gap0
    sampler=noise; [[ "$2" == xvla* ]] && sampler=0
    dart_fit_gap "$1" runs/bench "$sampler" "${@:2}"
fi
if [ "$part" = eval_study ]; then
    # does the closer fit at equal steps show up in closed loop? the protocol's seeds, 10 per task
    for name in "$@"; do
        run $VF eval --policy "runs/$STUDY/$name/checkpoints/last" --suite mt10 --episodes-per-task 10 \
            --seed-start 10000 --max-steps 500 --videos-per-task 0 --dataset data/mt10_64_dart \
            --out "benchmarks/results/$STUDY/$name"
    done
fi
if [ "$part" = mt10 ]; then
    tag=$1 recipe=$2; shift 2
    run $PY benchmarks/bench_mt10.py --recipe "$recipe" --tag "$tag" --data $DATA "${@/#/--override=}" \
        --note "$recipe on clean + DART demos${*:+: $*}"
    wide_eval "$tag"
fi
if [ "$part" = bc_eq ]; then
    tag=$1 steps=$2
    run $PY benchmarks/bench_mt10.py --recipe bc_tiny_mt10 --tag "$tag" --data $DATA --steps "$steps" \
        --override=--data.batch-size=32 --note "BC reference, clean + DART demos, ${steps} x 32 samples"
    wide_eval "$tag"
fi
if [ "$part" = bc_eq_of ]; then
    steps=$(steps_of "$2")
    bash "$0" bc_eq "$1" "$steps"
fi
if [ "$part" = after ]; then
    # wait for a running job (PID) to finish, then run the rest: after PID PART [ARGS]
    wait_for "$1"; shift
    bash "$0" "$@"
fi
