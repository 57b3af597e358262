"""openpi's wire format: msgpack frames with numpy arrays as ``{b"__ndarray__": True, b"data",
b"dtype", b"shape"}`` maps (and scalars as ``b"__npgeneric__"``), so ``openpi-client`` talks to
vlaforge unchanged.

Session: on connect the server sends its metadata (one binary frame); then each binary frame
from the client is an observation map, answered by ``{"actions": (H, D) float32,
"server_timing": {...}}``. Errors are *text* frames, as openpi's server sends them (its client
raises ``RuntimeError`` on a ``str``). Ours hold a JSON object ``{"error", "message", "key",
"expected", "received"}`` and, unlike openpi, leave the connection open for the next request.

Numpy + msgpack only: this module is imported by the torch-free client.
"""

from __future__ import annotations

import json
import math
from typing import Any

import msgpack
import numpy as np

from vlaforge.core.errors import BatchError

# Client keys (openpi's LIBERO/DROID convention) and optional per-request control fields.
IMAGE = "observation/image"
WRIST_IMAGE = "observation/wrist_image"
STATE = "observation/state"
PROMPT = "prompt"
EMBODIMENT = "embodiment"
RESET = "reset"
"""bool: clear this connection's observation history before this observation (episode start)."""
SEED = "seed"
"""int: seed this connection's sampling generator (kept for later requests until re-seeded)."""
RNG_STATE = "rng_state"
"""uint8 array: a torch CPU generator state to sample with; the reply returns the advanced state."""
INFER = "infer"
"""bool, default True: False only records the observation in the history (no inference)."""
CONTROL_KEYS = (RESET, SEED, RNG_STATE, INFER)

_ARRAY_KINDS = "biuf"  # bool, int, uint, float: never object, void or complex (openpi refuses those too)


class ProtocolError(BatchError):
    """A request the server cannot use. Names the key, what was expected and what arrived."""

    def __init__(self, message: str, key: str | None = None, expected: str | None = None,
                 received: str | None = None, kind: str = "bad_request") -> None:
        super().__init__(message, key, expected, received)
        self.kind = kind

    def to_text(self) -> str:
        """The text frame sent back: JSON, readable as is in openpi-client's RuntimeError."""
        body = {"error": self.kind, "message": self.message, "key": self.key,
                "expected": self.expected, "received": self.received}
        return json.dumps(body)


class ServerError(RuntimeError):
    """Raised by the client when the server answers with an error frame."""

    def __init__(self, text: str) -> None:
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {"error": "server_error", "message": text}
        self.kind = body.get("error")
        self.key, self.expected, self.received = body.get("key"), body.get("expected"), body.get("received")
        detail = "".join(f"; {n} {v}" for n, v in (("expected", self.expected), ("received", self.received)) if v)
        super().__init__(f"policy server error ({self.kind}): {body.get('message')}{detail}")


# ---- encoding -------------------------------------------------------------------------------
def _encode(obj: Any) -> Any:
    if isinstance(obj, (np.ndarray, np.generic)) and obj.dtype.kind not in _ARRAY_KINDS:
        raise TypeError(f"cannot send numpy dtype {obj.dtype}: use bool, int, uint or float arrays")
    if isinstance(obj, np.ndarray):
        obj = np.ascontiguousarray(obj)
        return {b"__ndarray__": True, b"data": obj.tobytes(), b"dtype": obj.dtype.str, b"shape": obj.shape}
    if isinstance(obj, np.generic):
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    raise TypeError(f"cannot msgpack-encode {type(obj).__name__}; send numpy arrays, numbers, str, lists, dicts")


def packb(obj: Any) -> bytes:
    """msgpack with openpi's numpy encoding."""
    return msgpack.packb(obj, default=_encode, use_bin_type=True)


# ---- decoding -------------------------------------------------------------------------------
def _decode(obj: dict) -> Any:
    if b"__ndarray__" in obj:
        return _decode_array(obj)
    if b"__npgeneric__" in obj:
        dtype = _dtype(obj.get(b"dtype"))
        try:
            return dtype.type(obj.get(b"data"))
        except (TypeError, ValueError, OverflowError) as e:
            raise ProtocolError(f"numpy scalar of dtype {dtype} could not be decoded: {e}") from None
    return obj


def _dtype(code: Any) -> np.dtype:
    if isinstance(code, bytes):
        code = code.decode("ascii", "replace")
    try:
        dtype = np.dtype(code) if isinstance(code, str) else None
    except (TypeError, ValueError):
        dtype = None
    if dtype is None or dtype.kind not in _ARRAY_KINDS:
        raise ProtocolError("numpy array has an unsupported dtype", expected="a bool/int/uint/float dtype "
                            "string such as '<f4' or '|u1'", received=repr(code)[:80])
    return dtype


def _decode_array(obj: dict) -> np.ndarray:
    dtype, data, shape = _dtype(obj.get(b"dtype")), obj.get(b"data"), obj.get(b"shape")
    if not isinstance(shape, (list, tuple)) or not all(isinstance(n, int) and 0 <= n for n in shape) \
            or len(shape) > 8:
        raise ProtocolError("numpy array has an invalid shape", expected="a list of at most 8 non-negative ints",
                            received=repr(shape)[:80])
    if not isinstance(data, bytes):
        raise ProtocolError("numpy array data must be msgpack bin", expected="bytes",
                            received=type(data).__name__)
    if math.prod(shape) * dtype.itemsize != len(data):
        raise ProtocolError("numpy array data length does not match its shape and dtype",
                            expected=f"{math.prod(shape) * dtype.itemsize} bytes for {dtype} {tuple(shape)}",
                            received=f"{len(data)} bytes")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def unpackb(data: bytes) -> Any:
    """Decode one frame; any malformed input becomes a ``ProtocolError`` (never another exception)."""
    try:
        return msgpack.unpackb(data, object_hook=_decode, raw=False, strict_map_key=False)
    except ProtocolError:
        raise
    except Exception as e:  # msgpack raises ExtraData, StackError, FormatError, ValueError, ...
        raise ProtocolError(f"message is not valid msgpack ({type(e).__name__}: {str(e)[:120]})",
                            expected="one msgpack map (openpi encoding)", received=f"{len(data)} bytes",
                            kind="bad_msgpack") from None


def describe(value: Any) -> str:
    """Short description of what arrived, for error messages."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {tuple(value.shape)}"
    if isinstance(value, str):
        return f"str of length {len(value)}"
    if isinstance(value, (list, tuple, dict, bytes)):
        return f"{type(value).__name__} of length {len(value)}"
    return f"{type(value).__name__} {repr(value)[:40]}"
