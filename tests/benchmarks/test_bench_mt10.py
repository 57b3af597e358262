"""benchmarks/bench_mt10.py: the protocol line a leaderboard row carries names the data the run trained on."""

from __future__ import annotations

from tests.benchmarks.conftest import load_benchmark

bench_mt10 = load_benchmark("bench_mt10")


def test_protocol_line_names_every_training_dataset_and_its_episodes():
    """A run on the demos plus DAgger rollouts must not read as '50 demos/task' (session 18's rows did)."""
    line = bench_mt10.protocol_line({"image_size": [96, 96], "cameras": ["corner2"]},
                                    {"data/mt10_64": 500, "data/mt10_64_dagger1": 200, "data/x": None})
    assert "data/mt10_64 (500 episodes) + data/mt10_64_dagger1 (200 episodes) + data/x (? episodes)" in line
    assert "corner2 96x96" in line and "50 demos/task" not in line
