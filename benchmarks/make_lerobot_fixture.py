"""Write the committed test fixture ``tests/data/fixtures/lerobot_v30_written/`` with LeRobot's OWN writer.

Runs INSIDE the LeRobot interpreter that ``benchmarks/setup_lerobot_venv.sh`` builds (not
vlaforge's .venv), and imports nothing from vlaforge: the dataset's layout is whatever
LeRobot 0.4.4 produces (``LeRobotDataset.create`` -> ``add_frame`` -> ``save_episode`` ->
``finalize``, default video codec), so our reader is tested against LeRobot's writer and
not against our own reading of its format.

    bash benchmarks/setup_lerobot_venv.sh /tmp/lerobot-venv
    /tmp/lerobot-venv/bin/python benchmarks/make_lerobot_fixture.py [--out tests/data/fixtures]

Content: robot "so100", 4-D float32 state and action, two cameras (top, wrist) stored as
video at 32x32, 3 episodes (12, 9, 15 frames) with 2 task strings, 10 fps. Everything is
seeded. Frames are smooth gradients whose red level steps by 8 per frame index, so a codec
keeps them close and a one-frame misalignment is obvious. The exact inputs go to
``lerobot_v30_written.truth.npz`` (arrays) and ``lerobot_v30_written.truth.json`` (metadata)
next to the dataset, so the test suite compares without LeRobot installed.

A second dataset, ``lerobot_v30_merged/``, is LeRobot's ``aggregate_datasets`` of the first
with itself (6 episodes; its truth is the first one's, twice): its tables come from LeRobot's
pandas-based tools (``DataFrame.to_parquet``: RangeIndex metadata, variable-length list
columns in the data) and its videos are stream-copy concatenations.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

NAME = "lerobot_v30_written"
MERGED = "lerobot_v30_merged"
ROBOT_TYPE = "so100"
FPS = 10
H = W = 32
LENGTHS = (12, 9, 15)
TASKS = ("pick up the red cube and place it in the bin", "open the top drawer")
EPISODE_TASK = (0, 1, 0)
CAMERAS = ("top", "wrist")
JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "gripper"]


def frame_image(cam: int, episode: int, k: int) -> np.ndarray:
    """uint8 (H, W, 3): red = 24 + 8k (+ a gentle x ramp), green a y ramp offset per
    episode and camera, blue a slow wave; all smooth, so AV1 reproduces it closely."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    r = 24 + 8 * k + xx * (16 / W)
    g = 40 + 50 * episode + 30 * cam + yy * (60 / H)
    b = 128 + 50 * np.sin((xx + yy) / 9 + 0.7 * episode + 1.3 * cam)
    return np.stack([r, g, b], -1).round().clip(0, 255).astype(np.uint8)


def episode_arrays(rng: np.random.Generator, length: int) -> tuple[np.ndarray, np.ndarray]:
    """state: a smooth random walk; action: the next state (last one repeated); float32."""
    steps = rng.normal(scale=0.05, size=(length, 4)).astype(np.float32)
    state = (rng.uniform(-1, 1, size=(1, 4)).astype(np.float32) + np.cumsum(steps, 0)).astype(np.float32)
    action = np.concatenate([state[1:], state[-1:]]).astype(np.float32)
    action[:, 3] = rng.uniform(0, 1, size=length).astype(np.float32)  # gripper command
    return state, action


def features() -> dict:
    feats = {
        "observation.state": {"dtype": "float32", "shape": (4,), "names": JOINTS},
        "action": {"dtype": "float32", "shape": (4,), "names": JOINTS},
    }
    for c in CAMERAS:
        feats[f"observation.images.{c}"] = {"dtype": "video", "shape": (H, W, 3),
                                            "names": ["height", "width", "channels"]}
    return feats


def write(out_dir: Path) -> "LeRobotDataset":  # noqa: F821 - imported inside (LeRobot's interpreter only)
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root = out_dir / NAME
    if root.exists():
        shutil.rmtree(root)
    ds = LeRobotDataset.create(repo_id=f"vlaforge/{NAME}", fps=FPS, features=features(), root=root,
                               robot_type=ROBOT_TYPE, use_videos=True)
    rng = np.random.default_rng(20240509)
    truth: dict[str, list] = {k: [] for k in ("state", "action", "episode_index", "frame_index", "task",
                                              *[f"observation.images.{c}" for c in CAMERAS])}
    for e, length in enumerate(LENGTHS):
        state, action = episode_arrays(rng, length)
        task = TASKS[EPISODE_TASK[e]]
        for k in range(length):
            frame = {"observation.state": state[k], "action": action[k], "task": task}
            for ci, c in enumerate(CAMERAS):
                frame[f"observation.images.{c}"] = frame_image(ci, e, k)
                truth[f"observation.images.{c}"].append(frame[f"observation.images.{c}"])
            ds.add_frame(frame)
            truth["episode_index"].append(e)
            truth["frame_index"].append(k)
            truth["task"].append(task)
        truth["state"].append(state)
        truth["action"].append(action)
        ds.save_episode(parallel_encoding=False)
    ds.finalize()
    _save_truth(out_dir, truth)
    return ds


def merge(out_dir: Path) -> Path:
    """LeRobot's own merge tool over two copies of the written dataset."""
    from lerobot.datasets.aggregate import aggregate_datasets

    root = out_dir / MERGED
    if root.exists():
        shutil.rmtree(root)
    src = out_dir / NAME
    aggregate_datasets([f"vlaforge/{NAME}", f"vlaforge/{NAME}-copy"], f"vlaforge/{MERGED}", roots=[src, src],
                       aggr_root=root)
    return root


def _save_truth(out_dir: Path, truth: dict) -> None:
    arrays = {
        "observation.state": np.concatenate(truth["state"]),  # (N, 4) float32
        "action": np.concatenate(truth["action"]),  # (N, 4) float32
        "episode_index": np.asarray(truth["episode_index"], np.int64),
        "frame_index": np.asarray(truth["frame_index"], np.int64),
        "task": np.asarray(truth["task"], dtype=str),  # (N,) unicode, loads without pickle
    }
    for c in CAMERAS:
        arrays[f"observation.images.{c}"] = np.stack(truth[f"observation.images.{c}"])  # (N, H, W, 3) uint8
    np.savez_compressed(out_dir / f"{NAME}.truth.npz", **arrays)


def _files(root: Path) -> dict[str, int]:
    for p in root.rglob("*"):
        if p.is_file():
            p.chmod(0o644)  # LeRobot moves videos out of mkstemp (mode 0600)
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}


def _provenance(out_dir: Path, ds) -> dict:
    import av
    import lerobot

    root = out_dir / NAME
    info = json.loads((root / "meta/info.json").read_text())
    written, merged = _files(root), _files(out_dir / MERGED)
    meta = {
        "written_by": f"lerobot {lerobot.__version__} LeRobotDataset.create/add_frame/save_episode/finalize",
        "pyav": av.__version__, "vcodec": ds.vcodec, "robot_type": ROBOT_TYPE, "fps": FPS,
        "image_size": [H, W], "cameras": [f"observation.images.{c}" for c in CAMERAS],
        "lengths": list(LENGTHS), "tasks": list(TASKS), "episode_tasks": [TASKS[i] for i in EPISODE_TASK],
        "video_codec_in_info": {k: f.get("info", {}).get("video.codec") for k, f in info["features"].items()
                                if f["dtype"] == "video"},
        "files": written, "total_bytes": sum(written.values()),
        "merged": {"made_by": f"lerobot.datasets.aggregate.aggregate_datasets([{NAME}, {NAME}])",
                   "files": merged, "total_bytes": sum(merged.values())},
        "command": "/tmp/lerobot-venv/bin/python benchmarks/make_lerobot_fixture.py",
    }
    (out_dir / f"{NAME}.truth.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests/data/fixtures",
                   help="directory that receives the dataset folder and its truth files")
    args = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from lerobot_compat_probe import install_torchvision_stub

    install_torchvision_stub()  # LeRobot imports torchvision; none exists beside torch 2.13 CPU
    args.out.mkdir(parents=True, exist_ok=True)
    ds = write(args.out)
    merge(args.out)
    meta = _provenance(args.out, ds)
    print(json.dumps({k: meta[k] for k in ("written_by", "vcodec", "video_codec_in_info", "total_bytes")}
                     | {"merged_bytes": meta["merged"]["total_bytes"]}))


if __name__ == "__main__":
    main()
