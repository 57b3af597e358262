"""Frozen text encoders: MiniLM semantics and cache, hash determinism, nothing in state_dict."""

import pytest
import torch

from vlaforge.nn.text import build_text_encoder


def test_minilm_similar_sentences_are_closer():
    enc = build_text_encoder("minilm")
    e = enc(["pick up the red block", "grasp the red cube", "open the window"])
    assert e.shape == (3, 384)
    assert torch.allclose(e.norm(dim=-1), torch.ones(3), atol=1e-4)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.1
    misses = enc.misses
    again = enc(["grasp the red cube", "pick up the red block"])
    assert enc.misses == misses and enc.hits >= 2          # served from the cache
    assert torch.equal(again[1], e[0])
    assert len(enc.state_dict()) == 0 and not list(enc.parameters())
    tokens, mask = enc.encode_tokens(["push", "pick up the red block"])
    assert tokens.shape[0] == 2 and tokens.shape[2] == 384 and mask[1].sum() > mask[0].sum()
    ids, m = enc.tokenize(["push the puck"], max_len=8)
    assert ids.shape == (1, 8) and m.sum() >= 3


def test_hash_encoder_deterministic_and_distinct():
    a, b = build_text_encoder("hash"), build_text_encoder("hash")
    x, y = a(["reach the goal", "push the puck"]), b(["reach the goal", "push the puck"])
    assert torch.equal(x, y) and not torch.allclose(x[0], x[1])
    ids, mask = a.tokenize(["reach the goal"], max_len=5)
    assert mask.tolist() == [[True, True, True, False, False]] and (ids[0, :3] > 0).all()


def test_bad_names_and_inputs():
    with pytest.raises(KeyError, match="minilm"):
        build_text_encoder("minlm")
    with pytest.raises(TypeError, match="strings"):
        build_text_encoder("hash")([1, 2])
