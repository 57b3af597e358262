"""A tiny test-only policy and a tiny synthetic dataset, so trainer tests need no other family or data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from vlaforge.core.config import PolicyConfig, StageSpec
from vlaforge.core.keys import (
    ACTION, ACTION_IS_PAD, EMBODIMENT, HAS_ACTION, IMAGE_PREFIX, MAX_DIM, OBS_IS_PAD, STATE, TASK,
)
from vlaforge.core.policy import Policy, decay_groups
from vlaforge.core.registry import register_family
from vlaforge.embodiments import get_embodiment
from vlaforge.train.config import DataConfig, OptimConfig, TrainConfig
from vlaforge.train.data import TrainData
from vlaforge.train.recipes import register_recipe

EMB = "metaworld_sawyer"
CAM = "corner2"


@register_family("tiny_test")
@dataclass
class TinyConfig(PolicyConfig):
    hidden: int = 16
    noise: float = 0.1
    """Input noise drawn from the global RNG, so exact resume must restore it."""
    prompt_lr_scale: float = 0.1
    cameras: tuple[str, ...] = (CAM,)
    image_size: tuple[int, int] = (8, 8)
    chunk_size: int = 4
    n_action_steps: int = 2
    text_encoder: str = "hash"

    def stages(self):
        return (StageSpec("policy", chunk_size=self.chunk_size, actions="optional"),
                StageSpec("head_only", chunk_size=self.chunk_size, trains=("head",)))

    def create(self, normalizer, embodiments):
        return TinyPolicy(self, normalizer, embodiments)


class TinyPolicy(Policy):

    def __init__(self, config: TinyConfig, normalizer, embodiments) -> None:
        super().__init__(config, normalizer, embodiments)
        h = config.hidden
        self.conv = nn.Sequential(nn.Conv2d(3, 4, kernel_size=4, stride=4), nn.AdaptiveAvgPool2d(2))  # (4, 2, 2)
        self.proj = nn.Linear(16 + MAX_DIM, h)
        self.norm = nn.LayerNorm(h)
        self.prompt = nn.Parameter(torch.zeros(h))
        self.head = nn.Linear(h, config.chunk_size * MAX_DIM)
        self.drop = nn.Dropout(0.1)
        self.steps_seen: list[int] = []

    def param_groups(self, weight_decay: float) -> list[dict]:
        body = [(n, p) for n, p in self.named_parameters() if n != "prompt" and p.requires_grad]
        groups = decay_groups(body, weight_decay)
        if self.prompt.requires_grad:
            groups += decay_groups([("prompt", self.prompt)], weight_decay, self.config.prompt_lr_scale)
        return groups

    def on_train_step(self, step: int) -> None:
        self.steps_seen.append(step)

    def _lazy_setup(self) -> None:
        """Stands in for a frozen text encoder loaded on first use: building it draws random
        init weights from the global RNG, which exact resume must not be thrown off by."""
        if "_frozen_text" not in self.__dict__:
            self.__dict__["_frozen_text"] = nn.Linear(4, 4)  # not a submodule: not in the checkpoint

    def _features(self, obs) -> tuple[torch.Tensor, torch.Tensor]:
        self._lazy_setup()
        b = obs[STATE].shape[0]
        idx = self.normalizer.index(obs[EMBODIMENT], b)
        state = self.normalizer.normalize(STATE, obs[STATE][:, -1], idx)  # (B, 32)
        if self.training and self.config.noise:
            state = state + self.config.noise * torch.randn_like(state)
        img = obs[IMAGE_PREFIX + CAM][:, -1].float() / 255.0  # (B, 3, h, w)
        f = self.conv(img).flatten(1)  # (B, 16)
        x = self.norm(self.proj(torch.cat([f, state], -1))) + self.prompt
        return self.drop(torch.relu(x)), idx

    def forward(self, batch):
        x, idx = self._features(batch)
        b, hc = x.shape[0], self.config.chunk_size
        pred = self.head(x).view(b, hc, MAX_DIM)  # (B, H, 32)
        target = self.normalizer.normalize(ACTION, batch[ACTION], idx)  # (B, H, 32)
        mask = self.normalizer.mask(ACTION, idx)[:, None, :] & ~batch[ACTION_IS_PAD][:, :, None]
        loss = ((pred.float() - target) ** 2 * mask).sum() / mask.sum().clamp(min=1)
        return loss, {"mse": loss.detach()}

    @torch.no_grad()
    def predict_action_chunk(self, obs, generator=None):
        x, idx = self._features(obs)
        pred = self.head(x).view(x.shape[0], self.config.chunk_size, MAX_DIM)
        return self.normalizer.unnormalize(ACTION, pred, idx, 4)


class SyntheticDataset(Dataset):
    """Episodes-free samples whose actions are a fixed function of state and image; light
    augmentation draws from the global torch RNG (the trainer must restore it on resume)."""

    def __init__(self, n: int = 48, chunk: int = 4, seed: int = 0, augment: bool = True) -> None:
        g = np.random.default_rng(seed)
        self.images = g.integers(0, 255, size=(n, 1, 3, 8, 8), dtype=np.uint8)
        self.state = g.normal(size=(n, 1, 4)).astype(np.float32) * 0.5 + 1.0
        w = g.normal(size=(4, 4)).astype(np.float32)
        base = self.state[:, 0] @ w + self.images[:, 0].mean(axis=(1, 2, 3))[:, None] / 255.0
        self.action = np.stack([base * (1 + 0.1 * t) for t in range(chunk)], 1).astype(np.float32)  # (N, H, 4)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.state)

    def __getitem__(self, i: int) -> dict:
        state = torch.from_numpy(self.state[i])
        if self.augment:
            state = state + 0.01 * torch.randn_like(state)
        return {IMAGE_PREFIX + CAM: torch.from_numpy(self.images[i]), STATE: state,
                ACTION: torch.from_numpy(self.action[i]),
                ACTION_IS_PAD: torch.zeros(self.action.shape[1], dtype=torch.bool),
                OBS_IS_PAD: torch.zeros(1, dtype=torch.bool), TASK: "do the thing", EMBODIMENT: EMB,
                HAS_ACTION: torch.tensor(True)}

    def norm_stats(self) -> dict:
        s = self.state.reshape(-1, 4)
        a = self.action.reshape(-1, 4)
        return {EMB: {STATE: {"mean": s.mean(0).tolist(), "std": s.std(0).tolist()},
                      ACTION: {"mean": a.mean(0).tolist(), "std": a.std(0).tolist()}}}


def tiny_data(n: int = 48, augment: bool = True) -> TrainData:
    ds = SyntheticDataset(n, augment=augment)
    return TrainData(ds, ds.norm_stats(), [get_embodiment(EMB)], info={"sizes": [n]})


def tiny_config(tmp_path, **kw) -> TrainConfig:
    cfg = TrainConfig(policy=TinyConfig(), data=DataConfig(batch_size=8, num_workers=0),
                      optim=OptimConfig(lr=1e-2, warmup_steps=2), steps=6, precision="fp32",
                      save_every=100, log_every=1, out_dir=str(tmp_path / "run"), num_threads=1,
                      progress=False, tensorboard=False)
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


@register_recipe("tiny_test_recipe")
def tiny_test_recipe() -> TrainConfig:
    """Test-only: the tiny synthetic policy (registered by tests/train/conftest.py)."""
    return TrainConfig(policy=TinyConfig(), data=DataConfig(roots=("data/none",), batch_size=8),
                       steps=5, out_dir="runs/tiny_test")




@register_family("tiny_ae_test")
@dataclass
class TinyAEConfig(PolicyConfig):
    """A non-policy model (an image autoencoder, as a VQ tokenizer would be) trained by the same loop."""

    cameras: tuple[str, ...] = (CAM,)
    codes: int = 8

    def create(self, normalizer, embodiments):
        return TinyAutoencoder(self, normalizer, embodiments)


class TinyAutoencoder(nn.Module):
    """Just what the trainer and ``save_checkpoint`` need: no select_action, no stages."""

    def __init__(self, config: TinyAEConfig, normalizer, embodiments) -> None:
        super().__init__()
        self.config, self.normalizer = config, normalizer
        self.embodiments = {e.name: e for e in embodiments}
        self.enc = nn.Conv2d(3, config.codes, 2, stride=2)
        self.dec = nn.ConvTranspose2d(config.codes, 3, 2, stride=2)

    def forward(self, batch):
        x = batch[IMAGE_PREFIX + CAM][:, -1].float() / 127.5 - 1  # (B, 3, h, w)
        rec = self.dec(torch.tanh(self.enc(x)))
        loss = ((rec - x) ** 2).mean()
        return loss, {"recon": loss.detach()}

    def param_groups(self, weight_decay: float):
        return decay_groups(self.named_parameters(), weight_decay)

    def save_assets(self, directory) -> None:
        (directory / "codebook.txt").write_text(str(self.config.codes))

    def load_assets(self, directory) -> None:
        assert (directory / "codebook.txt").read_text() == str(self.config.codes)
