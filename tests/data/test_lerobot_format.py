"""LeRobot v3.0 layout: what our writer puts on disk, and what our reader makes of it."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq

from vlaforge.data.cache import load_frame_cache
from vlaforge.data.lerobot import load_meta, read_frames
from tests.data.conftest import CAMS, LENGTHS


def test_info_json_follows_v3_layout(labelled):
    root, _ = labelled
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (4, sum(LENGTHS), 2)
    assert info["splits"] == {"train": "0:4"} and info["fps"] == 80 and info["robot_type"] == "metaworld_sawyer"
    cam = info["features"]["observation.images.corner2"]
    assert cam["dtype"] == "video" and cam["shape"] == [16, 16, 3]
    assert cam["info"]["video.codec"] in ("h264", "av1") and cam["info"]["video.pix_fmt"] == "yuv420p"
    assert info["features"]["action"] == {"dtype": "float32", "shape": [4], "names": ["dx", "dy", "dz", "gripper"]}
    for k in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert info["features"][k]["shape"] == [1]
    # 4 episodes, 2 per file -> two data files and two MP4s per camera
    assert sorted(p.name for p in (root / "data/chunk-000").iterdir()) == ["file-000.parquet", "file-001.parquet"]
    for c in CAMS:
        assert len(list((root / f"videos/observation.images.{c}/chunk-000").glob("file-*.mp4"))) == 2
    assert not (root / "meta/vlaforge_writing.json").exists()


def test_episode_and_task_tables(labelled):
    root, _ = labelled
    ep = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pydict()
    assert ep["episode_index"] == [0, 1, 2, 3] and ep["length"] == list(LENGTHS)
    assert ep["tasks"] == [["task 0"], ["task 1"], ["task 0"], ["task 1"]]
    assert ep["dataset_from_index"] == [0, 12, 29, 39] and ep["dataset_to_index"] == [12, 29, 39, 59]
    assert ep["data/file_index"] == [0, 0, 1, 1] and ep["seed"] == [100, 101, 102, 103]
    key = "videos/observation.images.corner2"
    assert np.allclose(ep[f"{key}/from_timestamp"], [0, 12 / 80, 0, 10 / 80])
    assert np.allclose(ep[f"{key}/to_timestamp"], [12 / 80, 29 / 80, 10 / 80, 30 / 80])
    assert np.allclose(ep["stats/action/mean"][0], np.asarray(ep["stats/action/mean"][0]))
    assert np.asarray(ep["stats/observation.images.corner2/mean"][0]).shape == (3, 1, 1)
    tasks = pq.read_table(root / "meta/tasks.parquet")
    assert tasks.column("task").to_pylist() == ["task 0", "task 1"]
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["task"]  # pandas reads 'task' as index


def test_round_trip_lowdim_exact_frames_close(labelled):
    root, eps = labelled
    meta = load_meta(root)
    data = read_frames(meta)
    assert np.array_equal(data["action"], np.concatenate([e["action"] for e in eps]))
    assert np.array_equal(data["observation.state"], np.concatenate([e["observation.state"] for e in eps]))
    assert np.array_equal(data["frame_index"], np.concatenate([np.arange(t) for t in LENGTHS]))
    assert np.allclose(data["timestamp"], data["frame_index"] / 80)
    frames = load_frame_cache(meta, meta.camera_keys, data["timestamp"])
    for c in CAMS:
        orig = np.concatenate([e[f"observation.images.{c}"] for e in eps])
        got = frames[f"observation.images.{c}"].astype(np.int16)
        # yuv420p alone (no codec) already costs a few levels on these saturated test images
        ref = yuv420p_round_trip(orig).transpose(0, 3, 1, 2)
        codec_err = np.abs(got - ref).mean()
        assert codec_err < 5.0, f"{c}: the codec adds a mean abs error of {codec_err:.2f} (crf 18)"
        assert np.abs(got - orig.transpose(0, 3, 1, 2)).mean() < 8
        # frame-accurate: each decoded frame is closer to its own source than to its neighbours
        d_own = np.abs(got[1:-1] - ref[1:-1]).mean((1, 2, 3))
        d_next = np.abs(got[1:-1] - ref[2:]).mean((1, 2, 3))
        assert (d_own < d_next).mean() > 0.9


def yuv420p_round_trip(frames: np.ndarray) -> np.ndarray:
    import av

    return np.stack([av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p")
                     .reformat(format="rgb24").to_ndarray() for f in frames]).astype(np.int16)


def test_stats_json(labelled):
    root, eps = labelled
    stats = json.loads((root / "meta/stats.json").read_text())
    act = np.concatenate([e["action"] for e in eps]).astype(np.float64)
    s = stats["action"]
    assert np.allclose(s["mean"], act.mean(0)) and np.allclose(s["std"], act.std(0))
    assert np.allclose(s["min"], act.min(0)) and np.allclose(s["q99"], np.quantile(act, 0.99, axis=0))
    assert s["count"] == [sum(LENGTHS)]
    img = stats["observation.images.corner2"]
    assert np.asarray(img["mean"]).shape == (3, 1, 1) and 0 < np.asarray(img["mean"]).min() < 1
    assert set(img) == {"min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"}
