"""Open-loop fit of an ALOHA policy on its own demonstrations: is a closed-loop failure a fitting failure?

For frames drawn from the dataset's episodes, the policy's predicted chunk (deterministic: noise seed 0) is
compared with the demonstrated one, per joint group (arm joints in radians, gripper opening 0..1), next to
a trivial baseline that holds the current joint state for the whole chunk. Writes ``results.json``.

    python benchmarks/aloha_openloop.py --checkpoint runs/xvla_tiny_aloha/checkpoints/last \
        --dataset data/aloha_64 --out benchmarks/results/aloha/xvla_tiny_openloop
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vlaforge.core.keys import ACTION, ACTION_IS_PAD, HAS_ACTION, STATE


@dataclass
class Args:
    checkpoint: str = "runs/xvla_tiny_aloha/checkpoints/last"
    dataset: str = "data/aloha_64"
    out: str = "benchmarks/results/aloha/xvla_tiny_openloop"
    samples: int = 256
    batch: int = 32
    seed: int = 0


def errors(pred: np.ndarray, true: np.ndarray, valid: np.ndarray, grip: list[int]) -> dict[str, float]:
    """Mean absolute error over valid chunk steps: arm joints (rad) and grippers (opening)."""
    arm = [i for i in range(true.shape[-1]) if i not in grip]
    err = np.abs(pred - true)[valid]  # (n_valid, D)
    return {"arm_mae_rad": float(err[:, arm].mean()), "gripper_mae": float(err[:, grip].mean())}


def main(argv: list[str] | None = None) -> int:
    import tyro

    from vlaforge.core.checkpoint import load_policy
    from vlaforge.data.dataset import LeRobotDataset

    a = tyro.cli(Args, args=argv)
    torch.set_num_threads(2)
    policy = load_policy(a.checkpoint).eval()
    cfg = policy.config
    ds = LeRobotDataset(a.dataset, n_obs_steps=cfg.n_obs_steps, chunk_size=cfg.chunk_size, cameras=cfg.cameras)
    spec = policy.embodiments[ds.meta.robot_type]
    idx = np.random.default_rng(a.seed).choice(len(ds), size=min(a.samples, len(ds)), replace=False)
    per_task: dict[str, dict[str, list]] = {}
    t0 = time.perf_counter()
    for s in range(0, len(idx), a.batch):
        b = ds.get_batch(idx[s:s + a.batch])
        obs = {k: v for k, v in b.items() if k not in (ACTION, ACTION_IS_PAD, HAS_ACTION)}
        with torch.no_grad():
            pred = policy.predict_action_chunk(obs, generator=torch.Generator().manual_seed(0)).numpy()
        true, valid = b[ACTION].numpy()[..., :spec.action_dim], ~b[ACTION_IS_PAD].numpy()
        hold = np.repeat(b[STATE].numpy()[:, -1:, :spec.action_dim], true.shape[1], axis=1)  # (B, H, D)
        for i, task in enumerate(b["task"]):
            d = per_task.setdefault(task, {"pred": [], "true": [], "valid": [], "hold": []})
            for k, v in (("pred", pred), ("true", true), ("valid", valid), ("hold", hold)):
                d[k].append(v[i])
    grip = list(spec.gripper_dims)
    out = {"checkpoint": a.checkpoint, "dataset": a.dataset, "samples": int(len(idx)), "chunk_size": cfg.chunk_size,
           "seconds": round(time.perf_counter() - t0, 1), "date": time.strftime("%Y-%m-%d %H:%M"), "tasks": {}}
    for task, d in per_task.items():
        p, t, v, h = (np.stack(d[k]) for k in ("pred", "true", "valid", "hold"))
        out["tasks"][task] = {"n": int(len(p)), "policy": errors(p, t, v, grip), "hold_state": errors(h, t, v, grip)}
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "results.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out["tasks"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
