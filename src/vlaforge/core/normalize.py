"""Normalization of state and action, per embodiment, saved with every checkpoint.

Two modes, as the design brief asks: ``mean_std`` ((x - mean) / std) and
``quantile`` (q01..q99 mapped to -1..1, as UniVLA and pi0.5 do). State and action
are also zero-padded to ``MAX_DIM`` here, with a mask of real dims, so every
family sees one fixed width whatever the robot.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import torch
from torch import nn

from vlaforge.core.keys import ACTION, MAX_DIM, STATE
from vlaforge.core.embodiment import EmbodimentSpec

NormMode = Literal["mean_std", "quantile", "identity"]
_EPS = 1e-6


class Normalizer(nn.Module):
    """Holds per-embodiment stats as (E, MAX_DIM) buffers; not part of ``model.safetensors``.

    The stats are saved as ``norm_stats.json`` next to the weights, and a checkpoint
    without that file is refused at load: a policy must never run un-normalized.
    """

    def __init__(self, stats: dict[str, dict[str, dict[str, list[float]]]],
                 embodiments: Sequence[EmbodimentSpec], mode: NormMode = "mean_std") -> None:
        super().__init__()
        if mode not in ("mean_std", "quantile", "identity"):
            raise ValueError(f"normalization mode {mode!r}: use 'mean_std', 'quantile' or 'identity'")
        self.mode = mode
        self.stats = stats
        self.embodiments = {e.name: e for e in embodiments}
        self.names = [e.name for e in embodiments]
        missing = [n for n in self.names if n not in stats]
        if missing:
            raise ValueError(f"no normalization stats for embodiment(s) {missing}; compute them with "
                             "vlaforge.data.stats (a LeRobot dataset carries them in meta/stats.json)")
        for key in (STATE, ACTION):
            off, scale, mask = self._tables(key)
            tag = key.split(".")[-1]
            self.register_buffer(f"{tag}_offset", off, persistent=False)
            self.register_buffer(f"{tag}_scale", scale, persistent=False)
            self.register_buffer(f"{tag}_mask", mask, persistent=False)

    def _tables(self, key: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = len(self.names)
        off, scale, mask = torch.zeros(n, MAX_DIM), torch.ones(n, MAX_DIM), torch.zeros(n, MAX_DIM, dtype=torch.bool)
        for i, name in enumerate(self.names):
            spec = self.embodiments[name]
            dim = spec.state_dim if key == STATE else spec.action_dim
            mask[i, :dim] = True
            s = self.stats[name].get(key)
            if s is None or self.mode == "identity":
                continue
            if self.mode == "mean_std":
                o, sc = np.asarray(s["mean"]), np.asarray(s["std"])
            else:
                lo, hi = np.asarray(s["q01"]), np.asarray(s["q99"])
                o, sc = (hi + lo) / 2, (hi - lo) / 2
            off[i, :dim] = torch.as_tensor(o[:dim], dtype=torch.float32)
            scale[i, :dim] = torch.as_tensor(np.maximum(sc[:dim], _EPS), dtype=torch.float32)
        return off, scale, mask

    def index(self, embodiment: Sequence[str] | str, batch_size: int) -> torch.Tensor:
        """Embodiment names -> row indices (B,) into the stat tables."""
        names = [embodiment] * batch_size if isinstance(embodiment, str) else list(embodiment)
        try:
            idx = [self.names.index(n) for n in names]
        except ValueError:
            bad = sorted(set(names) - set(self.names))
            raise KeyError(f"embodiment(s) {bad} have no normalization stats in this policy "
                           f"(it knows {self.names}); fine-tune on data from that robot first") from None
        return torch.tensor(idx, dtype=torch.long, device=self.state_offset.device)

    def mask(self, key: str, idx: torch.Tensor) -> torch.Tensor:
        """(B, MAX_DIM) bool: which padded dims are real for each sample."""
        return getattr(self, f"{key.split('.')[-1]}_mask")[idx]

    def normalize(self, key: str, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Raw (B, ..., D) -> normalized and zero-padded (B, ..., MAX_DIM)."""
        tag = key.split(".")[-1]
        off, scale, mask = (getattr(self, f"{tag}_{n}")[idx] for n in ("offset", "scale", "mask"))
        x = pad_last(x.float(), MAX_DIM)
        shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (MAX_DIM,)
        y = (x - off.view(shape)) / scale.view(shape)
        return y * mask.view(shape)

    def unnormalize(self, key: str, y: torch.Tensor, idx: torch.Tensor, dim: int) -> torch.Tensor:
        """Normalized (B, ..., MAX_DIM) -> raw (B, ..., dim)."""
        tag = key.split(".")[-1]
        off, scale = (getattr(self, f"{tag}_{n}")[idx] for n in ("offset", "scale"))
        shape = (y.shape[0],) + (1,) * (y.dim() - 2) + (MAX_DIM,)
        return (y.float() * scale.view(shape) + off.view(shape))[..., :dim]

    def to_json(self) -> dict:
        return {"mode": self.mode, "stats": self.stats}


def pad_last(x: torch.Tensor, width: int) -> torch.Tensor:
    if x.shape[-1] > width:
        raise ValueError(f"last dim {x.shape[-1]} exceeds the padded width {width}")
    return torch.nn.functional.pad(x, (0, width - x.shape[-1]))
