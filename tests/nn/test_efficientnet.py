"""EfficientNet-Lite0: the real ImageNet weights load strictly and classify a real photograph;
a random network does not; the encoder factory gives tokens, frozen or fine-tuned."""

import numpy as np
import pytest
import torch
from matplotlib import cbook
from PIL import Image

from vlaforge.nn.efficientnet import EfficientNetLite0, default_weights_path, load_lite0_weights, num_parameters
from vlaforge.nn.encoders import ImageEncoderConfig, PretrainedImageEncoder, build_image_encoder
from vlaforge.nn.vision import ConvStem

MILITARY_UNIFORM = 652


@pytest.fixture(scope="module")
def pretrained():
    return EfficientNetLite0(pretrained=True).eval()


@pytest.fixture(scope="module")
def grace_hopper() -> torch.Tensor:
    """matplotlib's sample photograph, centre-cropped square and resized to 224: uint8 (1, 3, 224, 224)."""
    img = Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB")
    w, h = img.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    img = img.crop((left, top, left + s, top + s)).resize((224, 224), Image.BICUBIC)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)[None]  # (1, 3, 224, 224)


def _top5(model, image) -> tuple[list[int], torch.Tensor]:
    with torch.no_grad():
        probs = model.classify(image).softmax(-1)[0]  # (1000,)
    return probs.topk(5).indices.tolist(), probs


# ---- (a) strict load ------------------------------------------------------------------------
def test_every_checkpoint_key_is_consumed(pretrained):
    raw = torch.load(default_weights_path(), map_location="cpu", weights_only=True)
    used = load_lite0_weights(EfficientNetLite0(pretrained=False))
    assert sorted(used) == sorted(raw) and len(used) == len(pretrained.state_dict()) == 296
    n_ckpt = sum(v.numel() for k, v in raw.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    assert num_parameters(pretrained) == n_ckpt
    assert 4.60e6 < n_ckpt < 4.70e6   # 4,652,008
    for k, v in pretrained.state_dict().items():   # values really came from the file
        assert v.shape == raw[_ckpt_key(k, raw)].shape


def _ckpt_key(ours: str, raw: dict) -> str:
    from vlaforge.nn.efficientnet import rename_key
    return next(k for k in raw if rename_key(k) == ours)


def test_bad_checkpoint_is_refused_with_the_file_named(tmp_path):
    raw = torch.load(default_weights_path(), map_location="cpu", weights_only=True)
    raw.pop("_fc.bias")
    raw["_conv_head.weight"] = torch.zeros(10, 320, 1, 1)
    bad = tmp_path / "bad.pth"
    torch.save(raw, bad)
    with pytest.raises(ValueError, match="bad.pth.*missing.*fc.bias.*shape mismatches.*head.0.weight"):
        EfficientNetLite0(weights_path=bad)
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        EfficientNetLite0(weights_path=tmp_path / "nowhere.pth")


# ---- (b) + (c) the photograph ------------------------------------------------------------
def test_pretrained_recognises_grace_hopper(pretrained, grace_hopper):
    top5, probs = _top5(pretrained, grace_hopper)
    print("pretrained top-5", [(c, round(float(probs[c]), 4)) for c in top5])
    assert MILITARY_UNIFORM in top5
    assert probs[MILITARY_UNIFORM] > 0.2   # measured 0.39, top-1


def test_random_network_fails_the_same_check(pretrained, grace_hopper):
    torch.manual_seed(0)
    random_net = EfficientNetLite0(pretrained=False).eval()
    top5, probs = _top5(random_net, grace_hopper)
    _, probs_pre = _top5(pretrained, grace_hopper)
    print("random top-5", [(c, round(float(probs[c]), 4)) for c in top5])
    assert probs.log().std() > 0.5   # a real control: it makes confident, non-uniform predictions
    assert MILITARY_UNIFORM not in top5
    assert probs[MILITARY_UNIFORM] < 0.01 < probs_pre[MILITARY_UNIFORM]


def test_float_and_uint8_inputs_agree(pretrained, grace_hopper):
    small = grace_hopper[..., ::4, ::4]   # (1, 3, 56, 56)
    with torch.no_grad():
        a = pretrained.classify(small)
        b = pretrained.classify(small.float() / 255.0)
    torch.testing.assert_close(a, b)
    with pytest.raises(TypeError, match="uint8 or float"):
        pretrained.classify(small.long())


# ---- (d) feature maps ---------------------------------------------------------------------
@pytest.mark.parametrize("size,grids", [(64, (8, 4, 2)), (224, (28, 14, 7))])
def test_feature_map_shapes(pretrained, size, grids):
    with torch.no_grad():
        feats = pretrained.forward_features(torch.zeros(2, 3, size, size, dtype=torch.uint8))
    assert {s: tuple(f.shape) for s, f in feats.items()} == {
        8: (2, 40, grids[0], grids[0]), 16: (2, 112, grids[1], grids[1]), 32: (2, 320, grids[2], grids[2])}
    with pytest.raises(ValueError, match="strides"):
        pretrained.forward_features(torch.zeros(1, 3, 32, 32), strides=(4,))


# ---- (e) the encoder factory -------------------------------------------------------------
def test_factory_stem_is_the_conv_stem():
    enc = build_image_encoder("stem", 24, stem_channels=(8, 16, 16, 16))
    assert isinstance(enc, ConvStem)
    assert enc(torch.zeros(2, 3, 64, 64, dtype=torch.uint8)).shape == (2, 16, 24)


@pytest.mark.parametrize("stride,input_size,n", [(16, None, 16), (32, None, 4), (16, 128, 64)])
def test_factory_token_counts(stride, input_size, n):
    enc = build_image_encoder("efficientnet_lite0", 24, stride=stride, input_size=input_size, pretrained=False)
    out = enc(torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8))
    assert out.shape == (2, n, 24) and enc.num_tokens((64, 64)) == n


def test_frozen_encoder_trains_only_its_projection():
    enc = build_image_encoder("efficientnet_lite0", 16, freeze=True)
    assert not any(p.requires_grad for p in enc.backbone.parameters())
    img = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8)
    enc.train()
    assert not enc.backbone.training                # BatchNorm statistics stay ImageNet's
    out_train = enc(img)
    assert enc.feature_map(img).grad_fn is None     # no autograd graph through the backbone
    out_train.sum().backward()
    assert all(p.grad is None for p in enc.backbone.parameters()) and enc.proj.weight.grad is not None
    with torch.no_grad():
        torch.testing.assert_close(enc.eval()(img), out_train.detach())
    groups = enc.param_groups(0.01)
    assert sum(len(g["params"]) for g in groups) == 2 and all(g["lr_scale"] == 1.0 for g in groups)


def test_finetuned_encoder_trains_the_backbone_at_its_lr_scale():
    enc = build_image_encoder("efficientnet_lite0", 16, freeze=False, lr_scale=0.05)
    assert isinstance(enc, PretrainedImageEncoder) and enc.lr_scale == 0.05
    img = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8)
    out = enc.train()(img)
    out.sum().backward()
    assert enc.backbone.training and enc.backbone.stem[0].weight.grad is not None
    with torch.no_grad():
        assert not torch.allclose(enc.eval()(img), out.detach())   # batch statistics in train mode
    groups = enc.param_groups(0.01)
    backbone = {id(p) for p in enc.backbone.parameters()}
    assert all(g["lr_scale"] == 0.05 for g in groups if id(g["params"][0]) in backbone)
    assert sum(len(g["params"]) for g in groups) == len(list(enc.parameters()))


def test_factory_rejects_bad_options():
    with pytest.raises(KeyError, match="Did you mean 'efficientnet_lite0'"):
        build_image_encoder("efficientnet_lite", 16)
    with pytest.raises(ValueError, match="stride"):
        ImageEncoderConfig(kind="efficientnet_lite0", stride=4)
    with pytest.raises(TypeError, match="unknown image encoder option"):
        build_image_encoder("stem", 16, frozen=True)


def test_backbone_runs_in_fp32_under_bf16_autocast():
    enc = build_image_encoder("efficientnet_lite0", 16, pretrained=False).eval()
    img = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert enc.feature_map(img).dtype == torch.float32   # bf16 depthwise convs: ~10x slower here
        assert enc(img).dtype == torch.bfloat16              # the projection still autocasts


# ---- inference speed path: BatchNorm folded into the convs --------------------------------
def _reference_features(model, img, stride=16):
    """The two-op (conv, then BatchNorm) path the folded one must equal."""
    import vlaforge.nn.efficientnet as effnet

    effnet.FOLD_BATCHNORM_AT_INFERENCE = False
    try:
        with torch.no_grad():
            return model.forward_features(img, strides=(stride,))[stride]
    finally:
        effnet.FOLD_BATCHNORM_AT_INFERENCE = True


def test_folded_batchnorm_equals_conv_then_batchnorm(pretrained, grace_hopper):
    img = torch.nn.functional.interpolate(grace_hopper.float() / 255, size=(64, 64), mode="bilinear",
                                          antialias=True)
    with torch.no_grad():
        folded = pretrained.forward_features(img, strides=(16,))[16]
    torch.testing.assert_close(folded, _reference_features(pretrained, img), atol=1e-4, rtol=1e-4)
    assert pretrained.blocks[0].depthwise._folded is not None          # the folded path ran
    ref5, _ = _top5(pretrained, grace_hopper)
    assert MILITARY_UNIFORM in ref5                                     # and still classifies the photograph


def test_folded_batchnorm_follows_weight_changes():
    model = EfficientNetLite0(pretrained=False).eval()
    img = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        before = model.forward_features(img, strides=(8,))[8]
        other = EfficientNetLite0(pretrained=False)
        model.load_state_dict(other.state_dict())                      # in-place copy: _version moves
        after = model.forward_features(img, strides=(8,))[8]
        model.stem[1].running_mean.add_(0.5)                           # a statistic changed in place
        shifted = model.forward_features(img, strides=(8,))[8]
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, _reference_features(other.eval(), img, 8), atol=1e-4, rtol=1e-4)
    assert not torch.allclose(after, shifted)
    torch.testing.assert_close(shifted, _reference_features(model, img, 8), atol=1e-4, rtol=1e-4)


def test_training_mode_and_autograd_keep_batchnorm_separate():
    model = EfficientNetLite0(pretrained=False).train()
    img = torch.rand(4, 3, 32, 32)
    out = model.forward_features(img, strides=(8,))[8]
    assert out.grad_fn is not None and model.stem._folded is None      # batch statistics, no folding
    model.eval()
    out = model.forward_features(img, strides=(8,))[8]                  # grad on: still the two ops
    assert out.grad_fn is not None and model.stem._folded is None
