"""Does LeRobot's own loader read a dataset that vlaforge writes? Prints PASS or FAIL.

Writes a small LeRobot v3.0 dataset with ``LeRobotDatasetWriter`` (this interpreter,
vlaforge's .venv), then runs benchmarks/lerobot_compat_probe.py in a second
interpreter where the ``lerobot`` package is importable. The probe loads the dataset
with ``lerobot.datasets.lerobot_dataset.LeRobotDataset`` (local root, hub offline,
"pyav" video backend, plus "torchcodec" when installed) and checks length, features, episode boundaries, task strings,
exact state/action values, timestamps, decoded frames, a 2-frame history with a
16-step action chunk (delta_timestamps), an episode subset and a DataLoader batch.
LeRobot cannot be installed beside torch 2.13 in .venv; build its interpreter with
benchmarks/setup_lerobot_venv.sh. Writes benchmarks/results/lerobot_compat.json.

    bash benchmarks/setup_lerobot_venv.sh /tmp/lerobot-venv
    .venv/bin/python benchmarks/check_lerobot_compat.py --lerobot-python /tmp/lerobot-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from vlaforge.data.cache import load_frame_cache
from vlaforge.data.lerobot import LeRobotDatasetWriter, load_meta, read_frames

HERE = Path(__file__).parent
PROBE = HERE / "lerobot_compat_probe.py"
RESULTS = HERE / "results" / "lerobot_compat.json"
CAMERAS = ("corner2", "gripperPOV")
TASKS = ("push the puck to the goal", "open the drawer")


def moving_frames(t: int, seed: int, size: int) -> np.ndarray:
    """A blob that moves over gradients: codec-friendly, and every frame differs from its neighbours."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    k = np.arange(t, dtype=np.float32)[:, None, None]
    cx, cy = size / 2 + size / 3 * np.sin(k / 3 + seed), size / 2 + size / 3 * np.cos(k / 4 + seed)
    blob = 255 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (size * 1.5))  # (T, size, size)
    grad = np.broadcast_to(xx * (200 / size) + 20, blob.shape)
    wave = 128 + 90 * np.cos((xx + yy) / 9 + seed - k / 5)
    return np.stack([blob, grad, wave], -1).clip(0, 255).astype(np.uint8)  # (T, H, W, 3)


def write_dataset(root: Path, episodes: int, length: int, size: int, fps: int) -> dict[str, np.ndarray]:
    """Write with vlaforge's writer; return what LeRobot must give back (expected.npz contents)."""
    rng = np.random.default_rng(0)
    eps = []
    with LeRobotDatasetWriter(root, fps=fps, robot_type="metaworld_sawyer", cameras=CAMERAS,
                              image_size=(size, size), episodes_per_file=2, overwrite=True) as w:
        for e in range(episodes):
            ep = {f"observation.images.{c}": moving_frames(length, 3 * e + i, size) for i, c in enumerate(CAMERAS)}
            ep["observation.state"] = rng.normal(size=(length, 4)).astype(np.float32)
            ep["action"] = rng.uniform(-1, 1, size=(length, 4)).astype(np.float32)
            w.add_episode(ep, task=TASKS[e % len(TASKS)], extra={"seed": e})
            eps.append(ep)
    meta = load_meta(root)
    data = read_frames(meta)
    with tempfile.TemporaryDirectory() as cache:
        ours = load_frame_cache(meta, meta.camera_keys, data["timestamp"], cache_root=cache)
        ours_decoded = np.stack([np.asarray(ours[k]) for k in meta.camera_keys])  # (C, N, 3, H, W)
    return {
        "fps": np.int64(fps), "robot_type": np.str_("metaworld_sawyer"), "n_episodes": np.int64(episodes),
        "lengths": np.full(episodes, length, np.int64), "camera_keys": np.array(meta.camera_keys),
        "image_shape": np.array([size, size, 3]),
        "episode_task": np.array([TASKS[e % len(TASKS)] for e in range(episodes)]),
        "state": np.concatenate([e["observation.state"] for e in eps]),
        "action": np.concatenate([e["action"] for e in eps]),
        "episode_index": np.repeat(np.arange(episodes), length), "frame_index": np.tile(np.arange(length), episodes),
        "images": np.stack([np.concatenate([e[f"observation.images.{c}"] for e in eps]) for c in CAMERAS]),
        "ours_decoded": ours_decoded.astype(np.float32),
    }


def run_probe(python: str, root: Path, npz: Path, timeout: float) -> tuple[dict, str]:
    """Run the probe in LeRobot's interpreter; its last stdout line is the JSON verdict."""
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
           "HF_HOME": str(root.parent / "hf_home")}
    proc = subprocess.run([python, str(PROBE), str(root), str(npz)], capture_output=True, text=True,
                          timeout=timeout, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"passed": False, "checks": [{"name": "probe ran", "ok": False,
                                             "detail": f"exit {proc.returncode}: {proc.stderr[-2000:]}"}]}, proc.stderr
    return json.loads(lines[-1]), proc.stderr


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lerobot-python", required=True, help="interpreter with `lerobot` importable")
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--length", type=int, default=20)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--fps", type=int, default=80)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--keep", help="write the dataset here and keep it (default: a temp dir)")
    args = p.parse_args()
    if not Path(args.lerobot_python).exists():
        sys.exit(f"--lerobot-python {args.lerobot_python} does not exist; build it with "
                 "`bash benchmarks/setup_lerobot_venv.sh /tmp/lerobot-venv`")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep) if args.keep else Path(tmp) / "vlaforge_compat"
        npz = Path(tmp) / "expected.npz"
        t0 = time.perf_counter()
        np.savez(npz, **write_dataset(root, args.episodes, args.length, args.size, args.fps))
        t_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        verdict, stderr = run_probe(args.lerobot_python, root, npz, args.timeout)
        t_probe = time.perf_counter() - t0
    report(verdict, stderr, args, t_write, t_probe)
    return 0 if verdict.get("passed") else 1


def report(verdict: dict, stderr: str, args: argparse.Namespace, t_write: float, t_probe: float) -> None:
    for c in verdict["checks"]:
        print(f"  {'ok  ' if c['ok'] else 'FAIL'} {c['name']}: {c['detail']}")
    if "traceback" in verdict:
        print(verdict["traceback"])
    n_ok = sum(c["ok"] for c in verdict["checks"])
    print(f"{'PASS' if verdict.get('passed') else 'FAIL'}: {n_ok}/{len(verdict['checks'])} checks, "
          f"lerobot {verdict.get('lerobot_version')}, video backends {verdict.get('video_backends')}, "
          f"stubbed {verdict.get('stubbed') or 'nothing'}")
    result = {
        "benchmark": "lerobot_compat", "passed": bool(verdict.get("passed")),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"2-core CPU, no GPU ({platform.machine()}, Python {platform.python_version()})",
        "command": ".venv/bin/python benchmarks/check_lerobot_compat.py " + " ".join(sys.argv[1:]),
        "dataset": {"episodes": args.episodes, "length": args.length, "image": [args.size, args.size],
                    "cameras": list(CAMERAS), "fps": args.fps, "robot_type": "metaworld_sawyer"},
        "lerobot_version": verdict.get("lerobot_version"), "versions": verdict.get("versions"),
        "video_backends": verdict.get("video_backends"), "stubbed": verdict.get("stubbed"),
        "max_image_mean_abs_err_255_by_backend": verdict.get("max_image_err"),
        "seconds": {"write": round(t_write, 2), "lerobot_load_and_checks": round(t_probe, 2)},
        "checks": verdict["checks"], "traceback": verdict.get("traceback"),
        "stderr_tail": stderr[-3000:] if not verdict.get("passed") else None,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
