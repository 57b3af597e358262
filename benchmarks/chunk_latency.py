"""Batch-1 chunk latency of trained checkpoints, re-measured together on a quiet machine.

    python benchmarks/chunk_latency.py runs/bench/TAG ... --reps 200 --out benchmarks/results/latency/NAME.json

``bench_mt10.py`` measures each run's latency once, right after its training, with 30 repetitions; a busy moment
then shows as a doubled figure (session 28: 9.6 ms for a run whose extra MLP adds one small matmul). This measures
every checkpoint the same way (``bench_mt10.chunk_latency_ms``: fake observations, 2 threads, the precision ``auto``
picks), in turn, in one process, three rounds, and reports each checkpoint's median over the rounds' medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from bench_mt10 import chunk_latency_ms  # the same directory: benchmarks/
from expert_takeover import run_name
from fit_gap import checkpoint_dir

from vlaforge.core.atomic import atomic_path
from vlaforge.core.machine import describe_machine


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="run directories (runs/bench/TAG) or checkpoint directories")
    ap.add_argument("--reps", type=int, default=200, help="timed chunks per checkpoint and round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds over all checkpoints (interleaved)")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    rounds: dict[str, list[float]] = {run_name(r): [] for r in a.runs}
    for _ in range(a.rounds):
        for r in a.runs:
            rounds[run_name(r)].append(chunk_latency_ms(checkpoint_dir(r), reps=a.reps))
    result = {"meta": {"command": "python benchmarks/chunk_latency.py " + " ".join(argv or sys.argv[1:]),
                       "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": describe_machine(),
                       "reps": a.reps, "rounds": a.rounds},
              "chunk_ms": {n: {"median": round(statistics.median(v), 2), "rounds": v} for n, v in rounds.items()}}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(a.out) as tmp:
        tmp.write_text(json.dumps(result, indent=1))
    for n, v in result["chunk_ms"].items():
        print(f"  {n}: {v['median']} ms (rounds {v['rounds']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
