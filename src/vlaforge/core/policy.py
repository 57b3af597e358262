"""The policy interface every family implements (LeRobot-compatible names).

- ``forward(batch) -> (loss, logs)``: training loss on a raw batch (normalizes inside).
- ``predict_action_chunk(obs) -> (B, H, Da)``: raw-unit actions; ``obs`` has a ``To`` axis.
- ``select_action(obs) -> (B, Da)``: one step; ``obs`` has no time axis. Keeps an
  observation history and an action queue, so a closed loop just calls it every step.
- ``reset()``: clear both at the start of an episode.
- ``predict_future(obs)``: families with foresight or a world model.

Training stages: ``stages`` names them in order; ``set_stage(name)`` switches the
trainable set and losses; ``param_groups()`` gives the optimizer per-module
learning-rate multipliers; ``on_train_step(step)`` lets a family change what is
frozen on a schedule (X-VLA's ``freeze_steps``).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Sequence

import torch
from torch import nn

from vlaforge.core.config import PolicyConfig
from vlaforge.core.keys import EMBODIMENT, IMAGE_PREFIX, OBS_IS_PAD, STATE, TASK
from vlaforge.data.normalize import Normalizer
from vlaforge.embodiments import EmbodimentSpec

Batch = dict[str, Any]


class Policy(nn.Module):
    """Base class: the observation/action queues and the stage plumbing live here once."""

    stages: tuple[str, ...] = ("policy",)

    def __init__(self, config: PolicyConfig, normalizer: Normalizer, embodiments: Sequence[EmbodimentSpec]) -> None:
        super().__init__()
        self.config = config
        self.normalizer = normalizer
        self.embodiments = {e.name: e for e in embodiments}
        self.stage = self.stages[0]
        self._obs_hist: dict[str, deque] = {}
        self._actions: deque[torch.Tensor] = deque()
        self._n_seen = 0

    # ---- to implement -------------------------------------------------------
    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def predict_action_chunk(self, obs: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def predict_future(self, obs: Batch) -> dict[str, torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} has no foresight / world model")

    # ---- stages & optimisation ---------------------------------------------
    def set_stage(self, stage: str) -> None:
        if stage not in self.stages:
            raise ValueError(f"{type(self).__name__} has stages {self.stages}, not {stage!r}")
        self.stage = stage

    def param_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups: decay only on >=2-D weights; ``lr_scale`` per group (default 1)."""
        return decay_groups(self.named_parameters(), weight_decay)

    def on_train_step(self, step: int) -> None:
        """Hook for schedules that freeze or unfreeze modules by step."""

    def save_assets(self, directory) -> None:
        """Write tokenizer files etc. into a checkpoint directory."""

    def load_assets(self, directory) -> None:
        """Read what ``save_assets`` wrote."""

    def diagnostics(self) -> dict[str, int]:
        """Running counters a closed-loop evaluation should report (e.g. token-decode failures).
        The eval runner records each episode's change in them; families without any return {}."""
        return {}

    # ---- closed loop --------------------------------------------------------
    def reset(self) -> None:
        self._obs_hist.clear()
        self._actions.clear()
        self._n_seen = 0

    @torch.no_grad()
    def select_action(self, obs: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        """One action (B, Da) per call; re-plans every ``n_action_steps``."""
        stacked = self._push_history(obs)
        if not self._actions:
            chunk = self.predict_action_chunk(stacked, generator=generator)  # (B, H, Da)
            n = min(self.config.n_action_steps, chunk.shape[1])
            self._actions.extend(chunk[:, :n].transpose(0, 1))  # n x (B, Da)
        return self._actions.popleft()

    def _push_history(self, obs: Batch) -> Batch:
        """Append single-step tensors to per-key deques; return them stacked on a To axis.

        History steps before the episode start repeat the first frame and are
        flagged in ``observation.is_pad``, as the training loader does."""
        span = (self.config.n_obs_steps - 1) * self.config.obs_stride + 1
        out: Batch = {k: obs[k] for k in (TASK, EMBODIMENT) if k in obs}
        first = not self._obs_hist
        for k, v in obs.items():
            if not (k.startswith(IMAGE_PREFIX) or k == STATE):
                continue
            q = self._obs_hist.setdefault(k, deque(maxlen=span))
            if first:
                q.extend([v] * span)
            else:
                q.append(v)
            frames = list(q)[:: -self.config.obs_stride][::-1]  # oldest .. newest
            out[k] = torch.stack(frames, dim=1)  # (B, To, ...)
        self._n_seen = 1 if first else self._n_seen + 1
        b = next(iter(v for k, v in out.items() if torch.is_tensor(v))).shape[0]
        steps = torch.arange(self.config.n_obs_steps - 1, -1, -1) * self.config.obs_stride  # age of each step
        out[OBS_IS_PAD] = (steps >= self._n_seen).unsqueeze(0).expand(b, -1)
        return out


def decay_groups(named_params, weight_decay: float, lr_scale: float = 1.0) -> list[dict]:
    """nanoGPT's rule: weight decay only on parameters with dim >= 2 (matmuls, embeddings)."""
    decay, no_decay = [], []
    for _, p in named_params:
        if p.requires_grad or getattr(p, "_vlaforge_trainable_later", False):
            (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay, "lr_scale": lr_scale},
              {"params": no_decay, "weight_decay": 0.0, "lr_scale": lr_scale}]
    return [g for g in groups if g["params"]]
