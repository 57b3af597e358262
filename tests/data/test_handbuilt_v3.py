"""A dataset built by hand with pyarrow + PyAV to LeRobot's published v3.0 layout (not by our
writer), read by our reader: guards against writer and reader sharing one misreading."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vlaforge.data.dataset import LeRobotDataset
from tests.data.conftest import smooth_frames

LENS = (8, 6)
FPS = 10


def _write_mp4(path, frames):
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=FPS, options={"crf": "12", "bf": "0"})
        s.width, s.height, s.pix_fmt = 16, 16, "yuv420p"
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, FPS)
            out.mux(s.encode(f))
        out.mux(s.encode(None))


@pytest.fixture(scope="module")
def handbuilt(tmp_path_factory):
    root = tmp_path_factory.mktemp("hand") / "koch_pick"
    n = sum(LENS)
    rng = np.random.default_rng(3)
    action = rng.normal(size=(n, 6)).astype(np.float32)
    state = rng.normal(size=(n, 6)).astype(np.float32)
    frames = smooth_frames(n, seed=5)
    fi = np.concatenate([np.arange(t) for t in LENS])
    ep = np.repeat(np.arange(2), LENS)
    # data: action/state as variable-length lists (older `datasets` wrote Sequence without length)
    data = pa.table({"action": pa.array(action.tolist(), pa.list_(pa.float32())),
                     "observation.state": pa.array(state.tolist(), pa.list_(pa.float32())),
                     "timestamp": pa.array((fi / FPS).astype(np.float32)), "frame_index": pa.array(fi),
                     "episode_index": pa.array(ep), "index": pa.array(np.arange(n)),
                     "task_index": pa.array(np.array([0] * LENS[0] + [1] * LENS[1]))})
    (root / "data/chunk-000").mkdir(parents=True)
    pq.write_table(data, root / "data/chunk-000/file-000.parquet")
    _write_mp4(root / "videos/observation.images.top/chunk-000/file-000.mp4", frames)
    (root / "meta/episodes/chunk-000").mkdir(parents=True)
    pq.write_table(pa.table({"task_index": [0, 1], "__index_level_0__": ["pick the cube", "place the cube"]}),
                   root / "meta/tasks.parquet")
    key = "videos/observation.images.top"
    pq.write_table(pa.table({
        "episode_index": [0, 1], "tasks": [["pick the cube"], ["place the cube"]], "length": list(LENS),
        "data/chunk_index": [0, 0], "data/file_index": [0, 0],
        "dataset_from_index": [0, LENS[0]], "dataset_to_index": [LENS[0], n],
        f"{key}/chunk_index": [0, 0], f"{key}/file_index": [0, 0],
        f"{key}/from_timestamp": [0.0, LENS[0] / FPS], f"{key}/to_timestamp": [LENS[0] / FPS, n / FPS],
        "meta/episodes/chunk_index": [0, 0], "meta/episodes/file_index": [0, 0]}),
        root / "meta/episodes/chunk-000/file-000.parquet")
    motors = [f"m{i}" for i in range(6)]
    info = {"codebase_version": "v3.0", "robot_type": "koch", "total_episodes": 2, "total_frames": n,
            "total_tasks": 2, "chunks_size": 1000, "data_files_size_in_mb": 100, "video_files_size_in_mb": 500,
            "fps": FPS, "splits": {"train": "0:2"},
            "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
            "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
            "features": {
                "action": {"dtype": "float32", "shape": [6], "names": {"motors": motors}},
                "observation.state": {"dtype": "float32", "shape": [6], "names": {"motors": motors}},
                "observation.images.top": {"dtype": "video", "shape": [16, 16, 3],
                                           "names": ["height", "width", "channels"],
                                           "info": {"video.fps": FPS, "video.codec": "h264"}},
                **{k: {"dtype": t, "shape": [1], "names": None} for k, t in [
                    ("timestamp", "float32"), ("frame_index", "int64"), ("episode_index", "int64"),
                    ("index", "int64"), ("task_index", "int64")]}}}
    (root / "meta/info.json").write_text(json.dumps(info))
    (root / "meta/stats.json").write_text(json.dumps({
        "action": {"mean": action.mean(0).tolist(), "std": action.std(0).tolist()}}))
    return root, action, state, frames


def test_reader_loads_handbuilt_v3(handbuilt):
    root, action, state, frames = handbuilt
    ds = LeRobotDataset(root, n_obs_steps=1, chunk_size=4)
    assert ds.meta.tasks == ["pick the cube", "place the cube"] and ds.meta.cameras == ("top",)
    assert ds.meta.robot_type == "koch" and ds.meta.has_actions and len(ds) == sum(LENS)
    assert np.allclose(ds.meta.stats["action"]["mean"], action.mean(0))
    s = ds[LENS[0] + 2]  # episode 1, frame 2
    assert s["task"] == "place the cube" and int(s["episode_index"]) == 1 and int(s["frame_index"]) == 2
    assert np.array_equal(s["action"].numpy(), action[LENS[0] + 2: LENS[0] + 6])
    assert np.array_equal(s["observation.state"][0].numpy(), state[LENS[0] + 2])
    img = s["observation.images.top"][0].numpy().transpose(1, 2, 0).astype(int)
    errs = [np.abs(img - frames[j]).mean() for j in range(len(frames))]
    assert int(np.argmin(errs)) == LENS[0] + 2 and errs[LENS[0] + 2] < 8


def test_handbuilt_without_cache_matches_cache(handbuilt):
    root = handbuilt[0]
    a = LeRobotDataset(root, n_obs_steps=2, chunk_size=3, use_cache=True)[[0, 5, 9, 13]]
    b = LeRobotDataset(root, n_obs_steps=2, chunk_size=3, use_cache=False)[[0, 5, 9, 13]]
    assert np.array_equal(a["observation.images.top"].numpy(), b["observation.images.top"].numpy())
