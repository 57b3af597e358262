"""Reference policies for the evaluation runner: the scripted expert (an upper bound) and
uniform random actions (a floor). Both are picklable, so spawn-started workers get copies.

``ExpertPolicy`` is *privileged*: it reads object and goal positions from the full env
observation, which the runner passes under ``PRIVILEGED_OBS`` only to policies that set
``uses_privileged_obs = True``. Learned policies never see those keys.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vlaforge.embodiments import get_embodiment

PRIVILEGED_OBS = "privileged.env_obs"
"""float64 (1, 39): the env's full observation (hand, objects, goal). Baselines only."""
PRIVILEGED_ENV = "privileged.env_name"
"""[str]: the Meta-World env name, e.g. 'push-v3'. Baselines only."""


class ExpertPolicy:
    """Meta-World's scripted expert for whichever task the runner is on."""

    uses_privileged_obs = True
    uses_images = False
    name = "expert"

    def __init__(self) -> None:
        self._experts: dict[str, Any] = {}

    def reset(self) -> None:
        """The scripted experts are stateless: each action depends on the current obs only."""

    @torch.no_grad()
    def select_action(self, obs: dict[str, Any]) -> torch.Tensor:
        if PRIVILEGED_OBS not in obs:
            raise KeyError(f"ExpertPolicy needs the privileged key {PRIVILEGED_OBS!r}; only the Meta-World "
                           "evaluation runner provides it (it is a privileged baseline, not a servable policy)")
        from vlaforge.sim.metaworld import scripted_expert

        env_name = obs[PRIVILEGED_ENV][0]
        if env_name not in self._experts:
            self._experts[env_name] = scripted_expert(env_name)
        action = self._experts[env_name].get_action(np.asarray(obs[PRIVILEGED_OBS])[0])
        return torch.as_tensor(action, dtype=torch.float32).unsqueeze(0)  # (1, 4)


class RandomPolicy:
    """Uniform actions within the embodiment bounds: the chance-level floor."""

    uses_privileged_obs = False
    uses_images = False
    name = "random"

    def __init__(self, embodiment: str = "metaworld_sawyer", seed: int = 0) -> None:
        spec = get_embodiment(embodiment)
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


BASELINES = {"expert": ExpertPolicy, "random": RandomPolicy}
