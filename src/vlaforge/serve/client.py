"""Numpy-only websocket client for a policy server (vlaforge's or openpi's).

Runs on a robot computer without torch: it imports numpy, msgpack and websockets only.

    policy = WebsocketClientPolicy("ws://127.0.0.1:8000")
    policy.reset(seed=0)                 # new episode; optional deterministic sampling
    out = policy.infer({"observation/image": img_hwc_uint8, "observation/state": state, "prompt": "..."})
    out["actions"]                       # (H, D) float32, already clipped to the robot's bounds
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from websockets.exceptions import InvalidHandshake
from websockets.sync.client import ClientConnection, connect

from vlaforge.serve import protocol


class WebsocketClientPolicy:
    """``infer(obs) -> {"actions": (H, D), "server_timing": {...}}`` over one websocket connection.

    Same wire behaviour as openpi-client's ``WebsocketClientPolicy``. Additions: ``reset``
    tells the server (with the next observation) that an episode starts, so its per-connection
    history restarts and its sampling generator can be re-seeded; ``observe`` records an
    observation without inference (for policies with an observation history); server errors
    raise ``ServerError`` with the offending key, what was expected and what arrived.
    """

    def __init__(self, url: str = "ws://127.0.0.1:8000", port: int | None = None, *,
                 connect_timeout_s: float = 30.0, timeout_s: float | None = 60.0) -> None:
        self.url = _url(url, port)
        self.timeout_s = timeout_s
        self._ws, self._metadata = self._connect(connect_timeout_s)
        self._pending: dict[str, Any] = {}

    # ---- openpi-client interface --------------------------------------------------------
    def get_server_metadata(self) -> dict:
        return self._metadata

    def infer(self, obs: dict) -> dict:
        """One observation in, one action chunk out. Raises ``ServerError`` on an error frame."""
        msg = {**obs, **self._pending}
        self._pending = {}
        return self._roundtrip(msg)

    def reset(self, seed: int | None = None) -> None:
        """Start an episode: the next request clears the server's history (and seeds sampling)."""
        self._pending = {protocol.RESET: True}
        if seed is not None:
            self._pending[protocol.SEED] = int(seed)

    # ---- additions ------------------------------------------------------------------------
    def observe(self, obs: dict) -> None:
        """Push an observation into the server's history without running the policy."""
        self.infer({**obs, protocol.INFER: False})

    def send_raw(self, data: bytes | str) -> dict:
        """Send an already-encoded frame (tests, fuzzing); returns the decoded reply."""
        self._ws.send(data)
        return self._receive()

    def close(self) -> None:
        self._ws.close()

    def __enter__(self) -> "WebsocketClientPolicy":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- internals ------------------------------------------------------------------------
    def _roundtrip(self, msg: dict) -> dict:
        self._ws.send(protocol.packb(msg))
        return self._receive()

    def _receive(self) -> dict:
        reply = self._ws.recv(timeout=self.timeout_s)
        if isinstance(reply, str):  # openpi: a text frame is an error
            raise protocol.ServerError(reply)
        out = protocol.unpackb(reply)
        if "actions" in out:
            out["actions"] = np.asarray(out["actions"])
        return out

    def _connect(self, timeout_s: float) -> tuple[ClientConnection, dict]:
        """Retry until the server is up (it may still be loading the checkpoint)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                # entered as a context (closed by ``close``): websockets >= 17.1 wants that, older ones allow it
                ws = connect(self.url, compression=None, max_size=None, open_timeout=timeout_s).__enter__()
                return ws, protocol.unpackb(ws.recv(timeout=timeout_s))
            except (ConnectionRefusedError, OSError, InvalidHandshake) as e:
                if time.monotonic() > deadline:
                    raise ConnectionError(f"no policy server at {self.url} after {timeout_s:.0f} s ({e}); "
                                          "start one with `vlaforge serve --checkpoint DIR`") from e
                time.sleep(0.2)


def _url(url: str, port: int | None) -> str:
    if not url.startswith(("ws://", "wss://")):
        url = f"ws://{url}"
    return f"{url}:{port}" if port is not None else url
