"""Cross-embodiment training: Sawyer (4-D delta end effector, 2 cameras) and ALOHA (14-D absolute joints,
3 cameras) in one run, for every registered family's tiny preset, with no family code for it.

The datasets are LeRobot v3 directories our writer builds here; the mixture pads state/action to the shared
width, normalizes per embodiment and serves every robot's cameras under the policy's slots (a robot's missing
slot as zero images flagged ``image_is_pad``). One checkpoint then answers both robots, each request in its
own camera names and action width.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlaforge.core.checkpoint import load_policy
from vlaforge.core.errors import BatchError
from vlaforge.core.keys import EMBODIMENT, IMAGE_PAD_PREFIX, IMAGE_PREFIX, OBS_IS_PAD, STATE, TASK
from vlaforge.core.registry import FAMILIES, get_family
from vlaforge.data.lerobot import LeRobotDatasetWriter
from vlaforge.embodiments import get_embodiment
from vlaforge.train.config import DataConfig, OptimConfig, TrainConfig
from vlaforge.train.data import load_train_data, make_loader
from vlaforge.train.trainer import Trainer

FAMILY_NAMES = [n for n, cls in FAMILIES.items() if cls.__module__.startswith("vlaforge.models.")]
SLOTS = ("main", "wrist", "wrist2")
CAMERA_MAP = ("corner2=main", "gripperPOV=wrist", "top=main", "left_wrist=wrist", "right_wrist=wrist2")
ROBOTS = {  # embodiment: (cameras, state/action width, fps, task)
    "metaworld_sawyer": (("corner2", "gripperPOV"), 4, 80, "push the puck to the goal"),
    "aloha": (("top", "left_wrist", "right_wrist"), 14, 50, "pick up the cube and hand it over"),
}


def _write(root, robot: str, size: int, n_eps: int = 2, length: int = 20) -> None:
    cams, dim, fps, task = ROBOTS[robot]
    w = LeRobotDatasetWriter(root, fps=fps, robot_type=robot, cameras=cams, image_size=(size, size), overwrite=True)
    rng = np.random.default_rng(len(robot))
    for e in range(n_eps):
        ep = {f"observation.images.{c}": rng.integers(0, 255, (length, size, size, 3), dtype=np.uint8) for c in cams}
        ep["observation.state"] = rng.normal(size=(length, dim)).astype(np.float32)
        ep["action"] = rng.uniform(-1, 1, size=(length, dim)).astype(np.float32)
        w.add_episode(ep, task=task)
    w.finalize()


@pytest.fixture(scope="module")
def mixed_roots(tmp_path_factory):
    """(sawyer, aloha) dataset roots per image size, written once per module."""
    made: dict[int, tuple[str, str]] = {}

    def get(size: int) -> tuple[str, str]:
        if size not in made:
            base = tmp_path_factory.mktemp(f"mixed{size}")
            roots = tuple(str(base / r) for r in ROBOTS)
            for root, robot in zip(roots, ROBOTS):
                _write(root, robot, size)
            made[size] = roots
        return made[size]
    return get


def _tiny(family: str):
    return get_family(family).from_preset("tiny", text_encoder="hash", cameras=SLOTS, camera_map=CAMERA_MAP)


def _obs(robot: str, cfg, seed: int = 0) -> dict:
    """One request in the robot's own camera names (as the eval runner or a server sends it)."""
    cams, dim, _, task = ROBOTS[robot]
    g = torch.Generator().manual_seed(seed)
    t, (h, w) = cfg.n_obs_steps, cfg.image_size
    obs = {IMAGE_PREFIX + c: torch.randint(0, 256, (1, t, 3, h, w), dtype=torch.uint8, generator=g) for c in cams}
    return {**obs, STATE: torch.randn(1, t, dim, generator=g), TASK: [task], EMBODIMENT: [robot],
            OBS_IS_PAD: torch.zeros(1, t, dtype=torch.bool)}


def test_a_mixed_batch_pads_what_each_robot_lacks(mixed_roots):
    cfg = _tiny("xvla")
    data = load_train_data(DataConfig(roots=mixed_roots(cfg.image_size[0]), batch_size=8), cfg)
    batch = next(make_loader(data, 16, 0, seed=0, start=0))
    robots = np.array(batch[EMBODIMENT])
    assert set(robots) == set(ROBOTS) and batch[STATE].shape[-1] == 14
    assert sorted(k for k in batch if k.startswith(IMAGE_PREFIX)) == [IMAGE_PREFIX + s for s in sorted(SLOTS)]
    pad = batch[IMAGE_PAD_PREFIX + "wrist2"].numpy()
    assert (pad == (robots == "metaworld_sawyer")).all()  # Sawyer has no second wrist camera
    assert not batch[IMAGE_PAD_PREFIX + "main"].any() and not batch[IMAGE_PAD_PREFIX + "wrist"].any()
    assert batch[IMAGE_PREFIX + "wrist2"][torch.from_numpy(pad)].eq(0).all()
    sawyer = torch.from_numpy(robots == "metaworld_sawyer")
    assert batch[STATE][sawyer][..., 4:].eq(0).all()  # narrower robot: zero-padded to the widest
    assert set(data.norm_stats) == set(ROBOTS)  # normalization per embodiment


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_every_family_trains_on_sawyer_plus_aloha_and_serves_both(family, mixed_roots, tmp_path):
    cfg = _tiny(family)
    roots = mixed_roots(cfg.image_size[0])
    stage = cfg.stages()[-1].name
    train = TrainConfig(policy=cfg, stage=stage, data=DataConfig(roots=roots, batch_size=4),
                        optim=OptimConfig(lr=1e-3, warmup_steps=1), steps=2, precision="fp32", save_every=2,
                        log_every=1, out_dir=str(tmp_path / "run"), num_threads=1, progress=False, tensorboard=False)
    result = Trainer(train).fit()
    assert result.step == 2 and np.isfinite(result.final_loss)
    policy = load_policy(result.checkpoint)
    policy.eval()
    for robot, (_, dim, _, _) in ROBOTS.items():  # one checkpoint, the robot named per request
        chunk = policy.predict_action_chunk(_obs(robot, cfg), generator=torch.Generator().manual_seed(0))
        assert chunk.shape == (1, cfg.chunk_size, dim) and torch.isfinite(chunk).all(), robot


@pytest.mark.parametrize("attention", ["full", "prefix"])
def test_xvla_never_attends_to_a_padded_camera_slot(attention):
    from vlaforge.core.normalize import Normalizer
    from vlaforge.testing import fake_stats

    specs = [get_embodiment(r) for r in ROBOTS]
    torch.manual_seed(0)
    cfg = _tiny("xvla")
    cfg.attention = attention  # 'prefix' masks the slot in the cached prefix pass and in the action steps
    policy = cfg.create(Normalizer(fake_stats(specs), specs), specs).eval()
    obs = _obs("metaworld_sawyer", cfg)
    ref = policy.predict_action_chunk(obs, generator=torch.Generator().manual_seed(1))
    junk = torch.randint(0, 256, obs[IMAGE_PREFIX + "corner2"].shape, dtype=torch.uint8)
    flagged = {**obs, IMAGE_PREFIX + "wrist2": junk, IMAGE_PAD_PREFIX + "wrist2": torch.ones(1, dtype=torch.bool)}
    torch.testing.assert_close(policy.predict_action_chunk(flagged, generator=torch.Generator().manual_seed(1)), ref)
    unflagged = {**obs, IMAGE_PREFIX + "wrist2": junk}  # the same image, not flagged: it is read
    assert not torch.allclose(policy.predict_action_chunk(unflagged, generator=torch.Generator().manual_seed(1)), ref)


def test_a_robots_own_camera_is_never_silently_padded():
    from vlaforge.core.normalize import Normalizer
    from vlaforge.testing import fake_stats

    specs = [get_embodiment(r) for r in ROBOTS]
    cfg = _tiny("xvla")
    policy = cfg.create(Normalizer(fake_stats(specs), specs), specs).eval()
    obs = _obs("aloha", cfg)
    del obs[IMAGE_PREFIX + "right_wrist"]
    with pytest.raises(BatchError, match="right_wrist"):
        policy.predict_action_chunk(obs)
