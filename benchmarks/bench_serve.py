"""Serving latency and throughput over loopback: 1, 4 and 16 concurrent clients.

    .venv/bin/python benchmarks/bench_serve.py [--checkpoint DIR] [--clients 1 4 16] [--requests 40]

Starts `vlaforge serve` as a subprocess on 127.0.0.1 (a free port), then for each batching
setting and client count runs that many numpy-only clients in threads, each sending
``--requests`` Meta-World-shaped observations (two 64x64 views, 4-D state, a prompt), and
records per-request round-trip latency (p50/p99) and requests/s. Without ``--checkpoint`` it
builds an *untrained* X-VLA tiny checkpoint (text_encoder='hash') with fake norm stats:
inference cost is that of a trained one. Writes benchmarks/results/serve_latency.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


# ---- checkpoint ------------------------------------------------------------------------------
def fake_stats(spec) -> dict:
    return {spec.name: {"observation.state": {"mean": [0.0] * spec.state_dim, "std": [1.0] * spec.state_dim,
                                              "q01": [-1.0] * spec.state_dim, "q99": [1.0] * spec.state_dim},
                        "action": {"mean": [0.0] * spec.action_dim, "std": [1.0] * spec.action_dim,
                                   "q01": [-1.0] * spec.action_dim, "q99": [1.0] * spec.action_dim}}}


def build_untrained_checkpoint(path: Path, family: str = "xvla", **overrides) -> tuple[Path, str]:
    """An untrained ``family`` tiny checkpoint with fake norm stats (same inference cost as trained)."""
    import torch

    from vlaforge.core.checkpoint import save_checkpoint
    from vlaforge.core.registry import get_family
    from vlaforge.core.normalize import Normalizer
    from vlaforge.embodiments import get_embodiment

    torch.manual_seed(0)
    spec = get_embodiment("metaworld_sawyer")
    cls = get_family(family)
    preset = overrides.pop("preset", "tiny")
    cfg = cls.from_preset(preset, **overrides)
    policy = cfg.create(Normalizer(fake_stats(spec), [spec], cfg.norm_mode), [spec])
    save_checkpoint(path, policy)
    return path, f"untrained {family} {cfg.preset} ({sum(p.numel() for p in policy.parameters()) / 1e6:.2f}M params, "\
                 f"fake norm stats)"


def default_checkpoint(tmp: Path, family: str) -> tuple[Path, str]:
    """X-VLA tiny by default; ``test_dummy`` (the tests' stand-in family) when no real family is wanted."""
    if family == "test_dummy":
        __import__("vlaforge.testing")  # registers the test_dummy family
        return build_untrained_checkpoint(tmp / family, family, image_size=(64, 64))
    return build_untrained_checkpoint(tmp / f"{family}_tiny", family, preset="tiny", text_encoder="hash")


def preload(family: str) -> tuple[str, ...]:
    """Modules the server subprocess must import to know the family (only the test-only one)."""
    return ("vlaforge.testing",) if family == "test_dummy" else ()


# ---- server subprocess -----------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(ckpt: Path, port: int, extra: list[str], preload: tuple[str, ...] = ()) -> subprocess.Popen:
    """`vlaforge serve` in a subprocess; ``preload`` imports modules first (e.g. a test-only family)."""
    code = ("import sys, importlib; [importlib.import_module(m) for m in sys.argv[1].split(',') if m]; "
            "from vlaforge.cli.main import main; sys.exit(main(sys.argv[2:]))")
    env = dict(os.environ)
    cmd = [sys.executable, "-c", code, ",".join(preload), "serve", "--checkpoint", str(ckpt),
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", *extra]
    log = tempfile.NamedTemporaryFile("w+", prefix="vlaforge-serve-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
    proc.log_path = log.name  # type: ignore[attr-defined]  (read on failure; a pipe could fill and block)
    return proc


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    Path(proc.log_path).unlink(missing_ok=True)


def wait_healthy(port: int, proc: subprocess.Popen, timeout_s: float = 120.0) -> None:
    import http.client

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {Path(proc.log_path).read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("server did not become healthy")


def make_obs(rng: np.random.Generator, meta: dict) -> dict:
    """A random observation with exactly the shapes the server announces."""
    obs = {}
    for key, spec in meta["inputs"].items():
        if spec["dtype"] == "uint8":
            obs[key] = rng.integers(0, 256, spec["shape"], dtype=np.uint8)
        elif spec["dtype"] == "float32":
            obs[key] = rng.normal(size=spec["shape"]).astype(np.float32)
        else:
            obs[key] = "push the puck to the goal"
    return obs


# ---- load ------------------------------------------------------------------------------------
def run_clients(url: str, n_clients: int, n_requests: int, warmup: int = 2) -> dict:
    from vlaforge.serve.client import WebsocketClientPolicy

    latencies: list[list[float]] = [[] for _ in range(n_clients)]
    batch_sizes: list[int] = []
    errors: list[str] = []
    clients = [WebsocketClientPolicy(url) for _ in range(n_clients)]
    barrier = threading.Barrier(n_clients + 1)

    def worker(i: int) -> None:
        rng = np.random.default_rng(i)
        c = clients[i]
        obs = [make_obs(rng, c.get_server_metadata()) for _ in range(4)]
        try:
            for j in range(warmup):
                c.infer(obs[j % 4])
            barrier.wait()
            for j in range(n_requests):
                t0 = time.perf_counter()
                out = c.infer(obs[j % 4])
                latencies[i].append((time.perf_counter() - t0) * 1000)
                batch_sizes.append(out["server_timing"].get("batch_size", 1))
        except Exception as e:  # noqa: BLE001 - counted and reported
            errors.append(repr(e))
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_clients)]
    [t.start() for t in threads]
    barrier.wait()
    t0 = time.perf_counter()
    [t.join() for t in threads]
    wall = time.perf_counter() - t0
    [c.close() for c in clients]
    lat = np.array([x for xs in latencies for x in xs])
    return {"clients": n_clients, "requests": int(lat.size), "wall_s": round(wall, 3),
            "throughput_rps": round(lat.size / wall, 2), "p50_ms": round(float(np.percentile(lat, 50)), 2),
            "p99_ms": round(float(np.percentile(lat, 99)), 2), "mean_ms": round(float(lat.mean()), 2),
            "mean_batch_size": round(float(np.mean(batch_sizes)), 2), "errors": errors}


def in_process_baseline(ckpt: Path, threads: int, batch_sizes=(1, 8), calls: int = 5) -> dict:
    """predict_action_chunk called directly (no server): the model's own cost, to separate out overhead."""
    import torch

    from vlaforge.core.checkpoint import load_policy
    from vlaforge.core.keys import EMBODIMENT, IMAGE_PREFIX, STATE, TASK

    torch.set_num_threads(threads)
    policy = load_policy(ckpt)
    (h, w), spec = policy.config.image_size, next(iter(policy.embodiments.values()))
    out = {}
    for b in batch_sizes:
        obs = {IMAGE_PREFIX + c: torch.randint(0, 256, (b, policy.config.n_obs_steps, 3, h, w), dtype=torch.uint8)
               for c in policy.config.cameras}
        obs.update({STATE: torch.randn(b, policy.config.n_obs_steps, spec.state_dim), TASK: ["push"] * b,
                    EMBODIMENT: [spec.name] * b})
        times = []
        for i in range(calls + 1):
            t0 = time.perf_counter()
            with torch.no_grad():
                policy.predict_action_chunk(obs)
            if i:  # the first call warms up
                times.append((time.perf_counter() - t0) * 1000)
        out[f"batch_{b}_ms"] = round(float(np.median(times)), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument("--family", default="xvla")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--requests", type=int, default=40, help="timed requests per client")
    ap.add_argument("--batch-max", type=int, nargs="+", default=[1, 8], help="settings to compare")
    ap.add_argument("--batch-wait-ms", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=1, help="server torch threads")
    ap.add_argument("--out", type=Path, default=RESULTS / "serve_latency.json")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        ckpt, what = (args.checkpoint, f"checkpoint {args.checkpoint}") if args.checkpoint else \
            default_checkpoint(Path(tmp), args.family)
        print(f"policy: {what}", flush=True)
        baseline = in_process_baseline(ckpt, args.threads)
        print(f"in-process predict_action_chunk (median): {baseline}", flush=True)
        runs = []
        for bmax in args.batch_max:
            port = free_port()
            proc = start_server(ckpt, port, ["--batch-max", str(bmax), "--batch-wait-ms", str(args.batch_wait_ms),
                                             "--threads", str(args.threads)], preload(args.family))
            try:
                wait_healthy(port, proc)
                for n in args.clients:
                    r = {"batch_max": bmax, **run_clients(f"ws://127.0.0.1:{port}", n, args.requests)}
                    runs.append(r)
                    print(f"batch_max={bmax:<2} clients={n:<3} p50={r['p50_ms']:8.2f} ms  p99={r['p99_ms']:8.2f} ms  "
                          f"throughput={r['throughput_rps']:7.1f} req/s  mean batch={r['mean_batch_size']}"
                          f"  errors={len(r['errors'])}", flush=True)
            finally:
                stop_server(proc)
    result = {"benchmark": "serve_latency", "date": datetime.date.today().isoformat(),
              "machine": f"{os.cpu_count()}-core CPU ({platform.machine()}), no GPU, shared with other jobs",
              "policy": what, "server_threads": args.threads,
              "in_process_predict_ms": baseline, "batch_wait_ms": args.batch_wait_ms,
              "requests_per_client": args.requests, "transport": "websocket over loopback (127.0.0.1)",
              "command": " ".join([Path(sys.executable).name, *sys.argv]), "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
