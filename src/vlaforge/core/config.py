"""Typed dataclass configs: the base every family config extends, presets, stage specs, dict round trips."""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from vlaforge.core.errors import ConfigError, UnknownNameError
from vlaforge.core.registry import unknown_name_message

ActionUse = Literal["required", "optional", "unused"]


@dataclass(frozen=True)
class StageSpec:
    """What one training stage needs from the data, and what it trains.

    The training loader builds its windows from this, so no recipe edits policy fields to
    get another window, and a stage that needs frames t+k says so here."""

    name: str
    n_obs_steps: int = 1
    """Observation frames per sample (current + history)."""
    obs_stride: int = 1
    """Frames between history steps."""
    chunk_size: int = 16
    """Actions per sample (from the current frame on)."""
    future_offsets: tuple[int, ...] = ()
    """Frames t+k the stage needs (``future.images.<cam>``), e.g. a foresight target."""
    actions: ActionUse = "required"
    """'required': every sample must have actions (action-free roots are refused);
    'optional': action-free video mixes in and trains what it can; 'unused': actions are ignored."""
    trains: tuple[str, ...] = ("",)
    """Parameter-name prefixes that train in this stage ('' = every parameter)."""
    frozen: tuple[str, ...] = ()
    """Parameter-name prefixes that stay frozen in this stage (wins over ``trains``)."""
    description: str = ""


@dataclass
class PolicyConfig:
    """Fields every family shares. A family subclasses this, decorates it with
    ``@register_family(name)``, and fills ``PRESETS``; its ``create`` builds the policy
    (the config is the factory). The dataclass defaults are the ``tiny`` preset."""

    preset: str = "tiny"
    """The preset these values came from (``from_preset``); 'custom' when built by hand."""
    cameras: tuple[str, ...] = ("corner2", "gripperPOV")
    """Camera slots the policy reads, in order (a robot's own camera names, or slots it maps onto)."""
    camera_map: tuple[str, ...] = ()
    """``"camera=slot"`` entries for robots whose cameras are named otherwise (``vlaforge.core.cameras``):
    e.g. Sawyer's corner2 and ALOHA's top both feeding slot 'main'. Empty: cameras are the slots."""
    image_size: tuple[int, int] = (64, 64)
    n_obs_steps: int = 1
    """Observation frames per sample (current + history) at inference."""
    obs_stride: int = 1
    """Frames between history steps."""
    chunk_size: int = 16
    """Actions predicted per chunk (H)."""
    n_action_steps: int = 8
    """Actions executed from each chunk before re-planning (``select_action``)."""
    norm_mode: Literal["mean_std", "quantile", "identity"] = "mean_std"
    text_encoder: str = "minilm"
    """'minilm' (frozen all-MiniLM-L6-v2, offline) or 'hash' (no download, tests only)."""

    family: ClassVar[str] = ""
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {}}
    """Preset name -> the fields it sets; everything else keeps the dataclass default."""
    PAPER_PARAMS: ClassVar[tuple[float, str] | None] = None
    """(parameter count, where the figure comes from) that the ``paper`` preset must match within 10%."""

    # ---- presets ------------------------------------------------------------------------
    @classmethod
    def from_preset(cls, name: str, **overrides: Any):
        """The named preset with ``overrides`` on top; an unknown preset is an error."""
        if name not in cls.PRESETS:
            raise UnknownNameError(unknown_name_message(f"{cls.family or cls.__name__} preset", name, list(cls.PRESETS)))
        values = copy.deepcopy(cls.PRESETS[name])
        values.update(overrides)
        return cls(**{**values, "preset": name})

    def __post_init__(self) -> None:
        self._check_preset()

    def _check_preset(self) -> None:
        """``XConfig(preset="paper")`` would silently build tiny dimensions labelled 'paper'."""
        if self.preset == "custom":
            return
        if self.preset not in self.PRESETS:
            raise ConfigError(unknown_name_message(f"{self.family or type(self).__name__} preset", self.preset,
                                                   list(self.PRESETS)) + " (or preset='custom')")
        defaults = {f.name: _default(f) for f in dataclasses.fields(self)}
        differs = {k: v for k, v in self.PRESETS[self.preset].items() if v != defaults.get(k)}
        if differs and all(getattr(self, k) == defaults[k] for k in differs):
            raise ConfigError(f"{type(self).__name__}(preset={self.preset!r}) does not apply the preset "
                              f"(it sets {sorted(differs)}); use {type(self).__name__}.from_preset({self.preset!r}, ...)")

    # ---- stages -------------------------------------------------------------------------
    def stages(self) -> tuple[StageSpec, ...]:
        """Training stages in order, each with its data needs. One 'policy' stage by default."""
        return (StageSpec("policy", self.n_obs_steps, self.obs_stride, self.chunk_size),)

    def stage(self, name: str | None = None) -> StageSpec:
        """The named stage (None: the first)."""
        stages = self.stages()
        if name is None:
            return stages[0]
        for s in stages:
            if s.name == name:
                return s
        raise UnknownNameError(unknown_name_message(f"{self.family} stage", name, [s.name for s in stages]))

    # ---- building -----------------------------------------------------------------------
    def create(self, normalizer, embodiments):  # pragma: no cover - overridden
        raise NotImplementedError(f"{type(self).__name__} does not implement create()")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return dataclasses.MISSING


def from_dict(cls: type, data: dict) -> Any:
    """Build dataclass ``cls`` from a (JSON) dict, recursing into nested dataclasses and
    turning lists back into tuples. Unknown keys are an error that names them."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls} is not a dataclass")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown field(s) {unknown}; valid: {sorted(names)}")
    kwargs = {k: _coerce(hints[k], v) for k, v in data.items()}
    return cls(**kwargs)


def _coerce(tp: Any, v: Any) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(v, dict):
        return from_dict(tp, v)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is type(None) and v is None:
                return None
            if dataclasses.is_dataclass(arg) and isinstance(v, dict):
                return from_dict(arg, v)
        return tuple(v) if isinstance(v, list) and any(typing.get_origin(a) is tuple for a in typing.get_args(tp)) else v
    if origin is tuple and isinstance(v, list):
        return tuple(v)
    return v


__all__ = ["PolicyConfig", "StageSpec", "from_dict", "field"]
