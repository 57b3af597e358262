"""Decoded-frame cache: every video frame once, as one memory-mapped uint8 array per camera.

Training must not decode video in its hot loop, so the first ``LeRobotDataset`` to
open a dataset decodes all frames into ``<root>/.cache/frames/<fingerprint>/<key>.npy``
(layout (N, 3, H, W), row i = global frame index i). The fingerprint hashes info.json
and the size and mtime of every dataset file, so any change to the dataset gives a new
cache directory; stale ones are removed when a new one is built. Each array is written
under a temporary name and renamed, and ``complete.json`` is written last.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from vlaforge.core.atomic import atomic_path, write_json
from vlaforge.data.errors import CorruptFileError, remedy
from vlaforge.data.lerobot import INFO_PATH, LeRobotDatasetMeta
from vlaforge.data.video import decode_all

COMPLETE = "complete.json"


def dataset_fingerprint(root: str | os.PathLike) -> str:
    """Hash of info.json plus (path, size, mtime) of every file under data/, videos/, meta/."""
    root = Path(root)
    h = hashlib.sha1((root / INFO_PATH).read_bytes())
    for sub in ("meta", "data", "videos"):
        for p in sorted((root / sub).rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                st = p.stat()
                h.update(f"{p.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def cache_dir_for(meta: LeRobotDatasetMeta, cache_root: str | os.PathLike | None = None) -> Path:
    base = Path(cache_root) if cache_root is not None else meta.root / ".cache" / "frames"
    return base / dataset_fingerprint(meta.root)


def load_frame_cache(meta: LeRobotDatasetMeta, keys: list[str], timestamps: np.ndarray,
                     cache_root: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """Memory-mapped (N, 3, H, W) arrays for ``keys``; builds what is missing first."""
    d = cache_dir_for(meta, cache_root)
    done = json.loads((d / COMPLETE).read_text()) if (d / COMPLETE).is_file() else {"keys": []}
    missing = [k for k in keys if k not in done["keys"] or not (d / f"{k}.npy").is_file()]
    if missing:
        _remove_stale(d)
        d.mkdir(parents=True, exist_ok=True)
        for k in missing:
            build_camera_cache(meta, k, timestamps, d / f"{k}.npy")
        _write_complete(d, sorted(set(done["keys"]) | set(missing)))
    return {k: np.load(d / f"{k}.npy", mmap_mode="r") for k in keys}


def _remove_stale(d: Path) -> None:
    if d.parent.is_dir():
        for other in d.parent.iterdir():
            if other.is_dir() and other.name != d.name and not other.name.startswith("."):
                shutil.rmtree(other, ignore_errors=True)


def _write_complete(d: Path, keys: list[str]) -> None:
    write_json(d / COMPLETE, {"keys": keys})


def build_camera_cache(meta: LeRobotDatasetMeta, key: str, timestamps: np.ndarray, path: Path) -> None:
    """Decode each video file of camera ``key`` once and scatter its frames to global rows."""
    h, w = meta.features[key]["shape"][:2]
    with atomic_path(path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(meta.total_frames, 3, h, w))
        for vpath, eps in _episodes_by_video(meta, key).items():
            _fill_from_file(meta, key, vpath, eps, timestamps, out)
        out.flush()
        del out


def _episodes_by_video(meta: LeRobotDatasetMeta, key: str) -> dict[Path, list[int]]:
    ep = meta.episodes
    groups: dict[Path, list[int]] = {}
    for e, (c, f) in enumerate(zip(ep[f"videos/{key}/chunk_index"].tolist(), ep[f"videos/{key}/file_index"].tolist())):
        groups.setdefault(meta.video_file(key, c, f), []).append(e)
    return groups


def _fill_from_file(meta: LeRobotDatasetMeta, key: str, vpath: Path, eps: list[int],
                    timestamps: np.ndarray, out: np.ndarray) -> None:
    frames, numbers = decode_all(vpath, meta.fps)  # (F, H, W, 3), (F,)
    if frames.shape[1:3] != tuple(out.shape[2:]):
        raise CorruptFileError(f"{vpath} has {frames.shape[1]}x{frames.shape[2]} frames but info.json declares "
                               f"{out.shape[2]}x{out.shape[3]} for {key}; the video and meta/info.json disagree. "
                               + remedy(vpath))
    pos_of = np.full(int(numbers.max()) + 1, -1, dtype=np.int64)
    pos_of[numbers] = np.arange(len(numbers))
    for e in eps:
        lo, hi = meta.episode_range(e)
        t0 = float(meta.episodes[f"videos/{key}/from_timestamp"][e])
        want = np.round((t0 + timestamps[lo:hi].astype(np.float64)) * meta.fps).astype(np.int64)
        pos = np.where(want < len(pos_of), pos_of[np.minimum(want, len(pos_of) - 1)], -1)
        if (pos < 0).any():
            raise CorruptFileError(
                f"{vpath} has {len(numbers)} frames but episode {e} needs frame {int(want[pos < 0][0])}; the MP4 "
                "is truncated or disagrees with meta/episodes. " + remedy(vpath))
        out[lo:hi] = frames[pos].transpose(0, 3, 1, 2)  # (T, 3, H, W)
