"""Tiny datasets for the data tests: a few episodes of 10-20 frames, 2 cameras at 16x16."""

from __future__ import annotations

import numpy as np
import pytest

from vlaforge.data.lerobot import LeRobotDatasetWriter

H = W = 16
CAMS = ("corner2", "gripperPOV")


def smooth_frames(t: int, seed: int, h: int = H, w: int = W) -> np.ndarray:
    """Smooth gradients that move with time: what a lossy codec reproduces closely."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    k = np.arange(t, dtype=np.float32)[:, None, None]
    r = 128 + 100 * np.sin(xx / 5 + k / 4 + seed)
    g = np.broadcast_to(yy * (200 / h) + 20, r.shape)
    b = 128 + 90 * np.cos((xx + yy) / 7 + seed - k / 6)
    return np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8)  # (T, H, W, 3)


def make_episode(t: int, seed: int, actions: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ep = {f"observation.images.{c}": smooth_frames(t, seed + 7 * i) for i, c in enumerate(CAMS)}
    if actions:
        ep["observation.state"] = rng.normal(size=(t, 4)).astype(np.float32)
        ep["action"] = rng.uniform(-1, 1, size=(t, 4)).astype(np.float32)
    return ep


LENGTHS = (12, 17, 10, 20)


def write_dataset(root, lengths=LENGTHS, actions: bool = True, episodes_per_file: int = 2, finalize: bool = True):
    w = LeRobotDatasetWriter(root, fps=80, robot_type="metaworld_sawyer", cameras=CAMS, image_size=(H, W),
                             episodes_per_file=episodes_per_file, overwrite=True)
    eps = []
    for e, t in enumerate(lengths):
        ep = make_episode(t, seed=e, actions=actions)
        w.add_episode(ep, task=f"task {e % 2}", extra={"seed": 100 + e, "env": "push-v3"})
        eps.append(ep)
    if finalize:
        w.finalize()
    return w, eps




@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    root = tmp_path_factory.mktemp("labelled") / "ds"
    _, eps = write_dataset(root)
    return root, eps


@pytest.fixture(scope="module")
def action_free(tmp_path_factory):
    root = tmp_path_factory.mktemp("video_only") / "ds"
    _, eps = write_dataset(root, lengths=(11, 13), actions=False)
    return root, eps
