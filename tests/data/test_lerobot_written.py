"""Datasets written by LeRobot 0.4.4's OWN code (committed under tests/data/fixtures/, made by
benchmarks/make_lerobot_fixture.py in LeRobot's interpreter), read by our reader on every run.

``lerobot_v30_written``: ``LeRobotDataset.create`` / ``add_frame`` / ``save_episode`` / ``finalize``,
robot "so100", two AV1 cameras at 32x32, 3 episodes (12, 9, 15 frames), 2 tasks, 10 fps; the exact
inputs are in ``lerobot_v30_written.truth.npz``. ``lerobot_v30_merged``: LeRobot's
``aggregate_datasets`` of that dataset with itself (pandas-written tables, concatenated videos).

Frames are lossy (AV1, CRF 30, yuv420p): each decoded frame must be within MAE_TOL of its truth
frame (mean absolute error over pixels and channels, in uint8 levels; measured about 1.9) and
closer to it than to any other truth frame. Actions, states and indices must match exactly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vlaforge.core.keys import ACTION, ACTION_IS_PAD, OBS_IS_PAD, STATE
from vlaforge.data.dataset import LeRobotDataset
from vlaforge.data.errors import CorruptFileError, DatasetError, FeatureMismatchError, MissingFileError
from vlaforge.data.lerobot import load_meta, read_episodes, read_frames, read_tasks, tasks_table
from tests.data.conftest import write_dataset

FIXTURES = Path(__file__).parent / "fixtures"
WRITTEN = FIXTURES / "lerobot_v30_written"
MERGED = FIXTURES / "lerobot_v30_merged"
CAMS = ("observation.images.top", "observation.images.wrist")
LENGTHS = (12, 9, 15)
TASKS = ["pick up the red cube and place it in the bin", "open the top drawer"]
MAE_TOL = 4.0


@pytest.fixture(scope="module")
def truth() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "lerobot_v30_written.truth.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture
def copy(tmp_path) -> Path:
    """A writable copy of the LeRobot-written fixture (the committed one is never written to)."""
    dst = tmp_path / "so100_ds"
    shutil.copytree(WRITTEN, dst)
    return dst


def _no_rerun(message: str) -> None:
    assert "re-run the collection" not in message.lower(), message


def _assert_frames(frames: np.ndarray, want: np.ndarray) -> None:
    """frames (N, 3, H, W) decoded vs want (N, H, W, 3): each within MAE_TOL and nearest to its own."""
    got = frames.transpose(0, 2, 3, 1).astype(np.int16)  # (N, H, W, 3)
    mae = np.abs(got[:, None] - want[None].astype(np.int16)).mean(axis=(2, 3, 4))  # (N, N) decoded x truth
    assert np.diag(mae).max() <= MAE_TOL, np.diag(mae).round(2)
    assert np.array_equal(mae.argmin(axis=1), np.arange(len(got)))


# ---------------------------------------------------------------------------- the fixture is LeRobot's
def test_fixture_has_lerobot_table_layout():
    """Guards the fixture itself: the task strings live in the pandas index, as LeRobot writes them."""
    table = pq.read_table(WRITTEN / "meta/tasks.parquet")
    assert table.column_names == ["task_index", "__index_level_0__"]
    assert pa.types.is_large_string(table.schema.field("__index_level_0__").type)
    assert json.loads(table.schema.metadata[b"pandas"])["index_columns"] == ["__index_level_0__"]
    info = json.loads((WRITTEN / "meta/info.json").read_text())
    assert "vlaforge_writer" not in info
    assert {info["features"][c]["info"]["video.codec"] for c in CAMS} == {"av1"}
    episodes = pq.read_schema(WRITTEN / "meta/episodes/chunk-000/file-000.parquet")
    assert "stats/observation.state/mean" in episodes.names and "stats/observation.images.top/mean" in episodes.names


# ---------------------------------------------------------------------------- reading it
def test_metadata(truth):
    meta = load_meta(WRITTEN)
    assert (meta.fps, meta.robot_type, meta.total_episodes, meta.total_frames) == (10, "so100", 3, sum(LENGTHS))
    assert meta.tasks == TASKS and meta.camera_keys == list(CAMS) and meta.image_size == (32, 32)
    assert meta.features[STATE]["shape"] == [4] and meta.features[ACTION]["shape"] == [4]
    assert meta.features[ACTION]["names"] == ["shoulder_pan", "shoulder_lift", "elbow_flex", "gripper"]
    assert meta.episodes["length"].tolist() == list(LENGTHS)
    assert [list(t) for t in meta.episodes["tasks"]] == [[TASKS[0]], [TASKS[1]], [TASKS[0]]]
    assert [meta.episode_range(e) for e in range(3)] == [(0, 12), (12, 21), (21, 36)]
    assert meta.episodes["videos/observation.images.top/from_timestamp"].tolist() == pytest.approx([0, 1.2, 2.1])
    assert np.allclose(meta.stats[ACTION]["mean"], truth[ACTION].astype(np.float64).mean(0), atol=1e-6)
    assert meta.stats["observation.images.top"]["mean"].shape == (3, 1, 1)
    with_stats = read_episodes(WRITTEN, with_stats=True)
    assert np.asarray(with_stats["stats/observation.images.top/mean"][0]).shape == (3, 1, 1)


def test_actions_states_indices_exact(truth):
    frames = read_frames(load_meta(WRITTEN))
    assert frames[ACTION].dtype == np.float32 and np.array_equal(frames[ACTION], truth[ACTION])
    assert np.array_equal(frames[STATE], truth[STATE])
    assert np.array_equal(frames["episode_index"], truth["episode_index"])
    assert np.array_equal(frames["frame_index"], truth["frame_index"])
    assert np.allclose(frames["timestamp"], truth["frame_index"] / 10)


def test_frames_within_codec_tolerance(truth, tmp_path):
    ds = LeRobotDataset(WRITTEN, n_obs_steps=1, chunk_size=1, cache_dir=tmp_path / "cache")
    cached = ds.frames()
    for cam in CAMS:
        _assert_frames(np.asarray(cached[cam]), truth[cam])
    direct = LeRobotDataset(WRITTEN, n_obs_steps=1, chunk_size=1, use_cache=False)[list(range(len(ds)))]
    for cam in CAMS:  # seek-and-decode path (no cache) gives the same pixels
        assert np.array_equal(direct[cam][:, 0].numpy(), np.asarray(cached[cam]))
    assert any((tmp_path / "cache").rglob("*.npy")) and not (WRITTEN / ".cache").exists()


def test_task_strings_per_frame(truth, tmp_path):
    ds = LeRobotDataset(WRITTEN, n_obs_steps=1, chunk_size=1, cache_dir=tmp_path)
    batch = ds[list(range(len(ds)))]
    assert batch["task"] == truth["task"].tolist()
    assert batch["embodiment"] == ["so100"] * len(ds)


def test_windows_at_episode_boundaries(truth, tmp_path):
    ds = LeRobotDataset(WRITTEN, n_obs_steps=3, chunk_size=5, cache_dir=tmp_path)
    act, state = truth[ACTION], truth[STATE]
    start = ds[12]  # first frame of episode 1: history repeats frame 12
    assert start[OBS_IS_PAD].tolist() == [True, True, False]
    assert np.array_equal(start[STATE].numpy(), state[[12, 12, 12]])
    assert start[ACTION_IS_PAD].tolist() == [False] * 5 and np.array_equal(start[ACTION].numpy(), act[12:17])
    img = start["observation.images.top"].numpy()
    assert np.array_equal(img[0], img[2]) and np.array_equal(img[1], img[2])
    second = ds[13]
    assert second[OBS_IS_PAD].tolist() == [True, False, False]
    assert np.array_equal(second[STATE].numpy(), state[[12, 12, 13]])
    end = ds[11]  # last frame of episode 0: the chunk repeats action 11, never episode 1's
    assert end[OBS_IS_PAD].tolist() == [False] * 3 and np.array_equal(end[STATE].numpy(), state[9:12])
    assert end[ACTION_IS_PAD].tolist() == [False, True, True, True, True]
    assert np.array_equal(end[ACTION].numpy(), act[[11] * 5])
    near_end = ds[33]  # third-from-last frame of the dataset
    assert near_end[ACTION_IS_PAD].tolist() == [False, False, False, True, True]
    assert np.array_equal(near_end[ACTION].numpy(), act[[33, 34, 35, 35, 35]])
    assert (int(end["episode_index"]), int(end["frame_index"]), end["task"]) == (0, 11, TASKS[0])
    assert (int(start["episode_index"]), int(start["frame_index"]), start["task"]) == (1, 0, TASKS[1])


def test_merged_by_lerobot_tools(truth, tmp_path):
    """aggregate_datasets output: pandas-written tables, list<float> data, videos joined by stream copy."""
    ds = LeRobotDataset(MERGED, n_obs_steps=1, chunk_size=1, cache_dir=tmp_path)
    meta = ds.meta
    assert (meta.total_episodes, meta.total_frames, meta.tasks) == (6, 72, TASKS)
    assert meta.episodes["length"].tolist() == list(LENGTHS) * 2
    frames = read_frames(meta)
    assert np.array_equal(frames[ACTION], np.concatenate([truth[ACTION]] * 2))
    batch = ds[list(range(len(ds)))]
    assert batch["task"] == truth["task"].tolist() * 2
    for cam in CAMS:
        video = np.asarray(ds.frames()[cam])
        _assert_frames(video[:36], truth[cam])
        _assert_frames(video[36:], truth[cam])


# ---------------------------------------------------------------------------- other table forms
def test_plain_task_column_still_loads(copy):
    pq.write_table(pa.table({"task_index": [1, 0], "task": [TASKS[1], TASKS[0]]}), copy / "meta/tasks.parquet")
    assert read_tasks(copy) == TASKS
    pq.write_table(tasks_table(TASKS), copy / "meta/tasks.parquet")  # our own writer's form
    assert load_meta(copy).tasks == TASKS


def test_named_pandas_index_is_found_through_metadata(copy):
    table = pa.table({"task_index": [0, 1], "language": ["en", "en"], "instruction": TASKS})
    pandas_meta = {"index_columns": ["instruction"], "columns": []}
    pq.write_table(table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()}),
                   copy / "meta/tasks.parquet")
    assert read_tasks(copy) == TASKS
    pq.write_table(table, copy / "meta/tasks.parquet")  # two string columns, no metadata: ambiguous
    with pytest.raises(CorruptFileError, match=r"meta/tasks\.parquet does not hold task strings"):
        read_tasks(copy)


def test_episode_table_as_pandas_writes_it(copy):
    """LeRobot's pandas tools can store an index column and NaN-able (float) chunk/file numbers."""
    path = copy / "meta/episodes/chunk-000/file-000.parquet"
    want = load_meta(copy).episodes
    table = pq.read_table(path)
    for name in table.column_names:
        if name.endswith(("/chunk_index", "/file_index")):
            i = table.column_names.index(name)
            table = table.set_column(i, name, table.column(name).cast(pa.float64()))
    table = table.append_column("__index_level_0__", pa.array([0, 1, 2], pa.int64()))
    meta = {"index_columns": ["__index_level_0__"], "columns": []}
    pq.write_table(table.replace_schema_metadata({b"pandas": json.dumps(meta).encode()}), path)
    got = load_meta(copy).episodes
    assert "__index_level_0__" not in got and got["data/chunk_index"].dtype == np.int64
    for k in ("episode_index", "length", "dataset_from_index", "videos/observation.images.wrist/file_index"):
        assert np.array_equal(got[k], want[k])
    assert len(LeRobotDataset(copy, use_cache=False)) == sum(LENGTHS)


# ---------------------------------------------------------------------------- errors for a foreign dataset
def test_broken_tasks_table_names_the_file(copy):
    pq.write_table(pa.table({"task_index": [0, 1]}), copy / "meta/tasks.parquet")
    with pytest.raises(DatasetError, match=r"so100_ds/meta/tasks\.parquet does not hold task strings") as e:
        load_meta(copy)
    _no_rerun(str(e.value))
    assert "pandas" in str(e.value) and "'task_index'" in str(e.value)
    pq.write_table(pa.table({"task_index": [0, 0], "task": TASKS}), copy / "meta/tasks.parquet")
    with pytest.raises(CorruptFileError, match=r"tasks\.parquet.*0\.\.1 once each") as e:
        load_meta(copy)
    _no_rerun(str(e.value))


def test_broken_tasks_table_of_our_own_dataset_says_rerun(tmp_path):
    root = tmp_path / "ours"
    write_dataset(root, lengths=(5, 6))
    pq.write_table(pa.table({"task_index": [0, 1]}), root / "meta/tasks.parquet")
    with pytest.raises(CorruptFileError, match=r"meta/tasks\.parquet does not hold.*Re-run the collection"):
        load_meta(root)


def test_missing_and_corrupt_files_of_a_foreign_dataset(copy):
    video = copy / "videos/observation.images.wrist/chunk-000/file-000.mp4"
    video.write_bytes(video.read_bytes()[:300])
    with pytest.raises(CorruptFileError, match=r"wrist/chunk-000/file-000\.mp4") as e:
        LeRobotDataset(copy, use_cache=False)[0]
    _no_rerun(str(e.value))
    (copy / "data/chunk-000/file-000.parquet").unlink()
    with pytest.raises(MissingFileError, match=r"data/chunk-000/file-000\.parquet is missing") as e:
        load_meta(copy)
    _no_rerun(str(e.value))


def test_image_features_are_refused_with_the_converter(copy):
    info = json.loads((copy / "meta/info.json").read_text())
    info["features"]["observation.images.side"] = {"dtype": "image", "shape": [32, 32, 3], "names": None}
    (copy / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(FeatureMismatchError, match=r"observation\.images\.side.*convert_image_to_video"):
        load_meta(copy)
