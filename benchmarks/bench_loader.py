"""Loader throughput: samples/s from video (no cache) and from the decoded-frame cache.

Settings as the MT10 protocol trains: 2-frame history, 2 cameras at 64x64, 16-step
chunks, main process (num_workers=0). Builds a synthetic dataset unless --dataset is
given. Writes benchmarks/results/loader.json.

    .venv/bin/python benchmarks/bench_loader.py [--dataset DIR] [--episodes 40 --length 150]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from vlaforge.core.machine import describe_machine
from vlaforge.data.dataset import LeRobotDataset, make_dataloader
from vlaforge.data.lerobot import LeRobotDatasetWriter

RESULTS = Path(__file__).parent / "results" / "loader.json"


def build_dataset(root: Path, episodes: int, length: int, seed: int = 0) -> float:
    """Smooth moving images (realistic for the codec) plus random low-dim data; returns seconds taken."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    t0 = time.perf_counter()
    w = LeRobotDatasetWriter(root, fps=80, robot_type="metaworld_sawyer", overwrite=True)
    for e in range(episodes):
        t = np.arange(length, dtype=np.float32)[:, None, None]
        cx, cy = 32 + 20 * np.sin(t / 20 + e), 32 + 20 * np.cos(t / 25 + e)
        blob = 255 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 60)  # (T, 64, 64)
        img = np.stack([blob, np.broadcast_to(xx * 4, blob.shape), np.broadcast_to(yy * 4, blob.shape)], -1)
        img = img.astype(np.uint8)
        w.add_episode({"observation.images.corner2": img, "observation.images.gripperPOV": img[:, ::-1].copy(),
                       "observation.state": rng.normal(size=(length, 4)).astype(np.float32),
                       "action": rng.uniform(-1, 1, size=(length, 4)).astype(np.float32)},
                      task=f"task {e % 10}", extra={"seed": e})
    w.finalize()
    return time.perf_counter() - t0


def measure(ds: LeRobotDataset, batch_size: int, seconds: float) -> float:
    loader = make_dataloader(ds, batch_size, shuffle=True, seed=0)
    n, t0 = 0, time.perf_counter()
    for batch in loader.forever():
        n += batch["action"].shape[0]
        if time.perf_counter() - t0 > seconds:
            break
    return n / (time.perf_counter() - t0)


def measure_default_collate(ds: LeRobotDataset, batch_size: int, seconds: float) -> float:
    """torch's own DataLoader (``__getitems__`` + default_collate), for comparison."""
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, drop_last=True)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for batch in loader:
            n += batch["action"].shape[0]
            if time.perf_counter() - t0 > seconds:
                break
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", type=Path, default=None)
    p.add_argument("--episodes", type=int, default=40)
    p.add_argument("--length", type=int, default=150)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args()
    torch.set_num_threads(1)
    tmp = None
    build_s = None
    if args.dataset is None:
        tmp = Path(tempfile.mkdtemp(prefix="vlaforge_bench_"))
        args.dataset = tmp / "ds"
        build_s = build_dataset(args.dataset, args.episodes, args.length)
    try:
        kw = dict(n_obs_steps=2, obs_stride=1, chunk_size=16, cameras=("corner2", "gripperPOV"))
        video = measure(LeRobotDataset(args.dataset, use_cache=False, **kw), args.batch_size, args.seconds)
        shutil.rmtree(args.dataset / ".cache", ignore_errors=True)
        t0 = time.perf_counter()
        cached_ds = LeRobotDataset(args.dataset, use_cache=True, **kw)
        cached_ds.frames()
        cache_build_s = time.perf_counter() - t0
        cached = measure(cached_ds, args.batch_size, args.seconds)
        collate = measure_default_collate(cached_ds, args.batch_size, args.seconds)
        result = {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": describe_machine(1) + ", main process",
            "dataset": str(args.dataset), "frames": cached_ds.meta.total_frames,
            "episodes": cached_ds.meta.total_episodes, "batch_size": args.batch_size,
            "settings": "n_obs_steps=2, 2 cameras 64x64, chunk 16",
            "write_s": build_s, "cache_build_s": round(cache_build_s, 3),
            "samples_per_s_video": round(video, 1), "samples_per_s_cache": round(cached, 1),
            "samples_per_s_cache_torch_default_collate": round(collate, 1),
        }
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"write {build_s and round(build_s, 2)} s for {result['frames']} frames; cache build {cache_build_s:.2f} s")
    print(f"from video: {video:,.0f} samples/s   from cache: {cached:,.0f} samples/s   "
          f"(cache via torch DataLoader + default_collate: {collate:,.0f})   -> {RESULTS}")


if __name__ == "__main__":
    main()
