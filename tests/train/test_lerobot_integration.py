"""The trainer over real LeRobot v3 datasets (written here, tiny): mixture, vectorised batches, exact resume."""

import os
import signal

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from vlaforge.data.lerobot import LeRobotDatasetWriter
from vlaforge.train.data import load_train_data
from vlaforge.train.trainer import train

from .conftest import tiny_config


def _write(root, n_eps: int, actions: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    w = LeRobotDatasetWriter(root, fps=80, robot_type="metaworld_sawyer", cameras=("corner2",),
                             image_size=(16, 16), overwrite=True)
    for e in range(n_eps):
        t = 12 + e
        ep = {"observation.images.corner2": rng.integers(0, 255, size=(t, 16, 16, 3), dtype=np.uint8)}
        if actions:
            ep["observation.state"] = rng.normal(size=(t, 4)).astype(np.float32)
            ep["action"] = rng.uniform(-1, 1, size=(t, 4)).astype(np.float32)
        w.add_episode(ep, task="push the puck")
    w.finalize()


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("lerobot")
    _write(base / "robot", 3, True, 0)
    _write(base / "video", 2, False, 1)
    return base / "robot", base / "video"


def _cfg(tmp_path, roots, **kw):
    cfg = tiny_config(tmp_path, steps=6, **kw)
    cfg.data.roots = (str(roots[0]),)
    cfg.data.action_free_roots = (str(roots[1]),)
    cfg.data.weights, cfg.data.action_free_weights = (3.0,), (1.0,)
    return cfg


def test_mixture_loads_with_stats_and_embodiment(tmp_path, roots):
    cfg = _cfg(tmp_path, roots)
    data = load_train_data(cfg.data, cfg.policy)
    assert [e.name for e in data.embodiments] == ["metaworld_sawyer"]
    assert set(data.norm_stats["metaworld_sawyer"]) == {"observation.state", "action"}
    assert data.info["weights"] == [3.0, 1.0] and len(data.info["sizes"]) == 2
    batch = data.dataset.get_batch(np.arange(len(data.dataset)))
    assert batch["has_action"].any() and not batch["has_action"].all()


def test_episodes_per_task_subsets_every_root(tmp_path, roots):
    cfg = _cfg(tmp_path, roots)
    full = load_train_data(cfg.data, cfg.policy)
    cfg.data.episodes_per_task = 1  # one task per root here: one episode each
    sub = load_train_data(cfg.data, cfg.policy)
    assert sub.info["episodes_per_task"] == 1
    assert all(0 < s < f for s, f in zip(sub.info["sizes"], full.info["sizes"]))
    first = [d.dataset.datasets[0] if hasattr(d.dataset, "datasets") else d.dataset for d in (sub, full)]
    assert set(np.unique(first[0]._data["episode_index"][first[0]._rows])) == {0}
    assert sub.norm_stats == full.norm_stats  # statistics of the whole dataset, whatever the subset
    cfg.data.episodes_per_task = 0
    with pytest.raises(ValueError, match="episodes_per_task must be >= 1"):
        load_train_data(cfg.data, cfg.policy)


def test_exact_resume_over_lerobot_mixture(tmp_path, roots):
    full = train(_cfg(tmp_path / "full", roots))

    def stop(trainer, _):
        if trainer.step == 2:
            os.kill(os.getpid(), signal.SIGINT)

    part = train(_cfg(tmp_path / "part", roots), callbacks=[stop])
    assert part.interrupted and part.step == 2
    resumed = train(_cfg(tmp_path / "part", roots, resume=True))
    a = load_file(str(full.checkpoint / "model.safetensors"))
    b = load_file(str(resumed.checkpoint / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
