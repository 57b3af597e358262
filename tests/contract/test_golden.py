"""Numerics pinned across the family-contract refactor: X-VLA tiny and UniVLA-AR tiny give the outputs
recorded at the commit before it (tests/contract/golden_head.json, written by the same code path on the
old API): loss on a fixed batch, a sampled chunk, greedy action tokens.

Recorded on an AVX2 CPU; on a CPU with AVX-512 kernels the same float32 sums come out in another order,
so floats are compared to 1e-5 relative (a refactor that changes the computation moves them far more:
a different init order or mask changes the loss in its first digits) and token ids exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vlaforge.core.normalize import Normalizer
from vlaforge.embodiments import get_embodiment
from vlaforge.models.univla_ar import UniVLAARConfig
from vlaforge.models.xvla import XVLAConfig
from vlaforge.tokenizers.fast import FASTConfig, FASTTokenizer

GOLDEN = json.loads((Path(__file__).parent / "golden_head.json").read_text())
SPEC = get_embodiment("metaworld_sawyer")
STATS = {SPEC.name: {k: {"mean": [0.0, 0.5, 0.2, 0.1], "std": [0.3, 0.2, 0.4, 0.9], "q01": [-1.0, -0.5, -0.8, -1.0],
                         "q99": [1.0, 0.9, 0.7, 1.0]} for k in ("observation.state", "action")}}


def batch(To, H, B=2):
    g = torch.Generator().manual_seed(123)
    b = {f"observation.images.{c}": torch.randint(0, 256, (B, To, 3, 64, 64), dtype=torch.uint8, generator=g)
         for c in ("corner2", "gripperPOV")}
    b["observation.state"] = torch.randn(B, To, 4, generator=g) * 0.2
    b["action"] = (torch.rand(B, H, 4, generator=g) * 0.4 - 0.2).cumsum(1).clamp(-1, 1)
    b["action_is_pad"] = torch.zeros(B, H, dtype=torch.bool)
    b["action_is_pad"][1, -2:] = True
    b["observation.is_pad"] = torch.zeros(B, To, dtype=torch.bool)
    b["task"] = ["push the puck", "reach the goal"][:B]
    b["embodiment"] = [SPEC.name] * B
    b["has_action"] = torch.ones(B, dtype=torch.bool)
    return b


def obs(b):
    return {k: v for k, v in b.items() if k not in ("action", "action_is_pad", "has_action")}


def test_xvla_tiny_outputs_unchanged():
    torch.manual_seed(0)
    cfg = XVLAConfig.from_preset("tiny", text_encoder="hash")
    pol = cfg.create(Normalizer(STATS, [SPEC], cfg.norm_mode), [SPEC])
    b = batch(cfg.n_obs_steps, cfg.chunk_size)
    torch.manual_seed(1)
    loss, _ = pol(b)
    pol.eval()
    chunk = pol.predict_action_chunk(obs(b), generator=torch.Generator().manual_seed(2))
    close = dict(rel=1e-5, abs=1e-6)
    assert float(loss) == pytest.approx(GOLDEN["xvla"]["loss"], **close)
    assert chunk.flatten()[:24].tolist() == pytest.approx(GOLDEN["xvla"]["chunk"], **close)
    assert float(chunk.sum()) == pytest.approx(GOLDEN["xvla"]["chunk_sum"], rel=1e-5, abs=1e-5)


def test_univla_ar_tiny_outputs_unchanged():
    rng = np.random.default_rng(0)
    fast = FASTTokenizer(FASTConfig(vocab_size=256)).fit(np.clip(rng.normal(0, 0.1, (400, 10, 4)).cumsum(1), -1, 1))
    torch.manual_seed(0)
    cfg = UniVLAARConfig.from_preset("tiny", text_encoder="hash", fast_vocab=256)
    pol = cfg.create(Normalizer(STATS, [SPEC], cfg.norm_mode), [SPEC])
    pol.set_fast(fast)
    b = batch(cfg.n_obs_steps, cfg.chunk_size)
    pol.set_stage("policy")
    torch.manual_seed(1)
    loss, _ = pol(b)
    pol.set_stage("world_model")
    torch.manual_seed(1)
    wm_loss, _ = pol(b)
    pol.set_stage("policy")
    pol.eval()
    ids = pol.generate(b["task"], pol._prompt(obs(b)), pol.allowed_ids("action"), 8)
    g = GOLDEN["univla_ar"]
    assert float(loss) == pytest.approx(g["loss"], rel=1e-5) and float(wm_loss) == pytest.approx(g["wm_loss"], rel=1e-5)
    assert ids.tolist() == g["gen_ids"]
