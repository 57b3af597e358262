"""Vector quantization for the families that learn discrete codes (XR-1's UVMC, UniVLA's latent actions).

A thin wrapper over ``vector_quantize_pytorch.VectorQuantize`` (EMA codebook, commitment loss,
dead-code restart) that also returns the code logits, ``-||z - e_k||^2 / dim`` for every code ``k`` (the mean squared distance per dimension,
so the softmax is not one-hot by sheer dimensionality):
what an alignment loss between two codebooks (XR-1's KL) or a code classifier needs.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


class Quantized(NamedTuple):
    quantized: torch.Tensor  # (B, N, D) straight-through codes
    indices: torch.Tensor  # (B, N) long
    loss: torch.Tensor  # () commitment (the codebook itself moves by EMA)
    logits: torch.Tensor  # (B, N, K) negative squared distances to every code, per dimension


class Quantizer(nn.Module):
    def __init__(self, dim: int, codebook_size: int, commitment: float = 0.25, decay: float = 0.99,
                 dead_code_threshold: float = 2.0) -> None:
        super().__init__()
        from vector_quantize_pytorch import VectorQuantize

        self.vq = VectorQuantize(dim=dim, codebook_size=codebook_size, decay=decay, commitment_weight=commitment,
                                 threshold_ema_dead_code=dead_code_threshold)
        self.codebook_size = codebook_size

    def forward(self, z: torch.Tensor) -> Quantized:
        with torch.autocast(z.device.type, enabled=False):  # codebook distances in fp32
            z = z.float()
            book = self.vq.codebook.detach().clone()  # the codes z is assigned to (training then moves them by EMA)
            logits = -torch.cdist(z, book[None].expand(z.shape[0], -1, -1)) ** 2 / z.shape[-1]  # (B, N, K)
            q, idx, loss = self.vq(z)
        return Quantized(q, idx, loss.sum(), logits)

    def embed(self, indices: torch.Tensor) -> torch.Tensor:
        """Code indices (B, N) -> code vectors (B, N, D)."""
        return self.vq.codebook[indices]


def usage(indices: torch.Tensor, codebook_size: int) -> dict[str, float]:
    """Fraction of codes used and the perplexity of their histogram."""
    counts = torch.bincount(indices.reshape(-1).long(), minlength=codebook_size).float()
    p = counts / counts.sum().clamp_min(1)
    nz = p[p > 0]
    return {"code_usage": float((counts > 0).float().mean()), "perplexity": float(torch.exp(-(nz * nz.log()).sum()))}
