"""Closed-loop evaluation on any registered simulator: ``run_eval(source) -> results dict`` (+ files).

The whole contract with a policy is ``reset()`` and ``select_action(obs) -> (1, Da)``
(or ``predict_action_chunk`` for a bare chunk predictor; the runner then queues K actions
per chunk). ``obs`` carries ``observation.images.<cam>`` uint8 (1, 3, H, W),
``observation.state`` float32 (1, Ds), ``task`` [str] and ``embodiment`` [str]: never object
or goal positions. Privileged baselines (``uses_privileged_obs = True``, the scripted expert)
also get the env's step under ``vlaforge.sim.baselines.PRIVILEGED_OBS``. Policies that set
``uses_images = False`` (the baselines) get state-only obs and the cameras are skipped, except
in episodes that record a video: same results, a fraction of the cost.

Action and state widths, cameras and bounds come from the simulator's ``EmbodimentSpec``.
Seeds start at ``EVAL_SEED_START`` (10,000); collection seeds stay below it.
Success = the env reports success at any step within ``max_steps``.
"""

from __future__ import annotations

import time
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vlaforge.core.errors import ConfigError
from vlaforge.core.queue import ActionQueue
from vlaforge.core.keys import EMBODIMENT, IMAGE_PREFIX, OBS_IS_PAD, STATE, TASK
from vlaforge.sim import pool
from vlaforge.sim.simulator import EnvCache, Simulator, get_simulator, simulator_for
from vlaforge.sim.sources import PolicySource
from vlaforge.sim.tasks import EVAL_SEED_START, check_eval_seeds


@dataclass
class EpisodeResult:
    task: str
    seed: int
    success: bool
    length: int
    """Steps executed: up to and including the first success step, else ``max_steps``."""
    seconds: float
    video: str | None = None
    diagnostics: dict[str, int] | None = None
    """The policy's ``diagnostics()`` counters accrued in this episode (e.g. decode failures)."""
    max_reward: float | None = None
    """Highest reward of the episode, for simulators with a staged reward (``Simulator.reward_stages``)."""


@dataclass(frozen=True)
class TemporalEnsemble:
    """ACT's temporal ensembling in the closed loop: query a chunk every ``query_every`` steps and execute the
    ``exp(-k i)``-weighted mean (``i = 0`` the oldest) of every stored chunk's prediction for the current step.
    ACT uses k = 0.01 and a query every step. The arithmetic is the server's (``serve.broker``), so a robot
    served with ``smoothing='ensemble'`` runs what was evaluated."""

    k: float = 0.01
    query_every: int = 1

    def __post_init__(self) -> None:
        if self.query_every < 1:
            raise ConfigError(f"temporal ensembling: query_every={self.query_every}; use 1 (ACT) or more")


class _ChunkSource:
    """A local policy as the broker's ``infer(obs) -> {"actions": (H, Da)}``: a query stacks the frame into the
    policy's history and predicts one chunk; ``observe`` only stacks (steps between queries)."""

    def __init__(self, policy) -> None:
        self.policy = policy

    def infer(self, obs: dict[str, Any]) -> dict[str, np.ndarray]:
        chunk = self.policy.predict_action_chunk(self.policy.observe(obs))  # (1, H, Da)
        return {"actions": chunk[0].detach().float().cpu().numpy()}

    def observe(self, obs: dict[str, Any]) -> None:
        self.policy.observe(obs)

    def reset(self) -> None:
        self.policy.reset()


class PolicyActor:
    """One action per env step from a policy (the evaluation runner's, and ``vlaforge collect --actor``'s). A policy with ``select_action`` keeps its own
    history and queue (an override of K is set on its config); a bare ``predict_action_chunk``
    policy is queued here, K actions per chunk, with a single-frame history. With ``ensemble``
    a local policy's chunks are temporally ensembled (``TemporalEnsemble``) instead of queued."""

    def __init__(self, policy, n_action_steps: int | None, action_dim: int,
                 ensemble: TemporalEnsemble | None = None) -> None:
        self.policy, self.action_dim = policy, action_dim
        self.mode = "select_action" if hasattr(policy, "select_action") else "chunk"
        self.broker = None
        if ensemble is not None:
            self.broker = self._ensemble_broker(policy, n_action_steps, ensemble)
            self.mode = "ensemble"
            return
        cfg = getattr(policy, "config", None)
        if n_action_steps is not None:
            if cfg is None or not hasattr(cfg, "n_action_steps"):
                if self.mode == "select_action":
                    raise ConfigError(f"{type(policy).__name__} runs its own action queue; --n-action-steps cannot "
                                      "apply to it (for a server, pass it to the server or the remote policy)")
            else:
                cfg.n_action_steps = int(n_action_steps)
        k = n_action_steps or getattr(cfg, "n_action_steps", None)
        self.queue: ActionQueue[np.ndarray] = ActionQueue(int(k) if k else 1)

    @staticmethod
    def _ensemble_broker(policy, n_action_steps: int | None, ensemble: TemporalEnsemble):
        from vlaforge.serve.broker import ActionChunkBroker

        if not (hasattr(policy, "observe") and hasattr(policy, "predict_action_chunk")):
            raise ConfigError(f"temporal ensembling in the runner needs a local checkpoint; {type(policy).__name__} "
                              "is not one (a served policy ensembles on the server: its broker's smoothing='ensemble')")
        if n_action_steps is not None:
            raise ConfigError("--n-action-steps and temporal ensembling both set how chunks become actions; give "
                              "one (with ensembling, --query-every is the steps between chunk queries)")
        return ActionChunkBroker(_ChunkSource(policy), action_horizon=1, smoothing="ensemble", ensemble_k=ensemble.k,
                                 query_every=ensemble.query_every, observe_every_step=True)

    @property
    def n_action_steps(self) -> int | None:
        """K as run: the policy config's (or the override), else the policy's own (a remote policy); with
        temporal ensembling, the steps between chunk queries."""
        if self.broker is not None:
            return self.broker.query_every
        for owner in (getattr(self.policy, "config", None), self.policy):
            try:
                value = getattr(owner, "n_action_steps", None)
            except Exception:  # noqa: BLE001 - e.g. a remote policy whose server has not answered yet
                value = None
            if isinstance(value, int):
                return value
        return self.queue.n_action_steps if self.mode == "chunk" else None

    def reset(self) -> None:
        if self.broker is not None:
            self.broker.reset()  # the policy's history and every stored chunk
            return
        self.policy.reset()
        self.queue.clear()

    def act(self, obs: dict[str, Any]) -> np.ndarray:
        import torch

        with torch.no_grad():
            if self.broker is not None:
                return self._as_action(self.broker.infer(obs)["actions"])
            if self.mode == "select_action":
                return self._as_action(self.policy.select_action(obs))
            if not len(self.queue):
                chunk = self.policy.predict_action_chunk(_with_time_axis(obs))  # (1, H, Da)
                self.queue.fill([self._as_action(a) for a in chunk[0]])
            return self.queue.pop()

    def _as_action(self, a) -> np.ndarray:
        arr = a.detach().cpu().float().numpy() if hasattr(a, "detach") else np.asarray(a, np.float32)
        arr = arr.reshape(-1)
        if arr.shape[0] != self.action_dim:
            raise ValueError(f"policy returned an action of shape {tuple(np.shape(a))}; this robot needs "
                             f"(1, {self.action_dim})")
        return arr


def _with_time_axis(obs: dict[str, Any]) -> dict[str, Any]:
    import torch

    out = {k: (v.unsqueeze(1) if torch.is_tensor(v) else v) for k, v in obs.items()}  # (1, 1, ...)
    out[OBS_IS_PAD] = torch.zeros(1, 1, dtype=torch.bool)
    return out


def policy_obs(step, task: str, sim: Simulator, env=None, privileged: bool = False) -> dict[str, Any]:
    """Env step -> the policy's batch-of-one observation (see module docstring)."""
    import torch

    from vlaforge.sim.baselines import PRIVILEGED_ENV, PRIVILEGED_OBS

    obs: dict[str, Any] = {}
    for k, v in step.obs.items():
        if k.startswith(IMAGE_PREFIX):
            obs[k] = torch.from_numpy(np.ascontiguousarray(v)).permute(2, 0, 1).unsqueeze(0)  # (1, 3, H, W)
    obs[STATE] = torch.from_numpy(np.asarray(step.obs[STATE], np.float32)).unsqueeze(0)  # (1, Ds)
    obs[TASK] = [sim.instruction(task)]
    obs[EMBODIMENT] = [sim.embodiment_name]
    if privileged:  # scripted baselines only: the env's privileged state
        obs[PRIVILEGED_OBS] = step
        obs[PRIVILEGED_ENV] = (env, task)
    return obs


# ---- worker side -------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(source: PolicySource, simulator: str, image_size: tuple[int, int], cameras: tuple[str, ...],
                 max_steps: int, n_action_steps: int | None, ensemble: TemporalEnsemble | None,
                 in_pool: bool) -> None:
    if in_pool:
        import torch

        torch.set_num_threads(1)  # one core per worker; the pool is the parallelism
    sim = get_simulator(simulator)
    policy = source.build(sim)
    _WORKER.update(sim=sim, actor=PolicyActor(policy, n_action_steps, sim.embodiment.action_dim, ensemble), cameras=cameras,
                   privileged=bool(getattr(policy, "uses_privileged_obs", False)),
                   uses_images=bool(getattr(policy, "uses_images", True)),
                   envs=EnvCache(sim, image_size, cameras, max_steps))
    pool.on_worker_exit(_close_worker)


def _close_worker() -> None:
    if "envs" in _WORKER:
        _WORKER.pop("envs").close()
    _WORKER.clear()


def _worker_info() -> dict[str, Any]:
    actor = _WORKER["actor"]
    return {"mode": actor.mode, "n_action_steps": actor.n_action_steps,
            "privileged": _WORKER["privileged"], "rendered": _WORKER["uses_images"]}


def run_episode(task: str, seed: int, max_steps: int, video_path: str | None = None) -> EpisodeResult:
    """One closed-loop episode in this worker; writes an MP4 when ``video_path`` is given."""
    from vlaforge.sim.video import tile_cameras, upscale_factor, write_mp4

    t0 = time.perf_counter()
    sim, env, actor, cams = _WORKER["sim"], _WORKER["envs"].get(task), _WORKER["actor"], _WORKER["cameras"]
    render = bool(video_path) or _WORKER["uses_images"]
    step = env.reset(seed, render=render)
    actor.reset()
    scale = upscale_factor(env.image_size[0])
    frames = [tile_cameras(step.obs, cams, scale)] if video_path else None
    before = _diagnostics(actor.policy)
    success, length, best = False, max_steps, float("-inf")
    for t in range(max_steps):
        obs = policy_obs(step, task, sim, env, _WORKER["privileged"])
        step = env.step(actor.act(obs), render=render)
        best = max(best, float(step.reward))
        if frames is not None:
            frames.append(tile_cameras(step.obs, cams, scale))
        if step.success:
            success, length = True, t + 1
            break
    if frames is not None:
        write_mp4(frames, video_path, fps=min(30, int(sim.fps) or 30))
    after = _diagnostics(actor.policy)
    delta = {k: int(v - before.get(k, 0)) for k, v in after.items()} or None
    staged = bool(sim.reward_stages(task))
    return EpisodeResult(task, seed, success, length, time.perf_counter() - t0, video_path, delta,
                         best if staged else None)


def _diagnostics(policy) -> dict[str, int]:
    fn = getattr(policy, "diagnostics", None)
    return dict(fn()) if callable(fn) else {}


# ---- parent side ---------------------------------------------------------------
def run_eval(source: PolicySource, suite: str | Sequence[str] = "mt10", episodes_per_task: int = 10,
             seed_start: int = EVAL_SEED_START, max_steps: int | None = None, n_action_steps: int | None = None,
             workers: int = 2, video_dir: str | Path | None = None, out_dir: str | Path | None = None, *,
             simulator: str | None = None, image_size: int | None = None, cameras: Sequence[str] | None = None,
             videos_per_task: int = 1, training_seeds: set[int] | None = None,
             progress: bool = True, ensemble: TemporalEnsemble | None = None) -> dict[str, Any]:
    """Evaluate the policy ``source`` gives (see ``vlaforge.sim.sources``) on every task of ``suite``.

    The simulator is the one that knows ``suite`` unless named. Writes results.json, results.md,
    success.png and ``videos/`` under ``out_dir`` when given (videos go to ``video_dir`` if set).
    ``training_seeds`` (e.g. a dataset's seeds) are refused as evaluation seeds. ``ensemble`` replaces the
    chunk queue by temporal ensembling (``TemporalEnsemble``; local checkpoints only)."""
    from vlaforge.sim import report

    sim = get_simulator(simulator) if simulator else simulator_for(suite)
    tasks = sim.resolve_tasks(suite)
    max_steps = max_steps or sim.max_steps
    seeds = range(seed_start, seed_start + episodes_per_task)
    check_eval_seeds(seeds, training_seeds)
    if max_steps < 1 or episodes_per_task < 1:
        raise ConfigError("max_steps and episodes_per_task must be >= 1")
    size, cams = _observation_spec(source, sim, image_size, cameras)
    if video_dir is None and out_dir is not None:
        video_dir = Path(out_dir) / "videos"
    units = [(t, s, _video_path(video_dir, t, s, i < videos_per_task)) for t in tasks for i, s in enumerate(seeds)]
    t0 = time.perf_counter()
    initargs = (source, sim.name, size, cams, max_steps, n_action_steps, ensemble)
    episodes, info = _run_units(initargs, units, max_steps, workers, progress)
    stages = {t: names for t in tasks if (names := sim.reward_stages(t))}
    results = report.summarize(episodes, tasks, stages=stages, meta={
        "policy": source.describe(), "simulator": sim.name, "embodiment": sim.embodiment_name,
        "suite": suite if isinstance(suite, str) else ",".join(suite),
        "episodes_per_task": episodes_per_task, "seed_start": seed_start, "max_steps": max_steps,
        "n_action_steps": info["n_action_steps"], "action_mode": info["mode"], "privileged": info["privileged"],
        "temporal_ensemble": None if ensemble is None else {"k": ensemble.k, "query_every": ensemble.query_every},
        "rendered": info["rendered"], "image_size": list(size), "cameras": list(cams), "workers": workers,
        "elapsed_s": round(time.perf_counter() - t0, 2), "date": time.strftime("%Y-%m-%d %H:%M:%S")})
    if out_dir is not None:
        results["files"] = report.write_outputs(results, out_dir)
    return results


def _observation_spec(source: PolicySource, sim: Simulator, image_size: int | None,
                      cameras: Sequence[str] | None) -> tuple[tuple[int, int], tuple[str, ...]]:
    """Image size and cameras: given values, else the source's, else the robot's defaults."""
    spec = source.observation_spec() or {}
    size = image_size or spec.get("image_size") or sim.embodiment.image_size
    size = (size, size) if isinstance(size, int) else tuple(size)
    if cameras or not spec.get("camera_map"):
        return size, tuple(cameras or spec.get("cameras") or sim.default_cameras)
    from vlaforge.core.cameras import parse_camera_map, robot_slots

    # a policy of several robots reads camera slots: render this robot's cameras that feed them
    slots = robot_slots(sim.embodiment.cameras, spec["cameras"], parse_camera_map(spec["camera_map"]))
    return size, tuple(slots.values())


def _video_path(video_dir: str | Path | None, task: str, seed: int, record: bool) -> str | None:
    return str(Path(video_dir) / f"{task}_seed{seed}.mp4") if (video_dir is not None and record) else None


def _run_units(initargs: tuple, units: list, max_steps: int, workers: int,
               progress: bool) -> tuple[list[EpisodeResult], dict]:
    workers = max(1, min(workers, len(units)))
    executor = pool.make_executor(workers, _init_worker, initargs + (workers > 1,))
    bar = _progress_bar(len(units), progress)
    results: list[EpisodeResult] = []
    try:
        info = executor.submit(_worker_info).result()
        if isinstance(executor, pool.InlineExecutor):  # runs at submit: one at a time keeps the bar live
            for t, s, v in units:
                results.append(run_episode(t, s, max_steps, v))
                _update_bar(bar, results)
        else:
            futures = [executor.submit(run_episode, t, s, max_steps, v) for t, s, v in units]
            for fut in as_completed(futures):
                results.append(fut.result())
                _update_bar(bar, results)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        _close_worker()
        if bar is not None:
            bar.close()
    order = {(t, s): i for i, (t, s, _) in enumerate(units)}
    return sorted(results, key=lambda r: order[(r.task, r.seed)]), info


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="ep", desc="eval", dynamic_ncols=True, smoothing=0.05)


def _update_bar(bar, results: list[EpisodeResult]) -> None:
    if bar is None:
        return
    bar.update(1)
    rate = sum(r.success for r in results) / len(results)
    bar.set_postfix(task=results[-1].task, success=f"{rate:.0%}", refresh=False)


__all__ = ["run_eval", "run_episode", "policy_obs", "EpisodeResult", "EVAL_SEED_START"]
