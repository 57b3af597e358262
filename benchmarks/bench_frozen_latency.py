"""Batch-1 chunk latency of policies on a frozen pretrained encoder, with and without the inference path of
session 11 (issue 15, section 2): BatchNorm folded into the convs (``efficientnet.FOLD_BATCHNORM_AT_INFERENCE``).
Session 11 also timed every camera through one backbone call with the version of this script in commit ec30c95
(measured, not kept: within noise); the committed ``benchmarks/results/frozen_latency_machineF.json`` holds those
columns.

    python benchmarks/bench_frozen_latency.py runs/bench/xvla_effnet_frozen_reg runs/bench/xvla_effnet_frozen

Each checkpoint (a run directory: its last checkpoint) is timed with and without folding, interleaved round by
round so drift hits all alike; median of ``--reps`` calls per round, 2 threads, the precision ``auto`` picks.
The folded chunk is compared with the reference (folding off) on the same noise, in the run's precision and in
fp32 (where only float rounding of the folded BatchNorm remains).
Writes benchmarks/results/frozen_latency.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from pathlib import Path

import torch

import vlaforge.nn.efficientnet as effnet
from vlaforge.core.checkpoint import load_policy
from vlaforge.core.machine import describe_machine
from vlaforge.testing import fake_batch, observation
from vlaforge.train.trainer import last_checkpoint, resolve_precision

COMBOS = {"reference": False, "fold": True}


def _chunk(policy, obs, bf16: bool, seed: int) -> torch.Tensor:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return policy.predict_action_chunk(obs, generator=torch.Generator().manual_seed(seed))


def measure(run: Path, reps: int, rounds: int, bf16: bool) -> dict:
    ckpt = last_checkpoint(run)
    if not ckpt.exists():
        raise SystemExit(f"{run}: no checkpoint inside; pass a run directory that finished a save")
    policy = load_policy(ckpt)
    obs = observation(fake_batch(policy.config, list(policy.embodiments.values()), 1))
    times: dict[str, list[float]] = {k: [] for k in COMBOS}
    chunks = {}
    for _, (name, fold) in itertools.product(range(rounds), COMBOS.items()):
        effnet.FOLD_BATCHNORM_AT_INFERENCE = fold
        chunks[name] = _chunk(policy, obs, bf16, 0).float()
        for i in range(reps):
            t0 = time.perf_counter()
            _chunk(policy, obs, bf16, i)
            times[name].append(time.perf_counter() - t0)
    fp32 = {}
    for name, fold in COMBOS.items():  # bf16 rounding downstream amplifies 1e-5 feature differences
        effnet.FOLD_BATCHNORM_AT_INFERENCE = fold
        fp32[name] = _chunk(policy, obs, False, 0).float()
    effnet.FOLD_BATCHNORM_AT_INFERENCE = True
    return {"checkpoint": str(ckpt), "objective": getattr(policy.config, "objective", None),
            "median_ms": {k: round(1000 * statistics.median(v), 2) for k, v in times.items()},
            "max_abs_diff_vs_reference": {k: float((c - chunks["reference"]).abs().max()) for k, c in chunks.items()},
            "max_abs_diff_vs_reference_fp32": float((fp32["fold"] - fp32["reference"]).abs().max())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/frozen_latency.json"))
    a = ap.parse_args()
    torch.set_num_threads(2)
    bf16 = resolve_precision("auto") == "bf16"
    rows = [measure(r, a.reps, a.rounds, bf16) for r in a.runs]
    for r in rows:
        print(r["checkpoint"], r["objective"], r["median_ms"], r["max_abs_diff_vs_reference"],
              r["max_abs_diff_vs_reference_fp32"])
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                 "machine": describe_machine(), "bf16": bf16,
                                 "threads": 2, "reps": a.reps, "rounds": a.rounds, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
