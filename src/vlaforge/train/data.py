"""Training data: a dataset (or a weighted mixture) -> an endless, resumable stream of batches.

Resuming exactly needs the sample order to be a pure function of (seed, position):
epoch ``e``'s order comes from ``dataset.epoch_indices(seed, e)`` (LeRobot datasets and
mixtures define it; any other dataset gets a seeded permutation), and the stream is cut
into batches, so after ``n`` consumed samples a loader started at ``n`` yields exactly
what the old one would have. The loader never draws from the global RNG.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from vlaforge.core.cameras import parse_camera_map, robot_slots, slot_of
from vlaforge.core.errors import ConfigError
from vlaforge.core.keys import ACTION, ACTION_IS_PAD, HAS_ACTION
from vlaforge.core.embodiment import EmbodimentSpec


@dataclass
class TrainData:
    """Everything the trainer needs from the data side. ``load_train_data`` builds it from a
    ``DataConfig``; tests and custom pipelines can build it from any map-style dataset."""

    dataset: Dataset
    norm_stats: dict
    """``{embodiment: {"observation.state": {...}, "action": {...}}}`` (``Normalizer``'s input)."""
    embodiments: Sequence[EmbodimentSpec]
    collate_fn: Callable[[list[dict]], dict] | None = None
    """Used only for datasets without a vectorised ``get_batch``; default ``collate``."""
    info: dict = field(default_factory=dict)
    """What to record about the data (roots, sizes, weights ...)."""


class StreamSampler(Sampler[list[int]]):
    """Endless batches of indices, cut from the epoch-by-epoch order, starting at sample ``start``."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, start: int = 0) -> None:
        self.n = len(dataset)
        if self.n <= 0:
            raise ValueError("the training dataset is empty; check data.roots and that the episodes are "
                             "longer than the observation window")
        self.order = getattr(dataset, "epoch_indices", None)
        self.batch_size, self.seed, self.start = batch_size, seed, start

    def epoch_indices(self, epoch: int) -> np.ndarray:
        if self.order is not None:
            return np.asarray(self.order(self.seed, epoch))
        return np.random.default_rng([self.seed, epoch]).permutation(self.n)

    def samples(self) -> Iterator[int]:
        epoch, offset = divmod(self.start, self.n)
        while True:
            yield from self.epoch_indices(epoch)[offset:].tolist()
            epoch, offset = epoch + 1, 0

    def __iter__(self) -> Iterator[list[int]]:
        stream = self.samples()
        while True:
            yield [next(stream) for _ in range(self.batch_size)]


class RankSlice(Sampler[list[int]]):
    """Rank ``rank``'s slice of every global batch: N ranks with batch b see what one process with
    batch N x b sees, in the same order."""

    def __init__(self, sampler: StreamSampler, rank: int, per_rank: int) -> None:
        self.sampler, self.rank, self.per_rank = sampler, rank, per_rank

    def __iter__(self) -> Iterator[list[int]]:
        lo = self.rank * self.per_rank
        for batch in self.sampler:
            yield batch[lo:lo + self.per_rank]


def make_loader(data: TrainData, batch_size: int, num_workers: int, seed: int, start: int, rank: int = 0,
                world: int = 1, pin_memory: bool = False) -> Iterator[dict]:
    """An endless batch iterator beginning at sample ``start`` of the deterministic (global) stream;
    with ``world`` ranks, this rank's ``batch_size`` slice of each global batch."""
    ds = data.dataset
    batches: Sampler = StreamSampler(ds, batch_size * world, seed, start)
    if world > 1:
        batches = RankSlice(batches, rank, batch_size)
    common = dict(num_workers=num_workers, persistent_workers=num_workers > 0, worker_init_fn=_worker_init,
                  pin_memory=pin_memory,
                  prefetch_factor=4 if num_workers > 0 else None,
                  generator=torch.Generator().manual_seed(seed + start + 7919 * rank))  # never the global RNG
    if hasattr(ds, "get_batch"):  # vectorised fetch: ds[list_of_indices] is a collated batch
        loader = DataLoader(ds, batch_size=None, sampler=batches, collate_fn=_identity, **common)
    else:
        loader = DataLoader(ds, batch_sampler=batches, collate_fn=data.collate_fn or collate, **common)
    return iter(loader)


def _identity(batch: dict) -> dict:
    return batch


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors, list strings. Samples without ``action`` (action-free video) get zero
    actions, ``action_is_pad`` all True and ``has_action`` False, so one batch can mix both."""
    keys = list(dict.fromkeys(k for s in samples for k in s))
    out: dict[str, Any] = {}
    for k in keys:
        ref = next(s[k] for s in samples if k in s)
        vals = [s.get(k) for s in samples]
        if torch.is_tensor(ref):
            fill = True if k == ACTION_IS_PAD else 0
            out[k] = torch.stack([v if v is not None else torch.full_like(ref, fill) for v in vals])
        elif isinstance(ref, (bool, int, float)):
            out[k] = torch.tensor(vals)
        else:
            out[k] = vals
    if ACTION in out and HAS_ACTION not in out:
        out[HAS_ACTION] = torch.tensor([ACTION in s for s in samples])
    return out


def load_train_data(cfg, policy_cfg, stage=None, dist=None, placement: str = "global") -> TrainData:
    """Open the LeRobot datasets named in ``cfg`` (a ``DataConfig``) with the windows the policy's
    ``stage`` (a ``StageSpec``; default: its first) asks for; several roots become one weighted
    ``MixtureDataset``. Action-free roots are refused for a stage that requires actions. With
    ``placement='lpt'`` and several ranks (``dist``: a ``train.distributed.Dist``), this
    rank opens only the datasets the load-balanced placement gives it; normalization statistics
    still cover every dataset."""
    from vlaforge.core.embodiment import get_embodiment
    from vlaforge.data.dataset import LeRobotDataset, MixtureDataset
    from vlaforge.data.lerobot import load_meta
    from vlaforge.data.stats import merge_norm_stats, norm_stats_for

    stage = stage or policy_cfg.stage()
    if not cfg.roots:
        raise ConfigError("no training data: set data.roots (e.g. --data.roots data/mt10_64); "
                          "collect some with `vlaforge collect metaworld ...`")
    if cfg.action_free_roots and stage.actions == "required":
        raise ConfigError(f"{policy_cfg.family} stage {stage.name!r} trains on actions only; drop "
                          f"data.action_free_roots {list(cfg.action_free_roots)} (action-free video cannot train it)")
    all_roots = list(cfg.roots) + list(cfg.action_free_roots)
    metas = [load_meta(r) for r in all_roots]
    weights_all = _mixture_weights(cfg, [m.total_frames for m in metas])
    mine, placed = _placement(all_roots, metas, dist, placement == "lpt")
    roots = [all_roots[i] for i in mine]
    cmap = parse_camera_map(getattr(policy_cfg, "camera_map", ()))
    datasets = [LeRobotDataset(r, n_obs_steps=stage.n_obs_steps, obs_stride=stage.obs_stride,
                               chunk_size=stage.chunk_size, cameras=_cameras_of(r, m, policy_cfg.cameras, cmap),
                               future_offsets=stage.future_offsets, use_cache=cfg.use_cache,
                               episodes=_episode_subset(r, cfg.episodes_per_task, cfg.tasks), camera_map=cmap)
                for r, m in zip(roots, [metas[i] for i in mine])]
    _check_actions(stage, policy_cfg.family, datasets)
    _apply_task_weights(datasets, parse_task_weights(cfg.task_weights))
    weights = None if weights_all is None else [weights_all[i] for i in mine]
    ds = datasets[0] if len(datasets) == 1 else MixtureDataset(datasets, weights)
    stats = merge_norm_stats(*[norm_stats_for(m) for m in metas])
    specs = [get_embodiment(name) for name in stats]
    info = {"roots": roots, "action_roots": [r for r, d in zip(roots, datasets) if d.meta.has_actions],
            **placed,
            "sizes": [len(d) for d in datasets], "weights": weights, "stage": stage.name,
            "episodes": [d.meta.total_episodes for d in datasets], "fps": datasets[0].meta.fps,
            "episodes_per_task": cfg.episodes_per_task, "task_weights": list(cfg.task_weights),
            "tasks": sorted({t for m in metas for t in m.tasks})}
    return TrainData(ds, stats, specs, info=info)


def _cameras_of(root: str, meta, slots: tuple[str, ...], cmap: dict[str, str]) -> tuple[str, ...]:
    """The cameras of ``root`` the policy reads: its slots themselves, or (with a camera map) every camera
    of the dataset that feeds one of them."""
    if not cmap:
        return tuple(slots)
    cams = tuple(c for c in meta.cameras if slot_of(c, cmap) in slots)
    if not cams:
        raise ConfigError(f"no camera of {root} ({list(meta.cameras)}) feeds a policy slot {list(slots)}; add "
                          "'camera=slot' entries to policy.camera_map")
    robot_slots(cams, slots, cmap)  # two cameras on one slot is an error
    return cams


def _check_actions(stage, family: str, datasets) -> None:
    free = [str(d.root) for d in datasets if not d.meta.has_actions]
    if free and stage.actions == "required":
        raise ConfigError(f"{family} stage {stage.name!r} trains on actions, but {free} hold(s) no actions; "
                          "use action-labelled datasets (or a family/stage that learns from video)")


def _episode_subset(root: str, per_task: int | None, tasks: tuple[str, ...] = ()) -> list[int] | None:
    """Indices of the episodes of ``root`` to train on: those of ``tasks`` (an instruction or the
    episode's ``env`` name; empty: all), at most the first ``per_task`` of each (None: all)."""
    if per_task is None and not tasks:
        return None
    if per_task is not None and per_task < 1:
        raise ConfigError(f"data.episodes_per_task must be >= 1 (or unset for all episodes), got {per_task}")
    from vlaforge.data.lerobot import load_meta

    meta = load_meta(root)
    envs = meta.episodes.get("env")
    seen: dict[str, int] = {}
    keep = []
    for e, names in enumerate(meta.episodes["tasks"]):
        t = names[0]
        if tasks and t not in tasks and (envs is None or str(envs[e]) not in tasks):
            continue
        if per_task is None or seen.get(t, 0) < per_task:
            keep.append(e)
            seen[t] = seen.get(t, 0) + 1
    if not keep:
        raise ConfigError(f"data.tasks {list(tasks)} matches no episode of {root}; its tasks are "
                          f"{sorted(set(n[0] for n in meta.episodes['tasks']))}")
    return keep


def parse_task_weights(entries: tuple[str, ...]) -> dict[str, float]:
    """``data.task_weights`` ('TASK=WEIGHT' strings) -> {task: weight}; a clear error for a malformed entry."""
    table: dict[str, float] = {}
    for entry in entries:
        task, sep, value = entry.rpartition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if not sep or not task.strip() or not weight >= 0:
            raise ConfigError(f"data.task_weights entry {entry!r}: write TASK=WEIGHT with a weight >= 0, e.g. "
                              "'peg-insert-side-v3=3' or 'insert the peg into the hole from the side=3'")
        table[task.strip()] = weight
    return table


def _apply_task_weights(datasets: list, table: dict[str, float]) -> None:
    """Give every sample of a task in ``table`` (by instruction or episode env name) its weight, the rest 1."""
    if not table:
        return
    matched: set[str] = set()
    for ds in datasets:
        w = np.ones(len(ds))
        for names in (ds.sample_tasks(), ds.sample_envs()):
            if names is None:
                continue
            for task, weight in table.items():
                hit = names == task
                if hit.any():
                    w[hit] = weight
                    matched.add(task)
        if not w.any():
            raise ConfigError(f"data.task_weights gives every sample of {ds.root} weight 0; drop the root from "
                              "data.roots instead, or give one of its tasks a positive weight")
        ds.set_sample_weights(w)
    unknown = sorted(set(table) - matched)
    if unknown:
        known = sorted({str(t) for ds in datasets for t in set(ds.sample_tasks().tolist())})
        raise ConfigError(f"data.task_weights names {unknown}, which no training sample has; the tasks are {known} "
                          "(or their episodes' env names, e.g. push-v3)")


def _mixture_weights(cfg, sizes: list[int]) -> list[float] | None:
    """One weight per dataset; a side left unweighted gets weights proportional to its sizes."""
    if not (cfg.weights or cfg.action_free_weights):
        return None
    n = len(cfg.roots)
    w = list(cfg.weights) or [float(s) for s in sizes[:n]]
    wf = list(cfg.action_free_weights) or [float(s) for s in sizes[n:]]
    return w + wf


def _placement(roots: list[str], metas: list, dist, lpt: bool) -> tuple[list[int], dict]:
    """Indices of the roots this rank opens, and what to record about the placement."""
    if dist is None or not dist.enabled or not lpt:
        return list(range(len(roots))), {"placement": "global"}
    from vlaforge.train.lpt import assign

    plan = assign([float(m.total_frames) for m in metas], dist.world)
    mine = plan.ranks[dist.rank]
    return mine, {"placement": "lpt", "lpt_rank_datasets": [len(r) for r in plan.ranks],
                  "lpt_imbalance": round(plan.imbalance, 4), "opened": len(mine), "of": len(roots)}
