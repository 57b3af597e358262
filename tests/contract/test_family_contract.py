"""The family contract, checked for every family registered under ``vlaforge.models`` (tiny preset).

A new family gets all of these by being discovered: loss and chunk shapes on a fake batch for
every stage, save/load equality, the re-planning cadence of ``select_action``, two steps then an
exact resume through the trainer, bad input, action-free samples where a stage accepts them, and
the ``paper`` preset on the meta device within 10% of the paper's parameter count.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from vlaforge.core.checkpoint import load_policy, save_checkpoint
from vlaforge.core.errors import BatchError, ConfigError, UnknownNameError
from vlaforge.core.keys import ACTION, IMAGE_PREFIX, STATE
from vlaforge.core.normalize import Normalizer
from vlaforge.core.registry import FAMILIES, get_family
from vlaforge.embodiments import get_embodiment
from vlaforge.testing import SAWYER, fake_batch, fake_stats, fake_train_data, observation
from vlaforge.train.config import DataConfig, OptimConfig, TrainConfig
from vlaforge.train.trainer import Trainer

SPECS = [get_embodiment(SAWYER)]
FAMILY_NAMES = [n for n, cls in FAMILIES.items() if cls.__module__.startswith("vlaforge.models.")]




def tiny(family: str, **kw):
    return get_family(family).from_preset("tiny", text_encoder="hash", **kw)


def build(family: str, seed: int = 0, **kw):
    torch.manual_seed(seed)
    cfg = tiny(family, **kw)
    policy = cfg.create(Normalizer(fake_stats(SPECS), SPECS, cfg.norm_mode), SPECS)
    policy.prepare(fake_train_data(cfg, SPECS, stage=cfg.stages()[-1].name))  # e.g. fit an action tokenizer
    return policy


def chunk(policy, batch, seed=3):
    policy.eval()
    return policy.predict_action_chunk(observation(batch), generator=torch.Generator().manual_seed(seed))


def test_every_family_is_discovered():
    assert {"xvla", "univla_ar"} <= set(FAMILY_NAMES)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_loss_per_stage_and_chunk_shape(family):
    policy = build(family)
    for spec in policy.config.stages():
        policy.set_stage(spec.name)
        policy.train()
        loss, logs = policy(fake_batch(policy.config, SPECS, 3, spec))
        assert loss.dim() == 0 and torch.isfinite(loss) and loss.requires_grad, spec.name
        assert all(isinstance(v, float) for v in logs.values()), logs
        loss.backward()
        trained = [n for n, p in policy.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0]
        assert trained and all(n.startswith(spec.trains) for n in trained), (spec.name, trained[:5])
        assert not any(spec.frozen and n.startswith(spec.frozen) for n in trained), (spec.name, trained[:5])
        policy.zero_grad(set_to_none=True)
    c = policy.config
    out = chunk(policy, fake_batch(c, SPECS, 2))
    assert out.shape == (2, c.chunk_size, SPECS[0].action_dim) and torch.isfinite(out).all()


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_save_load_gives_the_same_chunk(family, tmp_path):
    policy = build(family)
    batch = fake_batch(policy.config, SPECS, 2)
    ref = chunk(policy, batch)
    save_checkpoint(tmp_path / "ckpt", policy)
    loaded = load_policy(tmp_path / "ckpt")
    assert type(loaded) is type(policy) and loaded.stage == policy.stage
    torch.testing.assert_close(chunk(loaded, batch), ref)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_select_action_replans_every_n_action_steps(family):
    policy = build(family, n_action_steps=3)
    calls = []
    inner = policy.predict_action_chunk
    policy.predict_action_chunk = lambda obs, generator=None: calls.append(1) or inner(obs, generator=generator)
    obs = {k: (v[:, -1] if torch.is_tensor(v) and v.dim() >= 3 else v)
           for k, v in observation(fake_batch(policy.config, SPECS, 1)).items() if k != "observation.is_pad"}
    policy.eval()
    policy.reset()
    actions = [policy.select_action(obs) for _ in range(7)]
    assert len(calls) == 3 and all(a.shape == (1, SPECS[0].action_dim) for a in actions)
    policy.reset()
    policy.select_action(obs)
    assert len(calls) == 4  # reset drops the queue


def _train_cfg(family: str, out, steps: int) -> TrainConfig:
    cfg = tiny(family)
    return TrainConfig(policy=cfg, stage=cfg.stages()[-1].name, data=DataConfig(batch_size=4),
                       optim=OptimConfig(lr=1e-3, warmup_steps=1), steps=steps, precision="fp32", save_every=2,
                       log_every=1, out_dir=str(out), num_threads=1, progress=False, tensorboard=False)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_two_steps_then_exact_resume(family, tmp_path):
    cfg = tiny(family)
    data = lambda: fake_train_data(cfg, SPECS, n=12, stage=cfg.stages()[-1].name)  # noqa: E731
    full = Trainer(_train_cfg(family, tmp_path / "full", 4), data()).fit()
    stop_at_2 = lambda trainer, metrics: trainer.step == 2 and trainer.request_stop("test")  # noqa: E731
    cut = Trainer(_train_cfg(family, tmp_path / "cut", 4), data(), callbacks=[stop_at_2]).fit()
    assert cut.interrupted and cut.step == 2
    resumed_cfg = dataclasses.replace(_train_cfg(family, tmp_path / "cut", 4), resume=True)
    resumed = Trainer(resumed_cfg, data()).fit()
    assert resumed.step == full.step == 4
    a = load_policy(full.checkpoint).state_dict()
    b = load_policy(resumed.checkpoint).state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_bad_input_names_the_key(family):
    policy = build(family)
    c = policy.config
    batch = fake_batch(c, SPECS, 2)
    cam = IMAGE_PREFIX + c.cameras[0]
    cases = {
        "missing camera": ({k: v for k, v in batch.items() if k != cam}, cam),
        "wrong image size": ({**batch, cam: batch[cam][..., :-4, :]}, cam),
        "wrong action width": ({**batch, ACTION: batch[ACTION][..., :2]}, ACTION),
        "non-finite action": ({**batch, ACTION: batch[ACTION].clone().fill_(float("nan"))}, ACTION),
    }
    if policy.needs_state:
        cases["non-finite state"] = ({**batch, STATE: batch[STATE] * float("nan")}, STATE)
    policy.train()
    for what, (bad, key) in cases.items():
        with pytest.raises(BatchError) as e:
            policy(bad)
        assert e.value.key == key and key in str(e.value), what
    with pytest.raises(BatchError, match="embodiment"):
        policy.predict_action_chunk({**observation(batch), "embodiment": ["a_robot_it_never_saw"] * 2})


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_action_free_samples(family):
    policy = build(family)
    for spec in policy.config.stages():
        policy.set_stage(spec.name)
        policy.train()
        batch = fake_batch(policy.config, SPECS, 3, spec, action_free=(1,))
        if spec.actions == "required":
            continue
        twin = copy.deepcopy(policy)  # a training forward may update state (a VQ's EMA codebook)
        torch.manual_seed(0)
        loss, _ = policy(batch)
        assert torch.isfinite(loss), spec.name
        other = {**batch, ACTION: batch[ACTION].clone()}
        other[ACTION][1] = 0.7  # an action-free row's (meaningless) actions must not matter
        torch.manual_seed(0)
        assert torch.equal(twin(other)[0], loss), spec.name


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_paper_preset_on_meta_device(family):
    cls = get_family(family)
    assert "paper" in cls.PRESETS and cls.PAPER_PARAMS is not None
    cfg = cls.from_preset("paper", text_encoder="hash")
    with torch.device("meta"):
        policy = cfg.create(Normalizer(fake_stats(SPECS), SPECS, cfg.norm_mode), SPECS)
    n = sum(p.numel() for p in policy.parameters())
    target, source = cls.PAPER_PARAMS
    assert abs(n / target - 1) < 0.10, f"{family} paper preset: {n / 1e6:.0f}M vs {target / 1e6:.0f}M ({source})"
    with pytest.raises(ConfigError, match="from_preset"):
        cls(preset="paper")
    with pytest.raises(UnknownNameError, match="Did you mean"):
        cls.from_preset("papr")


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_two_steps_on_a_mixed_sawyer_and_aloha_batch(family, tmp_path):
    """Cross-embodiment: 4-D delta EE and 14-D absolute joints in one batch, padded to the shared width
    with per-embodiment normalization; the family needs no code change to train on it."""
    specs = [get_embodiment(SAWYER), get_embodiment("aloha")]
    cfg = tiny(family)
    stage = cfg.stages()[-1].name
    data = fake_train_data(cfg, specs, n=8, stage=stage)
    tc = TrainConfig(policy=cfg, stage=stage, data=DataConfig(batch_size=4), optim=OptimConfig(warmup_steps=1),
                     steps=2, precision="fp32", out_dir=str(tmp_path), progress=False, tensorboard=False, num_threads=1)
    result = Trainer(tc, data).fit()
    assert result.step == 2 and np.isfinite(result.final_loss)
    policy = load_policy(result.checkpoint)
    for spec in specs:
        obs = observation(fake_batch(policy.config, [spec], 1))
        assert policy.predict_action_chunk(obs).shape == (1, policy.config.chunk_size, spec.action_dim)
