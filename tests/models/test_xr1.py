"""XR-1 specifics: UVMC on both kinds of sample, the frozen codes as stage-2 targets, the shared-codebook
option, prefix caching. The family contract (shapes per stage, resume, bad input, paper size) is in tests/contract."""

from __future__ import annotations

import torch

from vlaforge.core.normalize import Normalizer
from vlaforge.embodiments import get_embodiment
from vlaforge.models.xr1 import XR1Config
from vlaforge.testing import SAWYER, fake_batch, fake_stats, observation

SPECS = [get_embodiment(SAWYER)]
SMALL = dict(text_encoder="hash", uvmc_width=32, uvmc_depth=1, code_dim=16, codebook_size=32, vlm_width=64,
             act_width=48, depth=2, heads=2, head_dim=32, stem_channels=(8, 16, 16, 32))


def build(stage: str, **kw):
    torch.manual_seed(0)
    cfg = XR1Config.from_preset("tiny", **{**SMALL, **kw})
    p = cfg.create(Normalizer(fake_stats(SPECS), SPECS, cfg.norm_mode), SPECS)
    p.set_stage(stage)
    return p


def grads(p, prefix: str) -> float:
    return sum(float(q.grad.abs().sum()) for n, q in p.named_parameters() if n.startswith(prefix) and q.grad is not None)


def test_uvmc_action_free_samples_train_the_vision_branch_only():
    p = build("uvmc")
    video = fake_batch(p.config, SPECS, 3, p.stage_spec, action_free=(0, 1, 2))
    loss, logs = p(video)
    assert "loss_align_kl" not in logs and "loss_motion_flow" not in logs
    loss.backward()
    assert grads(p, "uvmc.v_enc.") > 0 and grads(p, "uvmc.m_enc.") == 0 and grads(p, "uvmc.a_dec.") == 0
    p.zero_grad()
    mixed = fake_batch(p.config, SPECS, 3, p.stage_spec, action_free=(1,))
    loss, logs = p(mixed)
    assert logs["loss_align_kl"] >= 0 and "motion_code_usage" in logs
    loss.backward()
    assert grads(p, "uvmc.m_enc.") > 0 and grads(p, "uvmc.v_enc.") > 0  # the KL reaches both branches


def test_stage_two_targets_are_the_frozen_codes():
    p = build("pretrain")
    before = {n: t.clone() for n, t in p.uvmc.state_dict().items()}
    loss, logs = p(fake_batch(p.config, SPECS, 3, p.stage_spec, action_free=(2,)))
    assert {"loss_code_motion", "loss_code_vision", "loss_flow"} <= set(logs)
    loss.backward()
    assert grads(p, "uvmc.") == 0 and grads(p, "queries") > 0
    after = p.uvmc.state_dict()
    assert all(torch.equal(before[n], after[n]) for n in before)  # no EMA codebook drift outside stage 1
    p.set_stage("posttrain")
    assert "loss_code_motion" not in p(fake_batch(p.config, SPECS, 2, p.stage_spec))[1]


def test_codes_helper_and_shared_codebook():
    p = build("uvmc", shared_codebook=True)
    assert p.uvmc.motion_vq is p.uvmc.vision_vq
    codes = p.eval().codes(fake_batch(p.config, SPECS, 2, p.config.stage("uvmc")))
    K = p.config.n_codes
    assert codes["vision"].shape == (2, 2, K) and codes["motion"].shape == (2, K)


def test_prefix_cache_equals_recomputing():
    p = build("posttrain").eval()
    obs = observation(fake_batch(p.config, SPECS, 2))
    a = p.predict_action_chunk(obs, generator=torch.Generator().manual_seed(0), use_cache=True)
    b = p.predict_action_chunk(obs, generator=torch.Generator().manual_seed(0), use_cache=False)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
