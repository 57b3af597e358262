"""What does each policy's network know about where things are? Linear probes of object and goal positions.

    MUJOCO_GL=egl python benchmarks/feature_probe.py runs/bench/XVLA runs/bench/BC \
        --tasks push-v3,peg-insert-side-v3 --episodes 30 --out benchmarks/results/feature_probe/NAME

Session 27 (``grasp_probe.py``) found X-VLA's carry follows where each seed puts the goal less than BC's (push: goal
correlation 0.46 against 0.73; peg-insert: the carry's direction against the expert's 0.10 against 0.57), though
both reach the grasp together. Either X-VLA's image features do not hold the goal's position, or they hold it and the
action read-out does not use it. A linear probe tells the two apart: on the same frames for every policy (the scripted
expert drives every episode, so nothing depends on a policy's own mistakes), each policy's features at two levels,

- ``vision``: what its image encoders give, every camera's tokens flattened (X-VLA's conv stems, BC's encoders),
- ``head``: what its action read-out sees last (X-VLA: the transformer's output at the action tokens, the last
  denoising step's, flattened; BC: its MLP's hidden layer),

are regressed (ridge, features standardized, the penalty picked by cross-validation over the fit episodes' seeds)
onto the privileged positions: the object, the goal, the goal from the hand (what the carry must move along) and the
object from the hand. R^2 on held-out episodes (the last ``--test-episodes`` seeds), pooled over the axes that vary,
per task, on every frame and on the carry frames only (the expert's phase, as ``grasp_probe.py`` reads it). The 4-d
proprio state is the floor (it holds the hand, not the goal); ``--untrained`` adds each network freshly initialised, so
a trained policy's figure can be told from what random convolutions of the image already give. Writes
``feature_probe.json`` and ``feature_probe.png`` (the carry frames' R^2) under ``--out``; ``--replot`` redraws the
chart from the JSON.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from expert_takeover import run_name  # the same directory: benchmarks/
from fit_gap import checkpoint_dir
from grasp_probe import expert_phase, target_fn

from vlaforge.core.atomic import atomic_path
from vlaforge.core.machine import describe_machine

TARGETS = {"object": lambda p: p[:, 4:7], "goal": lambda p: p[:, -3:], "goal - hand": lambda p: p[:, -3:] - p[:, :3],
           "object - hand": lambda p: p[:, 4:7] - p[:, :3]}
"""Probed positions from Meta-World's privileged state (hand 0:3, object 4:7, goal -3:), (N, 3) each."""
LAMBDAS = tuple(10.0 ** k for k in range(-2, 6))
"""Ridge penalties tried (on standardized features); the cross-validated best is used."""
MIN_VAR = 1e-6
"""An axis whose held-out values vary less than this (m^2) is left out of R^2 (e.g. a goal height fixed by the task)."""


# ---- features -------------------------------------------------------------------------------------------------
def readout_modules(policy) -> dict[str, list]:
    """Per level, the modules whose outputs are the features: X-VLA (conv stems, transformer) or BC (encoders, MLP)."""
    vl = getattr(policy, "vl", None)
    if vl is not None and hasattr(vl, "stems") and hasattr(policy, "transformer"):
        return {"vision": list(vl.stems), "head": [policy.transformer]}
    if hasattr(policy, "encoders") and hasattr(policy, "mlp"):
        return {"vision": list(policy.encoders), "head": [policy.mlp]}
    raise SystemExit(f"error: feature_probe reads X-VLA (conv / pretrained stems) and BC policies; "
                     f"{type(policy).__name__} has neither layout")


class Recorder:
    """Forward hooks that keep the last output of each read-out module, flattened per sample."""

    def __init__(self, policy) -> None:
        self.chunk = int(policy.config.chunk_size)
        self.is_head_tokens = hasattr(policy, "transformer")  # X-VLA: keep the action tokens [:, :H]
        self.out: dict[str, list] = {}
        self.handles = []
        for level, mods in readout_modules(policy).items():
            self.out[level] = [None] * len(mods)
            for i, m in enumerate(mods):
                self.handles.append(m.register_forward_hook(self._hook(level, i)))

    def _hook(self, level: str, i: int):
        def keep(module, inputs, output) -> None:
            x = output[0] if isinstance(output, tuple) else output
            if level == "head" and self.is_head_tokens:
                x = x[:, : self.chunk]  # (B, H, W): the action tokens
            self.out[level][i] = x.detach().float().reshape(1, -1).numpy()  # batch 1: every frame / token
        return keep

    def take(self) -> dict[str, np.ndarray]:
        """The features of the last (batch-1) forward pass: (1, F) per level, cameras concatenated."""
        return {level: np.concatenate(parts, axis=1) for level, parts in self.out.items()}

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def untrained_copy(policy):
    """The same network freshly initialised (seed 0): the control for what untrained features already give."""
    import copy

    import torch

    torch.manual_seed(0)
    fresh = type(policy)(copy.deepcopy(policy.config), policy.normalizer, list(policy.embodiments.values()))
    return fresh.eval()


# ---- the probe -------------------------------------------------------------------------------------------------
def ridge_fit(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Weights (F, T) of ridge regression on centred x (N, F), y (N, T); the dual form when F > N."""
    n, f = x.shape
    if f > n:
        return x.T @ np.linalg.solve(x @ x.T + lam * np.eye(n), y)
    return np.linalg.solve(x.T @ x + lam * np.eye(f), x.T @ y)


def _standardize(fit: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mu, sd = fit.mean(0), fit.std(0) + 1e-6
    return [(a - mu) / sd for a in (fit, *others)]


def r2(y: np.ndarray, pred: np.ndarray) -> float | None:
    """R^2 pooled over the axes whose values vary (1 - sum SSE / sum SST); None when none does."""
    sst = ((y - y.mean(0)) ** 2).sum(0)
    keep = sst / max(len(y), 1) > MIN_VAR
    if not keep.any():
        return None
    return float(1.0 - ((y - pred) ** 2).sum(0)[keep].sum() / sst[keep].sum())


def probe(x_fit: np.ndarray, y_fit: np.ndarray, g_fit: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
          blocks: dict[str, slice], folds: int = 4) -> dict[str, float | None]:
    """Ridge from features to the targets (``blocks``: each target's columns of y): each target's penalty
    cross-validated over groups (episode seeds) of the fit set, then refit on all of it; R^2 on the test set."""
    groups = np.unique(g_fit)
    split = np.array_split(groups, min(folds, len(groups)))
    cv = {t: np.zeros(len(LAMBDAS)) for t in blocks}
    for held in split:
        m = np.isin(g_fit, held)
        xa, xb = _standardize(x_fit[~m], x_fit[m])
        mu = y_fit[~m].mean(0)
        for k, lam in enumerate(LAMBDAS):
            pred = xb @ ridge_fit(xa, y_fit[~m] - mu, lam) + mu
            for t, cols in blocks.items():
                s = r2(y_fit[m][:, cols], pred[:, cols])
                cv[t][k] += -np.inf if s is None else s
    xa, xb = _standardize(x_fit, x_test)
    mu, out = y_fit.mean(0), {}
    for t, cols in blocks.items():
        lam = LAMBDAS[int(np.argmax(cv[t]))]
        s = r2(y_test[:, cols], xb @ ridge_fit(xa, y_fit[:, cols] - mu[cols], lam) + mu[cols])
        out[t] = None if s is None else round(s, 3)
    return out


def probe_all(frames: dict, features: dict[str, np.ndarray], test_seeds: set[int]) -> dict:
    """Per feature set (``name:level``), subset (all frames, carry frames) and target: held-out R^2."""
    seeds, priv = frames["seed"], frames["privileged"]
    y = np.concatenate([f(priv) for f in TARGETS.values()], axis=1)  # (N, 3 * targets)
    blocks = {t: slice(3 * i, 3 * i + 3) for i, t in enumerate(TARGETS)}
    test = np.isin(seeds, list(test_seeds))
    subsets = {"all": np.ones(len(seeds), bool), "carry": frames["phase"] == "carry"}
    out: dict = {}
    for name, x in features.items():
        out[name] = {}
        for sub, m in subsets.items():
            fit, held = m & ~test, m & test
            if fit.sum() < 10 or held.sum() < 5 or len(np.unique(seeds[fit])) < 2:
                out[name][sub] = {t: None for t in TARGETS}
                continue
            out[name][sub] = probe(x[fit], y[fit], seeds[fit], x[held], y[held], blocks)
    return out


# ---- collection ----------------------------------------------------------------------------------------------
def collect(policies: dict, task: str, seeds: list[int], max_steps: int, every: int) -> tuple[dict, dict]:
    """The expert drives each episode; every ``every``-th step each policy sees the frame (its own observation
    history kept every step) and its read-out features are recorded. Returns the frames' seeds, phases, privileged
    states and proprio, and per ``name:level`` the (N, F) features."""
    from vlaforge.sim.evaluate import policy_obs
    from vlaforge.sim.simulator import get_simulator

    sim = get_simulator("metaworld")
    first = next(iter(policies.values()))
    env = sim.make_env(task, tuple(first.config.image_size), first.config.cameras, max_steps)
    expert = sim.expert(task)
    target = target_fn(expert.policy)
    recorders = {n: Recorder(p) for n, p in policies.items()}
    rows: dict[str, list] = {"seed": [], "phase": [], "privileged": [], "state": []}
    feats: dict[str, list] = {}
    try:
        for seed in seeds:
            step = env.reset(seed)
            expert.reset(env, step)
            for p in policies.values():
                p.reset()
            for t in range(max_steps):
                obs = policy_obs(step, task, sim)
                for name, p in policies.items():
                    stacked = p.observe(obs)
                    if t % every == 0:
                        p.predict_action_chunk(stacked)
                        for level, f in recorders[name].take().items():
                            feats.setdefault(f"{name}:{level}", []).append(f[0])
                if t % every == 0:
                    priv = np.asarray(step.privileged, np.float64)
                    rows["seed"].append(seed)
                    rows["phase"].append(expert_phase(target(priv), priv[:3], priv[4:7]))
                    rows["privileged"].append(priv)
                    rows["state"].append(np.asarray(step.obs["observation.state"], np.float64))
                step = env.step(sim.embodiment.clip_action(expert.act(step)))
                if step.success:
                    break
    finally:
        env.close()
        for r in recorders.values():
            r.close()
    frames = {k: np.array(v) for k, v in rows.items()}
    features = {"state": frames["state"], **{k: np.stack(v) for k, v in feats.items()}}
    return frames, features


def load_policies(runs: list[str], untrained: bool) -> dict:
    import torch

    from vlaforge.core.checkpoint import load_policy

    torch.set_num_threads(2)
    policies = {}
    for r in runs:
        name = run_name(r)
        policies[name] = load_policy(checkpoint_dir(r)).eval()
        if untrained:
            policies[f"{name} (untrained)"] = untrained_copy(policies[name])
    sizes = {(tuple(p.config.image_size), tuple(p.config.cameras)) for p in policies.values()}
    if len(sizes) > 1:
        raise SystemExit(f"error: the policies see different images {sorted(sizes)}; probe runs with the same "
                         "image size and cameras together")
    return policies


def _style(name: str, runs: list[str]) -> dict:
    """Bar style of a feature set: a colour per run (grey for the state), hatched for the head level, faint for the
    untrained copy."""
    import matplotlib.pyplot as plt

    if name == "state":
        return {"color": "0.55"}
    run, level = name.rsplit(":", 1)
    base = run.removesuffix(" (untrained)")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {"color": colors[runs.index(base) % len(colors)], "hatch": "///" if level == "head" else None,
            "alpha": 0.35 if base != run else 1.0, "edgecolor": "black", "linewidth": 0.3}


def plot(results: dict, path: Path, subset: str = "carry") -> None:
    """Per task, held-out R^2 of each feature set for each target (``subset`` frames); one legend below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(results)
    names = list(next(iter(results.values())))
    runs = list(dict.fromkeys(n.rsplit(":", 1)[0].removesuffix(" (untrained)") for n in names if n != "state"))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.4 * len(tasks), 3.9), squeeze=False)
    width = 0.84 / len(names)
    for j, task in enumerate(tasks):
        ax = axes[0, j]
        for i, name in enumerate(names):
            vals = [results[task][name][subset][t] for t in TARGETS]
            ax.bar(np.arange(len(TARGETS)) + i * width, [np.nan if v is None else max(v, -0.2) for v in vals],
                   width, label=name, **_style(name, runs))
        ax.set_xticks(np.arange(len(TARGETS)) + 0.42 - width / 2, list(TARGETS), fontsize=7)
        ax.set_ylim(-0.2, 1.0)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_title(f"{task}: {subset} frames, held-out R^2", fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=6, frameon=False)
    fig.tight_layout(rect=(0, 0.06 + 0.025 * ((len(names) + 2) // 3), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", help="run directories (runs/bench/TAG) or checkpoint directories")
    ap.add_argument("--tasks", default="push-v3,pick-place-v3,peg-insert-side-v3")
    ap.add_argument("--seed-start", type=int, default=10000)
    ap.add_argument("--episodes", type=int, default=30)
    ap.add_argument("--test-episodes", type=int, default=10, help="the last seeds, held out of the fit")
    ap.add_argument("--every", type=int, default=3, help="probe every N-th step")
    ap.add_argument("--max-steps", type=int, default=300)
    ap.add_argument("--untrained", action="store_true", help="also each network freshly initialised (the control)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--replot", action="store_true", help="only redraw --out/feature_probe.png from its JSON")
    a = ap.parse_args(argv)
    if a.replot:
        plot(json.loads((a.out / "feature_probe.json").read_text())["results"], a.out / "feature_probe.png")
        return 0
    if not a.runs:
        ap.error("give at least one run directory (or --replot)")
    if not 0 < a.test_episodes < a.episodes - 1:
        ap.error(f"--test-episodes {a.test_episodes} must leave at least 2 of --episodes {a.episodes} to fit on")
    tasks = [t for t in a.tasks.split(",") if t]
    seeds = list(range(a.seed_start, a.seed_start + a.episodes))
    test_seeds = set(seeds[-a.test_episodes:])
    policies = load_policies(a.runs, a.untrained)
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    results, counts = {}, {}
    for task in tasks:
        frames, features = collect(policies, task, seeds, a.max_steps, a.every)
        results[task] = probe_all(frames, features, test_seeds)
        counts[task] = {"frames": len(frames["seed"]), "carry_frames": int((frames["phase"] == "carry").sum()),
                        "dims": {k: int(v.shape[1]) for k, v in features.items()}}
        for name, r in results[task].items():
            print(f"  {task} {name}: all {r['all']}, carry {r['carry']}", flush=True)
    args = " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
    meta = {"command": f"python benchmarks/feature_probe.py {args}",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": describe_machine(),
            "seconds": round(time.time() - t0, 1), "tasks": tasks, "fit_seeds": seeds[:-a.test_episodes],
            "test_seeds": sorted(test_seeds), "every": a.every, "counts": counts}
    with atomic_path(a.out / "feature_probe.json") as tmp:
        tmp.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    plot(results, a.out / "feature_probe.png")
    print(f"-> {a.out}/feature_probe.{{json,png}} ({meta['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
