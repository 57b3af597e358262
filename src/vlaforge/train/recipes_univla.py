"""Recipes of the UniVLA unified-autoregressive family (``univla_ar``) and its image VQ.

The MT10 pipeline, in order (each stage starts from the previous one's checkpoint)::

    vlaforge train --recipe vq_tiny_mt10                  # image VQ on MT10 + MT40 frames
    vlaforge tokenizer fit-fast --dataset data/mt10_64 --chunk 10 --out runs/tokenizers/fast_mt10
    vlaforge train --recipe univla_ar_wm_mt40             # world model on action-free MT40 video
    vlaforge train --recipe univla_ar_tiny_mt10           # policy, initialised from the world model
    vlaforge train --recipe univla_ar_tiny_mt10_scratch   # ablation: policy without the world model

World-model frames: Meta-World runs at 80 Hz and expert episodes last ~50-200 steps,
so the paper's "6 frames ~1 s apart" would mostly repeat the last frame; frames are
16 steps (0.2 s) apart instead, so six of them span one second of an episode.
"""

from __future__ import annotations

from vlaforge.train.config import DataConfig, OptimConfig, TrainConfig
from vlaforge.train.recipes import MT10_BUDGET_MINUTES, MT10_DATA, register_recipe

MT40_VIDEO = "data/mt40_video_64"
"""Action-free MT40 video: `vlaforge collect metaworld --tasks mt40 --no-actions --out data/mt40_video_64`."""
VQ_RUN = "runs/vq_tiny_mt10"
WM_RUN = "runs/univla_ar_wm_mt40"
FAST_DIR = "runs/tokenizers/fast_mt10"
WM_FRAMES, WM_STRIDE = 6, 16


def _policy(**kw):
    from vlaforge.models.univla_ar.config import tiny

    return tiny(**kw)


@register_recipe("vq_tiny_mt10")
def vq_tiny_mt10() -> TrainConfig:
    """UniVLA-AR image VQ (64^2 -> 8x8 codes, 1024 codes) on MT10 + MT40 frames, 20 minutes."""
    return TrainConfig(
        policy=_policy(n_obs_steps=2, obs_stride=WM_STRIDE),
        stage="vq",
        data=DataConfig(roots=(MT10_DATA,), action_free_roots=(MT40_VIDEO,), batch_size=32, num_workers=1),
        optim=OptimConfig(lr=1e-3, betas=(0.9, 0.99), weight_decay=0.0, warmup_steps=100, min_lr_ratio=0.1),
        steps=None, time_budget_minutes=20.0, precision="fp32", save_every=500, out_dir=VQ_RUN)


@register_recipe("univla_ar_wm_mt40")
def univla_ar_wm_mt40() -> TrainConfig:
    """UniVLA-AR stage 1: world model on action-free MT40 video (6 frames, image-token loss), 45 minutes."""
    return TrainConfig(
        policy=_policy(n_obs_steps=WM_FRAMES, obs_stride=WM_STRIDE),
        stage="world_model", init_from=f"{VQ_RUN}/checkpoints/last",
        data=DataConfig(roots=(MT40_VIDEO,), batch_size=16, num_workers=1),
        optim=OptimConfig(lr=5e-4, betas=(0.9, 0.95), weight_decay=0.05, warmup_steps=200, min_lr_ratio=0.1),
        steps=None, time_budget_minutes=MT10_BUDGET_MINUTES, precision="bf16", save_every=500, out_dir=WM_RUN)


@register_recipe("univla_ar_tiny_mt10")
def univla_ar_tiny_mt10() -> TrainConfig:
    """UniVLA-AR stage 2: policy on MT10 (current + 1 history frame, chunk 10, action-token loss) from the world model."""
    return TrainConfig(
        policy=_policy(n_obs_steps=2, obs_stride=10, chunk_size=10, fast_path=FAST_DIR),
        stage="policy", init_from=f"{WM_RUN}/checkpoints/last",
        data=DataConfig(roots=(MT10_DATA,), batch_size=32, num_workers=1),
        optim=OptimConfig(lr=3e-4, betas=(0.9, 0.95), weight_decay=0.05, warmup_steps=200, min_lr_ratio=0.05),
        steps=None, time_budget_minutes=MT10_BUDGET_MINUTES, precision="bf16", save_every=1000,
        out_dir="runs/univla_ar_tiny_mt10")


@register_recipe("univla_ar_tiny_mt10_scratch")
def univla_ar_tiny_mt10_scratch() -> TrainConfig:
    """UniVLA-AR ablation: the policy stage without world-model post-training (decoder from scratch, same VQ)."""
    cfg = univla_ar_tiny_mt10()
    cfg.init_from = f"{VQ_RUN}/checkpoints/last"
    cfg.out_dir = "runs/univla_ar_tiny_mt10_scratch"
    return cfg
