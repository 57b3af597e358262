"""InternVLA-A1 specifics: the blockwise mask cell by cell, prefix caching, foresight, action-free samples,
the ablation without generation, the HF understanding backbone. The family contract is in tests/contract."""

from __future__ import annotations

import pytest
import torch

from vlaforge.core.keys import ACTION, HAS_ACTION
from vlaforge.core.normalize import Normalizer
from vlaforge.embodiments import get_embodiment
from vlaforge.models.internvla_a1 import InternVLAA1Config
from vlaforge.nn.attention import block_mask, segment_ids
from vlaforge.testing import SAWYER, fake_batch, fake_stats, observation

SPECS = [get_embodiment(SAWYER)]
SMALL = dict(text_encoder="hash", und_width=64, gen_width=64, act_width=64, depth=2, heads=2, head_dim=32,
             stem_channels=(8, 16, 16, 32))


def build(**kw):
    torch.manual_seed(0)
    cfg = InternVLAA1Config.from_preset("tiny", **{**SMALL, **kw})
    p = cfg.create(Normalizer(fake_stats(SPECS), SPECS, cfg.norm_mode), SPECS)
    p.set_stage("policy")
    return p


def test_blockwise_mask_cell_by_cell():
    und, gen, state, act = 3, 2, 1, 2
    m = block_mask(segment_ids([und, gen, state, act]))
    block = ["u"] * und + ["g"] * gen + ["s"] * state + ["a"] * act
    sees = {"u": "u", "g": "ug", "s": "ugs", "a": "ugsa"}  # the paper's information flow, never forward
    for i, bi in enumerate(block):
        for j, bj in enumerate(block):
            assert bool(m[i, j]) == (bj in sees[bi]), (i, j, bi, bj)


def test_prefix_cache_equals_recomputing_every_step():
    p = build().eval()
    obs = observation(fake_batch(p.config, SPECS, 2))
    a = p.predict_action_chunk(obs, generator=torch.Generator().manual_seed(1), use_cache=True)
    b = p.predict_action_chunk(obs, generator=torch.Generator().manual_seed(1), use_cache=False)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_foresight_shapes_and_gradient_reaches_the_generation_expert():
    p = build()
    batch = fake_batch(p.config, SPECS, 2)
    loss, logs = p(batch)
    assert {"loss_action", "loss_gen"} <= set(logs)
    loss.backward()
    assert p.gen_in.weight.grad is not None and p.gen_in.weight.grad.abs().sum() > 0
    assert all(q.grad is None for q in p.ae.parameters())  # the autoencoder is frozen in the policy stage
    fut = p.eval().predict_future(observation(batch))
    assert fut["future.images.corner2"].shape == (2, 1, 3, 64, 64) and fut["future.latent"].shape == (2, 2, 16, 8, 8)


def test_action_free_samples_never_touch_the_action_loss():
    p = build()
    free = fake_batch(p.config, SPECS, 3, action_free=(0, 1, 2))
    torch.manual_seed(0)
    loss, logs = p(free)
    assert logs["loss_action"] == 0.0 and logs["loss_gen"] > 0
    loss.backward()
    assert p.action_out.weight.grad is None or p.action_out.weight.grad.abs().sum() == 0
    mixed = fake_batch(p.config, SPECS, 3, action_free=(1,))
    other = {**mixed, ACTION: mixed[ACTION].clone()}
    other[ACTION][1] += 5.0
    torch.manual_seed(0)
    la = p(mixed)[1]["loss_action"]
    torch.manual_seed(0)
    assert p(other)[1]["loss_action"] == la and bool(mixed[HAS_ACTION][0])


def test_ablation_without_generation_has_no_generation_block():
    p = build(use_generation=False)
    assert "gen" not in p.mot.layers[0]
    loss, logs = p(fake_batch(p.config, SPECS, 2))
    assert "loss_gen" not in logs and torch.isfinite(loss)
    with pytest.raises(RuntimeError, match="without the generation expert"):
        p.eval().predict_future(observation(fake_batch(p.config, SPECS, 1)))


def test_hf_understanding_backbone_from_a_local_directory(tmp_path):
    import transformers

    cfg = transformers.SiglipVisionConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                          intermediate_size=64, image_size=32, patch_size=16)
    model = transformers.SiglipVisionModel(cfg)
    model.save_pretrained(tmp_path / "siglip")
    p = build(vl_encoder="hf", backbone_path=str(tmp_path / "siglip"))
    assert p.tokens_per_view == 4  # 32 px / 16 px patches: 2 x 2
    w = dict(p.vision.tower.model.named_parameters())
    ref = dict(model.named_parameters())
    name = next(n for n in w if "embeddings.patch_embedding.weight" in n)
    assert torch.equal(w[name], ref[name.replace("vision_model.", "vision_model.", 1)])  # pretrained weights loaded
    loss, _ = p(fake_batch(p.config, SPECS, 2))
    loss.backward()
    assert p.eval().predict_action_chunk(observation(fake_batch(p.config, SPECS, 1))).shape == (1, 16, 4)
