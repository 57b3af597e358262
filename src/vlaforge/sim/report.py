"""Evaluation results: per-task aggregation, MT50 difficulty buckets, and the files
(results.json, results.md, success.png) a run leaves behind."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vlaforge.core.atomic import atomic_path, write_json
from vlaforge.sim.tasks import DIFFICULTY


def summarize(episodes: Sequence[Any], tasks: Sequence[str], meta: dict[str, Any],
              stages: dict[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """Per-task success rate and mean length; overall mean over tasks (each task weighs the same);
    bucket means for every MT50 difficulty bucket fully covered by ``tasks``; for tasks with a staged
    reward (``stages``: task -> names of levels 1..n), the fraction of episodes reaching each stage."""
    per_task: dict[str, dict[str, Any]] = {}
    for task in tasks:
        eps = [e for e in episodes if e.task == task]
        per_task[task] = {
            "success_rate": float(np.mean([e.success for e in eps])) if eps else float("nan"),
            "mean_length": float(np.mean([e.length for e in eps])) if eps else float("nan"),
            "n_episodes": len(eps),
            "episodes": [_episode_row(e) for e in eps],
        }
        diag = _sum_diagnostics(eps)
        if diag:
            per_task[task]["diagnostics"] = diag
        if (stages or {}).get(task) and eps:
            per_task[task]["stages"] = _stage_rates(eps, stages[task])
    rates = [r["success_rate"] for r in per_task.values()]
    results: dict[str, Any] = {**meta, "tasks": list(tasks), "mean_success": float(np.mean(rates)),
                               "per_task": per_task}
    diag = _sum_diagnostics(episodes)
    if diag:
        results["diagnostics"] = diag
    buckets = {b: float(np.mean([per_task[t]["success_rate"] for t in ts]))
               for b, ts in DIFFICULTY.items() if all(t in per_task for t in ts)}
    if buckets:
        results["difficulty"] = buckets
    if len(buckets) == len(DIFFICULTY):
        # The figure published MT50 numbers (SmolVLA, pi0, ...) quote: the mean of the 4 bucket means.
        results["difficulty_mean"] = float(np.mean(list(buckets.values())))
    return results


def _stage_rates(episodes: Sequence[Any], names: Sequence[str]) -> dict[str, float]:
    """Stage i (0-based) is reached when an episode's highest reward is >= i + 1."""
    best = np.array([e.max_reward if e.max_reward is not None else float("-inf") for e in episodes])
    return {name: float(np.mean(best >= i + 1)) for i, name in enumerate(names)}


def _episode_row(e: Any) -> dict[str, Any]:
    """One episode for results.json: without its task (the key above it) and without empty diagnostics or reward."""
    row = {k: v for k, v in asdict(e).items() if k != "task"}
    for k in ("diagnostics", "max_reward"):
        if row.get(k) is None:
            row.pop(k, None)
    return row


def _sum_diagnostics(episodes: Sequence[Any]) -> dict[str, int]:
    """Sum the policy counters (``EpisodeResult.diagnostics``) over episodes."""
    total: dict[str, int] = {}
    for e in episodes:
        for k, v in (getattr(e, "diagnostics", None) or {}).items():
            total[k] = total.get(k, 0) + int(v)
    return total


def write_outputs(results: dict[str, Any], out_dir: str | Path) -> dict[str, str]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": out / "results.json", "markdown": out / "results.md", "plot": out / "success.png"}
    write_json(files["json"], results)
    with atomic_path(files["markdown"]) as tmp:
        tmp.write_text(markdown_table(results))
    plot_success(results, files["plot"])
    return {k: str(v) for k, v in files.items()}


def _chunking(results: dict[str, Any]) -> str:
    """How chunks became actions: the queue's K, or the temporal ensemble's k and query interval."""
    te = results.get("temporal_ensemble")
    if te:
        return f"temporal ensembling (k {te['k']}, a chunk every {te['query_every']} steps)"
    return f"n_action_steps {results.get('n_action_steps')}"


def markdown_table(results: dict[str, Any]) -> str:
    sim = {"metaworld": "Meta-World", "aloha": "ALOHA"}.get(results.get("simulator", "metaworld"), results.get("simulator"))
    lines = [f"# {sim} evaluation: {results.get('policy', '?')}", "",
             f"suite `{results.get('suite')}`, {results.get('episodes_per_task')} episodes per task from seed "
             f"{results.get('seed_start')}, at most {results.get('max_steps')} steps, "
             f"{_chunking(results)}, {results.get('date', '')}", "",
             "| task | success | mean length |", "|---|---:|---:|"]
    for task, r in results["per_task"].items():
        lines.append(f"| {task} | {100 * r['success_rate']:.1f}% | {r['mean_length']:.1f} |")
    lines.append(f"| **mean** | **{100 * results['mean_success']:.1f}%** | |")
    staged = {t: r["stages"] for t, r in results["per_task"].items() if r.get("stages")}
    if staged:
        lines += ["", "| task | stages reached (share of episodes) |", "|---|---|"]
        lines += [f"| {t} | " + " · ".join(f"{k} {100 * v:.0f}%" for k, v in st.items()) + " |"
                  for t, st in staged.items()]
    if "difficulty" in results:
        lines += ["", "| difficulty | success |", "|---|---:|"]
        lines += [f"| {b} | {100 * v:.1f}% |" for b, v in results["difficulty"].items()]
        if "difficulty_mean" in results:
            lines.append(f"| **bucket mean** | **{100 * results['difficulty_mean']:.1f}%** |")
    if results.get("diagnostics"):
        lines += ["", "policy diagnostics (summed over episodes): "
                  + ", ".join(f"{k} {v}" for k, v in results["diagnostics"].items())]
    if results.get("privileged"):
        lines += ["", "_Privileged baseline: it reads object and goal positions from the simulator._"]
    return "\n".join(lines) + "\n"


def plot_success(results: dict[str, Any], path: str | Path) -> None:
    """Horizontal bar chart of per-task success (Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(results["per_task"])
    rates = [100 * results["per_task"][t]["success_rate"] for t in tasks]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(tasks) + 1.2))
    ax.barh(range(len(tasks)), rates, color="tab:blue")
    ax.set_yticks(range(len(tasks)), [t.removesuffix("-v3") for t in tasks], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("success (%)")
    ax.axvline(100 * results["mean_success"], color="tab:red", ls="--", label=f"mean {100 * results['mean_success']:.1f}%")
    ax.set_title(f"{results.get('policy', '')} on {results.get('suite', '')}", fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
