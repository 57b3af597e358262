"""Shared fakes for tests and benchmarks of any family: stats, batches, a small in-memory dataset,
and ``test_dummy``, a tiny deterministic policy family for serving tests and the server-overhead
benchmark (importing this module registers it; it is never discovered on its own).

Everything is a pure function of its seed, so two calls build the same batch. Nothing
here touches the disk or a simulator; ``FakeDataset`` gives the trainer what a LeRobot
dataset would (vectorised ``get_batch``, ``epoch_indices``, ``action_chunks``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from vlaforge.core.config import PolicyConfig, StageSpec
from vlaforge.core.embodiment import EmbodimentSpec, get_embodiment
from vlaforge.core.keys import (
    ACTION, ACTION_IS_PAD, EMBODIMENT, FUTURE_PREFIX, HAS_ACTION, IMAGE_PREFIX, MAX_DIM, OBS_IS_PAD, STATE, TASK,
)
from vlaforge.core.normalize import Normalizer
from vlaforge.core.policy import Policy
from vlaforge.core.registry import register_family

SAWYER = "metaworld_sawyer"
TASKS = ("push the puck to the goal", "reach the red goal point", "pull the drawer open")
FUTURE_IS_PAD = "future.is_pad"
Batch = dict[str, Any]


def fake_stats(specs: Sequence[EmbodimentSpec]) -> dict:
    """Plausible non-trivial stats (both normalization modes) for every embodiment."""
    out = {}
    for s in specs:
        def key(d: int) -> dict:
            r = np.linspace(0.2, 0.6, d)
            return {"mean": (0.1 * r).tolist(), "std": r.tolist(), "q01": (-2 * r).tolist(), "q99": (2 * r).tolist(),
                    "min": (-3 * r).tolist(), "max": (3 * r).tolist()}
        out[s.name] = {STATE: key(s.state_dim), ACTION: key(s.action_dim)}
    return out


def fake_batch(config: PolicyConfig, specs: Sequence[EmbodimentSpec] | None = None, batch_size: int = 3,
               stage: StageSpec | None = None, seed: int = 0, action_free: Sequence[int] = ()) -> Batch:
    """A raw training batch for ``config``'s cameras/image size and ``stage``'s windows (default: the
    last stage, whose windows are the ones inference uses); rows in ``action_free`` are video-only samples (zero actions, ``has_action`` False).
    With several specs, rows cycle through them (a mixed-robot batch, actions padded to the widest)."""
    specs = list(specs or [get_embodiment(SAWYER)])
    stage = stage or config.stages()[-1]
    g = torch.Generator().manual_seed(seed)
    B, To, H = batch_size, stage.n_obs_steps, stage.chunk_size
    h, w = config.image_size
    names = [specs[i % len(specs)].name for i in range(B)]
    ds, da = max(s.state_dim for s in specs), max(s.action_dim for s in specs)
    b: Batch = {IMAGE_PREFIX + c: torch.randint(0, 256, (B, To, 3, h, w), dtype=torch.uint8, generator=g)
                for c in config.cameras}
    b[STATE] = torch.randn(B, To, ds, generator=g) * 0.3
    b[ACTION] = (torch.rand(B, H, da, generator=g) * 0.4 - 0.2).cumsum(1).clamp(-1, 1)
    b[ACTION_IS_PAD] = torch.zeros(B, H, dtype=torch.bool)
    b[ACTION_IS_PAD][-1, H // 2:] = True  # one sample ends mid-chunk
    b[OBS_IS_PAD] = torch.zeros(B, To, dtype=torch.bool)
    b[TASK] = [TASKS[i % len(TASKS)] for i in range(B)]
    b[EMBODIMENT] = names
    b[HAS_ACTION] = torch.ones(B, dtype=torch.bool)
    for i, spec in enumerate(specs[i % len(specs)] for i in range(B)):  # zero the padding of narrower robots
        b[STATE][i, :, spec.state_dim:] = 0
        b[ACTION][i, :, spec.action_dim:] = 0
    for i in action_free:
        b[HAS_ACTION][i] = False
        b[ACTION][i] = 0
        b[ACTION_IS_PAD][i] = True
    if stage.future_offsets:
        b[FUTURE_IS_PAD] = torch.zeros(B, len(stage.future_offsets), dtype=torch.bool)
        for c in config.cameras:
            b[FUTURE_PREFIX + c] = torch.randint(0, 256, (B, len(stage.future_offsets), 3, h, w), dtype=torch.uint8,
                                                 generator=g)
    return b


def observation(batch: Batch) -> Batch:
    """The inference part of a batch (no actions, no future frames)."""
    drop = (ACTION, ACTION_IS_PAD, HAS_ACTION, FUTURE_IS_PAD)
    return {k: v for k, v in batch.items() if k not in drop and not k.startswith(FUTURE_PREFIX)}


class FakeDataset(Dataset):
    """``n`` samples of ``fake_batch`` rows, drawn once; what the trainer reads from a LeRobot dataset."""

    def __init__(self, config: PolicyConfig, specs: Sequence[EmbodimentSpec] | None = None, n: int = 24,
                 stage: StageSpec | None = None, seed: int = 0, action_free: Sequence[int] = ()) -> None:
        self._b = fake_batch(config, specs, n, stage, seed, action_free)
        self.n = n

    def __len__(self) -> int:
        return self.n

    def get_batch(self, indices) -> Batch:
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        return {k: (v[idx] if torch.is_tensor(v) else [v[i] for i in idx.tolist()]) for k, v in self._b.items()}

    def __getitem__(self, i):
        if np.ndim(i) > 0:  # a list of indices: a collated batch (the trainer's fast path)
            return self.get_batch(i)
        batch = self.get_batch([int(i)])
        return {k: v[0] for k, v in batch.items()}

    def __getitems__(self, indices):
        batch = self.get_batch(indices)
        return [{k: v[j] for k, v in batch.items()} for j in range(len(indices))]

    def epoch_indices(self, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
        return np.random.default_rng([seed, epoch]).permutation(self.n) if shuffle else np.arange(self.n)

    def action_chunks(self) -> tuple[torch.Tensor, list[str], torch.Tensor]:
        return self._b[ACTION], list(self._b[EMBODIMENT]), self._b[HAS_ACTION]


def fake_train_data(config: PolicyConfig, specs: Sequence[EmbodimentSpec] | None = None, n: int = 24,
                    stage: str | None = None, seed: int = 0, action_free: Sequence[int] = ()):
    """``TrainData`` over a ``FakeDataset`` built for ``config``'s stage ``stage``."""
    from vlaforge.train.data import TrainData

    specs = list(specs or [get_embodiment(SAWYER)])
    ds = FakeDataset(config, specs, n, config.stage(stage), seed, action_free)
    return TrainData(ds, fake_stats(specs), specs, info={"sizes": [n], "roots": ["<fake>"]})


# ---- test_dummy: a deterministic policy for serving tests -----------------------------------
@dataclass
class DummyConfig(PolicyConfig):
    image_size: tuple[int, int] = (16, 16)
    chunk_size: int = 6
    n_action_steps: int = 3
    noise: float = 0.0
    gain: float = 1.0

    def create(self, normalizer, embodiments):
        return DummyPolicy(self, normalizer, embodiments)


register_family("test_dummy")(DummyConfig)


class DummyPolicy(Policy):
    def __init__(self, config, normalizer, embodiments):
        super().__init__(config, normalizer, embodiments)
        n_in = MAX_DIM + len(config.cameras) + 2
        self.proj = nn.Linear(n_in, config.chunk_size * MAX_DIM)

    def predict_action_chunk(self, obs, generator=None):
        state = obs[STATE]  # (B, To, Ds)
        b, h = state.shape[0], self.config.chunk_size
        idx = self.normalizer.index(obs[EMBODIMENT], b)
        s = self.normalizer.normalize(STATE, state, idx).mean(1)  # (B, 32): the whole history counts
        imgs = [obs[IMAGE_PREFIX + c].float().mean(dim=(1, 2, 3, 4)) / 255 for c in self.config.cameras]
        text = torch.tensor([zlib.crc32(t.encode()) % 1000 / 1000 for t in obs[TASK]])
        pad = obs.get(OBS_IS_PAD, torch.zeros(b, 1, dtype=torch.bool)).float().sum(1)
        x = torch.cat([s, torch.stack(imgs, 1), text[:, None], pad[:, None]], dim=1)
        y = self.proj(x).view(b, h, MAX_DIM) * self.config.gain  # (B, H, 32)
        if self.config.noise:
            y = y + self.config.noise * torch.randn(y.shape, generator=generator)
        if any(t == "__nan__" for t in obs[TASK]):
            y = y * float("nan")
        dim = self.embodiments[obs[EMBODIMENT][0]].action_dim
        return self.normalizer.unnormalize(ACTION, y, idx, dim)


def dummy_stats() -> dict:
    spec = get_embodiment("metaworld_sawyer")
    return {spec.name: {STATE: {"mean": [0.0, 0.6, 0.2, 0.5], "std": [0.1, 0.1, 0.1, 0.3]},
                        ACTION: {"mean": [0.0] * 4, "std": [0.1] * 4}}}


def make_dummy_policy(seed: int = 0, **overrides) -> DummyPolicy:
    torch.manual_seed(seed)
    spec = get_embodiment("metaworld_sawyer")
    cfg = DummyConfig(**overrides)
    return cfg.create(Normalizer(dummy_stats(), [spec], "mean_std"), [spec]).eval()


def make_dummy_checkpoint(path: Path, serving: dict | None = None, **overrides) -> Path:
    from vlaforge.core.checkpoint import save_checkpoint

    return save_checkpoint(path, make_dummy_policy(**overrides), serving=serving)


def client_obs(rng: np.random.Generator, size=(16, 16), prompt: str = "push the puck") -> dict:
    """One step in openpi client keys (HWC uint8 images)."""
    return {"observation/image": rng.integers(0, 256, (*size, 3), dtype=np.uint8),
            "observation/wrist_image": rng.integers(0, 256, (*size, 3), dtype=np.uint8),
            "observation/state": rng.normal(size=4).astype(np.float32), "prompt": prompt}


def to_batch_obs(obs: dict, cameras=("corner2", "gripperPOV")) -> dict:
    """Client keys -> batch-contract single step (what the evaluation runner hands a policy)."""
    out = {IMAGE_PREFIX + cameras[0]: torch.from_numpy(obs["observation/image"].transpose(2, 0, 1).copy())[None],
           IMAGE_PREFIX + cameras[1]: torch.from_numpy(obs["observation/wrist_image"].transpose(2, 0, 1).copy())[None],
           STATE: torch.from_numpy(obs["observation/state"].copy())[None],
           TASK: [obs["prompt"]], EMBODIMENT: ["metaworld_sawyer"]}
    return out
