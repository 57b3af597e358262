"""Closed-loop evaluation on Meta-World: ``run_eval(policy) -> results dict`` (+ files).

The whole contract with a policy is ``reset()`` and ``select_action(obs) -> (1, Da)``
(or ``predict_action_chunk`` when the runner is asked to execute K actions per chunk).
``obs`` carries ``observation.images.<cam>`` uint8 (1, 3, H, W), ``observation.state``
float32 (1, 4), ``task`` [str] and ``embodiment`` [str]: never object or goal positions.
Privileged baselines (``uses_privileged_obs = True``, e.g. the scripted expert) also get
the full env observation under ``vlaforge.sim.baselines.PRIVILEGED_OBS``. Policies that set
``uses_images = False`` (the baselines) get state-only obs and the cameras are skipped,
except in episodes that record a video: same results, a fraction of the cost.

Seeds start at ``EVAL_SEED_START`` (10,000); collection seeds stay below it.
Success = the env reports success at any step within ``max_steps``.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vlaforge.core.keys import EMBODIMENT, IMAGE_PREFIX, OBS_IS_PAD, STATE, TASK
from vlaforge.sim import pool
from vlaforge.sim.tasks import EVAL_SEED_START, check_eval_seeds, instruction, resolve_tasks

PolicySpec = Any
"""A checkpoint path, 'expert' / 'random', a picklable policy object, or a picklable
zero-argument factory returning one. Each worker builds or unpickles its own copy."""


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


# ---- policy loading (runs in the worker) ---------------------------------------
def build_policy(spec: PolicySpec):
    """Turn a ``PolicySpec`` into a policy object (in the process that will run it)."""
    from vlaforge.sim.baselines import BASELINES

    if isinstance(spec, str) and spec in BASELINES:
        return BASELINES[spec]()
    if isinstance(spec, (str, Path)):
        from vlaforge.core.checkpoint import load_policy

        return load_policy(spec)
    if hasattr(spec, "select_action") or hasattr(spec, "predict_action_chunk"):
        return spec
    if callable(spec):
        return spec()
    raise TypeError(f"cannot evaluate {type(spec).__name__}: pass a checkpoint directory, 'expert', 'random', "
                    "an object with reset()/select_action(obs), or a zero-argument factory returning one")


def remote_policy(url: str, n_action_steps: int | None = None):
    """Factory for a policy served over websockets (imported only when used). The remote
    policy executes ``n_action_steps`` per chunk itself (default: the server's setting)."""
    try:
        from vlaforge.serve.remote import RemotePolicy
    except ImportError as e:
        raise RuntimeError(f"--server needs vlaforge.serve.remote.RemotePolicy, which failed to import: {e}") from e
    return RemotePolicy(url, n_action_steps=n_action_steps)


def policy_description(spec: PolicySpec) -> str:
    if isinstance(spec, (str, Path)):
        return str(spec)
    if isinstance(spec, functools.partial):
        return f"{spec.func.__name__}({', '.join(map(repr, spec.args))})"
    return getattr(spec, "name", None) or type(spec).__name__


class _Actor:
    """Turns a policy into one action per env step, executing ``n_action_steps`` per chunk.

    With K given, a policy whose config has ``n_action_steps`` gets it overridden and keeps
    its own history/queue (``select_action``); a bare ``predict_action_chunk`` policy is
    chunked here with a single-frame history."""

    def __init__(self, policy, n_action_steps: int | None) -> None:
        self.policy, self.k = policy, n_action_steps
        self.queue: deque[np.ndarray] = deque()
        cfg = getattr(policy, "config", None)
        if n_action_steps is None or not hasattr(policy, "predict_action_chunk"):
            if n_action_steps is not None and not hasattr(cfg, "n_action_steps"):
                raise ValueError(f"{type(policy).__name__} has no predict_action_chunk and no config."
                                 "n_action_steps, so --n-action-steps cannot apply; leave it unset")
            self.mode = "select_action"
        elif hasattr(cfg, "n_action_steps"):
            self.mode = "select_action"
        else:
            self.mode = "chunk"
        if n_action_steps is not None and hasattr(cfg, "n_action_steps"):
            cfg.n_action_steps = int(n_action_steps)

    @property
    def effective_n_action_steps(self) -> int | None:
        """K as run: the override, else the policy config's, else the policy's own (a remote policy)."""
        if self.k is not None:
            return self.k
        for owner in (getattr(self.policy, "config", None), self.policy):
            try:
                value = getattr(owner, "n_action_steps", None)
            except Exception:  # noqa: BLE001 - e.g. a remote policy whose server has not answered yet
                value = None
            if isinstance(value, int):
                return value
        return None

    def reset(self) -> None:
        self.policy.reset()
        self.queue.clear()

    def act(self, obs: dict[str, Any]) -> np.ndarray:
        import torch

        with torch.no_grad():
            if self.mode == "select_action":
                return _as_action(self.policy.select_action(obs))
            if not self.queue:
                chunk = self.policy.predict_action_chunk(_with_time_axis(obs))  # (1, H, Da)
                self.queue.extend(_as_action(a) for a in chunk[0, : self.k])
            return self.queue.popleft()


def _as_action(a) -> np.ndarray:
    arr = a.detach().cpu().float().numpy() if hasattr(a, "detach") else np.asarray(a, np.float32)
    arr = arr.reshape(-1)
    if arr.shape[0] != 4:
        raise ValueError(f"policy returned an action of shape {tuple(np.shape(a))}; Meta-World's Sawyer needs "
                         "(1, 4) = (dx, dy, dz, gripper)")
    return arr


def _with_time_axis(obs: dict[str, Any]) -> dict[str, Any]:
    import torch

    out = {k: (v.unsqueeze(1) if torch.is_tensor(v) else v) for k, v in obs.items()}  # (1, 1, ...)
    out[OBS_IS_PAD] = torch.zeros(1, 1, dtype=torch.bool)
    return out


def policy_obs(step, task: str, privileged: bool) -> dict[str, Any]:
    """Env step -> the policy's batch-of-one observation (see module docstring)."""
    import torch

    from vlaforge.sim.baselines import PRIVILEGED_ENV, PRIVILEGED_OBS
    from vlaforge.sim.metaworld import EMBODIMENT as EMB

    obs: dict[str, Any] = {}
    for k, v in step.obs.items():
        if k.startswith(IMAGE_PREFIX):
            obs[k] = torch.from_numpy(np.ascontiguousarray(v)).permute(2, 0, 1).unsqueeze(0)  # (1, 3, H, W)
    obs[STATE] = torch.from_numpy(step.obs[STATE]).unsqueeze(0)  # (1, 4)
    obs[TASK] = [instruction(task)]
    obs[EMBODIMENT] = [EMB]
    if privileged:  # scripted baselines only: object and goal positions
        obs[PRIVILEGED_OBS] = step.privileged[None]
        obs[PRIVILEGED_ENV] = [task]
    return obs


# ---- worker side -------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(spec: PolicySpec, image_size: tuple[int, int], cameras: tuple[str, ...], max_steps: int,
                 n_action_steps: int | None, in_pool: bool) -> None:
    from vlaforge.sim.metaworld import EnvCache

    if in_pool:
        import torch

        torch.set_num_threads(1)  # one core per worker; the pool is the parallelism
    policy = build_policy(spec)
    _WORKER.update(actor=_Actor(policy, n_action_steps), cameras=cameras,
                   privileged=bool(getattr(policy, "uses_privileged_obs", False)),
                   uses_images=bool(getattr(policy, "uses_images", True)),
                   envs=EnvCache(image_size, cameras, max_steps))
    pool.on_worker_exit(_close_worker)


def _close_worker() -> None:
    if "envs" in _WORKER:
        _WORKER.pop("envs").close()
    _WORKER.clear()


def _worker_info() -> dict[str, Any]:
    actor = _WORKER["actor"]
    return {"mode": actor.mode, "n_action_steps": actor.effective_n_action_steps,
            "privileged": _WORKER["privileged"], "rendered": _WORKER["uses_images"]}


def run_episode(task: str, seed: int, max_steps: int, video_path: str | None = None) -> EpisodeResult:
    """One closed-loop episode in this worker; writes an MP4 when ``video_path`` is given."""
    from vlaforge.sim.video import tile_cameras, upscale_factor, write_mp4

    t0 = time.perf_counter()
    env, actor, cams = _WORKER["envs"].get(task), _WORKER["actor"], _WORKER["cameras"]
    render = bool(video_path) or _WORKER["uses_images"]
    step = env.reset(seed, render=render)
    actor.reset()
    scale = upscale_factor(env.image_size[0])
    frames = [tile_cameras(step.obs, cams, scale)] if video_path else None
    before = _diagnostics(actor.policy)
    success, length = False, max_steps
    for t in range(max_steps):
        step = env.step(actor.act(policy_obs(step, task, _WORKER["privileged"])), render=render)
        if frames is not None:
            frames.append(tile_cameras(step.obs, cams, scale))
        if step.success:
            success, length = True, t + 1
            break
    if frames is not None:
        write_mp4(frames, video_path)
    after = _diagnostics(actor.policy)
    delta = {k: int(v - before.get(k, 0)) for k, v in after.items()} or None
    return EpisodeResult(task, seed, success, length, time.perf_counter() - t0, video_path, delta)


def _diagnostics(policy) -> dict[str, int]:
    fn = getattr(policy, "diagnostics", None)
    return dict(fn()) if callable(fn) else {}


# ---- parent side ---------------------------------------------------------------
def run_eval(policy: PolicySpec, suite: str | Sequence[str] = "mt10", episodes_per_task: int = 10,
             seed_start: int = EVAL_SEED_START, max_steps: int = 500, n_action_steps: int | None = None,
             workers: int = 2, video_dir: str | Path | None = None, out_dir: str | Path | None = None, *,
             image_size: int | None = None, cameras: Sequence[str] | None = None, videos_per_task: int = 1,
             training_seeds: set[int] | None = None, progress: bool = True) -> dict[str, Any]:
    """Evaluate ``policy`` on every task of ``suite``; see the module docstring for the contract.

    Writes results.json, results.md, success.png and ``videos/`` under ``out_dir`` when given
    (videos go to ``video_dir`` if set). ``training_seeds`` (e.g. a dataset's seeds) are
    refused as evaluation seeds. Returns the results dict that results.json holds."""
    from vlaforge.sim import report

    tasks = resolve_tasks(suite)
    seeds = range(seed_start, seed_start + episodes_per_task)
    check_eval_seeds(seeds, training_seeds)
    if max_steps < 1 or episodes_per_task < 1:
        raise ValueError("max_steps and episodes_per_task must be >= 1")
    size, cams = _observation_spec(policy, image_size, cameras)
    if video_dir is None and out_dir is not None:
        video_dir = Path(out_dir) / "videos"
    units = [(t, s, _video_path(video_dir, t, s, i < videos_per_task)) for t in tasks for i, s in enumerate(seeds)]
    t0 = time.perf_counter()
    episodes, info = _run_units(policy, units, size, cams, max_steps, n_action_steps, workers, progress)
    results = report.summarize(episodes, tasks, meta={
        "policy": policy_description(policy), "suite": suite if isinstance(suite, str) else ",".join(suite),
        "episodes_per_task": episodes_per_task, "seed_start": seed_start, "max_steps": max_steps,
        "n_action_steps": info["n_action_steps"], "action_mode": info["mode"], "privileged": info["privileged"],
        "rendered": info["rendered"],
        "image_size": list(size), "cameras": list(cams), "workers": workers,
        "elapsed_s": round(time.perf_counter() - t0, 2), "date": time.strftime("%Y-%m-%d %H:%M:%S")})
    if out_dir is not None:
        results["files"] = report.write_outputs(results, out_dir)
    return results


def _observation_spec(policy: PolicySpec, image_size: int | None, cameras: Sequence[str] | None):
    """Image size and cameras: given values, else the policy's config, else 64 and both cameras."""
    from vlaforge.sim.metaworld import CAMERAS

    cfg: Any = getattr(policy, "config", None)
    if isinstance(policy, functools.partial) and policy.args:  # e.g. load_policy(dir, policy_overrides=...)
        policy = policy.args[0]
    if isinstance(policy, (str, Path)) and Path(policy).is_dir():
        from vlaforge.core.checkpoint import read_config

        cfg = read_config(policy)["policy"]
    get = (lambda k: cfg.get(k)) if isinstance(cfg, dict) else (lambda k: getattr(cfg, k, None))
    size = image_size or (get("image_size") or (64, 64))
    size = (size, size) if isinstance(size, int) else tuple(size)
    cams = tuple(cameras or get("cameras") or CAMERAS)
    return size, cams


def _video_path(video_dir: str | Path | None, task: str, seed: int, record: bool) -> str | None:
    return str(Path(video_dir) / f"{task}_seed{seed}.mp4") if (video_dir is not None and record) else None


def _run_units(policy: PolicySpec, units: list, size, cams, max_steps: int, n_action_steps: int | None,
               workers: int, progress: bool) -> tuple[list[EpisodeResult], dict]:
    workers = max(1, min(workers, len(units)))
    initargs = (policy, size, cams, max_steps, n_action_steps, workers > 1)
    executor = pool.make_executor(workers, _init_worker, initargs)
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


__all__ = ["run_eval", "run_episode", "build_policy", "remote_policy", "policy_obs", "EpisodeResult",
           "EVAL_SEED_START"]
