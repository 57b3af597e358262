"""Why do the VLA recipes lose to plain BC on push? One change at a time, at equal steps, push only.

    python benchmarks/study_push.py                    # every variant below (train + eval + action gap)
    python benchmarks/study_push.py --variants bc xvla_tiny --steps 300 --episodes 4   # smoke test
    python benchmarks/study_push.py --task reach-v3,push-v3,pick-place-v3 --steps 2400 --episodes 10 \
        --out benchmarks/results/study_3task --runs runs/study_3task \
        --variants bc xvla_tiny4_lr1e3 xvla_tiny4_lr1e3_instruction   # the three look-alike tasks together

Each variant trains ``--steps`` optimizer steps of batch 32 on the push-v3 demos of data/mt10_64,
then is evaluated on ``--episodes`` held-out episodes per task (seeds 10,000+). ``--task`` takes a comma
list: trained on those tasks together, evaluated on each (MT10's reach / push / pick-place look alike,
which a single-task study cannot probe); the action gap is measured on push when push is among them. The action-gap
diagnostic compares the policy's action with the scripted expert's at the same state, (a) along
the expert's own trajectory (teacher-forced states) and (b) along the policy's (closed loop), and
records the hand-to-puck distance over time, to find where the two part.
Writes benchmarks/results/study_push/results.json and gap.png.
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

VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    # name: (recipe, overrides); each xvla_* changes one thing against xvla_tiny
    "bc": ("bc_tiny_mt10", ()),
    "xvla_tiny": ("xvla_tiny_mt10", ()),
    "xvla_regression_l1": ("xvla_tiny_mt10", ("--policy.objective", "regression")),
    "xvla_gripper_regression": ("xvla_tiny_mt10", ("--policy.gripper-loss", "regression")),
    "xvla_lr1e-3": ("xvla_tiny_mt10", ("--optim.lr", "1e-3")),
    "xvla_64_tokens_per_view": ("xvla_tiny_mt10", ("--policy.stem-channels", "32", "64", "128")),
    "xvla_quantile_norm": ("xvla_tiny_mt10", ("--policy.norm-mode", "quantile")),
    "xvla_4_tokens_per_view": ("xvla_tiny_mt10", ("--policy.stem-channels", "32", "64", "128", "256", "256")),
    "xvla_effnet_frozen": ("xvla_effnet_frozen_mt10", ()),
    "xvla_effnet_frozen_stride32": ("xvla_effnet_frozen_mt10", ("--policy.image-encoder.stride", "32")),
    # two changes together, after each was measured alone
    "xvla_regression_lr1e-3": ("xvla_tiny_mt10", ("--policy.objective", "regression", "--optim.lr", "1e-3")),
    # against xvla_tiny4_lr1e3 (the session-7 MT10 recipe: 4 tokens per view, lr 1e-3)
    "xvla_tiny4_lr1e3": ("xvla_tiny4_lr1e3_mt10", ()),
    "xvla_tiny4_lr1e3_instruction": ("xvla_tiny4_lr1e3_mt10", ("--policy.instruction-to-actions",)),
}


@dataclass
class Args:
    variants: tuple[str, ...] = tuple(VARIANTS)
    steps: int = 2000
    batch_size: int = 32
    episodes: int = 20
    gap_episodes: int = 3
    data: str = "data/mt10_64"
    task: str = "push-v3"
    out: str = "benchmarks/results/study_push"
    runs: str = "runs/study_push"
    threads: int = 2
    reuse: bool = True


def train_variant(a: Args, name: str):
    from vlaforge.cli.train import parse_stage
    from vlaforge.train.trainer import last_checkpoint, train

    recipe, overrides = VARIANTS[name]
    out = Path(a.runs) / name
    if a.reuse and (out / "train_summary.json").is_file():
        return last_checkpoint(out), json.loads((out / "train_summary.json").read_text())
    cfg = parse_stage(recipe, list(overrides))
    cfg.data.roots, cfg.data.tasks, cfg.data.batch_size = (a.data,), tuple(a.task.split(",")), a.batch_size
    cfg.steps, cfg.time_budget_minutes, cfg.out_dir, cfg.num_threads = a.steps, None, str(out), a.threads
    cfg.optim.warmup_steps = min(cfg.optim.warmup_steps, a.steps // 10)
    cfg.ema_decay, cfg.save_every = None, a.steps
    r = train(cfg)
    return r.checkpoint, r.summary


def action_gap(ckpt: Path, task: str, seeds: list[int], clip_expert: bool = False) -> dict:
    """Per step: |policy action - expert action| (mean over dims) and hand-puck distance, teacher-forced
    along the expert's trajectory and in closed loop. ``clip_expert``: compare with the expert's action clipped to
    the action bounds, as the demonstrations record it (the scripted experts' raw actions can exceed them; this
    study's session-7/8 figures compared with the raw ones)."""
    import torch

    from vlaforge.core.checkpoint import load_policy
    from vlaforge.sim.evaluate import policy_obs
    from vlaforge.sim.simulator import get_simulator

    sim = get_simulator("metaworld")
    policy = load_policy(ckpt).eval()
    env = sim.make_env(task, tuple(policy.config.image_size), policy.config.cameras, 500)
    expert = sim.expert(task)
    out: dict[str, list] = {"teacher_forced": [], "closed_loop": []}
    try:
        for mode in out:
            for seed in seeds:
                step = env.reset(seed)
                policy.reset()
                expert.reset(env, step)
                gaps, dist, success = [], [], False
                for t in range(200):
                    a_pol = policy.select_action(policy_obs(step, task, sim),
                                                 generator=torch.Generator().manual_seed(t))[0].numpy()
                    a_exp = expert.act(step)
                    if clip_expert:
                        a_exp = sim.embodiment.clip_action(a_exp)
                    gaps.append(float(np.abs(a_pol - a_exp).mean()))
                    dist.append(float(np.linalg.norm(step.privileged[:3] - step.privileged[4:7])))
                    step = env.step(a_exp if mode == "teacher_forced" else a_pol)
                    success |= step.success
                    if success and mode == "closed_loop":
                        break
                out[mode].append({"seed": seed, "gap": gaps, "hand_puck": dist, "success": bool(success)})
    finally:
        env.close()
    return out


def plot_gap(gaps: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(gaps), figsize=(3.2 * len(gaps), 5), squeeze=False, sharey="row")
    for j, (name, g) in enumerate(gaps.items()):
        for mode, color in (("teacher_forced", "tab:green"), ("closed_loop", "tab:red")):
            for k, ep in enumerate(g[mode]):
                lab = mode.replace("_", " ") if k == 0 else None
                axes[0][j].plot(ep["gap"], color=color, alpha=0.6, lw=1, label=lab)
                axes[1][j].plot(ep["hand_puck"], color=color, alpha=0.6, lw=1)
        axes[0][j].set_title(name, fontsize=8)
        axes[1][j].set_xlabel("env step")
    axes[0][0].set_ylabel("|policy - expert| action")
    axes[1][0].set_ylabel("hand-puck distance (m)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    import tyro

    from vlaforge.sim.evaluate import run_eval
    from vlaforge.sim.sources import CheckpointSource

    a = tyro.cli(Args, args=argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    res_path = out / "results.json"
    res = json.loads(res_path.read_text()) if (a.reuse and res_path.is_file()) else {"variants": {}}
    gaps = {}
    for name in a.variants:
        if a.reuse and name in res["variants"] and "gap" in res["variants"][name]:
            continue
        t0 = time.perf_counter()
        ckpt, summary = train_variant(a, name)
        ev = run_eval(CheckpointSource(str(ckpt)), a.task, a.episodes, workers=2, out_dir=out / name,
                      videos_per_task=1, progress=False)
        gaps[name] = action_gap(ckpt, "push-v3", list(range(10_000, 10_000 + a.gap_episodes)))
        summarize = lambda m: float(np.mean([np.mean(e["gap"][:40]) for e in gaps[name][m]]))  # noqa: E731
        res["variants"][name] = {
            "recipe": VARIANTS[name][0], "overrides": list(VARIANTS[name][1]), "success": ev["mean_success"],
            "success_per_task": {t: r["success_rate"] for t, r in ev.get("per_task", {}).items()},
            "steps": summary["steps"], "train_minutes": round(summary["train_seconds"] / 60, 2),
            "samples_per_s": summary["samples_per_s"], "final_loss": summary["final_loss"],
            "gap_first40_teacher_forced": summarize("teacher_forced"), "gap_first40_closed_loop": summarize("closed_loop"),
            "min_hand_puck_closed_loop": [float(min(e["hand_puck"])) for e in gaps[name]["closed_loop"]],
            "min_hand_puck_teacher_forced": [float(min(e["hand_puck"])) for e in gaps[name]["teacher_forced"]],
            "gap": gaps[name], "minutes": round((time.perf_counter() - t0) / 60, 2)}
        res["meta"] = {"command": "python benchmarks/study_push.py " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:])),
                       "date": time.strftime("%Y-%m-%d %H:%M"), "task": a.task, "steps": a.steps,
                       "batch_size": a.batch_size, "episodes": a.episodes,
                       "machine": describe_machine()}
        res_path.write_text(json.dumps(res, indent=1))
        v = res["variants"][name]
        print(f"{name:<28} success {100 * v['success']:5.1f}% {v['success_per_task']}  steps {v['steps']}  {v['train_minutes']:.1f} min  "
              f"gap tf {v['gap_first40_teacher_forced']:.3f} cl {v['gap_first40_closed_loop']:.3f}  "
              f"min hand-puck cl {np.round(v['min_hand_puck_closed_loop'], 3).tolist()}", flush=True)
    all_gaps = {n: v["gap"] for n, v in res["variants"].items()}
    plot_gap(all_gaps, out / "gap.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
