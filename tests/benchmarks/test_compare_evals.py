"""benchmarks/compare_evals.py: means with binomial standard errors, paired differences, pooled evaluations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.benchmarks.conftest import load_benchmark

compare_evals = load_benchmark("compare_evals")


def _write(path: Path, outcomes: dict[str, list[bool]], seed_start: int = 10_000) -> str:
    per_task = {t: {"success_rate": sum(o) / len(o), "n_episodes": len(o),
                    "episodes": [{"seed": seed_start + i, "success": s} for i, s in enumerate(o)]}
                for t, o in outcomes.items()}
    path.mkdir(parents=True)
    (path / "results.json").write_text(json.dumps({"per_task": per_task, "episodes_per_task": 4,
                                                   "seed_start": seed_start}))
    return str(path)


def test_mean_se_and_paired_difference(tmp_path):
    a = compare_evals.load(_write(tmp_path / "a", {"t1": [1, 1, 0, 0], "t2": [1, 1, 1, 1]}))
    b = compare_evals.load(_write(tmp_path / "b", {"t1": [1, 1, 1, 0], "t2": [1, 1, 1, 1]}))
    m, se = compare_evals.mean_and_se(a)
    assert m == pytest.approx(0.75)
    assert se == pytest.approx(math.sqrt(0.5 * 0.5 / 4) / 2)  # t2's rate 1.0 adds no variance
    d, dse, n = compare_evals.paired_difference(a, b)
    assert (d, n) == (pytest.approx(1 / 8), 8)  # one episode of eight turned into a success
    assert dse == pytest.approx(math.sqrt((1 - 1 / 8) ** 2 / 7 + 7 * (1 / 8) ** 2 / 7) / math.sqrt(8))
    text = compare_evals.table([a, b], ["a", "b"])
    assert "**75.0%**" in text and "**87.5%**" in text and "+12.5" in text


def test_pooling_and_clear_errors(tmp_path):
    p1 = _write(tmp_path / "p1", {"t1": [1, 0, 0, 0]})
    p2 = _write(tmp_path / "p2", {"t1": [1, 1, 1, 1]}, seed_start=20_000)
    pooled = compare_evals.load(f"{p1}+{p2}")
    assert pooled["per_task"]["t1"]["n_episodes"] == 8
    assert pooled["per_task"]["t1"]["success_rate"] == pytest.approx(5 / 8)
    with pytest.raises(SystemExit, match="share no"):  # different seeds: nothing to pair
        compare_evals.paired_difference(compare_evals.load(p1), compare_evals.load(p2))
    with pytest.raises(SystemExit, match="no results.json"):
        compare_evals.load(str(tmp_path / "missing"))


def test_training_seed_replicates_pair_replicate_by_replicate(tmp_path):
    # two training seeds of each recipe on the same episodes: '@' must keep both seeds' episodes (a plain '+' would
    # let the second overwrite the first in the pairing) and pair seed i of one with seed i of the other
    a0 = _write(tmp_path / "a0", {"t1": [1, 1, 0, 0]})
    a1 = _write(tmp_path / "a1", {"t1": [1, 1, 1, 1]})
    b0 = _write(tmp_path / "b0", {"t1": [1, 1, 1, 0]})
    b1 = _write(tmp_path / "b1", {"t1": [1, 1, 1, 1]})
    a, b = compare_evals.load(f"{a0}@{a1}"), compare_evals.load(f"{b0}@{b1}")
    assert a["per_task"]["t1"]["n_episodes"] == 8 and compare_evals.mean_and_se(a)[0] == pytest.approx(0.75)
    d, _, n = compare_evals.paired_difference(a, b)
    assert (d, n) == (pytest.approx(1 / 8), 8)  # seed 0 gains one episode of four, seed 1 none
    text = compare_evals.table([a, b], ["a", "b"])
    assert "| per training seed | 50.0 / 100.0 | 75.0 / 100.0 |" in text
    assert "| vs `a` per seed | — | +25.0 / +0.0 |" in text
    with pytest.raises(SystemExit, match="training seed"):  # two seeds against one: no silent half-pairing
        compare_evals.paired_difference(a, compare_evals.load(b0))
