"""benchmarks/fit_gap.py: the chunk-error, drift and reliance measures mean what their docstrings say."""

import numpy as np
import pytest
import torch

from vlaforge.core.keys import ACTION, IMAGE_PREFIX, STATE
from vlaforge.data.lerobot import LeRobotDatasetWriter
from vlaforge.testing import DummyPolicy, make_dummy_policy

from tests.benchmarks.conftest import load_benchmark

fit_gap = load_benchmark("fit_gap")
chunk_errors, reliance = fit_gap.chunk_errors, fit_gap.reliance

CAMS = ("corner2", "gripperPOV")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """Three episodes (12, 13, 14 frames) of random frames, states and actions, one task."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("fit_gap") / "demos"
    w = LeRobotDatasetWriter(root, fps=80, robot_type="metaworld_sawyer", cameras=CAMS, image_size=(16, 16))
    for t in (12, 13, 14):
        ep = {IMAGE_PREFIX + c: rng.integers(0, 255, size=(t, 16, 16, 3), dtype=np.uint8) for c in CAMS}
        ep[STATE] = rng.normal(size=(t, 4)).astype(np.float32)
        ep[ACTION] = rng.uniform(-0.5, 0.5, size=(t, 4)).astype(np.float32)
        w.add_episode(ep, task="push the puck")
    w.finalize()
    return str(root)


def _as(policy: DummyPolicy, fn) -> DummyPolicy:
    policy.predict_action_chunk = fn
    return policy


def test_chunk_error_and_drift_in_action_stds(root):
    """The dummy stats give every action dim a std of 0.1: an offset of 0.1 is one std. The same sign on every
    step is a drift of one std; signs alternating over the two executed steps cancel (except where the second
    step is past the episode's end: one sample in 13)."""
    policy = make_dummy_policy(cameras=CAMS, n_action_steps=2)
    sign = torch.tensor([1.0, -1.0] * 3)[None, :, None]  # (1, H=6, 1)
    same = chunk_errors(_as(policy, lambda obs, generator=None: obs[ACTION] + 0.1), root, 100, 0)
    alternating = chunk_errors(_as(make_dummy_policy(cameras=CAMS, n_action_steps=2),
                                   lambda obs, generator=None: obs[ACTION] + 0.1 * sign), root, 100, 0)
    exact = chunk_errors(_as(make_dummy_policy(cameras=CAMS, n_action_steps=2),
                             lambda obs, generator=None: obs[ACTION]), root, 100, 0)
    assert same["frames"] == 39 and set(same["per_task"]) == {"push the puck"}
    assert same["position"] == pytest.approx(1.0, abs=1e-3) and same["drift"] == pytest.approx(1.0, abs=1e-3)
    assert same["gripper"] == pytest.approx(0.05, abs=1e-3)  # 0.1 over the gripper's range of 2
    assert alternating["position"] == pytest.approx(1.0, abs=1e-3)
    assert alternating["drift"] == pytest.approx(3 / 39, abs=1e-3)
    assert exact["position"] == exact["drift"] == exact["gripper"] == 0.0


def test_reliance_tells_a_state_follower_from_an_image_reader(root):
    def from_state(obs, generator=None):  # (B, H, 4): the state, repeated over the chunk
        return obs[STATE][:, -1:, :4].expand(-1, 6, -1) * 0.1

    def from_images(obs, generator=None):
        m = torch.stack([obs[IMAGE_PREFIX + c].float().mean((1, 2, 3, 4)) / 255 for c in CAMS], 1)  # (B, 2)
        return m.sum(1)[:, None, None].expand(-1, 6, 4).contiguous()

    follower = reliance(_as(make_dummy_policy(cameras=CAMS), from_state), root, 100, 0)
    reader = reliance(_as(make_dummy_policy(cameras=CAMS), from_images), root, 100, 0)
    assert follower["pairs"] > 20 and follower["moved_by_images"] == 0.0 and follower["moved_by_state"] > 0.1
    assert reader["moved_by_state"] == 0.0 and reader["moved_by_images"] > 0.01


def test_onpolicy_summary_splits_closed_loop_by_outcome():
    onpolicy_gap = load_benchmark("onpolicy_gap")  # it imports study_push beside it
    gap = {"teacher_forced": [{"gap": [0.1, 0.1], "success": True}],
           "closed_loop": [{"gap": [0.2, 0.4], "success": False}, {"gap": [0.1], "success": True}]}
    s = onpolicy_gap.summarise(gap)
    assert s == {"teacher_forced": 0.1, "closed_loop": pytest.approx(0.2333, abs=1e-4), "closed_loop_failed": 0.3,
                 "closed_loop_succeeded": 0.1, "success": 0.5}
    # with the hand-object distance: each mode split where the hand first comes within 4 cm of the object
    gap["teacher_forced"][0]["hand_puck"] = [0.10, 0.02]
    gap["closed_loop"][0]["hand_puck"] = [0.10, 0.05]  # never reached: all of it is approach
    gap["closed_loop"][1]["hand_puck"] = [0.03]
    s = onpolicy_gap.summarise(gap)
    assert (s["teacher_forced_approach"], s["teacher_forced_after_contact"]) == (0.1, 0.1)
    assert (s["closed_loop_approach"], s["closed_loop_after_contact"]) == (pytest.approx(0.3), 0.1)
    assert s["closed_loop_reached"] == 0.5


def test_tasks_draw_the_frames_from_those_tasks_only(tmp_path):
    rng = np.random.default_rng(1)
    w = LeRobotDatasetWriter(tmp_path / "two", fps=80, robot_type="metaworld_sawyer", cameras=CAMS, image_size=(16, 16))
    for t, task in ((12, "push the puck"), (15, "insert the peg"), (11, "push the puck")):
        ep = {IMAGE_PREFIX + c: rng.integers(0, 255, size=(t, 16, 16, 3), dtype=np.uint8) for c in CAMS}
        ep[STATE] = rng.normal(size=(t, 4)).astype(np.float32)
        ep[ACTION] = rng.uniform(-0.5, 0.5, size=(t, 4)).astype(np.float32)
        w.add_episode(ep, task=task)
    w.finalize()
    root = str(tmp_path / "two")
    exact = _as(make_dummy_policy(cameras=CAMS), lambda obs, generator=None: obs[ACTION])
    peg = chunk_errors(exact, root, 100, 0, tasks=("insert the peg",))
    assert peg["frames"] == 15 and set(peg["per_task"]) == {"insert the peg"}
    assert set(chunk_errors(exact, root, 100, 0)["per_task"]) == {"push the puck", "insert the peg"}
    with pytest.raises(SystemExit, match="its tasks are"):
        chunk_errors(exact, root, 100, 0, tasks=("open the door",))


def test_rollouts_split_the_error_by_outcome_and_step(tmp_path, root):
    """Labelled rollouts (``collect --actor``) record each episode's success_step, empty when it failed: the error of
    the failed episode's samples is reported apart from the others', and by the samples' step in the episode."""
    rng = np.random.default_rng(2)
    w = LeRobotDatasetWriter(tmp_path / "roll", fps=80, robot_type="metaworld_sawyer", cameras=CAMS,
                             image_size=(16, 16))
    for t, success_step in ((30, 20), (60, None), (30, 25)):
        ep = {IMAGE_PREFIX + c: rng.integers(0, 255, size=(t, 16, 16, 3), dtype=np.uint8) for c in CAMS}
        ep[STATE] = np.full((t, 4), 1.0 if success_step is None else 0.0, dtype=np.float32)  # marks the failed one
        ep[ACTION] = rng.uniform(-0.5, 0.5, size=(t, 4)).astype(np.float32)
        w.add_episode(ep, task="push the puck", extra={"success_step": success_step})
    w.finalize()
    demos, root = root, str(tmp_path / "roll")

    def off_when_failed(obs, generator=None):  # one std (0.1) off on the failed episode's samples only
        return obs[ACTION] + 0.1 * obs[STATE][:, -1:, :1]

    r = chunk_errors(_as(make_dummy_policy(cameras=CAMS), off_when_failed), root, 200, 0)
    o = r["by_outcome"]["push the puck"]
    assert (o["failed"]["frames"], o["succeeded"]["frames"]) == (60, 60)
    assert o["failed"]["position"] == pytest.approx(1.0, abs=1e-3) and o["succeeded"]["position"] == 0.0
    assert o["succeeded"]["progress"] == pytest.approx(1.0, abs=1e-4)
    assert set(o["failed"]["by_step"]) == {"0-25", "25-50", "50-100"}
    assert set(o["succeeded"]["by_step"]) == {"0-25", "25-50"}
    # demos (every episode succeeded): the same split, all of it under "succeeded"
    w = LeRobotDatasetWriter(tmp_path / "ok", fps=80, robot_type="metaworld_sawyer", cameras=CAMS, image_size=(16, 16))
    for t in (30, 40):
        ep = {IMAGE_PREFIX + c: rng.integers(0, 255, size=(t, 16, 16, 3), dtype=np.uint8) for c in CAMS}
        ep[STATE] = np.zeros((t, 4), dtype=np.float32)
        ep[ACTION] = rng.uniform(-0.5, 0.5, size=(t, 4)).astype(np.float32)
        w.add_episode(ep, task="push the puck", extra={"success_step": t - 5})
    w.finalize()
    ok = chunk_errors(_as(make_dummy_policy(cameras=CAMS), off_when_failed), str(tmp_path / "ok"), 200, 0)
    assert set(ok["by_outcome"]["push the puck"]) == {"succeeded"}
    assert ok["by_outcome"]["push the puck"]["succeeded"]["frames"] == 70
    png = tmp_path / "outcomes.png"  # the chart main() draws beside --out
    fit_gap.plot_outcomes({"dummy": {"train": r}}, {"train": root}, png)
    assert png.read_bytes()[:4] == b"\x89PNG"
    # demos (no success_step recorded) get no split
    assert "by_outcome" not in chunk_errors(_as(make_dummy_policy(cameras=CAMS), off_when_failed), demos, 100, 0)


def test_progress_measures_the_chunk_along_the_experts_displacement(root):
    """1 where the chunk moves the hand as the expert's does, 0 where it stands still, -1 where it moves back, 0.5
    where it moves half as far; a move across the expert's direction adds nothing."""
    def scaled(f):
        return _as(make_dummy_policy(cameras=CAMS, n_action_steps=2), lambda obs, generator=None: obs[ACTION] * f)

    assert chunk_errors(scaled(1.0), root, 100, 0)["progress"] == pytest.approx(1.0, abs=1e-4)
    assert chunk_errors(scaled(0.0), root, 100, 0)["progress"] == 0.0
    assert chunk_errors(scaled(-1.0), root, 100, 0)["progress"] == pytest.approx(-1.0, abs=1e-4)
    half = chunk_errors(scaled(0.5), root, 100, 0)
    assert half["progress"] == pytest.approx(0.5, abs=1e-4)
    assert half["per_task"]["push the puck"]["progress"] == pytest.approx(0.5, abs=1e-4)
    assert fit_gap.progress(np.array([0.0, 0.0]), np.array([0.0, 0.0])) is None  # the expert does not move
