"""Rollout videos: all cameras side by side, upscaled with nearest-neighbour so a 64x64
observation stays crisp, encoded to MP4 with PyAV (through the data layer's encoder)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vlaforge.core.keys import IMAGE_PREFIX


def tile_cameras(obs: dict[str, np.ndarray], cameras: tuple[str, ...], scale: int = 1) -> np.ndarray:
    """One uint8 (H*scale, W*scale*n_cams, 3) frame from per-camera (H, W, 3) images."""
    row = np.concatenate([obs[f"{IMAGE_PREFIX}{c}"] for c in cameras], axis=1)  # (H, W*n, 3)
    if scale > 1:
        row = row.repeat(scale, axis=0).repeat(scale, axis=1)  # (H*s, W*n*s, 3)
    return row


def upscale_factor(height: int, target: int = 256) -> int:
    """Smallest integer factor that brings ``height`` to at least ``target`` pixels."""
    return max(1, -(-target // height))


def write_mp4(frames: np.ndarray | list[np.ndarray], path: str | os.PathLike, fps: int = 30) -> Path:
    """Write uint8 (T, H, W, 3) frames to ``path`` atomically (temporary name, then rename)."""
    from vlaforge.core.atomic import atomic_path
    from vlaforge.data.video import VideoEncoder

    frames = np.asarray(np.stack(frames) if isinstance(frames, list) else frames)
    if frames.ndim != 4 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"video frames must be uint8 (T, H, W, 3) with T > 0, got {frames.dtype} {frames.shape}")
    t, h, w, _ = frames.shape
    frames = frames[:, : h - h % 2, : w - w % 2]  # yuv420p needs even sizes
    path = Path(path)
    with atomic_path(path) as tmp:
        enc = VideoEncoder(tmp, fps=fps, height=frames.shape[1], width=frames.shape[2], codec="h264", crf=20)
        try:
            enc.write(np.ascontiguousarray(frames))
            enc.close()
        except BaseException:
            enc.abort()
            raise
    return path
