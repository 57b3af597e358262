"""Bad input: each case raises a DatasetError subclass naming the file and the fix."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from vlaforge.data.dataset import LeRobotDataset
from vlaforge.data.errors import (
    CorruptFileError, DatasetError, EpisodeIndexError, FeatureMismatchError, MissingFileError, NotFinalizedError,
    UnsupportedVersionError,
)
from vlaforge.data.lerobot import LeRobotDatasetWriter, load_meta
from tests.data.conftest import CAMS, make_episode, write_dataset


@pytest.fixture
def copy(labelled, tmp_path):
    dst = tmp_path / "ds"
    shutil.copytree(labelled[0], dst, ignore=shutil.ignore_patterns(".cache"))
    return dst


def _edit_info(root, **changes):
    info = json.loads((root / "meta/info.json").read_text())
    info.update(changes)
    (root / "meta/info.json").write_text(json.dumps(info))
    return info


def test_missing_parquet(copy):
    (copy / "data/chunk-000/file-001.parquet").unlink()
    with pytest.raises(MissingFileError, match=r"file-001\.parquet is missing.*Re-run the collection"):
        load_meta(copy)


def test_truncated_parquet(copy):
    p = copy / "data/chunk-000/file-000.parquet"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(CorruptFileError, match=r"file-000\.parquet cannot be read as parquet.*truncated"):
        LeRobotDataset(copy)


def test_missing_mp4(copy):
    (copy / "videos/observation.images.corner2/chunk-000/file-000.mp4").unlink()
    with pytest.raises(MissingFileError, match=r"corner2/chunk-000/file-000\.mp4 is missing"):
        LeRobotDataset(copy)


def test_truncated_mp4(copy):
    p = copy / "videos/observation.images.gripperPOV/chunk-000/file-001.mp4"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 3])
    ds = LeRobotDataset(copy)
    with pytest.raises(CorruptFileError, match=r"gripperPOV/chunk-000/file-001\.mp4.*Re-run the collection"):
        ds[0]


def test_feature_shape_disagrees_with_info(copy):
    info = json.loads((copy / "meta/info.json").read_text())
    info["features"]["action"]["shape"] = [5]
    (copy / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(FeatureMismatchError, match=r"column 'action' does not hold 5 values per row"):
        LeRobotDataset(copy)


def test_episode_index_out_of_range(labelled):
    with pytest.raises(EpisodeIndexError, match=r"episode\(s\) \[7\] out of range.*0\.\.3"):
        LeRobotDataset(labelled[0], episodes=[1, 7])
    ds = LeRobotDataset(labelled[0])
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_unknown_codebase_version(copy):
    _edit_info(copy, codebase_version="v2.1")
    with pytest.raises(UnsupportedVersionError, match=r"v2\.1.*convert_dataset_v21_to_v30"):
        load_meta(copy)
    _edit_info(copy, codebase_version="v4.0")
    with pytest.raises(UnsupportedVersionError, match=r"only 'v3\.0'"):
        load_meta(copy)


def test_counts_disagree_with_files(copy):
    _edit_info(copy, total_episodes=5)
    with pytest.raises(DatasetError, match=r"says 5 episodes.*lists 4 episodes"):
        load_meta(copy)


def test_not_a_dataset(tmp_path):
    with pytest.raises(MissingFileError, match="does not exist"):
        load_meta(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingFileError, match=r"meta/info\.json is missing"):
        load_meta(tmp_path / "empty")


def test_unfinalized_dataset_is_refused_then_resumed(tmp_path):
    root = tmp_path / "ds"
    w, eps = write_dataset(root, lengths=(10, 12, 11), episodes_per_file=2, finalize=False)
    del w  # a killed collection: episode 2 sat in the unfinished file
    with pytest.raises(NotFinalizedError, match=r"not finalized.*resume=True"):
        load_meta(root)
    w = LeRobotDatasetWriter(root, fps=80, robot_type="metaworld_sawyer", cameras=CAMS, image_size=(16, 16),
                             episodes_per_file=2, resume=True)
    assert w.num_episodes == 2
    extra = make_episode(9, seed=42)
    assert w.add_episode(extra, task="task 2") == 2
    meta = w.finalize()
    assert meta.total_episodes == 3 and meta.total_frames == 10 + 12 + 9 and meta.tasks[-1] == "task 2"
    leftovers = [p for p in root.rglob("*") if p.name.startswith(".") and ".partial" in p.name]
    assert leftovers == []
    ds = LeRobotDataset(root, chunk_size=2)
    assert np.array_equal(ds[22]["action"][0].numpy(), extra["action"][0])
    assert np.array_equal(ds[0]["action"][0].numpy(), eps[0]["action"][0])


def test_writer_refuses_bad_episodes(tmp_path):
    w = LeRobotDatasetWriter(tmp_path / "ds", cameras=CAMS, image_size=(16, 16))
    good = make_episode(5, seed=0)
    with pytest.raises(ValueError, match="camera keys"):
        w.add_episode({k: v for k, v in good.items() if "corner2" not in k}, task="t")
    with pytest.raises(ValueError, match="same non-zero length"):
        w.add_episode(dict(good, action=good["action"][:3]), task="t")
    w.add_episode(good, task="t")
    with pytest.raises(ValueError, match="per-frame shape"):
        w.add_episode(dict(good, action=np.zeros((5, 3), np.float32)), task="t")
    with pytest.raises(DatasetError, match="already exists"):
        LeRobotDatasetWriter(tmp_path / "ds", cameras=CAMS, image_size=(16, 16))
