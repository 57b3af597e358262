"""UniVLA unified-AR: losses per stage, loss masking, constrained + KV-cached decoding,
decode-failure fallback, checkpoint round trip with FAST/VQ assets, the paper-size count."""

import json
import numpy as np
import pytest
import torch

from vlaforge.core.checkpoint import load_policy, save_checkpoint
from vlaforge.core.normalize import Normalizer
from vlaforge.embodiments import get_embodiment
from vlaforge.core.errors import ConfigError
from vlaforge.models.univla_ar import UniVLAARConfig
from vlaforge.tokenizers.fast import FASTConfig, FASTTokenizer
from vlaforge.tokenizers.image_vq import ImageVQConfig

SPEC = get_embodiment("metaworld_sawyer")
STATS = {SPEC.name: {k: {"mean": [0.0] * 4, "std": [1.0] * 4, "q01": [-1.0] * 4, "q99": [1.0] * 4}
                     for k in ("observation.state", "action")}}
CAMS = ("corner2", "gripperPOV")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    torch.set_num_threads(1)


def small_config(**kw) -> UniVLAARConfig:
    base = dict(dim=64, depth=2, heads=4, text_encoder="hash", text_vocab=300, fast_vocab=256,
                vq=ImageVQConfig(channels=(16, 32, 32), latent_dim=16, codebook_size=64, codebook_dim=4))
    base.update(kw)
    return UniVLAARConfig.from_preset("tiny", **base)


@pytest.fixture(scope="module")
def fast() -> FASTTokenizer:
    rng = np.random.default_rng(0)
    chunks = np.clip(rng.normal(0, 0.1, (400, 10, 4)).cumsum(axis=1), -1, 1)
    return FASTTokenizer(FASTConfig(vocab_size=256)).fit(chunks)


def make_policy(fast, **kw):
    cfg = small_config(**kw)
    pol = cfg.create(Normalizer(STATS, [SPEC], cfg.norm_mode), [SPEC])
    pol.set_fast(fast)
    return pol


def make_batch(b=3, t=2, has_action=(True, True, False)):
    batch = {f"observation.images.{c}": torch.randint(0, 256, (b, t, 3, 64, 64), dtype=torch.uint8) for c in CAMS}
    batch.update({"observation.state": torch.randn(b, t, 4),
                  "action": (torch.rand(b, 10, 4) * 0.4 - 0.2).cumsum(1).clamp(-1, 1),
                  "action_is_pad": torch.zeros(b, 10, dtype=torch.bool),
                  "observation.is_pad": torch.zeros(b, t, dtype=torch.bool),
                  "task": ["reach the goal", "push the puck", "pick place"][:b],
                  "embodiment": [SPEC.name] * b, "has_action": torch.tensor(has_action[:b])})
    return batch


def obs_of(batch):
    keep = {k: v for k, v in batch.items() if k.startswith("observation.images")}
    return {**keep, "task": batch["task"], "embodiment": batch["embodiment"]}


def test_loss_shapes_both_stages(fast):
    pol = make_policy(fast)
    batch = make_batch()
    for stage, key in (("world_model", "ce_image"), ("policy", "ce_action")):
        pol.set_stage(stage)
        loss, logs = pol(batch)
        assert loss.dim() == 0 and torch.isfinite(loss) and key in logs
        loss.backward()
        assert pol.decoder.blocks[0].attn.qkv.weight.grad is not None
        assert all(p.grad is None for n, p in pol.named_parameters() if n.startswith("vq."))  # frozen
        pol.zero_grad()
    pol.set_stage("vq")
    loss, logs = pol(batch)
    assert "psnr" in logs
    assert not any(p.requires_grad for n, p in pol.named_parameters() if not n.startswith("vq."))


def test_loss_masking_image_only_vs_action_only(fast):
    pol = make_policy(fast)
    c = pol.config
    batch = make_batch(t=3)
    batch["observation.is_pad"][0, 0] = True
    per_frame = 2 * c.tokens_per_view + 2

    pol.set_stage("world_model")
    ids, tgt = pol._training_sequence(batch)
    sup = tgt[tgt != -100]
    assert ((sup >= c.image_offset) & (sup < c.image_offset + c.codebook_size)).all()  # image tokens only
    assert (tgt[:, :per_frame] == -100).all()  # the first frame is context
    assert (tgt[0, per_frame:] != -100).sum() == 2 * 2 * c.tokens_per_view  # frames 2, 3 of sample 0
    assert ids.shape[1] == 3 * per_frame  # no action block in the world model

    pol.set_stage("policy")
    ids, tgt = pol._training_sequence(batch)
    sup = tgt[tgt != -100]
    assert ((sup >= c.fast_offset) & (sup < c.text_vocab) | (sup == c.special["eoa"])).all()  # actions only
    assert (tgt[:, :3 * per_frame] == -100).all()
    assert (tgt[2] == -100).all()  # the action-free sample adds nothing
    assert (tgt[:2] == c.special["eoa"]).sum() == 2
    assert (ids[:, 3 * per_frame] == c.special["boa"]).all()


def test_action_free_batch_in_policy_stage_gives_zero_loss(fast):
    pol = make_policy(fast)
    pol.set_stage("policy")
    loss, logs = pol(make_batch(has_action=(False, False, False)))
    assert loss.item() == 0.0 and loss.requires_grad and logs["n_targets"] == 0
    pol.set_stage("world_model")  # the same video trains the world model
    loss, _ = pol(make_batch(has_action=(False, False, False)))
    assert loss.item() > 0


def test_constrained_decoding_emits_only_action_ids(fast):
    pol = make_policy(fast, max_action_tokens=12).eval()
    c = pol.config
    ids = pol._prompt(obs_of(make_batch()))
    gen = pol.generate(["a", "b", "c"], ids, pol.allowed_ids("action"), 12, stop_id=c.special["eoa"])
    real = gen[gen != c.special["pad"]]
    assert (((real >= c.fast_offset) & (real < c.text_vocab)) | (real == c.special["eoa"])).all()
    img = pol.generate(["a", "b", "c"], ids, pol.allowed_ids("image"), 5)
    assert ((img >= c.image_offset) & (img < c.image_offset + c.codebook_size)).all()


def test_kv_cached_decoding_equals_uncached(fast):
    pol = make_policy(fast).eval()
    ids = pol._prompt(obs_of(make_batch()))
    for kind, n in (("action", 10), ("image", 2 * pol.config.tokens_per_view)):
        allowed = pol.allowed_ids(kind)
        a = pol.generate(["x", "y", "z"], ids, allowed, n, use_cache=True)
        b = pol.generate(["x", "y", "z"], ids, allowed, n, use_cache=False)
        grown = pol.generate(["x", "y", "z"], ids, allowed, n, static_cache=False)  # concatenated, not in place
        assert torch.equal(a, b) and torch.equal(a, grown)
    fut = pol.predict_future(obs_of(make_batch()))
    assert fut["future.images.corner2"].shape == (3, 1, 3, 64, 64)
    assert fut["future.codes"].shape == (3, 2, 8, 8)


def test_decode_failure_is_flagged_with_fallback(fast, monkeypatch, caplog):
    pol = make_policy(fast, decode_fallback="repeat_last").eval()
    c = pol.config
    good = np.clip(np.linspace(-0.5, 0.5, 40).reshape(10, 4), -1, 1)
    valid = [c.fast_offset + i for i in fast.encode(good)] + [c.special["eoa"]]
    outputs = iter([torch.tensor([valid]), torch.tensor([valid[:1] + [c.special["eoa"]]]),
                    torch.tensor([[c.fast_offset] * c.max_action_tokens])])
    monkeypatch.setattr(pol, "generate", lambda *a, **k: next(outputs))
    obs = obs_of(make_batch(b=1))
    first = pol.predict_action_chunk(obs)
    assert pol.last_decode_ok.tolist() == [True] and pol.decode_failures == 0
    assert torch.allclose(first[0], torch.as_tensor(good, dtype=torch.float32), atol=0.5 / 10 * np.sqrt(10))
    second = pol.predict_action_chunk(obs)  # too few symbols -> repeat the previous chunk
    assert pol.last_decode_ok.tolist() == [False] and pol.decode_failures == 1
    assert torch.equal(second, first)
    assert "failed to decode" in caplog.text
    pol.reset()
    third = pol.predict_action_chunk(obs)  # no eoa and no previous chunk -> zeros, flagged
    assert pol.decode_failures == 2 and torch.count_nonzero(third) == 0


def test_relaxed_decoding_repairs_and_counts(fast, monkeypatch):
    pol = make_policy(fast, fast_decode="relaxed").eval()
    c = pol.config
    good = np.clip(np.linspace(-0.5, 0.5, 40).reshape(10, 4), -1, 1)
    ids = fast.encode(good)
    valid = [c.fast_offset + i for i in ids] + [c.special["eoa"]]
    short = [c.fast_offset + ids[0], c.special["eoa"]]
    outputs = iter([torch.tensor([valid]), torch.tensor([short]), torch.tensor([[c.special["eoa"]] * 3])])
    monkeypatch.setattr(pol, "generate", lambda *a, **k: next(outputs))
    obs = obs_of(make_batch(b=1))
    exact = pol.predict_action_chunk(obs)
    assert pol.diagnostics() == {"action_chunks": 1, "decode_failures": 0, "decode_repaired": 0}
    repaired = pol.predict_action_chunk(obs)  # too few coefficients: zero-filled high frequencies, flagged
    assert pol.last_decode_ok.tolist() == [True]
    assert pol.diagnostics() == {"action_chunks": 2, "decode_failures": 0, "decode_repaired": 1}
    assert not torch.equal(repaired, exact) and torch.isfinite(repaired).all()
    pol.predict_action_chunk(obs)  # eoa first: nothing to decode -> a failure even when relaxed
    assert pol.diagnostics() == {"action_chunks": 3, "decode_failures": 1, "decode_repaired": 1}


def test_select_action_closed_loop(fast):
    pol = make_policy(fast, max_action_tokens=8).eval()
    pol.reset()
    step = {f"observation.images.{c}": torch.randint(0, 256, (1, 3, 64, 64), dtype=torch.uint8) for c in CAMS}
    step.update({"observation.state": torch.zeros(1, 4), "task": "reach", "embodiment": SPEC.name})
    actions = [pol.select_action(step) for _ in range(pol.config.n_action_steps + 1)]
    assert all(a.shape == (1, 4) for a in actions)
    assert pol.decode_calls == 2  # re-planned after n_action_steps


def test_checkpoint_round_trip_with_assets(fast, tmp_path):
    pol = make_policy(fast)
    pol.set_stage("vq")
    pol(make_batch())  # touch the VQ codebook so it differs from a fresh init
    pol.set_stage("policy")
    pol.eval()
    path = save_checkpoint(tmp_path / "ckpt", pol)
    assert (path / "assets" / "fast" / "fast_tokenizer.json").is_file()
    assert (path / "assets" / "vq" / "vq_config.json").is_file()
    again = load_policy(path)
    assert again.fast is not None and again.fast.config == fast.config
    batch = make_batch()
    again.set_stage("policy")
    torch.manual_seed(1)
    l1, _ = pol(batch)
    l2, _ = again(batch)
    assert torch.allclose(l1, l2)
    obs = obs_of(batch)
    assert torch.equal(pol._prompt(obs), again._prompt(obs))
    assert torch.allclose(pol.predict_action_chunk(obs), again.predict_action_chunk(obs))


def test_missing_or_mismatched_fast_is_a_clear_error(fast):
    cfg = small_config()
    pol = cfg.create(Normalizer(STATS, [SPEC], cfg.norm_mode), [SPEC])
    with pytest.raises(ConfigError, match="fit-fast"):
        pol(make_batch())
    other = FASTTokenizer(FASTConfig(vocab_size=256)).fit(np.zeros((4, 5, 4)) + np.arange(5)[None, :, None] / 10)
    with pytest.raises(ValueError, match="--chunk 10"):
        pol.set_fast(other)
    with pytest.raises(ValueError, match="fast_vocab"):
        small_config(text_vocab=100, fast_vocab=256)


def test_paper_preset_count_on_meta_device():
    cfg = UniVLAARConfig.from_preset("paper", text_encoder="hash")
    assert cfg.vocab_size == 184622
    with torch.device("meta"):
        pol = cfg.create(Normalizer({SPEC.name: {}}, [SPEC], cfg.norm_mode), [SPEC])
    n = sum(p.numel() for name, p in pol.named_parameters() if not name.startswith(("vq.", "text_proj")))
    assert abs(n - 8.5e9) / 8.5e9 < 0.10, n
    attn = pol.decoder.blocks[0].attn
    assert attn.kv_heads == 8 and attn.heads == 32


def test_code_cache_matches_fresh_encoding_and_clears_on_new_weights(fast):
    pol = make_policy(fast)
    pol.set_stage("world_model")
    imgs = make_batch()["observation.images.corner2"]
    first = pol.image_codes(imgs)
    assert pol._codes.misses == imgs.shape[0] * imgs.shape[1]
    again = pol.image_codes(imgs)
    assert torch.equal(first, again) and pol._codes.hits == imgs.shape[0] * imgs.shape[1]
    fresh = pol.vq.encode(imgs.flatten(0, 1)).view(imgs.shape[0], imgs.shape[1], -1)
    assert torch.equal(first, fresh)
    pol.load_state_dict(pol.state_dict())
    assert len(pol._codes._d) == 0


# ---- the whole pipeline on a tiny dataset: fit-fast CLI, vq -> world_model -> policy, extract-vq CLI ----

def _write_dataset(root, actions=True, n_eps=3, t=24):
    from vlaforge.data.lerobot import LeRobotDatasetWriter

    w = LeRobotDatasetWriter(root, fps=80, robot_type=SPEC.name, cameras=CAMS, image_size=(64, 64),
                             overwrite=True)
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    for e in range(n_eps):
        rng = np.random.default_rng(e)
        k = np.arange(t, dtype=np.float32)[:, None, None]
        img = np.stack([128 + 100 * np.sin(xx / 9 + k / 5 + e), np.broadcast_to(yy * 3, (t, 64, 64)),
                        128 + 90 * np.cos((xx + yy) / 11 - k / 7)], -1).clip(0, 255).astype(np.uint8)
        ep = {f"observation.images.{c}": img for c in CAMS}
        if actions:
            ep["observation.state"] = rng.normal(size=(t, 4)).astype(np.float32)
            ep["action"] = np.clip(rng.normal(0, 0.2, (t, 4)).cumsum(0), -1, 1).astype(np.float32)
        w.add_episode(ep, task=f"task number {e % 2}")
    w.finalize()
    return root


def test_pipeline_cli_and_trainer_stages(tmp_path):
    from vlaforge.cli.tokenizer import main as tokenizer_main
    from vlaforge.train.config import DataConfig, OptimConfig, TrainConfig
    from vlaforge.train.trainer import train

    data = str(_write_dataset(tmp_path / "ds"))
    video = str(_write_dataset(tmp_path / "video", actions=False))
    assert tokenizer_main(["fit-fast", "--dataset", data, "--chunk", "10", "--vocab", "256",
                           "--out", str(tmp_path / "fast")]) == 0
    assert (tmp_path / "fast" / "fast_tokenizer.json").is_file()

    def run(stage, roots, init_from=None, **policy_kw):
        policy = small_config(fast_path=str(tmp_path / "fast"), **policy_kw)
        cfg = TrainConfig(policy=policy, stage=stage, init_from=init_from, steps=2, precision="fp32",
                          data=DataConfig(roots=roots, batch_size=2, num_workers=0),
                          optim=OptimConfig(warmup_steps=1), out_dir=str(tmp_path / stage), progress=False,
                          tensorboard=False, num_threads=1, log_every=1)
        return train(cfg)

    vq = run("vq", (data, video))
    wm = run("world_model", (video,), init_from=str(vq.checkpoint), wm_frames=3, wm_stride=4)
    pol = run("policy", (data,), init_from=str(wm.checkpoint))
    for r in (vq, wm, pol):
        assert r.step == 2 and np.isfinite(r.final_loss)
    policy = load_policy(pol.checkpoint)
    assert policy.fast is not None
    trained_vq = load_policy(vq.checkpoint).vq.state_dict()
    assert all(torch.equal(v, policy.vq.state_dict()[k]) for k, v in trained_vq.items())  # VQ carried over

    out = tmp_path / "codes.npy"
    assert tokenizer_main(["extract-vq", "--checkpoint", str(pol.checkpoint), "--dataset", data,
                           "--out", str(out)]) == 0
    codes = np.load(out, mmap_mode="r")
    assert codes.shape == (3 * 24, 2, 8, 8) and codes.dtype == np.int16

    # closed-loop eval from the CLI, with an inference-time override; decode counters land in results.json
    from vlaforge.cli.main import main as cli_main

    ev = tmp_path / "eval"
    assert cli_main(["eval", "--policy", str(pol.checkpoint), "--suite", "reach", "--episodes-per-task", "1",
                      "--max-steps", "6", "--workers", "1", "--videos-per-task", "0", "--out", str(ev),
                      "--set", "fast_decode=relaxed", "--set", "max_action_tokens=4"]) == 0
    res = json.loads((ev / "results.json").read_text())
    assert res["image_size"] == [64, 64]  # taken from the checkpoint despite the override
    assert set(res["diagnostics"]) == {"action_chunks", "decode_failures", "decode_repaired"}
    assert res["diagnostics"]["action_chunks"] >= 1
    assert cli_main(["eval", "--policy", str(pol.checkpoint), "--suite", "reach", "--out", str(ev),
                      "--set", "bogus_field=1"]) == 2  # unknown field: a clear error before any rollout


def test_eval_set_rejects_unknown_fields(tmp_path, capsys):
    from vlaforge.cli.eval import parse_overrides
    from vlaforge.cli.main import main as cli_main

    assert parse_overrides(("a=1", "b=relaxed", "c=[1, 2]")) == {"a": 1, "b": "relaxed", "c": [1, 2]}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_overrides(("novalue",))
    assert cli_main(["eval", "--policy", "expert", "--set", "x=1", "--out", str(tmp_path)]) == 2
    assert "--set applies to checkpoints" in capsys.readouterr().err
