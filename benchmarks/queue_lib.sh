# Shared by the benchmark queues (benchmarks/queue_session*.sh): source it from the repository root.
# Gives PY and VF (the venv's python and vlaforge), log and run (timestamped job lines, one job at a
# time), NOVIDEO (the flags for demos only: empty action-free tuples), wait_for PID (a job started
# before the queue finishes first), collect_mt10_data, collect_clean_data, collect_dart_data and
# collect_heldout_data (datasets, skipped when present), collect_onpolicy (a checkpoint's rollouts labelled by the
# expert), wide_eval and steps_eval (session 15's wider evaluation and Euler-step re-evaluation of a run), fresh_eval
# (session 20's fresh episodes) and extra_eval under both, steps_of TAG and seed_of TAG (a run's trained steps and
# training seed, to train another at the same samples and seed), compare_groups (training seeds side by side).
export MUJOCO_GL=egl
PY=.venv/bin/python
VF=.venv/bin/vlaforge
log() { echo "[queue] $(date +%H:%M:%S) $*"; }
run() { log "start: $*"; "$@"; log "done ($?): $*"; }
NOVIDEO=(--data.action-free-roots --data.action-free-weights)
wait_for() { while kill -0 "$1" 2>/dev/null; do sleep 5; done; }
steps_of() {  # TAG: the optimizer steps runs/bench/TAG trained for
    $PY -c "import json; print(json.load(open('runs/bench/$1/train_summary.json'))['steps'])"
}
seed_of() {  # TAG: the training seed of runs/bench/TAG (0 where the summary predates the field)
    $PY -c "import json; print(json.load(open('runs/bench/$1/train_summary.json')).get('seed', 0))"
}

# the protocol's MT10 demos (session 3), skipped when present
collect_clean_data() {
    [ -f data/mt10_64/meta/info.json ] || run $VF collect metaworld --tasks mt10 --episodes-per-task 50 \
        --image-size 64 --cameras corner2,gripperPOV --out data/mt10_64 --workers 2
}
# the DART demos (sessions 9 and 12), skipped when present: the protocol's seeds 0.. and cameras; noise 0.3 of full
# speed, held 8 steps (one executed chunk); the expert's clean action is the label, the noisy one is executed
# (src/vlaforge/sim/collect.py)
collect_dart_data() {
    [ -f data/mt10_64_dart/meta/info.json ] || run $VF collect metaworld --tasks mt10 --episodes-per-task 50 \
        --image-size 64 --cameras corner2,gripperPOV --out data/mt10_64_dart --workers 2 \
        --action-noise 0.3 --noise-hold 8
}

# held-out clean and DART demos (seeds 5000+, 3 per task; sessions 17 and 24), for benchmarks/fit_gap.py
collect_heldout_data() {
    [ -f data/mt10_64_heldout/meta/info.json ] || run $VF collect metaworld --tasks mt10 --episodes-per-task 3 \
        --image-size 64 --cameras corner2,gripperPOV --seed-start 5000 --out data/mt10_64_heldout --workers 2
    [ -f data/mt10_64_dart_heldout/meta/info.json ] || run $VF collect metaworld --tasks mt10 --episodes-per-task 3 \
        --image-size 64 --cameras corner2,gripperPOV --seed-start 5000 --out data/mt10_64_dart_heldout --workers 2 \
        --action-noise 0.3 --noise-hold 8
}

# on-policy states (sessions 26 and 32): runs/bench/TAG drives 20 episodes per MT10 task from seed START, 250 steps at
# most, failures kept, the scripted expert labels every state it reaches: data/mt10_64_onpolicy_TAG, skipped when
# present
collect_onpolicy() {  # START TAG
    local root="data/mt10_64_onpolicy_$2"
    [ -f "$root/meta/info.json" ] || run $VF collect metaworld --tasks mt10 --episodes-per-task 20 --image-size 64 \
        --cameras corner2,gripperPOV --seed-start "$1" --max-steps 250 --actor "runs/bench/$2/checkpoints/last" \
        --out "$root" --workers 2
}

# the protocol's MT10 demos, held-out episodes (seeds 5000+) and MT40 action-free video
collect_mt10_data() {
    collect_clean_data
    collect_heldout_data
    [ -f data/mt40_video_64/meta/info.json ] || run $VF collect metaworld --tasks mt40 --episodes-per-task 10 \
        --no-actions --out data/mt40_video_64 --workers 2
}

# the wider, off-protocol evaluation (session 15): 20 more episodes per task from seed 20,000, paired by (task, seed)
# with the protocol's in benchmarks/compare_evals.py; the checkpoint runs/bench/TAG, the results mt10_wide/TAG
wide_eval() {  # TAG [vlaforge eval flags...]
    extra_eval 20000 mt10_wide "$@"
}
# 20 episodes per task of runs/bench/TAG, no videos, from SEED_START, into benchmarks/results/DIR/TAG
extra_eval() {  # SEED_START DIR TAG [vlaforge eval flags...]
    local start=$1 dir=$2 tag=$3; shift 3
    run $VF eval --policy "runs/bench/$tag/checkpoints/last" --suite mt10 --episodes-per-task 20 --seed-start "$start" \
        --videos-per-task 0 --dataset data/mt10_64_dart --out "benchmarks/results/$dir/$tag" "$@"
}

# a trained X-VLA run's checkpoint evaluated with N Euler steps instead of 10, nothing retrained: the protocol's
# episodes (bench_mt10.py --skip-train, under the tag TAG_stepsN, whose run directory links to TAG's), then with
# "wide" also the 200 wider ones ("wide_only": those alone)
steps_eval() {  # TAG RECIPE N [wide | wide_only]
    local tag=$1 recipe=$2 n=$3
    ln -sfn "$tag" "runs/bench/${tag}_steps$n"
    if [ "${4:-}" != wide_only ]; then
        run $PY benchmarks/bench_mt10.py --recipe "$recipe" --tag "${tag}_steps$n" \
            --data data/mt10_64,data/mt10_64_dart --override=--policy.instruction-film --skip-train \
            --set num_inference_steps=$n --note "the $tag checkpoint evaluated with $n Euler step(s) instead of 10"
    fi
    if [ -n "${4:-}" ]; then
        wide_eval "${tag}_steps$n" --set num_inference_steps=$n
    fi
}

# fresh episodes (session 20): 20 more per task from seed 30,000, which no training set and no earlier evaluation
# used, for checkpoints whose settings were picked on the protocol's and the wider episodes; the results
# mt10_fresh/TAG
fresh_eval() {  # TAG [vlaforge eval flags...]
    extra_eval 30000 mt10_fresh "$@"
}

# session 21's six datasets (clean, DART, three DAgger rounds, the weak seeds' round) and the tags of the runs on them
# (sessions 22-23); sfx SEED: training seed 0 keeps the bare tag, as in sessions 20-23; instruction_of TASK: a
# Meta-World task's instruction (push or push-v3 -> 'push the puck to the goal')
SIX_DATA=data/mt10_64,data/mt10_64_dart,data/mt10_64_dagger1,data/mt10_64_dagger_flow
SIX_DATA=$SIX_DATA,data/mt10_64_dagger_seed1,data/mt10_64_dagger_seed2
X3=xvla_fast_clean_dart_dagger1_flowdagger_seedsdagger_film_flow
B3=bc_tiny_clean_dart_dagger1_flowdagger_seedsdagger_eqsamples
sfx() { [ "$1" = 0 ] && echo "" || echo "_seed$1"; }
instruction_of() {
    $PY -c "from vlaforge.sim.tasks import instruction, canonical_task as c; print(instruction(c('$1')))"
}

# compare_evals.py over training seeds: each GROUP is comma-separated tags, one recipe's training seeds (replicate i
# paired with replicate i of the first GROUP), each tag's episodes in the result directories DIRS (space-separated,
# e.g. "mt10 mt10_wide") pooled; LABELS comma-separated, one per GROUP: benchmarks/results/mt10/OUT.png
compare_groups() {  # OUT LABELS DIRS GROUP...
    local out=$1 labels=$2 dirs=$3 group tag dir
    local evals=() reps pooled
    for group in "${@:4}"; do
        reps=()
        for tag in ${group//,/ }; do
            pooled=()
            for dir in $dirs; do pooled+=("benchmarks/results/$dir/$tag"); done
            reps+=("$(IFS=+; echo "${pooled[*]}")")
        done
        evals+=("$(IFS=@; echo "${reps[*]}")")
    done
    run $PY benchmarks/compare_evals.py "${evals[@]}" --labels "$labels" --out "benchmarks/results/mt10/$out.png"
}
