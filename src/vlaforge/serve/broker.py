"""Action-chunk broker: one action per control step from a chunk-predicting policy (numpy only).

Three ways to turn chunks into steps:

- ``"none"`` (openpi's ``ActionChunkBroker``): query, execute ``action_horizon`` actions, re-query.
- ``"ensemble"`` (ACT's temporal ensembling, UniVLA's exp(-0.1 i) blending): query every
  ``query_every`` steps and average every stored chunk's prediction for the current step with
  weights ``w_i = exp(-k * i)``, ``i = 0`` the oldest prediction (as ACT), so ``k > 0`` favours
  older, already-committed predictions and smooths; ``k < 0`` favours fresh ones.
- ``"blend"``: execute ``action_horizon`` actions per chunk, and over the first ``blend_steps``
  of a new chunk cross-fade linearly from the old chunk's leftover predictions, so re-planning
  never makes the arm jump.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal, Protocol

import numpy as np

from vlaforge.core.queue import ActionQueue

Smoothing = Literal["none", "ensemble", "blend"]


class ChunkPolicy(Protocol):
    def infer(self, obs: dict) -> dict: ...
    def reset(self, *args: Any, **kwargs: Any) -> None: ...


class ActionChunkBroker:
    """Wraps ``policy.infer(obs) -> {"actions": (H, D)}``; ``infer(obs)`` returns ``{"actions": (D,)}``."""

    def __init__(self, policy: ChunkPolicy, action_horizon: int, *, smoothing: Smoothing = "none",
                 ensemble_k: float = 0.01, query_every: int = 1, blend_steps: int | None = None,
                 observe_every_step: bool | None = None) -> None:
        if smoothing not in ("none", "ensemble", "blend"):
            raise ValueError(f"smoothing {smoothing!r}: use 'none', 'ensemble' or 'blend'")
        if action_horizon < 1 or query_every < 1:
            raise ValueError("action_horizon and query_every must be >= 1")
        self.policy, self.action_horizon, self.smoothing = policy, action_horizon, smoothing
        self.ensemble_k, self.query_every, self.blend_steps = ensemble_k, query_every, blend_steps
        self.observe_every_step = _needs_history(policy) if observe_every_step is None else observe_every_step
        self.reset_state()

    def reset_state(self) -> None:
        self._t = 0
        self._queue: ActionQueue[np.ndarray] = ActionQueue(self.action_horizon)
        self._chunks: deque[tuple[int, np.ndarray]] = deque()  # (start step, (H, D) chunk)
        self._leftover: np.ndarray | None = None  # old chunk's predictions for the coming steps

    def reset(self, *args: Any, **kwargs: Any) -> None:
        """New episode: forwards to the policy (e.g. ``seed=``) and drops every stored chunk."""
        self.policy.reset(*args, **kwargs)
        self.reset_state()

    def infer(self, obs: dict) -> dict:
        if self.smoothing == "ensemble":
            action = self._ensemble_step(obs)
        else:
            action = self._queue_step(obs)
        self._t += 1
        return {"actions": action}

    # ---- modes ----------------------------------------------------------------------------
    def _query(self, obs: dict) -> np.ndarray:
        chunk = np.asarray(self.policy.infer(obs)["actions"], dtype=np.float32)
        if chunk.ndim != 2 or chunk.shape[0] == 0:
            raise ValueError(f"policy returned actions of shape {chunk.shape}; expected (H, D) with H >= 1")
        return chunk  # (H, D)

    def _skip(self, obs: dict) -> None:
        if self.observe_every_step:
            self.policy.observe(obs)

    def _queue_step(self, obs: dict) -> np.ndarray:
        if len(self._queue):
            self._skip(obs)
            return self._queue.pop()
        chunk = self._query(obs)
        n = min(self.action_horizon, chunk.shape[0])
        steps = chunk.copy()
        if self.smoothing == "blend" and self._leftover is not None:
            steps = _crossfade(self._leftover, steps, self.blend_steps)
        self._leftover = chunk[n:] if n < chunk.shape[0] else None
        self._queue.fill(steps)
        return self._queue.pop()

    def _ensemble_step(self, obs: dict) -> np.ndarray:
        if self._t % self.query_every == 0:
            chunk = self._query(obs)
            self._chunks.append((self._t, chunk))
        else:
            self._skip(obs)
        while self._chunks and self._t - self._chunks[0][0] >= self._chunks[0][1].shape[0]:
            self._chunks.popleft()  # that chunk has no prediction for this step any more
        if not self._chunks:
            raise RuntimeError("no stored chunk covers this step: query_every exceeds the chunk length")
        preds = np.stack([c[self._t - t0] for t0, c in self._chunks])  # (N, D), oldest first
        w = ensemble_weights(len(preds), self.ensemble_k)  # (N,)
        return (w[:, None] * preds).sum(0).astype(np.float32)


def _crossfade(old: np.ndarray, new: np.ndarray, steps: int | None) -> np.ndarray:
    """Blend the first ``m`` new actions from the old chunk's predictions for the same steps."""
    m = min(len(old), len(new), len(old) if steps is None else steps)
    if m <= 0:
        return new
    alpha = (np.arange(1, m + 1, dtype=np.float32) / (m + 1))[:, None]  # (m, 1) ramps towards the new
    out = new.copy()
    out[:m] = (1 - alpha) * old[:m] + alpha * new[:m]
    return out


def _needs_history(policy: Any) -> bool:
    """A server whose policy stacks several frames must see every step's observation."""
    meta = policy.get_server_metadata() if hasattr(policy, "get_server_metadata") else {}
    return isinstance(meta, dict) and int(meta.get("history_span", 1)) > 1 and hasattr(policy, "observe")


def ensemble_weights(n: int, k: float) -> np.ndarray:
    """Normalized ``exp(-k i)`` weights for ``n`` overlapping predictions, oldest first."""
    w = np.exp(-k * np.arange(n, dtype=np.float64))
    return w / w.sum()
