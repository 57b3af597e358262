"""Typed dataclass configs: the base every family config extends, and dict round trips."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class PolicyConfig:
    """Fields every family shares. A family subclasses this and decorates it with
    ``@register_family(name)``; its ``create`` builds the policy (the config is the factory)."""

    preset: str = "tiny"
    cameras: tuple[str, ...] = ("corner2", "gripperPOV")
    image_size: tuple[int, int] = (64, 64)
    n_obs_steps: int = 1
    """Observation frames per sample (current + history)."""
    obs_stride: int = 1
    """Frames between history steps."""
    chunk_size: int = 16
    """Actions predicted per chunk (H)."""
    n_action_steps: int = 8
    """Actions executed from each chunk before re-planning (``select_action``)."""
    norm_mode: Literal["mean_std", "quantile", "identity"] = "mean_std"
    text_encoder: str = "minilm"
    """'minilm' (frozen all-MiniLM-L6-v2, offline) or 'hash' (no download, tests only)."""

    family: typing.ClassVar[str] = ""

    def create(self, normalizer, embodiments):  # pragma: no cover - overridden
        raise NotImplementedError(f"{type(self).__name__} does not implement create()")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def from_dict(cls: type, data: dict) -> Any:
    """Build dataclass ``cls`` from a (JSON) dict, recursing into nested dataclasses and
    turning lists back into tuples. Unknown keys are an error that names them."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls} is not a dataclass")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown field(s) {unknown}; valid: {sorted(names)}")
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


__all__ = ["PolicyConfig", "from_dict", "field"]
