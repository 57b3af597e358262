"""Shared by the tests of benchmarks/ scripts, which are files, not an installed package."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from vlaforge.core.keys import STATE
from vlaforge.sim.simulator import Step

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/NAME.py as a module, with benchmarks/ on sys.path while it loads (scripts import their siblings)
    and registered in sys.modules (a script's dataclasses look their module up)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    return module


class LineSim:
    """The simulator side a benchmark script's episode loop needs, for toy envs on a line: one embodiment that clips
    actions to [-1, 1], and an instruction (``policy_obs`` reads both)."""

    embodiment_name = "line"

    class embodiment:
        @staticmethod
        def clip_action(a):
            return np.clip(a, -1.0, 1.0)

    @staticmethod
    def instruction(task: str) -> str:
        return "walk to the goal"


class LineEnv:
    """A hand on a line (x), the object at ``obj``, the goal at ``goal``: success once the hand reaches the goal.
    Meta-World's privileged layout (hand 0:3, object 4:7, goal -3:)."""

    def __init__(self, obj: float = 1.0, goal: float = 2.0) -> None:
        self.obj, self.goal = obj, goal

    def reset(self, seed: int, render: bool = True) -> Step:
        self.x = 0.0
        return self._step()

    def step(self, action: np.ndarray, render: bool = True) -> Step:
        self.x += float(action[0])
        return self._step()

    def _step(self) -> Step:
        p = np.zeros(10)
        p[0], p[4], p[-3] = self.x, self.obj, self.goal
        return Step(obs={STATE: np.array([self.x], np.float32)}, privileged=p, success=self.x >= self.goal - 1e-9)
