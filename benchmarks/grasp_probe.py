"""Where in the expert's own phases does a policy stall? Each policy's rollouts read through the expert's state machine.

    MUJOCO_GL=egl python benchmarks/grasp_probe.py runs/bench/XVLA runs/bench/BC \
        --tasks push-v3,pick-place-v3,peg-insert-side-v3 --episodes 30 --out benchmarks/results/grasp_probe/NAME

Session 26 (issue 15) found X-VLA's chunks as close to the expert's labels as BC's, frame by frame, yet its episodes
fail in steps 50-100, the grasp. Meta-World's scripted experts are switching controllers: a proportional move
(``p`` = 10 or 25) to a target chosen by thresholds on the privileged state: above the object until the hand is
within 2-4 cm of it in xy ("align"), down onto it ("descend"), then (gripper closed) to the goal ("carry"); pick-place
also waits in place for the fingers ("grasp"). A regression policy that locates the object a little off, or averages
the labels on both sides of a threshold, can settle just outside it and hover, where each frame's error stays small.

Per checkpoint, task and seed (from 10,000, the protocol's), the policy drives the episode alone (its own sampler,
seeded per step, as in ``expert_takeover.py``); at every step the expert's phase comes from the expert's own target
(``_desired_pos`` of Meta-World's policy on the privileged state), and its action labels the state. Recorded per
policy and task: success; the step each phase is first reached; steps spent hovering (align phase, hand within 5 cm
of the object in xy); the xy gain near the object (the policy's xy move along the expert's there, 1 = as far, the
closed loop's gain against the expert's); where the hand settles (the smallest xy distance reached while aligning);
whether the policy goes down when the expert does; premature gripper closing; in windows of steps since the carry
phase began, the xy gain and direction (cosine) against the expert's (the first 20 steps hold nearly every episode,
later windows only those still running); whether the first 20 steps of the carry follow where each seed's goal is
(per axis, the correlation across episodes of the policy's mean move with the expert's); and the episodes that go
back to aligning after the carry began (the object lost). Writes ``grasp_probe.json`` and ``grasp_probe.png`` (per
task: episodes past the grasp by step; the carry's direction against the expert's by steps since it began) under
``--out``; ``--resummarise`` recomputes both from the JSON. Session 27 found no hovering: both policies reach the
grasp together, and X-VLA's carry follows the goal less than BC's (BENCHMARKS.md). Session 31 added how the failed
episodes end (``failed_endings``): X-VLA's pick-place failures carry on past the goal, BC's stall short of it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from expert_takeover import _policy_action, run_name  # the same directory: benchmarks/
from fit_gap import checkpoint_dir

from vlaforge.core.atomic import atomic_path
from vlaforge.core.machine import describe_machine

ACTION_BOUND = 1.0
"""Meta-World clips every action to [-1, 1], the expert's too (its proportional moves ask for up to ~10): actions and
labels are compared as executed."""
NEAR_M = 0.05
"""Hand-object xy distance (m) under which an aligning hand counts as hovering near the object."""


def expert_phase(target: np.ndarray, hand: np.ndarray, obj: np.ndarray) -> str:
    """The expert's phase from the target its state machine chose: above the object ("align": the target is over it,
    more than 5 cm up), onto it ("descend"), the hand itself ("grasp": pick-place waits for its fingers), anything
    else ("carry": the goal, or a waypoint toward it)."""
    if np.allclose(target, hand, atol=1e-9):
        return "grasp"
    over = float(np.linalg.norm(target[:2] - obj[:2])) < 0.01
    if over:
        return "align" if target[2] - obj[2] > 0.05 else "descend"
    return "carry"


def target_fn(expert_policy):
    """The expert's target for a privileged state; a clear exit for experts without Meta-World's ``_desired_pos``."""
    desired, parse = getattr(expert_policy, "_desired_pos", None), getattr(expert_policy, "_parse_obs", None)
    if desired is None or parse is None:
        raise SystemExit(f"error: the expert {type(expert_policy).__name__} has no _desired_pos / _parse_obs; "
                         "grasp_probe reads Meta-World's scripted policies (push-v3, pick-place-v3, "
                         "peg-insert-side-v3 and the other pick / push tasks)")
    return lambda priv: np.asarray(desired(parse(priv)), np.float64)


def probe_episode(policy, env, expert, target, sim, task: str, seed: int, max_steps: int) -> dict:
    """One episode driven by the policy alone; per step the expert's phase, label and the hand-object geometry
    (actions and labels as the policy and the expert give them; ``executed`` clips them as the env does)."""
    step = env.reset(seed)
    policy.reset()
    rows: dict[str, list] = {"phase": [], "xy": [], "action": [], "label": []}
    success_step = None
    for t in range(max_steps):
        p = np.asarray(step.privileged, np.float64)
        hand, obj = p[:3], p[4:7]
        rows["phase"].append(expert_phase(target(p), hand, obj))
        rows["xy"].append(round(float(np.linalg.norm(hand[:2] - obj[:2])), 5))
        rows["label"].append(np.round(np.asarray(expert.act(step), np.float64), 4).tolist())
        action = _policy_action(policy, step, task, sim, t)
        rows["action"].append(np.round(np.asarray(action, np.float64), 4).tolist())
        step = env.step(sim.embodiment.clip_action(action))
        if step.success:
            success_step = t
            break
    return {"seed": seed, "success": success_step is not None, "success_step": success_step, **rows}


def executed(ep: dict, key: str) -> np.ndarray:
    """An episode's recorded actions or labels (``key``) as the env executes them: clipped to the action bounds."""
    return np.clip(np.array(ep[key], np.float64), -ACTION_BOUND, ACTION_BOUND)


def first_step(phases: list[str], names: tuple[str, ...]) -> int | None:
    """The first step whose phase is one of ``names`` (None: never)."""
    return next((t for t, ph in enumerate(phases) if ph in names), None)


def _gain(action: np.ndarray, label: np.ndarray) -> float | None:
    """How far the policy's xy moves go along the expert's: sum a . e / sum |e|^2 (1: as far, 0: nowhere along)."""
    den = float((label * label).sum())
    return None if den < 1e-12 else round(float((action * label).sum()) / den, 3)


def _cosines(action: np.ndarray, label: np.ndarray, min_norm: float = 0.1) -> list[float]:
    """Per step, the cosine between the policy's and the expert's xy moves (steps where the expert moves at least
    ``min_norm``): 1 the same direction, 0 at right angles."""
    n_a, n_e = np.linalg.norm(action, axis=1), np.linalg.norm(label, axis=1)
    keep = n_e >= min_norm
    return ((action[keep] * label[keep]).sum(1) / np.maximum(n_a[keep] * n_e[keep], 1e-9)).tolist()


CARRY_WINDOWS = ((0, 20), (20, 40), (40, 80))
"""Steps since the carry phase began: the same windows for every policy. The first holds nearly every episode; later
ones only the episodes still running (a policy's early successes have left them)."""


def carry_moves(episodes: list[dict], lo: int, hi: int, min_steps: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per episode whose carry began and that ran at least ``min_steps`` of steps ``lo`` to ``hi`` after it: the
    policy's and the expert's xy moves over those steps as executed, (n, 2) each (whatever phase it is in then: an
    object lost on the way is the policy's doing too)."""
    moves = []
    for ep in episodes:
        c = first_step(ep["phase"], ("carry",))
        if c is not None:
            a, e = executed(ep, "action")[c + lo:c + hi, :2], executed(ep, "label")[c + lo:c + hi, :2]
            if len(a) >= min_steps:
                moves.append((a, e))
    return moves


def carry_window(episodes: list[dict], lo: int, hi: int) -> tuple[float | None, float | None]:
    """The xy gain and mean cosine against the expert's over steps ``lo`` to ``hi`` after each carry began."""
    moves = carry_moves(episodes, lo, hi)
    if not moves:
        return None, None
    a, e = np.concatenate([m[0] for m in moves]), np.concatenate([m[1] for m in moves])
    cos = _cosines(a, e)
    return _gain(a, e), (round(float(np.mean(cos)), 3) if cos else None)


def goal_reading(episodes: list[dict], lo: int = 0, hi: int = 20) -> dict[str, float | None]:
    """Does the carry follow where this episode's goal is? Per episode the mean xy move over steps ``lo`` to ``hi``
    after the carry began (at least half of them run), the policy's and the expert's; per axis their correlation
    across episodes (the goal is drawn per seed, so the expert's mean move differs from episode to episode: 1, the
    policy's differs with it; 0, it carries the same way whatever the seed)."""
    moves = carry_moves(episodes, lo, hi, min_steps=(hi - lo) // 2)
    if len(moves) < 3:
        return {"x": None, "y": None}
    a, e = np.array([m[0].mean(0) for m in moves]), np.array([m[1].mean(0) for m in moves])
    r = [np.corrcoef(e[:, k], a[:, k])[0, 1] if e[:, k].std() > 1e-9 and a[:, k].std() > 1e-9 else np.nan
         for k in range(2)]
    return {axis: None if np.isnan(v) else round(float(v), 3) for axis, v in zip("xy", r)}


END_STEPS = 100
"""The last steps of a failed episode that ``failed_endings`` reads: where the policy is when the budget runs out."""


def stall_steps(ep: dict, asks: float = 0.5, pace: float = 0.25) -> np.ndarray:
    """Per step: the expert asks for an xy move of at least ``asks`` and the policy's goes less than ``pace`` of it."""
    a, e = executed(ep, "action")[:, :2], executed(ep, "label")[:, :2]
    n_e = np.linalg.norm(e, axis=1)
    return (n_e >= asks) & (np.linalg.norm(a, axis=1) < pace * n_e)


def failed_endings(episodes: list[dict], last: int = END_STEPS) -> dict:
    """How the failed episodes end (session 31): over each one's last ``last`` steps, the expert's phase there most
    often, the mean length of the policy's and the expert's xy moves (as executed), and the policy's xy gain and
    cosine against the expert's. A policy that stalls short of the goal moves far less than the expert asks (gain
    near 0); one pinned on a wrong course moves steadily against it (negative cosine). Also the mean number of carry
    steps per failed episode in which the policy stalls (``stall_steps``) while the expert still asks to move."""
    failed = [ep for ep in episodes if not ep["success"]]
    if not failed:
        return {"failed": 0}
    a = np.concatenate([executed(ep, "action")[-last:, :2] for ep in failed])
    e = np.concatenate([executed(ep, "label")[-last:, :2] for ep in failed])
    ends = Counter(Counter(ep["phase"][-last:]).most_common(1)[0][0] for ep in failed)
    cos = _cosines(a, e)
    stalled = [int(((np.array(ep["phase"]) == "carry") & stall_steps(ep)).sum()) for ep in failed]
    return {"failed": len(failed), "end_phase": dict(sorted(ends.items())),
            "stalled_carry_steps": round(float(np.mean(stalled)), 1),
            "policy_xy": round(float(np.linalg.norm(a, axis=1).mean()), 3),
            "expert_xy": round(float(np.linalg.norm(e, axis=1).mean()), 3),
            "gain_xy": _gain(a, e), "cos_xy": round(float(np.mean(cos)), 3) if cos else None}


def _median_step(steps: list[int | None]) -> int | None:
    """The median of the steps that happened (None: none did)."""
    seen = [x for x in steps if x is not None]
    return int(np.median(seen)) if seen else None


def summarise(episodes: list[dict]) -> dict:
    """Per policy and task: success, when the phases are reached, hovering, the xy gain near the object, where the
    hand settles, descending with the expert, premature closing, the carry's direction by window, objects lost
    after the carry began (means over episodes; step medians over those that reach the phase), and how the failed
    episodes end."""
    near_a, near_e, down, early_close, hover, settle = [], [], [], [], [], []
    first_descend, first_carry, drops = [], [], 0
    for ep in episodes:
        ph = np.array(ep["phase"])
        xy, a, e = np.array(ep["xy"]), executed(ep, "action"), executed(ep, "label")
        near = (ph == "align") & (xy < NEAR_M)
        near_a.append(a[near, :2])
        near_e.append(e[near, :2])
        hover.append(int(near.sum()))
        aligning = ph == "align"
        settle.append(float(xy[aligning].min()) if aligning.any() else float("nan"))
        desc = ph == "descend"
        down.extend((a[desc, 2] < 0).tolist())
        early_close.extend((a[aligning, 3] > 0).tolist() if a.shape[1] > 3 else [])
        first_descend.append(first_step(ep["phase"], ("descend", "grasp", "carry")))
        first_carry.append(first_step(ep["phase"], ("carry",)))
        c = first_carry[-1]
        drops += int(c is not None and bool((ph[c:] == "align").any()))
    carry = {f"{lo}-{hi}": carry_window(episodes, lo, hi) for lo, hi in CARRY_WINDOWS}
    return {
        "episodes": len(episodes), "success": float(np.mean([ep["success"] for ep in episodes])),
        "reached_descend": sum(x is not None for x in first_descend), "first_descend_step": _median_step(first_descend),
        "reached_carry": sum(x is not None for x in first_carry), "first_carry_step": _median_step(first_carry),
        "hover_steps": round(float(np.mean(hover)), 1),
        "near_gain_xy": _gain(np.concatenate(near_a), np.concatenate(near_e)) if near_a else None,
        "settled_xy_cm": round(100 * float(np.nanmedian(settle)), 2) if not np.all(np.isnan(settle)) else None,
        "carry_gain_xy": {w: g for w, (g, _) in carry.items()}, "carry_cos_xy": {w: c for w, (_, c) in carry.items()},
        "carry_goal_r": goal_reading(episodes), "lost_after_carry": drops,
        "down_when_expert_descends": round(float(np.mean(down)), 3) if down else None,
        "closes_while_aligning": round(float(np.mean(early_close)), 3) if early_close else None,
        f"failed_last{END_STEPS}": failed_endings(episodes),
    }


def run(ckpt: Path, task: str, seeds: list[int], max_steps: int) -> list[dict]:
    from vlaforge.core.checkpoint import load_policy
    from vlaforge.sim.simulator import get_simulator

    sim = get_simulator("metaworld")
    policy = load_policy(ckpt).eval()
    env = sim.make_env(task, tuple(policy.config.image_size), policy.config.cameras, max_steps)
    expert = sim.expert(task)
    target = target_fn(expert.policy)
    try:
        return [probe_episode(policy, env, expert, target, sim, task, s, max_steps) for s in seeds]
    finally:
        env.close()


def _reached(episodes: list[dict], max_steps: int) -> np.ndarray:
    """Fraction of episodes whose carry phase has begun by each step."""
    reached = np.zeros(max_steps)
    for ep in episodes:
        c = first_step(ep["phase"], ("carry",))
        if c is not None:
            reached[c:] += 1
    return reached / max(len(episodes), 1)


def plot(results: dict[str, dict[str, list[dict]]], path: Path, max_steps: int, horizon: int = 200,
         carry_steps: int = 80, bin_steps: int = 5) -> None:
    """Per task: episodes past the grasp by step (top); the cosine of the policy's xy move with the expert's, by
    steps since the carry began, in bins of ``bin_steps`` (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(next(iter(results.values())))
    fig, axes = plt.subplots(2, len(tasks), figsize=(3.6 * len(tasks), 5.2), squeeze=False)
    steps, bins = np.arange(min(horizon, max_steps)), np.arange(0, carry_steps, bin_steps)
    for name, per_task in results.items():
        for j, task in enumerate(tasks):
            axes[0, j].plot(steps, 100 * _reached(per_task[task], max_steps)[:len(steps)], label=name[:40])
            cos = [carry_window(per_task[task], lo, lo + bin_steps)[1] for lo in bins]
            axes[1, j].plot(bins + bin_steps / 2, [np.nan if c is None else c for c in cos], marker=".",
                            label=name[:40])
            axes[0, j].set_title(task, fontsize=8)
    axes[0, 0].set_ylabel("episodes past the grasp (%)")
    axes[1, 0].set_ylabel("cos(policy xy move, expert's)")
    for ax in axes[0]:
        ax.set_xlabel("episode step")
    for ax in axes[1]:
        ax.set_xlabel("steps since the carry began")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_ylim(-1.05, 1.05)
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save(path: Path, results: dict) -> None:
    """Atomically, one line: the per-step records are most of the file (values kept to 4-5 decimals)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(results, separators=(",", ":")))


def resummarise(out: Path) -> int:
    """Recompute the summary and redraw the chart from the saved episodes (after a change to the read-out)."""
    saved = json.loads((out / "grasp_probe.json").read_text())
    saved["summary"] = {n: {t: summarise(eps) for t, eps in per.items()} for n, per in saved["episodes"].items()}
    save(out / "grasp_probe.json", saved)
    plot(saved["episodes"], out / "grasp_probe.png", max(len(ep["phase"]) for per in saved["episodes"].values()
                                                         for eps in per.values() for ep in eps))
    print(json.dumps(saved["summary"], indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", help="run directories (runs/bench/TAG) or checkpoint directories")
    ap.add_argument("--tasks", default="push-v3,pick-place-v3,peg-insert-side-v3")
    ap.add_argument("--seed-start", type=int, default=10000)
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--max-steps", type=int, default=500)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--resummarise", action="store_true",
                    help="only recompute the summary and chart of --out/grasp_probe.json (nothing rerun)")
    a = ap.parse_args(argv)
    if a.resummarise:
        return resummarise(a.out)
    if not a.runs:
        ap.error("give at least one run directory (or --resummarise)")
    tasks = [t for t in a.tasks.split(",") if t]
    seeds = list(range(a.seed_start, a.seed_start + a.episodes))
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    results: dict[str, dict[str, list[dict]]] = {}
    for r in a.runs:
        name, ckpt = run_name(r), checkpoint_dir(r)
        results[name] = {}
        for task in tasks:
            results[name][task] = run(ckpt, task, seeds, a.max_steps)
            s = summarise(results[name][task])
            print(f"  {name} {task}: {s['success']:.0%} success, past the grasp {s['reached_carry']}/{len(seeds)}, "
                  f"hover {s['hover_steps']} steps, near gain {s['near_gain_xy']}, settles {s['settled_xy_cm']} cm, "
                  f"carry cos by window {s['carry_cos_xy']}, goal r {s['carry_goal_r']}",
                  flush=True)
    summary = {n: {t: summarise(eps) for t, eps in per.items()} for n, per in results.items()}
    args = " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
    meta = {"command": f"python benchmarks/grasp_probe.py {args}",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": describe_machine(),
            "seconds": round(time.time() - t0, 1), "tasks": tasks, "seeds": seeds, "near_m": NEAR_M}
    save(a.out / "grasp_probe.json", {"meta": meta, "summary": summary, "episodes": results})
    plot(results, a.out / "grasp_probe.png", a.max_steps)
    print(json.dumps(summary, indent=1))
    print(f"-> {a.out}/grasp_probe.{{json,png}} ({meta['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
