"""One leaderboard over every MT10-protocol result in ``benchmarks/results``.

A row is any ``results.json`` whose ``benchmark`` block names a family (what
``benchmarks/bench_mt10.py`` writes), plus the variants of a multi-lane results file
(``policy: {variant: {...}}``, as the UniVLA-AR world-model ablation writes). Each row
carries per-task success, the mean, training minutes and steps, parameters, samples/s,
chunk latency, the checkpoint and the command; ``write_leaderboard`` renders a markdown
table, a JSON file and a bar chart, best first.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vlaforge.core.atomic import atomic_path, write_json
from vlaforge.sim.tasks import MT10


@dataclass
class Row:
    name: str
    family: str
    mean: float
    per_task: dict[str, float]
    train_minutes: float | None = None
    steps: int | None = None
    params_m: float | None = None
    samples_per_s: float | None = None
    chunk_ms: float | None = None
    n_action_steps: int | None = None
    checkpoint: str | None = None
    command: str | None = None
    date: str | None = None
    machine: str | None = None
    """The CPU (or GPU) the run trained and was timed on: samples/s and chunk ms are only comparable on one."""
    note: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _train_fields(t: dict) -> dict:
    return {"steps": t.get("steps"), "params_m": round(t["n_params"] / 1e6, 2) if t.get("n_params") else None,
            "samples_per_s": t.get("samples_per_s"), "checkpoint": t.get("checkpoint"),
            "train_minutes": round(t["train_seconds"] / 60, 1) if t.get("train_seconds") else None}


def rows_from_file(path: Path) -> list[Row]:
    """The leaderboard rows one results.json holds (none if it is not an MT10-protocol result)."""
    try:
        r = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    b = r.get("benchmark") or {}
    if not b.get("family") or r.get("suite", "mt10") != "mt10":
        return []
    if "per_task" in r:
        per = {t: v["success_rate"] for t, v in r["per_task"].items()}
        fields = _train_fields(b.get("train") or {})
        return [Row(name=b.get("tag") or path.parent.name, family=b["family"], mean=r["mean_success"], per_task=per,
                    chunk_ms=b.get("chunk_latency_ms"), n_action_steps=r.get("n_action_steps"),
                    command=b.get("command"), date=b.get("date"), machine=b.get("machine"), note=b.get("note", ""),
                    source=str(path), **fields)]
    rows = []
    for variant, v in (r.get("policy") or {}).items():  # a multi-variant ablation file
        fields = _train_fields(v.get("train") or {})
        lane = _lane_of(r.get("lanes") or {}, variant)
        rows.append(Row(name=f"{b['family']}_{variant}", family=b["family"], mean=v["mean_success"],
                        per_task=v["per_task"], n_action_steps=v.get("n_action_steps"), command=lane.get("command"),
                        date=lane.get("date"), machine=lane.get("machine") or b.get("machine"),
                        note=f"demos/task {v.get('demos_per_task')}", source=str(path), **fields))
    return rows


def _lane_of(lanes: dict[str, dict], variant: str) -> dict:
    """The lane (one process of a multi-variant ablation, keyed by its space-separated variants) that trained
    ``variant``: the narrowest lane naming it, since a later re-evaluation lane (e.g. ``--foresight-only``) names
    every variant. {} when no lane names it."""
    key = min((k for k in lanes if variant in k.split()), key=lambda k: len(k.split()), default=None)
    return {} if key is None else lanes[key]


def collect_rows(root: str | Path = "benchmarks/results") -> list[Row]:
    rows = [row for p in sorted(Path(root).rglob("results.json")) for row in rows_from_file(p)]
    return sorted(rows, key=lambda r: -r.mean)


def markdown(rows: list[Row]) -> str:
    short = [t.removesuffix("-v3") for t in MT10]
    head = ["#", "run", "family", "mean", *short, "train min", "steps", "params M", "samples/s", "chunk ms", "K"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, r in enumerate(rows, 1):
        cells = [str(i), r.name, r.family, f"**{100 * r.mean:.1f}%**",
                 *[_pct(r.per_task.get(t)) for t in MT10],
                 _num(r.train_minutes), _num(r.steps), _num(r.params_m), _num(r.samples_per_s), _num(r.chunk_ms),
                 _num(r.n_action_steps)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Commands and checkpoints:", ""]
    lines += [f"- `{r.name}`: `{r.command}` -> `{r.checkpoint}` ({', '.join(x for x in (r.date, r.machine) if x)})"
              f"{' — ' + r.note if r.note else ''}" for r in rows]
    return "\n".join(lines) + "\n"


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.0f}"


def _num(v: float | int | None) -> str:
    return "—" if v is None else (f"{v:,}" if isinstance(v, int) else f"{v:g}")


def plot(rows: list[Row], path: Path) -> None:
    """Mean success per run (bars) with per-task success as dots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(rows) + 2), 4.0), dpi=120)
    x = np.arange(len(rows))
    ax.bar(x, [100 * r.mean for r in rows], color="tab:blue", alpha=0.6, label="MT10 mean")
    for i, r in enumerate(rows):
        vals = [100 * v for v in r.per_task.values()]
        ax.scatter(np.full(len(vals), i) + np.linspace(-0.25, 0.25, len(vals)), vals, s=8, color="k", alpha=0.6)
    ax.set_xticks(x, [r.name for r in rows], rotation=40, ha="right", fontsize=7)
    ax.set_ylabel("success (%)")
    ax.set_ylim(0, 105)
    ax.set_title("MT10 protocol: mean (bars) and per task (dots)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def write_leaderboard(root: str | Path = "benchmarks/results", out: str | Path | None = None) -> dict[str, Path]:
    rows = collect_rows(root)
    out = Path(out or root)
    files = {"markdown": out / "leaderboard.md", "json": out / "leaderboard.json", "plot": out / "leaderboard.png"}
    with atomic_path(files["markdown"]) as tmp:
        tmp.write_text(markdown(rows))
    write_json(files["json"], [asdict(r) for r in rows])
    if rows:
        plot(rows, files["plot"])
    return files
