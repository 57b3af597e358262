"""Does a multi-task policy read the instruction on MT10's look-alike tasks? Swap it and see.

    python benchmarks/instruction_swap.py --checkpoints runs/bench/xvla_tiny4_lr1e3/checkpoints/last \
        runs/study_3task/xvla_tiny4_lr1e3/checkpoints/last runs/study_3task/bc/checkpoints/last \
        --out benchmarks/results/instruction_swap

Reach, push and pick-place share one scene (an object and a goal on the table); only the instruction
says which to do. Along the scripted expert's own trajectory of each task (teacher forced: the expert acts),
every ``n_action_steps`` env steps the policy predicts a chunk under each of the three instructions. Per
(true task, given instruction) we report the mean |policy - expert| over the executed part of the chunk.
A policy that reads the instruction has its smallest gap on the diagonal; one that ignores it has a flat
row. Writes results.json and swap.png (one heat map per checkpoint).
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vlaforge.core.machine import describe_machine

sys.path.insert(0, str(Path(__file__).parent))  # study_push's action gap

TASKS = ("reach-v3", "push-v3", "pick-place-v3")


@dataclass
class Args:
    checkpoints: tuple[str, ...]
    out: str = "benchmarks/results/instruction_swap"
    seeds: int = 3
    """Expert episodes per task, from seed 10,000 (the protocol's evaluation seeds, never trained on)."""
    steps: int = 120
    """Env steps of each expert episode to probe (most of a push / pick-place episode)."""
    threads: int = 2
    push_gap: bool = False
    """Also run study_push's action gap on push (3 episodes from seed 10,000): teacher forced vs closed loop."""


def expert_rollout(sim, env, task: str, seed: int, steps: int):
    """The expert's own observations and actions (teacher-forced states)."""
    from vlaforge.sim.evaluate import policy_obs

    expert = sim.expert(task)
    step = env.reset(seed)
    expert.reset(env, step)
    obs, acts = [], []
    for _ in range(steps):
        a = expert.act(step)
        obs.append(policy_obs(step, task, sim))
        acts.append(np.asarray(a, np.float32))
        step = env.step(a)
    return obs, np.stack(acts)


def swap_matrix(policy, sim, rollouts: dict) -> np.ndarray:
    """(true task, given instruction) -> mean |chunk[:n_exec] - expert actions| along the expert's states."""
    import torch

    from vlaforge.core.keys import TASK

    n_exec = policy.config.n_action_steps
    gaps = np.zeros((len(TASKS), len(TASKS)))
    counts = np.zeros_like(gaps)
    for i, task in enumerate(TASKS):
        for obs, acts in rollouts[task]:
            policy.reset()
            for t, o in enumerate(obs):
                stacked = policy._history.push(o)  # the observation history the policy would have
                if t % n_exec or t + n_exec > len(acts):
                    continue
                for j, given in enumerate(TASKS):
                    batch = dict(stacked)
                    batch[TASK] = [sim.instruction(given)]
                    chunk = policy.predict_action_chunk(batch, generator=torch.Generator().manual_seed(t))[0]
                    gaps[i, j] += float(np.abs(chunk[:n_exec].numpy() - acts[t:t + n_exec]).mean())
                    counts[i, j] += 1
    return gaps / np.maximum(counts, 1)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.4), squeeze=False)
    short = [t.replace("-v3", "") for t in TASKS]
    for ax, name in zip(axes[0], names):
        m = np.asarray(results[name]["gap"])
        ax.imshow(m, cmap="viridis")
        for i in range(len(TASKS)):
            for j in range(len(TASKS)):
                ax.text(j, i, f"{m[i, j]:.3f}", ha="center", va="center", color="w", fontsize=8)
        ax.set_xticks(range(len(TASKS)), short, fontsize=7)
        ax.set_yticks(range(len(TASKS)), short, fontsize=7)
        ax.set_xlabel("instruction given")
        ax.set_ylabel("true task (expert's states)")
        ax.set_title(name, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    import torch
    import tyro

    from vlaforge.core.checkpoint import load_policy
    from vlaforge.sim.simulator import get_simulator

    a = tyro.cli(Args, args=argv)
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    sim = get_simulator("metaworld")
    results, rollouts_by_view = {}, {}
    for ckpt in a.checkpoints:
        policy = load_policy(ckpt).eval()
        view = (tuple(policy.config.image_size), tuple(policy.config.cameras))
        if view not in rollouts_by_view:  # the expert's episodes, rendered once per camera setup
            rollouts_by_view[view] = {}
            for task in TASKS:
                env = sim.make_env(task, view[0], view[1], 500)
                try:
                    rollouts_by_view[view][task] = [expert_rollout(sim, env, task, 10_000 + s, a.steps)
                                                    for s in range(a.seeds)]
                finally:
                    env.close()
        t0 = time.perf_counter()
        m = swap_matrix(policy, sim, rollouts_by_view[view])
        run = Path(ckpt).parent.parent  # runs/<group>/<name>/checkpoints/<step>
        name = f"{run.parent.name}/{run.name}"
        diag = float(np.mean(np.diag(m)))
        off = float((m.sum() - np.trace(m)) / (m.size - len(TASKS)))
        results[name] = {"checkpoint": ckpt, "family": policy.config.family, "gap": m.tolist(),
                         "diagonal_mean": diag, "off_diagonal_mean": off,
                         "seconds": round(time.perf_counter() - t0, 1)}
        if a.push_gap:  # where along its own trajectory the policy parts from the expert
            from study_push import action_gap

            g = action_gap(Path(ckpt), "push-v3", [10_000, 10_001, 10_002])
            results[name]["push_gap_first40"] = {mode: float(np.mean([np.mean(e["gap"][:40]) for e in eps]))
                                                 for mode, eps in g.items()}
            results[name]["push_min_hand_puck"] = {mode: [float(min(e["hand_puck"])) for e in eps]
                                                   for mode, eps in g.items()}
            results[name]["push_gap"] = g  # per-step traces: where the two part
        print(f"{name}: diagonal {diag:.3f} off-diagonal {off:.3f}\n{np.round(m, 3)}", flush=True)
    meta = {"command": "python benchmarks/instruction_swap.py " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:])),
            "date": time.strftime("%Y-%m-%d %H:%M"), "tasks": TASKS, "seeds_from": 10_000, "episodes_per_task": a.seeds,
            "steps": a.steps, "machine": describe_machine()}
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    plot(results, out / "swap.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
