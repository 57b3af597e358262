"""benchmarks/chunk_latency.py: checkpoints' batch-1 chunk latency, measured together in interleaved rounds."""

from __future__ import annotations

import json

from vlaforge.testing import make_dummy_checkpoint

from tests.benchmarks.conftest import load_benchmark


def test_latency_of_two_checkpoints_in_rounds(tmp_path):
    cl = load_benchmark("chunk_latency")
    a = make_dummy_checkpoint(tmp_path / "runs" / "a" / "checkpoints" / "step_1")
    b = make_dummy_checkpoint(tmp_path / "runs" / "b" / "checkpoints" / "step_1")
    out = tmp_path / "latency.json"
    assert cl.main([str(a), str(b), "--reps", "3", "--rounds", "2", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert set(res["chunk_ms"]) == {"a", "b"}  # named by run, from runs/TAG/checkpoints/step_N
    for v in res["chunk_ms"].values():
        assert len(v["rounds"]) == 2 and v["median"] > 0 and min(v["rounds"]) <= v["median"] <= max(v["rounds"])
    assert res["meta"]["reps"] == 3 and "chunk_latency.py" in res["meta"]["command"]
