"""Is each policy as right on the states its own actions reach as on the expert's? The action gap, on-policy.

    MUJOCO_GL=egl python benchmarks/onpolicy_gap.py runs/bench/bc_tiny_clean_dart_eqsamples_27462x32 \
        runs/bench/xvla_fast_clean_dart_film_regression --tasks peg-insert-side-v3,push-v3 --episodes 10 \
        --out benchmarks/results/fit_gap/onpolicy

Session 17 found X-VLA as close to the expert as BC on the expert's own path (``codec_gap.py``) and 10 points below
it in closed loop. This runs ``study_push.action_gap`` for any task: per step, |policy action - scripted expert's
action at the same state, clipped to the action bounds as the demos record it| (mean over action dims, raw units), first with the expert's actions executed (teacher-forced), then
with the policy's (closed loop), on seeds from 10,000; and summarises the mean gap of each mode, split in closed
loop by whether the episode succeeded and by phase (before the hand first comes within 4 cm of the object, and
after: the grasp and carry), plus a chart per task (``study_push.plot_gap``: gap and hand-object distance
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


NEAR_M = 0.04
"""Hand-object distance that ends the approach phase (the experts grasp the peg at ~2 cm)."""


def split_at_contact(ep: dict, near: float = NEAR_M) -> tuple[list[float], list[float]]:
    """An episode's per-step gaps before the hand first comes within ``near`` of the object, and from then on
    (the grasp and carry phases); all of them before when it never does."""
    close = [i for i, d in enumerate(ep["hand_puck"]) if d < near]
    k = close[0] if close else len(ep["gap"])
    return ep["gap"][:k], ep["gap"][k:]


def summarise(gap: dict) -> dict:
    """Mean per-step gaps: teacher-forced, closed loop, closed loop of the failed and of the successful episodes;
    with the hand-object distance recorded, also each mode's gap before and after the hand first reaches the object
    and the share of closed-loop episodes in which it does."""
    def mean(steps: list[float]) -> float | None:
        return round(float(np.mean(steps)), 4) if steps else None

    def pooled(eps: list[dict]) -> float | None:
        return mean([g for ep in eps for g in ep["gap"]])

    closed = gap["closed_loop"]
    out = {"teacher_forced": pooled(gap["teacher_forced"]), "closed_loop": pooled(closed),
           "closed_loop_failed": pooled([e for e in closed if not e["success"]]),
           "closed_loop_succeeded": pooled([e for e in closed if e["success"]]),
           "success": round(float(np.mean([e["success"] for e in closed])), 3)}
    if all("hand_puck" in ep for mode in ("teacher_forced", "closed_loop") for ep in gap[mode]):
        for mode in ("teacher_forced", "closed_loop"):
            parts = [split_at_contact(ep) for ep in gap[mode]]
            out[f"{mode}_approach"] = mean([g for before, _ in parts for g in before])
            out[f"{mode}_after_contact"] = mean([g for _, after in parts for g in after])
        out["closed_loop_reached"] = round(float(np.mean([min(e["hand_puck"]) < NEAR_M for e in closed])), 3)
    return out


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
                  f"  success {s['success']:.0%}; approach / after contact: teacher-forced {s['teacher_forced_approach']}"
                  f" / {s['teacher_forced_after_contact']}, closed loop {s['closed_loop_approach']} / "
                  f"{s['closed_loop_after_contact']} (reached {s['closed_loop_reached']:.0%})"
                  f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
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
