"""Action-chunk broker: one action per step, temporal ensembling, chunk blending."""

from __future__ import annotations

import numpy as np
import pytest

from vlaforge.serve.broker import ActionChunkBroker, ensemble_weights


class CountingPolicy:
    """Chunk predicted at query q: actions[j] = 100*q + j (one dim), so every value names its source."""

    def __init__(self, horizon: int = 5):
        self.horizon, self.calls, self.resets, self.observed = horizon, 0, [], 0

    def infer(self, obs):
        q = self.calls
        self.calls += 1
        return {"actions": (100.0 * q + np.arange(self.horizon, dtype=np.float32))[:, None]}

    def observe(self, obs):
        self.observed += 1

    def reset(self, seed=None):
        self.resets.append(seed)

    def get_server_metadata(self):
        return {"history_span": 2}


def run(broker, steps):
    return [float(broker.infer({})["actions"][0]) for _ in range(steps)]


def test_plain_broker_hands_out_chunks_then_requeries():
    p = CountingPolicy()
    b = ActionChunkBroker(p, action_horizon=3)
    assert run(b, 7) == [0, 1, 2, 100, 101, 102, 200]
    assert p.calls == 3 and p.observed == 4  # history-keeping server sees every skipped step
    b.reset(seed=7)
    assert p.resets == [7] and run(b, 1) == [300]


def test_temporal_ensemble_matches_exponential_weights():
    p = CountingPolicy(horizon=5)
    k = 0.3
    b = ActionChunkBroker(p, action_horizon=1, smoothing="ensemble", ensemble_k=k)
    got = run(b, 4)
    for t in range(4):  # chunks from queries 0..t all cover step t; query q predicts 100q + (t - q)
        preds = np.array([100 * q + (t - q) for q in range(t + 1)], dtype=np.float64)
        assert got[t] == pytest.approx(float((ensemble_weights(t + 1, k) * preds).sum()), rel=1e-5)
    w = ensemble_weights(3, k)
    assert w[0] > w[1] > w[2] and w.sum() == pytest.approx(1.0)


def test_ensemble_drops_expired_chunks():
    p = CountingPolicy(horizon=2)
    b = ActionChunkBroker(p, action_horizon=1, smoothing="ensemble", ensemble_k=0.0)
    got = run(b, 3)
    assert got[2] == pytest.approx((101 + 200) / 2)  # query 0's chunk no longer covers step 2


def test_blend_crossfades_from_leftover():
    p = CountingPolicy(horizon=5)
    b = ActionChunkBroker(p, action_horizon=3, smoothing="blend", blend_steps=2)
    got = run(b, 6)
    assert got[:3] == [0, 1, 2]
    # leftover of chunk 0 for steps 3, 4 is (3, 4); new chunk is (100, 101, 102); alpha = 1/3, 2/3
    assert got[3] == pytest.approx(2 / 3 * 3 + 1 / 3 * 100)
    assert got[4] == pytest.approx(1 / 3 * 4 + 2 / 3 * 101)
    assert got[5] == 102


def test_bad_options():
    with pytest.raises(ValueError, match="smoothing"):
        ActionChunkBroker(CountingPolicy(), 3, smoothing="avg")
