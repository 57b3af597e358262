"""Shared fixtures: a tiny dummy checkpoint and a server on a free loopback port."""

from __future__ import annotations

from pathlib import Path

import pytest


from vlaforge.testing import make_dummy_checkpoint as make_checkpoint  # noqa: E402

from vlaforge.serve.server import ServerConfig, load_server  # noqa: E402




@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("serve") / "ckpt")


@pytest.fixture
def start_server():
    """``start_server(ckpt, **ServerConfig fields)`` -> a running server, stopped after the test."""
    servers = []

    def start(path: Path, overrides: dict | None = None, **cfg):
        srv = load_server(path, overrides, config=ServerConfig(port=0, **cfg)).start()
        servers.append(srv)
        return srv

    yield start
    for s in servers:
        s.stop()
