"""Feature cache: a frozen image encoder's features of every frame, once, memory-mapped.

A frozen pretrained encoder must cost nothing per training step. The frame cache's sibling
encodes every frame of a dataset once per camera and encoder, and stores the feature maps
as one float16 array per camera under ``<root>/.cache/features/<key>/<camera>.npy``, layout
(N, K, C, h, w): row i = global frame i, K = augmented views. The key hashes the dataset
fingerprint, the encoder's identity (architecture, stride, resize, weights), the image size
and the augmentation, so changing any of them builds a new cache. Caches of other encoders of the same
dataset version are kept (switching between, say, stride 16 and 32 must not cost a rebuild each way; the
newest ``MAX_KEPT`` survive); caches of an older version of the dataset, and unfinished ones, are removed.

Augmentation with cached features: view 0 is the frame as is (what inference sees); views
1..K-1 are the frame randomly shifted by up to ``shift_pad`` pixels (DrQ's shift, the one a
fine-tuned encoder gets per step), drawn once from a fixed seed. Training picks one view
per sample and frame-window entry at random; ``K=1`` disables augmentation.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from vlaforge.core.atomic import atomic_path, write_json
from vlaforge.data.cache import dataset_fingerprint

COMPLETE = "complete.json"
MAX_KEPT = 4
"""Feature caches kept per dataset (each a few hundred MB at MT10 scale), the newest first."""


def cache_key(root: str | os.PathLike, encoder_id: str, image_size: tuple[int, int], views: int,
              shift_pad: int) -> str:
    raw = f"{dataset_fingerprint(root)}|{encoder_id}|{tuple(image_size)}|{views}|{shift_pad}"
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def load_feature_cache(root: str | os.PathLike, frames: dict[str, np.ndarray], encoders: dict[str, torch.nn.Module],
                       views: int = 3, shift_pad: int = 4, batch_size: int = 256,
                       cache_root: str | os.PathLike | None = None, progress: bool = True) -> dict[str, np.ndarray]:
    """Memory-mapped (N, K, C, h, w) float16 features per camera key; builds what is missing first.

    ``frames``: the dataset's frame cache (camera key -> (N, 3, H, W) uint8); ``encoders``: camera key
    -> a frozen encoder with ``feature_map(images)`` and ``identity()``."""
    out = {}
    for key, enc in encoders.items():
        size = tuple(frames[key].shape[-2:])
        base = Path(cache_root) if cache_root else Path(root) / ".cache" / "features"
        d = base / cache_key(root, enc.identity(), size, views, shift_pad)
        path = d / f"{key}.npy"
        done = json.loads((d / COMPLETE).read_text())["keys"] if (d / COMPLETE).is_file() else []
        if key not in done or not path.is_file():
            fingerprint = dataset_fingerprint(root)
            _remove_stale(base, keep=d.name, fingerprint=fingerprint)
            _build(path, frames[key], enc, views, shift_pad, batch_size, progress)
            write_json(d / COMPLETE, {"keys": sorted(set(done) | {key}), "views": views, "shift_pad": shift_pad,
                                      "fingerprint": fingerprint, "encoder": enc.identity()})
        out[key] = np.load(path, mmap_mode="r")
    return out


def _remove_stale(base: Path, keep: str, fingerprint: str) -> None:
    """Before building ``keep``: drop caches of another dataset version or never finished, and all but the
    newest ``MAX_KEPT - 1`` of the rest (the one being built is the MAX_KEPT-th)."""
    if not base.is_dir():
        return
    current = []
    for other in base.iterdir():
        if not other.is_dir() or other.name == keep or other.name.startswith("."):
            continue
        meta = other / COMPLETE
        info = json.loads(meta.read_text()) if meta.is_file() else {}
        if info.get("fingerprint") == fingerprint:
            current.append(other)
        else:
            shutil.rmtree(other, ignore_errors=True)
    current.sort(key=lambda d: (d / COMPLETE).stat().st_mtime, reverse=True)
    for other in current[MAX_KEPT - 1:]:
        shutil.rmtree(other, ignore_errors=True)


@torch.no_grad()
def _build(path: Path, frames: np.ndarray, enc: torch.nn.Module, views: int, shift_pad: int, batch_size: int,
           progress: bool) -> None:
    from tqdm.auto import tqdm

    from vlaforge.nn.vision import random_shift

    n = len(frames)
    was = enc.training
    enc.eval()
    probe = enc.feature_map(torch.from_numpy(np.array(frames[:1])))  # (1, C, h, w)
    gen = torch.Generator().manual_seed(0)
    bar = tqdm(total=n * views, desc=f"feature cache {path.stem}", unit="img", disable=not progress)
    try:
        with atomic_path(path) as tmp:
            arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(n, views, *probe.shape[1:]))
            for s in range(0, n, batch_size):
                x = torch.from_numpy(np.array(frames[s:s + batch_size])).float() / 255.0  # (b, 3, H, W)
                for v in range(views):
                    xv = x if v == 0 else random_shift(x, shift_pad, generator=gen)
                    arr[s:s + len(x), v] = enc.feature_map(xv).numpy().astype(np.float16)
                    bar.update(len(x))
            arr.flush()
            del arr
    finally:
        bar.close()
        enc.train(was)
