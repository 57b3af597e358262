"""Collection: seed order, success filtering, no-actions mode, and the real LeRobot writer."""

import numpy as np
import pytest

from vlaforge.core.keys import ACTION, IMAGE_PREFIX, STATE
from vlaforge.sim.collect import CollectConfig, collect


class RecordingWriter:
    def __init__(self):
        self.episodes = []
        self.finalized = False

    def add_episode(self, frames, task, extra):
        self.episodes.append((frames, task, extra))

    def finalize(self):
        self.finalized = True


def _cfg(tmp_path, **kw):
    base = dict(out=str(tmp_path / "ds"), tasks="reach", episodes_per_task=2, image_size=32, cameras="corner2",
                workers=1, max_steps=150, extra_steps=2)
    return CollectConfig(**{**base, **kw})


def test_failed_seeds_are_replaced_in_order(tmp_path):
    """reach's expert needs 45, 50, 40 steps on seeds 0, 1, 2: with 47 steps seed 1 fails and seed 2 replaces it."""
    w = RecordingWriter()
    summary = collect(_cfg(tmp_path, max_steps=47, max_seeds_per_task=4), writer_factory=lambda cfg, cams: w,
                      progress=False)
    rep = summary["per_task"]["reach-v3"]
    assert w.finalized
    assert [e[2]["seed"] for e in w.episodes] == [0, 2] == rep["kept_seeds"]
    assert rep["failed_seeds"] == [1] and rep["successes"] == 2 and summary["failures"] == 1


def test_episode_rows_and_no_actions(tmp_path):
    w = RecordingWriter()
    collect(_cfg(tmp_path), writer_factory=lambda cfg, cams: w, progress=False)
    frames, task, extra = w.episodes[0]
    assert task == "reach the red goal point" and extra["env"] == "reach-v3" and extra["seed"] == 0
    t = len(frames[STATE])
    assert frames[f"{IMAGE_PREFIX}corner2"].shape == (t, 32, 32, 3)
    assert frames[ACTION].shape == (t, 4) and frames[ACTION].dtype == np.float32
    assert extra["success_step"] == t - 3  # success row + 2 extra steps

    w2 = RecordingWriter()
    collect(_cfg(tmp_path, no_actions=True, episodes_per_task=1), writer_factory=lambda c, k: w2, progress=False)
    assert set(w2.episodes[0][0]) == {f"{IMAGE_PREFIX}corner2"}


def test_real_writer_round_trip(tmp_path):
    from vlaforge.data.lerobot import load_meta, read_frames
    from vlaforge.sim.metaworld import MetaWorldEnv

    cfg = _cfg(tmp_path, episodes_per_task=1, cameras="corner2,gripperPOV", tasks="reach,drawer-close")
    summary = collect(cfg, progress=False)
    meta = load_meta(cfg.out)
    assert meta.total_episodes == 2 and meta.cameras == ("corner2", "gripperPOV") and meta.has_actions
    assert [meta.episode_extra(i)["env"] for i in range(2)] == ["reach-v3", "drawer-close-v3"]
    assert summary["episodes"] == 2 and summary["steps_per_s"] > 0
    state = read_frames(meta, [STATE])[STATE]
    with MetaWorldEnv("drawer-close", image_size=32, cameras=("corner2",)) as env:
        first = env.reset(0).obs[STATE]
    np.testing.assert_array_equal(state[meta.episode_range(1)[0]], first)  # row 0 = obs before action 0


def test_collection_seeds_stay_below_eval_range(tmp_path):
    with pytest.raises(ValueError, match="evaluation range"):
        collect(_cfg(tmp_path, seed_start=9_990), writer_factory=lambda c, k: RecordingWriter(), progress=False)


def test_killed_collection_resumes_where_it_stopped(tmp_path):
    from vlaforge.data.errors import NotFinalizedError
    from vlaforge.data.lerobot import load_meta
    from vlaforge.sim.collect import _default_writer

    cfg = _cfg(tmp_path, episodes_per_task=1, tasks="reach,drawer-close", episodes_per_file=1)

    def dies_on_second_episode(c, cams):
        w = _default_writer(c, cams)
        add = w.add_episode

        def add_once(frames, task, extra):
            if w.num_episodes >= 1:
                raise KeyboardInterrupt  # the collection is killed while writing drawer-close
            return add(frames, task, extra)

        w.add_episode = add_once
        return w

    with pytest.raises(KeyboardInterrupt):
        collect(cfg, writer_factory=dies_on_second_episode, progress=False)
    with pytest.raises(NotFinalizedError):
        load_meta(cfg.out)  # a half-written dataset is never read as complete
    with pytest.raises(ValueError, match="pass only one"):
        collect(_cfg(tmp_path, resume=True, overwrite=True), progress=False)
    summary = collect(_cfg(tmp_path, episodes_per_task=1, tasks="reach,drawer-close", episodes_per_file=1,
                           resume=True), progress=False)
    assert summary["per_task"]["reach-v3"]["resumed_seeds"] == [0]  # kept from the killed run, not re-collected
    assert summary["per_task"]["reach-v3"]["successes"] == 0
    assert summary["per_task"]["drawer-close-v3"]["kept_seeds"] == [0] and summary["episodes"] == 2
    meta = load_meta(cfg.out)
    assert [meta.episode_extra(i)["env"] for i in range(2)] == ["reach-v3", "drawer-close-v3"]
    with pytest.raises(ValueError, match="--tasks does not list"):
        collect(_cfg(tmp_path, episodes_per_task=1, tasks="push", resume=True), progress=False)
    assert load_meta(cfg.out).total_episodes == 2  # the refused resume left the finished dataset intact
