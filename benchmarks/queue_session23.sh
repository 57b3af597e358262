#!/usr/bin/env bash
# Session 23 (2026-12-05, machine G, a 2-core Xeon with AMX-BF16): issue 15, where BC still leads the peg-weighted
# X-VLA (push, reach). Session 22 left X-VLA with peg-insert drawn 3x as often at 95.0 / 95.0% (training seeds 1 / 2),
# BC at 97.0 / 95.0% unweighted. One training job at a time; run from the repository root, from a snapshot of src/
# (PYTHONPATH) so edits cannot reach a running job:
#     bash benchmarks/queue_session23.sh PART [ARGS]
set -u
source benchmarks/queue_lib.sh
part=${1:-}
DATA=$SIX_DATA   # session 21's six datasets; X3, B3, sfx and instruction_of: queue_lib.sh
if [ "$part" = gap ]; then  # TASK_ENV: teacher-forced fit of peg-weighted X-VLA (seeds 1, 2) and BC (seeds 0, 1)
    # on the task's frames of both on-policy DAgger datasets (seeds 1 and 2; all four trained on them), as session
    # 22's hover part measured peg-insert
    inst=$(instruction_of "$2")
    for d in 1 2; do
        run $PY benchmarks/fit_gap.py runs/bench/${X3}_pegw3_seed1 runs/bench/${X3}_pegw3_seed2 runs/bench/$B3 \
            runs/bench/${B3}_seed1 --data data/mt10_64_dagger_seed$d --tasks "$inst" --frames 640 --reliance \
            --out benchmarks/results/fit_gap/gap_${2}_dagger_seed$d.json
    done
fi
if [ "$part" = gap_runs ]; then  # TASK_ENV SUFFIX...: the same fit on DAgger seed 1's frames for X3_SUFFIX runs
    inst=$(instruction_of "$2")
    task=$2; shift 2; runs=(); for s in "$@"; do runs+=(runs/bench/${X3}_$s); done
    run $PY benchmarks/fit_gap.py "${runs[@]}" --data data/mt10_64_dagger_seed1 --tasks "$inst" --frames 640 \
        --reliance --out benchmarks/results/fit_gap/gap_${task}_dagger_seed1_runs.json
fi
if [ "$part" = wide ]; then  # TAG...: session 15's wider evaluation (200 episodes from seed 20,000) of each run
    for t in "${@:2}"; do wide_eval "$t"; done
fi
if [ "$part" = taskw ]; then  # NAME SEED W1 [W2 ...]: the six-dataset X-VLA recipe with task weights 'ENV=W'
    name=$2; seed=$3; shift 3; ov=(--override=--data.task-weights); for w in "$@"; do ov+=(--override=$w); done
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_dagger_mt10 --tag ${X3}_${name}$(sfx $seed) \
        --data $DATA --override=--policy.objective=flow "${ov[@]}" --seed "$seed" \
        --note "session 21's six-dataset X-VLA (flow) with task weights $*, training seed $seed"
fi
if [ "$part" = kp ]; then  # K SEED: the registered peg-weighted recipe with K spatial-softmax keypoints per view
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_dagger_mt10 --tag ${X3}_pegw3_kp${2}$(sfx $3) \
        --data $DATA --override=--policy.objective=flow --override=--data.task-weights \
        --override=peg-insert-side-v3=3 --override=--policy.stem-keypoints=$2 --seed "$3" \
        --note "session 22's peg-weighted six-dataset X-VLA (flow) with $2 stem keypoints per view, training seed $3"
fi
if [ "$part" = bc_taskw ]; then  # NAME SEED REF W1 [W2 ...]: BC on the six datasets with task weights, REF's samples
    name=$2; seed=$3; ref=$4; shift 4; ov=(--override=--data.task-weights); for w in "$@"; do ov+=(--override=$w); done
    steps=$(steps_of "$ref")
    run $PY benchmarks/bench_mt10.py --recipe bc_tiny_mt10 --tag ${B3}_${name}$(sfx $seed) --data $DATA \
        --steps "$steps" --override=--data.batch-size=32 "${ov[@]}" --seed "$seed" \
        --note "BC on the six datasets with task weights $*, at $ref's samples ($steps x 32), training seed $seed"
fi
if [ "$part" = after ]; then  # PID PART [ARGS]: PART once the job PID (an earlier queue) has finished
    wait_for "$2"; shift 2; bash "$0" "$@"
fi
