"""`vlaforge leaderboard`: which results.json files become rows, their order, and what the table says of each."""

import json

import pytest

from vlaforge.cli.leaderboard import main as leaderboard_main
from vlaforge.sim.leaderboard import collect_rows, markdown, rows_from_file, write_leaderboard
from vlaforge.sim.tasks import MT10

MACHINE = "Test CPU (family 6, model 1), 2 CPUs [avx2], torch threads 2, no GPU"


def _protocol_result(root, tag: str, success: float, family: str = "xvla", machine: str | None = MACHINE) -> None:
    per_task = {t: {"success_rate": success} for t in MT10}
    bench = {"tag": tag, "family": family, "command": f"python benchmarks/bench_mt10.py --tag {tag}",
             "date": "2026-12-05 04:00", "chunk_latency_ms": 8.8, "note": "a note",
             "train": {"steps": 1234, "n_params": 5_260_000, "samples_per_s": 244.1, "train_seconds": 2700.0,
                       "checkpoint": f"runs/bench/{tag}/checkpoints/last"}}
    if machine:
        bench["machine"] = machine
    d = root / "mt10" / tag
    d.mkdir(parents=True)
    (d / "results.json").write_text(json.dumps({"suite": "mt10", "mean_success": success, "n_action_steps": 8,
                                                "per_task": per_task, "benchmark": bench}))


def test_rows_sorted_by_mean_with_training_fields(tmp_path):
    _protocol_result(tmp_path, "low", 0.5)
    _protocol_result(tmp_path, "high", 0.8, family="bc", machine=None)
    rows = collect_rows(tmp_path)
    assert [r.name for r in rows] == ["high", "low"]
    low = rows[1]
    assert (low.family, low.steps, low.params_m, low.samples_per_s, low.train_minutes, low.chunk_ms) == \
        ("xvla", 1234, 5.26, 244.1, 45.0, 8.8)
    assert low.machine == MACHINE and rows[0].machine is None


def test_markdown_names_each_runs_machine_and_command(tmp_path):
    _protocol_result(tmp_path, "a", 0.78)
    _protocol_result(tmp_path, "b", 0.7, machine=None)
    text = markdown(collect_rows(tmp_path))
    line_a = next(ln for ln in text.splitlines() if ln.startswith("- `a`"))
    assert "python benchmarks/bench_mt10.py --tag a" in line_a and f"(2026-12-05 04:00, {MACHINE})" in line_a
    line_b = next(ln for ln in text.splitlines() if ln.startswith("- `b`"))
    assert "(2026-12-05 04:00)" in line_b  # an older result without the field: the date alone
    assert "| 1 | a | xvla | **78.0%** |" in text


def test_non_protocol_and_broken_files_give_no_rows(tmp_path):
    (tmp_path / "other.json").write_text("{}")
    bad = tmp_path / "x" / "results.json"
    bad.parent.mkdir()
    bad.write_text("{not json")
    assert rows_from_file(bad) == []
    aloha = tmp_path / "y" / "results.json"
    aloha.parent.mkdir()
    aloha.write_text(json.dumps({"suite": "aloha", "mean_success": 1.0, "per_task": {}, "benchmark": {"family": "bc"}}))
    assert rows_from_file(aloha) == []


def test_multi_variant_rows_take_the_lane_that_trained_them(tmp_path):
    """Each variant of a multi-lane ablation file gets its own lane's command, date and machine (the narrowest lane
    naming it, not a re-evaluation lane naming all); a lane without a machine falls back to the file's."""
    per_task = {t: 0.5 for t in MT10}
    lanes = {"a b": {"command": "bench --variants a b", "date": "d1", "machine": "CPU one"},
             "c": {"command": "bench --variants c", "date": "d2"},
             "a b c": {"command": "bench --foresight-only", "date": "d3", "machine": "CPU three"}}
    f = tmp_path / "ablation" / "results.json"
    f.parent.mkdir()
    f.write_text(json.dumps({"benchmark": {"family": "univla_ar", "machine": "file CPU"}, "lanes": lanes,
                             "policy": {v: {"mean_success": 0.5, "per_task": per_task} for v in "abc"}}))
    got = {r.name: (r.command, r.date, r.machine) for r in rows_from_file(f)}
    assert got == {"univla_ar_a": ("bench --variants a b", "d1", "CPU one"),
                   "univla_ar_b": ("bench --variants a b", "d1", "CPU one"),
                   "univla_ar_c": ("bench --variants c", "d2", "file CPU")}


def test_write_leaderboard_and_cli(tmp_path, capsys):
    _protocol_result(tmp_path, "a", 0.78)
    files = write_leaderboard(tmp_path)
    assert all(p.exists() for p in files.values())
    rows = json.loads(files["json"].read_text())
    assert rows[0]["name"] == "a" and rows[0]["machine"] == MACHINE
    out = tmp_path / "board"
    out.mkdir()
    assert leaderboard_main(["--results", str(tmp_path), "--out", str(out)]) == 0
    assert (out / "leaderboard.png").stat().st_size > 0
    assert "78.0" in capsys.readouterr().out


@pytest.mark.parametrize("flags, expect", [("fpu avx2 avx512f avx512_bf16 amx_bf16", ["amx_bf16", "avx512_bf16",
                                                                                        "avx512f", "avx2"]),
                                           ("fpu sse2", [])])
def test_cpu_model_reads_cpuinfo(tmp_path, flags, expect):
    from vlaforge.core.machine import cpu_model, describe_machine

    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\ncpu family\t: 6\nmodel\t\t: 167\nmodel name\t: Some Xeon\nflags\t\t: {flags}\n")
    assert cpu_model(info) == ("Some Xeon (family 6, model 167)", expect)
    assert cpu_model(tmp_path / "missing")[1] == []
    line = describe_machine(3)
    assert ", torch threads 3, " in line and (line.endswith(", no GPU") or ", GPU " in line)
