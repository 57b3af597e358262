import math

import pytest
import torch

from vlaforge.train.config import OptimConfig
from vlaforge.train.optim import WarmupCosine, build_optimizer, build_scheduler

from .conftest import TinyConfig, tiny_data


def _policy(**kw):
    data = tiny_data(8)
    from vlaforge.core.normalize import Normalizer

    return TinyConfig(**kw).create(Normalizer(data.norm_stats, data.embodiments), data.embodiments)


def test_no_decay_on_1d_params_and_lr_scale():
    policy = _policy(prompt_lr_scale=0.25)
    opt = build_optimizer(policy, OptimConfig(lr=1e-3, weight_decay=0.1))
    by_id = {id(p): n for n, p in policy.named_parameters()}
    for g in opt.param_groups:
        names = [by_id[id(p)] for p in g["params"]]
        dims = {p.dim() for p in g["params"]}
        assert g["weight_decay"] == (0.1 if dims == {2} or min(dims) >= 2 else 0.0), names
        assert g["lr"] == pytest.approx(1e-3 * g["lr_scale"])
    prompt_group = next(g for g in opt.param_groups if any(p is policy.prompt for p in g["params"]))
    assert prompt_group["lr_scale"] == 0.25 and prompt_group["weight_decay"] == 0.0
    decayed = {by_id[id(p)] for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    assert decayed == {"conv.0.weight", "proj.weight", "head.weight"}
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(policy.parameters()))


def test_lr_scale_ratio_survives_the_schedule():
    policy = _policy(prompt_lr_scale=0.1)
    cfg = OptimConfig(lr=1e-3, warmup_steps=3, min_lr_ratio=0.0)
    opt = build_optimizer(policy, cfg)
    sched, _ = build_scheduler(opt, cfg, total_steps=10)
    for _ in range(5):
        opt.step()
        sched.step()
        lrs = {g["lr_scale"]: g["lr"] for g in opt.param_groups}
        assert lrs[0.1] == pytest.approx(0.1 * lrs[1.0])


def test_missing_trainable_param_is_an_error():
    policy = _policy()
    policy.param_groups = lambda wd: [{"params": [policy.head.weight]}]
    with pytest.raises(ValueError, match="leaves trainable parameters out"):
        build_optimizer(policy, OptimConfig())


def test_warmup_cosine_values():
    s = WarmupCosine(warmup=4, total=14, min_ratio=0.1)
    assert [s(i) for i in range(4)] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert s(4) == pytest.approx(1.0)
    assert s(9) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))  # halfway: 0.55
    assert s(14) == pytest.approx(0.1)
    assert s(100) == pytest.approx(0.1)
    vals = [s(i) for i in range(4, 15)]
    assert all(a >= b for a, b in zip(vals, vals[1:]))


def test_scheduler_drives_optimizer_lr():
    w = torch.nn.Parameter(torch.zeros(2, 2))
    opt = torch.optim.AdamW([{"params": [w], "lr": 0.5, "lr_scale": 1.0}], lr=0.5)
    cfg = OptimConfig(lr=0.5, warmup_steps=1, min_lr_ratio=0.0)
    sched, schedule = build_scheduler(opt, cfg, total_steps=3)
    seen = []
    for _ in range(4):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.5 * schedule(i) for i in range(4)])
    assert seen[0] == pytest.approx(0.25) and seen[1] == pytest.approx(0.5) and seen[3] == pytest.approx(0.0)


def test_cpu_adamw_is_fused_and_steps_like_the_reference():
    """The fused CPU kernel (one call per step) takes the same step as the per-tensor AdamW."""
    policy = _policy()
    cfg = OptimConfig(lr=1e-2, weight_decay=0.1)
    opt = build_optimizer(policy, cfg)
    assert opt.defaults["fused"] is True
    ref_params = {n: p.detach().clone().requires_grad_(p.requires_grad) for n, p in policy.named_parameters()}
    names = {id(p): n for n, p in policy.named_parameters()}
    skip = ("params", "fused", "foreach")  # the reference keeps the per-tensor path
    ref_groups = [{**{k: v for k, v in g.items() if k not in skip},
                   "params": [ref_params[names[id(p)]] for p in g["params"]]} for g in opt.param_groups]
    ref = torch.optim.AdamW(ref_groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, foreach=False)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        for n, p in policy.named_parameters():
            grad = torch.randn(p.shape, generator=g)
            p.grad, ref_params[n].grad = grad.clone(), grad.clone()
        opt.step()
        ref.step()
    for n, p in policy.named_parameters():
        assert torch.allclose(p, ref_params[n], atol=1e-6), n


def test_ema_update_is_the_per_tensor_lerp():
    from vlaforge.train.ema import EMA

    policy = _policy()
    ema = EMA(policy, 0.9)
    before = {n: s.clone() for n, s in ema.shadow.items()}
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(1.0)
    ema.update(policy)
    d = min(0.9, 2 / 11)  # the warm-up decay at the first update
    params = dict(policy.named_parameters())
    for n, s in ema.shadow.items():
        assert torch.allclose(s, before[n].lerp(params[n].detach(), 1 - d)), n
