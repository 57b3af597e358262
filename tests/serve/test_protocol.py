"""Wire format: openpi's numpy-in-msgpack encoding, both directions, and malformed frames."""

from __future__ import annotations

import functools
import json

import msgpack
import numpy as np
import pytest

from vlaforge.serve import protocol
from vlaforge.serve.protocol import ProtocolError, ServerError


# openpi-client's encoding, written out here (same wire format as openpi_client.msgpack_numpy).
def _openpi_pack_array(obj):
    if isinstance(obj, np.ndarray):
        return {b"__ndarray__": True, b"data": obj.tobytes(), b"dtype": obj.dtype.str, b"shape": obj.shape}
    if isinstance(obj, np.generic):
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    return obj


def _openpi_unpack_array(obj):
    if b"__ndarray__" in obj:
        return np.ndarray(buffer=obj[b"data"], dtype=np.dtype(obj[b"dtype"]), shape=obj[b"shape"])
    if b"__npgeneric__" in obj:
        return np.dtype(obj[b"dtype"]).type(obj[b"data"])
    return obj


openpi_packb = functools.partial(msgpack.packb, default=_openpi_pack_array)
openpi_unpackb = functools.partial(msgpack.unpackb, object_hook=_openpi_unpack_array)


def test_openpi_encoded_message_decodes():
    obs = {"observation/image": np.arange(48, dtype=np.uint8).reshape(4, 4, 3),
           "observation/state": np.array([0.5, -1.0], np.float32), "prompt": "pick", "n": np.int64(3)}
    out = protocol.unpackb(openpi_packb(obs))
    assert out["prompt"] == "pick" and out["n"] == 3 and isinstance(out["n"], np.int64)
    np.testing.assert_array_equal(out["observation/image"], obs["observation/image"])
    assert out["observation/state"].dtype == np.float32


def test_our_reply_decodes_with_openpi():
    reply = {"actions": np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32),
             "server_timing": {"infer_ms": 1.5}}
    out = openpi_unpackb(protocol.packb(reply))
    np.testing.assert_array_equal(out["actions"], reply["actions"])
    assert out["server_timing"]["infer_ms"] == 1.5


@pytest.mark.parametrize("bad", [
    {b"__ndarray__": True, b"data": b"\x00" * 8, b"dtype": "|O", b"shape": [1]},       # object dtype
    {b"__ndarray__": True, b"data": b"\x00" * 7, b"dtype": "<f4", b"shape": [2]},      # length mismatch
    {b"__ndarray__": True, b"data": b"\x00" * 8, b"dtype": "<f4", b"shape": [-2]},     # negative dim
    {b"__ndarray__": True, b"data": "text", b"dtype": "<f4", b"shape": [1]},           # data not bin
    {b"__ndarray__": True, b"data": b"", b"dtype": "nonsense", b"shape": [0]},         # bad dtype
    {b"__ndarray__": True, b"data": b"\x00" * 16, b"dtype": "<c8", b"shape": [2]},     # complex
])
def test_malformed_arrays_are_protocol_errors(bad):
    with pytest.raises(ProtocolError) as e:
        protocol.unpackb(msgpack.packb({"x": bad}))
    assert e.value.expected


@pytest.mark.parametrize("raw", [b"\xc1", msgpack.packb({"a": [1, 2, 3]})[:-2], b"\x91" * 5000, b"\x81\x80\x01"])
def test_non_msgpack_is_protocol_error(raw):
    with pytest.raises(ProtocolError) as e:
        protocol.unpackb(raw)
    assert e.value.kind == "bad_msgpack"


def test_error_frame_round_trip():
    err = ProtocolError("bad state", key="observation/state", expected="float (4,)", received="int64 (4,)")
    parsed = ServerError(err.to_text())
    assert (parsed.key, parsed.expected, parsed.received) == ("observation/state", "float (4,)", "int64 (4,)")
    assert "bad state" in str(parsed) and "expected float (4,)" in str(parsed)
    assert json.loads(err.to_text())["error"] == "bad_request"


def test_refuses_to_send_object_arrays():
    with pytest.raises(TypeError, match="dtype"):
        protocol.packb({"x": np.array([object()])})
