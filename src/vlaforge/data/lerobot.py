"""LeRobot dataset format v3.0: writer and metadata reader (our own code, LeRobot's layout).

```
root/
  meta/info.json                              codebase_version "v3.0", fps, features, totals, path templates
  meta/stats.json                             per feature: min max mean std count q01 q10 q50 q90 q99
  meta/tasks.parquet                          task (pandas index) -> task_index
  meta/episodes/chunk-000/file-000.parquet    one row per episode: where its frames and video spans live
  data/chunk-XXX/file-YYY.parquet             many episodes per file, one row per frame
  videos/<key>/chunk-XXX/file-YYY.mp4         one MP4 per camera per file; episodes at from/to timestamps
```

Every file is written to a temporary name and renamed into place. While a writer is
open, ``meta/vlaforge_writing.json`` exists; ``finalize`` removes it last, so a killed
collection is refused by the reader (and can be continued with ``resume=True``).
The counts in info.json only ever cover files that were completely written.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vlaforge.core.atomic import atomic_path, commit, write_json
from vlaforge.core.keys import ACTION, IMAGE_PREFIX, STATE
from vlaforge.data.errors import (
    RERUN,
    RESTORE,
    WRITER_KEY,
    CorruptFileError,
    DatasetError,
    FeatureMismatchError,
    MissingFileError,
    NotFinalizedError,
    UnsupportedVersionError,
    remedy,
)
from vlaforge.data.stats import STAT_NAMES, aggregate_stats, feature_stats, image_stats, stats_from_json, stats_to_json
from vlaforge.data.video import VideoEncoder, video_info

__all__ = ["LeRobotDatasetWriter", "LeRobotDatasetMeta", "DatasetError", "load_meta", "read_frames",
           "CODEBASE_VERSION"]

CODEBASE_VERSION = "v3.0"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
EPISODES_DIR = "meta/episodes"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
WRITING_MARKER = "meta/vlaforge_writing.json"
CHUNKS_SIZE = 1000
DATA_FILES_SIZE_IN_MB = 100
VIDEO_FILES_SIZE_IN_MB = 200
DEFAULT_FEATURES = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
IMAGE_STATS_FRAMES = 16
"""Frames per episode sampled for image stats (LeRobot samples too)."""


# ---------------------------------------------------------------------------- metadata
@dataclass
class LeRobotDatasetMeta:
    """Everything in ``meta/``, loaded once; cheap (no frame data)."""

    root: Path
    info: dict
    tasks: list[str]
    episodes: dict[str, np.ndarray]
    """Column name -> (E,) array, sorted by episode_index; ``tasks`` is an object array of lists."""
    stats: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def fps(self) -> int:
        return int(self.info["fps"])

    @property
    def robot_type(self) -> str:
        return self.info.get("robot_type") or "unknown"

    @property
    def features(self) -> dict[str, dict]:
        return self.info["features"]

    @property
    def camera_keys(self) -> list[str]:
        return [k for k, f in self.features.items() if f["dtype"] == "video"]

    @property
    def cameras(self) -> tuple[str, ...]:
        return tuple(k[len(IMAGE_PREFIX):] if k.startswith(IMAGE_PREFIX) else k for k in self.camera_keys)

    @property
    def has_actions(self) -> bool:
        return ACTION in self.features

    @property
    def total_frames(self) -> int:
        return int(self.info["total_frames"])

    @property
    def total_episodes(self) -> int:
        return int(self.info["total_episodes"])

    @property
    def image_size(self) -> tuple[int, int] | None:
        keys = self.camera_keys
        return tuple(self.features[keys[0]]["shape"][:2]) if keys else None

    def episode_range(self, ep: int) -> tuple[int, int]:
        return int(self.episodes["dataset_from_index"][ep]), int(self.episodes["dataset_to_index"][ep])

    def data_file(self, chunk: int, file: int) -> Path:
        return self.root / self.info["data_path"].format(chunk_index=chunk, file_index=file)

    def video_file(self, key: str, chunk: int, file: int) -> Path:
        return self.root / self.info["video_path"].format(video_key=key, chunk_index=chunk, file_index=file)

    def data_files(self) -> list[tuple[int, int]]:
        """(chunk, file) of every data file, in episode order."""
        pairs = zip(self.episodes["data/chunk_index"].tolist(), self.episodes["data/file_index"].tolist())
        return list(dict.fromkeys(pairs))

    def episode_extra(self, ep: int) -> dict[str, Any]:
        """Per-episode columns beyond LeRobot's own (e.g. seed, env)."""
        skip = ("episode_index", "tasks", "length", "dataset_from_index", "dataset_to_index")
        return {k: v[ep] for k, v in self.episodes.items()
                if k not in skip and not k.startswith(("data/", "videos/", "meta/", "stats/"))}


def load_meta(root: str | os.PathLike) -> LeRobotDatasetMeta:
    """Read and check ``meta/``; refuse unfinalized, foreign-version or inconsistent datasets."""
    root = Path(root)
    info = _read_info(root)
    if (root / WRITING_MARKER).exists():
        raise NotFinalizedError(
            f"dataset {root} was not finalized ({WRITING_MARKER} is present): its collection was killed or is "
            "still running. Continue it with `vlaforge collect ... --resume` (or LeRobotDatasetWriter(root, ..., "
            "resume=True) and finalize()), or re-run it with --overwrite")
    _check_version(root, info)
    _check_feature_kinds(root, info)
    tasks = read_tasks(root)
    episodes = read_episodes(root)
    stats = _read_stats(root)
    meta = LeRobotDatasetMeta(root=root, info=info, tasks=tasks, episodes=episodes, stats=stats)
    _check_consistency(meta)
    return meta


def _read_info(root: Path) -> dict:
    path = root / INFO_PATH
    if not root.is_dir():
        raise MissingFileError(f"dataset directory {root} does not exist; check the path or collect it first")
    if not path.is_file():
        raise MissingFileError(f"{path} is missing: {root} is not a LeRobot dataset root. Point to the directory "
                               "that holds meta/, data/ and videos/ (if vlaforge was writing it, its collection "
                               "never wrote a file: re-run it)")
    try:
        info = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CorruptFileError(f"{path} is not valid JSON ({e}). {remedy(root)}") from e
    missing = [k for k in ("codebase_version", "fps", "features", "total_episodes", "total_frames", "data_path")
               if k not in info]
    if missing:
        raise CorruptFileError(f"{path} lacks {missing}, which every LeRobot v3.0 info.json has. "
                               f"{remedy(root)}")
    return info


def _check_version(root: Path, info: dict) -> None:
    version = info.get("codebase_version")
    if version == CODEBASE_VERSION:
        return
    if isinstance(version, str) and version.startswith("v2"):
        raise UnsupportedVersionError(
            f"{root / INFO_PATH} declares codebase_version {version!r}; vlaforge reads only v3.0. Convert it "
            "with LeRobot's converter: `python -m lerobot.scripts.convert_dataset_v21_to_v30 --repo-id=<id>` "
            "(v2.0 datasets first go through LeRobot's v2.0->v2.1 converter)")
    raise UnsupportedVersionError(f"{root / INFO_PATH} declares codebase_version {version!r}; vlaforge reads "
                                  f"only {CODEBASE_VERSION!r}. Re-export the dataset in LeRobot v3.0 format")


def _check_feature_kinds(root: Path, info: dict) -> None:
    """Cameras stored as PNG inside the data parquet (LeRobot's ``use_videos=False``) would
    otherwise be skipped silently, and a policy would train without images."""
    images = [k for k, f in info["features"].items() if f.get("dtype") == "image"]
    if images:
        raise FeatureMismatchError(
            f"{root / INFO_PATH} declares {images} with dtype 'image' (frames stored as PNG inside the data "
            "parquet); vlaforge reads cameras from video files only. Convert the dataset to video with LeRobot: "
            "`lerobot-edit-dataset --repo_id <id> --root <dir> --operation.type convert_image_to_video "
            "--operation.output_dir <new dir>`")


def _read_stats(root: Path) -> dict:
    path = root / STATS_PATH
    if not path.is_file():
        return {}
    try:
        obj = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CorruptFileError(f"{path} is not valid JSON ({e}); recompute it with "
                               "LeRobotDatasetWriter(root, resume=True).finalize()") from e
    if not isinstance(obj, dict) or not all(isinstance(v, dict) for v in obj.values()):
        raise CorruptFileError(f"{path} is not LeRobot's stats layout ({{feature: {{stat: values}}}}); recompute "
                               "it with LeRobotDatasetWriter(root, resume=True).finalize()")
    return stats_from_json(obj)


def read_parquet(path: Path, columns: list[str] | None = None) -> pa.Table:
    """pq.read_table with errors that name the file and the fix."""
    if not path.is_file():
        fix = remedy(path, "Re-run the collection (or copy the file back)", "Copy the file back, or download or "
                     "export the dataset again")
        raise MissingFileError(f"{path} is missing; the dataset is incomplete. {fix}")
    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError) as e:
        raise CorruptFileError(f"{path} cannot be read as parquet ({e}); it is truncated or corrupt. "
                               f"{remedy(path)}") from e


# ---------------------------------------------------------------------------- tasks
def read_tasks(root: Path) -> list[str]:
    """Task strings, position = task_index.

    LeRobot writes ``meta/tasks.parquet`` with pandas from a DataFrame indexed by the task
    strings (``pd.DataFrame({"task_index": ...}, index=tasks).to_parquet``), so the strings
    are the pandas index: an unnamed index is stored as column ``__index_level_0__``, a
    named one under its name, and the file's ``pandas`` schema metadata lists it in
    ``index_columns``. vlaforge's writer and some other tools store a plain ``task`` column.
    """
    path = root / TASKS_PATH
    table = read_parquet(path)
    name = _task_column(table)
    if name is None or "task_index" not in table.column_names:
        raise CorruptFileError(
            f"{path} does not hold task strings with their task_index: it needs an integer 'task_index' column and "
            "the strings as the pandas index (how LeRobot writes it) or as a 'task' column, but it has columns "
            f"{table.column_names}. " + remedy(root, RERUN, "Rewrite it in that form, e.g. pandas.DataFrame("
                                                      "{'task_index': range(n)}, index=tasks).to_parquet(path), "
                                                      "or export the dataset again with LeRobot"))
    strings = table.column(name).to_pylist()
    index = _integers(table.column("task_index"), path, "task_index")
    if any(not isinstance(s, str) for s in strings) or not np.array_equal(np.sort(index), np.arange(len(index))):
        raise CorruptFileError(
            f"{path}: column {name!r} must hold one string per row and 'task_index' the numbers 0..{len(index) - 1} "
            f"once each (got task_index {sorted(index.tolist())[:10]}). " + remedy(root))
    order = np.argsort(index)
    return [strings[i] for i in order]


def _task_column(table: pa.Table) -> str | None:
    """'task' if present, else the string column pandas stored as the index, else the only string column."""
    text = [f.name for f in table.schema if _is_text(f.type)]
    if "task" in text:
        return "task"
    index = [c for c in pandas_index_columns(table.schema) if c in text]
    if index:
        return index[0]
    return text[0] if len(text) == 1 else None


def pandas_index_columns(schema: pa.Schema) -> list[str]:
    """Columns that hold a pandas index (``index_columns`` in the ``pandas`` metadata).

    A RangeIndex is stored as metadata only (a dict entry), so it names no column.
    """
    raw = (schema.metadata or {}).get(b"pandas")
    if raw is None:
        return []
    try:
        entries = json.loads(raw).get("index_columns", [])
    except (ValueError, AttributeError):
        return []
    return [e for e in entries if isinstance(e, str) and e in schema.names]


def _is_text(t: pa.DataType) -> bool:
    """string, large_string (pandas >= 3 writes this), string_view, or a dictionary of those."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    is_view = getattr(pa.types, "is_string_view", None)  # pyarrow >= 16
    return pa.types.is_string(t) or pa.types.is_large_string(t) or bool(is_view and is_view(t))


def _integers(col: pa.ChunkedArray, path: Path, name: str) -> np.ndarray:
    """An integer column as int64, also when pandas stored it as float (a merge filled gaps with NaN)."""
    values = col.to_numpy(zero_copy_only=False)
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind == "f" and np.isfinite(values).all() and np.array_equal(values, np.round(values)):
        return values.astype(np.int64)
    raise CorruptFileError(f"{path}: column {name!r} must hold whole numbers, got {col.type} values "
                           f"{values[:5].tolist()}. " + remedy(path))


# ---------------------------------------------------------------------------- episodes
EPISODE_COLUMNS = ("episode_index", "tasks", "dataset_from_index", "dataset_to_index", "data/chunk_index",
                   "data/file_index")
"""Columns every LeRobot v3.0 episode table has (``length`` is derived when absent)."""


def read_episodes(root: Path, with_stats: bool = False) -> dict[str, np.ndarray]:
    """Column name -> (E,) array over every ``meta/episodes/chunk-*/file-*.parquet``, by episode_index.

    Reads both of LeRobot's writers: its recorder (pyarrow, int64 columns) and its
    pandas-based tools (merge, delete, split), whose files may carry a pandas index column
    and float chunk/file numbers. Index columns come back as int64, timestamps as float64,
    list columns (tasks, ``stats/...``) as object arrays of lists.
    """
    files = sorted((root / EPISODES_DIR).glob("chunk-*/file-*.parquet"))
    if not files:
        raise MissingFileError(f"{root / EPISODES_DIR} holds no episode parquet; the dataset is incomplete. "
                               + remedy(root))
    tables = [_episode_table(f, with_stats) for f in files]
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowException as e:
        raise CorruptFileError(f"the episode files in {root / EPISODES_DIR} have incompatible columns ({e}). "
                               + remedy(root)) from e
    missing = [c for c in EPISODE_COLUMNS if c not in table.column_names]
    if missing:
        raise CorruptFileError(f"{root / EPISODES_DIR} lacks the columns {missing} that LeRobot v3.0 episode tables "
                               f"have (it has {table.column_names[:12]}...). " + remedy(root))
    cols = {name: _episode_column(table.column(name), name, root / EPISODES_DIR) for name in table.column_names}
    if "length" not in cols:
        cols["length"] = cols["dataset_to_index"] - cols["dataset_from_index"]
    order = np.argsort(cols["episode_index"], kind="stable")
    return {k: v[order] for k, v in cols.items()}


def _episode_table(path: Path, with_stats: bool) -> pa.Table:
    table = read_parquet(path)
    drop = [c for c in pandas_index_columns(table.schema) if c.startswith("__index_level_")]
    drop += [c for c in table.column_names if c.startswith("stats/") and not with_stats]
    return table.drop_columns(drop).replace_schema_metadata(None)


def _episode_column(col: pa.ChunkedArray, name: str, where: Path) -> np.ndarray:
    if _is_index_column(name):
        return _integers(col, where, name)
    if name.endswith("_timestamp"):
        return col.to_numpy(zero_copy_only=False).astype(np.float64)
    if _is_list(col.type):
        return _object_rows(col.to_pylist())
    return col.to_numpy(zero_copy_only=False)


def _object_rows(values: list) -> np.ndarray:
    """(E,) object array of per-episode lists; np.array would stack equal-length lists into 2-D."""
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


def _is_index_column(name: str) -> bool:
    return name in ("episode_index", "length", "dataset_from_index", "dataset_to_index") or name.endswith(
        ("/chunk_index", "/file_index"))


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def _check_consistency(meta: LeRobotDatasetMeta) -> None:
    """Counts in info.json must agree with the episode table, and referenced files must exist."""
    ep, root = meta.episodes, meta.root
    n = len(ep["episode_index"])
    lengths = ep["length"].astype(np.int64)
    if n != meta.total_episodes or int(lengths.sum()) != meta.total_frames:
        fix = remedy(root, "The collection was interrupted or files were edited; re-run it (or resume it and "
                           "call finalize())", "Files were edited or only partly copied. " + RESTORE)
        raise DatasetError(
            f"{root}: info.json says {meta.total_episodes} episodes / {meta.total_frames} frames but "
            f"{EPISODES_DIR} lists {n} episodes / {int(lengths.sum())} frames. {fix}")
    if not np.array_equal(ep["episode_index"], np.arange(n)):
        raise DatasetError(f"{root}: episode indices in {EPISODES_DIR} are not 0..{n - 1}. "
                           + remedy(root))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    if not (np.array_equal(ep["dataset_from_index"], starts)
            and np.array_equal(ep["dataset_to_index"], starts + lengths)):
        raise DatasetError(f"{root}: dataset_from_index/dataset_to_index in {EPISODES_DIR} do not tile the "
                           "frames in episode order; the metadata is corrupt. " + remedy(root))
    for chunk, file in meta.data_files():
        if not meta.data_file(chunk, file).is_file():
            raise MissingFileError(f"{meta.data_file(chunk, file)} is missing (episodes point to it); the dataset "
                                   "is incomplete. " + _missing_fix(root))
    for key in meta.camera_keys:
        need = [f"videos/{key}/{c}" for c in ("chunk_index", "file_index", "from_timestamp", "to_timestamp")]
        if any(c not in ep for c in need):
            raise CorruptFileError(f"{root / EPISODES_DIR} lacks {[c for c in need if c not in ep]}, where camera "
                                   f"{key!r} (a video feature in info.json) has its frames. "
                                   + remedy(root))
        for path in {meta.video_file(key, c, f) for c, f in zip(ep[f"videos/{key}/chunk_index"].tolist(),
                                                                 ep[f"videos/{key}/file_index"].tolist())}:
            if not path.is_file():
                raise MissingFileError(f"{path} is missing (episodes point to it); the dataset is incomplete. "
                                       + _missing_fix(root))


def _missing_fix(root: Path) -> str:
    return remedy(root, "Re-run the collection or copy the file back",
                  "Copy the file back, or download or export the dataset again")


# ---------------------------------------------------------------------------- frames
def read_frames(meta: LeRobotDatasetMeta, keys: list[str] | None = None) -> dict[str, np.ndarray]:
    """Low-dim columns of all data files, in global frame order: key -> (N,) or (N, D).

    Checks each column against the shape info.json declares, that the ``index`` column
    runs 0..N-1 so row i is global frame i, and that every task_index names a task.
    """
    lowdim = [k for k, f in meta.features.items() if f["dtype"] not in ("video", "image", "string")]
    keys = lowdim if keys is None else [k for k in keys if k in lowdim] + ["index"]
    keys = list(dict.fromkeys(keys + ["index"]))
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for chunk, file in meta.data_files():
        path = meta.data_file(chunk, file)
        table = read_parquet(path)
        for k in keys:
            if k not in table.column_names:
                raise FeatureMismatchError(f"{path} has no column {k!r} that {meta.root / INFO_PATH} declares; "
                                           "the file does not belong to this dataset. "
                                           + remedy(meta.root))
            parts[k].append(column_to_numpy(table.column(k), meta.features[k], path, k))
    out = {k: np.concatenate(v) for k, v in parts.items()}
    order = np.argsort(out["index"], kind="stable")
    if not np.array_equal(out["index"][order], np.arange(meta.total_frames)):
        raise DatasetError(f"{meta.root}: the data files hold {len(order)} frames with 'index' values that are "
                           f"not 0..{meta.total_frames - 1}; files are missing or stale. "
                           + remedy(meta.root))
    out = {k: v[order] for k, v in out.items()}
    _check_task_indices(meta, out)
    return out


def _check_task_indices(meta: LeRobotDatasetMeta, frames: dict[str, np.ndarray]) -> None:
    ti = frames.get("task_index")
    if ti is not None and len(ti) and (ti.min() < 0 or ti.max() >= len(meta.tasks)):
        raise DatasetError(f"{meta.root}: data frames use task_index up to {int(ti.max())} but {TASKS_PATH} lists "
                           f"{len(meta.tasks)} tasks; the two disagree. " + remedy(meta.root))


def column_to_numpy(col: pa.ChunkedArray, feature: dict, path: Path, key: str) -> np.ndarray:
    """One data column as (N, *shape): scalars, fixed or variable-size lists (nested for
    2-D+ features, e.g. ``datasets``' Array2D), with the dtype info.json declares."""
    shape = tuple(feature["shape"])
    dtype = np.dtype(feature["dtype"]) if feature["dtype"] != "bool" else np.bool_
    col = col.combine_chunks()
    if isinstance(col.type, pa.ExtensionType):
        col = col.storage
    if _is_list(col.type):
        n, flat = len(col), col
        while _is_list(flat.type):
            flat = flat.flatten()
        flat = flat.to_numpy(zero_copy_only=False)
        width = int(np.prod(shape))
        if len(flat) != n * width:
            raise FeatureMismatchError(
                f"{path}: column {key!r} does not hold {width} values per row as info.json's shape {list(shape)} "
                "says; the data and meta/info.json disagree. " + remedy(path))
        return flat.astype(dtype, copy=False).reshape((n,) + shape)  # (N, *shape)
    if shape not in ((1,), ()):
        raise FeatureMismatchError(f"{path}: column {key!r} holds scalars but info.json declares shape "
                                   f"{list(shape)}; the data and meta/info.json disagree. "
                                   + remedy(path))
    return col.to_numpy(zero_copy_only=False).astype(dtype, copy=False)


# ---------------------------------------------------------------------------- writer
@dataclass
class _OpenFile:
    """The data file being filled: video encoders stream to temp names, low-dim rows are buffered."""

    number: int
    encoders: dict[str, VideoEncoder]
    rows: dict[str, list[np.ndarray]]
    n_episodes: int = 0


class LeRobotDatasetWriter:
    """Writes episodes into a LeRobot v3.0 dataset; ``finalize()`` makes it readable.

    Each ``add_episode`` call takes whole-episode arrays: ``observation.images.<cam>``
    uint8 (T, H, W, 3) per camera, and any low-dim float arrays (T, D) such as
    ``observation.state`` and ``action`` (both absent for action-free video datasets).
    """

    def __init__(self, root: str | os.PathLike, fps: int = 80, robot_type: str = "unknown",
                 features: dict | None = None, cameras: tuple[str, ...] = ("corner2", "gripperPOV"),
                 image_size: tuple[int, int] = (64, 64), codec: str = "h264", episodes_per_file: int = 50,
                 overwrite: bool = False, resume: bool = False, crf: int = 18) -> None:
        self.root = Path(root)
        self.fps, self.robot_type, self.codec, self.crf = int(fps), robot_type, codec, crf
        self.cameras, self.image_size = tuple(cameras), tuple(image_size)
        self.episodes_per_file = episodes_per_file
        self.features: dict | None = None if features is None else json.loads(json.dumps(features))
        self._episodes: list[dict] = []
        self._tasks: dict[str, int] = {}
        self._total_frames = 0
        self._next_file = 0
        self._open: _OpenFile | None = None
        self._finalized = False
        self._prepare_root(overwrite, resume)

    # ---- setup -------------------------------------------------------------
    def _prepare_root(self, overwrite: bool, resume: bool) -> None:
        exists = (self.root / INFO_PATH).exists() or (self.root / WRITING_MARKER).exists()
        if exists and overwrite:
            shutil.rmtree(self.root)
        elif exists and resume:
            self._load_for_resume()
        elif exists:
            raise DatasetError(f"dataset {self.root} already exists; pass overwrite=True to replace it or "
                               "resume=True to append episodes to it (`vlaforge collect ... --overwrite` / "
                               "`--resume`)")
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(self.root / WRITING_MARKER, {"cameras": self.cameras, "image_size": self.image_size,
                                                "codec": self.codec, "fps": self.fps})

    def _load_for_resume(self) -> None:
        info = json.loads((self.root / INFO_PATH).read_text()) if (self.root / INFO_PATH).exists() else None
        if info is None or info.get("total_episodes", 0) == 0:
            shutil.rmtree(self.root)  # nothing complete was written: start over
            return
        if int(info["fps"]) != self.fps:
            raise DatasetError(f"cannot resume {self.root}: it was written at {info['fps']} fps, not {self.fps}")
        cams = tuple(k[len(IMAGE_PREFIX):] for k, f in info["features"].items() if f["dtype"] == "video")
        if cams != self.cameras:
            raise DatasetError(f"cannot resume {self.root}: it has cameras {cams}, not {self.cameras}")
        sizes = {tuple(f["shape"][:2]) for f in info["features"].values() if f["dtype"] == "video"}
        if sizes and sizes != {self.image_size}:
            raise DatasetError(f"cannot resume {self.root}: its images are {sizes.pop()}, not {self.image_size}")
        self.features, self.robot_type = info["features"], info.get("robot_type") or self.robot_type
        self._tasks = {t: i for i, t in enumerate(read_tasks(self.root))}
        eps = read_episodes(self.root, with_stats=True)
        n = int(info["total_episodes"])
        self._episodes = [{k: _py(v[i]) for k, v in eps.items()} for i in range(n)]
        self._total_frames = int(info["total_frames"])
        numbers = [_file_number(e["data/chunk_index"], e["data/file_index"]) for e in self._episodes]
        self._next_file = max(numbers) + 1
        self._remove_files_from(self._next_file)

    def _remove_files_from(self, number: int) -> None:
        """Delete data/video files at or after ``number`` and temp files: leftovers of a killed run."""
        for path in list((self.root / "data").rglob("*")) + list((self.root / "videos").rglob("*")):
            if not path.is_file():
                continue
            name = path.name
            if name.startswith(".") or not name.startswith("file-"):
                path.unlink()
            elif _file_number(int(path.parent.name.split("-")[1]), int(name.split(".")[0][5:])) >= number:
                path.unlink()

    # ---- episodes ----------------------------------------------------------
    @property
    def num_episodes(self) -> int:
        return len(self._episodes)

    def add_episode(self, frames: Mapping[str, np.ndarray], task: str, extra: Mapping[str, Any] | None = None) -> int:
        """Append one episode; returns its episode_index."""
        if self._finalized:
            raise DatasetError(f"writer for {self.root} is finalized; open a new one with resume=True to append")
        if not isinstance(task, str) or not task:
            raise ValueError("task must be a non-empty instruction string")
        frames = dict(frames)
        length = self._check_episode(frames)
        if self.features is None:
            self.features = self._infer_features(frames)
        elif not self._episodes:
            self.features = {**self._infer_features(frames), **self.features}
        self._check_features(frames)
        if self._open is None:
            self._open = self._open_file()
        ep_index = len(self._episodes)
        task_index = self._tasks.setdefault(task, len(self._tasks))
        lowdim = self._lowdim_rows(frames, ep_index, task_index, length)
        row = self._episode_row(ep_index, task, length, extra or {})
        row.update(self._write_videos(frames))
        row.update(self._episode_stats(frames, lowdim))
        for k, v in lowdim.items():
            self._open.rows[k].append(v)
        self._episodes.append(row)
        self._total_frames += length
        self._open.n_episodes += 1
        if self._open.n_episodes >= self.episodes_per_file:
            self._close_file()
        return ep_index

    def _check_episode(self, frames: dict[str, np.ndarray]) -> int:
        want = {IMAGE_PREFIX + c for c in self.cameras}
        got = {k for k in frames if k.startswith(IMAGE_PREFIX)}
        if got != want:
            raise ValueError(f"episode camera keys {sorted(got)} differ from the writer's cameras {sorted(want)}")
        reserved = set(DEFAULT_FEATURES) & set(frames)
        if reserved:
            raise ValueError(f"{sorted(reserved)} are written by the writer itself; do not pass them")
        lengths = {k: len(v) for k, v in frames.items()}
        if len(set(lengths.values())) != 1 or min(lengths.values()) < 1:
            raise ValueError(f"all arrays of an episode need the same non-zero length T, got {lengths}")
        h, w = self.image_size
        for k in want:
            a = frames[k]
            if a.dtype != np.uint8 or a.ndim != 4 or a.shape[1:] != (h, w, 3):
                raise ValueError(f"{k} must be uint8 (T, {h}, {w}, 3), got {a.dtype} {tuple(a.shape)}")
        return next(iter(lengths.values()))

    def _infer_features(self, frames: dict[str, np.ndarray]) -> dict:
        """Features from the first episode; names from the registered embodiment when dims match."""
        names = _embodiment_names(self.robot_type)
        h, w = self.image_size
        feats: dict[str, dict] = {}
        for c in self.cameras:
            feats[IMAGE_PREFIX + c] = {"dtype": "video", "shape": [h, w, 3], "names": ["height", "width", "channels"],
                                       "info": video_info(self.codec, h, w, self.fps)}
        order = [k for k in (STATE, ACTION) if k in frames] + sorted(
            k for k in frames if k not in (STATE, ACTION) and not k.startswith(IMAGE_PREFIX))
        for k in order:
            a = np.asarray(frames[k])
            shape = list(a.shape[1:]) or [1]
            n = names.get(k)
            feats[k] = {"dtype": str(a.dtype if a.dtype != np.float64 else np.float32), "shape": shape,
                        "names": list(n) if n is not None and len(n) == int(np.prod(shape)) else None}
        feats.update(json.loads(json.dumps(DEFAULT_FEATURES)))
        return feats

    def _check_features(self, frames: dict[str, np.ndarray]) -> None:
        declared = {k for k, f in self.features.items() if k not in DEFAULT_FEATURES}
        if declared != set(frames):
            raise ValueError(f"episode keys {sorted(frames)} differ from the dataset features {sorted(declared)}")
        for k, a in frames.items():
            shape = tuple(self.features[k]["shape"])
            got = tuple(np.shape(a)[1:]) or (1,)
            if got != shape:
                raise ValueError(f"{k}: per-frame shape {got} differs from the declared {shape}")

    def _lowdim_rows(self, frames: dict, ep_index: int, task_index: int, length: int) -> dict[str, np.ndarray]:
        rows = {k: np.asarray(v, dtype=self.features[k]["dtype"]) for k, v in frames.items()
                if not k.startswith(IMAGE_PREFIX)}
        fi = np.arange(length, dtype=np.int64)
        rows.update(timestamp=(fi / self.fps).astype(np.float32), frame_index=fi,
                    episode_index=np.full(length, ep_index, np.int64),
                    index=self._total_frames + fi, task_index=np.full(length, task_index, np.int64))
        return rows

    def _episode_row(self, ep_index: int, task: str, length: int, extra: Mapping[str, Any]) -> dict:
        chunk, file = divmod(self._open.number, CHUNKS_SIZE)
        row = {"episode_index": ep_index, "tasks": [task], "length": length,
               "data/chunk_index": chunk, "data/file_index": file,
               "dataset_from_index": self._total_frames, "dataset_to_index": self._total_frames + length}
        clash = set(extra) & (set(row) | {"meta/episodes/chunk_index", "meta/episodes/file_index"})
        if clash or any(k.startswith(("videos/", "stats/", "data/")) for k in extra):
            raise ValueError(f"extra episode keys {sorted(extra)} clash with LeRobot's episode columns")
        row.update({k: _py(v) for k, v in extra.items()})
        return row

    def _write_videos(self, frames: dict) -> dict:
        chunk, file = divmod(self._open.number, CHUNKS_SIZE)
        out = {}
        for c in self.cameras:
            key = IMAGE_PREFIX + c
            enc = self._open.encoders[key]
            start = enc.n_frames / self.fps
            enc.write(frames[key])
            out.update({f"videos/{key}/chunk_index": chunk, f"videos/{key}/file_index": file,
                        f"videos/{key}/from_timestamp": start, f"videos/{key}/to_timestamp": enc.n_frames / self.fps})
        return out

    def _episode_stats(self, frames: dict, lowdim: dict) -> dict:
        """LeRobot's per-episode ``stats/<feature>/<stat>`` columns."""
        stats = {k: feature_stats(v) for k, v in lowdim.items()}
        for c in self.cameras:
            imgs = frames[IMAGE_PREFIX + c]
            pick = np.unique(np.linspace(0, len(imgs) - 1, min(len(imgs), IMAGE_STATS_FRAMES)).round().astype(int))
            stats[IMAGE_PREFIX + c] = image_stats(imgs[pick])
        return {f"stats/{k}/{s}": v.tolist() for k, d in stats.items() for s, v in d.items()}

    # ---- files -------------------------------------------------------------
    def _open_file(self) -> _OpenFile:
        number = self._next_file
        self._next_file += 1
        chunk, file = divmod(number, CHUNKS_SIZE)
        encoders = {}
        for c in self.cameras:
            final = self.root / VIDEO_PATH.format(video_key=IMAGE_PREFIX + c, chunk_index=chunk, file_index=file)
            final.parent.mkdir(parents=True, exist_ok=True)
            encoders[IMAGE_PREFIX + c] = VideoEncoder(_tmp_name(final), self.fps, *self.image_size,
                                                      codec=self.codec, crf=self.crf)
        keys = [k for k, f in self.features.items() if f["dtype"] != "video"]
        return _OpenFile(number=number, encoders=encoders, rows={k: [] for k in keys})

    def _close_file(self) -> None:
        """Videos, then the data file, then the metadata that points to them: each atomically."""
        f, self._open = self._open, None
        chunk, file = divmod(f.number, CHUNKS_SIZE)
        for key, enc in f.encoders.items():
            enc.close()
            commit(enc.path, self.root / VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file))
        table = self._data_table({k: np.concatenate(v) for k, v in f.rows.items()})
        _write_parquet(table, self.root / DATA_PATH.format(chunk_index=chunk, file_index=file))
        self._write_meta()

    def _data_table(self, cols: dict[str, np.ndarray]) -> pa.Table:
        arrays = {}
        for k, v in cols.items():
            if v.ndim == 1:
                arrays[k] = pa.array(v)
            else:
                width = int(np.prod(v.shape[1:]))
                arrays[k] = pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1)), width)
        return pa.table(arrays)

    def _write_meta(self) -> None:
        rows = [dict(r, **{"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0}) for r in self._episodes]
        keys = list(dict.fromkeys(k for r in rows for k in r))  # union: extras may differ between episodes
        table = pa.table({k: [r.get(k) for r in rows] for k in keys})
        _write_parquet(table, self.root / EPISODES_PATH.format(chunk_index=0, file_index=0))
        _write_parquet(tasks_table(list(self._tasks)), self.root / TASKS_PATH)
        write_json(self.root / INFO_PATH, self._info())

    def _info(self) -> dict:
        n = len(self._episodes)
        return {"codebase_version": CODEBASE_VERSION, WRITER_KEY: "vlaforge.data.lerobot.LeRobotDatasetWriter",
                "robot_type": self.robot_type,
                "total_episodes": n, "total_frames": self._total_frames, "total_tasks": len(self._tasks),
                "chunks_size": CHUNKS_SIZE, "data_files_size_in_mb": DATA_FILES_SIZE_IN_MB,
                "video_files_size_in_mb": VIDEO_FILES_SIZE_IN_MB, "fps": self.fps, "splits": {"train": f"0:{n}"},
                "data_path": DATA_PATH, "video_path": VIDEO_PATH if self.cameras else None,
                "features": self.features}

    def finalize(self) -> LeRobotDatasetMeta:
        """Close the open file, write stats.json and info.json, then drop the writing marker."""
        if self._finalized:
            return load_meta(self.root)
        if self._open is not None:
            self._close_file()
        if not self._episodes:
            raise DatasetError(f"no episode was added to {self.root}; nothing to finalize")
        self._write_meta()
        write_json(self.root / STATS_PATH, stats_to_json(self._global_stats()))
        (self.root / WRITING_MARKER).unlink()
        self._finalized = True
        return load_meta(self.root)

    def _global_stats(self) -> dict:
        """Low-dim: exact over every frame (read back); images: aggregated per-episode samples."""
        meta = LeRobotDatasetMeta(root=self.root, info=self._info(), tasks=list(self._tasks),
                                  episodes=read_episodes(self.root))
        stats = {k: feature_stats(v) for k, v in read_frames(meta).items()}
        for c in self.cameras:
            key = IMAGE_PREFIX + c
            parts = [{s: np.asarray(r[f"stats/{key}/{s}"]) for s in STAT_NAMES} for r in self._episodes]
            stats[key] = aggregate_stats(parts)
        return stats

    def abort(self) -> None:
        """Drop the open (unfinished) file; complete files stay and ``resume=True`` continues them."""
        if self._open is not None:
            for enc in self._open.encoders.values():
                enc.abort()
                enc.path.unlink(missing_ok=True)
            self._open = None

    def __enter__(self) -> "LeRobotDatasetWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finalize()
        else:
            self.abort()


# ---------------------------------------------------------------------------- helpers
def tasks_table(tasks: list[str]) -> pa.Table:
    """``meta/tasks.parquet`` as pandas writes LeRobot's DataFrame (index 'task', column 'task_index')."""
    table = pa.table({"task_index": pa.array(np.arange(len(tasks), dtype=np.int64)), "task": pa.array(tasks)})
    pandas_meta = {"index_columns": ["task"], "column_indexes": [],
                   "columns": [{"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
                                "numpy_type": "int64", "metadata": None},
                               {"name": "task", "field_name": "task", "pandas_type": "unicode",
                                "numpy_type": "object", "metadata": None}],
                   "creator": {"library": "pyarrow", "version": pa.__version__}, "pandas_version": "2.2.3"}
    return table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})


def _write_parquet(table: pa.Table, path: Path) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="snappy")


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.partial{path.suffix}")


def _file_number(chunk: int, file: int) -> int:
    return int(chunk) * CHUNKS_SIZE + int(file)


def _embodiment_names(robot_type: str) -> dict[str, tuple[str, ...]]:
    from vlaforge.embodiments import get_embodiment

    try:
        spec = get_embodiment(robot_type)
    except KeyError:
        return {}
    return {STATE: spec.state_names, ACTION: spec.action_names}


def _py(v: Any) -> Any:
    """numpy scalars/arrays -> plain Python, so pyarrow infers one schema across rows."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_py(x) for x in v]
    return v
