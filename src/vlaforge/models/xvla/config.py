"""X-VLA configuration and size presets.

``XVLAConfig.from_preset("tiny" | "paper", **overrides)`` is the way to get a preset (the base
``PolicyConfig`` implements it); the dataclass defaults equal the ``tiny`` preset.

Facts from the paper and the authors' code (github.com/2toinf/X-VLA) that set the
``paper`` defaults: Florence-2-large encoder (DaViT vision tower + BART-large encoder, the
text decoder dropped), a 24-block width-1024 16-head pre-LN action transformer with full
attention and dropout 0.1, 32 soft prompts per domain out of 30, a 32-d sinusoidal time
feature (max period 100), stratified flow time, clean-action prediction, 10 denoising
steps, chunk 30, losses position MSE x500, rotation MSE x10, gripper BCE x1 (and MSE x100
for other dims, their 'auto' action space), ``freeze_steps`` 1000 (their README's
fine-tuning example), VLM and soft prompts at lr x0.1. The paper preset's 224-px input is
our choice (DaViT is resolution-agnostic).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from vlaforge.core.config import PolicyConfig
from vlaforge.core.errors import ConfigError
from vlaforge.core.registry import register_family
from vlaforge.nn.encoders import ImageEncoderConfig

# Each preset lists every field it sets; anything else keeps the dataclass default.
_PRESETS: dict[str, dict] = {
    # CPU, Meta-World MT10 from 64x64 pixels: per camera a 4-stage stride-2 conv stem
    # (16 tokens), the instruction as one token, 8 soft prompts (not 32: each prompt is a
    # token every layer pays for, and one robot needs few), so the sequence is
    # 16 action + 1 + 2 x 16 + 8 = 57 tokens through 4 blocks of width 256 (~5.4M params).
    "tiny": dict(),
    # ~0.9B, the paper's X-VLA-0.9B. Without backbone_path the VLM is the Florence-2-large
    # architecture built from its config with random weights (see model.florence2_large_config).
    "paper": dict(
        width=1024, depth=24, heads=16, mlp_ratio=4.0, dropout=0.1, max_seq_len=512,
        soft_prompt_len=32, vl_encoder="florence2", image_size=(224, 224), chunk_size=30,
        shift_pad=0, position_weight=500.0, rotation_weight=10.0,
        gripper_weight=1.0, other_weight=100.0, freeze_steps=1000, vlm_lr_scale=0.1,
        soft_prompt_lr_scale=0.1,
    ),
}


@register_family("xvla")
@dataclass
class XVLAConfig(PolicyConfig):
    """X-VLA policy. Defaults are the ``tiny`` preset."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = _PRESETS
    PAPER_PARAMS: ClassVar[tuple[float, str]] = (0.9e9, "X-VLA paper (arXiv 2510.10274): X-VLA-0.9B")

    # ---- action transformer ----
    width: int = 256
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    max_seq_len: int = 256
    """Size of the learned position table (action + vision-language + extra-view tokens)."""

    # ---- soft prompts / domains ----
    num_domains: int = 30
    soft_prompt_len: int = 8
    domain_ids: dict[str, int] = field(default_factory=dict)
    """Embodiment (data source) name -> soft-prompt / head row. Names missing here get the
    next free id when the policy is built, and the filled map is saved with the checkpoint."""

    # ---- vision-language encoder ----
    vl_encoder: Literal["conv", "patch", "pretrained", "florence2"] = "conv"
    """Encoder when ``backbone_path`` is None: 'conv' (small from-scratch conv stem per camera),
    'patch' (ViT patchify), 'pretrained' (``image_encoder`` per camera: ImageNet EfficientNet-Lite0,
    frozen with a feature cache or fine-tuned), 'florence2' (Florence-2-large architecture, random init)."""
    image_encoder: ImageEncoderConfig = field(
        default_factory=lambda: ImageEncoderConfig(kind="efficientnet_lite0", freeze=True, stride=16, shift_pad=4))
    """With vl_encoder='pretrained': the per-camera encoder (``freeze=False`` fine-tunes at ``lr_scale``)."""
    backbone_path: str | None = None
    """Local directory of a saved Hugging Face model (see vlaforge.nn.hf_backbone); replaces vl_encoder."""
    freeze_backbone: bool = False
    stem_channels: tuple[int, ...] = (32, 64, 128, 256)
    convs_per_stage: int = 1
    stem_keypoints: int = 0
    """From-scratch conv stem only: also read ``K`` spatial-softmax keypoints (expected x, y of K learned maps) off
    the stride-8 stage and add them as one more token per view (``vlaforge.nn.vision.SpatialSoftmax``); 0: off.
    Why (issue 15, BENCHMARKS.md session 23): the fast stem ends at 2x2 cells per 64^2 view, and on reach's on-policy
    frames X-VLA's chunk moved less with swapped images than with a swapped state (BC's: 5x more with the images),
    its error nearly all a systematic drift: the goal dot is located coarsely. Measured with 32 on the peg-weighted
    six-dataset recipe, training seed 1: reach and push 100% (90 / 90% without), 93.0% against 95.0% on the mean
    (peg-insert 70 against 90%, door 80 against 100%; 7% fewer samples in the budget); over 300 episodes reach
    93 against 80%, peg-insert 70 against 90%, 91.7 against 92.7% on the mean. One seed; it stays 0."""
    stem_grid: int = 0
    """From-scratch conv stem only: also read the stride-16 stage as a ``g`` x ``g`` grid (adaptive-pooled; 4 is the
    whole 4x4 map of a 64^2 view), flattened through one linear into one more token per view
    (``vlaforge.nn.vision.GridToken``); 0: off. Why (issue 15, BENCHMARKS.md session 24): X-VLA fits the expert's
    chunks 1.5-2.4x as loosely as BC on the hard tasks' on-policy frames (sessions 22-23), and BC reads its 4x4
    grid with position-specific weights (its MLP on the flattened cells) where the fast stem gives 2x2 cell tokens
    through shared weights. Measured at equal steps
    (3,000 x 32 on the clean + DART demos): the chunk moves more with the images (0.34 against 0.29 std) and less with
    the state, but the fit on held-out DART demos is 1% closer (0.411 against 0.416 std; BC 0.346) for 7% fewer
    samples/s and 1.1M more parameters. In closed loop (BENCHMARKS.md session 27: 45 minutes, L1 regression on the
    clean + DART demos, machine I, one seed) it scores 81.7% over 300 episodes against 73.7% without (+8.0 +- 1.9
    paired; peg-insert 13 -> 30%, pick-place 43 -> 53%) for 11% fewer samples, still 8.3 +- 2.1 below BC; 32
    keypoints instead give +3.3 +- 1.7. A second training seed (session 28) scores 78.3% (+4.7 +- 1.8 paired; its
    peg-insert 7%): the gain holds on both seeds, at half the size on the second. It stays 0 in the base recipes,
    whose other rows were measured without it, and is on in ``xvla_fast_grid_ctx_mt10``."""
    patch_size: int = 16
    shift_pad: int = 4
    """Train-time random shift in pixels (DrQ); 0 disables."""
    max_text_len: int = 32
    """Instruction tokens fed to a joint vision+text encoder (Florence-2)."""

    instruction_to_actions: bool = False
    """Also add the projected instruction embedding to every action token (as proprio is), so each action
    token reads the task directly, as BC's MLP does, not only through attention to the one instruction token.
    An ablation for multi-task scenes that look alike (MT10's reach / push / pick-place)."""
    instruction_film: bool = False
    """FiLM every visual token by the instruction: tokens * (1 + gamma) + beta, gamma and beta a zero-initialised
    linear of the instruction embedding (so training starts from the unconditioned network). In the paper the
    Florence-2 encoder reads image and instruction together, so its visual tokens already depend on the task;
    the per-camera stems here do not, and the task reaches the action tokens only through one instruction token.
    The ablation of session 14 (issue 15): session 7 found X-VLA close to BC on three look-alike tasks and far
    below it inside the ten-task mix, i.e. interference between tasks."""
    instruction_adaln: bool = False
    """Condition every transformer block on the instruction (DiT-style adaLN without gates, ``nn.transformer``):
    a zero-initialised linear of the instruction embedding shifts and scales both LayerNorm outputs of each block,
    so every token in every layer reads the task, not only the visual tokens as with ``instruction_film``. The
    ablation of session 15 (issue 15): inside the ten-task mix X-VLA's push falls into the look-alike reach
    behaviour off the demonstrations' states (session 8); BC's MLP sees the instruction in every hidden unit.
    Measured on top of the FiLM (BENCHMARKS.md session 15): position loss 1-3% lower at equal steps, MT10 71.0%
    against 76.0% on the protocol and 74.3% against 78.3% over 300 episodes (-4.0 +- 2.5 paired; peg-insert
    47 -> 7%), so it stays off."""
    use_proprio: bool = True
    """Feed the normalized state to every action token (the paper). Off: the chunk is predicted from the images and
    the instruction alone. The ablation of session 17 (issue 15): at equal samples the X-VLA tiny reproduces the
    demonstrated chunks as closely as BC, on the demos' own states and held-out ones, and loses 11 points in closed
    loop; swapping another sample's state moves its chunk twice as far as swapping its images, where BC's moves four
    times as far with the images (``benchmarks/fit_gap.py --reliance``). Along the demonstrations the hand's path
    predicts the expert; off it, only the scene does. Measured without it (BENCHMARKS.md session 17): 75.0% on the
    protocol, 78.7% over 300 episodes against 78.0% with it (push 50 -> 77%, peg-insert 33 -> 20%), so the state
    is not what costs X-VLA its closed loop, and it stays on."""
    proprio_dropout: float = 0.0
    """Training only: the probability that a sample's state is zeroed (the action tokens then read the images and the
    instruction alone), so the proprio cannot carry the chunk by itself; inference always sees the state. Measured
    at 0.5 on the six-dataset MT10 recipe, training seed 1 (BENCHMARKS.md session 22): the chunk then moves 8x as far
    with swapped images as with a swapped state (1.2x without), yet it fits the peg-insert hover labels no better
    (0.71 against 0.69 std) and scores 91.0% against 89.0% (peg-insert 20 against 10%), so it stays 0."""
    global_context: bool = False
    """Also add a BC-style summary of the observation to every action token: the flattened visual tokens
    (instruction + every view, position-specific weights) through a 2-layer MLP of width ``width``. Attention
    then refines from a start that already holds what BC's MLP sees. An ablation (session 10): at equal
    samples the X-VLA transformer fits MT10 worse than BC's MLP (training L1 0.11 vs 0.09); this gives the
    action tokens BC's direct read-out. Session 10 stopped it on its training loss (*worse* at equal steps: 0.303 vs
    0.264 over steps 1,200-1,400), the wrong measure. Session 28's linear probes (``benchmarks/feature_probe.py``)
    found X-VLA's image features hold peg-insert's hole nearly as well as BC's (held-out R^2 0.48 against 0.57 on the
    carry's frames) and its action tokens lose it (0.03 against BC's head 0.55): attention does not carry it over. On
    the grid-token regression run (45 minutes, clean + DART demos, machine I, one seed) it scores 81.0% on the
    protocol and 84.7% over 300 episodes (+3.0 +- 1.6 paired against the grid token alone; peg-insert 30 -> 47%),
    5.3 +- 1.9 below BC. Off in the base recipes, whose rows were measured without it; on in
    ``xvla_fast_grid_ctx_mt10``. Needs the conv / patch / pretrained stems."""
    global_context_head: bool = False
    """With ``global_context``: the summary also predicts the whole normalized chunk directly, one linear to
    (chunk_size x MAX_DIM) added to the transformer's output, as BC's head does (zero-initialised, so step 0 is the
    network without it). Why (issue 15, session 29): on ``xvla_fast_grid_ctx_mt10`` the action tokens hold
    peg-insert's hole at R^2 0.32 where the image features hold it at 0.63 and BC's head at 0.55
    (``benchmarks/feature_probe.py``): the read-out through the transformer loses the goal, so give the chunk a path
    around it and let attention refine per step. Measured on that recipe (BENCHMARKS.md session 29: 45 minutes, clean
    + DART demos, machine I, one seed): 83.0% on the protocol, 84.0% over 300 episodes against 84.7% without
    (-0.7 +- 1.6 paired; push 77 -> 90%, peg-insert 47 -> 37%) at 11% fewer samples, so it stays off."""
    attention: Literal["full", "prefix"] = "full"
    """'full' (the paper: every token attends to every token) or 'prefix' (pi0's layout, a speed option):
    vision-language and soft-prompt tokens do not attend to the action tokens, so their keys and values do
    not depend on the noisy actions and are computed once per chunk, then reused by every denoising step."""

    # ---- flow matching ----
    dim_time: int = 32
    time_sampling: Literal["uniform", "stratified", "beta"] = "stratified"
    num_inference_steps: int = 10
    init_noise_scale: float = 1.0
    """Inference only: the standard deviation of the initial noise (1 = the paper's sampler; 0 = deterministic, the
    flow from the origin, whose first clean-action prediction is the network's conditional mean). An inference-time
    ablation for closed-loop jitter: sampled chunks differ from one call to the next, a mean chunk does not."""
    objective: Literal["flow", "regression"] = "flow"
    """'flow' (the paper: flow matching, clean-action prediction) or 'regression' (ablation: the same
    network given zero noise at t=0, one pass, trained with ``regression_loss`` -- plain behaviour
    cloning on the X-VLA architecture)."""
    regression_loss: Literal["l1", "mse"] = "l1"
    gripper_loss: Literal["bce", "regression"] = "bce"
    """'bce' (the paper: gripper channels are logits of (raw - low) / (high - low)) or 'regression'
    (ablation: the gripper is one more normalized dim under the position loss)."""
    zero_gripper_input: bool = True
    """Gripper channels are predicted as BCE logits, so their noisy input carries nothing; zero it (authors' code)."""

    # ---- loss weights per action-dim group (embodiment spec) ----
    position_weight: float = 1.0
    rotation_weight: float = 1.0
    gripper_weight: float = 1.0
    other_weight: float = 1.0
    """Tiny uses 1/1/1/1, not the paper's 500/10/1: the paper's weights offset raw EE deltas of
    ~1e-3 m, but we regress mean/std-normalized actions (unit variance), where x500 would
    drown the gripper BCE, which decides every grasp in Meta-World."""

    # ---- schedule ----
    freeze_steps: int = 0
    """First N steps train only soft prompts and the domain-aware heads (0 for a from-scratch tiny)."""
    vlm_lr_scale: float = 1.0
    """lr multiplier of the vision-language encoder: 0.1 for a pretrained VLM (paper); the tiny
    conv stem is trained from scratch, so it keeps the full lr."""
    soft_prompt_lr_scale: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.proprio_dropout < 1.0:
            raise ConfigError(f"xvla proprio_dropout={self.proprio_dropout}: use a probability in [0, 1) (0 keeps "
                              "the state for every sample; set use_proprio=False to drop it everywhere)")
        for name, n, what, stage in (("stem_keypoints", self.stem_keypoints, "a number of keypoints", 3),
                                     ("stem_grid", self.stem_grid, "a grid size (4 for a 4x4 grid)", 2)):
            self._check_stem_readout(name, n, what, stage)
        if self.global_context_head and not self.global_context:
            raise ConfigError("xvla global_context_head reads the global context's summary: set global_context=True "
                              "too, or unset global_context_head")

    def _check_stem_readout(self, name: str, n: int, what: str, stage: int) -> None:
        """``stem_keypoints`` / ``stem_grid``: one more token per view read off the conv stem's ``stage``-th stage
        from the end, so they need that stem with enough stages."""
        if n < 0:
            raise ConfigError(f"xvla {name}={n}: use 0 (off) or {what}")
        if n and (self.vl_encoder != "conv" or self.backbone_path):
            raise ConfigError(f"xvla {name}={n} reads the from-scratch conv stem; it needs vl_encoder='conv' and no "
                              f"backbone_path (got {self.vl_encoder!r}, {self.backbone_path!r}): unset {name} or the "
                              "other encoder")
        if n and len(self.stem_channels) < stage:
            raise ConfigError(f"xvla {name} reads stage {stage} from the end; stem_channels {self.stem_channels} has "
                              f"{len(self.stem_channels)} stages: give it {stage} or more")

    def create(self, normalizer, embodiments):
        from vlaforge.models.xvla.model import XVLAPolicy

        return XVLAPolicy(self, normalizer, embodiments)
