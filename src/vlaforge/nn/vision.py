"""From-scratch vision stems that turn one camera image into a few tokens.

Few tokens per view is the main lever on CPU training speed (a transformer's cost
grows with its token count), so the default is a small conv stem: four stride-2
stages take 64x64 pixels to a 4x4 grid, 16 tokens per view.

Images enter as uint8 (B, 3, H, W) (or float in [0, 1]) and are mapped to [-1, 1]
inside, so callers never normalize pixels themselves.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def to_signed_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] or float [0, 1] -> float [-1, 1]."""
    if images.dtype == torch.uint8:
        return images.float() / 127.5 - 1.0
    if not images.is_floating_point():
        raise TypeError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
    return images.float() * 2.0 - 1.0


def random_shift(x: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """DrQ / diffusion-policy augmentation: replicate-pad by ``pad`` pixels, then crop back
    at an integer offset drawn per sample. (B, C, H, W) -> (B, C, H, W)."""
    if pad <= 0:
        return x
    B, C, H, W = x.shape
    xp = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    dev = generator.device if generator is not None else x.device
    off = torch.randint(0, 2 * pad + 1, (B, 2), generator=generator, device=dev).to(x.device)
    rows = off[:, :1] + torch.arange(H, device=x.device)  # (B, H)
    cols = off[:, 1:] + torch.arange(W, device=x.device)  # (B, W)
    b = torch.arange(B, device=x.device)[:, None, None]
    out = xp.permute(0, 2, 3, 1)[b, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


class PatchStem(nn.Module):
    """ViT patchify: Conv2d(kernel = stride = patch). (B, 3, H, W) -> (B, (H/p)(W/p), dim)."""

    def __init__(self, dim: int, patch: int = 16, shift_pad: int = 0, in_channels: int = 3) -> None:
        super().__init__()
        self.patch, self.shift_pad = patch, shift_pad
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch, stride=patch)

    def num_tokens(self, image_size: Sequence[int]) -> int:
        return (image_size[0] // self.patch) * (image_size[1] // self.patch)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = to_signed_unit(images)
        if self.training:
            x = random_shift(x, self.shift_pad)
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, N, dim)


class ConvStem(nn.Module):
    """Stride-2 3x3 conv stages with GroupNorm + SiLU, then a linear to ``dim`` per cell.

    ``convs_per_stage > 1`` adds residual 3x3 convs at each resolution (more capacity per
    token at little cost: the transformer, not the stem, dominates the compute).
    ``fp32_convs`` keeps the convs out of bf16 autocast: on this CPU (oneDNN, AVX-512 BF16)
    bf16 conv *backward* measured 2-10x slower than fp32, while the stem's FLOPs are small.
    ``keypoints`` / ``grid`` add one token each, read off an earlier, finer stage (``SpatialSoftmax``, ``GridToken``).
    (B, 3, H, W) -> (B, (H / 2^S) * (W / 2^S) [+ 1] [+ 1], dim) for S = len(channels) stages.
    """

    def __init__(self, dim: int, channels: Sequence[int] = (32, 64, 128, 256), convs_per_stage: int = 1,
                 groups: int = 8, shift_pad: int = 0, in_channels: int = 3, fp32_convs: bool = True,
                 keypoints: int = 0, keypoint_stage: int = -3, grid: int = 0, grid_stage: int = -2) -> None:
        super().__init__()
        self.shift_pad, self.n_stages, self.fp32_convs = shift_pad, len(channels), fp32_convs
        stages, prev = [], in_channels
        for c in channels:
            layers: list[nn.Module] = [_conv_gn_silu(prev, c, stride=2, groups=groups)]
            layers += [_Residual(_conv_gn_silu(c, c, stride=1, groups=groups)) for _ in range(convs_per_stage - 1)]
            stages.append(nn.Sequential(*layers))
            prev = c
        self.stages = nn.Sequential(*stages)
        self.proj = nn.Linear(prev, dim)
        self.keypoint_stage, self.keypoints = None, None
        if keypoints:
            self.keypoint_stage = range(len(channels))[keypoint_stage]  # e.g. -3 -> 2 of 5 stages
            self.keypoints = SpatialSoftmax(channels[self.keypoint_stage], keypoints, dim)
        self.grid_stage, self.grid = None, None
        if grid:
            self.grid_stage = range(len(channels))[grid_stage]  # e.g. -2 -> 3 of 5 stages (stride 16)
            self.grid = GridToken(channels[self.grid_stage], grid, dim)

    def num_tokens(self, image_size: Sequence[int]) -> int:
        h, w = image_size
        for _ in range(self.n_stages):
            h, w = (h + 1) // 2, (w + 1) // 2
        return h * w + (self.keypoints is not None) + (self.grid is not None)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = to_signed_unit(images)
        if self.training:
            x = random_shift(x, self.shift_pad)
        kp = cells = None
        with torch.autocast(x.device.type, enabled=not self.fp32_convs and torch.is_autocast_enabled(x.device.type)):
            for i, stage in enumerate(self.stages):
                x = stage(x)  # (B, C_i, h_i, w_i)
                if i == self.keypoint_stage:
                    kp = self.keypoints.coordinates(x)  # (B, K * 2)
                if i == self.grid_stage:
                    cells = self.grid.cells(x)  # (B, C * g * g)
        tokens = [self.proj(x.flatten(2).transpose(1, 2))]  # (B, h*w, dim)
        if kp is None and cells is None:
            return tokens[0]
        if kp is not None:
            tokens.append(self.keypoints.proj(kp).unsqueeze(1))  # (B, 1, dim)
        if cells is not None:
            tokens.append(self.grid.proj(cells).unsqueeze(1))  # (B, 1, dim)
        return torch.cat([t.to(tokens[0].dtype) for t in tokens], dim=1)  # (B, h*w [+ 1] [+ 1], dim)


class SpatialSoftmax(nn.Module):
    """Keypoints of a feature map as one token (Levine et al. 2016; robomimic's and Diffusion Policy's read-out).

    A stem that ends at 2x2 cells keeps *where* things are only in its channels; a goal dot or a puck a few
    pixels wide is then located coarsely. Each of ``K`` 1x1-conv maps is softmaxed over the positions of an
    earlier, finer stage (8x8 for 64^2 views at stride 8) and read out as its expected (x, y) in [-1, 1]:
    sub-cell positions at the cost of one more token per view.
    (B, C, h, w) -> coordinates (B, K * 2) -> ``proj`` -> (B, dim)."""

    def __init__(self, in_channels: int, keypoints: int, dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, keypoints, 1)
        self.log_temperature = nn.Parameter(torch.zeros(()))
        self.proj = nn.Linear(2 * keypoints, dim)

    def coordinates(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        logits = self.conv(x).flatten(2) / self.log_temperature.exp()  # (B, K, h*w)
        attn = logits.float().softmax(-1)
        ys = torch.linspace(-1.0, 1.0, h, device=x.device)
        xs = torch.linspace(-1.0, 1.0, w, device=x.device)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).view(h * w, 2)  # (h*w, 2) as (x, y)
        return (attn @ grid).flatten(1)  # (B, K * 2)


class GridToken(nn.Module):
    """A g x g grid of a feature map, flattened through one linear, as one token (the read-out of BC's MLP).

    BC flattens its 4x4 stride-16 grid into an MLP: every cell has its own weights, so *where* a feature fires is
    read directly. A transformer reads its cell tokens through shared weights and learned position embeddings
    instead; X-VLA's fast stem also stops at 2x2 cells. This token gives the action tokens BC's position-specific
    read-out of the finer stage at the cost of one token per view. Pooled to ``g`` x ``g`` (an identity for 64^2 views
    at stride 16 with g=4), so the linear's size does not depend on the image size.
    (B, C, h, w) -> cells (B, C * g * g) -> ``proj`` -> (B, dim)."""

    def __init__(self, in_channels: int, grid: int, dim: int) -> None:
        super().__init__()
        self.size = grid
        self.norm = nn.LayerNorm(in_channels * grid * grid)
        self.proj = nn.Linear(in_channels * grid * grid, dim)

    def cells(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(F.adaptive_avg_pool2d(x, self.size).flatten(1))  # (B, C * g * g)


def _conv_gn_silu(cin: int, cout: int, stride: int, groups: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1),
                         nn.GroupNorm(min(groups, cout), cout), nn.SiLU())


class _Residual(nn.Module):
    def __init__(self, fn: nn.Module) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fn(x)
