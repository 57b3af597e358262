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


class _Integrator:
    """A 1-D point that moves by the executed action; the expert drives it to 0 (closed loop)."""

    def __init__(self):
        self.x = 0.0
        self.executed = []

    def _step(self):
        from vlaforge.sim.simulator import Step

        return Step(obs={STATE: np.array([self.x, 0.0], np.float32)}, privileged=self.x, success=abs(self.x) < 1e-3)

    def reset(self, seed, render=True):
        self.x = 1.0
        return self._step()

    def step(self, action, render=True):
        self.executed.append(np.array(action))
        self.x += float(action[0])
        return self._step()


def _point_worker(monkeypatch, actor):
    """This module's 1-D integrator under a closed-loop expert (x -> 0), with ``actor`` driving when not None."""
    from vlaforge.core.embodiment import EmbodimentSpec
    from vlaforge.sim import collect as C

    emb = EmbodimentSpec(name="point", action_names=("dx", "grip"), state_names=("x", "g"), action_low=(-1, -1),
                         action_high=(1, 1), cameras=(), fps=10, gripper_dims=(1,))
    env = _Integrator()

    class Expert:
        def reset(self, env, step):
            pass

        def act(self, step):
            return np.array([-0.5 * step.privileged, 1.0], np.float32)

    worker = {"sim": type("Sim", (), {"embodiment": emb})(), "envs": type("E", (), {"get": lambda self, t: env})(),
              "experts": {"t": Expert()}}
    if actor is not None:
        worker["actor"] = actor
    monkeypatch.setattr(C, "_WORKER", worker)
    monkeypatch.setattr(C, "_actor_action", lambda actor, step, task, sim: actor.act(step))
    return C, env


def test_action_noise_perturbs_the_executed_action_and_records_the_clean_one(monkeypatch):
    """DART: the env moves by expert + noise, the row records the expert's action at the state reached."""
    C, env = _point_worker(monkeypatch, None)
    ep = C.run_expert_episode("t", seed=3, max_steps=30, extra_steps=0, noise_std=0.2, noise_hold=4)
    x, executed = ep.state[:, 0], np.stack(env.executed)
    np.testing.assert_allclose(ep.action[:, 0], -0.5 * x, rtol=1e-6)  # the clean expert label at each state
    noise = executed[:, 0] - ep.action[:, 0]
    assert np.abs(noise).max() > 0.05 and (executed[:, 1] == 1.0).all()  # position perturbed, gripper not
    np.testing.assert_allclose(noise[:4], noise[0], atol=1e-6)  # one sample held for noise_hold steps
    assert not np.allclose(noise[4:8], noise[0])
    env.executed.clear()
    again = C.run_expert_episode("t", seed=3, max_steps=30, extra_steps=0, noise_std=0.2, noise_hold=4)
    np.testing.assert_array_equal(again.state, ep.state)  # seeded by the episode's seed


def test_action_noise_needs_a_closed_loop_expert(tmp_path):
    with pytest.raises(ValueError, match="replays a trajectory"):
        collect(CollectConfig(out=str(tmp_path / "a"), simulator="aloha", action_noise=0.1),
                writer_factory=lambda c, k: RecordingWriter(), progress=False)
    with pytest.raises(ValueError, match="must be >= 0"):
        collect(_cfg(tmp_path, action_noise=-1.0), writer_factory=lambda c, k: RecordingWriter(), progress=False)


def test_actor_drives_and_the_expert_labels_the_states_it_reaches(monkeypatch):
    """DAgger: the env moves by the policy's action (here one that overshoots), each row records the expert's
    action at the state the policy reached, and the policy is reset at the start of every episode."""
    class Overshoot:
        resets = 0

        def reset(self):
            self.resets += 1

        def act(self, step):
            return np.array([-1.5 * step.privileged, -1.0], np.float32)  # never converges: |1 - 1.5| = 0.5 per step

    actor = Overshoot()
    C, env = _point_worker(monkeypatch, actor)
    ep = C.run_expert_episode("t", seed=0, max_steps=12, extra_steps=0)
    x, executed = ep.state[:, 0], np.stack(env.executed)
    np.testing.assert_allclose(executed[:, 0], -1.5 * x, rtol=1e-6)  # the actor's action was executed
    np.testing.assert_allclose(ep.action[:, 0], -0.5 * x, rtol=1e-6)  # the expert's label was recorded
    assert (ep.action[:, 1] == 1.0).all() and (executed[:, 1] == -1.0).all()
    np.testing.assert_allclose(x[:3], [1.0, -0.5, 0.25])  # the actor's path, not the expert's (1, 0.5, 0.25)
    C.run_expert_episode("t", seed=1, max_steps=3, extra_steps=0)
    assert actor.resets == 2


def test_actor_keeps_failed_rollouts(tmp_path):
    """A DAgger collection keeps every rollout (a failed one's states are the ones to label) and reports the
    failures; the real worker path loads the checkpoint and drives Meta-World with it."""
    from vlaforge.testing import make_dummy_checkpoint

    ckpt = make_dummy_checkpoint(tmp_path / "ckpt", image_size=(32, 32), cameras=("corner2",))
    w = RecordingWriter()
    summary = collect(_cfg(tmp_path, max_steps=15, actor=str(ckpt)), writer_factory=lambda c, k: w, progress=False)
    rep = summary["per_task"]["reach-v3"]
    assert [e[2]["seed"] for e in w.episodes] == [0, 1] == rep["kept_seeds"]  # no seed replaced
    assert rep["kept_failures"] == 2 and rep["failed_seeds"] == [0, 1] and summary["episodes"] == 2
    frames, _, extra = w.episodes[0]
    assert frames[ACTION].shape == (15, 4) and extra["success_step"] is None
    assert np.abs(frames[ACTION]).max() <= 1.0  # labels clipped to the action bounds, as demos record them


def test_actor_must_see_what_the_collection_renders(tmp_path):
    from vlaforge.testing import make_dummy_checkpoint

    ckpt = make_dummy_checkpoint(tmp_path / "ckpt", image_size=(16, 16), cameras=("corner2",))
    with pytest.raises(ValueError, match="--cameras corner2 --image-size 16"):
        collect(_cfg(tmp_path, actor=str(ckpt)), writer_factory=lambda c, k: RecordingWriter(), progress=False)
    with pytest.raises(ValueError, match="not a checkpoint directory"):
        collect(_cfg(tmp_path, actor=str(tmp_path)), writer_factory=lambda c, k: RecordingWriter(), progress=False)
    with pytest.raises(ValueError, match="--no-actions records none"):
        collect(_cfg(tmp_path, actor=str(ckpt), no_actions=True), writer_factory=lambda c, k: RecordingWriter(),
                progress=False)
