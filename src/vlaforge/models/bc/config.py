"""Behaviour-cloning reference: one small CNN (or a pretrained encoder) per camera, an MLP head,
L1 on normalized action chunks.

This is the row every recipe must beat on the leaderboard, so it is built to be strong, not a
strawman: DrQ random shifts, the frozen MiniLM instruction embedding (multi-task needs the task),
proprioception, a 16-step chunk of which 8 are executed, and no tricks a VLA recipe could not use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from vlaforge.core.config import PolicyConfig
from vlaforge.core.registry import register_family
from vlaforge.nn.encoders import ImageEncoderConfig


@register_family("bc")
@dataclass
class BCConfig(PolicyConfig):
    """Defaults are the ``tiny`` preset: ~1.9M parameters, trains at ~600 samples/s on 2 CPU cores."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {},
        # ResNet-18-class BC as the diffusion-policy / ACT papers use as their plain baselines: a
        # pretrained ImageNet encoder per camera fine-tuned at 0.1x, a 3 x 1024 MLP head (~19M parameters).
        "paper": dict(encoder=ImageEncoderConfig(kind="efficientnet_lite0", freeze=False, stride=32, input_size=224),
                      token_dim=64, hidden=1024, depth=3, image_size=(224, 224)),
    }
    PAPER_PARAMS: ClassVar[tuple[float, str]] = (
        1.94e7, "our own reference size: 2 EfficientNet-Lite0 towers (4.65M each incl. head) + a 3x1024 MLP; "
        "bc is not a published recipe, so this pins the preset rather than a paper")

    encoder: ImageEncoderConfig = field(
        default_factory=lambda: ImageEncoderConfig(shift_pad=4, stem_channels=(16, 32, 64, 128)))
    """Per-camera image encoder: the from-scratch conv stem (tiny; 16..128 channels, 2.8x faster than
    32..256 per step on this CPU) or EfficientNet-Lite0 (frozen or fine-tuned)."""
    token_dim: int = 64
    """Width of each image token before the tokens of a camera are flattened into the head's input."""
    hidden: int = 512
    depth: int = 2
    """Hidden layers of the MLP head."""
    dropout: float = 0.0
    text_dim: int = 64
    """The frozen instruction embedding is projected to this width."""
    use_state: bool = True
    loss: str = "l1"
    """'l1' (ACT, the diffusion-policy BC baselines) or 'mse'."""

    def create(self, normalizer, embodiments):
        from vlaforge.models.bc.model import BCPolicy

        return BCPolicy(self, normalizer, embodiments)
