"""Fuzz the policy server with malformed messages; it must answer each with an error and survive.

    .venv/bin/python benchmarks/fuzz_serve.py [--checkpoint DIR] [--n 1200] [--seed 0]

Starts `vlaforge serve` as a subprocess on 127.0.0.1 and sends ``--n`` malformed messages of
varied kinds (random bytes, truncated msgpack, wrong types, missing keys, wrong shapes and
dtypes, NaN/inf, broken array headers, bad control fields, oversized, huge nested, non-map,
text frames) over one connection, while a second client keeps sending valid observations.
Counts, per kind, error replies (text frames), connections closed with 1009 (messages past the
hard size limit, by design), unexpected successes and unexpected closes; then checks the
server process is alive, a fresh client is served and ``/stats`` shows no internal error.
Writes benchmarks/results/serve_fuzz.json.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgpack
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import (RESULTS, default_checkpoint, free_port, make_obs, preload, start_server,  # noqa: E402
                         stop_server, wait_healthy)

from vlaforge.serve import protocol  # noqa: E402
from vlaforge.serve.client import WebsocketClientPolicy  # noqa: E402
from vlaforge.serve.protocol import ServerError  # noqa: E402

MAX_BYTES = 256 * 1024  # server --max-message-bytes; the hard limit (connection closed) is 4x


def _arr_header(data: bytes, dtype: str, shape) -> dict:
    return {b"__ndarray__": True, b"data": data, b"dtype": dtype, b"shape": shape}


def _random_value(rng: np.random.Generator):
    choices = [lambda: int(rng.integers(-2**40, 2**40)), lambda: "x" * int(rng.integers(0, 50)), lambda: None,
               lambda: [1, 2, 3], lambda: {"a": 1}, lambda: b"\x00\x01", lambda: float(rng.normal()), lambda: True,
               lambda: rng.normal(size=(2, 2)), lambda: np.zeros(3, np.int8)]
    return choices[int(rng.integers(len(choices)))]()


def _nested(depth: int):
    v: object = 1
    for _ in range(depth):
        v = [v]
    return v


# Each generator returns (payload: bytes | str, expects_close: bool).
def gen_random_bytes(rng, good):
    return rng.integers(0, 256, int(rng.integers(1, 3000)), dtype=np.uint8).tobytes(), False


def gen_truncated(rng, good):
    raw = protocol.packb(good)
    return raw[: int(rng.integers(1, len(raw) - 1))], False


def gen_wrong_type(rng, good):
    key = list(good)[int(rng.integers(len(good)))]
    value = _random_value(rng)
    while isinstance(value, type(good[key])) or (isinstance(good[key], str) and isinstance(value, bytes)):
        value = _random_value(rng)  # a str prompt (or utf-8 bytes) would be valid
    return protocol.packb({**good, key: value}), False


def gen_missing_keys(rng, good):
    keys = list(good)
    drop = set(rng.choice(keys, size=int(rng.integers(1, len(keys) + 1)), replace=False).tolist())
    return protocol.packb({k: v for k, v in good.items() if k not in drop}), False


def gen_wrong_shape(rng, good):
    key = list(good)[int(rng.integers(len(good) - 1))]  # an array key
    v = good[key]
    shape = tuple(int(n) for n in rng.integers(0, 40, int(rng.integers(0, 5))))
    if shape == v.shape:
        shape = shape + (1,)
    return protocol.packb({**good, key: np.zeros(shape, v.dtype)}), False


def gen_wrong_dtype(rng, good):
    key = list(good)[int(rng.integers(len(good) - 1))]
    v = good[key]
    dtypes = [d for d in (np.float32, np.float64, np.int16, np.int64, np.bool_, np.uint8, np.float16)
              if np.dtype(d) != v.dtype and not (v.dtype.kind == "f" and np.dtype(d).kind == "f")]
    return protocol.packb({**good, key: v.astype(dtypes[int(rng.integers(len(dtypes)))])}), False


def gen_nonfinite(rng, good):
    state_key = next(k for k, v in good.items() if isinstance(v, np.ndarray) and v.dtype == np.float32)
    s = good[state_key].copy()
    s[int(rng.integers(len(s)))] = [np.nan, np.inf, -np.inf][int(rng.integers(3))]
    return protocol.packb({**good, state_key: s}), False


def gen_bad_array_header(rng, good):
    key = list(good)[int(rng.integers(len(good) - 1))]
    bad = [_arr_header(b"\x00" * 7, "<f4", [2]), _arr_header(b"\x00" * 8, "|O", [1]),
           _arr_header(b"\x00" * 8, "<c8", [1]), _arr_header(b"", "garbage", [0]),
           _arr_header(b"\x00" * 4, "<f4", [-1]), _arr_header("str", "<f4", [1]),
           _arr_header(b"\x00" * 4, "<f4", "shape"), _arr_header(b"\x00" * 4, "<f4", [1] * 20),
           {b"__npgeneric__": True, b"data": "x", b"dtype": "<f4"}][int(rng.integers(9))]
    return msgpack.packb({**_openpi(good), key: bad}), False


def gen_bad_control(rng, good):
    bad = [{"seed": -5}, {"seed": "1"}, {"seed": 2**64 - 1}, {"reset": 1}, {"infer": "no"},
           {"rng_state": np.zeros(3, np.float32)}, {"rng_state": np.zeros(10, np.uint8)},
           {"embodiment": "no_such_robot"}, {"embodiment": 3}][int(rng.integers(9))]
    return protocol.packb({**good, **bad}), False


def gen_oversized(rng, good):
    return protocol.packb({**good, "pad": b"\x00" * int(rng.integers(MAX_BYTES + 1, 3 * MAX_BYTES))}), False


def gen_oversized_hard(rng, good):
    return b"\x00" * (4 * MAX_BYTES + int(rng.integers(1, 1000))), True


def gen_huge_nested(rng, good):
    if rng.random() < 0.5:
        return b"\x91" * int(rng.integers(2000, 100_000)) + b"\x01", False  # deep arrays: msgpack stack limit
    wide = {f"k{i}": {"a": [_random_value(rng) for _ in range(5)]} for i in range(2000)}
    key = list(good)[int(rng.integers(len(good)))]
    if rng.random() < 0.5:  # a required key holds a huge nested structure
        return protocol.packb({**good, key: {"deep": _nested(int(rng.integers(100, 500))), **wide}}), False
    return protocol.packb([wide, _nested(int(rng.integers(100, 500)))]), False  # huge, not a map


def gen_non_dict(rng, good):
    return protocol.packb([None, 1, "obs", [good["prompt"]], 3.5, True, b"bytes"][int(rng.integers(7))]), False


def gen_text_frame(rng, good):
    return json.dumps({k: str(v)[:20] for k, v in good.items()}), False


KINDS = {name[4:]: fn for name, fn in globals().items() if name.startswith("gen_")}


def _openpi(good: dict) -> dict:
    return {k: (protocol._encode(v) if isinstance(v, np.ndarray) else v) for k, v in good.items()}


def fuzz(url: str, n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    counts = {k: {"sent": 0, "error_reply": 0, "closed_1009": 0, "unexpected_success": 0, "unexpected_close": 0}
              for k in KINDS}
    client = WebsocketClientPolicy(url)
    good = make_obs(rng, client.get_server_metadata())
    names = list(KINDS)
    valid_between = 0
    for i in range(n):
        kind = names[i % len(names)] if i < len(names) * 2 else names[int(rng.integers(len(names)))]
        if kind == "oversized_hard" and counts[kind]["sent"] >= 20:
            kind = "random_bytes"  # bounded: each one costs a reconnect
        payload, expects_close = KINDS[kind](rng, good)
        c = counts[kind]
        c["sent"] += 1
        try:
            client.send_raw(payload)
            c["unexpected_success"] += 1
        except ServerError:
            c["error_reply"] += 1
        except Exception as e:  # noqa: BLE001 - classified below
            code = getattr(getattr(e, "rcvd", None), "code", None)
            c["closed_1009" if (expects_close and code == 1009) else "unexpected_close"] += 1
            client = WebsocketClientPolicy(url)
        if i % 50 == 49:  # the fuzzed connection itself still serves valid requests
            assert client.infer(good)["actions"].ndim == 2
            valid_between += 1
    client.close()
    return {"per_kind": counts, "valid_between": valid_between}


def background_valid_client(url: str, stop: threading.Event, out: dict) -> None:
    rng = np.random.default_rng(123)
    with WebsocketClientPolicy(url) as c:
        obs = make_obs(rng, c.get_server_metadata())
        while not stop.is_set():
            try:
                c.infer(obs)
                out["ok"] += 1
            except Exception as e:  # noqa: BLE001
                out["failed"] += 1
                out["last_error"] = repr(e)
            time.sleep(0.01)


def stats(port: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/stats")
    return json.loads(conn.getresponse().read())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument("--family", default="xvla")
    ap.add_argument("--n", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS / "serve_fuzz.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt, what = (args.checkpoint, f"checkpoint {args.checkpoint}") if args.checkpoint else \
            default_checkpoint(Path(tmp), args.family)
        port = free_port()
        proc = start_server(ckpt, port, ["--max-message-bytes", str(MAX_BYTES), "--threads", "1",
                                         "--batch-max", "4"], preload(args.family))
        t0 = time.perf_counter()
        try:
            wait_healthy(port, proc)
            url = f"ws://127.0.0.1:{port}"
            bg, stop = {"ok": 0, "failed": 0}, threading.Event()
            thread = threading.Thread(target=background_valid_client, args=(url, stop, bg))
            thread.start()
            result = fuzz(url, args.n, args.seed)
            stop.set()
            thread.join()
            with WebsocketClientPolicy(url) as fresh:
                served_after = fresh.infer(make_obs(np.random.default_rng(9), fresh.get_server_metadata()))
            server_stats = stats(port)
            alive = proc.poll() is None
        finally:
            stop_server(proc)
    per = result["per_kind"]
    total = {k: sum(c[k] for c in per.values()) for k in next(iter(per.values()))}
    summary = {"benchmark": "serve_fuzz", "date": datetime.date.today().isoformat(),
               "machine": f"{os.cpu_count()}-core CPU, no GPU", "policy": what, "seed": args.seed,
               "max_message_bytes": MAX_BYTES, "wall_s": round(time.perf_counter() - t0, 1),
               "command": " ".join([Path(sys.executable).name, *sys.argv]), "totals": total, "per_kind": per,
               "answered_with_error": total["error_reply"] + total["closed_1009"],
               "server_alive_after": alive, "server_crashes": 0 if alive else 1,
               "valid_requests_on_fuzzed_connection": result["valid_between"],
               "background_valid_client": bg, "fresh_client_served_after": served_after["actions"].shape[0] > 0,
               "server_stats": server_stats}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "per_kind"}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
