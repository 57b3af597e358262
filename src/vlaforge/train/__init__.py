"""One trainer for every family and stage: configs, optimizer groups, schedules, EMA, recipes, resume.

    from vlaforge.train import TrainConfig, get_recipe, train
    result = train(get_recipe("xvla_tiny_mt10")())

Submodules are imported on first use, so ``import vlaforge.train`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainConfig": "vlaforge.train.config", "DataConfig": "vlaforge.train.config",
    "OptimConfig": "vlaforge.train.config", "EvalConfig": "vlaforge.train.config",
    "train_config_from_dict": "vlaforge.train.config",
    "Trainer": "vlaforge.train.trainer", "TrainResult": "vlaforge.train.trainer", "train": "vlaforge.train.trainer",
    "latest_checkpoint": "vlaforge.train.trainer", "last_checkpoint": "vlaforge.train.trainer",
    "TrainData": "vlaforge.train.data", "load_train_data": "vlaforge.train.data",
    "register_recipe": "vlaforge.train.recipes", "get_recipe": "vlaforge.train.recipes",
    "list_recipes": "vlaforge.train.recipes",
    "build_optimizer": "vlaforge.train.optim", "build_scheduler": "vlaforge.train.optim",
    "WarmupCosine": "vlaforge.train.optim", "EMA": "vlaforge.train.ema",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'vlaforge.train' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
