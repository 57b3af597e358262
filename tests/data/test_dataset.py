"""Sample windows, pads at episode boundaries, action-free data, mixtures, collate."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from vlaforge.data.dataset import LeRobotDataset, MixtureDataset
from vlaforge.core.normalize import Normalizer
from vlaforge.data.stats import norm_stats_for
from vlaforge.embodiments import get_embodiment
from tests.data.conftest import LENGTHS


def test_windows_and_pads_at_episode_boundaries(labelled):
    root, eps = labelled
    ds = LeRobotDataset(root, n_obs_steps=3, obs_stride=2, chunk_size=8, future_offsets=(1, 4))
    start1 = LENGTHS[0]
    s = ds[start1 + 1]  # episode 1, frame 1: history frames -3, -1 are before the start
    assert s["observation.is_pad"].tolist() == [True, True, False]
    want_state = eps[1]["observation.state"][[0, 0, 1]]
    assert np.array_equal(s["observation.state"].numpy(), want_state)
    assert np.array_equal(s["action"].numpy(), eps[1]["action"][1:9]) and not s["action_is_pad"].any()
    last = LENGTHS[1] - 1
    s = ds[start1 + last - 2]  # 3 frames left in episode 1
    assert s["action_is_pad"].tolist() == [False] * 3 + [True] * 5
    assert np.array_equal(s["action"][3:].numpy(), np.repeat(eps[1]["action"][-1:], 5, 0))
    assert s["future.is_pad"].tolist() == [False, True]
    assert torch.equal(s["future.images.corner2"][1], ds[start1 + last]["observation.images.corner2"][-1])
    assert s["task"] == "task 1" and s["embodiment"] == "metaworld_sawyer" and bool(s["has_action"])
    assert (int(s["episode_index"]), int(s["frame_index"]), int(s["index"])) == (1, last - 2, start1 + last - 2)
    assert s["observation.images.gripperPOV"].shape == (3, 3, 16, 16)


def test_batch_path_equals_single_samples_and_default_collate(labelled):
    ds = LeRobotDataset(labelled[0], n_obs_steps=2, chunk_size=4)
    idx = [0, 11, 12, 40, 58]
    batch = ds[idx]
    collated = next(iter(DataLoader(torch.utils.data.Subset(ds, idx), batch_size=5)))
    direct = torch.utils.data.default_collate([ds[i] for i in idx])
    for k, v in batch.items():
        if torch.is_tensor(v):
            assert torch.equal(v, collated[k]) and torch.equal(v, direct[k]), k
        else:
            assert v == collated[k] == direct[k], k
    assert batch["observation.images.corner2"].dtype == torch.uint8 and batch["action"].shape == (5, 4, 4)


def test_video_path_equals_cache(labelled):
    kw = dict(n_obs_steps=2, chunk_size=4, future_offsets=(3,))
    a = LeRobotDataset(labelled[0], use_cache=True, **kw)[[0, 13, 30, 58]]
    b = LeRobotDataset(labelled[0], use_cache=False, **kw)[[0, 13, 30, 58]]
    for k in ("observation.images.corner2", "observation.images.gripperPOV", "future.images.corner2"):
        assert torch.equal(a[k], b[k]), k


def test_episode_subset_and_cameras(labelled):
    ds = LeRobotDataset(labelled[0], episodes=[2, 0], cameras=["gripperPOV"])
    assert len(ds) == LENGTHS[2] + LENGTHS[0]
    assert int(ds[0]["episode_index"]) == 2 and int(ds[LENGTHS[2]]["episode_index"]) == 0
    assert [k for k in ds[0] if k.startswith("observation.images")] == ["observation.images.gripperPOV"]


def test_action_free_dataset(action_free):
    root, eps = action_free
    ds = LeRobotDataset(root, n_obs_steps=2, chunk_size=5)
    assert not ds.meta.has_actions and "action" not in ds.meta.features and "observation.state" not in ds.meta.features
    s = ds[3]
    assert not bool(s["has_action"]) and bool(s["action_is_pad"].all()) and s["action"].shape == (5, 0)
    assert s["observation.images.corner2"].shape == (2, 3, 16, 16) and s["task"] == "task 0"
    assert norm_stats_for(ds.meta) == {"metaworld_sawyer": {}}


def test_mixture_of_labelled_and_action_free(labelled, action_free):
    a = LeRobotDataset(labelled[0], n_obs_steps=2, chunk_size=5)
    b = LeRobotDataset(action_free[0], n_obs_steps=2, chunk_size=5)
    mix = MixtureDataset([a, b], weights=[0.5, 0.5])
    assert len(mix) == len(a) + len(b)
    order = mix.epoch_indices(seed=0, epoch=0)
    assert np.array_equal(order, mix.epoch_indices(seed=0, epoch=0))
    frac_b = (order >= len(a)).mean()
    assert 0.3 < frac_b < 0.7  # b is 24 of 83 samples but drawn half the time
    batch = mix[[0, len(a) + 1, 5]]
    assert batch["has_action"].tolist() == [True, False, True]
    assert batch["action"].shape == (3, 5, 4) and float(batch["action"][1].abs().sum()) == 0
    assert batch["action_is_pad"][1].all() and batch["observation.state"].shape == (3, 2, 4)
    assert torch.equal(batch["action"][2], a[5]["action"])


def test_norm_stats_feed_the_normalizer(labelled):
    ds = LeRobotDataset(labelled[0], n_obs_steps=1, chunk_size=4)
    stats = norm_stats_for(ds.meta)
    norm = Normalizer(stats, [get_embodiment("metaworld_sawyer")], mode="quantile")
    batch = ds[list(range(len(ds)))]
    idx = norm.index(batch["embodiment"], len(ds))
    y = norm.normalize("action", batch["action"], idx)
    assert y.shape == (len(ds), 4, 32) and y[..., :4].abs().max() < 1.2 and y[..., 4:].abs().max() == 0
