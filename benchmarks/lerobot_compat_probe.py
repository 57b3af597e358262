"""Runs INSIDE an interpreter where LeRobot is importable (not vlaforge's .venv).

Loads a dataset that vlaforge wrote with LeRobot's own ``LeRobotDataset`` and
compares what LeRobot returns with what vlaforge was given (``expected.npz``).
Driven by benchmarks/check_lerobot_compat.py; prints one JSON object on its last
stdout line. Imports nothing from vlaforge, so the verdict is LeRobot's reading alone.

    <lerobot-python> benchmarks/lerobot_compat_probe.py DATASET_ROOT EXPECTED_NPZ

Video is decoded with LeRobot's "pyav" backend, and also with "torchcodec" (its
default on Linux) when torchcodec and FFmpeg's shared libraries are installed.
Where torchvision is missing (no CPU build beside torch 2.13), a stand-in module is
installed first. LeRobot 0.4.x needs torchvision for two things only on this path:
``transforms.ToTensor`` (image datasets, unused here) and the "pyav" video backend's
``torchvision.io.VideoReader``; the stand-in reproduces torchvision's pyav-backend
VideoReader (open, keyframe seek, decode to (3, H, W) uint8 with pts in seconds).
Everything else (metadata, parquet via ``datasets``, timestamp arithmetic, tolerance
checks, delta_timestamps padding) is LeRobot's code.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import sys
import traceback
import types

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

CHECKS: list[dict] = []
PREFIX = {"now": ""}
"""Prepended to check names: the video backend under test."""


def check(name: str, ok: bool, detail: str = "") -> bool:
    CHECKS.append({"name": PREFIX["now"] + name, "ok": bool(ok), "detail": detail})
    return bool(ok)


# ---------------------------------------------------------------------------- torchvision stand-in
def _video_reader_class():
    """torchvision.io.VideoReader, pyav backend only: same seek and frame semantics."""
    import av
    import torch

    class VideoReader:
        def __init__(self, src: str, stream: str = "video", num_threads: int = 0) -> None:
            self.container = av.open(src, metadata_errors="ignore")
            kind, _, sid = stream.partition(":")
            self.pyav_stream = {kind: int(sid or 0)}
            self._c = self.container.decode(**self.pyav_stream)

        def __iter__(self):
            return self

        def __next__(self) -> dict:
            try:
                frame = next(self._c)
            except av.error.EOFError:
                raise StopIteration from None
            pts = float(frame.pts * frame.time_base)
            data = torch.as_tensor(frame.to_rgb().to_ndarray()).permute(2, 0, 1)  # (3, H, W)
            return {"data": data, "pts": pts}

        def seek(self, time_s: float, keyframes_only: bool = False) -> "VideoReader":
            stream = self.container.streams.get(**self.pyav_stream)[0]
            offset = int(round(max(time_s, 0) / stream.time_base))
            self.container.seek(offset, backward=True, any_frame=False, stream=stream)
            self._c = self.container.decode(**self.pyav_stream)
            return self

    return VideoReader


def install_torchvision_stub() -> str | None:
    """Put a minimal ``torchvision`` in sys.modules when the real one is absent; returns what was stubbed."""
    if importlib.util.find_spec("torchvision") is not None:
        return None
    import numpy as np
    import torch

    class ToTensor:
        """PIL/ndarray HWC uint8 -> float (C, H, W) in [0, 1], as torchvision's."""

        def __call__(self, pic):
            a = np.asarray(pic)
            a = a[..., None] if a.ndim == 2 else a
            return torch.from_numpy(a.transpose(2, 0, 1).copy()).float().div(255)

    tv = types.ModuleType("torchvision")
    tv.__version__ = "0.0.0+vlaforge-stub"
    tv.__spec__ = importlib.machinery.ModuleSpec("torchvision", None)
    tv.transforms = types.ModuleType("torchvision.transforms")
    tv.transforms.ToTensor = ToTensor
    tv.io = types.ModuleType("torchvision.io")
    tv.io.VideoReader = _video_reader_class()
    backend = {"name": "pyav"}

    def set_video_backend(name: str) -> None:
        if name != "pyav":
            raise ValueError(f"stub torchvision supports only the 'pyav' video backend, not {name!r}")
        backend["name"] = name

    tv.set_video_backend = set_video_backend
    tv.get_video_backend = lambda: backend["name"]
    sys.modules.update({"torchvision": tv, "torchvision.transforms": tv.transforms, "torchvision.io": tv.io})
    return "torchvision (transforms.ToTensor, io.VideoReader[pyav], set_video_backend)"


# ---------------------------------------------------------------------------- checks
def check_metadata(ds, exp) -> None:
    import numpy as np

    meta = ds.meta
    fps = int(exp["fps"])
    n_eps, n_frames = int(exp["n_episodes"]), len(exp["action"])
    check("codebase_version", meta.info["codebase_version"] == "v3.0", meta.info["codebase_version"])
    check("len(dataset)", len(ds) == n_frames and ds.num_frames == n_frames, f"{len(ds)} vs {n_frames}")
    check("num_episodes", ds.num_episodes == n_eps and meta.total_episodes == n_eps, f"{ds.num_episodes}")
    check("fps", ds.fps == fps, f"{ds.fps}")
    check("robot_type", meta.robot_type == str(exp["robot_type"]), f"{meta.robot_type}")
    cams = [str(c) for c in exp["camera_keys"]]
    check("camera_keys", list(meta.camera_keys) == cams and list(meta.video_keys) == cams, f"{meta.camera_keys}")
    feats = meta.features
    shapes = {k: tuple(feats[k]["shape"]) for k in ("observation.state", "action", *cams)}
    want = {"observation.state": exp["state"].shape[1:], "action": exp["action"].shape[1:],
            **{c: tuple(exp["image_shape"]) for c in cams}}
    check("feature shapes", shapes == {k: tuple(v) for k, v in want.items()}, f"{shapes}")
    tasks = [str(t) for t in exp["episode_task"]]
    ep = meta.episodes
    check("episode table", list(ep["episode_index"]) == list(range(n_eps))
          and list(ep["length"]) == [int(x) for x in exp["lengths"]]
          and [list(t) for t in ep["tasks"]] == [[t] for t in tasks], f"lengths {list(ep['length'])}")
    starts = np.concatenate([[0], np.cumsum(exp["lengths"])[:-1]])
    check("episode boundaries", list(ep["dataset_from_index"]) == starts.tolist()
          and list(ep["dataset_to_index"]) == (starts + exp["lengths"]).tolist(),
          f"from {list(ep['dataset_from_index'])} to {list(ep['dataset_to_index'])}")
    check("tasks table", sorted(meta.tasks.index.tolist()) == sorted(set(tasks)), f"{meta.tasks.index.tolist()}")
    act_mean = np.asarray(meta.stats["action"]["mean"], dtype=np.float64)
    check("stats.json action mean", np.allclose(act_mean, exp["action"].astype(np.float64).mean(0), atol=1e-5),
          f"{act_mean.round(4).tolist()}")


def check_items(ds, exp, indices: list[int]) -> float:
    """Exact low-dim values, timestamps, task strings; images close to the source. Returns max image error."""
    import numpy as np

    fps, cams, worst = int(exp["fps"]), [str(c) for c in exp["camera_keys"]], 0.0
    for i in indices:
        item = ds[i]
        ok = (np.array_equal(item["observation.state"].numpy(), exp["state"][i])
              and np.array_equal(item["action"].numpy(), exp["action"][i]))
        check(f"item {i}: state/action exact", ok, f"state {item['observation.state'].tolist()}")
        fi, ep = int(exp["frame_index"][i]), int(exp["episode_index"][i])
        ok = (int(item["index"]) == i and int(item["episode_index"]) == ep and int(item["frame_index"]) == fi
              and abs(float(item["timestamp"]) - fi / fps) < 1e-6 and item["task"] == str(exp["episode_task"][ep]))
        check(f"item {i}: index/episode/frame/timestamp/task", ok,
              f"ep {int(item['episode_index'])} frame {int(item['frame_index'])} ts {float(item['timestamp']):.5f} "
              f"task {item['task']!r}")
        for c_i, c in enumerate(cams):
            img = item[c]
            want_shape = (3, *exp["image_shape"][:2])
            err = image_error(img.numpy(), exp["images"][c_i, i])
            ours = np.abs(img.numpy() * 255 - exp["ours_decoded"][c_i, i]).mean()
            worst = max(worst, err)
            check(f"item {i}: {c} frame", tuple(img.shape) == want_shape and img.dtype.is_floating_point
                  and 0 <= float(img.min()) and float(img.max()) <= 1 and err < 8 and ours < 1.0,
                  f"shape {tuple(img.shape)}, mean abs err vs source {err:.2f}/255, vs vlaforge decode {ours:.3f}")
    return worst


def image_error(chw01, hwc_u8) -> float:
    import numpy as np

    return float(np.abs(chw01.transpose(1, 2, 0) * 255 - hwc_u8.astype(np.float32)).mean())


def nearest_source(chw01, frames_hwc) -> int:
    """Which source frame a decoded frame is closest to (frame accuracy)."""
    import numpy as np

    return int(np.argmin([image_error(chw01, f) for f in frames_hwc]))


def check_delta_timestamps(repo_id: str, root: str, exp, video_backend: str) -> None:
    """2-frame history for images and state, 16-step action chunk, with padding at episode edges."""
    import numpy as np
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    fps, cams = int(exp["fps"]), [str(c) for c in exp["camera_keys"]]
    horizon, hist = 16, [-1 / fps, 0.0]
    delta = {**{c: hist for c in cams}, "observation.state": hist, "action": [k / fps for k in range(horizon)]}
    ds = LeRobotDataset(repo_id, root=root, delta_timestamps=delta, video_backend=video_backend)
    lengths, starts = exp["lengths"], np.concatenate([[0], np.cumsum(exp["lengths"])[:-1]])
    for ep in range(len(lengths)):
        first, last = int(starts[ep]), int(starts[ep] + lengths[ep] - 1)
        for i in (first, first + 1, last - 5):
            item = ds[i]
            fi = i - first
            prev = max(fi - 1, 0)
            want_state = exp["state"][[first + prev, i]]
            ok = (tuple(item["observation.state"].shape) == (2, exp["state"].shape[1])
                  and np.array_equal(item["observation.state"].numpy(), want_state)
                  and item["observation.state_is_pad"].tolist() == [fi == 0, False])
            check(f"delta ep{ep} item {i}: state history", ok, f"is_pad {item['observation.state_is_pad'].tolist()}")
            steps = np.minimum(np.arange(horizon) + fi, lengths[ep] - 1) + first  # clamped to the episode
            pad = (np.arange(horizon) + fi >= lengths[ep]).tolist()
            ok = (tuple(item["action"].shape) == (horizon, exp["action"].shape[1])
                  and np.array_equal(item["action"].numpy(), exp["action"][steps])
                  and item["action_is_pad"].tolist() == pad)
            check(f"delta ep{ep} item {i}: action chunk", ok, f"{sum(pad)} padded steps")
            for c_i, c in enumerate(cams):
                img = item[c]
                # nearest among ALL frames of the camera: a wrong episode offset shows up here
                got = [nearest_source(img[k].numpy(), exp["images"][c_i]) for k in range(2)]
                want = [first + prev, i]
                ok = tuple(img.shape) == (2, 3, *exp["image_shape"][:2]) and got == want \
                    and item[f"{c}_is_pad"].tolist() == [fi == 0, False]
                check(f"delta ep{ep} item {i}: {c} history", ok, f"decoded frames are source frames {got}, want {want}")


def check_subset_and_loader(repo_id: str, root: str, exp, video_backend: str) -> None:
    import numpy as np
    import torch
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ep = int(exp["n_episodes"]) - 1
    start = int(np.sum(exp["lengths"][:ep]))
    sub = LeRobotDataset(repo_id, root=root, episodes=[ep], video_backend=video_backend)
    item = sub[0]
    check("episodes=[last] subset", len(sub) == int(exp["lengths"][ep]) and int(item["index"]) == start
          and np.array_equal(item["action"].numpy(), exp["action"][start]),
          f"len {len(sub)}, first index {int(item['index'])}")
    full = LeRobotDataset(repo_id, root=root, video_backend=video_backend)
    batch = next(iter(torch.utils.data.DataLoader(full, batch_size=4, shuffle=False, num_workers=0)))
    cam = str(exp["camera_keys"][0])
    check("DataLoader batch", tuple(batch[cam].shape) == (4, 3, *exp["image_shape"][:2])
          and tuple(batch["action"].shape) == (4, exp["action"].shape[1]) and len(batch["task"]) == 4,
          f"{cam} {tuple(batch[cam].shape)}, action {tuple(batch['action'].shape)}")


def main() -> None:
    root, npz = sys.argv[1], sys.argv[2]
    out = {"stubbed": [], "checks": CHECKS}
    try:
        import numpy as np

        stub = install_torchvision_stub()
        out["stubbed"] = [stub] if stub else []
        import lerobot
        from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata

        out["lerobot_version"] = getattr(lerobot, "__version__", None) or _dist_version("lerobot")
        out["versions"] = {n: _dist_version(n) for n in ("torch", "datasets", "pandas", "pyarrow", "av",
                                                          "huggingface-hub", "numpy")}
        exp = dict(np.load(npz, allow_pickle=False))
        repo_id = "vlaforge/compat_check"
        meta = LeRobotDatasetMetadata(repo_id, root=root)
        check("LeRobotDatasetMetadata loads", meta.total_frames == len(exp["action"]), f"{meta.total_frames} frames")
        check_metadata(LeRobotDataset(repo_id, root=root, video_backend="pyav"), exp)
        # pyav always; torchcodec (LeRobot's default on Linux) where it is installed with FFmpeg libraries
        out["video_backends"] = ["pyav"] + (["torchcodec"] if importlib.util.find_spec("torchcodec") else [])
        out["max_image_err"] = {}
        for backend in out["video_backends"]:
            PREFIX["now"] = f"[{backend}] "
            ds = LeRobotDataset(repo_id, root=root, video_backend=backend)
            n, lengths = len(exp["action"]), exp["lengths"]
            edges = sorted({0, 1, int(lengths[0]) - 1, int(lengths[0]), n // 2, n - 1})
            out["max_image_err"][backend] = check_items(ds, exp, edges)
            check_delta_timestamps(repo_id, root, exp, backend)
            check_subset_and_loader(repo_id, root, exp, backend)
        PREFIX["now"] = ""
    except Exception as e:  # the verdict must come back as JSON, not a bare traceback
        check("no exception", False, f"{type(e).__name__}: {e}")
        out["traceback"] = traceback.format_exc()
    out["passed"] = bool(CHECKS) and all(c["ok"] for c in CHECKS)
    print(json.dumps(out, default=str))


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
