"""The embodiment spec: what a policy must know about a robot's action and state spaces.

Specs of the robots we ship live in ``vlaforge.embodiments`` (one module per robot); a
user registers another with ``register_embodiment`` in their own code, or declares a module
under the ``vlaforge.embodiments`` entry-point group."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from vlaforge.core.keys import MAX_DIM
from vlaforge.core.registry import Registry, import_entry_points, import_subpackages


@dataclass(frozen=True)
class EmbodimentSpec:
    """A robot's interface. Dims are named so logs, losses and errors can say which channel.

    ``action_low``/``action_high`` are the bounds actions are clipped to before they
    reach the robot. ``gripper_dims`` index binary-ish gripper channels (X-VLA trains
    them with BCE). ``position_dims``/``rotation_dims`` group the rest for per-group losses.
    """

    name: str
    action_names: tuple[str, ...]
    state_names: tuple[str, ...]
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    cameras: tuple[str, ...]
    fps: float
    control_mode: Literal["delta", "absolute"] = "delta"
    control_space: Literal["ee", "joint"] = "ee"
    gripper_dims: tuple[int, ...] = ()
    position_dims: tuple[int, ...] = ()
    rotation_dims: tuple[int, ...] = ()
    image_size: tuple[int, int] = (64, 64)
    description: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.action_low) != self.action_dim or len(self.action_high) != self.action_dim:
            raise ValueError(f"embodiment {self.name!r}: action bounds must have {self.action_dim} entries")
        if self.action_dim > MAX_DIM or self.state_dim > MAX_DIM:
            raise ValueError(f"embodiment {self.name!r}: dims exceed the padded width {MAX_DIM}")

    @property
    def action_dim(self) -> int:
        return len(self.action_names)

    @property
    def state_dim(self) -> int:
        return len(self.state_names)

    def clip_action(self, action: np.ndarray) -> np.ndarray:
        """Clip to bounds; replace non-finite values by 0 so nothing non-finite reaches a robot."""
        action = np.nan_to_num(np.asarray(action, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        return np.clip(action, np.asarray(self.action_low, np.float32), np.asarray(self.action_high, np.float32))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EmbodimentSpec":
        d = dict(d)
        for k in ("action_names", "state_names", "action_low", "action_high", "cameras",
                  "gripper_dims", "position_dims", "rotation_dims", "image_size"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


def _discover() -> None:
    import_subpackages("vlaforge.embodiments")
    import_entry_points("vlaforge.embodiments")


EMBODIMENTS: Registry[EmbodimentSpec] = Registry(
    "embodiment", _discover,
    "Register a new robot with vlaforge.embodiments.register_embodiment(EmbodimentSpec(...)).")


def register_embodiment(spec: EmbodimentSpec) -> EmbodimentSpec:
    return EMBODIMENTS.register(spec.name, spec, replace=True)


def get_embodiment(name: str) -> EmbodimentSpec:
    return EMBODIMENTS.get(name)


def list_embodiments() -> list[str]:
    return EMBODIMENTS.names()
