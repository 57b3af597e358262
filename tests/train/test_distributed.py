"""torch.distributed on CPU (gloo): DDP and FSDP2 match one process, exact resume with 2 ranks, LPT placement,
global mixture weights under N ranks. The multi-process checks run torchrun in a subprocess (seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from vlaforge.train.data import RankSlice, StreamSampler
from vlaforge.train.lpt import assign

SCRIPT = textwrap.dedent('''
    import json, sys, torch
    from vlaforge.models.bc import BCConfig
    from vlaforge.nn.encoders import ImageEncoderConfig
    from vlaforge.testing import fake_train_data
    from vlaforge.train.config import DataConfig, DistConfig, OptimConfig, TrainConfig
    from vlaforge.train.trainer import Trainer

    out, batch, steps, strategy, stop_at, resume = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], \\
        int(sys.argv[5]), sys.argv[6] == "1"
    policy = BCConfig.from_preset("tiny", text_encoder="hash", image_size=(32, 32), hidden=32,
                                  encoder=ImageEncoderConfig(shift_pad=0, stem_channels=(8, 16, 16)))
    data = fake_train_data(policy, n=32)
    data.dataset._b["action_is_pad"][:] = False  # equal-size masks: per-rank means average to the global one
    # eps=1e-3: parameters whose true gradient is zero (conv biases right before a GroupNorm) would otherwise
    # take +-lr Adam steps on float noise, which differs with the reduction order
    cfg = TrainConfig(policy=policy, data=DataConfig(batch_size=batch), optim=OptimConfig(lr=1e-3, warmup_steps=1, eps=1e-3),
                      steps=steps, precision="fp32", out_dir=out, log_every=1, save_every=100, progress=False,
                      tensorboard=False, num_threads=1, resume=resume, dist=DistConfig(strategy=strategy))
    stop = lambda t, m: t.step == stop_at and t.request_stop("test")
    r = Trainer(cfg, data, callbacks=[stop] if stop_at else []).fit()
    print(json.dumps({"step": r.step, "checkpoint": str(r.checkpoint)}))
''')


def run(tmp_path, name, nproc, batch, steps, strategy="ddp", stop_at=0, resume=False):
    script = tmp_path / "train_script.py"
    script.write_text(SCRIPT)
    out = tmp_path / name
    args = [str(out), str(batch), str(steps), strategy, str(stop_at), "1" if resume else "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if nproc == 1:
        cmd = [sys.executable, str(script), *args]
        env.pop("WORLD_SIZE", None)
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               str(script), *args]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    losses = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    return out, losses


def weights(out):
    from safetensors.torch import load_file

    return load_file(str(out / "checkpoints" / "last" / "model.safetensors"))


def assert_close(a, b, atol):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=atol, rtol=0, msg=k)


@pytest.mark.parametrize("strategy", ["ddp", "fsdp2"])
def test_two_ranks_with_half_batches_match_one_process(tmp_path, strategy):
    one, l1 = run(tmp_path, "one", 1, batch=8, steps=3)
    two, l2 = run(tmp_path, f"two_{strategy}", 2, batch=4, steps=3, strategy=strategy)
    np.testing.assert_allclose(l2, l1, rtol=1e-5, atol=1e-6)  # stated tolerance: fp32 reduction order only
    assert_close(weights(two), weights(one), atol=1e-5)
    state = torch.load(two / "checkpoints" / "last" / "train_state.pt", weights_only=False)
    assert state["world_size"] == 2 and len(state["rng"]) == 2
    if strategy == "fsdp2":
        assert (two / "checkpoints" / "last" / "optim_dcp").is_dir()


@pytest.mark.parametrize("strategy", ["ddp", "fsdp2"])
def test_two_ranks_killed_and_resumed_end_where_uninterrupted_does(tmp_path, strategy):
    full, _ = run(tmp_path, "full", 2, batch=4, steps=4, strategy=strategy)
    run(tmp_path, "cut", 2, batch=4, steps=4, strategy=strategy, stop_at=2)
    cut, losses = run(tmp_path, "cut", 2, batch=4, steps=4, strategy=strategy, resume=True)
    assert len(losses) == 4
    assert_close(weights(cut), weights(full), atol=0)


def test_rank_slices_are_the_single_process_batches():
    class DS:
        def __len__(self):
            return 37

    one = StreamSampler(DS(), 8, seed=3, start=16)
    two = [RankSlice(StreamSampler(DS(), 8, seed=3, start=16), r, 4) for r in range(2)]
    its = [iter(one)] + [iter(s) for s in two]
    for _ in range(10):
        b, r0, r1 = (next(i) for i in its)
        assert b == r0 + r1


def test_mixture_weights_hold_globally_under_four_ranks():
    from vlaforge.data.dataset import MixtureDataset

    class Member:
        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

    mix = MixtureDataset.__new__(MixtureDataset)  # the sampling logic only
    mix.datasets, mix.weights = [Member(1000), Member(50), Member(10)], np.array([0.5, 0.3, 0.2])
    mix._offsets = np.cumsum([0, 1000, 50, 10])
    seen = []
    for r in range(4):
        s = iter(RankSlice(StreamSampler(mix, 4 * 16, seed=0), r, 16))
        seen += [i for _ in range(40) for i in next(s)]
    which = np.searchsorted(mix._offsets, np.asarray(seen), side="right") - 1
    share = np.bincount(which, minlength=3) / len(which)
    np.testing.assert_allclose(share, [0.5, 0.3, 0.2], atol=0.03)


def test_lpt_covers_balances_and_replicates():
    rng = np.random.default_rng(0)
    sizes = list(rng.lognormal(10, 1.5, 200))
    plan = assign(sizes, 16)
    assert set(i for r in plan.ranks for i in r) == set(range(200))  # coverage: every dataset somewhere
    assert all(plan.ranks)  # every rank has data
    assert plan.imbalance < 1.34  # LPT's 4/3 bound, here far inside it
    giant = assign([1000.0] + [1.0] * 20, 8)  # one dataset larger than a rank's share: replicated
    assert sum(r.count(0) for r in giant.ranks) >= 7 and giant.imbalance < 1.2
    assert max(len(r) for r in plan.ranks) < 200  # each rank opens only its own datasets
    few = assign([100.0, 10.0], 5)
    assert all(few.ranks) and sum(r.count(0) for r in few.ranks) >= 4 and sum(r.count(1) for r in few.ranks) == 1
    with pytest.raises(ValueError):
        assign([], 4)


def test_nproc_hands_over_to_torchrun(monkeypatch):
    from vlaforge.cli import train as cli

    seen = {}
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(cli.os, "execv", lambda exe, cmd: seen.update(cmd=cmd))
    cli.main(["--nproc", "2", "--recipe", "bc_tiny_mt10", "--steps", "3"])
    assert seen["cmd"][1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m"]
    assert seen["cmd"][-5:] == ["train", "--recipe", "bc_tiny_mt10", "--steps", "3"]


def test_activation_checkpointing_changes_memory_not_results():
    from vlaforge.core.normalize import Normalizer
    from vlaforge.embodiments import get_embodiment
    from vlaforge.models.xvla import XVLAConfig
    from vlaforge.testing import fake_batch, fake_stats
    from vlaforge.train.distributed import Dist, wrap

    specs = [get_embodiment("metaworld_sawyer")]
    cfg = XVLAConfig.from_preset("tiny", text_encoder="hash", width=64, depth=2, heads=2, stem_channels=(8, 8, 8, 8))
    out = []
    for ac in (False, True):
        torch.manual_seed(0)
        policy = cfg.create(Normalizer(fake_stats(specs), specs), specs)
        model = wrap(policy, Dist(), "ddp", activation_checkpointing=ac)
        torch.manual_seed(1)
        loss, _ = model(fake_batch(cfg, specs, 2))
        loss.backward()
        out.append((loss.detach(), policy.transformer.blocks[0].attn.qkv.weight.grad.clone()))
    assert "CheckpointWrapper" in type(policy.transformer.blocks[0]).__name__
    torch.testing.assert_close(out[1][0], out[0][0])
    torch.testing.assert_close(out[1][1], out[0][1])
