"""One error path for every command: library errors print a message and exit 2, no traceback."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from vlaforge.cli.main import main
from vlaforge.data.lerobot import LeRobotDatasetWriter

CAMS = ("corner2", "gripperPOV")




def write(root, finalize=True):
    w = LeRobotDatasetWriter(root, fps=80, robot_type="metaworld_sawyer", cameras=CAMS, image_size=(64, 64),
                             overwrite=True)
    rng = np.random.default_rng(0)
    for e in range(2):
        t = 12
        ep = {f"observation.images.{c}": rng.integers(0, 255, (t, 64, 64, 3), dtype=np.uint8) for c in CAMS}
        ep["observation.state"] = rng.normal(size=(t, 4)).astype(np.float32)
        ep["action"] = rng.uniform(-1, 1, (t, 4)).astype(np.float32)
        w.add_episode(ep, task=f"task {e}")
    if finalize:
        w.finalize()
    return root


def train(root, capsys, *extra):
    code = main(["train", "--recipe", "bc_tiny_mt10", "--data.roots", str(root), "--steps", "1",
                 "--time-budget-minutes", "1", "--out-dir", str(root) + "_run", "--no-progress", *extra])
    err = capsys.readouterr().err
    return code, err


def breakers():
    def missing_mp4(root):
        next((root / "videos").rglob("*.mp4")).unlink()

    def bad_version(root):
        info = json.loads((root / "meta/info.json").read_text())
        info["codebase_version"] = "v9.9"
        (root / "meta/info.json").write_text(json.dumps(info))

    def truncated_parquet(root):
        f = next((root / "data").rglob("*.parquet"))
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])

    return {"missing mp4": (missing_mp4, ".mp4"), "unknown codebase_version": (bad_version, "v9.9"),
            "truncated parquet": (truncated_parquet, ".parquet")}


@pytest.mark.parametrize("case", list(breakers()))
def test_train_on_a_broken_dataset_prints_the_problem_not_a_traceback(tmp_path, capsys, case):
    root = write(tmp_path / "ds")
    breaker, must_name = breakers()[case]
    breaker(root)
    code, err = train(root, capsys)
    assert code == 2, err
    assert err.startswith("error: ") and "Traceback (most recent" not in err and must_name in err, err


def test_missing_dir_and_killed_collection(tmp_path, capsys):
    code, err = train(tmp_path / "nope", capsys)
    assert code == 2 and "Traceback (most recent" not in err and "nope" in err, err
    root = write(tmp_path / "killed", finalize=False)
    code, err = train(root, capsys)
    assert code == 2 and "Traceback (most recent" not in err and "re-run" in err.lower(), err


def test_debug_flag_shows_the_traceback(tmp_path, capsys):
    from vlaforge.core.errors import VlaforgeError

    with pytest.raises(VlaforgeError):
        main(["--debug", "train", "--recipe", "bc_tiny_mt10", "--data.roots", str(tmp_path / "nope"),
              "--steps", "1"])


def test_eval_and_serve_use_the_same_path(tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    assert main(["eval", "--policy", str(ckpt), "--episodes-per-task", "1"]) == 2
    err = capsys.readouterr().err
    assert "norm_stats.json" in err and "Traceback (most recent" not in err
    assert main(["serve", "--checkpoint", str(ckpt)]) == 2
    assert "norm_stats.json" in capsys.readouterr().err
    assert main(["train", "--recipe", "bc_tiny_mtt10"]) == 2
    assert "Did you mean 'bc_tiny_mt10'" in capsys.readouterr().err


def test_copy_is_untouched(tmp_path):
    """Errors never delete what the user had: the broken dataset is still there afterwards."""
    root = write(tmp_path / "ds")
    shutil.copytree(root, tmp_path / "copy")
    assert sorted(p.name for p in root.rglob("*")) == sorted(p.name for p in (tmp_path / "copy").rglob("*"))
