"""Where the policy under evaluation comes from, said explicitly: a checkpoint, a baseline,
a policy server, or an object already in memory.

Each source is a small picklable dataclass, so spawn-started evaluation workers build
their own copy (``build``); ``describe`` names it in results, and ``observation_spec`` says
what images it wants (size, cameras) when it knows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlaforge.sim.simulator import Simulator


@dataclass(frozen=True)
class CheckpointSource:
    """A checkpoint directory; ``overrides`` replace inference-time config fields (``--set``)."""

    path: str
    overrides: dict[str, Any] = field(default_factory=dict)

    def build(self, sim: Simulator):
        from vlaforge.core.checkpoint import load_policy

        return load_policy(self.path, policy_overrides=self.overrides or None)

    def describe(self) -> str:
        return str(self.path) + (f" {self.overrides}" if self.overrides else "")

    def observation_spec(self) -> dict[str, Any] | None:
        from vlaforge.core.checkpoint import read_config

        cfg = read_config(Path(self.path))["policy"]
        return {"image_size": tuple(cfg["image_size"]), "cameras": tuple(cfg["cameras"]),
                "camera_map": tuple(cfg.get("camera_map", ()))}


@dataclass(frozen=True)
class BaselineSource:
    """'expert' (the simulator's privileged scripted expert, an upper bound) or 'random' (a floor)."""

    name: str

    def build(self, sim: Simulator):
        from vlaforge.sim.baselines import make_baseline

        return make_baseline(self.name, sim)

    def describe(self) -> str:
        return self.name

    def observation_spec(self) -> dict[str, Any] | None:
        return None


@dataclass(frozen=True)
class RemoteSource:
    """A policy served over openpi's websocket protocol; it runs ``n_action_steps`` per chunk itself."""

    url: str
    n_action_steps: int | None = None

    def build(self, sim: Simulator):
        from vlaforge.serve.remote import RemotePolicy

        return RemotePolicy(self.url, n_action_steps=self.n_action_steps)

    def describe(self) -> str:
        return f"server {self.url}"

    def observation_spec(self) -> dict[str, Any] | None:
        return None


@dataclass
class InProcessSource:
    """A policy object (``reset``/``select_action``, or ``predict_action_chunk``); pickled into
    workers when there are several, used as is with one."""

    policy: Any
    name: str | None = None

    def build(self, sim: Simulator):
        return self.policy

    def describe(self) -> str:
        return self.name or getattr(self.policy, "name", None) or type(self.policy).__name__

    def observation_spec(self) -> dict[str, Any] | None:
        cfg = getattr(self.policy, "config", None)
        if cfg is None or not hasattr(cfg, "image_size"):
            return None
        return {"image_size": tuple(cfg.image_size), "cameras": tuple(cfg.cameras),
                "camera_map": tuple(getattr(cfg, "camera_map", ()))}


PolicySource = CheckpointSource | BaselineSource | RemoteSource | InProcessSource

BASELINE_NAMES = ("expert", "random")
