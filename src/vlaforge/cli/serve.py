"""`vlaforge serve --checkpoint DIR [--host 127.0.0.1] [--port 8000] [--map CLIENT=DATASET ...]`

Serves any vlaforge checkpoint over openpi's websocket + msgpack protocol; clients written
for openpi's ``openpi-client`` work unchanged. ``GET /healthz`` answers ``OK``.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import tyro


@dataclass
class ServeArgs:
    checkpoint: Path
    """Checkpoint directory written by `vlaforge train` (config, weights, norm stats, embodiments)."""
    host: str = "127.0.0.1"
    """Interface to bind; keep loopback unless the robot is on another machine."""
    port: int = 8000
    """0 picks a free port (printed at start)."""
    map: tuple[str, ...] = ()
    """Key-map overrides CLIENT=DATASET, e.g. observation/image=observation.images.corner2."""
    embodiment: str | None = None
    """Embodiment to serve when the checkpoint has several (else each request names one)."""
    no_warm_up: bool = False
    """Skip the warm-up forward (the first request then pays for lazy loading)."""
    batch_max: int = 1
    """Micro-batching: most concurrent requests per forward pass (e.g. 8)."""
    batch_wait_ms: float = 5.0
    """Micro-batching: how long a request waits for others to join its batch."""
    max_message_bytes: int = 16 * 2**20
    """Bigger messages get an error reply (beyond 4x the connection is closed)."""
    queue_size: int = 64
    """Requests waiting for the policy before connections stop being read (backpressure)."""
    device: str = "cpu"
    threads: int | None = None
    """torch intra-op threads (default: torch's choice)."""
    log_level: str = "info"


def main(argv: list[str] | None = None) -> int:
    args = tyro.cli(ServeArgs, args=argv, prog="vlaforge serve", description=__doc__)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    import torch

    from vlaforge.core.checkpoint import CheckpointError
    from vlaforge.serve.inputs import parse_map_args
    from vlaforge.serve.server import ServerConfig, load_server

    if args.threads:
        torch.set_num_threads(args.threads)
    config = ServerConfig(host=args.host, port=args.port, warm_up=not args.no_warm_up, batch_max=args.batch_max,
                          batch_wait_ms=args.batch_wait_ms, max_message_bytes=args.max_message_bytes,
                          queue_size=args.queue_size)
    try:
        server = load_server(args.checkpoint, parse_map_args(args.map), args.embodiment, config, args.device)
    except (CheckpointError, ValueError, KeyError) as e:
        print(f"vlaforge serve: cannot serve {args.checkpoint}: {e}", file=sys.stderr)
        return 2
    print(f"vlaforge serve: {server.family} policy, keys {server.spec.key_map}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
