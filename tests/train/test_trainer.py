import json
import os
import signal

import pytest
import torch
from safetensors.torch import load_file

from vlaforge.core.checkpoint import CheckpointError, load_policy
from vlaforge.train.trainer import Trainer, latest_checkpoint, train

from .conftest import tiny_config, tiny_data


def _weights(ckpt):
    return load_file(str(ckpt / "model.safetensors"))


def _assert_bitwise_equal(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs"


@pytest.mark.parametrize("ema", [None, 0.9])
def test_exact_resume_is_bitwise(tmp_path, ema):
    kw = dict(steps=8, ema_decay=ema, optim=tiny_config(tmp_path).optim)
    kw["optim"].grad_accum = 2
    full = train(tiny_config(tmp_path / "full", **kw), tiny_data())

    def stop_at_3(trainer, metrics):
        if trainer.step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # the real signal path: save, then exit cleanly

    part = train(tiny_config(tmp_path / "part", **kw), tiny_data(), callbacks=[stop_at_3])
    assert part.interrupted and part.step == 3
    assert latest_checkpoint(tmp_path / "part" / "run").name == "step_000003"
    resumed = train(tiny_config(tmp_path / "part", resume=True, **kw), tiny_data())
    assert resumed.step == 8 and not resumed.interrupted
    _assert_bitwise_equal(_weights(full.checkpoint), _weights(resumed.checkpoint))
    s_full = torch.load(full.checkpoint / "train_state.pt", weights_only=False)
    s_res = torch.load(resumed.checkpoint / "train_state.pt", weights_only=False)
    assert torch.equal(s_full["rng"]["torch"], s_res["rng"]["torch"])
    for k, v in s_full["optimizer"]["state"].items():
        assert torch.equal(v["exp_avg_sq"], s_res["optimizer"]["state"][k]["exp_avg_sq"])
    # the metrics log has each step once, in order, across the interruption
    steps = [json.loads(ln)["step"] for ln in (tmp_path / "part/run/metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))


def test_resume_differs_without_rng_restore_sanity(tmp_path):
    """Guards the test above: two different seeds do give different weights."""
    a = train(tiny_config(tmp_path / "a", steps=3), tiny_data())
    b = train(tiny_config(tmp_path / "b", steps=3, seed=1), tiny_data())
    wa, wb = _weights(a.checkpoint), _weights(b.checkpoint)
    assert any(not torch.equal(wa[k], wb[k]) for k in wa)


def test_loss_decreases_and_outputs_written(tmp_path):
    cfg = tiny_config(tmp_path, steps=30, tensorboard=True, save_every=10, keep_checkpoints=2)
    cfg.policy.noise = 0.0
    res = train(cfg, tiny_data(augment=False))
    rows = [json.loads(ln) for ln in (res.out_dir / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["loss"] < 0.5 * rows[0]["loss"]
    assert {"lr", "grad_norm", "samples_per_s", "mse", "elapsed_s"} <= rows[0].keys()
    assert res.loss_curve is not None and res.loss_curve.stat().st_size > 1000
    assert list((res.out_dir / "tb").glob("events.*"))
    ckpts = sorted(p.name for p in (res.out_dir / "checkpoints").glob("step_*"))
    assert ckpts == ["step_000020", "step_000030"]  # keep_checkpoints=2 pruned step 10
    assert (res.out_dir / "checkpoints/last").resolve().name == "step_000030"
    policy = load_policy(res.out_dir / "checkpoints/last")
    obs = tiny_data().dataset[0]
    batch = {k: (v[None] if torch.is_tensor(v) else [v]) for k, v in obs.items()}
    assert policy.predict_action_chunk(batch).shape == (1, 4, 4)
    summary = json.loads((res.out_dir / "train_summary.json").read_text())
    assert summary["steps"] == 30 and summary["final_loss"] == rows[-1]["loss"]


def test_time_budget_stops_and_fixes_schedule(tmp_path):
    budget_min = 1.5 / 60
    cfg = tiny_config(tmp_path, steps=None, time_budget_minutes=budget_min, calibration_steps=3, log_every=5)
    res = train(cfg, tiny_data())
    assert res.train_seconds >= budget_min * 60
    assert res.train_seconds < budget_min * 60 + 3.0  # stops within a step (slack for a loaded machine)
    b = res.summary["budget"]
    assert b["calibrated"] and b["at_step"] == 4
    assert b["schedule_total_steps"] > 4
    # the schedule's length lives in the checkpoint, so a resume keeps it
    state = torch.load(res.checkpoint / "train_state.pt", weights_only=False)
    assert state["scheduler"]["lr_lambdas"][0]["total"] == b["schedule_total_steps"]


def test_steps_cap_wins_over_long_budget(tmp_path):
    res = train(tiny_config(tmp_path, steps=4, time_budget_minutes=10.0, calibration_steps=2), tiny_data())
    assert res.step == 4 and res.summary["budget"]["schedule_total_steps"] == 4


def test_grad_accumulation_matches_big_batch(tmp_path):
    """batch 8 x 1 and batch 4 x 2 see the same samples, so every step's gradient must match."""
    from vlaforge.train.data import make_loader

    cfgs = [tiny_config(tmp_path / n, steps=3) for n in ("big", "small")]
    cfgs[1].data.batch_size, cfgs[1].optim.grad_accum = 4, 2
    grads = []
    for c in cfgs:
        c.policy.noise = 0.0
        torch.manual_seed(0)
        t = Trainer(c, tiny_data(augment=False))
        t._build(None)
        t.model.drop.p = 0.0
        seen = []
        t.optimizer.register_step_pre_hook(
            lambda opt, args, kwargs, _seen=seen, _m=t.model: _seen.append(
                {n: p.grad.clone() for n, p in _m.named_parameters()}))
        it = make_loader(t.data, c.data.batch_size, 0, c.seed, 0)
        losses = [t._train_step(it)["loss"] for _ in range(3)]
        grads.append((seen, losses))
    (g_big, l_big), (g_small, l_small) = grads
    assert l_big == pytest.approx(l_small, rel=1e-5)
    for a, b in zip(g_big, g_small):
        for k in a:
            assert torch.allclose(a[k], b[k], atol=1e-6, rtol=1e-4), k


def test_stage_and_hooks(tmp_path):
    t = Trainer(tiny_config(tmp_path, steps=3, stage="head_only"), tiny_data())
    res = t.fit()
    assert t.model.steps_seen == [0, 1, 2]
    names = {id(q): n for n, q in t.model.named_parameters()}
    trained = {names[id(p)] for g in t.optimizer.param_groups for p in g["params"]}
    assert trained == {"head.weight", "head.bias"}
    with pytest.raises(CheckpointError, match="stage"):
        train(tiny_config(tmp_path, steps=5, resume=True), tiny_data())  # stage 'policy' != saved 'head_only'
    assert res.step == 3


def test_init_from_loads_weights(tmp_path):
    first = train(tiny_config(tmp_path / "s1", steps=3), tiny_data())
    t = Trainer(tiny_config(tmp_path / "s2", steps=1, init_from=str(first.checkpoint), stage="head_only"), tiny_data())
    t._build(None)
    w = _weights(first.checkpoint)
    assert torch.equal(t.model.conv[0].weight, w["conv.0.weight"])


def test_checkpoint_without_norm_stats_is_refused(tmp_path):
    res = train(tiny_config(tmp_path, steps=2), tiny_data())
    ckpt = res.checkpoint
    (ckpt / "norm_stats.json").unlink()
    with pytest.raises(CheckpointError, match="norm_stats"):
        load_policy(ckpt)
    assert latest_checkpoint(res.out_dir) is None  # resume will not pick it up...
    with pytest.raises(CheckpointError, match="no usable checkpoint"):  # ...nor silently start afresh
        train(tiny_config(tmp_path, steps=3, resume=True), tiny_data())
    with pytest.raises(CheckpointError, match="norm_stats"):
        train(tiny_config(tmp_path, steps=3, init_from=str(ckpt)), tiny_data())


def test_nonfinite_loss_is_reported(tmp_path):
    cfg = tiny_config(tmp_path, steps=2)
    data = tiny_data()
    data.dataset.action[:] = float("nan")
    with pytest.raises(FloatingPointError, match="loss is nan"):
        train(cfg, data)


def test_non_policy_model_trains_saves_and_resumes(tmp_path):
    from .conftest import TinyAEConfig

    def cfg(**kw):
        c = tiny_config(tmp_path, steps=6, **kw)
        c.policy = TinyAEConfig()
        return c

    def stop(trainer, _):
        if trainer.step == 2:
            trainer.request_stop()

    part = train(cfg(), tiny_data(), callbacks=[stop])
    assert part.interrupted and (part.checkpoint / "assets/codebook.txt").is_file()
    res = train(cfg(resume=True), tiny_data())
    assert res.step == 6 and res.summary["stage"] == "policy"
    model = load_policy(res.checkpoint)
    assert type(model).__name__ == "TinyAutoencoder"
    with pytest.raises(ValueError, match="not a closed-loop policy"):
        from vlaforge.train.config import EvalConfig
        from vlaforge.train.evaluate import evaluate_during_training

        evaluate_during_training(model, EvalConfig(), tmp_path / "ev")


def test_periodic_eval_logs_and_leaves_training_untouched(tmp_path):
    """Closed-loop eval every 2 steps (1 Meta-World episode of 2 steps) must not change the trained weights."""
    plain = train(tiny_config(tmp_path / "plain", steps=4), tiny_data())
    cfg = tiny_config(tmp_path / "eval", steps=4, eval_every=2)
    cfg.eval.suite, cfg.eval.episodes_per_task, cfg.eval.max_steps = "reach", 1, 2
    res = train(cfg, tiny_data())
    rows = [json.loads(ln) for ln in (res.out_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/success_mean" in r]
    assert [r["step"] for r in evals] == [2, 4] and "eval/reach" in evals[0]
    assert (res.out_dir / "evals/step_000004/results.json").is_file()
    _assert_bitwise_equal(_weights(plain.checkpoint), _weights(res.checkpoint))


def test_time_budget_reestimates_schedule_length(tmp_path):
    cfg = tiny_config(tmp_path, steps=None, time_budget_minutes=1.0 / 60, calibration_steps=2, log_every=50)
    res = train(cfg, tiny_data())
    b = res.summary["budget"]
    ests = b["estimates"]
    assert b["calibrated"] and len(ests) >= 3
    assert [e["at_step"] for e in ests] == sorted(e["at_step"] for e in ests)
    assert all(e["at_seconds"] >= i * 0.1 - 1e-3 for i, e in enumerate(ests))  # one per tenth of the 1 s budget
    assert b["schedule_total_steps"] == ests[-1]["total_steps"] > ests[-1]["at_step"]


@pytest.mark.parametrize("field, value", [("time_budget_minutes", 0.0), ("steps", 0)])
def test_a_zero_limit_set_after_the_config_is_a_clear_error(tmp_path, field, value):
    """A command line sets these after the config is built: a 0-minute budget must not "finish" at step 0."""
    from vlaforge.core.errors import ConfigError

    cfg = tiny_config(tmp_path, **{field: value})
    with pytest.raises(ConfigError, match=f"{field} must be"):
        train(cfg, tiny_data())
    assert not (tmp_path / "run" / "checkpoints").exists()
