"""InternVLA-A1 configuration, presets and stages.

Facts from the paper (seeds/internvla_a1.md) behind the defaults: three decoder-style experts
(understanding, generation, action) with one blockwise-masked joint attention; generation reads
frozen VAE latents of frames t-m and t per view, compressed by a strided conv to a few tokens per
image, averages its outputs over time, deconvolves them to the latent grid and regresses the
latent of frame t+m (MSE, stop-gradient on the target); action: 1 state token + H action tokens,
flow matching with tau ~ Beta(1.5, 1), x = (1 - tau) eps + tau a, velocity target, 10 Euler steps;
loss = action + 0.01 x generation. m = 15 at the paper's control rate.

Our m: Meta-World runs at 80 Hz and an expert episode lasts ~75-125 steps, so the paper's ~0.5 s
would be half an episode. m = 16 steps (0.2 s) is one predicted action chunk: the foresight
describes the scene when the chunk that is being predicted ends, the horizon the action expert
must reason about, and it matches the stride UniVLA-AR's world model uses on the same data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from vlaforge.core.config import PolicyConfig, StageSpec
from vlaforge.core.registry import register_family
from vlaforge.nn.encoders import ImageEncoderConfig
from vlaforge.tokenizers.latent_ae import LatentAEConfig


@register_family("internvla_a1")
@dataclass
class InternVLAA1Config(PolicyConfig):
    """Defaults are the ``tiny`` preset (~9M parameters, 2 CPU cores)."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}  # filled below the class
    PAPER_PARAMS: ClassVar[tuple[float, str]] = (
        3.2e9, "InternVLA-A1 paper, Table 1: InternVLA-A1 (3B) = Qwen3-VL 2.13B + Qwen3 0.44B + Qwen3 0.44B")

    n_obs_steps: int = 2
    """Frames t-m and t (the generation expert's input; understanding reads frame t)."""
    obs_stride: int = 16
    """m: frames between t-m, t and the foresight target t+m (see the module docstring)."""
    chunk_size: int = 16
    n_action_steps: int = 8

    # ---- experts ----------------------------------------------------------------------
    und_width: int = 256
    gen_width: int = 256
    act_width: int = 256
    depth: int = 4
    heads: int = 4
    kv_heads: int | None = None
    head_dim: int = 64
    mlp_ratio: float = 2.0
    """SwiGLU hidden width per model width (three matrices: 2.0 costs what a 3.0 GELU MLP does)."""
    und_mlp_hidden: int | None = None
    """Understanding expert's MLP width (None: width x mlp_ratio); likewise the two below."""
    gen_mlp_hidden: int | None = None
    act_mlp_hidden: int | None = None
    text_vocab: int = 0
    """The paper preset's text embedding table (Qwen3's 151,936 tokens, tied); 0 = none: the tiny preset
    embeds the instruction with the frozen sentence encoder as ``n_text_tokens`` tokens."""
    n_text_tokens: int = 1

    # ---- understanding vision -----------------------------------------------------------
    vl_encoder: Literal["conv", "pretrained", "hf"] = "conv"
    """'conv': a from-scratch conv stem per camera; 'pretrained': ``image_encoder`` (EfficientNet-Lite0);
    'hf': a Hugging Face vision tower from ``backbone_path`` (or built from ``hf_vision`` on the meta device)."""
    stem_channels: tuple[int, ...] = (32, 64, 128, 256)
    shift_pad: int = 4
    image_encoder: ImageEncoderConfig = field(
        default_factory=lambda: ImageEncoderConfig(kind="efficientnet_lite0", freeze=True, stride=16, shift_pad=4))
    backbone_path: str | None = None
    hf_vision: dict[str, Any] | None = None
    """With vl_encoder='hf' and no backbone_path: a SigLIP vision config (dict) to build randomly (paper size)."""

    # ---- generation (foresight) --------------------------------------------------------
    use_generation: bool = True
    """False: the ablation without the generation expert (no generation tokens, no generation loss)."""
    ae: LatentAEConfig = field(default_factory=LatentAEConfig)
    gen_tokens_per_image: int = 4
    """Tokens per image after the strided conv over the latent grid (paper: 16 from 32x32; ours 4 from 8x8)."""
    gen_loss_weight: float = 0.01
    """lambda in loss = action + lambda x generation (paper: 0.01)."""

    # ---- action (flow matching) ---------------------------------------------------------
    beta_a: float = 1.5
    num_inference_steps: int = 10
    prefix_cache: bool = True
    """Compute understanding + generation (+ state) once per chunk and reuse their keys/values in
    every denoising step (exact: no earlier block attends to the action tokens)."""

    def stages(self) -> tuple[StageSpec, ...]:
        return (
            StageSpec("autoencoder", 1, 1, self.chunk_size, actions="unused", trains=("ae.",),
                      description="the frozen image autoencoder of the generation expert: reconstruction"),
            StageSpec("policy", self.n_obs_steps, self.obs_stride, self.chunk_size,
                      future_offsets=(self.obs_stride,), actions="optional", frozen=("ae.",),
                      description="understanding + foresight (latent of t+m) + flow-matching actions"),
        )

    @property
    def gen_grid(self) -> int:
        """Side of the token grid per image after compression (4 tokens -> 2)."""
        side = int(round(self.gen_tokens_per_image ** 0.5))
        return side

    def __post_init__(self) -> None:
        super().__post_init__()
        g = self.gen_grid
        if g * g != self.gen_tokens_per_image or self.ae.grid % g:
            raise ValueError(f"gen_tokens_per_image {self.gen_tokens_per_image} must be a square whose side divides "
                             f"the latent grid {self.ae.grid}")

    def create(self, normalizer, embodiments):
        from vlaforge.models.internvla_a1.model import InternVLAA1Policy

        return InternVLAA1Policy(self, normalizer, embodiments)


def _qwen3(hidden: int, layers: int, mlp: int) -> dict:
    """The dims of a Qwen3 decoder (transformers' ``Qwen3Config`` fields), written here: nothing is downloaded."""
    return dict(hidden_size=hidden, num_hidden_layers=layers, intermediate_size=mlp, num_attention_heads=16,
                num_key_value_heads=8, head_dim=128, vocab_size=151936)


QWEN3_VL_2B_TEXT = _qwen3(2048, 28, 6144)   # Qwen3-VL-2B's language model (Qwen3-1.7B sized)
QWEN3_0P6B = _qwen3(1024, 28, 3072)         # the generation and action experts' blocks (0.44B without embeddings)
QWEN3_VL_VISION = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                       image_size=224, patch_size=16)  # Qwen3-VL-2B's ViT (~0.4B with its merger)

InternVLAA1Config.PRESETS = {
    "tiny": {},
    "paper": dict(
        und_width=QWEN3_VL_2B_TEXT["hidden_size"], gen_width=QWEN3_0P6B["hidden_size"],
        act_width=QWEN3_0P6B["hidden_size"], depth=28, heads=16, kv_heads=8, head_dim=128,
        und_mlp_hidden=QWEN3_VL_2B_TEXT["intermediate_size"], gen_mlp_hidden=QWEN3_0P6B["intermediate_size"],
        act_mlp_hidden=QWEN3_0P6B["intermediate_size"], text_vocab=QWEN3_VL_2B_TEXT["vocab_size"],
        vl_encoder="hf", hf_vision=QWEN3_VL_VISION, image_size=(224, 224), chunk_size=50, obs_stride=15,
        ae=LatentAEConfig(image_size=224, channels=(128, 256, 512), latent_dim=16), gen_tokens_per_image=16,
        cameras=("head", "left_wrist", "right_wrist")),
}
