"""The policy interface every family implements (LeRobot-compatible names).

- ``forward(batch) -> (loss, logs)``: training loss on a raw batch (normalizes inside).
- ``predict_action_chunk(obs) -> (B, H, Da)``: raw-unit actions; ``obs`` has a ``To`` axis.
- ``select_action(obs) -> (B, Da)``: one step; ``obs`` has no time axis. Keeps an
  observation history and an action queue, so a closed loop just calls it every step.
- ``reset()``: clear both at the start of an episode.
- ``predict_future(obs)``: families with foresight or a world model.

Stages come from the config (``PolicyConfig.stages()``): a policy is built in its last
(inference) stage; the trainer calls ``set_stage`` with the stage it trains, which sets
what trains from the stage's ``trains``/``frozen`` prefixes. ``param_groups()`` gives the
optimizer per-module learning-rate multipliers; ``on_train_step(step)`` lets a family
change what is frozen on a schedule (X-VLA's ``freeze_steps``); ``prepare(data)`` fits
data-dependent transforms (a FAST tokenizer) before the first step.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from vlaforge.core.config import PolicyConfig, StageSpec
from vlaforge.core.embodiment import EmbodimentSpec
from vlaforge.core.history import ObsHistory
from vlaforge.core.queue import ActionQueue
from vlaforge.core.normalize import Normalizer
from vlaforge.core.validate import BatchSpec, check_batch

Batch = dict[str, Any]


class Policy(nn.Module):
    """Base class: validation, the observation history, the action queue and stages live here once."""

    variable_obs_steps: bool = False
    """True for families that read any number of frames in training (world models)."""
    needs_state: bool = True
    """False for families that ignore proprioception (its key may then be absent)."""

    def __init__(self, config: PolicyConfig, normalizer: Normalizer, embodiments: Sequence[EmbodimentSpec]) -> None:
        super().__init__()
        self.config = config
        self.normalizer = normalizer
        self.embodiments = {e.name: e for e in embodiments}
        self.stage = config.stages()[-1].name
        self._history = ObsHistory(config.n_obs_steps, config.obs_stride)
        self._actions: ActionQueue[torch.Tensor] = ActionQueue(config.n_action_steps)

    @property
    def stages(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.config.stages())

    @property
    def stage_spec(self) -> StageSpec:
        return self.config.stage(self.stage)

    # ---- to implement -------------------------------------------------------
    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def predict_action_chunk(self, obs: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def predict_future(self, obs: Batch) -> dict[str, torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} has no foresight / world model")

    # ---- input checks -------------------------------------------------------
    def batch_spec(self, training: bool, any_frames: bool = False) -> BatchSpec:
        c = self.config
        n = self.stage_spec.n_obs_steps if training else c.n_obs_steps
        return BatchSpec(c.family, tuple(c.cameras), n, tuple(c.image_size), self.embodiments,
                         self.stage_spec.chunk_size if training else c.chunk_size, needs_state=self.needs_state,
                         variable_obs_steps=any_frames or (training and self.variable_obs_steps),
                         camera_map=tuple(c.camera_map))

    def check_batch(self, batch: Batch, training: bool, any_frames: bool = False) -> Batch:
        """See ``vlaforge.core.validate.check_batch``; every family calls this first.
        ``any_frames`` accepts any number of frames (a world model's context)."""
        return check_batch(batch, self.batch_spec(training, any_frames), training)

    # ---- stages & optimisation ---------------------------------------------
    def set_stage(self, stage: str) -> None:
        """Switch stage: parameters train when they match the stage's ``trains`` prefixes, not
        its ``frozen`` ones, and were not frozen for good (``freeze_module``)."""
        spec = self.config.stage(stage)
        self.stage = spec.name
        for name, p in self.named_parameters():
            trains = name.startswith(spec.trains) and not (spec.frozen and name.startswith(spec.frozen))
            p.requires_grad_(trains and not getattr(p, "_vlaforge_frozen", False))

    def param_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups: decay only on >=2-D weights; ``lr_scale`` per group (default 1)."""
        return decay_groups(self.named_parameters(), weight_decay)

    def on_train_step(self, step: int) -> None:
        """Hook for schedules that freeze or unfreeze modules by step."""

    def prepare(self, data) -> None:
        """Fit data-dependent transforms (e.g. an action tokenizer) on the training data
        (``vlaforge.train.data.TrainData``) before training; saved with the checkpoint."""

    def save_assets(self, directory) -> None:
        """Write tokenizer files etc. into a checkpoint directory."""

    def load_assets(self, directory) -> None:
        """Read what ``save_assets`` wrote."""

    def frozen_image_encoders(self) -> dict[str, nn.Module]:
        """Camera key -> frozen encoder (with ``feature_map``/``tokens``/``identity``) whose features the
        trainer may cache (``vlaforge.data.features``); the family then reads
        ``observation.features.<cam>`` in place of images. Default: none."""
        return {}

    def tokenizers(self) -> dict[str, Any]:
        """The family's trained tokenizers by name (e.g. 'image_vq', 'fast'), for tools."""
        return {}

    def diagnostics(self) -> dict[str, int]:
        """Running counters a closed-loop evaluation should report (e.g. token-decode failures).
        The eval runner records each episode's change in them; families without any return {}."""
        return {}

    # ---- closed loop --------------------------------------------------------
    def reset(self) -> None:
        self._history.reset()
        self._actions.clear()

    def observe(self, obs: Batch) -> Batch:
        """Add one step's observation to the history and return the stacked history (B, To, ...), without
        predicting: for callers that schedule their own chunk queries (the evaluation runner's temporal
        ensembling), so a multi-frame policy still sees every frame."""
        return self._history.push(obs)

    @torch.no_grad()
    def select_action(self, obs: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        """One action (B, Da) per call; re-plans every ``n_action_steps``."""
        stacked = self.observe(obs)
        if not len(self._actions):
            self._actions.n_action_steps = self.config.n_action_steps
            chunk = self.predict_action_chunk(stacked, generator=generator)  # (B, H, Da)
            self._actions.fill(chunk.transpose(0, 1))  # H x (B, Da)
        return self._actions.pop()


def freeze_module(module: nn.Module) -> None:
    """Freeze for good: no stage or schedule re-enables these parameters (a frozen pretrained encoder)."""
    for p in module.parameters():
        p.requires_grad_(False)
        p._vlaforge_frozen = True


def decay_groups(named_params, weight_decay: float, lr_scale: float = 1.0) -> list[dict]:
    """nanoGPT's rule: weight decay only on parameters with dim >= 2 (matmuls, embeddings)."""
    decay, no_decay = [], []
    for _, p in named_params:
        if p.requires_grad or getattr(p, "_vlaforge_trainable_later", False):
            (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay, "lr_scale": lr_scale},
              {"params": no_decay, "weight_decay": 0.0, "lr_scale": lr_scale}]
    return [g for g in groups if g["params"]]
