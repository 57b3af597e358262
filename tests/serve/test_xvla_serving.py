"""The X-VLA tiny preset served end to end: a real family, deterministic sampling through the server."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from vlaforge.testing import client_obs as make_obs, dummy_stats as fake_stats, to_batch_obs

from vlaforge.core.checkpoint import load_policy, save_checkpoint
from vlaforge.core.normalize import Normalizer
from vlaforge.embodiments import get_embodiment
from vlaforge.serve.client import WebsocketClientPolicy
from vlaforge.serve.remote import RemotePolicy

xvla = pytest.importorskip("vlaforge.models.xvla")
SAWYER = get_embodiment("metaworld_sawyer")


@pytest.fixture(scope="module")
def xvla_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    cfg = xvla.XVLAConfig.from_preset("tiny", text_encoder="hash", chunk_size=8, n_action_steps=4)
    policy = cfg.create(Normalizer(fake_stats(), [SAWYER], cfg.norm_mode), [SAWYER])
    return save_checkpoint(tmp_path_factory.mktemp("xvla") / "ckpt", policy)


def test_xvla_remote_matches_in_process(xvla_ckpt, start_server):
    srv = start_server(xvla_ckpt, batch_max=4, batch_wait_ms=1)
    local, remote = load_policy(xvla_ckpt), RemotePolicy(srv.url)
    seq = [to_batch_obs(make_obs(np.random.default_rng(t), size=(64, 64))) for t in range(6)]
    g_local, g_remote = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    local.reset()
    remote.reset()
    for o in seq:
        want = torch.from_numpy(SAWYER.clip_action(local.select_action(o, generator=g_local).numpy()))
        torch.testing.assert_close(remote.select_action(o, generator=g_remote), want, atol=1e-6, rtol=0)
    remote.close()


def test_xvla_openpi_keys_and_bad_image_size(xvla_ckpt, start_server):
    srv = start_server(xvla_ckpt)
    with WebsocketClientPolicy(srv.url) as client:
        meta = client.get_server_metadata()
        assert meta["family"] == "xvla" and meta["chunk_size"] == 8
        out = client.infer(make_obs(np.random.default_rng(0), size=(64, 64)))
        assert out["actions"].shape == (8, 4) and np.isfinite(out["actions"]).all()
        assert np.abs(out["actions"]).max() <= 1.0
        with pytest.raises(Exception, match=r"\(64, 64, 3\).*\(16, 16, 3\)"):
            client.infer(make_obs(np.random.default_rng(0), size=(16, 16)))


def test_server_warms_up_on_the_checkpoints_tasks(tmp_path, start_server):
    """The first request must not pay for lazy loading: /healthz waits for a warm-up forward over the
    instructions stored with the checkpoint, whose embeddings are then cached."""
    import urllib.request

    torch.manual_seed(0)
    cfg = xvla.XVLAConfig.from_preset("tiny", text_encoder="hash", chunk_size=8, n_action_steps=4)
    policy = cfg.create(Normalizer(fake_stats(), [SAWYER], cfg.norm_mode), [SAWYER])
    path = save_checkpoint(tmp_path / "ckpt", policy, tasks=["push the puck", "open the door"])
    assert load_policy(path).known_tasks == ["open the door", "push the puck"]
    srv = start_server(path)
    assert srv.stats["warm_up_s"] > 0
    with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/healthz", timeout=10) as r:
        assert r.status == 200
    misses = srv.policy.text.misses
    with WebsocketClientPolicy(srv.url) as client:
        client.infer(make_obs(np.random.default_rng(0), size=(64, 64), prompt="open the door"))
        assert srv.policy.text.misses == misses  # a known prompt: no encoder call
        client.infer(make_obs(np.random.default_rng(0), size=(64, 64), prompt="a new prompt"))
        assert srv.policy.text.misses == misses + 1  # a new one: exactly one


def test_one_checkpoint_serves_sawyer_and_aloha(tmp_path, start_server):
    """A Sawyer + ALOHA policy (camera slots main/wrist/wrist2): each request names its robot and sends only
    the cameras that robot has; replies carry that robot's action width; a micro-batch may mix robots."""
    import concurrent.futures

    aloha = get_embodiment("aloha")
    stats = {**fake_stats(), "aloha": {k: {s: [0.0] * 14 if s == "mean" else [1.0] * 14 for s in ("mean", "std")}
                                       for k in ("observation.state", "action")}}
    torch.manual_seed(0)
    cfg = xvla.XVLAConfig.from_preset("tiny", text_encoder="hash", chunk_size=8, n_action_steps=4,
                                      cameras=("main", "wrist", "wrist2"),
                                      camera_map=("corner2=main", "gripperPOV=wrist", "top=main", "left_wrist=wrist",
                                                  "right_wrist=wrist2"))
    policy = cfg.create(Normalizer(stats, [SAWYER, aloha], cfg.norm_mode), [SAWYER, aloha])
    srv = start_server(save_checkpoint(tmp_path / "ckpt", policy), batch_max=4, batch_wait_ms=50)
    rng = np.random.default_rng(0)
    sawyer_msg = {**make_obs(rng, size=(64, 64)), "embodiment": "metaworld_sawyer"}  # no third camera
    aloha_msg = {**make_obs(rng, size=(64, 64), prompt="hand the cube over"), "embodiment": "aloha",
                 "observation/wrist2": rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
                 "observation/state": rng.normal(size=14).astype(np.float32)}

    def ask(msg):
        with WebsocketClientPolicy(srv.url) as client:
            return client.infer(msg)["actions"]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:  # two connections: one micro-batch of two robots
        a, b = pool.map(ask, [sawyer_msg, aloha_msg])
    assert a.shape == (8, 4) and b.shape == (8, 14) and np.isfinite(a).all() and np.isfinite(b).all()
    with WebsocketClientPolicy(srv.url) as client:
        with pytest.raises(Exception, match="observation/wrist2"):  # ALOHA's right wrist is never padded
            client.infer({k: v for k, v in aloha_msg.items() if k != "observation/wrist2"})
