"""The policy server: protocol, health check, bad input, concurrency, batching, clipping, seeds."""

from __future__ import annotations

import http.client
import json
import shutil
import threading

import msgpack
import numpy as np
import pytest
import torch
from vlaforge.testing import client_obs as make_obs, make_dummy_checkpoint as make_checkpoint, to_batch_obs
from test_protocol import openpi_packb, openpi_unpackb
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

from vlaforge.core.checkpoint import CheckpointError, load_policy
from vlaforge.embodiments import get_embodiment
from vlaforge.serve.client import WebsocketClientPolicy
from vlaforge.serve.protocol import ServerError
from vlaforge.serve.remote import RemotePolicy
from vlaforge.serve.server import load_server

SAWYER = get_embodiment("metaworld_sawyer")


def expected_chunk(policy, obs: dict, generator=None) -> np.ndarray:
    """What the in-process policy says for one fresh-episode observation, clipped as served."""
    policy.reset()
    stacked = policy._history.push(to_batch_obs(obs))
    with torch.no_grad():
        chunk = policy.predict_action_chunk(stacked, generator=generator)[0].numpy()
    return SAWYER.clip_action(chunk)


def test_openpi_style_client_round_trip(ckpt, start_server):
    srv = start_server(ckpt)
    obs = make_obs(np.random.default_rng(0))
    with connect(srv.url, compression=None, max_size=None) as ws:  # what openpi-client does
        meta = openpi_unpackb(ws.recv())
        assert meta["action_dim"] == 4 and meta["keys"]["observation/image"] == "observation.images.corner2"
        assert meta["inputs"]["observation/image"]["shape"] == [16, 16, 3]
        ws.send(openpi_packb({**obs, "reset": True}))
        reply = openpi_unpackb(ws.recv())
    assert reply["actions"].shape == (6, 4) and reply["actions"].dtype == np.float32
    assert reply["server_timing"]["infer_ms"] >= 0
    np.testing.assert_allclose(reply["actions"], expected_chunk(load_policy(ckpt), obs), atol=1e-6)


def test_healthz_and_stats(ckpt, start_server):
    srv = start_server(ckpt)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request("GET", "/healthz")
    r = conn.getresponse()
    assert r.status == 200 and r.read() == b"OK\n"
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request("GET", "/stats")
    assert json.loads(conn.getresponse().read())["internal_errors"] == 0


def _bad_cases(rng):
    good = make_obs(rng)
    cases = {
        "missing": ({k: v for k, v in good.items() if k != "observation/state"}, "observation/state", "nothing"),
        "img dtype": ({**good, "observation/image": good["observation/image"].astype(np.float32)},
                      "observation/image", "float32 array of shape (16, 16, 3)"),
        "img size": ({**good, "observation/wrist_image": np.zeros((32, 32, 3), np.uint8)},
                     "observation/wrist_image", "uint8 array of shape (32, 32, 3)"),
        "state shape": ({**good, "observation/state": np.zeros(7, np.float32)}, "observation/state",
                        "float32 array of shape (7,)"),
        "state int": ({**good, "observation/state": np.zeros(4, np.int64)}, "observation/state", "int64"),
        "state nan": ({**good, "observation/state": np.array([0, np.nan, np.inf, 0], np.float32)},
                      "observation/state", "nan"),
        "prompt type": ({**good, "prompt": 42}, "prompt", "int 42"),
        "embodiment": ({**good, "embodiment": "ur5"}, "embodiment", "str of length 3"),
        "seed": ({**good, "seed": -1}, "seed", "int -1"),
        "rng_state": ({**good, "rng_state": np.zeros(10, np.uint8)}, "rng_state", "10 bytes"),
    }
    return cases


def test_each_bad_input_gets_a_named_error_and_the_connection_lives(ckpt, start_server):
    srv = start_server(ckpt, max_message_bytes=64_000)
    rng = np.random.default_rng(1)
    with WebsocketClientPolicy(srv.url) as client:
        for name, (obs, key, received) in _bad_cases(rng).items():
            with pytest.raises(ServerError) as e:
                client.infer(obs)
            assert e.value.key == key, name
            assert received in e.value.received, (name, e.value.received)
            assert e.value.expected, name
        raw_cases = {b"\xc1\x00garbage": "bad_msgpack", msgpack.packb({"a": [1, 2]})[:-1]: "bad_msgpack",
                     msgpack.packb([1, 2, 3]): "bad_request", "a text frame": "bad_msgpack",
                     b"\x00" * 100_000: "too_large"}
        for raw, kind in raw_cases.items():
            with pytest.raises(ServerError) as e:
                client.send_raw(raw)
            assert e.value.kind == kind and e.value.received
        assert client.infer(make_obs(rng))["actions"].shape == (6, 4)  # still served
    assert srv.stats["internal_errors"] == 0
    assert sum(srv.stats["errors"].values()) == len(_bad_cases(rng)) + len(raw_cases)


def test_message_over_hard_limit_closes_only_that_connection(ckpt, start_server):
    srv = start_server(ckpt, max_message_bytes=10_000)
    other = WebsocketClientPolicy(srv.url)
    with WebsocketClientPolicy(srv.url) as client:
        with pytest.raises(ConnectionClosedError) as e:
            client.send_raw(b"\x00" * 50_000)
    assert e.value.rcvd.code == 1009
    assert other.infer(make_obs(np.random.default_rng(0)))["actions"].shape == (6, 4)
    other.close()


def test_actions_clipped_and_nonfinite_never_sent(tmp_path, start_server):
    path = make_checkpoint(tmp_path / "loud", gain=50.0)
    srv = start_server(path)
    obs = make_obs(np.random.default_rng(2))
    with WebsocketClientPolicy(srv.url) as client:
        actions = client.infer(obs)["actions"]
        raw = load_policy(path).predict_action_chunk(load_policy(path)._history.push(to_batch_obs(obs)))[0]
        assert (raw.abs() > 1).any()  # the policy really asks for out-of-bounds actions
        assert np.abs(actions).max() <= 1.0 and (np.abs(actions) == 1.0).any()
        with pytest.raises(ServerError) as e:
            client.infer({**obs, "prompt": "__nan__"})
        assert e.value.kind == "nonfinite_action"
        assert client.infer(obs)["actions"].shape == (6, 4)


def test_concurrent_clients_each_get_their_own_answer(ckpt, start_server):
    srv = start_server(ckpt, batch_max=4, batch_wait_ms=2)
    policy = load_policy(ckpt)
    results, errors = {}, []

    def worker(i):
        try:
            rng = np.random.default_rng(100 + i)
            with WebsocketClientPolicy(srv.url) as client:
                for j in range(5):
                    obs = make_obs(rng, prompt=f"task {i}")
                    client.reset()
                    results[(i, j)] = (obs, client.infer(obs)["actions"])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert not errors and len(results) == 40
    for obs, actions in results.values():
        np.testing.assert_allclose(actions, expected_chunk(policy, obs), atol=1e-5)


def test_micro_batching_equals_one_by_one(ckpt, start_server):
    srv = start_server(ckpt, batch_max=8, batch_wait_ms=300)
    policy = load_policy(ckpt)
    n = 6
    clients = [WebsocketClientPolicy(srv.url) for _ in range(n)]
    obs = [make_obs(np.random.default_rng(200 + i)) for i in range(n)]
    barrier, out = threading.Barrier(n), [None] * n

    def worker(i):
        barrier.wait()
        out[i] = clients[i].infer(obs[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert max(o["server_timing"]["batch_size"] for o in out) > 1  # they really shared a forward pass
    for o, ob in zip(out, obs):
        np.testing.assert_allclose(o["actions"], expected_chunk(policy, ob), atol=1e-5)
    [c.close() for c in clients]


def test_history_is_per_connection(tmp_path, start_server):
    path = make_checkpoint(tmp_path / "hist", n_obs_steps=3, obs_stride=2)
    srv = start_server(path, batch_max=4, batch_wait_ms=1)
    policy = load_policy(path)
    seqs = [[make_obs(np.random.default_rng(300 + 10 * c + t)) for t in range(6)] for c in range(2)]
    clients = [WebsocketClientPolicy(srv.url) for _ in seqs]
    for t in range(6):  # interleave the two connections
        for c, client in enumerate(clients):
            if t == 0:
                client.reset()
            got = client.infer(seqs[c][t])["actions"]
            policy.reset()
            for o in seqs[c][: t + 1]:
                stacked = policy._history.push(to_batch_obs(o))
            want = SAWYER.clip_action(policy.predict_action_chunk(stacked)[0].detach().numpy())
            np.testing.assert_allclose(got, want, atol=1e-5)
    [c.close() for c in clients]


def test_remote_policy_reproduces_in_process_actions(tmp_path, start_server):
    path = make_checkpoint(tmp_path / "noisy", noise=0.5, n_obs_steps=2)
    srv = start_server(path, batch_max=8, batch_wait_ms=1)
    local = load_policy(path)
    remote = RemotePolicy(srv.url)
    seq = [to_batch_obs(make_obs(np.random.default_rng(400 + t))) for t in range(7)]
    for episode_seed in (0, 1):
        g_local, g_remote = (torch.Generator().manual_seed(episode_seed) for _ in range(2))
        local.reset()
        remote.reset()
        for o in seq:
            a = local.select_action(o, generator=g_local)
            b = remote.select_action(o, generator=g_remote)
            assert b.shape == (1, 4) and b.dtype == torch.float32
            torch.testing.assert_close(b, torch.from_numpy(SAWYER.clip_action(a.numpy())), atol=1e-6, rtol=0)
    # seed mode: server-side generator seeded at each reset
    remote.reset(seed=5)
    local.reset()
    g = torch.Generator().manual_seed(5)
    for o in seq:
        torch.testing.assert_close(remote.select_action(o),
                                   torch.from_numpy(SAWYER.clip_action(local.select_action(o, generator=g).numpy())),
                                   atol=1e-6, rtol=0)
    remote.close()


def test_refuses_checkpoint_without_norm_stats(tmp_path):
    path = make_checkpoint(tmp_path / "nostats")
    (path / "norm_stats.json").unlink()
    with pytest.raises(CheckpointError, match="norm_stats"):
        load_server(path)
    path2 = make_checkpoint(tmp_path / "noaction")
    stats = json.loads((path2 / "norm_stats.json").read_text())
    del stats["stats"]["metaworld_sawyer"]["action"]
    (path2 / "norm_stats.json").write_text(json.dumps(stats))
    with pytest.raises(CheckpointError, match="un-normalized"):
        load_server(path2)
    path3 = make_checkpoint(tmp_path / "noemb")
    (path3 / "embodiments.json").write_text("[]")
    with pytest.raises(CheckpointError, match="no embodiment"):
        load_server(path3)


def test_key_map_from_checkpoint_and_overrides(tmp_path):
    serving = {"keys": {"cam/top": "observation.images.corner2", "cam/wrist": "observation.images.gripperPOV",
                        "proprio": "observation.state", "instruction": "task"}}
    path = make_checkpoint(tmp_path / "mapped", serving=serving)
    assert load_server(path).spec.key_map == serving["keys"]
    srv = load_server(path, {"observation/image": "observation.images.corner2"})
    assert srv.spec.key_map["observation/image"] == "observation.images.corner2" and "cam/top" not in srv.spec.key_map
    with pytest.raises(ValueError, match="unknown"):
        load_server(path, {"cam/top": "observation.images.nope"})


def test_cli_refuses_bad_checkpoint(tmp_path, capsys):
    from vlaforge.cli.main import main

    assert main(["serve", "--checkpoint", str(tmp_path / "missing"), "--port", "0"]) == 2
    assert "cannot serve" in capsys.readouterr().err
    path = make_checkpoint(tmp_path / "ok")
    shutil.rmtree(path / "assets")
    (path / "norm_stats.json").unlink()
    assert main(["serve", "--checkpoint", str(path), "--map", "observation/image=observation.images.corner2"]) == 2
    assert "norm_stats.json" in capsys.readouterr().err


def test_cli_parses_maps():
    import tyro

    from vlaforge.cli.serve import ServeArgs
    from vlaforge.serve.inputs import parse_map_args

    args = tyro.cli(ServeArgs, args=["--checkpoint", "x", "--map", "observation/image=observation.images.corner2",
                                     "a=observation.state", "--batch-max", "8", "--batch-wait-ms", "5"])
    assert parse_map_args(args.map) == {"observation/image": "observation.images.corner2", "a": "observation.state"}
    assert args.batch_max == 8 and args.batch_wait_ms == 5.0
    with pytest.raises(ValueError, match="CLIENT_KEY=DATASET_KEY"):
        parse_map_args(["noequals"])


def test_cli_serves_a_checkpoint_end_to_end(ckpt):
    """`vlaforge serve` in a subprocess (the test family preloaded): healthz, metadata, one inference."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = "import sys, vlaforge.testing; from vlaforge.cli.main import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    proc = subprocess.Popen([sys.executable, "-c", code, "serve", "--checkpoint", str(ckpt), "--port", str(port),
                             "--threads", "1", "--map", "observation/top=observation.images.corner2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = WebsocketClientPolicy(f"ws://127.0.0.1:{port}", connect_timeout_s=60)
        assert client.get_server_metadata()["keys"]["observation/top"] == "observation.images.corner2"
        obs = make_obs(np.random.default_rng(5))
        obs["observation/top"] = obs.pop("observation/image")
        assert client.infer(obs)["actions"].shape == (6, 4)
        client.close()
    finally:
        proc.terminate()
        proc.wait(10)
