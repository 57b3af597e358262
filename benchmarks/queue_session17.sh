#!/usr/bin/env bash
# Session 17 (2026-12-05, machine G, a 2-core Xeon with AMX-BF16): issue 15. One training job at a time;
# run from the repository root, from a snapshot of src/ (PYTHONPATH) so edits cannot reach a running job:
#   bash benchmarks/queue_session17.sh PART
set -u
source benchmarks/queue_lib.sh
part=${1:-}
DATA=data/mt10_64,data/mt10_64_dart
if [ "$part" = screen ]; then
    # Session 16: at equal samples BC (91.0%) beats the X-VLA with its network (regression, 75.0%), and the X-VLA
    # fits its training data worse (L1 position 0.23 at the end, BC's L1 on every dim 0.16). Which one change lets
    # xvla_fast_film_mt10 fit faster? 3,000 steps x 32 each (the same seed, data and cosine schedule), compared on
    # the flow loss of the position dims at equal steps (benchmarks/compare_losses.py); the winner gets the 45 minutes.
    screen() {  # NAME [train overrides...]
        local name=$1; shift
        run $VF train --recipe xvla_fast_film_mt10 --steps 3000 --save-every 3000 --out-dir "runs/screen17/$name" "$@"
    }
    # Stopped by its PIDs during the second run (05:28 UTC): fit_gap.py and codec_gap.py showed the X-VLA already
    # reproduces the demonstrated chunks as closely as BC, so the training loss was not the thing to compare.
    screen base
    screen tok16 --policy.stem-channels 16 32 64 128          # 16 tokens per view (BC's 4x4 grid), not 2x2
    screen adam999 --optim.betas 0.9 0.999 --optim.weight-decay 1e-4   # BC's AdamW settings
    screen fp32 --precision fp32                              # BC trains in fp32
    screen globalctx --policy.global-context                  # BC's flat read-out added to every action token
    screen noclip --optim.grad-clip 0                         # X-VLA's gradient norm is above 1 at ~every step
fi
if [ "$part" = noproprio ]; then
    # The screen above was stopped after its first run: benchmarks/fit_gap.py and codec_gap.py showed the X-VLA fits
    # the demos (and held-out ones, and the raw rendered frames) as closely as BC, so fitting speed is not the gap.
    # What differs is what the chunk reads (fit_gap.py --reliance): X-VLA's follows the state, BC's the images. One
    # change against xvla_fast_film_mt10: no proprio, the chunk from the images and the instruction alone.
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_mt10 --tag xvla_fast_clean_dart_film_noproprio \
        --data $DATA --override=--policy.no-use-proprio \
        --note 'xvla_fast_film_mt10 without proprio (use_proprio False): the chunk from images and instruction alone'
    wide_eval xvla_fast_clean_dart_film_noproprio
fi
if [ "$part" = proprio_drop ]; then
    # the same question with the state kept at inference: half the training samples have theirs zeroed (not run in
    # session 17: no proprio at all did not help, so this milder form was not given the 45 minutes)
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_mt10 --tag xvla_fast_clean_dart_film_propdrop50 \
        --data $DATA --override=--policy.proprio-dropout=0.5 \
        --note 'xvla_fast_film_mt10 with proprio dropout 0.5 in training (the state zeroed for half the samples)'
    wide_eval xvla_fast_clean_dart_film_propdrop50
fi
if [ "$part" = tok16 ]; then
    # No proprio did not help (75.0%), so the state-following is not what costs X-VLA its closed loop. Next: what the
    # images give it. BC's CNN hands its MLP a 4x4 grid of 128 channels per view (2,048 numbers); X-VLA fast's fifth
    # stride-2 stage pools the same 64^2 view to a 2x2 grid (512 numbers), where the peg's or the puck's place must
    # survive in the channels. One change against xvla_fast_film_mt10: BC's four-stage stem, 16 tokens per view.
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_mt10 --tag xvla_fast_clean_dart_film_tok16 \
        --data $DATA --override=--policy.stem-channels --override=16 --override=32 --override=64 --override=128 \
        --note 'xvla_fast_film_mt10 with the four-stage stem (16..128 channels): 16 tokens per 64^2 view, not 4'
    wide_eval xvla_fast_clean_dart_film_tok16
fi
if [ "$part" = heldout ]; then
    # held-out demos for benchmarks/fit_gap.py and codec_gap.py: seeds 5,000+ (the demos train on 0+, the protocol
    # evaluates from 10,000), clean and DART, 3 episodes per task each
    collect_heldout_data
fi
if [ "$part" = probes ]; then
    # where X-VLA and BC part (BENCHMARKS.md session 17): the fit on demos and held-out demos, the chunk's reliance on
    # images vs state, the codec's gap on the renderer's frames, the gap on each policy's own states (needs the
    # checkpoints of session 16 and of the parts above, and the held-out demos of part heldout)
    R="runs/bench/bc_tiny_clean_dart_eqsamples_27462x32 runs/bench/bc_tiny_clean_dart runs/bench/xvla_fast_clean_dart_film_regression"
    R="$R runs/bench/xvla_fast_clean_dart_film_noproprio runs/bench/xvla_fast_clean_dart_film_tok16"
    run $PY benchmarks/fit_gap.py $R --data data/mt10_64 --heldout data/mt10_64_heldout --frames 1000 --threads 1 \
        --reliance --out benchmarks/results/fit_gap/clean.json
    run $PY benchmarks/fit_gap.py $R --data data/mt10_64_dart --heldout data/mt10_64_dart_heldout --frames 1000 \
        --threads 1 --out benchmarks/results/fit_gap/dart.json
    run $PY benchmarks/codec_gap.py runs/bench/bc_tiny_clean_dart_eqsamples_27462x32 \
        runs/bench/xvla_fast_clean_dart_film_regression --threads 1 --out benchmarks/results/fit_gap/codec_gap.json
    # on the policy's own states: the scripted expert labels every state each policy visits in closed loop
    run $PY benchmarks/onpolicy_gap.py runs/bench/bc_tiny_clean_dart_eqsamples_27462x32 \
        runs/bench/xvla_fast_clean_dart_film_regression runs/bench/xvla_fast_clean_dart_film_noproprio \
        --tasks peg-insert-side-v3,push-v3 --episodes 10 --out benchmarks/results/fit_gap/onpolicy
fi
if [ "$part" = replan4 ]; then
    # the carry-phase sawtooth (onpolicy_gap.py): the regression X-VLA's checkpoint evaluated with 4 of its 16 actions
    # executed per chunk instead of 8, nothing retrained (a chunk every 4 steps)
    ln -sfn xvla_fast_clean_dart_film_regression runs/bench/xvla_fast_clean_dart_film_regression_k4
    run $PY benchmarks/bench_mt10.py --recipe xvla_fast_film_mt10 --tag xvla_fast_clean_dart_film_regression_k4 \
        --data $DATA --override=--policy.objective=regression --skip-train --n-action-steps 4 \
        --note 'the xvla_fast_clean_dart_film_regression checkpoint, 4 actions executed per chunk instead of 8'
fi
