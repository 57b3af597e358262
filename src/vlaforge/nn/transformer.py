"""Pre-LN transformer over PyTorch SDPA: ``x + attn(ln(x))``, then ``x + mlp(ln(x))``.

One stack serves every family: bidirectional (X-VLA, no mask), blockwise-causal
(InternVLA-A1, ``block_mask``) and autoregressive with a ``KVCache`` (UniVLA-AR).
The attention API is re-exported so ``from vlaforge.nn.transformer import ...`` is enough.

``cond_dim`` adds a per-sample condition to every block (DiT's adaLN, without the gates): a zero-initialised
linear of ``cond`` (B, cond_dim) gives a shift and a scale for each of the block's two LayerNorm outputs, so every
token in every layer is modulated by it, and at step 0 the network is the unconditioned one.
"""

from __future__ import annotations

import torch
from torch import nn

from vlaforge.nn.attention import (  # noqa: F401  (re-exported)
    Attention,
    KVCache,
    apply_rope,
    block_mask,
    segment_ids,
    cache_causal_mask,
    causal_mask,
    padding_mask,
    rope_tables,
)
from vlaforge.nn.mlp import Mlp, SwiGLU


def make_norm(kind: str, dim: int) -> nn.Module:
    """'layer' (LayerNorm) or 'rms' (RMSNorm, Llama/Emu3)."""
    if kind == "layer":
        return nn.LayerNorm(dim)
    if kind == "rms":
        return nn.RMSNorm(dim, eps=1e-6)
    raise ValueError(f"norm {kind!r}: use 'layer' or 'rms'")


class Block(nn.Module):
    """One pre-LN transformer block. The defaults are the ViT/GPT-2 block; ``kv_heads``,
    ``mlp='swiglu'``, ``norm='rms'`` and ``bias=False`` give the Llama/Emu3 block."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0,
                 qk_norm: bool = False, layer_idx: int = 0, kv_heads: int | None = None,
                 mlp: str = "gelu", mlp_hidden: int | None = None, norm: str = "layer", bias: bool = True,
                 cond_dim: int | None = None) -> None:
        super().__init__()
        hidden = mlp_hidden or int(dim * mlp_ratio)
        self.modulation = nn.Linear(cond_dim, 4 * dim) if cond_dim else None  # zeroed by Transformer
        self.norm1 = make_norm(norm, dim)
        self.attn = Attention(dim, heads, qk_norm=qk_norm, dropout=dropout, layer_idx=layer_idx,
                              kv_heads=kv_heads, bias=bias)
        self.norm2 = make_norm(norm, dim)
        if mlp == "gelu":
            self.mlp = Mlp(dim, hidden, dropout=dropout)
        elif mlp == "swiglu":
            self.mlp = SwiGLU(dim, hidden, dropout=dropout, bias=bias)
        else:
            raise ValueError(f"mlp {mlp!r}: use 'gelu' or 'swiglu'")

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, kv_cache: KVCache | None = None,
                rope: tuple[torch.Tensor, torch.Tensor] | None = None, cond: torch.Tensor | None = None
                ) -> torch.Tensor:
        h1, h2 = self.norm1, self.norm2
        if self.modulation is not None:
            if cond is None:
                raise ValueError("Block built with cond_dim needs cond (B, cond_dim) in forward")
            shift1, scale1, shift2, scale2 = self.modulation(cond.to(x.dtype))[:, None].chunk(4, dim=-1)  # (B, 1, D)
            h1 = lambda t: self.norm1(t) * (1 + scale1) + shift1  # noqa: E731
            h2 = lambda t: self.norm2(t) * (1 + scale2) + shift2  # noqa: E731
        x = x + self.attn(h1(x), mask=mask, kv_cache=kv_cache, rope=rope)
        return x + self.mlp(h2(x))


class Transformer(nn.Module):
    """``depth`` pre-LN blocks and an optional final LayerNorm. (B, N, D) -> (B, N, D)."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0,
                 final_norm: bool = True, qk_norm: bool = False, **block_kw) -> None:
        """``block_kw``: ``kv_heads``, ``mlp``, ``mlp_hidden``, ``norm``, ``bias``, ``cond_dim`` (see ``Block``)."""
        super().__init__()
        self.blocks = nn.ModuleList(
            Block(dim, heads, mlp_ratio, dropout, qk_norm=qk_norm, layer_idx=i, **block_kw) for i in range(depth))
        self.norm = make_norm(block_kw.get("norm", "layer"), dim) if final_norm else nn.Identity()
        self.apply(init_weights)
        for block in self.blocks:  # adaLN starts as the identity modulation
            if block.modulation is not None:
                nn.init.zeros_(block.modulation.weight)
                nn.init.zeros_(block.modulation.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, kv_cache: KVCache | None = None,
                rope: tuple[torch.Tensor, torch.Tensor] | None = None, cond: torch.Tensor | None = None
                ) -> torch.Tensor:
        """``cond`` (B, cond_dim): the per-sample condition of a stack built with ``cond_dim``."""
        for block in self.blocks:
            x = block(x, mask=mask, kv_cache=kv_cache, rope=rope, cond=cond)
        return self.norm(x)


def init_weights(m: nn.Module) -> None:
    """Truncated-normal(0.02) linears with zero bias, unit LayerNorms (ViT / GPT-2 practice)."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm) and m.elementwise_affine:
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
