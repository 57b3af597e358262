"""AdamW over the model's own parameter groups, and the warmup + cosine schedule.

The model decides the groups (``param_groups(weight_decay)``: no decay on 1-D
params, an ``lr_scale`` per group, e.g. X-VLA's VLM and soft prompts at 0.1x); the
trainer only turns each group's ``lr_scale`` into its base learning rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from vlaforge.train.config import OptimConfig


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    """AdamW over ``model.param_groups``; each group's lr = ``cfg.lr * lr_scale``."""
    groups = model.param_groups(cfg.weight_decay)
    _check_groups(model, groups)
    for g in groups:
        g.setdefault("lr_scale", 1.0)
        g["lr"] = cfg.lr * g["lr_scale"]
    params = [p for g in groups for p in g["params"]]
    devices = {p.device.type for p in params}
    # One fused kernel per step (CPU since torch 2.4); FSDP2's sharded DTensors keep the default path.
    fused = len(devices) == 1 and devices <= {"cpu", "cuda"} and not any(hasattr(p, "placements") for p in params)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay,
                             fused=True if fused else None)


def _check_groups(model: nn.Module, groups: list[dict]) -> None:
    """Every trainable parameter must be in exactly one group, or it silently never trains."""
    seen: dict[int, int] = {}
    for g in groups:
        for p in g["params"]:
            seen[id(p)] = seen.get(id(p), 0) + 1
    dup = [n for n, p in model.named_parameters() if seen.get(id(p), 0) > 1]
    lost = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in seen]
    if dup:
        raise ValueError(f"{type(model).__name__}.param_groups lists parameters twice: {dup[:5]}")
    if lost:
        raise ValueError(f"{type(model).__name__}.param_groups leaves trainable parameters out: {lost[:5]}; "
                         "add them to a group or set requires_grad=False")
    if not seen:
        raise ValueError(f"{type(model).__name__} has no trainable parameters in this stage")


@dataclass
class WarmupCosine:
    """LR multiplier: linear warmup to 1 over ``warmup`` steps, cosine to ``min_ratio`` at ``total``.

    A callable object rather than a lambda so ``LambdaLR.state_dict`` saves its fields
    (``total`` can be fixed mid-run by the time-budget calibration and must survive resume).
    """

    warmup: int
    total: int
    min_ratio: float = 0.1

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        span = max(self.total - self.warmup, 1)
        progress = min(max(step - self.warmup, 0) / span, 1.0)
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: OptimConfig,
                    total_steps: int) -> tuple[torch.optim.lr_scheduler.LambdaLR, WarmupCosine]:
    """One shared schedule object for every group, so group lr ratios stay fixed."""
    schedule = WarmupCosine(cfg.warmup_steps, total_steps, cfg.min_lr_ratio)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule), schedule
