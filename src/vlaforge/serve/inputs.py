"""From openpi's flat client keys to the policy's batch keys: key mapping, validation, history.

The mapping is part of the checkpoint (``serving.json``: ``{"keys": {client_key: dataset_key},
"embodiment": name}``), defaults to openpi's LIBERO names derived from the policy config
(first camera -> ``observation/image``, second -> ``observation/wrist_image``, others ->
``observation/<cam>``, ``observation/state``, ``prompt``), and can be overridden per key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vlaforge.core.keys import EMBODIMENT, IMAGE_PREFIX, STATE, TASK
from vlaforge.core.embodiment import EmbodimentSpec
from vlaforge.serve import protocol
from vlaforge.serve.protocol import ProtocolError, describe

MAX_PROMPT_CHARS = 4096


# ---- key mapping ----------------------------------------------------------------------------
def default_key_map(cameras: tuple[str, ...]) -> dict[str, str]:
    """openpi's LIBERO client names for the policy's cameras (in config order), state and prompt."""
    names = [protocol.IMAGE, protocol.WRIST_IMAGE]
    out = {(names[i] if i < 2 else f"observation/{cam}"): IMAGE_PREFIX + cam for i, cam in enumerate(cameras)}
    out[protocol.STATE] = STATE
    out[protocol.PROMPT] = TASK
    return out


def parse_map_args(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["observation/image=observation.images.corner2", ...]`` -> ``{client: dataset}``."""
    out = {}
    for item in items:
        client, sep, dataset = item.partition("=")
        if not sep or not client or not dataset:
            raise ValueError(f"--map {item!r}: use CLIENT_KEY=DATASET_KEY, e.g. "
                             "observation/image=observation.images.corner2")
        out[client.strip()] = dataset.strip()
    return out


def resolve_key_map(cameras: tuple[str, ...], serving: dict | None = None,
                    overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Default <- checkpoint's serving.json <- command-line overrides; checked to cover every input."""
    key_map = dict(serving["keys"]) if serving and serving.get("keys") else default_key_map(cameras)
    for client, dataset in (overrides or {}).items():
        key_map = {c: d for c, d in key_map.items() if d != dataset}  # an override renames the client key
        key_map[client] = dataset
    _check_key_map(key_map, cameras)
    return key_map


def _check_key_map(key_map: dict[str, str], cameras: tuple[str, ...]) -> None:
    needed = [IMAGE_PREFIX + c for c in cameras] + [STATE, TASK]
    missing = [k for k in needed if k not in key_map.values()]
    unknown = sorted(d for d in key_map.values() if d not in needed)
    if missing or unknown:
        raise ValueError(f"serving key map {key_map} must map one client key to each of {needed}; "
                         f"missing {missing}, unknown {unknown}. Fix serving.json or pass --map CLIENT=DATASET")
    clash = sorted(c for c in key_map if c in protocol.CONTROL_KEYS + (protocol.EMBODIMENT,))
    if clash:
        raise ValueError(f"client key(s) {clash} are reserved for control fields; choose other names")


def check_serving_json(serving: dict | None) -> None:
    if serving is None:
        return
    unknown = sorted(set(serving) - {"keys", "embodiment"})
    if unknown or not isinstance(serving.get("keys", {}), dict):
        raise ValueError(f"serving.json: unknown field(s) {unknown}; expected "
                         '{"keys": {client_key: dataset_key}, "embodiment": name}')


# ---- request decoding -----------------------------------------------------------------------
@dataclass(frozen=True)
class InputSpec:
    """What one request must hold, derived from the policy config, embodiments and key map."""

    key_map: dict[str, str]
    image_size: tuple[int, int]
    embodiments: dict[str, EmbodimentSpec]
    default_embodiment: str | None
    camera_map: tuple[str, ...] = ()
    """The policy's ``camera_map``: a request may omit the camera slots its robot has no camera for."""

    def optional_keys(self, embodiment: str) -> set[str]:
        """Dataset image keys this robot's requests may leave out (slots it has no camera for)."""
        if not self.camera_map:
            return set()
        from vlaforge.core.cameras import parse_camera_map, robot_slots

        slots = [d[len(IMAGE_PREFIX):] for d in self.key_map.values() if d.startswith(IMAGE_PREFIX)]
        has = robot_slots(self.embodiments[embodiment].cameras, slots, parse_camera_map(self.camera_map))
        return {IMAGE_PREFIX + s for s in slots if s not in has}

    def describe(self) -> dict[str, dict]:
        """Per client key: dtype and shape, for the metadata a client reads on connect."""
        h, w = self.image_size
        spec = self.embodiments.get(self.default_embodiment or "")
        out = {}
        for client, dataset in self.key_map.items():
            if dataset.startswith(IMAGE_PREFIX):
                out[client] = {"dtype": "uint8", "shape": [h, w, 3], "layout": "HWC"}
            elif dataset == STATE:
                out[client] = {"dtype": "float32", "shape": [spec.state_dim if spec else -1]}
            else:
                out[client] = {"dtype": "str"}
        return out


@dataclass
class Request:
    obs: dict[str, Any]  # one step: images (1, 3, H, W) uint8, state (1, Ds) float32, task, embodiment
    embodiment: str
    reset: bool = False
    seed: int | None = None
    rng_state: np.ndarray | None = None
    infer: bool = True


def decode_request(msg: Any, spec: InputSpec) -> Request:
    """Validate a decoded message; every failure is a ``ProtocolError`` that names the key."""
    if not isinstance(msg, dict):
        raise ProtocolError("an observation must be a msgpack map of client keys",
                            expected=f"map with keys {sorted(spec.key_map)}", received=describe(msg))
    emb = _embodiment(msg, spec)
    obs: dict[str, Any] = {TASK: None, EMBODIMENT: [emb]}
    optional = spec.optional_keys(emb)
    for client, dataset in spec.key_map.items():
        if client not in msg and dataset in optional:
            continue  # a camera slot this robot has no camera for: the policy pads it
        if client not in msg:
            raise ProtocolError(f"missing key {client!r} (the policy's {dataset!r})", key=client,
                                expected=_expected(dataset, spec, emb), received="nothing")
        value = msg[client]
        if dataset.startswith(IMAGE_PREFIX):
            obs[dataset] = _image(client, value, spec.image_size)
        elif dataset == STATE:
            obs[dataset] = _state(client, value, spec.embodiments[emb].state_dim)
        else:
            obs[TASK] = [_prompt(client, value)]
    return Request(obs=obs, embodiment=emb, **_controls(msg))


def _expected(dataset: str, spec: InputSpec, emb: str) -> str:
    h, w = spec.image_size
    if dataset.startswith(IMAGE_PREFIX):
        return f"uint8 array of shape ({h}, {w}, 3) (HWC)"
    if dataset == STATE:
        return f"float array of shape ({spec.embodiments[emb].state_dim},)"
    return "str instruction"


def _image(key: str, v: Any, size: tuple[int, int]) -> torch.Tensor:
    h, w = size
    expected = f"uint8 array of shape ({h}, {w}, 3) (HWC, openpi's convention)"
    if not isinstance(v, np.ndarray) or v.dtype != np.uint8 or v.shape != (h, w, 3):
        hint = ""
        if isinstance(v, np.ndarray) and v.shape == (3, h, w):
            hint = "; the image looks CHW: send it as HWC (img.transpose(1, 2, 0))"
        elif isinstance(v, np.ndarray) and v.ndim == 3 and v.shape[2] == 3 and v.shape[:2] != (h, w):
            hint = f"; the policy was trained at {h}x{w}: resize on the client"
        raise ProtocolError(f"bad image for key {key!r}{hint}", key=key, expected=expected, received=describe(v))
    return torch.from_numpy(v.copy()).permute(2, 0, 1).unsqueeze(0).contiguous()  # (1, 3, H, W)


def _state(key: str, v: Any, dim: int) -> torch.Tensor:
    expected = f"float array of shape ({dim},)"
    if not isinstance(v, np.ndarray) or v.dtype.kind != "f" or v.shape != (dim,):
        raise ProtocolError(f"bad state for key {key!r}", key=key, expected=expected, received=describe(v))
    if not np.isfinite(v).all():
        bad = np.flatnonzero(~np.isfinite(v)).tolist()
        raise ProtocolError(f"state for key {key!r} has non-finite values at index {bad}", key=key,
                            expected=f"finite {expected}", received=f"{v.tolist()}")
    return torch.from_numpy(v.astype(np.float32)).unsqueeze(0)  # (1, Ds)


def _prompt(key: str, v: Any) -> str:
    if isinstance(v, bytes):
        try:
            v = v.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if not isinstance(v, str) or len(v) > MAX_PROMPT_CHARS:
        raise ProtocolError(f"bad prompt for key {key!r}", key=key,
                            expected=f"str of at most {MAX_PROMPT_CHARS} characters", received=describe(v))
    return v


def _embodiment(msg: dict, spec: InputSpec) -> str:
    v = msg.get(protocol.EMBODIMENT, spec.default_embodiment)
    if v is None:
        raise ProtocolError("this policy serves several embodiments: name one per request",
                            key=protocol.EMBODIMENT, expected=f"one of {sorted(spec.embodiments)}",
                            received="nothing")
    if not isinstance(v, str) or v not in spec.embodiments:
        raise ProtocolError("unknown embodiment", key=protocol.EMBODIMENT,
                            expected=f"one of {sorted(spec.embodiments)}", received=describe(v))
    return v


def _controls(msg: dict) -> dict:
    out: dict[str, Any] = {}
    for key in (protocol.RESET, protocol.INFER):
        if key in msg:
            if not isinstance(msg[key], (bool, np.bool_)):
                raise ProtocolError(f"control field {key!r} must be a bool", key=key, expected="bool",
                                    received=describe(msg[key]))
            out[key] = bool(msg[key])
    if protocol.SEED in msg:
        s = msg[protocol.SEED]
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) or not 0 <= int(s) < 2**63:
            raise ProtocolError("bad sampling seed", key=protocol.SEED, expected="int in [0, 2**63)",
                                received=describe(s))
        out["seed"] = int(s)
    if protocol.RNG_STATE in msg:
        r = msg[protocol.RNG_STATE]
        if not isinstance(r, np.ndarray) or r.dtype != np.uint8 or r.ndim != 1:
            raise ProtocolError("bad generator state", key=protocol.RNG_STATE,
                                expected="1-D uint8 array from torch.Generator.get_state()", received=describe(r))
        out["rng_state"] = r
    return out


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Concatenate per-connection (1, ...) observations into one (B, ...) batch."""
    out: dict[str, Any] = {}
    for k, v in items[0].items():
        if torch.is_tensor(v):
            out[k] = torch.cat([it[k] for it in items], dim=0)
        else:
            out[k] = [x for it in items for x in it[k]]
    return out


def nonfinite_summary(chunk: np.ndarray) -> str:
    steps, dims = np.nonzero(~np.isfinite(chunk))
    return f"{len(steps)} of {math.prod(chunk.shape)} values (steps {sorted(set(steps.tolist()))[:8]}, " \
           f"dims {sorted(set(dims.tolist()))})"
