"""Scale-out figures on this CPU: 1 vs 2 gloo processes, and LPT placement at 8 / 64 / 512 ranks.

    python benchmarks/bench_distributed.py                # both parts, ~3 min
    python benchmarks/bench_distributed.py --lpt-only

1. Throughput: X-VLA tiny (and bc tiny) trained on fake batches for a fixed number of steps,
   one process with 2 threads vs two gloo processes with 1 thread each (global batch equal),
   through the real trainer and torchrun. On 2 cores this measures the overhead, not a speed-up.
2. LPT simulation: InternVLA-A1's pretraining mixture (Table 3 of the paper: frames per source)
   split into per-task datasets (the split is our assumption: lognormal sizes summing to each
   source's frames, task counts stated below), placed on 8, 64 and 512 ranks by LPT against the
   naive plan where every rank opens every dataset: datasets and frames per rank, imbalance.
Writes benchmarks/results/distributed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from vlaforge.core.machine import describe_machine

SOURCES = {  # name: (frames, number of datasets we split it into)
    "InternData-A1 (sim)": (396e6, 280),   # 70 tasks x 4 embodiments
    "RoboTwin (sim)": (17e6, 50),
    "AgiBot-World Beta (real)": (206e6, 217),
    "RoboMind (real)": (5e6, 100),
    "EgoDex (human)": (68e6, 194),
}

SCRIPT = textwrap.dedent('''
    import json, sys, time, torch
    from vlaforge.core.registry import get_family
    from vlaforge.testing import fake_train_data
    from vlaforge.train.config import DataConfig, OptimConfig, TrainConfig
    from vlaforge.train.trainer import Trainer
    family, batch, steps, threads, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    policy = get_family(family).from_preset("tiny", text_encoder="hash")
    cfg = TrainConfig(policy=policy, data=DataConfig(batch_size=batch), optim=OptimConfig(warmup_steps=1), steps=steps,
                      precision="auto", out_dir=out, progress=False, tensorboard=False, num_threads=threads,
                      save_every=10**6, log_every=10**6)
    r = Trainer(cfg, fake_train_data(policy, n=256)).fit()
    print(json.dumps(r.summary))
''')


def throughput(family: str, steps: int, global_batch: int) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "s.py"
        script.write_text(SCRIPT)
        for nproc, threads in ((1, 2), (2, 1)):
            run_dir = Path(tmp) / f"n{nproc}"
            args = [family, str(global_batch // nproc), str(steps), str(threads), str(run_dir)]
            cmd = ([sys.executable, str(script), *args] if nproc == 1 else
                   [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
                    str(script), *args])
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            t0 = time.perf_counter()
            res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
            if res.returncode != 0:
                raise RuntimeError(res.stderr[-3000:])
            summary = json.loads((run_dir / "train_summary.json").read_text())
            out[f"{nproc}proc_x{threads}thread"] = {"samples_per_s": summary["samples_per_s"],
                                                   "train_seconds": summary["train_seconds"],
                                                   "wall_s": round(time.perf_counter() - t0, 1)}
            print(family, nproc, out[f"{nproc}proc_x{threads}thread"], flush=True)
    return out


def lpt_simulation() -> dict:
    from vlaforge.train.lpt import assign

    rng = np.random.default_rng(0)
    sizes = []
    for frames, n in SOURCES.values():
        w = rng.lognormal(0, 1.0, n)
        sizes += list(frames * w / w.sum())
    total = sum(sizes)
    out = {"datasets": len(sizes), "total_frames": total, "sources": {k: {"frames": v[0], "datasets": v[1]}
                                                                      for k, v in SOURCES.items()}}
    for k in (8, 64, 512):
        plan = assign(sizes, k)
        opened = [len(r) for r in plan.ranks]
        out[f"{k}_ranks"] = {
            "lpt": {"datasets_per_rank_max": max(opened), "datasets_per_rank_mean": float(np.mean(opened)),
                    "frames_per_rank_max": max(plan.loads), "frames_per_rank_mean": float(np.mean(plan.loads)),
                    "imbalance_max_over_mean": round(plan.imbalance, 4)},
            "naive_every_rank_opens_all": {"datasets_per_rank": len(sizes), "frames_per_rank": total},
            "memory_saving_x": round(total / max(plan.loads), 1)}
        print(k, out[f"{k}_ranks"]["lpt"], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lpt-only", action="store_true")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--out", default="benchmarks/results/distributed.json")
    a = ap.parse_args()
    res = {"command": "python benchmarks/bench_distributed.py" + (" --lpt-only" if a.lpt_only else ""),
           "date": time.strftime("%Y-%m-%d %H:%M"),
           "machine": describe_machine(), "lpt": lpt_simulation()}
    if not a.lpt_only:
        res["throughput"] = {f: throughput(f, a.steps, 32) for f in ("xvla", "bc")}
    Path(a.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
