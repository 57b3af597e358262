"""A tiny test-only policy family ("test_dummy") and checkpoint helpers for the serving tests.

Deterministic given its inputs (state history, image means, prompt hash) plus optional noise
drawn from the generator it is given, so tests can compare server replies to in-process calls.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vlaforge.core.checkpoint import save_checkpoint
from vlaforge.core.config import PolicyConfig
from vlaforge.core.keys import ACTION, EMBODIMENT, IMAGE_PREFIX, MAX_DIM, OBS_IS_PAD, STATE, TASK
from vlaforge.core.policy import Policy
from vlaforge.core.registry import _FAMILIES, register_family
from vlaforge.data.normalize import Normalizer
from vlaforge.embodiments import get_embodiment


@dataclass
class DummyConfig(PolicyConfig):
    image_size: tuple[int, int] = (16, 16)
    chunk_size: int = 6
    n_action_steps: int = 3
    noise: float = 0.0
    gain: float = 1.0

    def create(self, normalizer, embodiments):
        return DummyPolicy(self, normalizer, embodiments)


if "test_dummy" not in _FAMILIES:
    register_family("test_dummy")(DummyConfig)
else:  # imported twice under two module names: reuse the first registration
    DummyConfig = _FAMILIES["test_dummy"]  # noqa: F811


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


def fake_stats() -> dict:
    spec = get_embodiment("metaworld_sawyer")
    return {spec.name: {STATE: {"mean": [0.0, 0.6, 0.2, 0.5], "std": [0.1, 0.1, 0.1, 0.3]},
                        ACTION: {"mean": [0.0] * 4, "std": [0.1] * 4}}}


def make_policy(seed: int = 0, **overrides) -> DummyPolicy:
    torch.manual_seed(seed)
    spec = get_embodiment("metaworld_sawyer")
    cfg = DummyConfig(**overrides)
    return cfg.create(Normalizer(fake_stats(), [spec], "mean_std"), [spec]).eval()


def make_checkpoint(path: Path, serving: dict | None = None, **overrides) -> Path:
    return save_checkpoint(path, make_policy(**overrides), serving=serving)


def make_obs(rng: np.random.Generator, size=(16, 16), prompt: str = "push the puck") -> dict:
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
