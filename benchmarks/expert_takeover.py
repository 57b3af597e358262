"""Can the scripted expert (or another policy) finish from where a policy leaves it? Policy for K steps, then it.

    MUJOCO_GL=egl python benchmarks/expert_takeover.py runs/bench/RUN_A runs/bench/RUN_B \
        --task peg-insert-side-v3 --takeover 0,60,120,200 --out benchmarks/results/takeover/peg
    MUJOCO_GL=egl python benchmarks/expert_takeover.py runs/bench/XVLA --taker runs/bench/BC \
        --task pick-place-v3 --takeover 0,50,100,500 --out benchmarks/results/takeover/pick_xvla_then_bc

DAgger labels a policy's states with the expert's actions; the labels only help where the expert, from those states,
would still succeed. Session 21 found a DAgger round on X-VLA's own peg-insert rollouts (2,500 labelled frames of its
hovering beside the box) left its peg-insert at 10%. This asks whether the expert itself recovers from the states the
policy reaches: per checkpoint and seed (from 10,000, the protocol's), the policy acts for K steps (its own sampler,
seeded per step), then the expert acts until success or step ``--max-steps``. K = 0 is the expert alone. Also
recorded at the hand-over: the hand-object and object-goal distances (privileged state, for the reading only).
Writes ``takeover.json`` and ``takeover.png`` (success against K, one line per checkpoint) under ``--out``.

``--taker CHECKPOINT`` hands over to that policy instead of the expert (session 26): where one policy fails and
another succeeds in closed loop, it asks whether the states the first reaches by step K are ones the second still
finishes from (the first's later actions are what fail) or not (it has already gone astray by K). K at
``--max-steps`` or more is the first policy alone, K = 0 the taker alone.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from fit_gap import checkpoint_dir  # the same directory: benchmarks/

from vlaforge.core.atomic import write_json
from vlaforge.core.machine import describe_machine


def _policy_action(policy, step, task: str, sim, t: int) -> np.ndarray:
    """The policy's action for this step (its own sampler, seeded per step, as the evaluation's episodes are)."""
    import torch

    from vlaforge.sim.evaluate import policy_obs

    return policy.select_action(policy_obs(step, task, sim), generator=torch.Generator().manual_seed(t))[0].numpy()


def takeover_episode(policy, env, expert, sim, task: str, seed: int, k: int, max_steps: int, taker=None) -> dict:
    """One episode: the policy's actions for steps < ``k``, the expert's (or ``taker``'s, a policy started afresh at
    the hand-over) from ``k``; success and where things were at the hand-over (hand-object, object-goal distances in
    m; Meta-World's state: hand 0:3, object 4:7, goal -3:)."""
    step = env.reset(seed)
    policy.reset()
    expert.reset(env, step)
    at_k: dict[str, float] = {}
    success_step = None
    for t in range(max_steps):
        if t == k:
            p = np.asarray(step.privileged, np.float64)
            at_k = {"hand_obj": float(np.linalg.norm(p[:3] - p[4:7])),
                    "obj_goal": float(np.linalg.norm(p[4:7] - p[-3:]))}
            if taker is not None:
                taker.reset()  # no chunk queued from before the hand-over
        if t < k:
            action = _policy_action(policy, step, task, sim, t)
        elif taker is not None:
            action = _policy_action(taker, step, task, sim, t)
        else:
            action = expert.act(step)
        step = env.step(sim.embodiment.clip_action(action))
        if step.success:
            success_step = t
            break
    return {"seed": seed, "k": k, "success": success_step is not None, "success_step": success_step,
            "policy_succeeded_first": success_step is not None and success_step < k, **at_k}


def run(ckpt: Path, name: str, task: str, seeds: list[int], takeovers: list[int], max_steps: int,
        taker_ckpt: Path | None = None) -> list[dict]:
    from vlaforge.core.checkpoint import load_policy
    from vlaforge.sim.simulator import get_simulator

    sim = get_simulator("metaworld")
    policy = load_policy(ckpt).eval()
    taker = None if taker_ckpt is None else load_policy(taker_ckpt).eval()
    if taker is not None and (tuple(taker.config.image_size), tuple(taker.config.cameras)) != (
            tuple(policy.config.image_size), tuple(policy.config.cameras)):
        raise SystemExit(f"error: --taker {taker_ckpt} sees {taker.config.cameras} at {taker.config.image_size}, "
                         f"{ckpt} {policy.config.cameras} at {policy.config.image_size}; both must see the same "
                         "cameras at the same size (one environment renders for both)")
    env = sim.make_env(task, tuple(policy.config.image_size), policy.config.cameras, max_steps)
    expert = sim.expert(task)
    rows = []
    try:
        for k in takeovers:
            for seed in seeds:
                rows.append(takeover_episode(policy, env, expert, sim, task, seed, k, max_steps, taker))
            ok = [r for r in rows if r["k"] == k]
            print(f"  {name} K={k}: {np.mean([r['success'] for r in ok]):.0%} success", flush=True)
    finally:
        env.close()
    return rows


def summarise(rows: list[dict]) -> dict:
    """Success over one K's episodes, how many the policy finished before the hand-over, and the mean distances at
    the hand-over of those it did not (an episode the policy finished has no hand-over state)."""
    handed = [r for r in rows if "hand_obj" in r]
    mean = (lambda key: round(float(np.mean([r[key] for r in handed])), 4) if handed else None)
    return {"success": float(np.mean([r["success"] for r in rows])),
            "policy_succeeded_first": int(sum(r["policy_succeeded_first"] for r in rows)),
            "hand_obj_at_k": mean("hand_obj"), "obj_goal_at_k": mean("obj_goal")}


def run_name(path: str) -> str:
    """A run's name from its checkpoint directory (``runs/bench/TAG/checkpoints/step_N`` -> TAG), else the last part."""
    p = Path(path)
    return p.parent.parent.name if p.parent.name == "checkpoints" else p.name


def plot(summary: dict[str, dict[str, dict]], path: Path, task: str, taker: str = "expert") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for name, per_k in summary.items():
        ax.plot([int(k) for k in per_k], [100 * v["success"] for v in per_k.values()], marker="o", label=name)
    ax.set_xlabel(f"policy steps before the {'expert' if taker == 'expert' else 'taker'} takes over (K)")
    ax.set_ylabel("success (%)")
    ax.set_ylim(-5, 105)
    ax.set_title(f"{task}: {taker[:40]} takes over", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", help="run directories (runs/bench/TAG) or checkpoint directories")
    ap.add_argument("--task", default="peg-insert-side-v3")
    ap.add_argument("--takeover", default="0,60,120,200", help="comma-separated K: policy steps before the expert")
    ap.add_argument("--seed-start", type=int, default=10000)
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--max-steps", type=int, default=500)
    ap.add_argument("--taker", default=None, help="a run or checkpoint that takes over instead of the expert")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--replot", action="store_true", help="only redraw --out/takeover.png from its takeover.json")
    a = ap.parse_args(argv)
    if a.replot:
        saved = json.loads((a.out / "takeover.json").read_text())
        plot(saved["summary"], a.out / "takeover.png", saved["meta"]["task"], run_name(saved["meta"].get("taker",
                                                                                                 "expert")))
        return 0
    if not a.runs:
        ap.error("give at least one run directory (or --replot)")
    try:
        takeovers = [int(k) for k in a.takeover.split(",")]
    except ValueError:
        ap.error(f"--takeover {a.takeover!r}: give comma-separated step counts, e.g. --takeover 0,50,120")
    seeds = list(range(a.seed_start, a.seed_start + a.episodes))
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    taker = None if a.taker is None else checkpoint_dir(a.taker)
    results = {Path(r).name: run(checkpoint_dir(r), Path(r).name, a.task, seeds, takeovers, a.max_steps, taker)
               for r in a.runs}
    summary = {name: {str(k): summarise([r for r in rows if r["k"] == k]) for k in takeovers}
               for name, rows in results.items()}
    args = " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
    meta = {"command": f"python benchmarks/expert_takeover.py {args}",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": describe_machine(),
            "seconds": round(time.time() - t0, 1), "task": a.task, "seeds": seeds,
            "taker": "expert" if a.taker is None else str(taker)}  # the checkpoint directory
    write_json(a.out / "takeover.json", {"meta": meta, "summary": summary, "episodes": results})  # atomic
    plot(summary, a.out / "takeover.png", a.task, "expert" if a.taker is None else run_name(str(taker)))
    print(f"\n{'run':60s} " + " ".join(f"K={k:>4d}" for k in takeovers))
    for name, s in summary.items():
        print(f"{name:60s} " + " ".join(f"{100 * s[str(k)]['success']:5.0f}%" for k in takeovers))
    print(f"-> {a.out}/takeover.{{json,png}} ({meta['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
