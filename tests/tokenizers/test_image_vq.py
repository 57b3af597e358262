"""Image VQ tokenizer: shapes, a training step that lowers the loss, dead-code restart, save/load."""

import pytest
import torch

from vlaforge.tokenizers.image_vq import ImageVQ, ImageVQConfig, codebook_usage, psnr


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    torch.set_num_threads(1)


def small(**kw) -> ImageVQ:
    cfg = dict(channels=(16, 32, 32), latent_dim=16, codebook_size=64, codebook_dim=4)
    cfg.update(kw)
    return ImageVQ(ImageVQConfig(**cfg))


def frames(b=4, t=2):
    return {"observation.images.corner2": torch.randint(0, 256, (b, t, 3, 64, 64), dtype=torch.uint8),
            "observation.images.gripperPOV": torch.randint(0, 256, (b, t, 3, 64, 64), dtype=torch.uint8)}


def test_shapes_8x_downsampling():
    vq = small()
    x = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8)
    codes = vq.encode(x)
    assert codes.shape == (3, 8, 8) and codes.dtype == torch.long
    assert codes.min() >= 0 and codes.max() < 64
    rec = vq.decode(codes)
    assert rec.shape == (3, 3, 64, 64)
    assert ImageVQ.to_uint8(rec).dtype == torch.uint8
    assert vq.config.grid == 8


def test_encode_does_not_touch_codebook():
    vq = small().train()
    before = vq.quantizer._codebook.embed.clone()
    vq.encode(torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8))
    assert torch.equal(before, vq.quantizer._codebook.embed) and vq.training


def test_training_steps_lower_reconstruction():
    vq = small()
    batch = {"observation.images.corner2": torch.rand(8, 1, 3, 1, 1).mul(255).to(torch.uint8).expand(8, 1, 3, 64, 64)}
    opt = torch.optim.AdamW([g for grp in vq.param_groups(0.0) for g in grp["params"]], lr=1e-3)
    first = None
    for _ in range(20):
        loss, logs = vq(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else logs["recon"]
    assert set(logs) >= {"recon", "commit", "psnr", "perplexity", "code_usage"}
    assert logs["recon"] < 0.8 * first


def test_dead_code_restart():
    vq = small(dead_code_threshold=2.0).train()
    vq(frames())  # first pass initialises the codebook
    cb = vq.quantizer._codebook
    dead = torch.arange(10)
    with torch.no_grad():
        cb.cluster_size[:, dead] = 0.0  # never used
        cb.embed[:, dead] = torch.nn.functional.normalize(torch.ones(1, 10, cb.embed.shape[-1]), dim=-1)
    stale = cb.embed[:, dead].clone()
    vq(frames())
    assert not torch.allclose(cb.embed[:, dead], stale)  # re-seeded from batch samples
    assert (cb.cluster_size[:, dead] > 0).all()


def test_bad_images_rejected():
    with pytest.raises(ValueError, match="expects"):
        small().encode(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="codes must be"):
        small().decode(torch.full((1, 8, 8), 64))
    with pytest.raises(KeyError, match="no image keys"):
        small()({"observation.state": torch.zeros(1, 4)})


def test_metrics():
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    assert psnr(x, x) > 90
    u = codebook_usage(torch.tensor([0, 0, 1, 1]), 4)
    assert abs(u["perplexity"] - 2.0) < 1e-5 and u["code_usage"] == 0.5


def test_save_load(tmp_path):
    vq = small()
    vq(frames())
    vq.save(tmp_path / "vq")
    again = ImageVQ.load(tmp_path / "vq")
    x = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    assert torch.equal(vq.encode(x), again.encode(x))
