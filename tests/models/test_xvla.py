"""X-VLA family specifics: gradients, freeze schedule, loss masking, lr groups, backbones. Shapes, save/load,
resume, bad input and the paper preset are checked for every family in tests/contract."""

import pytest
import torch
from safetensors.torch import load_file

from vlaforge.core.checkpoint import load_policy, save_checkpoint
from vlaforge.core.registry import get_family
from vlaforge.core.normalize import Normalizer
from vlaforge.embodiments import get_embodiment
from vlaforge.models.xvla import XVLAConfig

SPEC = get_embodiment("metaworld_sawyer")
STATS = {SPEC.name: {"observation.state": {"mean": [0.0, 0.6, 0.2, 0.5], "std": [0.1, 0.1, 0.1, 0.3]},
                     "action": {"mean": [0.0, 0.1, -0.1, 0.0], "std": [0.5, 0.4, 0.3, 0.9]}}}
SMALL = dict(text_encoder="hash", width=32, depth=1, heads=2, stem_channels=(8, 8, 8, 8), convs_per_stage=1,
             soft_prompt_len=4, chunk_size=6, max_seq_len=128)


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
    torch.manual_seed(0)


def make_policy(**overrides):
    cfg = XVLAConfig.from_preset("tiny", **{**SMALL, **overrides})
    return cfg.create(Normalizer(STATS, [SPEC]), [SPEC])


def make_batch(B=3, To=1, H=6, size=64, cams=("corner2", "gripperPOV")):
    g = torch.Generator().manual_seed(1)
    b = {f"observation.images.{c}": torch.randint(0, 256, (B, To, 3, size, size), dtype=torch.uint8, generator=g)
         for c in cams}
    b.update({"observation.state": torch.randn(B, To, 4, generator=g),
              "action": torch.rand(B, H, 4, generator=g) * 2 - 1,
              "action_is_pad": torch.zeros(B, H, dtype=torch.bool),
              "task": ["push the puck"] * B, "embodiment": [SPEC.name] * B,
              "has_action": torch.ones(B, dtype=torch.bool)})
    return b


def obs_of(batch):
    return {k: v for k, v in batch.items() if k not in ("action", "action_is_pad", "has_action")}


def seeded_loss(policy, batch, seed=0):
    torch.manual_seed(seed)
    return policy(batch)


def test_registered_and_presets():
    assert get_family("xvla") is XVLAConfig
    assert XVLAConfig.from_preset("paper").width == 1024
    with pytest.raises(KeyError, match="Did you mean 'tiny'"):
        XVLAConfig.from_preset("tiyn")
    with pytest.raises(ValueError, match="from_preset"):
        XVLAConfig(preset="paper")  # would build tiny dimensions labelled 'paper'
    assert XVLAConfig.from_preset("paper", dropout=0.0).dropout == 0.0  # overriding back to a default is fine


def test_loss_and_sampling_shapes():
    pol = make_policy()
    loss, logs = pol(make_batch())
    assert loss.dim() == 0 and torch.isfinite(loss) and loss.requires_grad
    assert {"loss", "loss_position", "loss_gripper"} <= set(logs) and all(isinstance(v, float) for v in logs.values())
    pol.eval()
    out = pol.predict_action_chunk(obs_of(make_batch()), generator=torch.Generator().manual_seed(0))
    assert out.shape == (3, 6, 4) and torch.isfinite(out).all()
    assert ((out[..., 3] >= -1) & (out[..., 3] <= 1)).all()          # gripper: sigmoid mapped onto [low, high]


def test_gradients_reach_soft_prompts_heads_and_encoder():
    pol = make_policy()
    pol(make_batch())[0].backward()
    for name in ("soft_prompts.weight", "action_in.weight", "action_out.weight", "vl.stems.0.proj.weight",
                 "vl.stems.1.proj.weight", "vl.text_proj.weight", "pos.weight"):
        g = dict(pol.named_parameters())[name].grad
        assert g is not None and g.abs().sum() > 0, name
    row = pol.config.domain_ids[SPEC.name]
    unused = pol.soft_prompts.weight.grad.clone()
    unused[row] = 0
    assert unused.abs().sum() == 0                     # only this domain's prompts get gradient


def test_freeze_steps_train_only_prompts_and_heads():
    pol = make_policy(freeze_steps=2)
    pol.on_train_step(0)
    groups = pol.param_groups(0.01)
    n_in_groups = sum(len(g["params"]) for g in groups)
    assert n_in_groups == len(list(pol.parameters()))   # frozen params stay in the optimizer groups
    pol(make_batch())[0].backward()
    grads = {n: p.grad for n, p in pol.named_parameters()}
    assert grads["soft_prompts.weight"] is not None and grads["action_out.weight"] is not None
    assert grads["transformer.blocks.0.attn.qkv.weight"] is None and grads["vl.stems.0.proj.weight"] is None
    pol.on_train_step(2)
    assert all(p.requires_grad for p in pol.parameters())


def test_param_group_lr_scales():
    pol = make_policy(vlm_lr_scale=0.1, soft_prompt_lr_scale=0.1)
    by_id = {id(p): g["lr_scale"] for g in pol.param_groups(0.0) for p in g["params"]}
    assert by_id[id(pol.soft_prompts.weight)] == 0.1
    assert by_id[id(pol.vl.stems[0].proj.weight)] == 0.1
    assert by_id[id(pol.transformer.blocks[0].attn.qkv.weight)] == 1.0


def test_padded_steps_and_dims_do_not_affect_loss():
    pol = make_policy()
    b = make_batch()
    b["action_is_pad"][:, 4:] = True
    ref, _ = seeded_loss(pol, b)
    b2 = {**b, "action": b["action"].clone()}
    b2["action"][:, 4:] = 123.0                          # garbage past the episode end
    assert torch.allclose(seeded_loss(pol, b2)[0], ref)
    ref.backward()
    g = pol.action_out.weight.grad                       # (domains, W, MAX_DIM)
    assert g[..., 4:].abs().sum() == 0 and g[..., :4].abs().sum() > 0   # padded action dims: no gradient


def test_action_free_samples():
    pol = make_policy()
    b = make_batch(B=4)
    b["has_action"] = torch.tensor([True, False, True, False])
    mixed, logs = seeded_loss(pol, b)
    assert logs["n_action_samples"] == 2.0
    keep = {k: (v[[0, 2]] if torch.is_tensor(v) else [v[0], v[2]]) for k, v in b.items()}
    keep["has_action"] = torch.ones(2, dtype=torch.bool)
    assert torch.allclose(mixed, seeded_loss(pol, keep)[0])
    b["has_action"] = torch.zeros(4, dtype=torch.bool)
    del b["action"]
    zero, _ = pol(b)
    assert zero.item() == 0.0 and zero.requires_grad
    zero.backward()


def test_history_frames_and_select_action():
    pol = make_policy(n_obs_steps=2, n_action_steps=3).eval()
    b = make_batch(B=2, To=2)
    assert pol(b)[0].isfinite()
    pol.reset()
    single = {k: (v[:, -1] if k.startswith("observation.") else v) for k, v in obs_of(b).items()}
    acts = [pol.select_action(single, generator=torch.Generator().manual_seed(0)) for _ in range(4)]
    assert all(a.shape == (2, 4) for a in acts)


def assert_rows_independent(pol, b):
    """Encoding a batch equals encoding each sample alone (no mixing of rows across views/frames)."""
    with torch.no_grad():
        full = pol.encode(pol.check_batch(obs_of(b), training=False)).visual
        one = {k: (v[1:2] if torch.is_tensor(v) else v[1:2]) for k, v in obs_of(b).items()}
        single = pol.encode(pol.check_batch(one, training=False)).visual
    assert torch.allclose(full[1:2], single, atol=1e-5)


def test_conv_encoder_rows_independent_with_history():
    pol = make_policy(n_obs_steps=3).eval()
    assert_rows_independent(pol, make_batch(To=3))


def test_checkpoint_round_trip(tmp_path):
    pol = make_policy()
    opt = torch.optim.AdamW(pol.parameters(), 1e-3)
    pol(make_batch())[0].backward()
    opt.step()
    pol.eval()
    obs = obs_of(make_batch())
    before = pol.predict_action_chunk(obs, generator=torch.Generator().manual_seed(7))
    save_checkpoint(tmp_path / "ckpt", pol)
    keys = load_file(str(tmp_path / "ckpt" / "model.safetensors")).keys()
    assert not any(k.startswith(("text.", "normalizer.", "_")) for k in keys)
    loaded = load_policy(tmp_path / "ckpt")
    assert loaded.config.domain_ids == {SPEC.name: 0}
    after = loaded.predict_action_chunk(obs, generator=torch.Generator().manual_seed(7))
    assert torch.equal(before, after)
    again = loaded.predict_action_chunk(obs, generator=torch.Generator().manual_seed(8))
    assert not torch.equal(before, again)              # the generator really drives the noise


def test_minilm_weights_stay_out_of_the_policy():
    pol = make_policy(text_encoder="minilm")
    pol(make_batch(B=2))
    assert not any(k.startswith("text.") for k in pol.state_dict())
    assert pol.text.misses == 1


def test_paper_preset_parameter_count_on_meta():
    cfg = XVLAConfig.from_preset("paper", text_encoder="hash")
    with torch.device("meta"):
        pol = cfg.create(Normalizer(STATS, [SPEC]), [SPEC])
    n = sum(p.numel() for p in pol.parameters())
    n_vlm = sum(p.numel() for p in pol.vl.parameters())
    assert abs(n - 0.9e9) / 0.9e9 < 0.10, n
    assert 0.5e9 < n_vlm < 0.62e9                       # Florence-2-large without its text decoder
    assert len(pol.transformer.blocks) == 24 and pol.soft_prompts.weight.shape == (30, 32 * 1024)


def test_hf_backbone_path(tmp_path):
    import transformers

    cfg = transformers.SiglipVisionConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                          intermediate_size=64, image_size=32, patch_size=16)
    transformers.SiglipVisionModel(cfg).save_pretrained(tmp_path / "siglip")
    pol = make_policy(backbone_path=str(tmp_path / "siglip"), n_obs_steps=2)
    b = make_batch(To=2)
    loss, _ = pol(b)
    loss.backward()
    assert all(p.grad is not None for p in pol.vl.backbone.parameters())   # the VLM is fine-tuned
    pol.eval()
    assert pol.predict_action_chunk(obs_of(b)).shape == (3, 6, 4)
    assert_rows_independent(pol, b)
    with pytest.raises(ValueError, match="does not exist"):
        make_policy(backbone_path=str(tmp_path / "missing"))


def test_bad_input_is_a_clear_error():
    from vlaforge.core.errors import BatchError

    pol = make_policy()
    b = make_batch()
    with pytest.raises(BatchError, match="gripperPOV"):
        pol({k: v for k, v in b.items() if k != "observation.images.gripperPOV"})
    with pytest.raises(BatchError, match="state_dim"):
        pol({**b, "observation.state": torch.randn(3, 1, 7)})
    with pytest.raises(BatchError, match="image_size"):
        pol(make_batch(size=48))
    with pytest.raises(BatchError, match="chunk_size"):
        pol({**b, "action": torch.randn(3, 9, 4)})
    with pytest.raises(BatchError, match="unknown embodiment"):
        pol({**b, "embodiment": ["aloha"] * 3})


def test_prefix_attention_caches_the_context_exactly():
    """attention='prefix': the visual + prompt tokens never see the actions, so caching their keys/values once
    per chunk gives the same chunk as running every token at every denoising step."""
    from vlaforge.core.keys import MAX_DIM
    from vlaforge.nn.flow import euler_sample

    pol = make_policy(attention="prefix", depth=2).eval()  # (with one block the mask could not matter)
    obs = obs_of(make_batch())
    with torch.no_grad():
        ctx = pol.encode(pol.check_batch(obs, training=False))
        noise = torch.randn(3, 6, MAX_DIM, generator=torch.Generator().manual_seed(0))  # predict_action_chunk's
        t = torch.full((3,), 0.7)
        cached = pol.denoise(noise, t, ctx, pol.encode_prefix(ctx))
        full = pol.denoise(noise, t, ctx)  # one masked pass over every token, as in training
        torch.testing.assert_close(cached, full, atol=1e-5, rtol=1e-5)
        chunk = pol.predict_action_chunk(obs, generator=torch.Generator().manual_seed(0))
        x0 = euler_sample(lambda x, s: pol.denoise(x, s, ctx), noise, pol.config.num_inference_steps, "clean")
        torch.testing.assert_close(chunk, pol._to_raw(x0.float(), ctx.row), atol=1e-5, rtol=1e-5)
        pol.config.attention = "full"  # the mask is what makes it exact: full attention gives another output
        assert not torch.allclose(pol.denoise(noise, t, ctx), full, atol=1e-4)
    loss, _ = make_policy(attention="prefix")(make_batch())  # and it trains
    loss.backward()


def test_instruction_to_actions_conditions_every_action_token():
    pol = make_policy(instruction_to_actions=True)
    batch = make_batch()
    loss, _ = pol(batch)
    loss.backward()
    assert pol.instruction_in.weight.grad is not None and pol.instruction_in.weight.grad.abs().sum() > 0
    pol.eval()
    obs = obs_of(batch)
    a = pol.predict_action_chunk(obs, generator=torch.Generator().manual_seed(0))
    b = pol.predict_action_chunk({**obs, "task": ["open the drawer"] * 3}, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(a, b)
    assert make_policy().instruction_in is None  # off by default: the paper's layout


def test_zero_initial_noise_gives_one_deterministic_chunk():
    pol = make_policy(init_noise_scale=0.0).eval()
    obs = obs_of(make_batch())
    a = pol.predict_action_chunk(obs, generator=torch.Generator().manual_seed(0))
    b = pol.predict_action_chunk(obs, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)  # the noise is scaled to zero, so the generator no longer matters
    pol.config.init_noise_scale = 1.0  # the paper's sampler: different noise, different chunk
    c = pol.predict_action_chunk(obs, generator=torch.Generator().manual_seed(0))
    d = pol.predict_action_chunk(obs, generator=torch.Generator().manual_seed(1))
    assert not torch.allclose(c, d)


def test_global_context_reads_every_visual_token():
    pol = make_policy(global_context=True)
    batch = make_batch()
    loss, _ = pol(batch)
    loss.backward()
    first = pol.context_in[0]
    n_tokens = pol.vl.num_tokens(2)  # instruction + 2 views x tokens per view
    assert first.in_features == n_tokens * pol.config.width
    grad = first.weight.grad.view(first.out_features, n_tokens, pol.config.width)
    assert (grad.abs().sum(dim=(0, 2)) > 0).all()  # every token position reaches the summary
    pol.eval()
    obs = obs_of(batch)
    other = dict(obs)
    other["observation.images.gripperPOV"] = torch.zeros_like(obs["observation.images.gripperPOV"])
    g = torch.Generator
    assert not torch.allclose(pol.predict_action_chunk(obs, generator=g().manual_seed(0)),
                              pol.predict_action_chunk(other, generator=g().manual_seed(0)))
    assert make_policy().context_in is None  # off by default: the paper's layout


def test_global_context_head_starts_as_the_network_without_it_and_then_predicts_the_chunk_directly():
    from vlaforge.core.errors import ConfigError

    batch = make_batch()
    obs = obs_of(batch)
    base = make_policy(global_context=True).eval()
    head = make_policy(global_context=True, global_context_head=True).eval()
    missing, unexpected = head.load_state_dict(base.state_dict(), strict=False)
    assert sorted(missing) == ["context_head.bias", "context_head.weight"] and not unexpected
    g = torch.Generator
    same = lambda a, b: torch.allclose(a.predict_action_chunk(obs, generator=g().manual_seed(0)),  # noqa: E731
                                       b.predict_action_chunk(obs, generator=g().manual_seed(0)), atol=1e-6)
    assert same(head, base)  # zero-initialised: step 0 is the network without it
    head.train()
    loss, _ = head(batch)
    loss.backward()
    assert head.context_head.weight.grad.abs().sum() > 0  # the loss reaches the direct read-out
    with torch.no_grad():
        head.context_head.bias.fill_(0.5)  # a shift of the read-out moves the whole chunk
    assert not same(head.eval(), base)
    with pytest.raises(ConfigError, match="global_context=True"):
        make_policy(global_context_head=True)


def test_without_proprio_the_chunk_ignores_the_state_and_dropout_zeroes_some_samples():
    from vlaforge.core.errors import ConfigError

    batch = make_batch()
    moved = dict(obs_of(batch), **{"observation.state": obs_of(batch)["observation.state"] + 1.0})
    g = torch.Generator
    blind = make_policy(use_proprio=False).eval()
    torch.testing.assert_close(blind.predict_action_chunk(obs_of(batch), generator=g().manual_seed(0)),
                               blind.predict_action_chunk(moved, generator=g().manual_seed(0)))
    plain = make_policy().eval()
    assert not torch.allclose(plain.predict_action_chunk(obs_of(batch), generator=g().manual_seed(0)),
                              plain.predict_action_chunk(moved, generator=g().manual_seed(0)))
    drop = make_policy(proprio_dropout=0.5)
    state = torch.ones(400, 1, 7)
    torch.manual_seed(0)
    kept = drop._proprio(state)[:, 0, 0]  # training mode: whole samples zeroed, about half of them
    assert set(kept.tolist()) == {0.0, 1.0} and 120 < int((kept == 0).sum()) < 280
    assert torch.equal(drop.eval()._proprio(state), state)  # inference always reads the state
    with pytest.raises(ConfigError, match="proprio_dropout"):
        make_policy(proprio_dropout=1.0)


@pytest.mark.parametrize("option, module", [("stem_keypoints", "keypoints"), ("stem_grid", "grid")])
def test_stem_readout_adds_one_token_per_view_that_the_chunk_reads(option, module):
    from vlaforge.core.errors import ConfigError

    policy = make_policy(**{option: 2})
    assert policy.vl.tokens_per_view == make_policy().vl.tokens_per_view + 1
    batch = make_batch()
    loss, _ = seeded_loss(policy, batch)
    loss.backward()
    assert all(getattr(s, module).proj.weight.grad.abs().sum() > 0 for s in policy.vl.stems)  # every view's trains
    chunk = policy.eval().predict_action_chunk(obs_of(batch), generator=torch.Generator().manual_seed(0))
    assert chunk.shape[:2] == (3, policy.config.chunk_size) and torch.isfinite(chunk).all()
    with pytest.raises(ConfigError, match="vl_encoder='conv'"):
        make_policy(**{option: 2}, vl_encoder="patch")
    with pytest.raises(ConfigError, match=option):
        make_policy(**{option: -1})
    with pytest.raises(ConfigError, match="stages: give it"):
        make_policy(**{option: 2}, stem_channels=(8,))


def zero_init_twin(**option):
    """A plain policy and one with a zero-initialised ``option`` sharing every other weight, plus the keys only the
    latter has; their losses must agree (the option starts as the unconditioned network)."""
    torch.manual_seed(0)
    plain = make_policy()
    torch.manual_seed(0)
    twin = make_policy(**option)
    missing = twin.load_state_dict(plain.state_dict(), strict=False).missing_keys  # the new layers stay zero
    batch = make_batch()
    torch.testing.assert_close(seeded_loss(twin, batch)[0], seeded_loss(plain, batch)[0])  # zero-init: identical
    return twin, batch, missing


def test_instruction_film_starts_as_the_unconditioned_network_and_learns_per_task():
    film, batch, _ = zero_init_twin(instruction_film=True)
    loss, _ = seeded_loss(film, batch)
    loss.backward()
    assert film.film.weight.grad.abs().sum() > 0  # the instruction reaches every visual token's scale and shift
    with torch.no_grad():
        film.film.weight.normal_(std=0.1)
    film.eval()
    obs = obs_of(batch)
    ctx_a = film.encode(obs)
    ctx_b = film.encode({**obs, "task": ["open the drawer"] * 3})
    assert not torch.allclose(ctx_a.visual[:, 1:], ctx_b.visual[:, 1:])  # image tokens now depend on the task
    assert make_policy().film is None  # off by default: the paper's layout


def test_instruction_adaln_starts_as_the_unconditioned_network_and_conditions_every_block():
    ada, batch, missing = zero_init_twin(instruction_adaln=True)
    assert missing and all(".modulation." in k for k in missing)
    loss, _ = seeded_loss(ada, batch)
    loss.backward()
    assert all(b.modulation.weight.grad.abs().sum() > 0 for b in ada.transformer.blocks)  # every block learns
    with torch.no_grad():
        for b in ada.transformer.blocks:
            b.modulation.weight.normal_(std=0.1)
    ada.eval()
    obs = obs_of(batch)
    g = torch.Generator
    a = ada.predict_action_chunk(obs, generator=g().manual_seed(0))
    b = ada.predict_action_chunk({**obs, "task": ["open the drawer"] * 3}, generator=g().manual_seed(0))
    assert not torch.allclose(a, b)  # the chunk now depends on the task through every block
    assert make_policy().transformer.blocks[0].modulation is None  # off by default: the paper's layout


def test_instruction_adaln_with_prefix_attention_caches_exactly():
    """The cached visual + prompt keys/values were computed under the same modulation the action tokens get."""
    from vlaforge.core.keys import MAX_DIM

    pol = make_policy(attention="prefix", instruction_adaln=True, depth=2).eval()
    with torch.no_grad():
        for blk in pol.transformer.blocks:
            blk.modulation.weight.normal_(std=0.1)
        ctx = pol.encode(pol.check_batch(obs_of(make_batch()), training=False))
        noise = torch.randn(3, 6, MAX_DIM, generator=torch.Generator().manual_seed(0))
        t = torch.full((3,), 0.7)
        torch.testing.assert_close(pol.denoise(noise, t, ctx, pol.encode_prefix(ctx)), pol.denoise(noise, t, ctx),
                                   atol=1e-5, rtol=1e-5)
