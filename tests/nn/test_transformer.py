"""The shared transformer: masks, KV-cache decoding equals a causal full pass, rotary embedding."""

import pytest
import torch

from vlaforge.nn.transformer import (
    Attention, KVCache, Transformer, block_mask, causal_mask, padding_mask, rope_tables,
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_masks_shapes_and_values():
    assert torch.equal(causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool))
    ids = torch.tensor([0, 0, 1, 2, 2])
    m = block_mask(ids)
    assert m.shape == (5, 5)
    assert m[0, 1] and m[1, 0]            # bidirectional inside a block
    assert m[3, 0] and not m[0, 3]        # later blocks see earlier ones, never the reverse
    assert m[3, 4] and m[4, 3]
    diag = block_mask(ids, causal_blocks=False)
    assert not diag[3, 0] and diag[3, 4]
    assert block_mask(ids.expand(2, -1)).shape == (2, 1, 5, 5)
    pad = padding_mask(torch.tensor([[False, False, True]]), causal_mask(3))
    assert pad.shape == (1, 1, 3, 3) and not pad[0, 0, 2, 2] and pad[0, 0, 1, 0]


def test_full_attention_is_permutation_equivariant():
    net = Transformer(32, depth=2, heads=4).eval()
    x = torch.randn(2, 6, 32)
    perm = torch.randperm(6)
    assert torch.allclose(net(x)[:, perm], net(x[:, perm]), atol=1e-5)


def test_kv_cache_decoding_matches_causal_pass():
    net = Transformer(32, depth=3, heads=4).eval()
    x = torch.randn(2, 7, 32)
    full = net(x, mask=causal_mask(7))
    cache = KVCache()
    first = net(x[:, :4], kv_cache=cache)          # prefill: causal by default with a cache
    assert cache.length == 4
    steps = [net(x[:, i:i + 1], kv_cache=cache) for i in range(4, 7)]
    assert cache.length == 7
    assert torch.allclose(torch.cat([first, *steps], 1), full, atol=1e-5)


def test_kv_cache_chunk_after_prefix_and_readonly():
    net = Transformer(16, depth=2, heads=2).eval()
    x = torch.randn(1, 6, 16)
    full = net(x, mask=causal_mask(6))
    cache = KVCache()
    net(x[:, :2], kv_cache=cache)
    cache.append = False
    out = net(x[:, 2:], kv_cache=cache)            # 4 new tokens: cached + causal among themselves
    assert cache.length == 2                       # read-only: the cache did not grow
    assert torch.allclose(out, full[:, 2:], atol=1e-5)
    cache.append = True
    net(x[:, 2:], kv_cache=cache)
    cache.crop(3)
    assert cache.length == 3


def test_rope_with_cache_matches_full():
    attn = Attention(16, 2).eval()
    x = torch.randn(1, 5, 16)
    pos = torch.arange(5)
    full = attn(x, mask=causal_mask(5), rope=rope_tables(pos, 8))
    cache = KVCache()
    a = attn(x[:, :3], kv_cache=cache, rope=rope_tables(pos[:3], 8))
    b = attn(x[:, 3:], kv_cache=cache, rope=rope_tables(pos[3:], 8))
    assert torch.allclose(torch.cat([a, b], 1), full, atol=1e-5)


def test_bad_mask_is_a_clear_error():
    attn = Attention(16, 2)
    with pytest.raises(ValueError, match="does not fit"):
        attn(torch.randn(1, 4, 16), mask=causal_mask(3))
    with pytest.raises(TypeError, match="bool"):
        attn(torch.randn(1, 3, 16), mask=causal_mask(3).float())
    with pytest.raises(ValueError, match="divisible"):
        Attention(10, 3)


def test_padded_keys_do_not_change_real_outputs():
    net = Transformer(16, depth=2, heads=2).eval()
    x = torch.randn(1, 5, 16)
    is_pad = torch.tensor([[False, False, False, True, True]])
    y1 = net(x, mask=padding_mask(is_pad))
    x2 = x.clone()
    x2[:, 3:] = torch.randn(1, 2, 16) * 10
    y2 = net(x2, mask=padding_mask(is_pad))
    assert torch.allclose(y1[:, :3], y2[:, :3], atol=1e-5)


@pytest.mark.parametrize("case", ["none", "mask", "causal", "gqa"])
def test_explicit_attention_matches_sdpa(case):
    """The bf16-on-CPU path (plain matmuls, fp32 softmax) computes what SDPA computes."""
    import torch.nn.functional as F

    from vlaforge.nn.attention import _explicit_attention

    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 4, 7, 16, generator=g)
    k, v = (torch.randn(2, 2 if case == "gqa" else 4, 7, 16, generator=g) for _ in range(2))
    mask = None
    if case == "mask":
        mask = torch.rand(2, 1, 7, 7, generator=g) > 0.3
        mask[..., 0] = True  # every query sees at least one key
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=case == "causal",
                                         enable_gqa=case == "gqa")
    out = _explicit_attention(q, k, v, mask, case == "causal")
    assert torch.allclose(out, ref, atol=1e-5)


def test_bf16_cpu_attention_takes_the_explicit_path_and_agrees(monkeypatch):
    import vlaforge.nn.attention as attention

    calls = []
    real = attention._explicit_attention
    monkeypatch.setattr(attention, "_explicit_attention", lambda *a: calls.append(a[0].dtype) or real(*a))
    torch.manual_seed(0)
    attn = Attention(32, 4).eval()
    x = torch.randn(2, 9, 32)
    ref = attn(x)
    assert calls == []  # fp32 stays on SDPA
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = attn(x)
    assert calls == [torch.bfloat16] and out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), ref, atol=3e-2)  # bf16 rounding only


def test_adaln_condition_is_zero_at_init_and_per_sample_after():
    """``cond_dim``: a zero-initialised modulation (the unconditioned stack at step 0), then each sample's
    condition shifts and scales its own tokens only."""
    plain = Transformer(16, 2, 4)
    torch.manual_seed(0)
    cond = Transformer(16, 2, 4, cond_dim=8)
    cond.load_state_dict(plain.state_dict(), strict=False)
    x, c = torch.randn(3, 5, 16), torch.randn(3, 8)
    torch.testing.assert_close(cond(x, cond=c), plain(x))
    with torch.no_grad():
        for blk in cond.blocks:
            blk.modulation.weight.normal_(std=0.5)
    c2 = c.clone()
    c2[1] += 1.0  # change sample 1's condition only
    out, out2 = cond(x, cond=c), cond(x, cond=c2)
    torch.testing.assert_close(out[[0, 2]], out2[[0, 2]])
    assert not torch.allclose(out[1], out2[1])
    with pytest.raises(ValueError, match="needs cond"):
        cond(x)


def test_static_kv_cache_matches_growing_one():
    """KVCache(capacity) writes each token into preallocated buffers; decoding, an outgrown buffer, crop and
    reorder give what the concatenating cache gives."""
    net = Transformer(16, depth=2, heads=2).eval()
    x = torch.randn(2, 9, 16)
    full = net(x, mask=causal_mask(9))
    for capacity in (9, 5, 1):  # exact, outgrown after the prefill, outgrown at once
        cache = KVCache(capacity=capacity)
        outs = [net(x[:, :4], kv_cache=cache)] + [net(x[:, i:i + 1], kv_cache=cache) for i in range(4, 9)]
        assert cache.length == 9
        assert torch.allclose(torch.cat(outs, 1), full, atol=1e-5)
    cache = KVCache(capacity=16)
    net(x[:, :6], kv_cache=cache)
    cache.crop(4)                                   # roll back, then decode over the dropped positions again
    again = net(x[:, 4:5], kv_cache=cache)
    assert cache.length == 5 and torch.allclose(again, full[:, 4:5], atol=1e-5)
    cache.reorder(torch.tensor([1]))                # keep row 1: the next write goes to fresh buffers
    last = net(x[1:, 5:6], kv_cache=cache)
    assert torch.allclose(last, full[1:, 5:6], atol=1e-5)
    with pytest.raises(ValueError, match="capacity"):
        KVCache(capacity=0)
