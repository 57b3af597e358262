"""UniVLA latent actions specifics: the two LAM stages (language, then a task-centric codebook), frozen LAM
labels for the policy, the per-embodiment decoder, chunk blending. The family contract is in tests/contract."""

from __future__ import annotations

import torch

from vlaforge.core.normalize import Normalizer
from vlaforge.embodiments import get_embodiment
from vlaforge.models.univla_latent import UniVLALatentConfig
from vlaforge.testing import SAWYER, fake_batch, fake_stats, observation

SPECS = [get_embodiment(SAWYER)]
SMALL = dict(text_encoder="hash", lam_width=32, lam_depth=1, latent_dim=16, width=64, depth=2, heads=2)


def build(stage: str, **kw):
    torch.manual_seed(0)
    cfg = UniVLALatentConfig.from_preset("tiny", **{**SMALL, **kw})
    p = cfg.create(Normalizer(fake_stats(SPECS), SPECS, cfg.norm_mode), SPECS)
    p.set_stage(stage)
    return p


def trained(p) -> set[str]:
    return {".".join(n.split(".")[:2]) for n, q in p.named_parameters()
            if q.grad is not None and q.grad.abs().sum() > 0}


def test_lam_stages_train_what_the_paper_says():
    p = build("lam_task_irrelevant")
    loss, logs = p(fake_batch(p.config, SPECS, 3, p.stage_spec, action_free=(0, 1, 2)))
    loss.backward()
    names = trained(p)
    assert "lam.text" in names and "lam.centric" not in names and all(n.startswith("lam.") for n in names)
    p = build("lam_task_centric")
    book = p.lam.irrelevant_vq.vq.codebook.clone()
    loss, _ = p(fake_batch(p.config, SPECS, 3, p.stage_spec))
    loss.backward()
    assert "lam.centric" in trained(p)
    assert torch.equal(book, p.lam.irrelevant_vq.vq.codebook)  # the task-irrelevant codebook is frozen


def test_policy_is_labelled_by_the_frozen_lam_and_decodes_per_robot():
    p = build("pretrain")
    lam = {n: t.clone() for n, t in p.lam.state_dict().items()}
    loss, logs = p(fake_batch(p.config, SPECS, 3, p.stage_spec, action_free=(0, 1, 2)))  # video only
    loss.backward()
    assert "loss_l1" not in logs and not any(n.startswith(("lam.", "decoder.")) for n in trained(p))
    assert all(torch.equal(lam[n], t) for n, t in p.lam.state_dict().items())
    p = build("finetune")
    loss, logs = p(fake_batch(p.config, SPECS, 3, p.stage_spec, action_free=(1,)))
    loss.backward()
    assert {"loss_l1", "loss_latent_ce"} <= set(logs) and f"decoder.{SAWYER}" in trained(p)


def test_overlapping_chunks_blend_with_exponential_weights():
    p = build("finetune", n_action_steps=4, blend_k=0.1).eval()
    chunks = iter([torch.zeros(1, 12, 4), torch.ones(1, 12, 4)])
    p.predict_action_chunk = lambda obs, generator=None: next(chunks)
    obs = {k: (v[:, -1] if torch.is_tensor(v) and v.dim() >= 3 else v)
           for k, v in observation(fake_batch(p.config, SPECS, 1)).items() if k != "observation.is_pad"}
    p.reset()
    acts = [float(p.select_action(obs)[0, 0]) for _ in range(5)]
    w = torch.exp(-0.1 * torch.arange(2.0))
    assert acts[:4] == [0.0] * 4 and abs(acts[4] - float(w[1] / w.sum())) < 1e-6  # the older chunk weighs more
