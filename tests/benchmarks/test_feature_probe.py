"""benchmarks/feature_probe.py: linear probes of where things are, from each policy's read-out features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlaforge.core.normalize import Normalizer
from vlaforge.embodiments import get_embodiment
from vlaforge.testing import fake_batch, observation

from tests.benchmarks.conftest import load_benchmark

SPEC = get_embodiment("metaworld_sawyer")
STATS = {SPEC.name: {"observation.state": {"mean": [0.0, 0.6, 0.2, 0.5], "std": [0.1, 0.1, 0.1, 0.3]},
                     "action": {"mean": [0.0, 0.1, -0.1, 0.0], "std": [0.5, 0.4, 0.3, 0.9]}}}


def _load():
    return load_benchmark("feature_probe")


def _xvla():
    from vlaforge.models.xvla import XVLAConfig

    cfg = XVLAConfig.from_preset("tiny", text_encoder="hash", width=32, depth=1, heads=2, stem_channels=(8, 8, 8, 8),
                                 convs_per_stage=1, soft_prompt_len=4, chunk_size=6, max_seq_len=128,
                                 objective="regression")
    return cfg.create(Normalizer(STATS, [SPEC]), [SPEC]).eval()


def _bc():
    from vlaforge.models.bc import BCConfig
    from vlaforge.nn.encoders import ImageEncoderConfig

    cfg = BCConfig.from_preset("tiny", text_encoder="hash", image_size=(32, 32), hidden=24,
                               encoder=ImageEncoderConfig(shift_pad=0, stem_channels=(8, 16, 16)))
    return cfg.create(Normalizer(STATS, [SPEC]), [SPEC]).eval()


def _frames(n_seeds=12, per=20, seed=0):
    """Synthetic frames: per seed a goal, per frame a hand; privileged rows in Meta-World's layout."""
    rng = np.random.default_rng(seed)
    priv, seeds = [], []
    for s in range(n_seeds):
        goal, obj = rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 3)
        goal[2] = 0.3  # a goal height the task fixes: left out of R^2
        for _ in range(per):
            p = np.zeros(12)
            p[:3], p[4:7], p[-3:] = rng.uniform(-1, 1, 3), obj, goal
            priv.append(p)
            seeds.append(s)
    priv = np.array(priv)
    phase = np.where(np.arange(len(priv)) % 2 == 0, "carry", "align")
    return {"seed": np.array(seeds), "privileged": priv, "phase": phase}


def test_the_probe_finds_a_linear_read_out_and_not_noise():
    fp = _load()
    frames = _frames()
    p, rng = frames["privileged"], np.random.default_rng(1)
    mix = rng.normal(size=(12, 30))
    features = {"knows": p @ mix + 0.01 * rng.normal(size=(len(p), 30)),  # every position, linearly mixed
                "hand only": np.c_[p[:, :3], rng.normal(size=(len(p), 5))],
                "noise": rng.normal(size=(len(p), 30))}
    out = fp.probe_all(frames, features, test_seeds={9, 10, 11})
    for target in fp.TARGETS:
        assert out["knows"]["all"][target] > 0.99 and out["knows"]["carry"][target] > 0.99
        assert out["noise"]["all"][target] < 0.1
    assert out["hand only"]["all"]["goal"] < 0.1  # the goal is not in the hand
    assert out["hand only"]["all"]["goal - hand"] > 0.2  # but goal - hand varies with the hand too


def test_r2_leaves_out_an_axis_that_does_not_vary():
    fp = _load()
    y = np.c_[np.arange(10.0), np.full(10, 0.3)]
    assert fp.r2(y, np.c_[np.arange(10.0), np.zeros(10)]) == 1.0  # the fixed axis's miss does not count
    assert fp.r2(np.full((10, 2), 0.3), np.zeros((10, 2))) is None


@pytest.mark.parametrize("make", [_xvla, _bc])
def test_read_out_features_of_xvla_and_bc(make):
    fp = _load()
    torch.manual_seed(0)
    policy = make()
    rec = fp.Recorder(policy)
    obs = observation(fake_batch(policy.config, [SPEC], 1))
    policy.predict_action_chunk(obs)
    feats = rec.take()
    rec.close()
    assert set(feats) == {"vision", "head"} and all(f.shape[0] == 1 for f in feats.values())
    if hasattr(policy, "transformer"):  # X-VLA: the action tokens only, (H x W)
        assert feats["head"].shape[1] == policy.config.chunk_size * policy.config.width
    else:
        assert feats["head"].shape[1] == policy.config.hidden
    fresh = fp.untrained_copy(policy)
    with torch.no_grad():  # the control is another network: its features differ once the weights do
        for p in fresh.parameters():
            p.add_(0.1)
    rec = fp.Recorder(fresh)
    fresh.predict_action_chunk(obs)
    assert not np.allclose(rec.take()["vision"], feats["vision"])
    assert not policy._forward_hooks and all(not m._forward_hooks for m in policy.modules())  # hooks removed


def test_an_unknown_policy_layout_is_a_clear_error():
    fp = _load()
    with pytest.raises(SystemExit, match="X-VLA"):
        fp.readout_modules(torch.nn.Linear(2, 2))


def test_replot_redraws_the_chart_from_the_saved_results(tmp_path):
    import json

    fp = _load()
    frames, rng = _frames(), np.random.default_rng(2)
    p = frames["privileged"]
    feats = {"state": p[:, :3], "run:vision": p @ rng.normal(size=(12, 8)), "run:head": rng.normal(size=(len(p), 8)),
             "run (untrained):vision": rng.normal(size=(len(p), 8))}
    results = {"push-v3": fp.probe_all(frames, feats, test_seeds={9, 10, 11})}
    (tmp_path / "feature_probe.json").write_text(json.dumps({"meta": {}, "results": results}))
    assert fp.main(["--replot", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "feature_probe.png").stat().st_size > 10_000
    with pytest.raises(SystemExit):  # nothing to probe and no --replot
        fp.main(["--out", str(tmp_path)])
