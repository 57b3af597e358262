"""XR-1 configuration, presets and its three stages.

Facts from the authors' code (../shared/DESIGN.md, XR-1): stage 1 learns UVMC, a dual-branch VQ-VAE with
codebooks of 256 codes x 256-d, commitment 0.25, separate vision / motion codebooks by default. The
vision branch reads frames t and t+k and quantizes 13 query tokens; its decoder reconstructs frame t+k
from frame t and the codes. The motion branch reads the action chunk (50 steps, padded to 32 dims)
through causal temporal convolutions (x4 downsampling -> 13 tokens) and a causal transformer; its
decoder is a flow-matching action head fed the codes and the state. A KL between the softmax of the
motion-code and vision-code logits (weight 10) aligns them on samples with actions; action-free video
trains the vision branch only. Stage 2 gives the policy learnable queries (13 motion + 13 per camera)
regressed (MSE) onto the frozen codes, plus flow matching; stage 3 is flow matching only.

Ours: the number of codes per branch is ceil(chunk / 4) (4 for the tiny preset's 16-step chunk; 13 for
the paper preset's 50), k = 16 steps (one chunk, as InternVLA-A1's foresight here), and the vision branch
runs per camera, so every camera has its own codes (stage 2's "13 per camera").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from vlaforge.core.config import PolicyConfig, StageSpec
from vlaforge.core.registry import register_family
from vlaforge.nn.encoders import ImageEncoderConfig


@register_family("xr1")
@dataclass
class XR1Config(PolicyConfig):
    """Defaults are the ``tiny`` preset."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}
    PAPER_PARAMS: ClassVar[tuple[float, str]] = (
        3.3e9, "pi0 (Black et al. 2024): PaliGemma-3B + a 300M Gemma-style action expert, 3.3B, the backbone and "
        "expert XR-1's code builds on (the XR-1 seed states no count)")

    chunk_size: int = 16
    n_action_steps: int = 8
    foresight_k: int = 16
    """k: the vision branch codes the change from frame t to frame t+k."""

    # ---- UVMC (stage 1) ------------------------------------------------------------------
    code_dim: int = 256
    codebook_size: int = 256
    commitment: float = 0.25
    shared_codebook: bool = False
    """One codebook for both branches (the paper's option); separate by default."""
    align_weight: float = 10.0
    uvmc_width: int = 128
    uvmc_depth: int = 2
    uvmc_heads: int = 4
    vision_recon_weight: float = 1.0

    # ---- policy (stages 2, 3) --------------------------------------------------------------
    vlm_width: int = 256
    act_width: int = 192
    depth: int = 4
    heads: int = 4
    kv_heads: int | None = None
    head_dim: int = 64
    mlp_ratio: float = 2.0
    vlm_mlp_hidden: int | None = None
    act_mlp_hidden: int | None = None
    text_vocab: int = 0
    """The paper preset's text embedding table (Gemma's 257,152 tokens); 0: one frozen-MiniLM token."""
    code_loss_weight: float = 1.0
    """Stage 2: weight of the MSE from the query outputs to the frozen UVMC codes (0 in stage 3)."""

    # ---- vision ------------------------------------------------------------------------------
    vl_encoder: Literal["conv", "pretrained", "hf"] = "conv"
    stem_channels: tuple[int, ...] = (32, 64, 128, 256)
    shift_pad: int = 4
    image_encoder: ImageEncoderConfig = field(
        default_factory=lambda: ImageEncoderConfig(kind="efficientnet_lite0", freeze=True, stride=16, shift_pad=4))
    backbone_path: str | None = None
    hf_vision: dict[str, Any] | None = None

    # ---- flow matching ------------------------------------------------------------------------
    beta_a: float = 1.5
    num_inference_steps: int = 10

    @property
    def n_codes(self) -> int:
        return math.ceil(self.chunk_size / 4)

    def stages(self) -> tuple[StageSpec, ...]:
        k = (self.foresight_k,)
        return (
            StageSpec("uvmc", 1, 1, self.chunk_size, future_offsets=k, actions="optional", trains=("uvmc.",),
                      description="UVMC: dual-branch VQ-VAE; action-free video trains the vision branch only"),
            StageSpec("pretrain", 1, 1, self.chunk_size, future_offsets=k, actions="optional", frozen=("uvmc.",),
                      description="policy: queries regressed onto the frozen UVMC codes + flow matching"),
            StageSpec("posttrain", 1, 1, self.chunk_size, actions="required", frozen=("uvmc.",),
                      description="post-training: flow matching only"),
        )

    def create(self, normalizer, embodiments):
        from vlaforge.models.xr1.model import XR1Policy

        return XR1Policy(self, normalizer, embodiments)


XR1Config.PRESETS = {
    "tiny": {},
    # PaliGemma-3B (Gemma-2B: 18 layers, width 2048, 8 heads / 1 KV head of 256, GeGLU 16384, 257,152 tokens;
    # SigLIP So400m/14 at 224 px) + a Gemma-style action expert of width 1024 (18 layers, MLP 4096), as pi0.
    "paper": dict(vlm_width=2048, act_width=1024, depth=18, heads=8, kv_heads=1, head_dim=256,
                  vlm_mlp_hidden=16384, act_mlp_hidden=4096, text_vocab=257152, vl_encoder="hf",
                  hf_vision=dict(hidden_size=1152, num_hidden_layers=27, num_attention_heads=16,
                                 intermediate_size=4304, image_size=224, patch_size=14),
                  image_size=(224, 224), chunk_size=50, cameras=("base", "left_wrist", "right_wrist")),
}
