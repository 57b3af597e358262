"""Pretrained Hugging Face vision(-language) backbones from a LOCAL directory.

``HFBackbone.from_pretrained(dir)`` reads ``dir/config.json`` and loads the weights with
``local_files_only=True``: nothing is ever downloaded. Give it uint8 images (and, for
models with a joint encoder, token ids) and get a feature sequence (B, N, D) to project
into an action transformer.

Supported ``model_type`` values (what small VLMs use as vision towers, plus Florence-2,
X-VLA's backbone, whose encoder fuses one image with the instruction):

- vision towers: ``siglip_vision_model``, ``clip_vision_model``, ``dinov2``, ``vit``
- dual encoders, vision tower used: ``siglip``, ``clip``
- joint vision+text encoder: ``florence2`` (DaViT + projector, then the BART encoder over
  [image tokens | text tokens], as X-VLA does; the text decoder is dropped)

``HFBackbone.from_config(cfg)`` builds the same architecture randomly initialised (or on
the meta device) with no files, e.g. for parameter counts of paper-size presets.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vlaforge.nn.vision import to_signed_unit

@contextlib.contextmanager
def quiet_hf():
    """Silence transformers' progress bars (e.g. 'Loading weights') and info logs while loading."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    level = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


VISION_TOWERS = ("siglip_vision_model", "clip_vision_model", "dinov2", "vit")
DUAL = ("siglip", "clip")
JOINT = ("florence2",)
SUPPORTED = VISION_TOWERS + DUAL + JOINT

_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
_CLIP = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))
_HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
_DEFAULT_NORM = {"siglip_vision_model": _HALF, "siglip": _HALF, "clip_vision_model": _CLIP, "clip": _CLIP,
                 "dinov2": _IMAGENET, "vit": _HALF, "florence2": _IMAGENET}


class BackboneError(ValueError):
    """A backbone directory is missing, incomplete or holds an unsupported model."""


class HFBackbone(nn.Module):
    """Wraps one supported ``transformers`` model behind ``encode_images`` / ``encode_joint``."""

    def __init__(self, model: nn.Module, model_type: str, image_size: Sequence[int],
                 mean: Sequence[float], std: Sequence[float], tokenizer=None) -> None:
        super().__init__()
        model = _prune_unused(model, model_type)
        self.model, self.model_type, self.tokenizer = model, model_type, tokenizer
        self.image_size = tuple(int(s) for s in image_size)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        cfg = model.config
        if model_type == "florence2":
            self.vision_dim = cfg.vision_config.projection_dim
            self.joint_dim = cfg.text_config.d_model
        else:
            vc = getattr(cfg, "vision_config", cfg)
            self.vision_dim, self.joint_dim = vc.hidden_size, None

    # ---- construction -----------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | Path, image_size: Sequence[int] | None = None) -> "HFBackbone":
        from transformers import AutoModel

        path = Path(path)
        config = _read_config(path)
        with quiet_hf():
            model = AutoModel.from_pretrained(str(path), config=config, local_files_only=True)
        pre = _read_preprocessor(path)
        mean, std = pre.get("image_mean"), pre.get("image_std")
        default_mean, default_std = _DEFAULT_NORM[config.model_type]
        size = image_size or _image_size(config, pre)
        return cls(model, config.model_type, size, mean or default_mean, std or default_std, _load_tokenizer(path))

    @classmethod
    def from_config(cls, config, image_size: Sequence[int]) -> "HFBackbone":
        """Random init from a ``transformers`` config object (works under ``torch.device('meta')``)."""
        from transformers import AutoModel

        _check_type(config.model_type, "<config object>")
        model = AutoModel.from_config(config)
        mean, std = _DEFAULT_NORM[config.model_type]
        return cls(model, config.model_type, image_size, mean, std)

    # ---- features ------------------------------------------------------------------
    @property
    def has_joint(self) -> bool:
        return self.model_type in JOINT

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 3, H, W) -> float pixels resized to ``image_size`` and normalized as in pretraining."""
        x = (to_signed_unit(images) + 1.0) / 2.0  # [0, 1]
        if tuple(x.shape[-2:]) != self.image_size:
            x = F.interpolate(x, size=self.image_size, mode="bilinear", align_corners=False, antialias=True)
        return (x - self.mean) / self.std

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """Vision features (B, N, vision_dim) for uint8 images (B, 3, H, W)."""
        px = self.preprocess(images)
        if self.model_type == "florence2":
            return self.model.get_image_features(px).pooler_output  # (B, N, projection_dim)
        return self.model(pixel_values=px).last_hidden_state  # (B, N, hidden)

    def encode_joint(self, images: torch.Tensor, input_ids: torch.Tensor,
                     attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """One image fused with its instruction by the joint encoder: (B, N_img + L, joint_dim)."""
        if not self.has_joint:
            raise BackboneError(f"{self.model_type!r} has no joint vision+text encoder; "
                                f"joint encoders are supported for {JOINT}. Use encode_images instead.")
        img = self.encode_images(images)  # (B, N, D)
        txt = self.model.get_input_embeddings()(input_ids)  # (B, L, D)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids, dtype=torch.bool)
        mask = torch.cat([torch.ones(img.shape[:2], dtype=torch.long, device=img.device),
                          attention_mask.long()], dim=1)  # (B, N + L)
        enc = self.model.language_model.encoder(inputs_embeds=torch.cat([img, txt.to(img.dtype)], 1),
                                                attention_mask=mask)
        return enc.last_hidden_state

    def tokenize(self, texts: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and mask (True = real) with the backbone's own tokenizer."""
        if self.tokenizer is None:
            raise BackboneError("this backbone directory has no tokenizer files; save the model's tokenizer "
                                "next to config.json (tokenizer.save_pretrained(dir)) to use the joint encoder")
        enc = self.tokenizer(list(texts), padding="max_length", truncation=True, max_length=max_len,
                             return_tensors="pt")
        return enc["input_ids"], enc["attention_mask"].bool()


# ---- helpers ---------------------------------------------------------------------
def _prune_unused(model: nn.Module, model_type: str) -> nn.Module:
    """Drop parts that never feed the features (they would sit in the optimizer without gradients):
    Florence-2's text decoder (X-VLA keeps the encoder only), a dual encoder's text tower, SigLIP's
    attention-pooling head."""
    if model_type == "florence2" and getattr(model.language_model, "decoder", None) is not None:
        del model.language_model.decoder
    if model_type in DUAL:
        model = model.vision_model
    if getattr(model, "use_head", False) and hasattr(model, "head"):
        model.use_head = False
        del model.head
    return model


def _read_config(path: Path):
    from transformers import AutoConfig

    if not path.exists():
        raise BackboneError(f"backbone directory {path} does not exist; pass a local directory that holds "
                            "a saved Hugging Face model (config.json + weights). Nothing is downloaded.")
    if not path.is_dir() or not (path / "config.json").is_file():
        raise BackboneError(f"{path} has no config.json: it is not a saved Hugging Face model directory "
                            "(model.save_pretrained(dir) writes one)")
    model_type = json.loads((path / "config.json").read_text()).get("model_type", "<missing>")
    _check_type(model_type, path)
    return AutoConfig.from_pretrained(str(path), local_files_only=True)


def _check_type(model_type: str, where) -> None:
    if model_type not in SUPPORTED:
        raise BackboneError(f"backbone {where} has model_type {model_type!r}, which is not supported; "
                            f"supported: {', '.join(SUPPORTED)}")


def _read_preprocessor(path: Path) -> dict:
    f = path / "preprocessor_config.json"
    return json.loads(f.read_text()) if f.is_file() else {}


def _image_size(config, pre: dict) -> tuple[int, int]:
    size = pre.get("crop_size") or pre.get("size")
    if isinstance(size, dict) and "height" in size:
        return size["height"], size["width"]
    if isinstance(size, dict) and "shortest_edge" in size:
        return size["shortest_edge"], size["shortest_edge"]
    vc = getattr(config, "vision_config", config)
    s = getattr(vc, "image_size", None) or 224
    return (s, s) if isinstance(s, int) else tuple(s)


def _load_tokenizer(path: Path):
    if not any((path / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt")):
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
