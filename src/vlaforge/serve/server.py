"""Policy server: any vlaforge checkpoint over openpi's websocket + msgpack protocol.

One asyncio event loop owns the sockets, decoding, validation and each connection's
observation history; one worker thread runs the policy, so a slow forward pass never stalls
the loop (``/healthz`` answers, bad requests are refused, others queue). Requests wait in a
bounded queue (backpressure: a full queue stops reading from that connection) and are
micro-batched: up to ``batch_max`` requests that arrive within ``batch_wait_ms`` share one
``predict_action_chunk`` call. Requests that sample with their own seeded generator run
alone, so their noise is exactly what the in-process policy would draw.
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import websockets
from websockets.asyncio.server import Request as HttpRequest, Response, ServerConnection, serve
from websockets.frames import CloseCode

import vlaforge
from vlaforge.core.checkpoint import CheckpointError, load_policy, read_serving
from vlaforge.core.keys import ACTION, STATE
from vlaforge.serve import protocol
from vlaforge.core.errors import BatchError
from vlaforge.core.history import ObsHistory
from vlaforge.serve.inputs import (InputSpec, Request, check_serving_json, collate, decode_request, nonfinite_summary,
                                   resolve_key_map)
from vlaforge.serve.protocol import ProtocolError

log = logging.getLogger("vlaforge.serve")


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    """0 picks a free port (see ``PolicyServer.port`` once started)."""
    batch_max: int = 1
    """Most requests that share one forward pass (1 = no micro-batching)."""
    batch_wait_ms: float = 5.0
    """How long the first request of a batch waits for company."""
    max_message_bytes: int = 16 * 2**20
    """Larger messages get an error reply; beyond 4x this the connection is closed (1009)."""
    queue_size: int = 64
    """Requests waiting for the policy; when full, connections stop being read (backpressure)."""
    warm_up: bool = True
    """One dummy forward per embodiment over the checkpoint's known instructions before /healthz says OK."""


@dataclass
class _Job:
    obs: dict[str, Any]
    embodiment: str
    generator: torch.Generator | None
    future: asyncio.Future
    t_queued: float = field(default_factory=time.monotonic)


@dataclass
class _Connection:
    history: ObsHistory
    generator: torch.Generator | None = None
    prev_total_ms: float | None = None


class PolicyServer:
    """Serve ``policy`` (a loaded vlaforge ``Policy``); see ``load_server`` to build from a checkpoint."""

    def __init__(self, policy, key_map: dict[str, str], embodiment: str | None = None,
                 config: ServerConfig | None = None, family: str = "") -> None:
        self.policy, self.config = policy, config or ServerConfig()
        self.family = family or getattr(policy.config, "family", "")
        names = sorted(policy.embodiments)
        if embodiment is None and len(names) == 1:
            embodiment = names[0]
        if embodiment is not None and embodiment not in policy.embodiments:
            raise ValueError(f"embodiment {embodiment!r} is not one this policy was trained on: {names}")
        self.spec = InputSpec(key_map, tuple(policy.config.image_size), dict(policy.embodiments), embodiment,
                              tuple(getattr(policy.config, "camera_map", ())))
        self.device = next(iter(policy.parameters()), torch.zeros(0)).device
        self.stats: dict[str, Any] = {"requests": 0, "replies": 0, "errors": {}, "internal_errors": 0,
                                      "connections": 0, "open_connections": 0, "batches": 0, "batched_requests": 0}
        self.port: int | None = None
        self._warm = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vlaforge-infer")
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    # ---- metadata (sent on connect) ---------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        c = self.policy.config
        emb = self.policy.embodiments.get(self.spec.default_embodiment or "")
        return {
            "server": "vlaforge", "version": vlaforge.__version__, "protocol": "openpi-websocket-msgpack",
            "family": self.family, "embodiment": self.spec.default_embodiment,
            "embodiments": sorted(self.policy.embodiments), "keys": dict(self.spec.key_map),
            "inputs": self.spec.describe(), "controls": list(protocol.CONTROL_KEYS),
            "action_dim": emb.action_dim if emb else None, "action_names": list(emb.action_names) if emb else None,
            "action_low": list(emb.action_low) if emb else None, "action_high": list(emb.action_high) if emb else None,
            "chunk_size": c.chunk_size, "n_action_steps": c.n_action_steps, "n_obs_steps": c.n_obs_steps,
            "obs_stride": c.obs_stride, "history_span": (c.n_obs_steps - 1) * c.obs_stride + 1,
            "max_message_bytes": self.config.max_message_bytes, "batch_max": self.config.batch_max,
        }

    # ---- lifecycle --------------------------------------------------------------------------
    def serve_forever(self) -> None:
        asyncio.run(self.run())

    async def run(self, ready: threading.Event | None = None) -> None:
        cfg = self.config
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=cfg.queue_size)
        batcher = asyncio.create_task(self._batch_loop())
        async with serve(self._handler, cfg.host, cfg.port, compression=None,
                         max_size=4 * cfg.max_message_bytes, process_request=self._http) as server:
            self.port = server.sockets[0].getsockname()[1] if server.sockets else cfg.port
            if cfg.warm_up:
                await self._loop.run_in_executor(self._executor, self.warm_up)  # /healthz says 503 until done
            self._warm = True
            log.info("serving %s on ws://%s:%d (batch_max=%d)", self.family, cfg.host, self.port, cfg.batch_max)
            if ready is not None:
                ready.set()
            await self._stop.wait()
        batcher.cancel()

    def start(self, timeout_s: float = 30.0) -> "PolicyServer":
        """Run in a background thread (tests, benchmarks); returns once the port is bound."""
        ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self.run(ready)), daemon=True,
                                        name="vlaforge-serve")
        self._thread.start()
        if not ready.wait(timeout_s):
            raise RuntimeError(f"policy server did not start within {timeout_s} s")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._executor.shutdown(wait=False)

    @property
    def url(self) -> str:
        return f"ws://{self.config.host}:{self.port}"

    # ---- plain HTTP -------------------------------------------------------------------------
    def warm_up(self) -> float:
        """One dummy forward per embodiment over the instructions the checkpoint knows (its training
        tasks), so the first real request pays no lazy loading (the text encoder), no embedding of a
        known prompt and no first-call kernel set-up. Returns the seconds it took."""
        t0 = time.monotonic()
        c = self.policy.config
        tasks = list(getattr(self.policy, "known_tasks", None) or ["warm up"])[:64]
        for name, spec in self.policy.embodiments.items():
            for batch in (len(tasks), 1):
                hist = ObsHistory(c.n_obs_steps, c.obs_stride)
                step = {f"observation.images.{cam}": torch.zeros(batch, 3, *c.image_size, dtype=torch.uint8)
                        for cam in c.cameras if f"observation.images.{cam}" not in self.spec.optional_keys(name)}
                step.update({STATE: torch.zeros(batch, spec.state_dim), "task": tasks[:batch],
                             "embodiment": [name] * batch})
                try:
                    self._predict([hist.push(step)], torch.Generator(device=self.device).manual_seed(0))
                except Exception:  # noqa: BLE001 - a policy that cannot take the dummy still serves real requests
                    log.exception("warm-up forward failed for %s; serving without it", name)
        if hasattr(self.policy, "reset"):
            self.policy.reset()
        self.stats["warm_up_s"] = round(time.monotonic() - t0, 3)
        self._warm = True
        return self.stats["warm_up_s"]

    def _http(self, connection: ServerConnection, request: HttpRequest) -> Response | None:
        if request.path == "/healthz":
            if not self._warm:
                return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "warming up\n")
            return connection.respond(http.HTTPStatus.OK, "OK\n")
        if request.path == "/stats":
            return connection.respond(http.HTTPStatus.OK, json.dumps(self.stats) + "\n")
        return None

    # ---- one connection ---------------------------------------------------------------------
    async def _handler(self, ws: ServerConnection) -> None:
        c = self.policy.config
        conn = _Connection(ObsHistory(c.n_obs_steps, c.obs_stride))
        self.stats["connections"] += 1
        self.stats["open_connections"] += 1
        try:
            await ws.send(protocol.packb(self.metadata()))
            async for raw in ws:
                await self._serve_one(ws, conn, raw)
        except websockets.ConnectionClosed as e:
            if e.sent is not None and e.sent.code == CloseCode.MESSAGE_TOO_BIG:
                self._count_error("too_large_closed")
        except Exception:  # never let one connection take anything else down
            self.stats["internal_errors"] += 1
            log.exception("connection handler failed")
        finally:
            self.stats["open_connections"] -= 1

    async def _serve_one(self, ws: ServerConnection, conn: _Connection, raw: bytes | str) -> None:
        t0 = time.monotonic()
        self.stats["requests"] += 1
        try:
            reply = await self._reply(conn, raw)
        except ProtocolError as e:
            self._count_error(e.kind)
            await ws.send(e.to_text())
            return
        except Exception as e:
            self.stats["internal_errors"] += 1
            log.exception("inference failed")
            err = ProtocolError(f"internal server error: {type(e).__name__}: {e}\n{traceback.format_exc()}",
                                kind="internal_error")
            await ws.send(err.to_text())
            return
        if conn.prev_total_ms is not None:
            reply["server_timing"]["prev_total_ms"] = conn.prev_total_ms
        await ws.send(protocol.packb(reply))
        self.stats["replies"] += 1
        conn.prev_total_ms = (time.monotonic() - t0) * 1000

    async def _reply(self, conn: _Connection, raw: bytes | str) -> dict[str, Any]:
        req = self._decode(raw)
        own = self._request_generator(req) if req.rng_state is not None else None  # may refuse: before any change
        if req.reset:
            conn.history.reset()
        if req.seed is not None:
            conn.generator = torch.Generator(device=self.device).manual_seed(req.seed)
        generator = own if own is not None else conn.generator
        obs = conn.history.push(req.obs)
        self._check(obs)
        if not req.infer:
            dim = self.spec.embodiments[req.embodiment].action_dim
            return {"actions": np.zeros((0, dim), np.float32), "server_timing": {"infer_ms": 0.0}}
        job = _Job(obs, req.embodiment, generator, self._loop.create_future())
        await self._queue.put(job)  # waits when full: backpressure instead of an unbounded queue
        actions, timing = await job.future
        reply = {"actions": actions, "server_timing": timing}
        if req.rng_state is not None:
            reply[protocol.RNG_STATE] = generator.get_state().numpy()
        return reply

    def _check(self, obs: dict[str, Any]) -> None:
        """The policy's own batch validation (``vlaforge.core.validate``), answered as a protocol error."""
        check = getattr(self.policy, "check_batch", None)
        if check is None:
            return
        try:
            check(obs, training=False)
        except BatchError as e:
            if isinstance(e, ProtocolError):
                raise
            raise ProtocolError(e.message, e.key, e.expected, e.received) from None

    def _decode(self, raw: bytes | str) -> Request:
        if isinstance(raw, str):
            raise ProtocolError("expected a binary msgpack frame, got a text frame", expected="binary frame",
                                received=f"text frame of {len(raw)} characters", kind="bad_msgpack")
        if len(raw) > self.config.max_message_bytes:
            raise ProtocolError("message too large", expected=f"at most {self.config.max_message_bytes} bytes "
                                "(server --max-message-bytes)", received=f"{len(raw)} bytes", kind="too_large")
        return decode_request(protocol.unpackb(raw), self.spec)

    def _request_generator(self, req: Request) -> torch.Generator:
        if self.device.type != "cpu":
            raise ProtocolError("rng_state needs a CPU server; send 'seed' instead", key=protocol.RNG_STATE)
        g = torch.Generator()
        try:
            g.set_state(torch.from_numpy(req.rng_state.copy()))
        except RuntimeError as e:
            raise ProtocolError("bad generator state", key=protocol.RNG_STATE,
                                expected="torch CPU Generator.get_state() bytes",
                                received=f"{req.rng_state.size} bytes ({e})") from None
        return g

    def _count_error(self, kind: str) -> None:
        self.stats["errors"][kind] = self.stats["errors"].get(kind, 0) + 1

    # ---- batching & inference ---------------------------------------------------------------
    async def _batch_loop(self) -> None:
        while True:
            jobs = await self._gather()
            for group in _groups(jobs):
                self.stats["batches"] += 1
                self.stats["batched_requests"] += len(group)
                t0 = time.monotonic()
                results = await self._loop.run_in_executor(self._executor, self._infer_group, group)
                infer_ms = (time.monotonic() - t0) * 1000
                for job, res in zip(group, results):
                    if job.future.done():
                        continue
                    if isinstance(res, BaseException):
                        job.future.set_exception(res)
                    else:
                        timing = {"infer_ms": infer_ms, "queue_ms": (t0 - job.t_queued) * 1000,
                                  "batch_size": len(group)}
                        job.future.set_result((res, timing))

    async def _gather(self) -> list[_Job]:
        """The first waiting job, plus others that arrive within ``batch_wait_ms`` (up to ``batch_max``).

        A connection has at most one request in flight, so the wait also ends once every open
        connection has a job in the batch: a lone client never waits for company."""
        jobs = [await self._queue.get()]
        deadline = time.monotonic() + self.config.batch_wait_ms / 1000
        limit = min(self.config.batch_max, max(1, self.stats["open_connections"]))
        while len(jobs) < limit and jobs[0].generator is None:
            try:
                jobs.append(self._queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                jobs.append(await asyncio.wait_for(self._queue.get(), left))
            except asyncio.TimeoutError:
                break
        return jobs

    def _infer_group(self, jobs: list[_Job]) -> list[np.ndarray | BaseException]:
        """Worker thread: one forward pass per robot in the group (robots differ in cameras and action
        width); on failure retry one by one to isolate."""
        robots = list(dict.fromkeys(j.embodiment for j in jobs))
        if len(robots) > 1:
            done = {id(j): r for name in robots for sub in [[j for j in jobs if j.embodiment == name]]
                    for j, r in zip(sub, self._infer_group(sub))}
            return [done[id(j)] for j in jobs]
        try:
            chunks = self._predict([j.obs for j in jobs], jobs[0].generator)  # (B, H, Da)
        except Exception as e:
            if len(jobs) > 1:
                return [self._infer_group([j])[0] for j in jobs]
            log.exception("predict_action_chunk failed")
            return [ProtocolError(f"the policy failed on this observation: {type(e).__name__}: {e}",
                                  kind="inference_error")]
        return [self._finish(c, j.embodiment) for c, j in zip(chunks, jobs)]

    @torch.no_grad()
    def _predict(self, obs: list[dict[str, Any]], generator: torch.Generator | None) -> np.ndarray:
        batch = {k: (v.to(self.device) if torch.is_tensor(v) else v) for k, v in collate(obs).items()}
        chunk = self.policy.predict_action_chunk(batch, generator=generator)  # (B, H, Da)
        return chunk.float().cpu().numpy()

    def _finish(self, chunk: np.ndarray, embodiment: str) -> np.ndarray | BaseException:
        """Raw (H, Da) chunk -> clipped float32; a non-finite chunk is refused, never sent."""
        spec = self.spec.embodiments[embodiment]
        if chunk.ndim != 2 or chunk.shape[1] != spec.action_dim:
            return ProtocolError(f"the policy returned a chunk of shape {chunk.shape}, expected (H, "
                                 f"{spec.action_dim}) for {embodiment}", kind="internal_error")
        if not np.isfinite(chunk).all():
            return ProtocolError(f"the policy produced non-finite actions ({nonfinite_summary(chunk)}); "
                                 "nothing was sent to the robot", kind="nonfinite_action")
        return spec.clip_action(chunk).astype(np.float32)


def _groups(jobs: list[_Job]) -> list[list[_Job]]:
    """One forward pass per embodiment; jobs with their own generator run alone."""
    groups: dict[str, list[_Job]] = {}
    alone = []
    for j in jobs:
        (alone.append([j]) if j.generator is not None else groups.setdefault(j.embodiment, []).append(j))
    return list(groups.values()) + alone


# ---- from a checkpoint ----------------------------------------------------------------------
def check_servable(path: str | Path) -> None:
    """Refuse, with a clear message, a checkpoint without norm stats or embodiments."""
    path = Path(path)
    for name in ("norm_stats.json", "embodiments.json"):
        if not (path / name).is_file() and path.is_dir():
            raise CheckpointError(f"checkpoint {path} has no {name}: it cannot be served (a served policy needs "
                                  "its normalization stats and embodiment specs). Re-save it from a training run.")
    if not path.is_dir():
        return  # load_policy says it best
    specs = json.loads((path / "embodiments.json").read_text())
    norm = json.loads((path / "norm_stats.json").read_text())
    if not specs:
        raise CheckpointError(f"checkpoint {path}: embodiments.json lists no embodiment; nothing to serve")
    for spec in specs:
        stats = norm.get("stats", {}).get(spec["name"], {})
        missing = [k for k in (STATE, ACTION) if k not in stats]
        if missing and norm.get("mode") != "identity":
            raise CheckpointError(f"checkpoint {path}: norm_stats.json has no {missing} stats for embodiment "
                                  f"{spec['name']!r}; serving it would run un-normalized. Re-save from training.")


def load_server(checkpoint: str | Path, overrides: dict[str, str] | None = None, embodiment: str | None = None,
                config: ServerConfig | None = None, device: str = "cpu") -> PolicyServer:
    """Everything from the checkpoint directory: weights, stats, embodiments and key mapping."""
    check_servable(checkpoint)
    policy = load_policy(checkpoint, map_location=device)
    serving = read_serving(checkpoint)
    check_serving_json(serving)
    key_map = resolve_key_map(tuple(policy.config.cameras), serving, overrides)
    embodiment = embodiment or (serving or {}).get("embodiment")
    return PolicyServer(policy, key_map, embodiment, config)


def serving_config(key_map: dict[str, str] | None = None, embodiment: str | None = None) -> dict:
    """What a trainer passes as ``save_checkpoint(..., serving=...)``."""
    out: dict[str, Any] = {}
    if key_map:
        out["keys"] = dict(key_map)
    if embodiment:
        out["embodiment"] = embodiment
    return out
