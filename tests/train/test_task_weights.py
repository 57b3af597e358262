"""``data.task_weights``: one task's samples drawn more often, in every root, resumable; clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from vlaforge.core.errors import ConfigError
from vlaforge.data.dataset import LeRobotDataset, MixtureDataset
from vlaforge.data.lerobot import LeRobotDatasetWriter
from vlaforge.train.config import DataConfig
from vlaforge.train.data import load_train_data, parse_task_weights

from .conftest import TinyConfig

TASKS = ("reach the goal", "insert the peg")
ENVS = ("reach-v3", "peg-insert-side-v3")


def _write(root, lengths: tuple[int, ...], seed: int) -> None:
    """Episodes alternating between the two tasks; episode e has ``lengths[e]`` frames."""
    rng = np.random.default_rng(seed)
    w = LeRobotDatasetWriter(root, fps=80, robot_type="metaworld_sawyer", cameras=("corner2",), image_size=(16, 16),
                             overwrite=True)
    for e, t in enumerate(lengths):
        w.add_episode({"observation.images.corner2": rng.integers(0, 255, size=(t, 16, 16, 3), dtype=np.uint8),
                       "observation.state": rng.normal(size=(t, 4)).astype(np.float32),
                       "action": rng.uniform(-1, 1, size=(t, 4)).astype(np.float32)},
                      task=TASKS[e % 2], extra={"seed": e, "env": ENVS[e % 2]})
    w.finalize()


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("task_weights")
    _write(base / "a", (30, 10, 30, 10), 0)  # 60 reach frames, 20 peg frames
    _write(base / "b", (20, 20), 1)  # 20 reach, 20 peg
    return str(base / "a"), str(base / "b")


def _share(ds, tasks_of, epochs: int = 20) -> float:
    """The fraction of peg samples over ``epochs`` epochs of ``ds``'s order."""
    idx = np.concatenate([ds.epoch_indices(seed=0, epoch=e) for e in range(epochs)])
    return float(np.mean(tasks_of[idx] == TASKS[1]))


def test_unweighted_order_is_unchanged(roots):
    ds = LeRobotDataset(roots[0], cameras=("corner2",))
    assert np.array_equal(ds.epoch_indices(3, 1), np.random.default_rng([3, 1]).permutation(len(ds)))
    ds.set_sample_weights(None)
    assert ds.weighted_size == len(ds)


def test_a_task_weight_draws_that_task_more_often(roots):
    ds = LeRobotDataset(roots[0], cameras=("corner2",))
    tasks = ds.sample_tasks()
    assert _share(ds, tasks) == pytest.approx(0.25, abs=0.01)  # a permutation: exactly 20 of 80
    w = np.where(tasks == TASKS[1], 3.0, 1.0)
    ds.set_sample_weights(w)
    assert ds.weighted_size == pytest.approx(60 + 3 * 20)
    assert _share(ds, tasks) == pytest.approx(0.5, abs=0.04)  # 60 of 120 weighted samples
    assert np.array_equal(ds.epoch_indices(0, 2), ds.epoch_indices(0, 2))  # a pure function of (seed, epoch)
    with pytest.raises(ValueError, match="non-negative"):
        ds.set_sample_weights(np.zeros(len(ds)))


def test_load_train_data_weights_every_root_by_instruction_or_env(roots):
    base = load_train_data(DataConfig(roots=roots), TinyConfig())
    for entry in (f"{TASKS[1]}=3", "peg-insert-side-v3=3"):
        data = load_train_data(DataConfig(roots=roots, task_weights=(entry,)), TinyConfig())
        mix = data.dataset
        assert isinstance(mix, MixtureDataset) and data.info["task_weights"] == [entry]
        # each root's share follows its weighted size: a 60 + 3 * 20 = 120, b 20 + 3 * 20 = 80
        assert mix.weights.tolist() == pytest.approx([0.6, 0.4])
        tasks = np.concatenate([d.sample_tasks() for d in mix.datasets])
        assert _share(mix, tasks) == pytest.approx(120 / 200, abs=0.04)
    tasks = np.concatenate([d.sample_tasks() for d in base.dataset.datasets])
    assert _share(base.dataset, tasks) == pytest.approx(40 / 120, abs=0.04)  # without weights: the frame share


@pytest.mark.parametrize("entry, message", [
    ("peg-insert-side-v3", "TASK=WEIGHT"), ("peg-insert-side-v3=-1", "TASK=WEIGHT"), ("=2", "TASK=WEIGHT"),
    ("pick-place-v3=2", "no training sample has"), ("reach-v3=0", None)])
def test_bad_task_weights_name_the_fix(roots, entry, message):
    if message is None:  # a valid entry that leaves a root with nothing to draw: named, not a bare ValueError
        with pytest.raises(ConfigError, match="weight 0"):
            load_train_data(DataConfig(roots=roots, task_weights=(entry, "peg-insert-side-v3=0")), TinyConfig())
        return
    with pytest.raises(ConfigError, match=message):
        load_train_data(DataConfig(roots=roots, task_weights=(entry,)), TinyConfig())


def test_parse_task_weights_keeps_instructions_with_spaces():
    assert parse_task_weights(("insert the peg into the hole from the side=2.5", "push-v3=0")) == {
        "insert the peg into the hole from the side": 2.5, "push-v3": 0.0}
