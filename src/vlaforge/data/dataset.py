"""The training dataset over a LeRobot v3 directory, its resumable loader and mixtures.

A sample at global frame i of episode e holds ``n_obs_steps`` observations ending at
i (``obs_stride`` frames apart; steps before the episode start repeat its first frame
and are flagged in ``observation.is_pad``) and ``chunk_size`` actions from i on (steps
past the episode end repeat its last action, flagged in ``action_is_pad``).

Index arithmetic is vectorised over a whole batch, and frames come from the
memory-mapped frame cache, so ``ds[list_of_indices]`` builds a collated batch with a
handful of numpy gathers. ``make_dataloader`` uses that path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vlaforge.core.keys import (
    ACTION, ACTION_IS_PAD, EMBODIMENT, FEATURE_PREFIX, FUTURE_FEATURE_PREFIX, FUTURE_PREFIX, HAS_ACTION,
    IMAGE_PAD_PREFIX, IMAGE_PREFIX, OBS_IS_PAD, STATE, TASK,
)
from vlaforge.data.errors import DatasetError, EpisodeIndexError
from vlaforge.data.lerobot import LeRobotDatasetMeta, load_meta, read_frames
from vlaforge.data.video import decode_frames

FUTURE_IS_PAD = "future.is_pad"
Batch = dict[str, Any]


class _BatchFetch(Dataset):
    """Shared access: ``ds[i]`` for one sample or a list of indices, and ``__getitems__`` so
    torch's DataLoader fetches a whole batch with one vectorised ``get_batch`` gather."""

    def get_batch(self, indices) -> Batch:  # pragma: no cover - implemented by subclasses
        raise NotImplementedError

    def __getitem__(self, i):
        return _get(self, i)

    def __getitems__(self, indices: Sequence[int]) -> list[Batch]:
        batch = self.get_batch(indices)
        return [{k: v[j] for k, v in batch.items()} for j in range(len(indices))]


class LeRobotDataset(_BatchFetch):
    """Windows of observations, action chunks and optional future frames.

    ``ds[i]`` gives one sample; ``ds[[i, j, ...]]`` a collated batch (fast path).
    """

    def __init__(self, root: str | os.PathLike, n_obs_steps: int = 2, obs_stride: int = 1, chunk_size: int = 16,
                 cameras: Sequence[str] | None = None, use_cache: bool = True, episodes: Sequence[int] | None = None,
                 future_offsets: Sequence[int] = (), cache_dir: str | os.PathLike | None = None,
                 action_dim: int | None = None, state_dim: int | None = None,
                 camera_map: dict[str, str] | None = None) -> None:
        """``camera_map``: camera -> the policy slot its frames are served under (``vlaforge.core.cameras``);
        ``camera_keys`` keep the dataset's own names (the frame and feature caches use them)."""
        if n_obs_steps < 1 or obs_stride < 1 or chunk_size < 1:
            raise ValueError("n_obs_steps, obs_stride and chunk_size must be >= 1")
        if any(o < 1 for o in future_offsets):
            raise ValueError(f"future_offsets must be positive frame offsets, got {tuple(future_offsets)}")
        self.meta: LeRobotDatasetMeta = load_meta(root)
        self.root = Path(root)
        self.n_obs_steps, self.obs_stride, self.chunk_size = n_obs_steps, obs_stride, chunk_size
        self.future_offsets = tuple(int(o) for o in future_offsets)
        self.use_cache, self.cache_dir = use_cache, cache_dir
        self.camera_keys = self._select_cameras(cameras)
        cmap = camera_map or {}
        self.slot_names = {k: cmap.get(k[len(IMAGE_PREFIX):], k[len(IMAGE_PREFIX):]) for k in self.camera_keys}
        """Camera key -> the name its frames are served under (itself without a camera map)."""
        self._data = read_frames(self.meta, [STATE, ACTION, "timestamp", "episode_index", "frame_index",
                                             "task_index"])
        self.action_dim = self._width(ACTION, action_dim)
        self.state_dim = self._width(STATE, state_dim)
        self._rows = self._select_rows(episodes)
        ep = self._data["episode_index"]
        self._first = self.meta.episodes["dataset_from_index"].astype(np.int64)[ep]  # (N,) first frame of own episode
        self._last = self.meta.episodes["dataset_to_index"].astype(np.int64)[ep] - 1  # (N,) last frame
        self._tasks = np.array(self.meta.tasks, dtype=object)
        self._frames: dict[str, np.ndarray] | None = None
        self._features: dict[str, np.ndarray] = {}
        self._sample_p: np.ndarray | None = None  # (N,) draw probabilities; None: a uniform permutation per epoch

    # ---- setup -------------------------------------------------------------
    def _select_cameras(self, cameras: Sequence[str] | None) -> list[str]:
        if cameras is None:
            return list(self.meta.camera_keys)
        keys = [c if c.startswith(IMAGE_PREFIX) else IMAGE_PREFIX + c for c in cameras]
        unknown = [k for k in keys if k not in self.meta.camera_keys]
        if unknown:
            raise DatasetError(f"cameras {unknown} are not in {self.root} (it has {list(self.meta.cameras)}); "
                               "pick from those")
        return keys

    def _width(self, key: str, asked: int | None) -> int:
        real = int(np.prod(self.meta.features[key]["shape"])) if key in self.meta.features else 0
        if asked is not None and asked < real:
            raise ValueError(f"{key} width {asked} is below the dataset's {real}")
        return real if asked is None else asked

    def _select_rows(self, episodes: Sequence[int] | None) -> np.ndarray:
        if episodes is None:
            return np.arange(self.meta.total_frames, dtype=np.int64)
        eps = np.asarray(list(episodes), dtype=np.int64)
        bad = eps[(eps < 0) | (eps >= self.meta.total_episodes)]
        if len(bad):
            raise EpisodeIndexError(f"episode(s) {bad.tolist()} out of range: {self.root} has episodes "
                                    f"0..{self.meta.total_episodes - 1}")
        ranges = [np.arange(*self.meta.episode_range(int(e))) for e in eps]
        return np.concatenate(ranges) if ranges else np.zeros(0, np.int64)

    def frames(self) -> dict[str, np.ndarray]:
        """The memory-mapped frame cache, opened (and built if needed) on first use."""
        if self._frames is None:
            from vlaforge.data.cache import load_frame_cache

            self._frames = load_frame_cache(self.meta, self.camera_keys, self._data["timestamp"], self.cache_dir)
        return self._frames

    def set_features(self, features: dict[str, np.ndarray]) -> None:
        """Serve these cameras' cached encoder features (``vlaforge.data.features``: camera key ->
        (N, K, C, h, w)) as ``observation.features.<cam>`` instead of their images; one of the K
        augmented views is drawn per sample and frame from torch's RNG (restored on resume)."""
        self._features = dict(features)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_frames"] = None  # memmaps are reopened in each worker, never pickled
        state["_features"] = {k: v.filename if isinstance(v, np.memmap) else v for k, v in self._features.items()}
        return state

    # ---- access ------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._rows)

    def get_batch(self, indices) -> Batch:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise EpisodeIndexError(f"sample index out of range for a dataset of {len(self)} samples")
        g = self._rows[idx]  # (B,) global frame index
        obs, obs_pad = self._window(g, -np.arange(self.n_obs_steps - 1, -1, -1) * self.obs_stride)  # (B, To)
        act, act_pad = self._window(g, np.arange(self.chunk_size))  # (B, H)
        out: Batch = {OBS_IS_PAD: torch.from_numpy(obs_pad), ACTION_IS_PAD: torch.from_numpy(act_pad)}
        for key in self.camera_keys:
            if key in self._features:
                out[FEATURE_PREFIX + self.slot_names[key]] = self._cached_features(key, obs)
            else:
                out[IMAGE_PREFIX + self.slot_names[key]] = self._images(key, obs)
        out[STATE] = self._lowdim(STATE, obs, self.state_dim)
        out[ACTION] = self._lowdim(ACTION, act, self.action_dim)
        if not self.meta.has_actions:
            out[ACTION_IS_PAD] = torch.ones_like(out[ACTION_IS_PAD])
        if self.future_offsets:
            fut, fut_pad = self._window(g, np.asarray(self.future_offsets))  # (B, Tf)
            out[FUTURE_IS_PAD] = torch.from_numpy(fut_pad)
            for key in self.camera_keys:
                out[FUTURE_PREFIX + self.slot_names[key]] = self._images(key, fut)
                if key in self._features:  # a world-model target: the frame as is, never a shifted view
                    out[FUTURE_FEATURE_PREFIX + self.slot_names[key]] = self._cached_features(key, fut, view=0)
        out.update(self._labels(g))
        return out

    def _window(self, g: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame indices g + offsets clamped to each sample's episode, and which were clamped."""
        raw = g[:, None] + offsets[None, :]  # (B, T)
        lo, hi = self._first[g][:, None], self._last[g][:, None]
        return np.clip(raw, lo, hi), (raw < lo) | (raw > hi)

    def _images(self, key: str, idx: np.ndarray) -> torch.Tensor:
        b, t = idx.shape
        if self.use_cache:
            flat = np.asarray(self.frames()[key][idx.reshape(-1)])  # (B*T, 3, H, W)
        else:
            flat = self._decode(key, idx.reshape(-1))
        return torch.from_numpy(flat).view(b, t, *flat.shape[1:])  # (B, T, 3, H, W)

    def _cached_features(self, key: str, idx: np.ndarray, view: int | None = None) -> torch.Tensor:
        """Cached features (B, T, C, h, w) of frames ``idx`` (B, T): one random augmented view per entry, or
        the given ``view`` for all."""
        feats = self._features[key]
        if isinstance(feats, (str, os.PathLike)):  # in a loader worker: reopen the memmap
            feats = self._features[key] = np.load(feats, mmap_mode="r")
        b, t = idx.shape
        if view is None:
            view = torch.randint(0, feats.shape[1], (b * t,)).numpy()  # (B*T,) one augmented view each
        flat = np.asarray(feats[idx.reshape(-1), view], dtype=np.float32)  # (B*T, C, h, w)
        return torch.from_numpy(flat).view(b, t, *flat.shape[1:])  # (B, T, C, h, w)

    def _decode(self, key: str, flat: np.ndarray) -> np.ndarray:
        """Frames straight from the MP4s, one seek per (sample) episode; no cache."""
        ep = self._data["episode_index"][flat]
        ts = self._data["timestamp"][flat].astype(np.float64)
        out = None
        for e in np.unique(ep):
            sel = np.nonzero(ep == e)[0]
            c, f = (int(self.meta.episodes[f"videos/{key}/{n}_index"][e]) for n in ("chunk", "file"))
            t0 = float(self.meta.episodes[f"videos/{key}/from_timestamp"][e])
            numbers = np.round((t0 + ts[sel]) * self.meta.fps).astype(np.int64)
            imgs = decode_frames(self.meta.video_file(key, c, f), numbers, self.meta.fps)  # (K, H, W, 3)
            if out is None:
                out = np.empty((len(flat), 3) + imgs.shape[1:3], dtype=np.uint8)
            out[sel] = imgs.transpose(0, 3, 1, 2)
        return out

    def _lowdim(self, key: str, idx: np.ndarray, width: int) -> torch.Tensor:
        out = np.zeros(idx.shape + (width,), dtype=np.float32)  # (B, T, width)
        if key in self._data:
            x = self._data[key].reshape(len(self._data[key]), -1)[idx]  # (B, T, D)
            out[..., : x.shape[-1]] = x
        return torch.from_numpy(out)

    def _labels(self, g: np.ndarray) -> Batch:
        b = len(g)
        return {TASK: self._tasks[self._data["task_index"][g]].tolist(),
                EMBODIMENT: [self.meta.robot_type] * b,
                HAS_ACTION: torch.full((b,), self.meta.has_actions, dtype=torch.bool),
                "episode_index": torch.from_numpy(self._data["episode_index"][g].copy()),
                "frame_index": torch.from_numpy(self._data["frame_index"][g].copy()),
                "index": torch.from_numpy(g.copy())}

    def sample_tasks(self) -> np.ndarray:
        """(N,) every sample's task string, without touching a frame (e.g. to pick one task's samples)."""
        return self._tasks[self._data["task_index"][self._rows]]

    def sample_envs(self) -> np.ndarray | None:
        """(N,) every sample's episode ``env`` name (e.g. push-v3), or None when the dataset records none."""
        envs = self.meta.episodes.get("env")
        return None if envs is None else np.asarray(envs, dtype=object)[self._data["episode_index"][self._rows]]

    def set_sample_weights(self, weights: np.ndarray | None) -> None:
        """Draw samples in proportion to ``weights`` (N,), with replacement, instead of one permutation per epoch
        (e.g. a task up-weighted by ``data.task_weights``); None restores the permutation."""
        if weights is None:
            self._sample_p = None
            return
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (len(self),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"sample weights must be {len(self)} non-negative numbers, not all zero")
        self._sample_p, self._weight_sum = w / w.sum(), float(w.sum())

    @property
    def weighted(self) -> bool:
        """Whether samples are drawn by weight (``set_sample_weights``) rather than one permutation per epoch."""
        return self._sample_p is not None

    @property
    def weighted_size(self) -> float:
        """The sum of the sample weights (the size when unweighted): a mixture's default share for this dataset, so
        up-weighting a task raises that task's share of the whole mixture, not only within each dataset."""
        return float(self._weight_sum) if self.weighted else float(len(self))

    def action_chunks(self) -> tuple[torch.Tensor, list[str], torch.Tensor]:
        """Every sample's raw action chunk (N, H, D), embodiment names and ``has_action`` (N,),
        without touching a frame: what fitting an action tokenizer needs."""
        g = self._rows
        act, _ = self._window(g, np.arange(self.chunk_size))  # (N, H)
        has = torch.full((len(g),), self.meta.has_actions, dtype=torch.bool)
        return self._lowdim(ACTION, act, self.action_dim), [self.meta.robot_type] * len(g), has

    def epoch_indices(self, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
        """The order of one epoch, a pure function of (seed, epoch): a permutation, or ``len(self)`` weighted draws
        with replacement after ``set_sample_weights``."""
        if not shuffle:
            return np.arange(len(self))
        rng = np.random.default_rng([seed, epoch])
        return self.draw(rng, len(self)) if self.weighted else rng.permutation(len(self))

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` sample indices drawn with replacement: by the sample weights if set, else uniformly."""
        return rng.choice(len(self), size=n, p=self._sample_p)


# ---------------------------------------------------------------------------- mixtures
class MixtureDataset(_BatchFetch):
    """Several datasets behind one index space, sampled with per-dataset weights.

    Action-labelled and action-free datasets mix: state/action are zero-padded to the
    widest member, and ``has_action``/``action_is_pad`` tell them apart. Robots with
    different cameras mix too: a batch holds every member's camera slots, a member's
    missing slot as zero images flagged in ``observation.image_is_pad.<slot>``. Members
    must share image size and window settings so batches stack.
    """

    def __init__(self, datasets: Sequence[LeRobotDataset], weights: Sequence[float] | None = None) -> None:
        if not datasets:
            raise ValueError("MixtureDataset needs at least one dataset")
        self.datasets = list(datasets)
        # default shares: each member's size, counted in its sample weights when it has them (``set_sample_weights``)
        sizes = [getattr(d, "weighted_size", len(d)) for d in datasets]
        w = np.asarray(sizes if weights is None else weights, dtype=np.float64)
        if len(w) != len(datasets) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights {list(w)} must be one non-negative number per dataset, not all zero")
        self.weights = w / w.sum()
        self._check_compatible()
        a, s = max(d.action_dim for d in datasets), max(d.state_dim for d in datasets)
        for d in self.datasets:
            d.action_dim, d.state_dim = a, s
        self._offsets = np.cumsum([0] + [len(d) for d in datasets])
        slots = [set(d.slot_names.values()) for d in self.datasets]
        self.padded_slots = sorted(set().union(*slots)) if any(s != slots[0] for s in slots) else []
        """Camera slots some member lacks: every batch then carries their ``image_is_pad`` flags."""

    def _check_compatible(self) -> None:
        ref = self.datasets[0]
        for d in self.datasets[1:]:
            for attr in ("n_obs_steps", "obs_stride", "chunk_size", "future_offsets"):
                if getattr(d, attr) != getattr(ref, attr):
                    raise DatasetError(f"cannot mix {d.root} with {ref.root}: {attr} differs "
                                       f"({getattr(d, attr)} vs {getattr(ref, attr)}); build them with the same one")
            if d.meta.image_size != ref.meta.image_size:
                raise DatasetError(f"cannot mix {d.root} ({d.meta.image_size}) with {ref.root} "
                                   f"({ref.meta.image_size}): image sizes differ; re-collect at one size")

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def get_batch(self, indices) -> Batch:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        which = np.searchsorted(self._offsets, idx, side="right") - 1  # (B,) member of each index
        parts, order = [], []
        for d in np.unique(which):
            sel = np.nonzero(which == d)[0]
            parts.append(self.datasets[d].get_batch(idx[sel] - self._offsets[d]))
            order.append(sel)
        inv = torch.from_numpy(np.argsort(np.concatenate(order)))
        if self.padded_slots:
            _pad_camera_slots(parts, self.padded_slots)
        out: Batch = {}
        for k in parts[0]:
            if isinstance(parts[0][k], torch.Tensor):
                out[k] = torch.cat([p[k] for p in parts])[inv]
            else:
                flat = [x for p in parts for x in p[k]]
                out[k] = [flat[j] for j in inv.tolist()]
        return out

    def action_chunks(self) -> tuple[torch.Tensor, list[str], torch.Tensor]:
        parts = [d.action_chunks() for d in self.datasets]
        return (torch.cat([p[0] for p in parts]), [n for p in parts for n in p[1]], torch.cat([p[2] for p in parts]))

    def epoch_indices(self, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
        """len(self) draws: a member by weight, then a sample inside it (with replacement), uniform or by the member's
        sample weights."""
        rng = np.random.default_rng([seed, epoch])
        which = rng.choice(len(self.datasets), size=len(self), p=self.weights)
        if not any(getattr(d, "weighted", False) for d in self.datasets):  # uniform inside each member
            local = (rng.random(len(self)) * (self._offsets[1:] - self._offsets[:-1])[which]).astype(np.int64)
            return self._offsets[which] + local
        local = np.zeros(len(self), np.int64)
        for d, member in enumerate(self.datasets):
            at = np.flatnonzero(which == d)
            if getattr(member, "weighted", False):
                local[at] = member.draw(rng, len(at))
            else:
                local[at] = (rng.random(len(at)) * len(member)).astype(np.int64)
        return self._offsets[which] + local


def _pad_camera_slots(parts: list[Batch], slots: Sequence[str]) -> None:
    """Give every part every camera key of any part (zeros where it has none) and each slot's
    ``image_is_pad`` flag (B,), so the parts of a mixed-robot batch stack."""
    keys = {k: p[k] for p in parts for k in p if k.startswith(_CAMERA_PREFIXES)}
    for p in parts:
        b = len(p[TASK])
        for slot in slots:
            p[IMAGE_PAD_PREFIX + slot] = torch.full((b,), IMAGE_PREFIX + slot not in p
                                                    and FEATURE_PREFIX + slot not in p, dtype=torch.bool)
        for k, ref in keys.items():
            if k not in p:
                p[k] = torch.zeros((b,) + tuple(ref.shape[1:]), dtype=ref.dtype)


_CAMERA_PREFIXES = (IMAGE_PREFIX, FEATURE_PREFIX, FUTURE_PREFIX, FUTURE_FEATURE_PREFIX)


# ---------------------------------------------------------------------------- loader
class ResumableLoader:
    """Batches in an order fixed by (seed, epoch); its state is the batches consumed.

    ``state_dict()`` -> ``{"epoch", "position", "seed"}``; a loader given that state
    yields exactly the batches the saved one had not yet yielded. Iterating runs to
    the end of the current epoch; ``forever()`` crosses epochs.
    """

    def __init__(self, dataset, batch_size: int, shuffle: bool = True, seed: int = 0, num_workers: int = 0,
                 drop_last: bool = True, start_step: int = 0) -> None:
        if len(dataset) < (batch_size if drop_last else 1):
            raise DatasetError(f"dataset has {len(dataset)} samples, fewer than one batch of {batch_size}")
        self.dataset, self.batch_size, self.shuffle, self.seed = dataset, batch_size, shuffle, seed
        self.num_workers, self.drop_last = num_workers, drop_last
        self.epoch, self.position = divmod(start_step, len(self))

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _batches(self, epoch: int) -> list[np.ndarray]:
        order = self.dataset.epoch_indices(self.seed, epoch, self.shuffle)
        return [order[i * self.batch_size:(i + 1) * self.batch_size] for i in range(len(self))]

    def __iter__(self) -> Iterator[Batch]:
        batches = self._batches(self.epoch)[self.position:]
        loader = DataLoader(self.dataset, batch_size=None, sampler=batches, num_workers=self.num_workers,
                            collate_fn=_identity, persistent_workers=False)
        for batch in loader:
            self.position += 1
            yield batch
        self.epoch, self.position = self.epoch + 1, 0

    def forever(self) -> Iterator[Batch]:
        while True:
            yield from self

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(f"loader state was saved with seed {state['seed']}, this loader has {self.seed}")
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


def _get(ds, i):
    """An int gives one sample; a list/array/tensor of ints gives a collated batch."""
    if isinstance(i, (list, tuple, np.ndarray, torch.Tensor)) and np.ndim(i) > 0:
        return ds.get_batch(i)
    batch = ds.get_batch([int(i)])
    return {k: v[0] for k, v in batch.items()}


def _identity(batch: Batch) -> Batch:
    return batch


def make_dataloader(ds, batch_size: int, shuffle: bool = True, seed: int = 0, num_workers: int = 0,
                    start_step: int = 0, drop_last: bool = True) -> ResumableLoader:
    """A ``ResumableLoader`` over ``ds`` (a LeRobotDataset or MixtureDataset), starting after
    ``start_step`` batches; or restore exactly with ``loader.load_state_dict(saved)``."""
    return ResumableLoader(ds, batch_size, shuffle=shuffle, seed=seed, num_workers=num_workers,
                           drop_last=drop_last, start_step=start_step)
