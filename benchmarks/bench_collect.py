"""Collection throughput: scripted-expert demos on MT10, 64x64, cameras corner2 + gripperPOV,
written through the LeRobot v3 writer (H.264), as `vlaforge collect` does.

    MUJOCO_GL=egl .venv/bin/python benchmarks/bench_collect.py [--episodes-per-task 3] [--workers 2]

Reports env steps/s (= dataset rows/s) and rendered images/s (steps x cameras), failed
episodes included, wall time from pool start to finalize. Writes benchmarks/results/collect.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from vlaforge.sim.collect import CollectConfig, collect

RESULTS = Path(__file__).parent / "results" / "collect.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="mt10")
    ap.add_argument("--episodes-per-task", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--image-size", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = CollectConfig(out=str(Path(tmp) / "ds"), tasks=args.tasks, episodes_per_task=args.episodes_per_task,
                            image_size=args.image_size, workers=args.workers)
        summary = collect(cfg)
    result = {
        "benchmark": "collect",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores (shared), no GPU",
        "command": f"MUJOCO_GL=egl .venv/bin/python benchmarks/bench_collect.py --tasks {args.tasks} "
                   f"--episodes-per-task {args.episodes_per_task} --workers {args.workers} "
                   f"--image-size {args.image_size}",
        "episodes": summary["episodes"], "failures": summary["failures"], "env_steps": summary["env_steps"],
        "elapsed_s": summary["elapsed_s"], "steps_per_s": summary["steps_per_s"],
        "images_per_s": summary["images_per_s"],
        "per_task_mean_length": {t: r["mean_length"] for t, r in summary["per_task"].items()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
