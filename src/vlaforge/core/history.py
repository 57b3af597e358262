"""Observation history: the frames a policy sees at step t, the same wherever it runs.

Used by ``Policy.select_action`` and by the policy server (one history per connection);
its twin, the action-chunk queue, is ``vlaforge.core.queue.ActionQueue``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import torch

from vlaforge.core.keys import EMBODIMENT, IMAGE_PREFIX, OBS_IS_PAD, STATE, TASK


class ObsHistory:
    """``n_obs_steps`` frames ``obs_stride`` apart, oldest first, as the training loader builds them.

    ``push`` takes one step's tensors (B, ...) and returns them stacked (B, To, ...). Steps
    before the episode start repeat the first frame and are flagged in ``observation.is_pad``."""

    def __init__(self, n_obs_steps: int, obs_stride: int) -> None:
        if n_obs_steps < 1 or obs_stride < 1:
            raise ValueError(f"n_obs_steps ({n_obs_steps}) and obs_stride ({obs_stride}) must be >= 1")
        self.n_obs_steps, self.obs_stride = n_obs_steps, obs_stride
        self.span = (n_obs_steps - 1) * obs_stride + 1
        self.reset()

    def reset(self) -> None:
        self._frames: dict[str, deque] = {}
        self._n_seen = 0

    def push(self, obs: dict[str, Any]) -> dict[str, Any]:
        first = not self._frames
        out: dict[str, Any] = {k: obs[k] for k in (TASK, EMBODIMENT) if k in obs}
        for k, v in obs.items():
            if not (k.startswith(IMAGE_PREFIX) or k == STATE):
                continue
            q = self._frames.setdefault(k, deque(maxlen=self.span))
            q.extend([v] * self.span if first else [v])
            out[k] = torch.stack(list(q)[:: -self.obs_stride][::-1], dim=1)  # (B, To, ...) oldest .. newest
        self._n_seen = 1 if first else self._n_seen + 1
        b = next((v.shape[0] for k, v in out.items() if torch.is_tensor(v)), 1)
        ages = torch.arange(self.n_obs_steps - 1, -1, -1) * self.obs_stride  # (To,) age of each step
        out[OBS_IS_PAD] = (ages >= self._n_seen).unsqueeze(0).expand(b, -1)  # (B, To)
        return out
