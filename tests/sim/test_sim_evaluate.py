"""The evaluation runner: seed guard, output files, baselines, chunked execution, workers, policy sources."""

import json

import numpy as np
import pytest
import torch

from vlaforge.core.keys import EMBODIMENT, IMAGE_PREFIX, STATE, TASK
from vlaforge.embodiments import get_embodiment
from vlaforge.sim.baselines import PRIVILEGED_OBS, ExpertPolicy, RandomPolicy
from vlaforge.sim.evaluate import run_eval
from vlaforge.sim.simulator import get_simulator
from vlaforge.sim.sources import BaselineSource, InProcessSource

RANDOM, EXPERT = BaselineSource("random"), BaselineSource("expert")
MW = get_simulator("metaworld")


def test_eval_refuses_collection_seeds(tmp_path):
    with pytest.raises(ValueError, match="below 10000"):
        run_eval(RANDOM, suite="reach", episodes_per_task=2, seed_start=0, workers=1, progress=False)
    with pytest.raises(ValueError, match="used to collect"):
        run_eval(RANDOM, suite="reach", episodes_per_task=2, training_seeds={10_001}, workers=1, progress=False)


def test_expert_run_writes_all_outputs(tmp_path):
    import av

    res = run_eval(EXPERT, suite="reach", episodes_per_task=1, max_steps=120, workers=1,
                   out_dir=tmp_path, image_size=32, progress=False)
    r = res["per_task"]["reach-v3"]
    assert r["success_rate"] == 1.0 and r["n_episodes"] == 1 and 0 < r["mean_length"] < 120
    assert res["privileged"] is True and res["mean_success"] == 1.0 and res["seed_start"] == 10_000
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["per_task"]["reach-v3"]["episodes"][0]["seed"] == 10_000
    assert "| reach-v3 | 100.0% |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "success.png").read_bytes()[:4] == b"\x89PNG"
    video = tmp_path / "videos" / "reach-v3_seed10000.mp4"
    with av.open(str(video)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert frames[0].shape == (256, 512, 3)  # two 32px cameras side by side, upscaled x8
    assert len(frames) == r["mean_length"] + 1  # initial frame + one per step


def test_random_policy_bounds_and_failure():
    p = RandomPolicy(get_embodiment("metaworld_sawyer"), seed=1)
    a = torch.cat([p.select_action({TASK: ["x"]}) for _ in range(200)])
    assert a.shape == (200, 4) and a.dtype == torch.float32
    assert a.min() >= -1 and a.max() <= 1 and a.std() > 0.4
    res = run_eval(RANDOM, suite="push", episodes_per_task=1, max_steps=20, workers=1, image_size=32,
                   progress=False)
    assert res["rendered"] is False  # baselines ignore images: cameras are skipped (no video asked)
    assert res["per_task"]["push-v3"]["episodes"][0] == {"seed": 10_000, "success": False, "length": 20,
                                                         "seconds": pytest.approx(0, abs=60), "video": None}


class ChunkPolicy:
    """Records what it sees; returns a constant chunk of 5 actions."""

    def __init__(self):
        self.calls, self.resets, self.seen = 0, 0, None

    def reset(self):
        self.resets += 1

    def predict_action_chunk(self, obs):
        self.calls += 1
        self.seen = obs
        return torch.zeros(1, 5, 4)


def test_chunked_execution_and_policy_obs():
    p = ChunkPolicy()
    res = run_eval(InProcessSource(p), suite="reach", episodes_per_task=1, max_steps=10, n_action_steps=3, workers=1,
                   image_size=32, progress=False)
    assert p.calls == 4 and p.resets == 1  # ceil(10 / 3) chunks
    assert res["n_action_steps"] == 3 and res["action_mode"] == "chunk" and res["privileged"] is False
    obs = p.seen
    assert obs[f"{IMAGE_PREFIX}corner2"].shape == (1, 1, 3, 32, 32) and obs[f"{IMAGE_PREFIX}corner2"].dtype == torch.uint8
    assert obs[STATE].shape == (1, 1, 4) and obs[STATE].dtype == torch.float32
    assert obs[TASK] == ["reach the red goal point"] and obs[EMBODIMENT] == ["metaworld_sawyer"]
    assert PRIVILEGED_OBS not in obs


class CountingPolicy(ChunkPolicy):
    """Reports a diagnostics counter, like UniVLA-AR's decode failures."""

    def diagnostics(self):
        return {"chunks": self.calls, "odd_chunks": self.calls // 2}


def test_policy_diagnostics_are_recorded_per_episode_and_summed(tmp_path):
    res = run_eval(InProcessSource(CountingPolicy()), suite="reach,push", episodes_per_task=1, max_steps=10, n_action_steps=5,
                   workers=1, image_size=32, progress=False, out_dir=tmp_path, videos_per_task=0)
    # 2 chunks per episode; the counters run on across episodes, each episode gets its own delta
    assert res["per_task"]["reach-v3"]["episodes"][0]["diagnostics"] == {"chunks": 2, "odd_chunks": 1}
    assert res["per_task"]["push-v3"]["diagnostics"] == {"chunks": 2, "odd_chunks": 1}
    assert res["diagnostics"] == {"chunks": 4, "odd_chunks": 2}
    assert "chunks 4, odd_chunks 2" in (tmp_path / "results.md").read_text()


def test_n_action_steps_overrides_a_library_policy():
    """A vlaforge Policy keeps its own history/queue; the runner only sets config.n_action_steps."""
    from vlaforge.core.config import PolicyConfig
    from vlaforge.core.policy import Policy

    class Zero(Policy):
        calls = 0

        def predict_action_chunk(self, obs, generator=None):
            Zero.calls += 1
            assert obs[STATE].shape == (1, 1, 4)  # (B, To, Ds) from the base class history
            return torch.zeros(1, self.config.chunk_size, 4)

    p = Zero(PolicyConfig(chunk_size=16, n_action_steps=8), normalizer=None, embodiments=[get_embodiment("metaworld_sawyer")])
    res = run_eval(InProcessSource(p), suite="reach", episodes_per_task=1, max_steps=10, n_action_steps=4, workers=1,
                   image_size=32, progress=False)
    assert Zero.calls == 3 and res["action_mode"] == "select_action" and res["n_action_steps"] == 4


def test_expert_needs_privileged_obs():
    with pytest.raises(KeyError, match="privileged"):
        ExpertPolicy(MW).select_action({STATE: torch.zeros(1, 4)})


@pytest.mark.slow
def test_two_worker_processes_match_inline():
    """Spawned workers load the policy themselves and give the same episodes as in-process."""
    kw = dict(suite="reach", episodes_per_task=2, max_steps=60, image_size=32, cameras=("corner2",), progress=False)
    pooled = run_eval(EXPERT, workers=2, **kw)
    inline = run_eval(EXPERT, workers=1, **kw)
    strip = lambda r: [(e["seed"], e["success"], e["length"]) for e in r["per_task"]["reach-v3"]["episodes"]]  # noqa: E731
    assert strip(pooled) == strip(inline) and all(s for _, s, _ in strip(inline))
    assert np.isclose(pooled["mean_success"], 1.0)


class _Counting:
    """A vlaforge Policy whose chunk j-th action is 100 * (query number) + j in every dim."""

    @staticmethod
    def make(chunk_size=4, n_obs_steps=1):
        from vlaforge.core.config import PolicyConfig
        from vlaforge.core.policy import Policy

        class Counting(Policy):
            def __init__(self, *a, **kw):
                super().__init__(*a, **kw)
                self.calls, self.frames = 0, []

            def predict_action_chunk(self, obs, generator=None):
                self.calls += 1
                self.frames.append(tuple(obs[STATE].shape))
                return (100.0 * self.calls + torch.arange(self.config.chunk_size, dtype=torch.float32))[None, :, None]\
                    .expand(1, -1, 4).clone()

        cfg = PolicyConfig(chunk_size=chunk_size, n_action_steps=2, n_obs_steps=n_obs_steps)
        return Counting(cfg, normalizer=None, embodiments=[get_embodiment("metaworld_sawyer")])


def _obs(t):
    return {STATE: torch.full((1, 4), float(t)), TASK: ["reach"], EMBODIMENT: ["metaworld_sawyer"]}


def test_temporal_ensemble_averages_every_stored_chunk_as_act():
    from vlaforge.sim.evaluate import TemporalEnsemble, PolicyActor

    p = _Counting.make(chunk_size=4)
    actor = PolicyActor(p, None, 4, TemporalEnsemble(k=0.0))  # k = 0: a plain mean of the overlapping predictions
    actor.reset()
    got = [float(actor.act(_obs(t))[0]) for t in range(6)]
    # step t: chunks queried at t0 = t-3..t (query number t0 + 1) predict 100 (t0 + 1) + (t - t0) for step t
    want = [np.mean([100 * (t0 + 1) + (t - t0) for t0 in range(max(0, t - 3), t + 1)]) for t in range(6)]
    assert np.allclose(got, want) and p.calls == 6
    actor.reset()  # a new episode forgets every stored chunk
    assert float(actor.act(_obs(0))[0]) == 700.0
    # ACT's k > 0 weights the oldest prediction most
    actor = PolicyActor(_Counting.make(chunk_size=4), None, 4, TemporalEnsemble(k=0.5))
    actor.reset()
    a0, a1 = (float(actor.act(_obs(t))[0]) for t in range(2))
    w = np.exp(-0.5 * np.arange(2)) / np.exp(-0.5 * np.arange(2)).sum()
    assert a0 == 100.0 and np.isclose(a1, w @ np.array([101.0, 200.0]))


def test_temporal_ensemble_queries_every_n_steps_and_keeps_the_history():
    from vlaforge.sim.evaluate import TemporalEnsemble, PolicyActor

    p = _Counting.make(chunk_size=4, n_obs_steps=2)
    actor = PolicyActor(p, None, 4, TemporalEnsemble(k=0.01, query_every=2))
    actor.reset()
    for t in range(5):
        actor.act(_obs(t))
    assert p.calls == 3 and actor.n_action_steps == 2  # queries at steps 0, 2, 4
    assert p.frames == [(1, 2, 4)] * 3  # the two-frame history, fed every step (also between queries)
    assert p._history.push(_obs(5))[STATE][0, :, 0].tolist() == [4.0, 5.0]


def test_temporal_ensemble_errors_name_the_fix(tmp_path):
    from vlaforge.core.errors import ConfigError
    from vlaforge.sim.evaluate import TemporalEnsemble, PolicyActor

    with pytest.raises(ConfigError, match="--n-action-steps and temporal ensembling"):
        PolicyActor(_Counting.make(), 4, 4, TemporalEnsemble())
    with pytest.raises(ConfigError, match="local checkpoint"):
        PolicyActor(type("RemotePolicy", (), {"select_action": lambda self, obs: None})(), None, 4, TemporalEnsemble())
    with pytest.raises(ConfigError, match="query_every=0"):
        TemporalEnsemble(query_every=0)
    res = run_eval(InProcessSource(_Counting.make()), suite="reach", episodes_per_task=1, max_steps=5, workers=1,
                   image_size=32, progress=False, out_dir=tmp_path, videos_per_task=0,
                   ensemble=TemporalEnsemble(k=0.01))
    assert res["action_mode"] == "ensemble" and res["temporal_ensemble"] == {"k": 0.01, "query_every": 1}
    assert "temporal ensembling (k 0.01, a chunk every 1 steps)" in (tmp_path / "results.md").read_text()
