"""The simulator contract behind the shared evaluation runner and the expert collector.

A ``Simulator`` names its robot (an ``EmbodimentSpec``), resolves suites to tasks, gives
each task its instruction, builds envs and scripted experts. The runner and the collector
know nothing else about a simulator, so a second robot is one module that registers one
``Simulator`` (``register_simulator``), found by discovery like families are.

An env returns ``Step``s: ``obs`` holds dataset keys (``observation.images.<cam>`` uint8
(H, W, 3), ``observation.state`` float32 (Ds,)); ``privileged`` is what the scripted expert
reads (object and goal positions) and never reaches a learned policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np

from vlaforge.core.embodiment import EmbodimentSpec, get_embodiment
from vlaforge.core.registry import Registry, import_entry_points, import_subpackages


@dataclass
class Step:
    """What an env returns after ``reset``/``step`` (see the module docstring)."""

    obs: dict[str, np.ndarray]
    privileged: Any
    success: bool
    reward: float = 0.0


class Env(Protocol):
    image_size: tuple[int, int]

    def reset(self, seed: int, render: bool = True) -> Step: ...
    def step(self, action: np.ndarray, render: bool = True) -> Step: ...
    def close(self) -> None: ...


class Expert(Protocol):
    """A scripted expert for one task: ``reset`` at each episode start, then one action per step."""

    def reset(self, env: Env, step: Step) -> None: ...
    def act(self, step: Step) -> np.ndarray: ...


class Simulator:
    """Base class; a simulator module subclasses it and registers one instance."""

    name: str = ""
    embodiment_name: str = ""
    cameras: tuple[str, ...] = ()
    """Every camera the simulator can render."""
    default_cameras: tuple[str, ...] = ()
    default_suite: str = ""
    """What ``vlaforge collect`` and ``eval`` run when no task is named."""
    fps: float = 0.0
    max_steps: int = 500
    """Default episode length of the evaluation protocol."""
    closed_loop_expert: bool = True
    """Whether the scripted expert acts on the state it is in (so it corrects a perturbation, which
    noise-injected collection, ``--action-noise``, relies on) rather than replaying a fixed plan."""

    @property
    def embodiment(self) -> EmbodimentSpec:
        return get_embodiment(self.embodiment_name)

    def knows(self, suite: str) -> bool:
        """Whether ``suite`` (a suite, a task, or a comma list of them) names tasks of this simulator."""
        try:
            self.resolve_tasks(suite)
            return True
        except KeyError:
            return False

    def resolve_tasks(self, suite: str | Sequence[str]) -> list[str]:
        raise NotImplementedError

    def instruction(self, task: str) -> str:
        raise NotImplementedError

    def make_env(self, task: str, image_size: tuple[int, int], cameras: Sequence[str], max_steps: int) -> Env:
        raise NotImplementedError

    def reward_stages(self, task: str) -> tuple[str, ...]:
        """Names of a staged reward's levels 1..n (reward >= i+1 means stage i reached), so an evaluation
        reports how far failed episodes got, as the ACT paper's subtask columns; () when the reward is not staged."""
        return ()

    def expert(self, task: str) -> Expert:
        raise NotImplementedError(f"simulator {self.name!r} has no scripted expert")

    def check_cameras(self, cameras: Sequence[str]) -> None:
        unknown = [c for c in cameras if c not in self.cameras]
        if not cameras or unknown:
            raise ValueError(f"{self.name}: unknown or no camera(s) {list(unknown) or list(cameras)}; "
                             f"it has {', '.join(self.cameras)}")


def _discover() -> None:
    import_subpackages("vlaforge.sim")
    import_entry_points("vlaforge.simulators")


SIMULATORS: Registry[Simulator] = Registry("simulator", _discover)


def register_simulator(sim: Simulator) -> Simulator:
    return SIMULATORS.register(sim.name, sim, replace=True)


def get_simulator(name: str) -> Simulator:
    return SIMULATORS.get(name)


def simulator_for(suite: str | Sequence[str]) -> Simulator:
    """The simulator whose tasks ``suite`` names (e.g. 'mt10' -> Meta-World, 'aloha' -> ALOHA)."""
    for _, sim in SIMULATORS.items():
        if sim.knows(suite):
            return sim
    raise KeyError(f"no simulator knows the suite or task {suite!r}; simulators: {SIMULATORS.names()}")


class EnvCache:
    """A worker's envs, one per task, built on first use. Keeps at most ``size`` alive so an
    MT50 run does not hold 50 GL contexts."""

    def __init__(self, sim: Simulator, image_size: tuple[int, int], cameras: Sequence[str], max_steps: int,
                 size: int = 4) -> None:
        self.sim, self.size = sim, size
        self.kwargs = dict(image_size=tuple(image_size), cameras=tuple(cameras), max_steps=max_steps)
        self._envs: dict[str, Env] = {}

    def get(self, task: str) -> Env:
        if task in self._envs:
            self._envs[task] = self._envs.pop(task)  # most recently used last
            return self._envs[task]
        while len(self._envs) >= self.size:
            self._envs.pop(next(iter(self._envs))).close()
        self._envs[task] = self.sim.make_env(task, **self.kwargs)
        return self._envs[task]

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
        self._envs.clear()
