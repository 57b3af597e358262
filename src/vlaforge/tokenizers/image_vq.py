"""Image VQ tokenizer: a small VQ autoencoder trained in vlaforge on the dataset's frames.

UniVLA (after Emu3) turns every image into discrete tokens with an 8x spatially
downsampling VQ encoder, so one autoregressive decoder can read and *generate*
frames. Pretrained VQ-GANs are not available offline, so this one is trained
from scratch on the task's frames: 64x64 -> 8x8 codes per view.

Quantizer: ``vector_quantize_pytorch.VectorQuantize`` with low-dimensional codes
(projected to ``codebook_dim``), cosine-similarity lookup (l2-normalised codes),
EMA codebook updates and dead-code restart: codes whose EMA usage falls below
``dead_code_threshold`` are re-seeded from the current batch. Those three are the
usual cures for codebook collapse (Yu et al. ViT-VQGAN; Dhariwal et al.).

Loss = reconstruction (MSE or L1 on [-1, 1] pixels) + ``commitment_weight`` x commitment.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vlaforge.core.config import from_dict
from vlaforge.core.keys import FUTURE_PREFIX, IMAGE_PREFIX

CONFIG_FILE = "vq_config.json"
WEIGHTS_FILE = "vq.safetensors"


@dataclass
class ImageVQConfig:
    image_size: int = 64
    channels: tuple[int, ...] = (32, 64, 128)
    """Encoder widths, one stride-2 stage each: 3 stages = 8x downsampling (64^2 -> 8x8)."""
    latent_dim: int = 64
    codebook_size: int = 1024
    codebook_dim: int = 8
    """Codes live in this low-dim space (projected in and out), which keeps more codes in use."""
    commitment_weight: float = 0.25
    ema_decay: float = 0.99
    dead_code_threshold: float = 2.0
    """Codes with EMA usage (expected assignments per batch) below this are restarted from batch samples."""
    recon_loss: Literal["mse", "l1"] = "mse"
    max_images_per_step: int = 256
    """forward(batch) subsamples this many frames of all views/time steps, to bound memory and time."""

    @property
    def downsample(self) -> int:
        return 2 ** len(self.channels)

    @property
    def grid(self) -> int:
        """Tokens per side per view (image_size / downsample)."""
        return self.image_size // self.downsample


class ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.GroupNorm(8, ch), nn.SiLU(), nn.Conv2d(ch, ch, 3, padding=1),
                                 nn.GroupNorm(8, ch), nn.SiLU(), nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


def conv_encoder(cfg) -> nn.Sequential:
    layers: list[nn.Module] = []
    c_in = 3
    for c in cfg.channels:
        layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), nn.SiLU()]
        c_in = c
    layers += [ResBlock(c_in), ResBlock(c_in), nn.GroupNorm(8, c_in), nn.SiLU(), nn.Conv2d(c_in, cfg.latent_dim, 1)]
    return nn.Sequential(*layers)


def conv_decoder(cfg) -> nn.Sequential:
    chans = list(cfg.channels)[::-1]
    layers: list[nn.Module] = [nn.Conv2d(cfg.latent_dim, chans[0], 3, padding=1), ResBlock(chans[0]), ResBlock(chans[0])]
    for c_in, c_out in zip(chans, chans[1:] + [chans[-1]]):
        layers += [nn.GroupNorm(8, c_in), nn.SiLU(), nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)]
    layers += [nn.SiLU(), nn.Conv2d(chans[-1], 3, 3, padding=1)]
    return nn.Sequential(*layers)


class ImageVQ(nn.Module):
    """uint8 images (N, 3, H, W) <-> integer codes (N, h, w), h = H / 8."""

    def __init__(self, config: ImageVQConfig | None = None) -> None:
        super().__init__()
        from vector_quantize_pytorch import VectorQuantize

        self.config = cfg = config or ImageVQConfig()
        if cfg.image_size % cfg.downsample:
            raise ValueError(f"image_size {cfg.image_size} is not divisible by the {cfg.downsample}x downsampling")
        self.encoder = conv_encoder(cfg)
        self.decoder = conv_decoder(cfg)
        self.quantizer = VectorQuantize(
            dim=cfg.latent_dim, codebook_size=cfg.codebook_size, codebook_dim=cfg.codebook_dim,
            use_cosine_sim=True, decay=cfg.ema_decay, commitment_weight=cfg.commitment_weight,
            threshold_ema_dead_code=cfg.dead_code_threshold)

    # ---- tokenizer API -----------------------------------------------------------
    @staticmethod
    def to_float(images: torch.Tensor) -> torch.Tensor:
        """uint8 [0, 255] -> float [-1, 1]; float input is assumed to be in [0, 1]."""
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        return x * 2 - 1

    @staticmethod
    def to_uint8(x: torch.Tensor) -> torch.Tensor:
        return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)

    def _quantize(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N, 3, H, W) -> quantized latents (N, C, h, w), codes (N, h, w), commitment loss."""
        self._check_images(images)
        z = self.encoder(self.to_float(images))  # (N, C, h, w)
        n, c, h, w = z.shape
        flat = z.flatten(2).transpose(1, 2)  # (N, h*w, C)
        q, codes, commit = self.quantizer(flat)
        q = q.transpose(1, 2).reshape(n, c, h, w)  # (N, C, h, w)
        return q, codes.view(n, h, w), commit.sum()

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 3, H, W) -> long codes (N, h, w). Runs in eval mode (no codebook update)."""
        was = self.training
        self.eval()
        try:
            return self._quantize(images)[1].long()
        finally:
            self.train(was)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """long codes (N, h, w) -> float images (N, 3, H, W) in [-1, 1]."""
        n, h, w = codes.shape
        if codes.numel() and (codes.min() < 0 or codes.max() >= self.config.codebook_size):
            raise ValueError(f"image codes must be in [0, {self.config.codebook_size}), got "
                             f"[{int(codes.min())}, {int(codes.max())}]")
        q = self.quantizer.get_output_from_indices(codes.reshape(n, h * w))  # (N, h*w, C)
        q = q.transpose(1, 2).reshape(n, -1, h, w)  # (N, C, h, w)
        return self.decoder(q)

    def _check_images(self, images: torch.Tensor) -> None:
        s = self.config.image_size
        if images.dim() != 4 or images.shape[1] != 3 or tuple(images.shape[-2:]) != (s, s):
            raise ValueError(f"ImageVQ expects (N, 3, {s}, {s}) images, got {tuple(images.shape)}; "
                             "resize frames to the tokenizer's image_size")

    # ---- training (the shared trainer calls forward(batch) -> (loss, logs)) -------
    def forward(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        images = batch_frames(batch, self.config.max_images_per_step)  # (N, 3, H, W)
        q, codes, commit = self._quantize(images)
        recon = self.decoder(q)
        target = self.to_float(images)
        rec = F.mse_loss(recon, target) if self.config.recon_loss == "mse" else F.l1_loss(recon, target)
        loss = rec + commit
        return loss, {"recon": float(rec.detach()), "commit": float(commit.detach()), "psnr": psnr(recon.detach(), target),
                      **codebook_usage(codes, self.config.codebook_size)}

    def param_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups, decay only on >= 2-D weights (the codebook is an EMA buffer, not a parameter)."""
        decay = [p for p in self.parameters() if p.requires_grad and p.dim() >= 2]
        other = [p for p in self.parameters() if p.requires_grad and p.dim() < 2]
        return [{"params": decay, "weight_decay": weight_decay, "lr_scale": 1.0},
                {"params": other, "weight_decay": 0.0, "lr_scale": 1.0}]

    # ---- persistence -------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        from safetensors.torch import save_model

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CONFIG_FILE).write_text(json.dumps(asdict(self.config), indent=2))
        save_model(self, str(directory / WEIGHTS_FILE))
        return directory

    @classmethod
    def load(cls, directory: str | Path, map_location: str = "cpu") -> "ImageVQ":
        from safetensors.torch import load_model

        directory = Path(directory)
        if not (directory / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"{directory} holds no image VQ ({CONFIG_FILE}); train one with "
                                    "`vlaforge train --recipe vq_tiny_mt10` and point to its checkpoint's assets/vq")
        vq = cls(from_dict(ImageVQConfig, json.loads((directory / CONFIG_FILE).read_text())))
        load_model(vq, str(directory / WEIGHTS_FILE), device=map_location)
        return vq.eval()

    @staticmethod
    def exists(directory: str | Path) -> bool:
        return (Path(directory) / CONFIG_FILE).is_file()


def batch_frames(batch: dict, max_images: int = 0) -> torch.Tensor:
    """Every frame of every camera and time step (observation and future) as (N, 3, H, W) uint8.

    Padded history steps (``observation.is_pad``) are repeats of the first frame; they
    are kept, which only re-weights that frame slightly."""
    frames = []
    for k in sorted(batch):
        if k.startswith(IMAGE_PREFIX) or k.startswith(FUTURE_PREFIX):
            v = batch[k]
            frames.append(v.reshape(-1, *v.shape[-3:]))  # (B*T, 3, H, W)
    if not frames:
        raise KeyError(f"batch has no image keys ({IMAGE_PREFIX}<cam>); the image VQ trains on camera frames")
    x = torch.cat(frames)
    if max_images and x.shape[0] > max_images:
        x = x[torch.randperm(x.shape[0], device=x.device)[:max_images]]
    return x


def psnr(recon: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR in dB of [-1, 1] images (peak-to-peak 2)."""
    mse = F.mse_loss(recon.float().clamp(-1, 1), target.float()).item()
    return 10 * math.log10(4.0 / max(mse, 1e-10))


def codebook_usage(codes: torch.Tensor, codebook_size: int) -> dict[str, float]:
    """Perplexity of the code histogram and the fraction of codes used in ``codes``."""
    counts = torch.bincount(codes.reshape(-1).long(), minlength=codebook_size).float()
    p = counts / counts.sum().clamp(min=1)
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return {"perplexity": float(entropy.exp()), "code_usage": float((counts > 0).float().mean())}


def extract_codes(vq: ImageVQ, root: str, cameras: Sequence[str], out: str, batch_size: int = 256,
                  psnr_frames: int = 1024) -> dict:
    """Encode every frame of a dataset into a memory-mappable int16 .npy (N_frames, n_cameras, h, w);
    report reconstruction PSNR on the first ``psnr_frames`` frames and codebook usage. A .json
    sidecar describes the array."""

    import numpy as np

    from vlaforge.data.dataset import LeRobotDataset

    ds = LeRobotDataset(root, n_obs_steps=1, chunk_size=1, cameras=tuple(cameras))
    frames, keys = ds.frames(), ds.camera_keys
    n, g = len(frames[keys[0]]), vq.config.grid
    arr = np.lib.format.open_memmap(out, mode="w+", dtype=np.int16, shape=(n, len(keys), g, g))
    psnrs = []
    vq = vq.eval()
    with torch.no_grad():
        for v, key in enumerate(keys):
            for s in range(0, n, batch_size):
                x = torch.from_numpy(np.array(frames[key][s:s + batch_size]))
                codes = vq.encode(x)  # (b, h, w)
                arr[s:s + len(x), v] = codes.numpy().astype(np.int16)
                if s < psnr_frames:
                    psnrs.append(psnr(vq.decode(codes), ImageVQ.to_float(x)))
    arr.flush()
    usage = codebook_usage(torch.from_numpy(np.asarray(arr)).long(), vq.config.codebook_size)
    info = {"dataset": root, "cameras": keys, "shape": list(arr.shape), "psnr_db": float(np.mean(psnrs)), **usage}
    Path(out).with_suffix(".json").write_text(json.dumps(info, indent=2))
    return info
