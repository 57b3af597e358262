"""The demo's pieces that need no simulator: dataset reuse check and the report folder."""

from pathlib import Path

from vlaforge.cli.demo import DemoConfig, dataset_complete, write_report
from vlaforge.sim.collect import CollectConfig
from vlaforge.train.trainer import TrainResult


def test_incomplete_or_missing_dataset_is_not_reused(tmp_path):
    want = CollectConfig(out=str(tmp_path / "data"), tasks="drawer-close", episodes_per_task=2)
    assert not dataset_complete(tmp_path / "data", want)
    (tmp_path / "data/meta").mkdir(parents=True)
    (tmp_path / "data/meta/collect_summary.json").write_text('{"tasks": ["drawer-close-v3"], "episodes": 2}')
    assert not dataset_complete(tmp_path / "data", want)  # no finalized LeRobot metadata


def test_report_links_table_curve_chart_and_videos(tmp_path):
    report = tmp_path / "report"
    video = report / "eval/videos/drawer-close-v3_seed10000.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"\x00")
    curve = tmp_path / "loss_curve.png"
    curve.write_bytes(b"png")
    results = {"seed_start": 10000, "max_steps": 500, "n_action_steps": 8, "mean_success": 0.5,
               "per_task": {"drawer-close-v3": {"success_rate": 0.5, "mean_length": 120.0, "n_episodes": 2,
                                                "episodes": [{"seed": 10000, "success": True, "video": str(video)},
                                                             {"seed": 10001, "success": False, "video": None}]}}}
    result = TrainResult(tmp_path, Path("ckpt"), 10, 60.0, 0.1, False, curve,
                         {"steps": 10, "train_seconds": 60.0, "samples_per_s": 5.0})
    readme = write_report(report, DemoConfig(out=str(tmp_path)), result, results, {"collect": 60, "train": 120})
    text = readme.read_text()
    assert "| drawer-close-v3 | 50% | 120 |" in text and "**50%**" in text
    assert "![loss curve](loss_curve.png)" in text and (report / "loss_curve.png").is_file()
    assert "(eval/videos/drawer-close-v3_seed10000.mp4)" in text and "eval/success.png" in text
