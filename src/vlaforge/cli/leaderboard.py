"""`vlaforge leaderboard [--results DIR] [--out DIR]`: every MT10-protocol result in one table and chart.

Reads each ``results.json`` under ``--results`` (default ``benchmarks/results``) that
``benchmarks/bench_mt10.py`` (or a multi-variant ablation script) wrote, and writes
``leaderboard.md``, ``leaderboard.json`` and ``leaderboard.png`` next to them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass
class LeaderboardArgs:
    results: str = "benchmarks/results"
    out: str | None = None
    """Where to write the leaderboard files (default: --results)."""


def main(argv: list[str] | None = None) -> int:
    import tyro
    from rich.console import Console
    from rich.table import Table

    from vlaforge.sim.leaderboard import collect_rows, write_leaderboard
    from vlaforge.sim.tasks import MT10

    args = tyro.cli(LeaderboardArgs, args=list(sys.argv[1:] if argv is None else argv), prog="vlaforge leaderboard")
    files = write_leaderboard(args.results, args.out)
    table = Table(title="MT10 protocol leaderboard (10 held-out episodes per task)")
    for col in ("run", "family", "mean %", "push %", "pick-place %", "train min", "steps", "ms/chunk"):
        table.add_column(col, justify="left" if col in ("run", "family") else "right")
    for r in collect_rows(args.results):
        table.add_row(r.name, r.family, f"{100 * r.mean:.1f}", *[f"{100 * r.per_task.get(t, 0):.0f}" for t in MT10[1:3]],
                      str(r.train_minutes or "—"), str(r.steps or "—"), str(r.chunk_ms or "—"))
    Console(width=140).print(table)
    print("wrote " + ", ".join(str(p) for p in files.values()))
    return 0
