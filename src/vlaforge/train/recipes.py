"""Named training recipes: ``name -> function returning a TrainConfig``, and their chains.

A recipe is a plain function decorated with ``@register_recipe("name")`` in its family's
``models/<family>/recipes.py`` (found by discovery, like the families themselves); its
docstring's first line is what ``vlaforge recipes`` prints. A multi-stage recipe names
the stage it starts from, ``after="previous_recipe"``: that link is the chain's only
declaration. ``vlaforge train --chain NAME`` runs NAME's ancestors first, each stage
initialised from the previous stage's last checkpoint; a stage trained on its own
(``--recipe NAME``) starts from its predecessor's checkpoint when that run exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from vlaforge.core.errors import ConfigError
from vlaforge.core.registry import Registry, import_entry_points, import_subpackages
from vlaforge.train.config import TrainConfig

RecipeFn = Callable[[], TrainConfig]

MT10_DATA = "data/mt10_64"
"""The shared MT10 protocol's dataset: `vlaforge collect metaworld --tasks mt10 --out data/mt10_64`."""
MT40_VIDEO = "data/mt40_video_64"
"""Action-free MT40 video: `vlaforge collect metaworld --tasks mt40 --no-actions --out data/mt40_video_64`."""
ALOHA_DATA_96 = "data/aloha_96"
"""ALOHA's scripted demos at 96x96 (the cube ~4-5 pixels wide in the top view instead of ~3): `vlaforge collect
aloha --tasks transfer-cube,insertion --episodes-per-task 50 --image-size 96 --out data/aloha_96`."""
ALOHA_CAMERAS = ("top", "left_wrist", "right_wrist")
"""ALOHA's cameras as a policy reads them (the embodiment's own names)."""
MT10_BUDGET_MINUTES = 45.0
"""The protocol's wall-time budget per policy stage."""


@dataclass(frozen=True)
class Recipe:
    name: str
    fn: RecipeFn
    description: str
    after: str | None = None
    """The recipe whose last checkpoint this stage starts from (None: from scratch)."""

    def __call__(self) -> TrainConfig:
        return self.fn()


def _discover() -> None:
    import_subpackages("vlaforge.models", submodule="recipes")
    import_entry_points("vlaforge.families", submodule="recipes")


RECIPES: Registry[Recipe] = Registry("recipe", _discover, "List them with `vlaforge recipes`.")


def register_recipe(name: str, after: str | None = None) -> Callable[[RecipeFn], RecipeFn]:
    """Function decorator: ``@register_recipe("xvla_tiny_mt10")`` on a ``() -> TrainConfig`` function."""

    def deco(fn: RecipeFn) -> RecipeFn:
        doc = (fn.__doc__ or "").strip().splitlines()
        RECIPES.register(name, Recipe(name, fn, doc[0] if doc else "", after))
        return fn

    return deco


def get_recipe(name: str) -> Recipe:
    return RECIPES.get(name)


def list_recipes() -> list[Recipe]:
    return [r for _, r in RECIPES.items()]


def chain(name: str) -> list[Recipe]:
    """The stages that end in recipe ``name``, first stage first (follows ``after`` links)."""
    out, seen = [get_recipe(name)], {name}
    while out[0].after is not None:
        prev = out[0].after
        if prev in seen:
            raise ConfigError(f"recipe chain through {name!r} has a cycle at {prev!r}")
        seen.add(prev)
        out.insert(0, get_recipe(prev))
    return out


def checkpoint_of(out_dir: str | Path) -> Path:
    """Where a stage's successor reads its weights: the run's ``checkpoints/last``."""
    return Path(out_dir) / "checkpoints" / "last"


def resolve_init_from(recipe: Recipe, cfg: TrainConfig, previous_out_dir: str | None = None) -> TrainConfig:
    """Fill ``init_from`` of a chained stage from its predecessor's run (unless given)."""
    if cfg.init_from or recipe.after is None:
        return cfg
    prev_dir = previous_out_dir or get_recipe(recipe.after)().out_dir
    ckpt = checkpoint_of(prev_dir)
    if not ckpt.exists():
        raise ConfigError(f"recipe {recipe.name!r} starts from stage {recipe.after!r}, whose checkpoint {ckpt} does "
                          f"not exist; run the whole chain (`vlaforge train --chain {recipe.name}`), train "
                          f"{recipe.after!r} first, or pass --init-from DIR")
    cfg.init_from = str(ckpt)
    return cfg
