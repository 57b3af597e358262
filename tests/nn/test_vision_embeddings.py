"""Vision stems (token counts, pixel range, augmentation) and embeddings."""

import pytest
import torch

from vlaforge.nn.embeddings import LearnedPositionEmbedding, TimeEmbedding, sinusoidal_embedding
from vlaforge.nn.vision import ConvStem, PatchStem, random_shift, to_signed_unit


def test_pixel_range():
    x = torch.tensor([0, 255], dtype=torch.uint8)
    assert torch.allclose(to_signed_unit(x), torch.tensor([-1.0, 1.0]))
    assert torch.allclose(to_signed_unit(torch.tensor([0.0, 1.0])), torch.tensor([-1.0, 1.0]))
    with pytest.raises(TypeError):
        to_signed_unit(torch.tensor([1, 2]))


def test_conv_stem_gives_16_tokens_for_64px():
    stem = ConvStem(48, channels=(8, 16, 16, 32), convs_per_stage=2)
    img = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    out = stem(img)
    assert out.shape == (2, 16, 48) and stem.num_tokens((64, 64)) == 16


def test_patch_stem_tokens():
    stem = PatchStem(32, patch=16)
    assert stem(torch.randint(0, 256, (1, 3, 64, 64), dtype=torch.uint8)).shape == (1, 16, 32)
    assert stem.num_tokens((64, 64)) == 16


def test_random_shift_is_integer_translation_and_train_only():
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8)
    y = random_shift(x, 2, generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    for b in range(2):   # every output row is a (clamped) shifted copy of input rows
        vals = set(y[b].flatten().tolist())
        assert vals <= set(x[b].flatten().tolist())
    stem = ConvStem(8, channels=(8,), shift_pad=4).eval()
    img = torch.randint(0, 256, (1, 3, 16, 16), dtype=torch.uint8)
    assert torch.equal(stem(img), stem(img))   # eval: deterministic, no augmentation
    stem.train()
    torch.manual_seed(0)
    outs = [stem(img) for _ in range(4)]
    assert any(not torch.equal(outs[0], o) for o in outs[1:])


def test_embeddings():
    e = sinusoidal_embedding(torch.tensor([0.0, 0.5]), 33, max_period=100)
    assert e.shape == (2, 33) and torch.allclose(e[0, :16], torch.ones(16))
    assert TimeEmbedding(16, 32)(torch.rand(3)).shape == (3, 32)
    pos = LearnedPositionEmbedding(8, 4)
    assert pos(torch.zeros(2, 5, 4)).shape == (2, 5, 4)
    with pytest.raises(ValueError, match="max_seq_len"):
        pos(torch.zeros(1, 9, 4))


def test_spatial_softmax_keypoints_locate_a_bright_spot():
    from vlaforge.nn.vision import SpatialSoftmax

    kp = SpatialSoftmax(in_channels=1, keypoints=1, dim=4)
    with torch.no_grad():  # the identity map, sharpened: the keypoint is the hottest cell
        kp.conv.weight.fill_(1.0), kp.conv.bias.zero_(), kp.log_temperature.fill_(-3.0)
    x = torch.zeros(2, 1, 8, 8)
    x[0, 0, 1, 6] = 1.0  # row 1 (y near the top), column 6 (x right of centre)
    x[1, 0, 7, 0] = 1.0  # bottom-left corner
    xy = kp.coordinates(x)  # (B, K * 2) as (x, y)
    step = 2 / 7
    torch.testing.assert_close(xy, torch.tensor([[-1 + 6 * step, -1 + step], [-1.0, 1.0]]), atol=1e-3, rtol=0)


def test_conv_stem_keypoint_token_is_one_more_token_that_sees_the_finer_stage():
    stem = ConvStem(16, channels=(8, 8, 8, 8, 8), keypoints=4)
    assert stem.keypoint_stage == 2 and stem.num_tokens((64, 64)) == 5  # 2x2 cells + the keypoint token
    img = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    out = stem.eval()(img)
    assert out.shape == (2, 5, 16)
    out.sum().backward()
    assert stem.keypoints.conv.weight.grad.abs().sum() > 0 and stem.keypoints.log_temperature.grad is not None
    plain = ConvStem(16, channels=(8, 8, 8, 8, 8))
    assert plain.num_tokens((64, 64)) == 4 and plain.keypoints is None


def test_grid_token_reads_each_cell_of_the_stride_16_stage_with_its_own_weights():
    stem = ConvStem(16, channels=(8, 8, 8, 8, 8), grid=4, keypoints=2)
    assert stem.grid_stage == 3 and stem.num_tokens((64, 64)) == 6  # 2x2 cells + keypoint token + grid token
    img = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    out = stem.eval()(img)
    assert out.shape == (2, 6, 16)
    out[:, -1].sum().backward()
    assert stem.grid.proj.weight.grad.abs().sum() > 0
    # position-specific: the same feature in two different cells gives two different tokens (a shared per-cell
    # linear followed by a sum would not tell them apart)
    grid = stem.grid
    a, b = torch.zeros(1, 8, 4, 4), torch.zeros(1, 8, 4, 4)
    a[0, 0, 0, 0] = b[0, 0, 3, 3] = 1.0
    assert not torch.allclose(grid.proj(grid.cells(a)), grid.proj(grid.cells(b)))
    # adaptive pooling keeps the linear's size for other image sizes
    assert ConvStem(16, channels=(8, 8, 8, 8, 8), grid=4).eval()(torch.zeros(1, 3, 96, 96)).shape == (1, 10, 16)
