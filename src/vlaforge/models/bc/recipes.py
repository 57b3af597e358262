"""Behaviour-cloning recipes: the MT10 protocol reference row (from-scratch CNN and pretrained encoder)."""

from __future__ import annotations

from vlaforge.nn.encoders import ImageEncoderConfig
from vlaforge.train.config import DataConfig, OptimConfig, TrainConfig
from vlaforge.train.recipes import ALOHA_CAMERAS, ALOHA_DATA_96, MT10_BUDGET_MINUTES, MT10_DATA, register_recipe


def _bc(**policy):
    from vlaforge.models.bc import BCConfig

    return BCConfig.from_preset("tiny", **policy)


@register_recipe("bc_tiny_mt10")
def bc_tiny_mt10() -> TrainConfig:
    """BC reference: from-scratch CNN per camera + MLP, L1 on 16-step chunks, MT10 protocol (45 minutes)."""
    return TrainConfig(
        policy=_bc(), data=DataConfig(roots=(MT10_DATA,), batch_size=64, num_workers=0),
        optim=OptimConfig(lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-4, warmup_steps=200, min_lr_ratio=0.05),
        steps=None, time_budget_minutes=MT10_BUDGET_MINUTES, precision="fp32", ema_decay=0.999,
        save_every=2000, out_dir="runs/bc_tiny_mt10", num_threads=2)


@register_recipe("bc_effnet_mt10")
def bc_effnet_mt10() -> TrainConfig:
    """BC with the frozen ImageNet EfficientNet-Lite0 per camera (stride-16 features), MT10 protocol."""
    cfg = bc_tiny_mt10()
    cfg.policy = _bc(encoder=ImageEncoderConfig(kind="efficientnet_lite0", freeze=True, stride=16, shift_pad=4))
    cfg.out_dir = "runs/bc_effnet_mt10"
    return cfg


@register_recipe("bc_tiny_aloha96")
def bc_tiny_aloha96() -> TrainConfig:
    """The BC reference on ALOHA alone, beside ``xvla_effnet_ft_aloha96``: the from-scratch CNN per camera (top +
    both wrists at 96^2, shifts of 6 px), L1 on 1-second chunks (50 steps at 50 Hz, 25 executed)."""
    cfg = bc_tiny_mt10()
    cfg.policy = _bc(cameras=ALOHA_CAMERAS, image_size=(96, 96), chunk_size=50,
                     n_action_steps=25, encoder=ImageEncoderConfig(shift_pad=6, stem_channels=(16, 32, 64, 128)))
    cfg.data = DataConfig(roots=(ALOHA_DATA_96,), batch_size=64, num_workers=0)
    cfg.out_dir = "runs/bc_tiny_aloha96"
    return cfg
