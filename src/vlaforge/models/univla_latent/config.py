"""UniVLA (task-centric latent actions) configuration, presets and its four stages.

Facts from the authors' code (../shared/DESIGN.md): the latent action model (LAM) reads frozen image
features (DINOv2) of frames o_t and o_t+k; a spatio-temporal transformer with 4 learnable query tokens
quantizes them with a codebook of 16 codes x 128-d (4 latent tokens per transition); a decoder predicts
the features of o_t+k from o_t's and the latents; loss MSE + codebook + 0.25 commitment, dead-code
restart. Stage 1 learns task-irrelevant latents with the instruction given to encoder and decoder;
stage 2 freezes that codebook and learns a new, task-centric one without language; only the
task-centric codes label the policy. The policy predicts the 4 latent tokens (cross-entropy); a
per-embodiment action decoder pools the policy's visual and latent-token states (attention pooling)
into a chunk of 12 x action dim, L1 on q01/q99-normalized actions; overlapping chunks blend with
weights exp(-0.1 i) at inference.

Ours: frozen features are the shared EfficientNet-Lite0 (stride 16: 4x4x112 at 64 px; feature-cached),
or a Hugging Face DINOv2 from a local directory; k = 16 steps (one chunk at 80 Hz, as the other
families' foresight); the LAM reads the first camera (the paper's single third-person view).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from vlaforge.core.config import PolicyConfig, StageSpec
from vlaforge.core.registry import register_family
from vlaforge.nn.encoders import ImageEncoderConfig


@register_family("univla_latent")
@dataclass
class UniVLALatentConfig(PolicyConfig):
    """Defaults are the ``tiny`` preset."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}
    PAPER_PARAMS: ClassVar[tuple[float, str]] = (
        7.5e9, "Prismatic-7B (Karamcheti et al. 2024): LLaMA-2-7B (6.74B) + DINOv2 ViT-L (0.30B) + SigLIP "
        "So400m (0.43B) + projector, the backbone UniVLA's authors fine-tune")

    n_obs_steps: int = 2
    """Frames t-k and t: the previous latent action (LAM on t-k -> t) enters the prompt."""
    obs_stride: int = 16
    """k, frames between t-k and t (and t and t+k); keep equal to ``foresight_k``."""
    chunk_size: int = 12
    n_action_steps: int = 4
    """Re-plan every 4 steps; the 3 overlapping chunks that cover a step are blended (``blend_k``)."""
    norm_mode: Literal["mean_std", "quantile", "identity"] = "quantile"
    """q01/q99 -> [-1, 1], as the paper's action decoder."""
    foresight_k: int = 16
    blend_k: float = 0.1
    """Overlapping chunks at inference are averaged with weights exp(-blend_k * i) (0 disables blending)."""

    # ---- latent action model -------------------------------------------------------------
    features: ImageEncoderConfig = field(
        default_factory=lambda: ImageEncoderConfig(kind="efficientnet_lite0", freeze=True, stride=16, shift_pad=0))
    """The frozen image features the LAM reads (and the policy's vision)."""
    hf_backbone_path: str | None = None
    """A local Hugging Face DINOv2 directory to use instead of EfficientNet (through the HF adapter)."""
    vision: Literal["features", "prismatic"] = "features"
    """The policy's vision: the frozen features the LAM reads ('features'), or Prismatic's DINOv2 ViT-L/14 +
    SigLIP So400m/14 towers (the paper preset; built from configs written here, weights from a local directory)."""
    lam_width: int = 128
    lam_depth: int = 2
    lam_heads: int = 4
    n_latents: int = 4
    latent_codes: int = 16
    latent_dim: int = 128
    commitment: float = 0.25

    # ---- latent policy + action decoder ----------------------------------------------------------
    width: int = 256
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    history_latents: bool = True
    """Feed the previous transition's latent actions into the prompt (the paper's optional history)."""
    latent_loss_weight: float = 1.0
    """Fine-tuning: weight of the latent-token cross-entropy next to the decoder's L1 (pretraining: CE only)."""
    text_vocab: int = 0
    """The paper preset's LLaMA vocabulary (32,000 + 16 latent tokens); 0: one frozen-MiniLM token."""
    mlp_hidden: int | None = None
    kv_heads: int | None = None

    @property
    def latent_vocab(self) -> int:
        return self.latent_codes

    def stages(self) -> tuple[StageSpec, ...]:
        k = (self.foresight_k,)
        return (
            StageSpec("lam_task_irrelevant", 1, 1, self.chunk_size, future_offsets=k, actions="unused",
                      trains=("lam.",), frozen=("lam.centric",), description="LAM stage 1: latents with language"),
            StageSpec("lam_task_centric", 1, 1, self.chunk_size, future_offsets=k, actions="unused",
                      trains=("lam.",), frozen=("lam.irrelevant_vq",), description="LAM stage 2: task-centric codebook"),
            StageSpec("pretrain", self.n_obs_steps, self.obs_stride, self.chunk_size, future_offsets=k, actions="unused",
                      frozen=("lam.", "decoder."), description="latent policy on video labelled by the frozen LAM"),
            StageSpec("finetune", self.n_obs_steps, self.obs_stride, self.chunk_size, future_offsets=k, actions="optional",
                      frozen=("lam.",), description="policy + action decoder on labelled demos"),
        )

    def create(self, normalizer, embodiments):
        from vlaforge.models.univla_latent.model import UniVLALatentPolicy

        return UniVLALatentPolicy(self, normalizer, embodiments)


UniVLALatentConfig.PRESETS = {
    "tiny": {},
    # Prismatic-7B: LLaMA-2-7B (32 layers, width 4096, 32 heads, MLP 11008, 32,000 tokens) over DINOv2 + SigLIP.
    "paper": dict(width=4096, depth=32, heads=32, mlp_hidden=11008, text_vocab=32000, image_size=(224, 224),
                  vision="prismatic", lam_width=768, lam_depth=12, lam_heads=12),
}
