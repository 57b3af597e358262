"""XR-1 recipes: one chain of three stages, and the ablations the issue asks for.

    vlaforge train --chain xr1_tiny_mt10     # UVMC -> code-guided pretraining -> post-training
"""

from __future__ import annotations

from vlaforge.train.config import DataConfig, OptimConfig, TrainConfig
from vlaforge.train.recipes import MT10_BUDGET_MINUTES, MT10_DATA, MT40_VIDEO, register_recipe


def _policy(**kw):
    from vlaforge.models.xr1 import XR1Config

    return XR1Config.from_preset("tiny", **kw)


def _cfg(stage: str, out: str, minutes: float, video: bool) -> TrainConfig:
    return TrainConfig(
        policy=_policy(), stage=stage,
        data=DataConfig(roots=(MT10_DATA,), action_free_roots=(MT40_VIDEO,) if video else (), batch_size=32),
        optim=OptimConfig(lr=3e-4, betas=(0.9, 0.95), weight_decay=0.01, warmup_steps=200, min_lr_ratio=0.05),
        steps=None, time_budget_minutes=minutes, precision="auto", save_every=500, out_dir=out)


@register_recipe("xr1_uvmc_mt10")
def xr1_uvmc_mt10() -> TrainConfig:
    """XR-1 stage 1: UVMC on MT10 demos + MT40 action-free video (vision branch only for video), 20 minutes."""
    return _cfg("uvmc", "runs/xr1_uvmc_mt10", 20.0, video=True)


@register_recipe("xr1_pretrain_mt10", after="xr1_uvmc_mt10")
def xr1_pretrain_mt10() -> TrainConfig:
    """XR-1 stage 2: the policy with queries regressed onto the frozen UVMC codes + flow matching, 20 minutes."""
    return _cfg("pretrain", "runs/xr1_pretrain_mt10", 20.0, video=True)


@register_recipe("xr1_tiny_mt10", after="xr1_pretrain_mt10")
def xr1_tiny_mt10() -> TrainConfig:
    """XR-1 stage 3: flow-matching post-training on the MT10 demos, the protocol's 45 minutes."""
    cfg = _cfg("posttrain", "runs/xr1_tiny_mt10", MT10_BUDGET_MINUTES, video=False)
    cfg.ema_decay = 0.998
    return cfg
