"""UniVLA latent-action recipes: LAM on video (two stages), latent pretraining on video, fine-tuning on demos.

    vlaforge train --chain univla_latent_tiny_mt10
    vlaforge train --recipe univla_latent_tiny_mt10 --data.episodes-per-task 10   # the data-efficiency claim
    vlaforge train --recipe univla_latent_scratch_mt10         # ablation: the same policy + decoder, demos only
"""

from __future__ import annotations

from vlaforge.train.config import DataConfig, OptimConfig, TrainConfig
from vlaforge.train.recipes import MT10_BUDGET_MINUTES, MT10_DATA, MT40_VIDEO, register_recipe


def _policy(**kw):
    from vlaforge.models.univla_latent import UniVLALatentConfig

    return UniVLALatentConfig.from_preset("tiny", **kw)


def _cfg(stage: str, out: str, minutes: float, roots, video=()) -> TrainConfig:
    return TrainConfig(
        policy=_policy(), stage=stage, data=DataConfig(roots=tuple(roots), action_free_roots=tuple(video), batch_size=32),
        optim=OptimConfig(lr=3e-4, betas=(0.9, 0.95), weight_decay=0.01, warmup_steps=200, min_lr_ratio=0.05),
        steps=None, time_budget_minutes=minutes, precision="auto", save_every=500, out_dir=out)


@register_recipe("univla_latent_lam_mt50video")
def univla_latent_lam_mt50video() -> TrainConfig:
    """UniVLA LAM stage 1 (task-irrelevant latents, with language) on MT40 video + MT10 demos without actions."""
    return _cfg("lam_task_irrelevant", "runs/univla_latent_lam1", 10.0, (MT40_VIDEO, MT10_DATA))


@register_recipe("univla_latent_lam2_mt50video", after="univla_latent_lam_mt50video")
def univla_latent_lam2_mt50video() -> TrainConfig:
    """UniVLA LAM stage 2: that codebook frozen, a task-centric one learned without language, 10 minutes."""
    return _cfg("lam_task_centric", "runs/univla_latent_lam2", 10.0, (MT40_VIDEO, MT10_DATA))


@register_recipe("univla_latent_pretrain", after="univla_latent_lam2_mt50video")
def univla_latent_pretrain() -> TrainConfig:
    """UniVLA latent policy pretrained to predict the LAM's task-centric latents on video, 20 minutes."""
    return _cfg("pretrain", "runs/univla_latent_pretrain", 20.0, (MT40_VIDEO, MT10_DATA))


@register_recipe("univla_latent_tiny_mt10", after="univla_latent_pretrain")
def univla_latent_tiny_mt10() -> TrainConfig:
    """UniVLA latent policy + action decoder fine-tuned on the MT10 demos, the protocol's 45 minutes."""
    return _cfg("finetune", "runs/univla_latent_tiny_mt10", MT10_BUDGET_MINUTES, (MT10_DATA,))


@register_recipe("univla_latent_scratch_mt10", after="univla_latent_lam2_mt50video")
def univla_latent_scratch_mt10() -> TrainConfig:
    """Ablation: the same policy and decoder trained on the demos alone (no latent pretraining on video)."""
    return _cfg("finetune", "runs/univla_latent_scratch_mt10", MT10_BUDGET_MINUTES, (MT10_DATA,))
