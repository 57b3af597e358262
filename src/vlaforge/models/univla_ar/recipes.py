"""Recipes of the UniVLA unified-autoregressive family: one chain, declared by ``after`` links.

    vlaforge train --chain univla_ar_tiny_mt10          # vq -> world model -> policy, one command
    vlaforge train --chain univla_ar_tiny_mt10_scratch  # ablation: vq -> policy without the world model

Each stage starts from the previous stage's last checkpoint; the policy stage fits its FAST
tokenizer on its own training data. Window lengths and strides come from the config's stage
specs (``UniVLAARConfig.stages``), not from the recipes.
"""

from __future__ import annotations

from vlaforge.train.config import DataConfig, OptimConfig, TrainConfig
from vlaforge.train.recipes import MT10_BUDGET_MINUTES, MT10_DATA, MT40_VIDEO, register_recipe


def _policy():
    from vlaforge.models.univla_ar import UniVLAARConfig

    return UniVLAARConfig.from_preset("tiny")


@register_recipe("vq_tiny_mt10")
def vq_tiny_mt10() -> TrainConfig:
    """UniVLA-AR image VQ (64^2 -> 8x8 codes, 1024 codes) on MT10 + MT40 frames, 20 minutes."""
    return TrainConfig(
        policy=_policy(), stage="vq",
        data=DataConfig(roots=(MT10_DATA,), action_free_roots=(MT40_VIDEO,), batch_size=32, num_workers=1),
        optim=OptimConfig(lr=1e-3, betas=(0.9, 0.99), weight_decay=0.0, warmup_steps=100, min_lr_ratio=0.1),
        steps=None, time_budget_minutes=20.0, precision="fp32", save_every=500, out_dir="runs/vq_tiny_mt10")


@register_recipe("univla_ar_wm_mt40", after="vq_tiny_mt10")
def univla_ar_wm_mt40() -> TrainConfig:
    """UniVLA-AR stage 1: world model on action-free MT40 video (6 frames, image-token loss), 45 minutes."""
    return TrainConfig(
        policy=_policy(), stage="world_model",
        data=DataConfig(roots=(MT40_VIDEO,), batch_size=16, num_workers=1),
        optim=OptimConfig(lr=5e-4, betas=(0.9, 0.95), weight_decay=0.05, warmup_steps=200, min_lr_ratio=0.1),
        steps=None, time_budget_minutes=MT10_BUDGET_MINUTES, precision="auto", save_every=500,
        out_dir="runs/univla_ar_wm_mt40")


@register_recipe("univla_ar_tiny_mt10", after="univla_ar_wm_mt40")
def univla_ar_tiny_mt10() -> TrainConfig:
    """UniVLA-AR stage 2: policy on MT10 (current + 1 history frame, chunk 10, action-token loss) from the world model."""
    return TrainConfig(
        policy=_policy(), stage="policy",
        data=DataConfig(roots=(MT10_DATA,), batch_size=32, num_workers=1),
        optim=OptimConfig(lr=3e-4, betas=(0.9, 0.95), weight_decay=0.05, warmup_steps=200, min_lr_ratio=0.05),
        steps=None, time_budget_minutes=MT10_BUDGET_MINUTES, precision="auto", save_every=1000,
        out_dir="runs/univla_ar_tiny_mt10")


@register_recipe("univla_ar_tiny_mt10_scratch", after="vq_tiny_mt10")
def univla_ar_tiny_mt10_scratch() -> TrainConfig:
    """UniVLA-AR ablation: the policy stage without world-model post-training (decoder from scratch, same VQ)."""
    cfg = univla_ar_tiny_mt10()
    cfg.out_dir = "runs/univla_ar_tiny_mt10_scratch"
    return cfg
