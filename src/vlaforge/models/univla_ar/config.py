"""UniVLA unified-autoregressive config: one decoder, one vocabulary, three stages.

Vocabulary layout (ids), as in the paper (FAST replaces the last ids of the text range):

```
[0, text_vocab - fast_vocab)            text ids (unused by the tiny preset, see below)
[text_vocab - fast_vocab, text_vocab)   FAST action tokens
[text_vocab, text_vocab + codebook)     VQ image codes
text_vocab + codebook + (0..4)          boi, eoi, boa, eoa, pad
```

Instruction: the tiny preset does **not** use text ids. The frozen sentence encoder
(MiniLM, or 'hash' in tests) embeds the instruction and a linear layer turns it into
``n_text_tokens`` prefix embeddings. Why: MT10 has ten fixed instructions, far too
few for a from-scratch decoder to learn word meanings, while a pretrained sentence
embedding gives related instructions related prefixes for free and keeps the
vocabulary (and the output softmax) small. The paper's Emu3 reads real text ids;
``text_vocab`` keeps that range so a pretrained backbone adapter can fill it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from vlaforge.core.config import PolicyConfig, StageSpec
from vlaforge.core.registry import register_family
from vlaforge.tokenizers.image_vq import ImageVQConfig

N_SPECIAL = 5  # boi, eoi, boa, eoa, pad


@register_family("univla_ar")
@dataclass
class UniVLAARConfig(PolicyConfig):
    """Defaults are the ``tiny`` preset (trains on a 2-core CPU); ``paper`` is Emu3-sized."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}  # filled below the class (it needs ImageVQConfig)
    PAPER_PARAMS: ClassVar[tuple[float, str]] = (8.5e9, "UniVLA paper (arXiv 2506.19850): Emu3-8.5B backbone")

    n_obs_steps: int = 2
    """Policy stage: current frame + 1 history frame (paper, Table 6b)."""
    obs_stride: int = 10
    """Frames between the policy's history steps: one chunk back."""
    wm_frames: int = 6
    """World-model stage: frames per clip (the paper's 6 frames ~1 s apart)."""
    wm_stride: int = 16
    """World-model and VQ stages: frames between clip frames. Meta-World runs at 80 Hz and expert
    episodes last ~50-200 steps, so 1 s apart would mostly repeat the last frame; 16 steps (0.2 s)
    make six frames span one second of an episode."""
    chunk_size: int = 10
    n_action_steps: int = 5
    norm_mode: Literal["mean_std", "quantile", "identity"] = "quantile"
    """UniVLA normalizes actions to q01/q99 before FAST."""

    # ---- decoder (Emu3 is a Llama-style decoder: RMSNorm, SwiGLU, GQA, RoPE) ----------
    dim: int = 256
    depth: int = 4
    heads: int = 8
    kv_heads: int | None = None
    """Grouped-query attention: key/value heads (None = heads, i.e. plain multi-head)."""
    mlp: Literal["gelu", "swiglu"] = "gelu"
    mlp_hidden: int | None = None
    """Feed-forward width (None = 4 x dim)."""
    norm: Literal["layer", "rms"] = "layer"
    bias: bool = True
    dropout: float = 0.0
    rope_base: float = 10000.0
    max_seq_len: int = 1024
    tie_embeddings: bool = False

    # ---- vocabulary --------------------------------------------------------------------
    text_vocab: int = 1024
    """Size of the text range; its last ``fast_vocab`` ids are FAST action tokens."""
    fast_vocab: int = 1024
    n_text_tokens: int = 4
    """Instruction prefix tokens made from the frozen sentence embedding."""

    # ---- tokenizers --------------------------------------------------------------------
    fast_path: str = ""
    """Directory of a fitted FAST tokenizer (`vlaforge tokenizer fit-fast`); checkpoints carry their own."""
    fast_scale: float = 10.0
    vq: ImageVQConfig = field(default_factory=ImageVQConfig)
    """Image VQ architecture; its weights are trained in stage 'vq' and travel in the checkpoint."""

    code_cache_size: int = 1_000_000
    """Frames whose VQ codes are memoised by content while the VQ is frozen (0 disables; ~200 B each)."""

    # ---- stages and decoding -----------------------------------------------------------
    wm_loss_first_frame: bool = False
    """World model: also predict the first frame from the text (text-to-image); the paper's
    world model is supervised on future frames given the first."""
    policy_image_loss_weight: float = 0.0
    """Policy stage: weight of an extra next-frame image loss (paper Table 6a 'visual prediction')."""
    max_action_tokens: int = 64
    """Greedy decoding stops here if no eoa came (then the chunk is a decode failure)."""
    fast_decode: Literal["strict", "relaxed"] = "strict"
    """'strict': a generation that does not spell exactly chunk x dims coefficients is a failure.
    'relaxed' (LeRobot pi0-FAST's ``relaxed_decoding``): missing highest-frequency coefficients are
    zero-filled and extras dropped; such chunks are counted as ``decode_repaired``, not hidden."""
    decode_fallback: Literal["repeat_last", "zeros"] = "repeat_last"
    """On a FAST decode failure: repeat the sample's previous chunk (zeros if none) or zeros; always flagged."""

    # ---- derived -----------------------------------------------------------------------
    @property
    def codebook_size(self) -> int:
        return self.vq.codebook_size

    @property
    def vocab_size(self) -> int:
        return self.text_vocab + self.codebook_size + N_SPECIAL

    @property
    def fast_offset(self) -> int:
        return self.text_vocab - self.fast_vocab

    @property
    def image_offset(self) -> int:
        return self.text_vocab

    @property
    def special(self) -> dict[str, int]:
        base = self.text_vocab + self.codebook_size
        return {name: base + i for i, name in enumerate(("boi", "eoi", "boa", "eoa", "pad"))}

    @property
    def tokens_per_view(self) -> int:
        return self.vq.grid ** 2

    def stages(self) -> tuple[StageSpec, ...]:
        return (
            StageSpec("vq", 2, self.wm_stride, self.chunk_size, actions="unused", trains=("vq.",),
                      description="image VQ tokenizer: reconstruction + commitment"),
            StageSpec("world_model", self.wm_frames, self.wm_stride, self.chunk_size, actions="unused",
                      frozen=("vq.",), description="next-frame image tokens on (action-free) video"),
            StageSpec("policy", self.n_obs_steps, self.obs_stride, self.chunk_size, actions="optional",
                      frozen=("vq.",), description="FAST action tokens after history + current frame"),
        )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.fast_vocab > self.text_vocab:
            raise ValueError(f"fast_vocab {self.fast_vocab} must fit in text_vocab {self.text_vocab} "
                             "(FAST ids occupy the last ids of the text range)")
        if self.image_size[0] != self.image_size[1] or self.image_size[0] != self.vq.image_size:
            raise ValueError(f"image_size {self.image_size} must be square and equal vq.image_size "
                             f"{self.vq.image_size}")
        if self.n_text_tokens < 1:
            raise ValueError("n_text_tokens must be >= 1 (the first image token is predicted from the prefix)")

    def create(self, normalizer, embodiments):
        from vlaforge.models.univla_ar.model import UniVLAARPolicy

        return UniVLAARPolicy(self, normalizer, embodiments)


UniVLAARConfig.PRESETS = {
    # ~4M-parameter decoder for this CPU: 4 layers, width 256, 8x8 codes per 64^2 view.
    "tiny": {},
    # Emu3-8.5B decoder (UniVLA's backbone): 32 layers, width 4096, 32 heads, 8 KV heads,
    # SwiGLU 14336, vocabulary 184,622 (HF ``Emu3TextConfig``: 32,768 VQ codes).
    "paper": dict(dim=4096, depth=32, heads=32, kv_heads=8, mlp="swiglu", mlp_hidden=14336, norm="rms", bias=False,
                  rope_base=1_000_000.0, max_seq_len=9216, vq=ImageVQConfig(codebook_size=32768),
                  text_vocab=184622 - 32768 - N_SPECIAL, fast_vocab=1024, image_size=(64, 64)),
}
