"""Reference policies for the evaluation runner: the simulator's scripted expert (an upper
bound) and uniform random actions (a floor). Both are built in the worker that runs them.

The expert is *privileged*: it reads object and goal positions from the env's privileged
observation, which the runner passes under ``PRIVILEGED_OBS`` only to policies that set
``uses_privileged_obs = True``. Learned policies never see those keys.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vlaforge.core.embodiment import EmbodimentSpec
from vlaforge.core.errors import UnknownNameError
from vlaforge.core.registry import unknown_name_message

PRIVILEGED_OBS = "privileged.step"
"""The env's ``Step`` (its ``privileged`` field: object and goal positions). Baselines only."""
PRIVILEGED_ENV = "privileged.env"
"""The env itself and its task name, for experts that plan at reset. Baselines only."""


class ExpertPolicy:
    """The simulator's scripted expert for whichever task the runner is on."""

    uses_privileged_obs = True
    uses_images = False
    name = "expert"

    def __init__(self, sim) -> None:
        self.sim = sim
        self._experts: dict[str, Any] = {}
        self._fresh = True

    def reset(self) -> None:
        self._fresh = True

    @torch.no_grad()
    def select_action(self, obs: dict[str, Any]) -> torch.Tensor:
        if PRIVILEGED_OBS not in obs:
            raise KeyError(f"ExpertPolicy needs the privileged key {PRIVILEGED_OBS!r}; only the evaluation runner "
                           "provides it (it is a privileged baseline, not a servable policy)")
        env, task = obs[PRIVILEGED_ENV]
        expert = self._experts.get(task) or self._experts.setdefault(task, self.sim.expert(task))
        step = obs[PRIVILEGED_OBS]
        if self._fresh:
            expert.reset(env, step)
            self._fresh = False
        return torch.as_tensor(expert.act(step), dtype=torch.float32).unsqueeze(0)  # (1, Da)


class RandomPolicy:
    """Uniform actions within the embodiment bounds: the chance-level floor."""

    uses_privileged_obs = False
    uses_images = False
    name = "random"

    def __init__(self, spec: EmbodimentSpec, seed: int = 0) -> None:
        self.low = np.asarray(spec.action_low, np.float32)
        self.high = np.asarray(spec.action_high, np.float32)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def reset(self) -> None:
        pass

    def select_action(self, obs: dict[str, Any]) -> torch.Tensor:
        b = len(obs.get("task", [None]))
        action = self._rng.uniform(self.low, self.high, size=(b, self.low.shape[0])).astype(np.float32)
        return torch.from_numpy(action)  # (B, Da)


def make_baseline(name: str, sim):
    if name == "expert":
        return ExpertPolicy(sim)
    if name == "random":
        return RandomPolicy(sim.embodiment)
    raise UnknownNameError(unknown_name_message("baseline", name, ["expert", "random"]))
