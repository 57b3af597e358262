"""Scripted-expert demonstrations from any registered simulator, written as a LeRobot v3 dataset.

Per task, seeds ``seed_start, seed_start+1, ...`` are tried in order and only successful
episodes are kept, until ``episodes_per_task`` successes (or the seed cap). Workers run
episodes and return them; the parent writes them task by task in seed order, so the
dataset is the same whatever the number of workers.

Row ``t`` of an episode holds the observation seen *before* action ``t`` and action ``t``.
An episode stops ``extra_steps`` steps after the first success, or at ``max_steps``.

``--action-noise`` collects DART-style demonstrations (Laskey et al. 2017, "DART: Noise Injection
for Robust Imitation Learning"): the env executes the expert's action plus Gaussian noise, while the
dataset records the expert's clean action at the state the noise led to. A policy then sees how the
expert recovers from states slightly off its own path, the states where a cloned policy's small
errors take it in closed loop (issue 15: the MT10 X-VLA parts from the push expert at such states).

``--actor CKPT`` collects DAgger data (Ross et al. 2011, "A Reduction of Imitation Learning and Structured
Prediction to No-Regret Online Learning"): a trained policy drives the env and the dataset records the scripted
expert's clean action at every state the policy reaches. These are the policy's own mistakes, labelled; failed
episodes are kept (up to ``max_steps``), since their states are the ones the policy most needs labels for. Add
the dataset to the demos and retrain (issue 15: on its own states the X-VLA parts from the expert after the grasp).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from vlaforge.core.keys import ACTION, IMAGE_PREFIX, STATE
from vlaforge.sim import pool
from vlaforge.sim.simulator import EnvCache, get_simulator
from vlaforge.sim.tasks import check_collection_seeds


@dataclass
class CollectConfig:
    """``vlaforge collect SIMULATOR`` options."""

    out: str
    """Dataset directory to create (LeRobot v3)."""
    simulator: str = "metaworld"
    """A registered simulator (``vlaforge.sim.simulator``): metaworld, aloha."""
    tasks: str | None = None
    """Suite (Meta-World: mt10, mt50, mt40 = MT50 minus MT10, easy/medium/hard/very_hard; ALOHA: aloha),
    task, or comma list; default: the simulator's default suite (mt10, aloha)."""
    episodes_per_task: int = 50
    image_size: int = 64
    cameras: str | None = None
    """Comma-separated camera names; default: the simulator's (corner2,gripperPOV; top,left_wrist,right_wrist)."""
    seed_start: int = 0
    workers: int = 2
    max_steps: int | None = None
    """Episode cap; default: the simulator's episode length (Meta-World 500, ALOHA 400)."""
    extra_steps: int = 10
    """Steps recorded after the first success (the policy sees the task finished)."""
    max_seeds_per_task: int | None = None
    """Give up on a task after this many seeds (default 2 x episodes + 20)."""
    no_actions: bool = False
    """Write an action-free video dataset (frames + task only), e.g. for world-model pre-training."""
    overwrite: bool = False
    resume: bool = False
    """Continue a killed collection in ``out``: episodes in completely written files are kept,
    each task collects only what it still lacks (from the seed after its last kept one)."""
    codec: str = "h264"
    episodes_per_file: int = 50
    action_noise: float = 0.0
    """DART noise: std of the Gaussian added to each executed non-gripper action dim, as a fraction of the
    dim's half-range (Meta-World: 0.1 = 0.1 of full speed); the recorded action stays the expert's clean
    one. Needs a closed-loop expert (Meta-World's; ALOHA's replays a plan and cannot correct)."""
    noise_hold: int = 1
    """Steps one noise sample is held for: >1 gives drift like a policy's chunk errors, not jitter."""
    actor: str | None = None
    """DAgger: a policy checkpoint directory that drives the env; the dataset records the expert's clean action at
    each state the policy reaches, and keeps failed episodes too (``episodes_per_task`` rollouts per task). Needs a
    closed-loop expert and the checkpoint's cameras and image size."""

    @property
    def camera_list(self) -> tuple[str, ...]:
        return tuple(c.strip() for c in (self.cameras or "").split(",") if c.strip())

    def for_simulator(self, sim) -> "CollectConfig":
        """Unset tasks, cameras and episode length filled in from the simulator's defaults."""
        return dataclasses.replace(self, tasks=self.tasks or sim.default_suite,
                                   cameras=self.cameras or ",".join(sim.default_cameras),
                                   max_steps=self.max_steps or sim.max_steps)

    @property
    def seed_cap(self) -> int:
        return self.max_seeds_per_task or 2 * self.episodes_per_task + 20


@dataclass
class Episode:
    """One expert rollout as returned by a worker. Arrays have a leading time axis T."""

    task: str
    seed: int
    success: bool
    success_step: int | None
    frames: dict[str, np.ndarray]  # observation.images.<cam>: uint8 (T, H, W, 3)
    state: np.ndarray  # float32 (T, 4)
    action: np.ndarray  # float32 (T, 4)

    @property
    def length(self) -> int:
        return int(self.state.shape[0])


@dataclass
class TaskReport:
    successes: int = 0
    failed_seeds: list[int] = field(default_factory=list)
    kept_seeds: list[int] = field(default_factory=list)
    frames: int = 0
    mean_length: float = 0.0
    kept_failures: int = 0
    """Failed episodes kept (``--actor``: a DAgger rollout is labelled whether or not the policy succeeded)."""
    exhausted: bool = False
    resumed_seeds: list[int] = field(default_factory=list)
    """Episodes kept from an earlier, killed run of the same collection (``--resume``)."""


# ---- worker side -------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(simulator: str, image_size: tuple[int, int], cameras: tuple[str, ...], max_steps: int,
                 actor: str | None = None, in_pool: bool = False) -> None:
    sim = get_simulator(simulator)
    _WORKER["sim"] = sim
    _WORKER["envs"] = EnvCache(sim, image_size, cameras, max_steps)
    _WORKER["experts"] = {}
    _WORKER.pop("actor", None)
    if actor is not None:
        import torch

        from vlaforge.sim.evaluate import PolicyActor
        from vlaforge.sim.sources import CheckpointSource

        if in_pool:
            torch.set_num_threads(1)  # one core per worker; the pool is the parallelism (as in evaluation)
        _WORKER["actor"] = PolicyActor(CheckpointSource(actor).build(sim), None, sim.embodiment.action_dim)
    pool.on_worker_exit(_close_worker)


def _close_worker() -> None:
    if "envs" in _WORKER:
        _WORKER.pop("envs").close()


def action_noise(embodiment, std: float, hold: int, seed: int, steps: int) -> np.ndarray | None:
    """(steps, action_dim) noise to add to the executed actions (zero on gripper dims, one sample held
    ``hold`` steps), seeded by the episode's seed so a collection is reproducible; None when ``std`` is 0."""
    if std <= 0:
        return None
    half_range = (np.asarray(embodiment.action_high, np.float32) - np.asarray(embodiment.action_low, np.float32)) / 2
    scale = std * half_range
    scale[list(embodiment.gripper_dims)] = 0.0
    rng = np.random.default_rng([seed, 0xDA27])
    samples = rng.standard_normal((-(-steps // hold), scale.size)) * scale  # (ceil(steps / hold), D)
    return np.repeat(samples, hold, axis=0)[:steps].astype(np.float32)


def run_expert_episode(task: str, seed: int, max_steps: int, extra_steps: int, noise_std: float = 0.0,
                       noise_hold: int = 1) -> Episode:
    """Roll out the scripted expert on (task, seed) in this worker's env for that task; with
    ``noise_std`` the env executes a perturbed action and the episode records the clean one (DART); with an
    actor policy loaded in this worker the env executes the policy's action instead (DAgger)."""
    env = _WORKER["envs"].get(task)
    sim = _WORKER["sim"]
    if task not in _WORKER["experts"]:  # built once per worker and task, not per episode
        _WORKER["experts"][task] = sim.expert(task)
    expert = _WORKER["experts"][task]
    actor = _WORKER.get("actor")
    noise = action_noise(sim.embodiment, noise_std, noise_hold, seed, max_steps)
    step = env.reset(seed)
    expert.reset(env, step)
    if actor is not None:
        actor.reset()
    rows: list[dict[str, np.ndarray]] = []
    actions: list[np.ndarray] = []
    success_step = None
    for t in range(max_steps):
        action = sim.embodiment.clip_action(expert.act(step))  # the label, whoever acts
        rows.append(step.obs)
        actions.append(action)
        executed = action if actor is None else _actor_action(actor, step, task, sim)
        step = env.step(executed if noise is None else sim.embodiment.clip_action(executed + noise[t]))
        if step.success and success_step is None:
            success_step = t
        if success_step is not None and t - success_step >= extra_steps:
            break
    frames = {k: np.stack([r[k] for r in rows]) for k in rows[0] if k.startswith(IMAGE_PREFIX)}
    return Episode(task, seed, success_step is not None, success_step, frames,
                   np.stack([r[STATE] for r in rows]), np.stack(actions).astype(np.float32))


def _actor_action(actor, step, task: str, sim) -> np.ndarray:
    from vlaforge.sim.evaluate import policy_obs

    return sim.embodiment.clip_action(actor.act(policy_obs(step, task, sim)))


# ---- parent side ---------------------------------------------------------------
class _Scheduler:
    """Seeds in order per task; a failure queues the task's next seed at the front, so an
    earlier task finishes (and is written) before later ones pile up in memory."""

    def __init__(self, tasks: list[str], cfg: CollectConfig, done: dict[str, list[int]] | None = None) -> None:
        """``done``: seeds already written per task (a resumed collection); those tasks need fewer."""
        self.tasks, self.cfg = tasks, cfg
        done = done or {}
        first = {t: max(done[t]) + 1 if done.get(t) else cfg.seed_start for t in tasks}
        need = {t: max(0, cfg.episodes_per_task - len(done.get(t, []))) for t in tasks}
        self.queue: deque[tuple[str, int]] = deque((t, first[t] + i) for t in tasks for i in range(need[t]))
        self.next_seed = {t: first[t] + need[t] for t in tasks}
        self.outstanding = dict(need)
        self.kept: dict[str, list[Episode]] = {t: [] for t in tasks}
        self.reports = {t: TaskReport(resumed_seeds=sorted(done.get(t, []))) for t in tasks}
        self.keep_failures = cfg.actor is not None  # DAgger: a failed rollout's states are labelled too

    def on_result(self, ep: Episode) -> None:
        rep = self.reports[ep.task]
        self.outstanding[ep.task] -= 1
        if ep.success:
            self.kept[ep.task].append(ep)
            rep.successes += 1
            return
        rep.failed_seeds.append(ep.seed)
        if self.keep_failures:
            self.kept[ep.task].append(ep)
            rep.kept_failures += 1
            return
        if self.next_seed[ep.task] - self.cfg.seed_start < self.cfg.seed_cap:
            self.queue.appendleft((ep.task, self.next_seed[ep.task]))
            self.next_seed[ep.task] += 1
            self.outstanding[ep.task] += 1
        else:
            rep.exhausted = True

    def done(self, task: str) -> bool:
        return self.outstanding[task] == 0


def collect(cfg: CollectConfig, writer_factory: Callable[..., Any] | None = None,
            progress: bool = True) -> dict[str, Any]:
    """Run the collection described by ``cfg``; returns (and writes) a summary dict."""
    sim = get_simulator(cfg.simulator)
    cfg = cfg.for_simulator(sim)
    tasks = sim.resolve_tasks(cfg.tasks)
    if cfg.resume and cfg.overwrite:
        raise ValueError("--resume continues the dataset in --out and --overwrite deletes it: pass only one")
    check_collection_seeds(cfg.seed_start, cfg.seed_cap)
    _check_noise(cfg, sim)
    if cfg.actor is not None:
        _check_actor(cfg, sim)
    cameras = cfg.camera_list
    sim.check_cameras(cameras)
    done = _done_seeds(Path(cfg.out), tasks) if cfg.resume else None  # checked before the writer touches out
    writer = (writer_factory or _default_writer)(cfg, cameras)
    sched = _Scheduler(tasks, cfg, done)
    t0 = time.perf_counter()
    executor = pool.make_executor(cfg.workers, _init_worker,
                                  (cfg.simulator, (cfg.image_size, cfg.image_size), cameras, cfg.max_steps,
                                   cfg.actor, cfg.workers > 1))
    bar = _progress_bar(len(tasks) * cfg.episodes_per_task, progress)
    steps_total = 0
    try:
        write_idx = 0
        inflight: set[Future] = set()
        window = max(1, cfg.workers) * 2
        while write_idx < len(tasks):
            while sched.queue and len(inflight) < window:
                task, seed = sched.queue.popleft()
                inflight.add(executor.submit(run_expert_episode, task, seed, cfg.max_steps, cfg.extra_steps,
                                             cfg.action_noise, cfg.noise_hold))
            done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
            for fut in done:
                ep = fut.result()
                sched.on_result(ep)
                steps_total += ep.length
                _update_bar(bar, ep, sched, steps_total, t0)
            while write_idx < len(tasks) and sched.done(tasks[write_idx]):
                _write_task(writer, sched, tasks[write_idx], cfg)
                write_idx += 1
        writer.finalize()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        _close_worker()
        if bar is not None:
            bar.close()
    return _summary(cfg, tasks, sched, steps_total, len(cameras), time.perf_counter() - t0)


def _check_noise(cfg: CollectConfig, sim) -> None:
    if cfg.action_noise < 0 or cfg.noise_hold < 1:
        raise ValueError(f"--action-noise must be >= 0 and --noise-hold >= 1, got {cfg.action_noise} and "
                         f"{cfg.noise_hold}")
    if cfg.action_noise > 0 and not sim.closed_loop_expert:
        raise ValueError(f"--action-noise needs an expert that reacts to the state it is in, and {sim.name}'s "
                         "replays a trajectory planned at reset (its labels would not correct the noise); "
                         "collect without --action-noise")
    if cfg.action_noise > 0 and cfg.no_actions:
        raise ValueError("--action-noise perturbs the actions a demo records; --no-actions records none: "
                         "pass only one")


def _check_actor(cfg: CollectConfig, sim) -> None:
    """A DAgger actor must be a checkpoint that sees what this collection renders, under a reacting expert."""
    from vlaforge.sim.sources import CheckpointSource

    if not sim.closed_loop_expert:
        raise ValueError(f"--actor needs an expert that labels any state it is shown, and {sim.name}'s replays a "
                         "trajectory planned at reset; collect without --actor")
    if cfg.no_actions:
        raise ValueError("--actor records the expert's labels at the policy's states; --no-actions records none: "
                         "pass only one")
    if not (Path(cfg.actor) / "config.json").is_file():
        raise ValueError(f"--actor {cfg.actor}: not a checkpoint directory (no config.json); pass e.g. "
                         "runs/NAME/checkpoints/last")
    spec = CheckpointSource(cfg.actor).observation_spec() or {}
    want = {"image_size": (cfg.image_size, cfg.image_size), "cameras": cfg.camera_list}
    have = {"image_size": tuple(spec.get("image_size", ())), "cameras": tuple(spec.get("cameras", ()))}
    if spec.get("camera_map") or have != want:
        raise ValueError(f"--actor {cfg.actor} was trained on cameras {list(have['cameras'])} at "
                         f"{have['image_size']}; this collection renders {list(want['cameras'])} at "
                         f"{want['image_size']}: pass --cameras {','.join(have['cameras'])} --image-size "
                         f"{have['image_size'][0] if have['image_size'] else '?'}")


def _done_seeds(root: Path, tasks: list[str]) -> dict[str, list[int]]:
    """Seeds per task already in the dataset a resumed collection continues: the episodes of
    completely written files, the ones ``LeRobotDatasetWriter(resume=True)`` keeps."""
    from vlaforge.data.lerobot import INFO_PATH, read_episodes

    if not (root / INFO_PATH).is_file():
        return {}
    n = int(json.loads((root / INFO_PATH).read_text()).get("total_episodes", 0))
    if n == 0:
        return {}
    eps = read_episodes(root)
    done: dict[str, list[int]] = {}
    for env, seed in zip(eps["env"][:n].tolist(), eps["seed"][:n].tolist()):
        if env not in tasks:
            raise ValueError(f"cannot resume {root}: it holds task {env!r}, which --tasks does not list; "
                             "resume with the same --tasks, or start over with --overwrite")
        done.setdefault(env, []).append(int(seed))
    return done


def _default_writer(cfg: CollectConfig, cameras: tuple[str, ...]):
    try:
        from vlaforge.data.lerobot import LeRobotDatasetWriter
    except ImportError as e:  # pragma: no cover - only before the data layer exists
        raise RuntimeError("vlaforge.data.lerobot.LeRobotDatasetWriter is not available; "
                           "collection writes LeRobot v3 datasets through it") from e
    sim = get_simulator(cfg.simulator)
    return LeRobotDatasetWriter(cfg.out, fps=sim.fps, robot_type=sim.embodiment_name, features=None, cameras=cameras,
                                image_size=(cfg.image_size, cfg.image_size), codec=cfg.codec,
                                episodes_per_file=cfg.episodes_per_file, overwrite=cfg.overwrite,
                                resume=cfg.resume)


def _write_task(writer, sched: _Scheduler, task: str, cfg: CollectConfig) -> None:
    """Write a finished task's episodes in seed order and drop them from memory."""
    episodes = sorted(sched.kept.pop(task), key=lambda e: e.seed)
    rep = sched.reports[task]
    for ep in episodes:
        data: dict[str, np.ndarray] = dict(ep.frames)
        if not cfg.no_actions:
            data[STATE] = ep.state.astype(np.float32)
            data[ACTION] = ep.action.astype(np.float32)
        writer.add_episode(data, task=get_simulator(cfg.simulator).instruction(task),
                           extra={"seed": ep.seed, "env": task, "success_step": ep.success_step})
        rep.kept_seeds.append(ep.seed)
        rep.frames += ep.length
    rep.mean_length = rep.frames / max(1, len(episodes))


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="ep", desc="collect", dynamic_ncols=True, smoothing=0.05)


def _update_bar(bar, ep: Episode, sched: _Scheduler, steps_total: int, t0: float) -> None:
    if bar is None:
        return
    if ep.success or sched.keep_failures:
        bar.update(1)
    failures = sum(len(r.failed_seeds) for r in sched.reports.values())
    rate = steps_total / max(1e-9, time.perf_counter() - t0)
    bar.set_postfix(task=ep.task, failed=failures, steps_per_s=f"{rate:.0f}", refresh=False)


def _summary(cfg: CollectConfig, tasks: list[str], sched: _Scheduler, steps: int, n_cams: int,
             elapsed: float) -> dict:
    """Per-task success/failure counts and throughput; also written next to the dataset."""
    reports = {t: asdict(sched.reports[t]) for t in tasks}
    for t, rep in reports.items():
        rep["failed_seeds"] = sorted(rep["failed_seeds"])
        rep["failures"] = len(rep["failed_seeds"])
    summary = {
        "config": asdict(cfg),
        "tasks": tasks,
        "per_task": reports,
        "episodes": sum(len(r["kept_seeds"]) + len(r["resumed_seeds"]) for r in reports.values()),
        "failures": sum(r["failures"] for r in reports.values()),
        "env_steps": steps,
        "elapsed_s": round(elapsed, 2),
        # One env step = one dataset row = one rendered frame per camera (failed episodes included).
        "steps_per_s": round(steps / max(elapsed, 1e-9), 1),
        "images_per_s": round(steps * n_cams / max(elapsed, 1e-9), 1),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    short = [t for t, r in reports.items() if len(r["kept_seeds"]) + len(r["resumed_seeds"]) < cfg.episodes_per_task]
    if short:
        summary["warning"] = (f"tasks {short} reached the seed cap ({cfg.seed_cap}) with fewer than "
                              f"{cfg.episodes_per_task} successes")
    out = Path(cfg.out) / "meta" / "collect_summary.json"
    if out.parent.is_dir():
        out.write_text(json.dumps(summary, indent=2))
    return summary
