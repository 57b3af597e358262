"""ALOHA in simulation: gym-aloha's scenes stepped directly, checked against gym-aloha's own env, the scripted
experts (end-effector twin -> joint trajectory -> corrected replay), and collection into LeRobot v3."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gym_aloha")

from vlaforge.core.keys import IMAGE_PREFIX, STATE  # noqa: E402
from vlaforge.sim.aloha import AlohaEnv, ScriptedExpert, expert_actions, joint_trajectory, sample_objects  # noqa: E402
from vlaforge.sim.simulator import get_simulator, simulator_for  # noqa: E402


def test_the_suite_names_both_tasks_and_nothing_else():
    sim = get_simulator("aloha")
    assert sim.resolve_tasks("aloha") == ["transfer-cube", "insertion"]
    assert sim.resolve_tasks("insertion,transfer_cube") == ["insertion", "transfer-cube"]
    assert simulator_for("aloha") is sim and simulator_for("mt10").name == "metaworld"
    with pytest.raises(KeyError, match="unknown ALOHA task"):
        sim.resolve_tasks("transfer-sphere")
    assert sim.fps == 50 and sim.max_steps == 400 and sim.embodiment.action_dim == 14


def test_env_is_a_function_of_the_seed_and_renders_the_three_cameras():
    with AlohaEnv("transfer-cube", 32) as env:
        a, b = env.reset(3), env.reset(3)
        assert a.obs[STATE].shape == (14,) and a.obs[STATE].dtype == np.float32
        for cam in ("top", "left_wrist", "right_wrist"):
            img = a.obs[IMAGE_PREFIX + cam]
            assert img.shape == (32, 32, 3) and img.dtype == np.uint8 and img.std() > 1  # not a blank frame
        np.testing.assert_array_equal(a.privileged["objects"], b.privileged["objects"])
        assert not np.array_equal(env.reset(4).privileged["objects"], a.privileged["objects"])
        with pytest.raises(ValueError, match="14-D joint action"):
            env.step(np.zeros(4))


def test_stepping_matches_gym_aloha_own_env():
    """Same seed, same actions: our direct stepping and gym-aloha's dm-control env go through the same states."""
    from gym_aloha.env import AlohaEnv as GymAloha

    actions, _ = expert_actions("transfer-cube", sample_objects("transfer-cube", 0), iterations=0)
    theirs = GymAloha("transfer_cube", obs_type="pixels_agent_pos", observation_width=32, observation_height=32)
    obs, _ = theirs.reset(seed=0)
    ours = AlohaEnv("transfer-cube", 32, cameras=())
    step = ours.reset(0, render=False)
    np.testing.assert_allclose(step.obs[STATE], obs["agent_pos"], atol=1e-6)
    for a in actions[:25]:
        obs, reward, *_ = theirs.step(a)
        step = ours.step(a, render=False)
    np.testing.assert_allclose(step.obs[STATE], obs["agent_pos"], atol=1e-4)
    assert step.reward == reward
    ours.close()


def test_transfer_cube_expert_succeeds_in_the_joint_position_env():
    env, expert = AlohaEnv("transfer-cube", 32, cameras=()), ScriptedExpert("transfer-cube")
    for seed in (0, 2):
        step = env.reset(seed, render=False)
        expert.reset(env, step)
        success = False
        for _ in range(400):
            step = env.step(expert.act(step), render=False)
            success = success or step.success
        assert success and expert.info["replay_success"], (seed, expert.info)
    env.close()


def test_the_private_replay_predicts_the_env_exactly():
    """The expert decides on a private replay, so the env must go through bit-identical states (a float32
    vs float64 gripper target once made 12% of privately successful replays fail in the env)."""
    from vlaforge.sim.aloha import _joint_scene, replay

    objects = sample_objects("transfer-cube", 10003)
    actions, _ = expert_actions("transfer-cube", objects, iterations=0)
    private, _ = replay(_joint_scene("transfer-cube"), objects, actions[:150])
    env = AlohaEnv("transfer-cube", 32, cameras=())
    step = env.reset(10003, render=False)
    for t, a in enumerate(actions[:150]):
        step = env.step(a, render=False)
        np.testing.assert_array_equal(step.obs[STATE], private[t])
    env.close()


def test_insertion_twin_grasps_and_lifts_both_objects():
    """The end-effector twin picks both objects off the table (reward >= 2 needs both lifted and held);
    whether the peg goes in is measured by the benchmark, not asserted here (it is below target)."""
    from vlaforge.sim.aloha import _ee_scene

    traj, _ = joint_trajectory("insertion", sample_objects("insertion", 0), steps=300)
    scene = _ee_scene("insertion")
    assert traj.shape == (300, 14) and np.isfinite(traj).all()
    assert scene.data.body("peg").xpos[2] > 0.05 and scene.data.body("socket").xpos[2] > 0.05


def test_collect_aloha_writes_a_lerobot_dataset(tmp_path):
    from vlaforge.data.lerobot import load_meta
    from vlaforge.sim.collect import CollectConfig, collect

    out = tmp_path / "aloha"
    summary = collect(CollectConfig(out=str(out), simulator="aloha", tasks="transfer-cube", episodes_per_task=1,
                                    image_size=16, workers=0), progress=False)
    assert summary["episodes"] == 1 and summary["config"]["cameras"] == "top,left_wrist,right_wrist"
    meta = load_meta(out)
    assert meta.fps == 50 and meta.robot_type == "aloha" and meta.total_episodes == 1
    assert meta.features["action"]["shape"] == [14] and meta.features[STATE]["shape"] == [14]
    assert {IMAGE_PREFIX + c for c in ("top", "left_wrist", "right_wrist")} <= set(meta.features)


def test_env_clips_actions_to_the_joint_range_like_the_expert_replay():
    """The runner steps the env with the expert's (ILC-corrected) actions unclipped; the env clips them, as
    the private replay does, so the two go through the same states."""
    from vlaforge.embodiments import get_embodiment

    with AlohaEnv("insertion", 16, ()) as a, AlohaEnv("insertion", 16, ()) as b:
        sa, sb = a.reset(3, render=False), b.reset(3, render=False)
        wild = sa.obs[STATE].astype(np.float64) + 10.0  # far past every joint limit
        high = np.array(get_embodiment("aloha").action_high, np.float64)
        for _ in range(5):
            sa, sb = a.step(wild, render=False), b.step(high, render=False)
        np.testing.assert_array_equal(sa.obs[STATE], sb.obs[STATE])


def test_eval_reports_how_far_episodes_got_in_the_staged_reward(tmp_path):
    """The expert reaches every stage of transfer-cube; a random policy never transfers. results.json and
    results.md carry the per-stage shares (the ACT paper's subtask columns)."""
    from vlaforge.sim.evaluate import run_eval
    from vlaforge.sim.sources import BaselineSource

    res = run_eval(BaselineSource("expert"), "transfer-cube", episodes_per_task=1, workers=1, progress=False,
                   out_dir=tmp_path / "expert", videos_per_task=0)
    stages = res["per_task"]["transfer-cube"]["stages"]
    assert list(stages) == ["touched", "lifted", "transfer attempted", "transferred"]
    assert all(v == 1.0 for v in stages.values()) and res["per_task"]["transfer-cube"]["episodes"][0]["max_reward"] == 4
    assert "touched 100% · lifted 100%" in (tmp_path / "expert" / "results.md").read_text()
    rnd = run_eval(BaselineSource("random"), "transfer-cube", episodes_per_task=1, max_steps=40, workers=1,
                   progress=False, videos_per_task=0)
    assert rnd["per_task"]["transfer-cube"]["stages"]["transferred"] == 0.0
