"""Multi-head attention over PyTorch SDPA, the masks families build, a KV cache, rotary embedding.

Mask convention everywhere: a **bool** tensor broadcastable to ``(B, heads, N, Nk)``
with ``True`` = "this query may attend to this key" (SDPA's convention), or ``None``
for full attention. A query row with no allowed key yields zeros (not NaN) in
PyTorch >= 2.5's SDPA; padded queries should be ignored by the loss anyway.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


# ---- masks -------------------------------------------------------------------
def causal_mask(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(n, n) bool, lower triangular: token i sees tokens 0..i."""
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def cache_causal_mask(n_new: int, n_cached: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(n_new, n_cached + n_new) bool: new tokens see every cached token and causally each other."""
    cached = torch.ones(n_new, n_cached, dtype=torch.bool, device=device)
    return torch.cat([cached, causal_mask(n_new, device)], dim=1)


def block_mask(block_ids: torch.Tensor, causal_blocks: bool = True) -> torch.Tensor:
    """Blockwise-causal mask (pi0, InternVLA-A1): a token sees its own block and, if
    ``causal_blocks``, every earlier block; never a later one.

    ``block_ids``: (N,) or (B, N) non-decreasing ints. Returns (N, N) or (B, 1, N, N).
    With ``causal_blocks=False`` tokens see their own block only (block-diagonal).
    """
    q, k = block_ids.unsqueeze(-1), block_ids.unsqueeze(-2)  # (..., N, 1), (..., 1, N)
    mask = k <= q if causal_blocks else k == q
    return mask.unsqueeze(1) if block_ids.dim() == 2 else mask  # (B, 1, N, N) | (N, N)


def segment_ids(lengths: "list[int] | tuple[int, ...]", device: torch.device | str | None = None) -> torch.Tensor:
    """(N,) block id of every token for consecutive segments of ``lengths`` (0, 0, 1, 1, 1, 2, ...),
    the input of ``block_mask``: e.g. InternVLA-A1's [understanding | generation | state | actions]."""
    return torch.repeat_interleave(torch.arange(len(lengths), device=device),
                                   torch.as_tensor(list(lengths), device=device))


def padding_mask(key_is_pad: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Forbid attending to padded keys. ``key_is_pad``: (B, Nk) bool, True = padding.

    Returns (B, 1, 1, Nk), or ``mask`` AND-ed with it (broadcast to (B, 1, N, Nk))."""
    keep = (~key_is_pad.bool())[:, None, None, :]  # (B, 1, 1, Nk)
    return keep if mask is None else mask & keep


# ---- KV cache ----------------------------------------------------------------
class KVCache:
    """Per-layer keys and values (B, heads, L, head_dim) for autoregressive decoding
    and for prefix caching (compute a prefix once, reuse it across denoising steps).

    Read ``length`` *before* a forward pass (to build positions or masks for the new
    tokens); each layer appends its new keys/values as the pass goes through it.
    Set ``append = False`` to attend to the cache without growing it (e.g. flow
    steps over a cached prefix), or roll back with ``crop(length)``.

    ``capacity`` (static mode, for token-by-token decoding): each layer's keys and values live in buffers of that
    many positions, allocated once, and every step writes its new token into them in place, where the default
    concatenates (a copy of the whole cache per layer and token). ``keys`` / ``values`` are then views of the
    filled part; a buffer outgrown is replaced by one twice the size, so a wrong capacity costs speed, not results.
    """

    def __init__(self, capacity: int | None = None) -> None:
        if capacity is not None and capacity < 1:
            raise ValueError(f"KVCache capacity={capacity}: give the most tokens the cache will hold (prompt + "
                             "new tokens), or None to grow by concatenation")
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.append = True
        self.capacity = capacity
        self._buffers: list[tuple[torch.Tensor, torch.Tensor] | None] = []  # static mode: (B, nh, capacity, hs)

    @property
    def length(self) -> int:
        return self.keys[0].shape[2] if self.keys else 0

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return cached+new keys/values for ``layer``; store them unless ``append`` is off."""
        if layer > len(self.keys):
            raise IndexError(f"KVCache: layer {layer} updated before layer {len(self.keys)}; "
                             "give each Attention a distinct layer_idx in order")
        if self.append and self.capacity is not None:
            return self._write(layer, k, v)
        if layer == len(self.keys):
            if self.append:
                self.keys.append(k)
                self.values.append(v)
            return k, v
        k_all = torch.cat([self.keys[layer], k], dim=2)  # (B, nh, L + N, hs)
        v_all = torch.cat([self.values[layer], v], dim=2)
        if self.append:
            self.keys[layer], self.values[layer] = k_all, v_all
        return k_all, v_all

    def _write(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Static mode: the new keys / values into ``layer``'s buffers in place; (B, nh, L + N, hs) views back."""
        new_layer = layer == len(self.keys)
        n_old = 0 if new_layer else self.keys[layer].shape[2]
        n = n_old + k.shape[2]
        buf = None if new_layer or layer >= len(self._buffers) else self._buffers[layer]
        if buf is None or buf[0].shape[2] < n or buf[0].shape[:2] != k.shape[:2] or buf[0].dtype != k.dtype:
            cap = max(self.capacity, n if buf is None else 2 * n)
            buf = (k.new_empty(k.shape[0], k.shape[1], cap, k.shape[3]),
                   v.new_empty(v.shape[0], v.shape[1], cap, v.shape[3]))
            if n_old:  # the cache so far into the new buffers (after a reorder, or an outgrown buffer)
                buf[0][:, :, :n_old], buf[1][:, :, :n_old] = self.keys[layer], self.values[layer]
            self._buffers += [None] * (layer + 1 - len(self._buffers))
            self._buffers[layer] = buf
        buf[0][:, :, n_old:n], buf[1][:, :, n_old:n] = k, v
        k_all, v_all = buf[0][:, :, :n], buf[1][:, :, :n]  # views of the filled part
        if new_layer:
            self.keys.append(k_all)
            self.values.append(v_all)
        else:
            self.keys[layer], self.values[layer] = k_all, v_all
        return k_all, v_all

    def crop(self, length: int) -> None:
        """Drop everything after the first ``length`` tokens in every layer."""
        self.keys = [k[:, :, :length] for k in self.keys]
        self.values = [v[:, :, :length] for v in self.values]

    def reorder(self, index: torch.Tensor) -> None:
        """Select batch rows (beam search / dropping finished sequences)."""
        self.keys = [k.index_select(0, index) for k in self.keys]
        self.values = [v.index_select(0, index) for v in self.values]
        self._buffers = [None] * len(self._buffers)  # static mode: new buffers on the next write


# ---- rotary position embedding ----------------------------------------------
def rope_tables(positions: torch.Tensor, head_dim: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables (..., N, head_dim) for integer ``positions`` (N,) or (B, N).

    Pass the positions of the *new* tokens (offset by ``KVCache.length`` when decoding);
    cached keys were rotated when they were stored."""
    if head_dim % 2:
        raise ValueError(f"rotary embedding needs an even head_dim, got {head_dim}")
    inv = 1.0 / base ** (torch.arange(0, head_dim, 2, device=positions.device).float() / head_dim)
    ang = positions.float().unsqueeze(-1) * inv  # (..., N, hs/2)
    ang = torch.cat([ang, ang], dim=-1)  # (..., N, hs)
    return ang.cos(), ang.sin()


def apply_rope(x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Rotate (B, nh, N, hs) by tables (N, hs) or (B, N, hs)."""
    cos, sin = rope
    if cos.dim() == 3:
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)  # (B, 1, N, hs)
    x1, x2 = x.chunk(2, dim=-1)
    rotated = torch.cat([-x2, x1], dim=-1)
    return (x * cos + rotated * sin).to(x.dtype)


# ---- attention ---------------------------------------------------------------
class Attention(nn.Module):
    """Multi-head self-attention. ``layer_idx`` says which KV-cache slot it uses."""

    def __init__(self, dim: int, heads: int, qk_norm: bool = False, dropout: float = 0.0, layer_idx: int = 0,
                 kv_heads: int | None = None, bias: bool = True) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"Attention: dim {dim} is not divisible by heads {heads}")
        self.heads, self.head_dim, self.layer_idx = heads, dim // heads, layer_idx
        self.kv_heads = kv_heads or heads  # grouped-query attention (Llama/Emu3) when < heads
        if heads % self.kv_heads:
            raise ValueError(f"Attention: heads {heads} is not a multiple of kv_heads {self.kv_heads}")
        self.qkv = nn.Linear(dim, dim + 2 * self.kv_heads * self.head_dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)
        self.q_norm = nn.LayerNorm(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(self.head_dim) if qk_norm else nn.Identity()
        self.dropout = dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, kv_cache: KVCache | None = None,
                rope: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """x (B, N, D) -> (B, N, D). With ``kv_cache`` and no ``mask``, new tokens see all
        cached tokens and causally each other (autoregressive decoding)."""
        B, N, D = x.shape
        kv_dim = self.kv_heads * self.head_dim
        q, k, v = self.qkv(x).split([D, kv_dim, kv_dim], dim=-1)
        q = self.q_norm(q.view(B, N, self.heads, self.head_dim).transpose(1, 2))  # (B, nh, N, hs)
        k = self.k_norm(k.view(B, N, self.kv_heads, self.head_dim).transpose(1, 2))  # (B, nkv, N, hs)
        v = v.view(B, N, self.kv_heads, self.head_dim).transpose(1, 2)  # (B, nkv, N, hs)
        if rope is not None:
            q, k = apply_rope(q, rope), apply_rope(k, rope)
        is_causal = False
        if kv_cache is not None:
            n_cached = kv_cache.keys[self.layer_idx].shape[2] if self.layer_idx < len(kv_cache.keys) else 0
            k, v = kv_cache.update(self.layer_idx, k, v)  # (B, nh, L + N, hs)
            if mask is None and N > 1:
                if n_cached == 0:
                    is_causal = True
                else:
                    mask = cache_causal_mask(N, n_cached, x.device)
        _check_mask(mask, N, k.shape[2])
        dropout = self.dropout if self.training else 0.0
        if EXPLICIT_CPU_BF16 and q.device.type == "cpu" and q.dtype == torch.bfloat16 and dropout == 0.0:
            y = _explicit_attention(q, k, v, mask, is_causal)  # (B, nh, N, hs)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal, dropout_p=dropout,
                                               enable_gqa=self.kv_heads != self.heads)  # (B, nh, N, hs)
        y = y.transpose(1, 2).reshape(B, N, D)  # (B, N, D)
        return self.proj(y)


EXPLICIT_CPU_BF16 = True
"""bf16 attention on CPU without dropout runs ``_explicit_attention`` instead of SDPA (False: SDPA everywhere;
``benchmarks/profile_xvla.py`` measures both)."""


def _explicit_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
                        is_causal: bool) -> torch.Tensor:
    """softmax(q k^T / sqrt(hs)) v as three plain ops, the softmax in fp32. On CPU in bf16 SDPA's flash kernel
    took 21% of an X-VLA tiny training step at our sizes, almost all in its backward; with this path the step fell
    from 253 to 187 ms (``benchmarks/profile_xvla.py``, BENCHMARKS.md session 10). Same semantics as SDPA: bool
    ``mask`` True = may attend."""
    if k.shape[1] != q.shape[1]:  # grouped-query attention: share each kv head across its query heads
        rep = q.shape[1] // k.shape[1]
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    scores = (q @ k.transpose(-1, -2)).float() * q.shape[-1] ** -0.5  # (B, nh, N, Nk)
    if is_causal:
        mask = causal_mask(q.shape[2], q.device)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(-1).to(v.dtype) @ v


def _check_mask(mask: torch.Tensor | None, n: int, nk: int) -> None:
    if mask is None:
        return
    if mask.dtype != torch.bool:
        raise TypeError(f"attention mask must be bool (True = may attend), got {mask.dtype}")
    if mask.shape[-1] != nk or mask.shape[-2] not in (1, n):
        raise ValueError(f"attention mask of shape {tuple(mask.shape)} does not fit {n} queries x {nk} keys; "
                         f"expected (..., {n}, {nk}) (keys include cached tokens)")
