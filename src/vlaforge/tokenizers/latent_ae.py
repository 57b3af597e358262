"""A small continuous image autoencoder: InternVLA-A1's stand-in for the Cosmos CI8x8 tokenizer.

64x64 frames -> (latent_dim, 8, 8) latents (8x spatial downsampling, as CI8x8) -> frames. It is
trained on the dataset's own frames (MSE + L1 reconstruction), then frozen: the generation
expert reads latents of frames t-m and t and regresses the latent of frame t+m, which the
decoder turns back into pixels for inspection. The conv encoder/decoder are the image VQ's,
without the quantizer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vlaforge.tokenizers.image_vq import batch_frames, conv_decoder, conv_encoder, psnr


@dataclass
class LatentAEConfig:
    image_size: int = 64
    channels: tuple[int, ...] = (32, 64, 128)
    """One stride-2 stage per entry: 3 stages = 8x downsampling."""
    latent_dim: int = 16
    """Latent channels (Cosmos CI8x8 uses 16)."""
    max_images_per_step: int = 64
    """Frames per training step (sampled from the batch's cameras and time steps)."""

    @property
    def grid(self) -> int:
        return self.image_size // 2 ** len(self.channels)


class LatentAE(nn.Module):
    """uint8 (N, 3, H, W) <-> float latents (N, latent_dim, H/8, W/8)."""

    def __init__(self, config: LatentAEConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or LatentAEConfig()
        self.encoder = conv_encoder(cfg)
        self.decoder = conv_decoder(cfg)

    @staticmethod
    def to_float(images: torch.Tensor) -> torch.Tensor:
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        return x * 2 - 1  # [-1, 1]

    @staticmethod
    def to_uint8(x: torch.Tensor) -> torch.Tensor:
        return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        with torch.autocast(images.device.type, enabled=False):  # bf16 convs are slow on CPU; latents stay fp32
            return self.encoder(self.to_float(images))

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents -> images in [-1, 1]."""
        with torch.autocast(latents.device.type, enabled=False):
            return self.decoder(latents.float())

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        images = batch_frames(batch, self.config.max_images_per_step)  # (N, 3, H, W)
        target = self.to_float(images)
        recon = self.decode(self.encode(images))
        loss = F.mse_loss(recon, target) + 0.1 * F.l1_loss(recon, target)
        return loss, {"loss": float(loss.detach()), "psnr": psnr(recon.detach(), target)}
