"""benchmarks/ckpt_transport.py: a checkpoint through size-capped parts as float16 and back to float32."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from tests.benchmarks.conftest import load_benchmark

ckpt_transport = load_benchmark("ckpt_transport")


def _run(tmp_path: Path) -> tuple[Path, dict]:
    run = tmp_path / "run"
    step = run / "checkpoints" / "step_000005"
    (step / "assets").mkdir(parents=True)
    weights = {"w": torch.randn(300, 200), "big": torch.tensor([1e6, -3.0]),
               "count": torch.tensor([7], dtype=torch.int64)}
    save_file(weights, str(step / "model.safetensors"))
    (step / "config.json").write_text('{"family": "bc"}')
    (step / "assets" / "tok.json").write_text("{}")
    (step / "train_state.pt").write_bytes(b"x" * 1000)
    (run / "checkpoints" / "last").symlink_to("step_000005")
    (run / "metrics.jsonl").write_text('{"step": 5}\n')
    return run, weights


def test_round_trip_in_parts(tmp_path):
    run, weights = _run(tmp_path)
    parts = ckpt_transport.pack(run, tmp_path / "out", "m", part_mb=0.05)  # ~130 KB of fp16: several parts
    assert len(parts) > 1 and all(p.stat().st_size <= 0.05 * 2**20 for p in parts)
    ckpt = ckpt_transport.unpack(tmp_path / "out", "m", tmp_path / "back")
    got = load_file(str(ckpt / "model.safetensors"))
    assert got["w"].dtype == torch.float32
    torch.testing.assert_close(got["w"], weights["w"], rtol=1e-3, atol=1e-3)  # float16 rounding only
    assert torch.equal(got["big"], weights["big"]) and torch.equal(got["count"], weights["count"])  # kept exactly
    assert (ckpt / "config.json").read_text() == '{"family": "bc"}' and (ckpt / "assets" / "tok.json").is_file()
    assert not (ckpt / "train_state.pt").exists() and not (ckpt / "model.fp16.safetensors").exists()
    assert (tmp_path / "back" / "checkpoints" / "last").resolve() == ckpt.resolve()
    assert (tmp_path / "back" / "metrics.jsonl").is_file()
    note = json.loads((ckpt / "transport.json").read_text())
    assert 0 < note["max_rel_err"] < 1e-3 and note["kept_float32"] == ["big"]
