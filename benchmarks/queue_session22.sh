#!/usr/bin/env bash
# Session 22 (2026-12-05, machine G, a 2-core Xeon with AMX-BF16): issue 15, why X-VLA does not follow the peg-insert
# hover labels it trains on. Session 21 left the X-VLA recipe on six datasets at 89.0 / 93.0% (training seeds 1 / 2),
# BC on the same data at 97.0 / 95.0%. One training job at a time; run from the repository root, from a snapshot of
# src/ (PYTHONPATH) so edits cannot reach a running job:
#     bash benchmarks/queue_session22.sh PART [ARGS]
set -u
source benchmarks/queue_lib.sh
part=${1:-}
DATA=$SIX_DATA   # session 21's six datasets; X3, B3 and sfx: queue_lib.sh
PEG="insert the peg into the hole from the side"
if [ "$part" = hover ]; then
    # teacher-forced: each six-dataset checkpoint's chunk against the expert's label on the 2,500 peg-insert frames
    # where session 20's seed-1 X-VLA hovered (data/mt10_64_dagger_seed1, a dataset all three trained on), with what
    # the chunk reads (--reliance); then X-VLA seed 1 with its deterministic sampler (the conditional mean)
    run $PY benchmarks/fit_gap.py runs/bench/${X3}_seed1 runs/bench/${X3}_seed2 runs/bench/$B3 \
        --data data/mt10_64_dagger_seed1 --tasks "$PEG" --frames 640 --reliance \
        --out benchmarks/results/fit_gap/hover_seed1.json
    run $PY benchmarks/fit_gap.py runs/bench/${X3}_seed1 --data data/mt10_64_dagger_seed1 --tasks "$PEG" \
        --frames 640 --set init_noise_scale=0 --out benchmarks/results/fit_gap/hover_seed1_noise0.json
fi
if [ "$part" = hover_control ]; then
    # the same three on peg-insert frames of the DART demos (trained on too) and of the held-out DART demos
    run $PY benchmarks/fit_gap.py runs/bench/${X3}_seed1 runs/bench/${X3}_seed2 runs/bench/$B3 \
        --data data/mt10_64_dart --heldout data/mt10_64_dart_heldout --tasks "$PEG" --frames 640 \
        --out benchmarks/results/fit_gap/hover_control_dart.json
    # and the proprio-dropout run (pdrop 0.5 1) on the hover frames, as the hover part measured the others
    run $PY benchmarks/fit_gap.py runs/bench/${X3}_pdrop0.5_seed1 --data data/mt10_64_dagger_seed1 --tasks "$PEG" \
        --frames 640 --reliance --out benchmarks/results/fit_gap/hover_seed1_pdrop.json
fi
if [ "$part" = pdrop ]; then  # P SEED: the six-dataset X-VLA recipe with proprio_dropout P, training seed SEED
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_dagger_mt10 --tag ${X3}_pdrop${2}$(sfx $3) \
        --data $DATA --override=--policy.objective=flow --override=--policy.proprio-dropout=$2 --seed "$3" \
        --note "session 21's six-dataset X-VLA (flow) with proprio_dropout $2, training seed $3"
fi
if [ "$part" = hover_pegw ]; then  # the peg-weighted seed-1 run (taskw 3 1) on the hover frames, as hover measured
    run $PY benchmarks/fit_gap.py runs/bench/${X3}_pegw3_seed1 --data data/mt10_64_dagger_seed1 --tasks "$PEG" \
        --frames 640 --reliance --out benchmarks/results/fit_gap/hover_seed1_pegw3.json
fi
if [ "$part" = taskw ]; then  # W SEED: the six-dataset X-VLA recipe with peg-insert's samples drawn W times as often
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_dagger_mt10 --tag ${X3}_pegw${2}$(sfx $3) \
        --data $DATA --override=--policy.objective=flow --override=--data.task-weights \
        --override=peg-insert-side-v3=$2 --seed "$3" \
        --note "session 21's six-dataset X-VLA (flow) with peg-insert's samples drawn $2x as often, training seed $3"
fi
if [ "$part" = gctx ]; then  # SEED: the six-dataset X-VLA recipe with BC's read-out added to every action token
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_dagger_mt10 --tag ${X3}_gctx$(sfx $2) \
        --data $DATA --override=--policy.objective=flow --override=--policy.global-context --seed "$2" \
        --note "session 21's six-dataset X-VLA (flow) with global_context (BC's flattened read-out), training seed $2"
fi
if [ "$part" = bc_taskw ]; then  # W SEED REF: BC on the six datasets, peg-insert drawn W x as often, REF's samples
    steps=$(steps_of "$4")
    run $PY benchmarks/bench_mt10.py --recipe bc_tiny_mt10 --tag ${B3}_pegw${2}$(sfx $3) --data $DATA \
        --steps "$steps" --override=--data.batch-size=32 --override=--data.task-weights \
        --override=peg-insert-side-v3=$2 --seed "$3" \
        --note "BC on the six datasets, peg-insert drawn $2x as often, at $4's samples ($steps x 32), training seed $3"
fi
if [ "$part" = after ]; then  # PID PART [ARGS]: PART once the job PID (an earlier queue) has finished
    wait_for "$2"; shift 2; bash "$0" "$@"
fi
