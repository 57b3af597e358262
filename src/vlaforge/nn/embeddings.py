"""Time and position embeddings."""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """(B,) scalars -> (B, dim) [cos | sin] features at geometric frequencies.

    For flow time in [0, 1], a small ``max_period`` (X-VLA uses 100) keeps the slowest
    frequency useful; DDPM-style integer steps use 10000.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]  # (B, half)
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class TimeEmbedding(nn.Module):
    """Sinusoidal features, optionally followed by an MLP to ``out_dim`` (DiT's t-embedder)."""

    def __init__(self, dim: int, out_dim: int | None = None, max_period: float = 10000.0) -> None:
        super().__init__()
        self.dim, self.max_period = dim, max_period
        self.mlp = (nn.Sequential(nn.Linear(dim, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim))
                    if out_dim else nn.Identity())

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(t, self.dim, self.max_period))


class LearnedPositionEmbedding(nn.Module):
    """A learned (max_len, dim) table added to the first N positions of a sequence."""

    def __init__(self, max_len: int, dim: int, std: float = 0.02) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, max_len, dim))
        nn.init.normal_(self.weight, std=std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        if n > self.weight.shape[1]:
            raise ValueError(f"sequence of {n} tokens exceeds the position table ({self.weight.shape[1]}); "
                             "raise max_seq_len in the model config or feed fewer/smaller images")
        return x + self.weight[:, :n].to(x.dtype)
