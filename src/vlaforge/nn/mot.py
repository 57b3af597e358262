"""Mixture of Transformers (pi0, InternVLA-A1): experts with their own weights, one joint attention.

Every layer holds, per expert, its own norms, Q/K/V/O projections and MLP. The tokens of all
experts are concatenated for attention only: each expert projects its tokens into a shared
attention space (``heads x head_dim``, grouped-query with ``kv_heads``), one SDPA call runs over
the whole sequence under a blockwise mask, and each expert projects its own tokens back and
applies its own MLP. Experts may have different widths.

Prefix caching: ``forward(..., cache=PrefixCache())`` stores every layer's keys/values of the
segments it ran; a later call with ``cache`` attends to them without recomputing (used by
InternVLA-A1 to compute understanding + generation once per chunk and reuse them across the
flow-matching steps: exact, because the mask lets no earlier block see the later tokens).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vlaforge.nn.mlp import SwiGLU
from vlaforge.nn.transformer import init_weights, make_norm


@dataclass
class PrefixCache:
    """Per-layer keys and values (B, kv_heads, L, head_dim) of already computed segments."""

    keys: list[torch.Tensor] = field(default_factory=list)
    values: list[torch.Tensor] = field(default_factory=list)

    @property
    def length(self) -> int:
        return self.keys[0].shape[2] if self.keys else 0


class ExpertLayer(nn.Module):
    """One expert's weights in one layer (pre-norm, RMSNorm, SwiGLU, as Qwen)."""

    def __init__(self, dim: int, heads: int, kv_heads: int, head_dim: int, mlp_hidden: int, qk_norm: bool = True,
                 norm: str = "rms") -> None:
        super().__init__()
        self.norm1, self.norm2 = make_norm(norm, dim), make_norm(norm, dim)
        self.q = nn.Linear(dim, heads * head_dim, bias=False)
        self.kv = nn.Linear(dim, 2 * kv_heads * head_dim, bias=False)
        self.o = nn.Linear(heads * head_dim, dim, bias=False)
        self.q_norm = make_norm(norm, head_dim) if qk_norm else nn.Identity()
        self.k_norm = make_norm(norm, head_dim) if qk_norm else nn.Identity()
        self.mlp = SwiGLU(dim, mlp_hidden)
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim

    def qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, N, D) -> q (B, h, N, hd), k and v (B, kv, N, hd)."""
        B, N, _ = x.shape
        h = self.norm1(x)
        q = self.q_norm(self.q(h).view(B, N, self.heads, self.head_dim).transpose(1, 2))  # (B, h, N, hd)
        k, v = self.kv(h).view(B, N, 2, self.kv_heads, self.head_dim).unbind(2)  # (B, N, kv, hd) each
        return q, self.k_norm(k.transpose(1, 2)), v.transpose(1, 2)  # (B, kv, N, hd)

    def finish(self, x: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        """Residual attention output (B, N, h*hd) then the MLP."""
        x = x + self.o(attn)
        return x + self.mlp(self.norm2(x))


class MoT(nn.Module):
    """``depth`` layers of experts named in ``widths``; ``forward`` takes segments [(expert, tokens), ...]."""

    def __init__(self, widths: dict[str, int], depth: int, heads: int, head_dim: int, kv_heads: int | None = None,
                 mlp_ratio: float = 4.0, mlp_hidden: dict[str, int] | None = None, qk_norm: bool = True) -> None:
        super().__init__()
        kv_heads = kv_heads or heads
        if heads % kv_heads:
            raise ValueError(f"MoT: heads {heads} is not a multiple of kv_heads {kv_heads}")
        hidden = {e: (mlp_hidden or {}).get(e, int(w * mlp_ratio)) for e, w in widths.items()}
        self.layers = nn.ModuleList(
            nn.ModuleDict({e: ExpertLayer(w, heads, kv_heads, head_dim, hidden[e], qk_norm) for e, w in widths.items()})
            for _ in range(depth))
        self.final = nn.ModuleDict({e: make_norm("rms", w) for e, w in widths.items()})
        self.heads, self.kv_heads = heads, kv_heads
        self.apply(init_weights)

    def forward(self, segments: Sequence[tuple[str, torch.Tensor]], mask: torch.Tensor | None = None,
                cache: PrefixCache | None = None, store: bool = False) -> list[torch.Tensor]:
        """Segments' tokens in order -> their outputs. ``mask`` (N_new, N_cache + N_new) bool, True =
        may attend (None: full). With ``cache``, the new tokens also attend to the cached ones; with
        ``store``, this call's keys/values are appended to ``cache`` for later calls."""
        xs = [x for _, x in segments]
        names = [e for e, _ in segments]
        sizes = [x.shape[1] for x in xs]
        for i, layer in enumerate(self.layers):
            parts = [layer[e].qkv(x) for e, x in zip(names, xs)]
            q, k, v = (torch.cat([p[j] for p in parts], dim=2) for j in range(3))  # (B, h|kv, N, hd)
            if cache is not None and i < len(cache.keys):
                k_all, v_all = torch.cat([cache.keys[i], k], 2), torch.cat([cache.values[i], v], 2)
            else:
                k_all, v_all = k, v
            if store and cache is not None:
                cache.keys.append(k_all)
                cache.values.append(v_all)
            y = F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=mask,
                                               enable_gqa=self.kv_heads != self.heads)  # (B, h, N, hd)
            y = y.transpose(1, 2).flatten(2)  # (B, N, h*hd)
            outs = y.split(sizes, dim=1)
            xs = [layer[e].finish(x, o) for e, x, o in zip(names, xs, outs)]
        return [self.final[e](x) for e, x in zip(names, xs)]
