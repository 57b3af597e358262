"""Feature statistics in LeRobot's layout, and the bridge to ``Normalizer``.

Every stat dict holds min, max, mean, std, count and the quantiles q01, q10, q50,
q90, q99 (LeRobot's defaults). Low-dim features reduce over frames, giving (D,)
arrays; image features reduce per channel over sampled frames and pixels, scaled to
[0, 1], giving (3, 1, 1) arrays, as LeRobot stores them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from vlaforge.core.keys import ACTION, STATE
from vlaforge.data.errors import DatasetError

if TYPE_CHECKING:
    from vlaforge.data.lerobot import LeRobotDatasetMeta

QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}
STAT_NAMES = ("min", "max", "mean", "std", "count", *QUANTILES)
Stats = dict[str, np.ndarray]


def feature_stats(x: np.ndarray) -> Stats:
    """Stats over axis 0 of a (N, ...) array (exact quantiles)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]  # (N, 1): scalar features get (1,) stats, as LeRobot's
    out = {"min": x.min(0), "max": x.max(0), "mean": x.mean(0), "std": x.std(0),
           "count": np.array([x.shape[0]], dtype=np.int64)}
    qs = np.quantile(x, list(QUANTILES.values()), axis=0)  # (5, ...)
    out.update({k: qs[i] for i, k in enumerate(QUANTILES)})
    return out


def image_stats(frames: np.ndarray) -> Stats:
    """Per-channel stats in [0, 1] of uint8 (N, H, W, 3) frames -> (3, 1, 1) arrays; count = N."""
    n = frames.shape[0]
    px = frames.reshape(-1, frames.shape[-1])  # (N*H*W, 3)
    s = feature_stats(px.astype(np.float32) / 255.0)
    s = {k: v.reshape(-1, 1, 1) for k, v in s.items() if k != "count"}
    s["count"] = np.array([n], dtype=np.int64)
    return s


def aggregate_stats(parts: Sequence[Stats]) -> Stats:
    """Combine per-episode stats: exact mean/std/min/max, count-weighted quantiles (as LeRobot)."""
    counts = np.array([float(p["count"][0]) for p in parts])
    w = counts / counts.sum()
    shape = np.asarray(parts[0]["mean"]).shape
    wb = w.reshape((-1,) + (1,) * len(shape))
    means = np.stack([np.asarray(p["mean"], np.float64) for p in parts])
    mean = (wb * means).sum(0)
    var = (wb * (np.stack([np.asarray(p["std"], np.float64) for p in parts]) ** 2 + (means - mean) ** 2)).sum(0)
    out = {"min": np.min([p["min"] for p in parts], 0), "max": np.max([p["max"] for p in parts], 0),
           "mean": mean, "std": np.sqrt(var), "count": np.array([int(counts.sum())], dtype=np.int64)}
    for q in QUANTILES:
        out[q] = (wb * np.stack([np.asarray(p[q], np.float64) for p in parts])).sum(0)
    return out


def stats_to_json(stats: dict[str, Stats]) -> dict:
    return {k: {s: np.asarray(v).tolist() for s, v in d.items()} for k, d in stats.items()}


def stats_from_json(obj: dict) -> dict[str, Stats]:
    return {k: {s: np.atleast_1d(np.asarray(v)) for s, v in d.items()} for k, d in obj.items()}


def norm_stats_for(meta: "LeRobotDatasetMeta") -> dict[str, dict[str, dict[str, list[float]]]]:
    """``{embodiment: {"observation.state": {...}, "action": {...}}}`` as ``Normalizer`` takes it.

    Action-free datasets give an empty dict for their embodiment: there is nothing to
    normalize, and a policy must get its action stats from an action-labelled dataset.
    """
    if not meta.stats:
        raise DatasetError(f"dataset {meta.root} has no meta/stats.json; finalize the writer "
                           "(LeRobotDatasetWriter(root, resume=True).finalize() recomputes them)")
    per_key = {}
    for key in (STATE, ACTION):
        if key in meta.features:
            if key not in meta.stats:
                raise DatasetError(f"{meta.root}/meta/stats.json has no entry for {key!r}; recompute the stats "
                                   "with LeRobotDatasetWriter(root, resume=True).finalize()")
            per_key[key] = {s: np.asarray(v, np.float64).reshape(-1).tolist() for s, v in meta.stats[key].items()}
    return {meta.robot_type: per_key}


def merge_norm_stats(*parts: dict) -> dict:
    """Merge several ``norm_stats_for`` results; a later dataset of the same embodiment fills gaps only."""
    out: dict = {}
    for p in parts:
        for emb, keys in p.items():
            slot = out.setdefault(emb, {})
            for k, v in keys.items():
                slot.setdefault(k, v)
    return out
