"""``RemotePolicy``: a policy server behind the local policy interface, for ``vlaforge eval --server``.

The evaluation runner calls ``reset()`` and ``select_action(obs)`` with batch-contract
observations (``observation.images.<cam>`` uint8 (1, 3, H, W), ``observation.state`` (1, Ds),
``task`` [str], ``embodiment`` [name]); this adapter turns them into openpi client keys using
the key map the server announces, and hands out one action per step from each chunk.

Reproducing an in-process evaluation exactly: pass the same ``torch.Generator`` the in-process
run would pass to ``select_action(obs, generator=g)``. Its state travels with each request
(``rng_state``) and comes back advanced, so the server draws the very same noise. Without a
generator, ``seed`` (constructor or ``reset(seed=...)``) seeds the server's per-connection
generator at each episode start, equal to ``g = torch.Generator().manual_seed(seed)`` at reset.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vlaforge.core.queue import ActionQueue
from vlaforge.core.keys import EMBODIMENT, IMAGE_PREFIX, STATE, TASK
from vlaforge.serve import protocol
from vlaforge.serve.client import WebsocketClientPolicy


class RemotePolicy:
    """``reset()`` / ``select_action(obs) -> (1, Da)`` against ``ws://host:port``."""

    def __init__(self, url: str, n_action_steps: int | None = None, seed: int | None = None,
                 connect_timeout_s: float = 60.0, timeout_s: float | None = 120.0) -> None:
        self.url, self.seed = url, seed
        self._n_action_steps = n_action_steps
        self._timeouts = (connect_timeout_s, timeout_s)
        self._client: WebsocketClientPolicy | None = None
        self._actions: ActionQueue[np.ndarray] = ActionQueue(n_action_steps or 1)
        self._step = 0

    # ---- connection (lazy, so the object pickles into evaluation worker processes) -------------
    @property
    def client(self) -> WebsocketClientPolicy:
        if self._client is None:
            self._client = WebsocketClientPolicy(self.url, connect_timeout_s=self._timeouts[0],
                                                 timeout_s=self._timeouts[1])
        return self._client

    @property
    def metadata(self) -> dict:
        return self.client.get_server_metadata()

    @property
    def n_action_steps(self) -> int:
        return int(self._n_action_steps or self.metadata["n_action_steps"])

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_client": None}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # ---- policy interface ---------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        self._actions.clear()
        self._step = 0
        self.client.reset(seed=self.seed if seed is None else seed)

    def select_action(self, obs: dict[str, Any], generator: torch.Generator | None = None) -> torch.Tensor:
        """One action (1, Da) per call; asks the server for a chunk every ``n_action_steps``."""
        msg = self.to_client_obs(obs)
        if len(self._actions):
            if int(self.metadata.get("history_span", 1)) > 1:
                self.client.observe(msg)  # the server's history must see every step
        else:
            self._actions.n_action_steps = self.n_action_steps
            self._actions.fill(self._infer(msg, generator))  # (H, Da) -> the first n_action_steps
        self._step += 1
        return torch.from_numpy(self._actions.pop().copy()).unsqueeze(0)  # (1, Da)

    def _infer(self, msg: dict, generator: torch.Generator | None) -> np.ndarray:
        if generator is not None:
            msg[protocol.RNG_STATE] = generator.get_state().numpy()
        out = self.client.infer(msg)
        if generator is not None:
            generator.set_state(torch.from_numpy(np.array(out[protocol.RNG_STATE], dtype=np.uint8)))
        return np.asarray(out["actions"], dtype=np.float32)

    def to_client_obs(self, obs: dict[str, Any]) -> dict[str, Any]:
        """Batch-contract keys (batch of one) -> the server's client keys (HWC uint8 images)."""
        msg: dict[str, Any] = {}
        for client, dataset in self.metadata["keys"].items():
            if dataset not in obs:
                raise KeyError(f"observation lacks {dataset!r}, which the server expects as {client!r}; "
                               f"observation keys: {sorted(obs)}")
            msg[client] = _to_client_value(dataset, obs[dataset])
        if EMBODIMENT in obs:
            msg[protocol.EMBODIMENT] = _single(obs[EMBODIMENT], EMBODIMENT)
        return msg


def _to_client_value(key: str, v: Any) -> Any:
    if key == TASK:
        return _single(v, key)
    arr = v.detach().cpu().numpy() if torch.is_tensor(v) else np.asarray(v)
    if arr.shape[0] != 1:
        raise ValueError(f"RemotePolicy serves one environment per connection; {key!r} has batch {arr.shape[0]}")
    if key.startswith(IMAGE_PREFIX):
        return np.ascontiguousarray(arr[0].transpose(1, 2, 0)).astype(np.uint8)  # (3, H, W) -> (H, W, 3)
    if key == STATE:
        return arr[0].astype(np.float32)  # (Ds,)
    return arr[0]


def _single(v: Any, key: str) -> str:
    if isinstance(v, str):
        return v
    if len(v) != 1:
        raise ValueError(f"RemotePolicy serves one environment per connection; {key!r} has {len(v)} entries")
    return v[0]
