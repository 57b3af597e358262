"""Named training recipes: ``name -> function returning a TrainConfig``.

A recipe is a plain function decorated with ``@register_recipe("name")``; its
docstring's first line is the description ``vlaforge recipes`` prints. Recipes may live
in a family package (imported by ``vlaforge.core.registry.load_families``) or in a
``vlaforge/train/recipes_<family>.py`` module; both are imported before any lookup, so
adding one never means editing this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from vlaforge.core.registry import load_families, unknown_name_message
from vlaforge.train.config import DataConfig, OptimConfig, TrainConfig

RecipeFn = Callable[[], TrainConfig]


@dataclass(frozen=True)
class Recipe:
    name: str
    fn: RecipeFn
    description: str

    def __call__(self) -> TrainConfig:
        return self.fn()


_RECIPES: dict[str, Recipe] = {}


def register_recipe(name: str) -> Callable[[RecipeFn], RecipeFn]:
    """Function decorator: ``@register_recipe("xvla_tiny_mt10")`` on a ``() -> TrainConfig`` function."""

    def deco(fn: RecipeFn) -> RecipeFn:
        if name in _RECIPES and _RECIPES[name].fn is not fn:
            raise ValueError(f"recipe {name!r} registered twice ({_RECIPES[name].fn.__module__} and {fn.__module__})")
        doc = (fn.__doc__ or "").strip().splitlines()
        _RECIPES[name] = Recipe(name, fn, doc[0] if doc else "")
        return fn

    return deco


def load_recipe_modules() -> None:
    """Import every family package and every ``vlaforge.train.recipes_*`` module, so their
    ``@register_recipe`` decorators have run. Cheap after the first call."""
    import importlib
    import pkgutil

    import vlaforge.train as pkg

    load_families()
    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name.startswith("recipes_"):
            importlib.import_module(f"vlaforge.train.{mod.name}")


def get_recipe(name: str) -> Recipe:
    load_recipe_modules()
    if name not in _RECIPES:
        raise KeyError(unknown_name_message("recipe", name, list(_RECIPES)))
    return _RECIPES[name]


def list_recipes() -> list[Recipe]:
    load_recipe_modules()
    return [_RECIPES[n] for n in sorted(_RECIPES)]


# ---- X-VLA -----------------------------------------------------------------------

MT10_DATA = "data/mt10_64"
MT10_BUDGET_MINUTES = 45.0


@register_recipe("xvla_tiny_mt10")
def xvla_tiny_mt10() -> TrainConfig:
    """X-VLA tiny on Meta-World MT10 (data/mt10_64), the shared protocol's 45-minute budget."""
    from vlaforge.models.xvla import XVLAConfig

    return TrainConfig(
        policy=XVLAConfig.from_preset("tiny"),
        data=DataConfig(roots=(MT10_DATA,), batch_size=32, num_workers=0),
        optim=OptimConfig(lr=3e-4, betas=(0.9, 0.95), weight_decay=0.01, warmup_steps=200, min_lr_ratio=0.05),
        steps=None, time_budget_minutes=MT10_BUDGET_MINUTES, precision="bf16", ema_decay=0.998,
        save_every=1000, out_dir="runs/xvla_tiny_mt10", num_threads=2,
    )


@register_recipe("xvla_demo")
def xvla_demo() -> TrainConfig:
    """X-VLA tiny on the demo's small Meta-World set (runs/demo/data), an 8.5-minute budget."""
    cfg = xvla_tiny_mt10()
    # Batch 16: on 2 cores the budget buys only hundreds of steps, and more updates beat
    # bigger batches here (a probe learned button-press-topdown within 300 steps of 16).
    cfg.data = DataConfig(roots=("runs/demo/data",), batch_size=16, num_workers=0)
    cfg.optim.warmup_steps = 50
    cfg.time_budget_minutes = 8.5
    cfg.ema_decay = None  # a few hundred steps: an EMA would still lag the live weights
    cfg.save_every = 500
    cfg.out_dir = "runs/demo/train"
    return cfg


# Recipes of other families register on import (kept in their own files).
from vlaforge.train import recipes_univla as _recipes_univla  # noqa: E402,F401
