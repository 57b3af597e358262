"""The transformer feed-forward block (dinov2's ``layers/mlp.py`` shape), and the zero-initialised linear."""

from __future__ import annotations

import torch
from torch import nn


def zero_linear(in_features: int, out_features: int) -> nn.Linear:
    """A linear whose weight and bias start at zero: a branch added to a network (FiLM, a read-out beside another)
    then starts as the network without it. Built as ``nn.Linear`` first, so the random draws of the modules created
    after it are the same as with a plain linear."""
    layer = nn.Linear(in_features, out_features)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class Mlp(nn.Module):
    """Linear -> GELU(tanh) -> dropout -> Linear -> dropout."""

    def __init__(self, dim: int, hidden: int, out_dim: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, out_dim or dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class SwiGLU(nn.Module):
    """Llama/Emu3 feed-forward: ``down(silu(gate(x)) * up(x))``, no biases by default."""

    def __init__(self, dim: int, hidden: int, out_dim: int | None = None, dropout: float = 0.0,
                 bias: bool = False) -> None:
        super().__init__()
        self.gate = nn.Linear(dim, hidden, bias=bias)
        self.up = nn.Linear(dim, hidden, bias=bias)
        self.down = nn.Linear(hidden, out_dim or dim, bias=bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.down(self.drop(nn.functional.silu(self.gate(x)) * self.up(x))))
