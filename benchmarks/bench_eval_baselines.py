"""Baselines through the evaluation runner on MT10, the shared protocol: 10 episodes per task
from seed 10,000, at most 500 steps. Goal: scripted expert >= 95% mean, random ~0%.

    MUJOCO_GL=egl .venv/bin/python benchmarks/bench_eval_baselines.py [--episodes-per-task 10] [--workers 2]

Writes each run's results.json/.md/png and videos under runs/bench_eval_baselines/<policy>/
and a summary to benchmarks/results/eval_baselines.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

from vlaforge.sim.evaluate import run_eval
from vlaforge.sim.sources import BaselineSource

RESULTS = Path(__file__).parent / "results" / "eval_baselines.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="mt10")
    ap.add_argument("--episodes-per-task", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--policies", nargs="+", default=["expert", "random"])
    ap.add_argument("--out", default="runs/bench_eval_baselines")
    args = ap.parse_args()
    summary: dict = {
        "benchmark": "eval_baselines",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores (shared), no GPU",
        "command": f"MUJOCO_GL=egl .venv/bin/python benchmarks/bench_eval_baselines.py --suite {args.suite} "
                   f"--episodes-per-task {args.episodes_per_task} --workers {args.workers}",
        "results": {},
    }
    for name in args.policies:
        res = run_eval(BaselineSource(name), suite=args.suite, episodes_per_task=args.episodes_per_task, workers=args.workers,
                       out_dir=Path(args.out) / name)
        summary["results"][name] = {
            "mean_success": res["mean_success"], "elapsed_s": res["elapsed_s"],
            "per_task": {t: {"success": r["success_rate"], "mean_length": r["mean_length"]}
                         for t, r in res["per_task"].items()},
        }
        print(f"{name}: mean success {100 * res['mean_success']:.1f}% in {res['elapsed_s']:.0f} s")
    if "expert" in summary["results"]:
        summary["expert_goal_met"] = summary["results"]["expert"]["mean_success"] >= 0.95
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
