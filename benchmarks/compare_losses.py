"""Training losses of several runs at equal steps: windowed means of one metric, as a table and a chart.

    python benchmarks/compare_losses.py runs/bench/a runs/bench/b --key loss_position --window 1000 \
        --out benchmarks/results/mt10/losses_a_vs_b.png

A one-change ablation reads here whether the change fits the training data better before the closed loop
says whether it helps; the runs' own ``metrics.jsonl`` are the source (``vlaforge.train.progress``).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from vlaforge.train.progress import ema_smooth, read_metrics


def windowed(rows: list[dict], key: str, window: int) -> dict[int, float]:
    """{window start step: mean of ``key`` over the logged steps in [start, start + window)}."""
    bins: dict[int, list[float]] = {}
    for r in rows:
        if isinstance(r.get(key), (int, float)) and "step" in r:
            bins.setdefault(r["step"] // window * window, []).append(float(r[key]))
    return {s: statistics.mean(v) for s, v in sorted(bins.items())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="run directories (each with metrics.jsonl)")
    ap.add_argument("--key", default="loss", help="metric to compare, e.g. loss, loss_position, loss_gripper")
    ap.add_argument("--window", type=int, default=1000)
    ap.add_argument("--out", default=None, help="PNG of the smoothed curves")
    a = ap.parse_args(argv)
    rows = {Path(r).name: read_metrics(Path(r) / "metrics.jsonl") for r in a.runs}
    missing = [n for n, r in rows.items() if not r]
    if missing:
        raise SystemExit(f"error: no metrics.jsonl rows in {missing}; pass run directories written by vlaforge train")
    tables = {n: windowed(r, a.key, a.window) for n, r in rows.items()}
    starts = sorted(set.intersection(*(set(t) for t in tables.values())))
    print(f"| steps | " + " | ".join(f"`{n}` {a.key}" for n in tables) + " |")
    print("|---|" + "---:|" * len(tables))
    for s in starts:
        print(f"| {s:,}-{s + a.window - 1:,} | " + " | ".join(f"{t[s]:.4f}" for t in tables.values()) + " |")
    if a.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=120)
        for name, r in rows.items():
            pts = [(x["step"], float(x[a.key])) for x in r if isinstance(x.get(a.key), (int, float))]
            ax.plot([p[0] for p in pts], ema_smooth([p[1] for p in pts], 0.98), lw=1.5, label=name)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(f"{a.key} (smoothed)")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(a.out)
        print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
