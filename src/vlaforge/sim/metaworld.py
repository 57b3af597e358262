"""One Meta-World v3 task with offscreen CPU rendering: reseed per episode, render upright frames.

Building an env and a renderer costs far more than a reset, so a worker builds one
``MetaWorldEnv`` per task and calls ``reset(seed)`` for every episode. With
``_freeze_rand_vec=False`` and ``seeded_rand_vec=True`` the initial object/goal
positions come from the env's own ``np_random``, which ``env.seed(seed)`` re-creates,
so an episode is a pure function of (task, seed).

Only ``observation.state`` (hand xyz + gripper opening, the first 4 env obs dims) and
the camera frames reach a policy. The full 39-d env observation (object and goal
positions) is kept in ``Step.privileged`` for scripted experts only.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Sequence

import numpy as np

from vlaforge.core.keys import IMAGE_PREFIX, STATE
from vlaforge.embodiments import get_embodiment
from vlaforge.sim.simulator import Simulator, Step, register_simulator
from vlaforge.sim.tasks import canonical_task

EMBODIMENT = "metaworld_sawyer"
STATE_DIMS = 4
"""Hand xyz + gripper opening: the only proprioception a policy sees."""
MAX_PATH_LENGTH = 500
CAMERAS = ("corner2", "gripperPOV")
# Cameras whose frame has its up axis pointing down in the world (Meta-World's corner
# cameras were placed for mujoco-py's bottom-up buffers). Rotating by 180 degrees makes them
# upright; gripperPOV looks straight down with image-up = +y (away from the robot), so it stays.
_ROTATE_180 = frozenset({"corner", "corner2", "corner3", "corner4"})


def upright(img: np.ndarray, camera: str) -> np.ndarray:
    """Rotate a raw render of ``camera`` (H, W, ...) so world-up is image-up."""
    return img[::-1, ::-1] if camera in _ROTATE_180 else img


def _import_mujoco():
    os.environ.setdefault("MUJOCO_GL", "egl")
    # Mesa's llvmpipe splits a frame over all cores by default; at 64x64 the thread hand-off
    # costs more than it saves (measured: corner2 172 vs 100 frames/s), and workers run in parallel.
    os.environ.setdefault("LP_NUM_THREADS", "1")
    import mujoco

    return mujoco


class MetaWorldEnv:
    """A goal-observable Meta-World v3 env plus a fast 64x64-class offscreen renderer."""

    def __init__(self, task: str, image_size: tuple[int, int] | int = (64, 64),
                 cameras: Sequence[str] = CAMERAS, max_steps: int = MAX_PATH_LENGTH) -> None:
        mujoco = _import_mujoco()
        import metaworld

        self.task = canonical_task(task)
        self.image_size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.cameras = tuple(cameras)
        self.max_steps = max_steps
        self.embodiment = get_embodiment(EMBODIMENT)
        cls = metaworld.env_dict.ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE[f"{self.task}-goal-observable"]
        self.env = cls(seed=0)
        self.env._freeze_rand_vec = False
        self.env.seeded_rand_vec = True
        self.env.max_path_length = max(max_steps, MAX_PATH_LENGTH)
        self._check_cameras(mujoco)
        self._renderer = self._make_renderer(mujoco)
        self._mujoco = mujoco
        self.seed: int | None = None

    def _check_cameras(self, mujoco) -> None:
        model = self.env.model
        known = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_CAMERA, i) for i in range(model.ncam)]
        bad = [c for c in self.cameras if c not in known]
        if bad:
            raise ValueError(f"unknown Meta-World camera(s) {bad}; available: {known}")

    def _make_renderer(self, mujoco):
        """Shadows, reflections and multisampling off: ~10x faster at 64x64, same content."""
        model = self.env.model
        model.vis.quality.offsamples = 0
        h, w = self.image_size
        model.vis.global_.offheight = max(model.vis.global_.offheight, h)
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, w)
        renderer = mujoco.Renderer(model, height=h, width=w)
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        return renderer

    # ---- episode ------------------------------------------------------------
    def reset(self, seed: int, render: bool = True) -> Step:
        """``render=False`` skips the cameras (state-only obs) for policies that ignore images."""
        self.env.seed(int(seed))
        raw, _ = self.env.reset()
        self.seed = int(seed)
        return Step(self._obs(raw, render), raw, success=False)

    def step(self, action: np.ndarray, render: bool = True) -> Step:
        """Clip to the embodiment bounds, then step. Success is the env's own flag."""
        action = self.embodiment.clip_action(action)
        raw, reward, _, _, info = self.env.step(action)
        return Step(self._obs(raw, render), raw, success=bool(info["success"]), reward=float(reward))

    def render(self, camera: str) -> np.ndarray:
        """Upright uint8 (H, W, 3) frame of the current state."""
        self._renderer.update_scene(self.env.data, camera=camera)
        return np.ascontiguousarray(upright(self._renderer.render(), camera))

    def _obs(self, raw: np.ndarray, render: bool = True) -> dict[str, np.ndarray]:
        cams = self.cameras if render else ()
        obs: dict[str, Any] = {f"{IMAGE_PREFIX}{cam}": self.render(cam) for cam in cams}
        obs[STATE] = np.asarray(raw[:STATE_DIMS], dtype=np.float32)
        return obs

    def close(self) -> None:
        """Free the GL context explicitly: letting the GC do it at exit spams EGL errors."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.env.close()

    def __enter__(self) -> "MetaWorldEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def scripted_expert(task: str):
    """Meta-World's hand-written policy for ``task``: ``get_action(full_env_obs) -> (4,)``."""
    from metaworld.policies import ENV_POLICY_MAP

    warnings.filterwarnings("ignore", message="Constant\\(s\\) may be too high")
    return ENV_POLICY_MAP[canonical_task(task)]()


class MetaWorld(Simulator):
    """Meta-World v3 (goal-observable) with the Sawyer; tasks and suites from ``vlaforge.sim.tasks``."""

    name = "metaworld"
    embodiment_name = EMBODIMENT
    cameras = ("topview", "corner", "corner3", "corner4", "behindGripper") + CAMERAS
    default_cameras = CAMERAS
    default_suite = "mt10"
    fps = 80.0
    max_steps = MAX_PATH_LENGTH

    def resolve_tasks(self, suite: str | Sequence[str]) -> list[str]:
        from vlaforge.sim.tasks import resolve_tasks

        return resolve_tasks(suite)

    def instruction(self, task: str) -> str:
        from vlaforge.sim.tasks import instruction

        return instruction(task)

    def make_env(self, task: str, image_size: tuple[int, int], cameras: Sequence[str], max_steps: int) -> MetaWorldEnv:
        return MetaWorldEnv(task, image_size, cameras, max_steps)

    def expert(self, task: str) -> "ScriptedExpert":
        return ScriptedExpert(task)


class ScriptedExpert:
    """Meta-World's hand-written policy for one task; reads the full env observation."""

    def __init__(self, task: str) -> None:
        self.policy = scripted_expert(task)

    def reset(self, env, step: Step) -> None:
        """Meta-World's experts are stateless: each action depends on the current observation only."""

    def act(self, step: Step) -> np.ndarray:
        return np.asarray(self.policy.get_action(step.privileged), dtype=np.float32)


register_simulator(MetaWorld())
