"""The feature cache: a frozen encoder's features once per frame, keyed by encoder and size, used in training."""

from __future__ import annotations

import numpy as np
import torch

from vlaforge.core.keys import FEATURE_PREFIX, IMAGE_PREFIX
from vlaforge.data.dataset import LeRobotDataset
from vlaforge.data.features import load_feature_cache
from vlaforge.nn.encoders import ImageEncoderConfig

from tests.data.conftest import write_dataset


def encoder(pretrained: bool = True):
    return ImageEncoderConfig(kind="efficientnet_lite0", freeze=True, stride=8, pretrained=pretrained,
                              shift_pad=2).create(8)


def test_cache_matches_the_encoder_and_is_rebuilt_for_another_encoder(tmp_path):
    root = tmp_path / "ds"
    write_dataset(root)
    ds = LeRobotDataset(root, n_obs_steps=2, chunk_size=4, cache_dir=tmp_path / "frames")
    key = IMAGE_PREFIX + "corner2"
    enc = encoder()
    feats = load_feature_cache(root, ds.frames(), {key: enc}, views=2, shift_pad=2, cache_root=tmp_path / "f",
                               progress=False)[key]
    n = ds.meta.total_frames
    assert feats.shape[:2] == (n, 2) and feats.dtype == np.float16
    with torch.no_grad():
        want = enc.eval().feature_map(torch.from_numpy(np.array(ds.frames()[key][:5])))
    torch.testing.assert_close(torch.from_numpy(np.asarray(feats[:5, 0], np.float32)), want, atol=2e-2, rtol=2e-2)
    assert not np.allclose(feats[:5, 0], feats[:5, 1])  # view 1 is a shifted frame
    again = load_feature_cache(root, ds.frames(), {key: enc}, views=2, shift_pad=2, cache_root=tmp_path / "f",
                               progress=False)[key]
    assert again.filename == feats.filename  # reused, not rebuilt
    other = load_feature_cache(root, ds.frames(), {key: encoder(pretrained=False)}, views=2, shift_pad=2,
                               cache_root=tmp_path / "f", progress=False)[key]
    assert other.filename != feats.filename
    assert len(list((tmp_path / "f").iterdir())) == 2  # another encoder of the same data: both caches kept
    again = load_feature_cache(root, ds.frames(), {key: enc}, views=2, shift_pad=2, cache_root=tmp_path / "f",
                               progress=False)[key]
    assert again.filename == feats.filename  # switching back costs no rebuild

    ds.set_features({key: feats})
    batch = ds[[0, 3, 7]]
    assert FEATURE_PREFIX + "corner2" in batch and key not in batch
    assert batch[FEATURE_PREFIX + "corner2"].shape == (3, 2, *feats.shape[2:])


def test_bc_trains_on_cached_features_and_acts_from_pixels(tmp_path):
    from vlaforge.core.checkpoint import load_policy
    from vlaforge.models.bc import BCConfig
    from vlaforge.testing import fake_batch, observation
    from vlaforge.train.config import DataConfig, OptimConfig, TrainConfig
    from vlaforge.train.trainer import Trainer

    root = tmp_path / "ds"
    write_dataset(root)
    policy = BCConfig.from_preset("tiny", text_encoder="hash", image_size=(16, 16),
                                  encoder=ImageEncoderConfig(kind="efficientnet_lite0", freeze=True, stride=8))
    cfg = TrainConfig(policy=policy, data=DataConfig(roots=(str(root),), batch_size=4, feature_views=2),
                      optim=OptimConfig(warmup_steps=1), steps=2, precision="fp32", out_dir=str(tmp_path / "run"),
                      progress=False, tensorboard=False, num_threads=1)
    trainer = Trainer(cfg)
    result = trainer.fit()
    assert result.step == 2 and np.isfinite(result.final_loss)
    assert (root / ".cache" / "features").is_dir() and trainer.data.info["feature_cache_s"]
    p = load_policy(result.checkpoint)
    out = p.predict_action_chunk(observation(fake_batch(p.config, list(p.embodiments.values()), 2)))
    assert out.shape == (2, policy.chunk_size, 4) and torch.isfinite(out).all()


def test_lam_caches_only_the_camera_it_reads_and_its_future_frames(tmp_path):
    """The LAM reads camera 0 at t and t+k: the cache holds that camera alone, one view (no shift augmentation),
    and serves the future frame's features too, equal to encoding that frame live."""
    import json

    from vlaforge.core.keys import FUTURE_FEATURE_PREFIX, FUTURE_PREFIX
    from vlaforge.models.univla_latent import UniVLALatentConfig
    from vlaforge.train.config import DataConfig, OptimConfig, TrainConfig
    from vlaforge.train.trainer import Trainer

    root = tmp_path / "ds"
    write_dataset(root)
    policy = UniVLALatentConfig.from_preset("tiny", text_encoder="hash", image_size=(16, 16), lam_width=32,
                                            lam_depth=1, latent_dim=16, width=64, depth=2, heads=2, foresight_k=4)
    cfg = TrainConfig(policy=policy, stage="lam_task_irrelevant", data=DataConfig(roots=(str(root),), batch_size=4),
                      optim=OptimConfig(warmup_steps=1), steps=1, precision="fp32", out_dir=str(tmp_path / "run"),
                      progress=False, tensorboard=False, num_threads=1)
    trainer = Trainer(cfg)
    assert np.isfinite(trainer.fit().final_loss)
    (cache,) = (root / ".cache" / "features").iterdir()
    assert json.loads((cache / "complete.json").read_text())["keys"] == [IMAGE_PREFIX + "corner2"]
    ds = trainer.data.dataset
    batch = ds.get_batch([0, 5, 20])
    fut = batch[FUTURE_FEATURE_PREFIX + "corner2"]  # (B, 1, C, h, w)
    assert FUTURE_FEATURE_PREFIX + "gripperPOV" not in batch and ds._features[IMAGE_PREFIX + "corner2"].shape[1] == 1
    model = trainer.model
    live = model.features({FUTURE_PREFIX + "corner2": batch[FUTURE_PREFIX + "corner2"]}, 0, "future", 0)
    torch.testing.assert_close(fut[:, 0], live, atol=2e-2, rtol=2e-2)


def test_stale_caches_are_removed_and_the_rest_capped(tmp_path):
    """Another dataset version's cache and an unfinished one go; this version's others stay, newest MAX_KEPT."""
    import json
    import os

    from vlaforge.data.features import COMPLETE, MAX_KEPT, _remove_stale

    def cache(name: str, fingerprint: str | None, age: int) -> None:
        d = tmp_path / name
        d.mkdir()
        if fingerprint is not None:
            (d / COMPLETE).write_text(json.dumps({"keys": ["k"], "fingerprint": fingerprint}))
            os.utime(d / COMPLETE, (1e9 - age, 1e9 - age))

    cache("old_data", "v1", 0)
    cache("unfinished", None, 0)
    for i in range(MAX_KEPT + 1):
        cache(f"enc{i}", "v2", age=i)  # enc0 is the newest
    _remove_stale(tmp_path, keep="building", fingerprint="v2")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"enc{i}" for i in range(MAX_KEPT - 1)]
