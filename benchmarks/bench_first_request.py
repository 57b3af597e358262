"""The first request to a new server (issue 9): time to healthy, first-reply and steady-state latency.

    python benchmarks/bench_first_request.py --checkpoint runs/bench/bc_tiny/checkpoints/last

Starts `vlaforge serve` in a subprocess (1 torch thread), waits for /healthz, then sends requests
with a prompt the checkpoint knows (its training tasks, warmed up) and one it does not (one encoder
call). Writes benchmarks/results/first_request.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_serve import free_port, start_server, stop_server, wait_healthy  # noqa: E402


def obs(rng, size, prompt):
    return {"observation/image": rng.integers(0, 256, (*size, 3), dtype=np.uint8),
            "observation/wrist_image": rng.integers(0, 256, (*size, 3), dtype=np.uint8),
            "observation/state": rng.normal(size=4).astype(np.float32), "prompt": prompt}


def main() -> None:
    from vlaforge.core.checkpoint import read_config
    from vlaforge.serve.client import WebsocketClientPolicy

    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", default="benchmarks/results/first_request.json")
    ap.add_argument("--no-warm-up", action="store_true", help="the server as before the fix, for comparison")
    a = ap.parse_args()
    cfg = read_config(Path(a.checkpoint))["policy"]
    size = tuple(cfg["image_size"])
    tasks = json.loads((Path(a.checkpoint) / "tasks.json").read_text())
    port = free_port()
    t0 = time.perf_counter()
    proc = start_server(Path(a.checkpoint), port, ["--threads", "1"] + (["--no-warm-up"] if a.no_warm_up else []))
    try:
        wait_healthy(port, proc)
        healthy_s = time.perf_counter() - t0
        rng = np.random.default_rng(0)
        with WebsocketClientPolicy(f"ws://127.0.0.1:{port}") as client:
            times = []
            for i in range(11):
                t = time.perf_counter()
                client.infer(obs(rng, size, tasks[i % len(tasks)]))
                times.append(1000 * (time.perf_counter() - t))
            t = time.perf_counter()
            client.infer(obs(rng, size, "a prompt the checkpoint never saw"))
            new_prompt_ms = 1000 * (time.perf_counter() - t)
    finally:
        stop_server(proc)
    res = {"checkpoint": a.checkpoint, "family": read_config(Path(a.checkpoint))["family"],
           "seconds_to_healthy": round(healthy_s, 2), "first_request_ms": round(times[0], 1),
           "steady_median_ms": round(statistics.median(times[1:]), 1), "new_prompt_ms": round(new_prompt_ms, 1),
           "warm_up": not a.no_warm_up, "date": time.strftime("%Y-%m-%d %H:%M"),
           "command": f"python benchmarks/bench_first_request.py --checkpoint {a.checkpoint}"}
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
