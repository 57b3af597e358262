"""The OpenCV fallback of ``decode_all`` (used where PyAV is missing, e.g. a GPU image with OpenCV only)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from vlaforge.data.video import VideoEncoder, decode_all

cv2 = pytest.importorskip("cv2")


def _video(tmp_path, n: int = 40, fps: int = 50):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, size=(1, 32, 48, 3), dtype=np.uint8)
    # Smooth, moving content (as rendered scenes are), so h264 at crf 18 is near lossless.
    frames = np.stack([np.roll(base[0], shift=i, axis=1) for i in range(n)])
    frames = np.clip(np.round(frames.astype(np.float32) * 0.5 + 64), 0, 255).astype(np.uint8)
    path = tmp_path / "v.mp4"
    enc = VideoEncoder(path, fps=fps, height=32, width=48)
    enc.write(frames)
    enc.close()
    return path, fps


def test_opencv_fallback_matches_pyav(tmp_path, monkeypatch):
    path, fps = _video(tmp_path)
    ref, ref_numbers = decode_all(path, fps)
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` now raises ImportError
    got, numbers = decode_all(path, fps)
    assert got.shape == ref.shape and got.dtype == np.uint8
    np.testing.assert_array_equal(numbers, ref_numbers)
    diff = np.abs(got.astype(np.int16) - ref.astype(np.int16))
    assert diff.mean() < 1.0 and diff.max() <= 8, (diff.mean(), diff.max())  # same decoder, RGB conversion may differ


def test_opencv_fallback_names_a_missing_file(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(Exception, match="does not exist"):
        decode_all(tmp_path / "missing.mp4", 50)
