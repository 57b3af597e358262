"""Observation history and the action-chunk queue: the closed-loop state every runner shares."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlaforge.core.history import ObsHistory
from vlaforge.core.keys import IMAGE_PREFIX, OBS_IS_PAD, STATE, TASK
from vlaforge.core.queue import ActionQueue


def step(t: int, b: int = 2) -> dict:
    return {STATE: torch.full((b, 4), float(t)), IMAGE_PREFIX + "cam": torch.full((b, 3, 2, 2), t, dtype=torch.uint8),
            TASK: ["go"] * b}


def test_history_is_strided_oldest_first_and_pads_the_episode_start():
    hist = ObsHistory(n_obs_steps=3, obs_stride=2)
    seen = [hist.push(step(t)) for t in range(7)]
    # at step t the frames are t-4, t-2, t, clamped to the episode's first frame (0)
    for t, out in enumerate(seen):
        want = [max(t - 4, 0), max(t - 2, 0), t]
        assert out[STATE].shape == (2, 3, 4) and out[STATE][0, :, 0].tolist() == want
        assert out[IMAGE_PREFIX + "cam"][1, :, 0, 0, 0].tolist() == want
        assert out[OBS_IS_PAD][0].tolist() == [t < 4, t < 2, False]
        assert out[TASK] == ["go", "go"]
    hist.reset()
    assert hist.push(step(9))[STATE][0, :, 0].tolist() == [9, 9, 9]
    with pytest.raises(ValueError):
        ObsHistory(0, 1)


def test_action_queue_takes_n_per_chunk():
    q: ActionQueue[np.ndarray] = ActionQueue(3)
    chunk = np.arange(10)[:, None] * np.ones((10, 2))
    q.fill(chunk)
    assert len(q) == 3 and [q.pop()[0] for _ in range(3)] == [0, 1, 2] and len(q) == 0
    q.n_action_steps = 20  # longer than the chunk: all of it
    q.fill(chunk[:4])
    assert len(q) == 4
    q.clear()
    q.n_action_steps = 0
    with pytest.raises(ValueError):
        q.fill(chunk)
