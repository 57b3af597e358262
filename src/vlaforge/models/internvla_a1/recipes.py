"""InternVLA-A1 recipes: the autoencoder stage, then the policy with (or, the ablation, without) foresight.

    vlaforge train --chain internvla_a1_tiny_mt10            # autoencoder -> policy
    vlaforge train --chain internvla_a1_tiny_mt10_nogen      # ablation: the same policy without generation
"""

from __future__ import annotations

from vlaforge.train.config import DataConfig, OptimConfig, TrainConfig
from vlaforge.train.recipes import MT10_BUDGET_MINUTES, MT10_DATA, MT40_VIDEO, register_recipe


def _policy(**kw):
    from vlaforge.models.internvla_a1 import InternVLAA1Config

    return InternVLAA1Config.from_preset("tiny", **kw)


@register_recipe("internvla_a1_ae_mt10")
def internvla_a1_ae_mt10() -> TrainConfig:
    """InternVLA-A1's image autoencoder (64^2 -> 16 x 8 x 8 latents) on MT10 + MT40 frames, 10 minutes."""
    return TrainConfig(
        policy=_policy(), stage="autoencoder",
        data=DataConfig(roots=(MT10_DATA,), action_free_roots=(MT40_VIDEO,), batch_size=32),
        optim=OptimConfig(lr=1e-3, betas=(0.9, 0.99), weight_decay=0.0, warmup_steps=100, min_lr_ratio=0.1),
        steps=None, time_budget_minutes=10.0, precision="fp32", save_every=500, out_dir="runs/internvla_a1_ae_mt10")


@register_recipe("internvla_a1_tiny_mt10", after="internvla_a1_ae_mt10")
def internvla_a1_tiny_mt10() -> TrainConfig:
    """InternVLA-A1 tiny on MT10 demos + MT40 action-free video (foresight m=16), the 45-minute protocol budget."""
    return TrainConfig(
        policy=_policy(), stage="policy",
        data=DataConfig(roots=(MT10_DATA,), action_free_roots=(MT40_VIDEO,), weights=(4.0,), action_free_weights=(1.0,),
                        batch_size=32),
        optim=OptimConfig(lr=3e-4, betas=(0.9, 0.95), weight_decay=0.01, warmup_steps=200, min_lr_ratio=0.05),
        steps=None, time_budget_minutes=MT10_BUDGET_MINUTES, precision="auto", ema_decay=0.998, save_every=1000,
        out_dir="runs/internvla_a1_tiny_mt10")


@register_recipe("internvla_a1_tiny_mt10_nogen", after="internvla_a1_ae_mt10")
def internvla_a1_tiny_mt10_nogen() -> TrainConfig:
    """Ablation: the same InternVLA-A1 tiny without the generation expert (no foresight tokens or loss), MT10 only."""
    cfg = internvla_a1_tiny_mt10()
    cfg.policy.use_generation = False
    cfg.data = DataConfig(roots=(MT10_DATA,), batch_size=32)
    cfg.out_dir = "runs/internvla_a1_tiny_mt10_nogen"
    return cfg


@register_recipe("internvla_a1_tiny_mt10_demos", after="internvla_a1_ae_mt10")
def internvla_a1_tiny_mt10_demos() -> TrainConfig:
    """InternVLA-A1 tiny with foresight on the MT10 demos alone: the ablation partner of ``_nogen`` that
    differs from it only in the generation expert (same data, same budget)."""
    cfg = internvla_a1_tiny_mt10()
    cfg.data = DataConfig(roots=(MT10_DATA,), batch_size=32)
    cfg.out_dir = "runs/internvla_a1_tiny_mt10_demos"
    return cfg
