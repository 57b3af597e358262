"""Is each policy as right on the states its own actions reach as on the expert's? The action gap, on-policy.

    MUJOCO_GL=egl python benchmarks/onpolicy_gap.py runs/bench/bc_tiny_clean_dart_eqsamples_27462x32 \
        runs/bench/xvla_fast_clean_dart_film_regression --tasks peg-insert-side-v3,push-v3 --episodes 10 \
        --out benchmarks/results/fit_gap/onpolicy

Session 17 found X-VLA as close to the expert as BC on the expert's own path (``codec_gap.py``) and 10 points below
it in closed loop. This runs ``study_push.action_gap`` for any task: per step, |policy action - scripted expert's
action at the same state, clipped to the action bounds as the demos record it| (mean over action dims, raw units), first with the expert's actions executed (teacher-forced), then
with the policy's (closed loop), on seeds from 10,000; and summarises the mean gap of each mode, split in closed
loop by whether the episode succeeded, plus a chart per task (``study_push.plot_gap``: gap and hand-object distance
over time).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from fit_gap import checkpoint_dir  # the same directory: benchmarks/
from study_push import action_gap, plot_gap

from vlaforge.core.machine import describe_machine


def summarise(gap: dict) -> dict:
    """Mean per-step gaps: teacher-forced, closed loop, closed loop of the failed and of the successful episodes."""
    def mean(eps: list[dict]) -> float | None:
        steps = [g for ep in eps for g in ep["gap"]]
        return round(float(np.mean(steps)), 4) if steps else None

    closed = gap["closed_loop"]
    return {"teacher_forced": mean(gap["teacher_forced"]), "closed_loop": mean(closed),
            "closed_loop_failed": mean([e for e in closed if not e["success"]]),
            "closed_loop_succeeded": mean([e for e in closed if e["success"]]),
            "success": round(float(np.mean([e["success"] for e in closed])), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="run directories (with checkpoints/last) or checkpoint directories")
    ap.add_argument("--tasks", default="peg-insert-side-v3,push-v3")
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="a directory for results.json and one gap_TASK.png per task")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    paths = {Path(r).name: checkpoint_dir(r) for r in a.runs}
    seeds = list(range(10_000, 10_000 + a.episodes))
    results: dict[str, dict] = {}
    for task in a.tasks.split(","):
        gaps = {}
        for name, path in paths.items():
            t0 = time.perf_counter()
            gaps[name] = action_gap(path, task, seeds, clip_expert=True)
            s = results.setdefault(task, {})[name] = summarise(gaps[name])
            print(f"{task:22s} {name:44s} gap teacher-forced {s['teacher_forced']:.4f}  closed loop "
                  f"{s['closed_loop']:.4f} (failed {s['closed_loop_failed']}, succeeded {s['closed_loop_succeeded']})"
                  f"  success {s['success']:.0%}  ({time.perf_counter() - t0:.0f} s)", flush=True)
        if a.out:
            Path(a.out).mkdir(parents=True, exist_ok=True)
            plot_gap(gaps, Path(a.out) / f"gap_{task}.png")
    if a.out:
        from vlaforge.core.atomic import write_json

        args = sys.argv[1:] if argv is None else argv
        write_json(Path(a.out) / "results.json", {
            "command": "python benchmarks/onpolicy_gap.py " + " ".join(shlex.quote(x) for x in args),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": describe_machine(a.threads),
            "seeds": seeds, "results": results})
        print(f"wrote {a.out}/results.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
