"""Frame cache build and invalidation; exact loader resume."""

from __future__ import annotations

import shutil

import numpy as np
import torch

from vlaforge.data.cache import COMPLETE, cache_dir_for
from vlaforge.data.dataset import LeRobotDataset, MixtureDataset, make_dataloader
from vlaforge.data.lerobot import LeRobotDatasetWriter
from tests.data.conftest import CAMS, make_episode


def test_cache_builds_once_and_rebuilds_when_the_dataset_changes(labelled, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(labelled[0], root, ignore=shutil.ignore_patterns(".cache"))
    ds = LeRobotDataset(root)
    d = cache_dir_for(ds.meta)
    assert not d.exists()
    first = ds[5]["observation.images.corner2"]
    files = {p.name: p.stat().st_mtime_ns for p in d.iterdir()}
    assert COMPLETE in files and f"observation.images.{CAMS[0]}.npy" in files
    arr = np.load(d / "observation.images.corner2.npy", mmap_mode="r")
    assert arr.shape == (ds.meta.total_frames, 3, 16, 16) and arr.dtype == np.uint8
    again = LeRobotDataset(root)
    assert torch.equal(again[5]["observation.images.corner2"], first)
    assert {p.name: p.stat().st_mtime_ns for p in d.iterdir()} == files  # reused, not rebuilt

    w = LeRobotDatasetWriter(root, fps=80, robot_type="metaworld_sawyer", cameras=CAMS, image_size=(16, 16),
                             resume=True)
    new_ep = make_episode(6, seed=9)
    w.add_episode(new_ep, task="task 9")
    w.finalize()
    ds2 = LeRobotDataset(root)
    d2 = cache_dir_for(ds2.meta)
    assert d2 != d
    last = ds2[len(ds2) - 1]["observation.images.corner2"][-1].numpy().astype(int)
    assert np.abs(last - new_ep["observation.images.corner2"][-1].transpose(2, 0, 1)).mean() < 10
    assert not d.exists() and d2.exists()  # the stale cache was removed


def _ids(batches):
    return [b["index"].tolist() for b in batches]


def test_loader_resumes_exactly(labelled):
    ds = LeRobotDataset(labelled[0], n_obs_steps=1, chunk_size=2)
    ref = make_dataloader(ds, batch_size=8, shuffle=True, seed=7)  # 59 samples -> 7 batches per epoch
    it = ref.forever()
    full = [next(it) for _ in range(12)]
    assert len(ref) == 7

    a = make_dataloader(ds, batch_size=8, shuffle=True, seed=7)
    it = a.forever()
    for _ in range(9):
        next(it)
    state = a.state_dict()
    assert state == {"epoch": 1, "position": 2, "seed": 7}
    b = make_dataloader(ds, batch_size=8, shuffle=True, seed=7)
    b.load_state_dict(state)
    it = b.forever()
    assert _ids([next(it) for _ in range(3)]) == _ids(full[9:12])
    c = make_dataloader(ds, batch_size=8, shuffle=True, seed=7, start_step=9)
    assert _ids([next(c.forever())]) == _ids(full[9:10])
    # epochs differ in order, seeds differ in order, one epoch covers 56 distinct samples
    epoch0 = sum(_ids(full[:7]), [])
    assert len(set(epoch0)) == 56 and epoch0 != sum(_ids(full[7:12]), [])[:56]
    other = make_dataloader(ds, batch_size=8, shuffle=True, seed=8)
    assert _ids([next(other.forever())]) != _ids(full[:1])


def test_loader_with_workers_and_mixture(labelled, action_free):
    a = LeRobotDataset(labelled[0], n_obs_steps=2, chunk_size=4)
    b = LeRobotDataset(action_free[0], n_obs_steps=2, chunk_size=4)
    mix = MixtureDataset([a, b], weights=[3, 1])
    main = _ids(list(make_dataloader(mix, batch_size=16, seed=1)))
    workers = make_dataloader(mix, batch_size=16, seed=1, num_workers=1)
    batches = list(workers)
    assert _ids(batches) == main and workers.state_dict()["epoch"] == 1
    assert batches[0]["observation.images.corner2"].shape == (16, 2, 3, 16, 16)
