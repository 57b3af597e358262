"""MP4 encode and frame-accurate decode with PyAV.

Frames of one file share one constant-rate stream (pts = frame number, time base
1/fps), so the frame at video time ``t`` is number ``round(t * fps)``. B-frames are
off, so decoded pts start at 0 and match LeRobot's ``from_timestamp + timestamp``
addressing exactly.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from vlaforge.data.errors import CorruptFileError, MissingFileError, remedy

# Our codec names -> PyAV encoder names, best first. LeRobot decodes all of them.
_ENCODERS = {"h264": ("libx264",), "av1": ("libsvtav1", "libaom-av1"), "mpeg4": ("mpeg4",)}


def pick_encoder(codec: str) -> str:
    """Return the PyAV encoder for ``codec``; fall back to AV1 when the wheel lacks x264."""
    import av

    available = av.codecs_available
    if codec not in _ENCODERS:
        raise ValueError(f"video codec {codec!r} is not supported; use one of {sorted(_ENCODERS)}")
    for name in _ENCODERS[codec] + _ENCODERS["av1"]:
        if name in available:
            return name
    raise RuntimeError(f"this PyAV build has none of the encoders {_ENCODERS[codec]}; install the `av` wheel "
                       "from PyPI, which bundles libx264 and SVT-AV1")


def video_info(codec: str, height: int, width: int, fps: int) -> dict:
    """LeRobot's per-feature ``info`` block for a video feature in info.json."""
    name = {"libx264": "h264", "libsvtav1": "av1", "libaom-av1": "av1"}.get(pick_encoder(codec), codec)
    return {"video.height": height, "video.width": width, "video.codec": name, "video.pix_fmt": "yuv420p",
            "video.is_depth_map": False, "video.fps": fps, "video.channels": 3, "has_audio": False}


def _encoder_options(encoder: str, crf: int, gop: int) -> dict[str, str]:
    if encoder == "libx264":
        return {"crf": str(crf), "preset": "fast", "g": str(gop), "bf": "0", "threads": "1"}
    if encoder == "libsvtav1":
        return {"crf": str(crf + 10), "g": str(gop), "preset": "10"}
    if encoder == "libaom-av1":
        return {"crf": str(crf + 10), "g": str(gop), "cpu-used": "8"}
    return {"qscale": "2", "g": str(gop)}


class VideoEncoder:
    """Appends RGB frames to one MP4, streaming (nothing but the encoder state is held).

    Writes to ``path`` directly; callers write to a temporary name and rename on close.
    """

    def __init__(self, path: str | os.PathLike, fps: int, height: int, width: int,
                 codec: str = "h264", crf: int = 18, gop: int = 16) -> None:
        import av

        if height % 2 or width % 2:
            raise ValueError(f"yuv420p video needs even image sizes, got {height}x{width}; resize the frames")
        self.path = Path(path)
        self.encoder = pick_encoder(codec)
        self.fps, self.height, self.width = int(fps), height, width
        self._container = av.open(str(self.path), mode="w", format="mp4")
        self._stream = self._container.add_stream(self.encoder, rate=self.fps,
                                                  options=_encoder_options(self.encoder, crf, gop))
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.time_base = Fraction(1, self.fps)
        self.n_frames = 0

    def write(self, frames: np.ndarray) -> None:
        """frames: uint8 (T, H, W, 3)."""
        import av

        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != (self.height, self.width, 3):
            raise ValueError(f"video frames must be uint8 (T, {self.height}, {self.width}, 3), "
                             f"got {frames.dtype} {tuple(frames.shape)}")
        for img in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            vf.pts = self.n_frames
            vf.time_base = Fraction(1, self.fps)
            self._container.mux(self._stream.encode(vf))
            self.n_frames += 1

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        self._container.mux(self._stream.encode(None))
        self._container.close()

    def abort(self) -> None:
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - the file is discarded anyway
            pass


def _require_file(path: Path) -> None:
    if not path.is_file():
        fix = remedy(path, "Re-run the collection (or copy the file back)",
                     "Copy the file back, or download or export the dataset again")
        raise MissingFileError(f"video file {path} does not exist; the dataset is incomplete. {fix}")


def _open(path: Path):
    import av

    _require_file(path)
    try:
        return av.open(str(path))
    except av.error.FFmpegError as e:
        raise CorruptFileError(f"video file {path} cannot be opened ({e}); it is truncated or not an MP4. "
                               f"{remedy(path)}") from e


def _video_stream(container, path: Path):
    """The first video stream; a file cut short can open yet hold none (its moov atom comes first)."""
    if not container.streams.video:
        raise CorruptFileError(f"video file {path} holds no video stream; it is truncated or not a video. "
                               f"{remedy(path)}")
    return container.streams.video[0]


def decode_all(path: str | os.PathLike, fps: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode every frame: (uint8 (N, H, W, 3), frame numbers (N,) = round(pts_seconds * fps)).

    Uses PyAV; where PyAV is not installed but OpenCV is (e.g. a GPU image that ships opencv-python-headless
    and cannot take the 35 MB av wheel along), OpenCV's FFmpeg decodes instead (``_decode_all_cv2``).
    """
    try:
        import av
    except ImportError:
        return _decode_all_cv2(Path(path), fps)

    from av.video.reformatter import VideoReformatter

    path = Path(path)
    frames, numbers = [], []
    rgb = VideoReformatter()  # one reformatter for all frames: 10x faster than frame.to_ndarray(format=...)
    with _open(path) as container:
        stream = _video_stream(container, path)
        try:
            for f in container.decode(stream):
                frames.append(rgb.reformat(f, format="rgb24").to_ndarray())
                numbers.append(round(float(f.time) * fps))
        except av.error.FFmpegError as e:
            raise CorruptFileError(f"video file {path} is corrupt after {len(frames)} frames ({e}). "
                                   f"{remedy(path)}") from e
    if not frames:
        raise CorruptFileError(f"video file {path} holds no decodable frame. {remedy(path)}")
    return np.stack(frames), np.asarray(numbers, dtype=np.int64)


def _decode_all_cv2(path: Path, fps: int) -> tuple[np.ndarray, np.ndarray]:
    """``decode_all`` through OpenCV (the same FFmpeg h264 decoder; the YUV -> RGB conversion may differ from
    PyAV's by a level or two per channel). Raises an ImportError that names both fixes if OpenCV is missing too."""
    try:
        import cv2
    except ImportError as e:
        raise ImportError("decoding videos needs PyAV (`pip install av`) or OpenCV "
                          "(`pip install opencv-python-headless`); neither is installed") from e
    _require_file(path)
    cap = cv2.VideoCapture(str(path))
    frames, numbers = [], []
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            numbers.append(round(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 * fps))
            frames.append(bgr[:, :, ::-1])  # BGR -> RGB
    finally:
        cap.release()
    if not frames:
        raise CorruptFileError(f"video file {path} holds no frame OpenCV can decode. {remedy(path)}")
    return np.stack(frames), np.asarray(numbers, dtype=np.int64)  # np.stack copies: contiguous RGB


def decode_frames(path: str | os.PathLike, frame_numbers: np.ndarray, fps: int) -> np.ndarray:
    """Decode just the frames ``frame_numbers`` (positions in the file) -> uint8 (K, H, W, 3).

    Seeks to the keyframe before the first wanted frame and decodes forward, so the
    cost is one GOP plus the span asked for. Used when no frame cache is wanted.
    """
    import av
    from av.video.reformatter import VideoReformatter

    path = Path(path)
    want = np.asarray(frame_numbers, dtype=np.int64)
    lo, hi, wanted = int(want.min()), int(want.max()), set(want.tolist())
    got: dict[int, np.ndarray] = {}
    rgb = VideoReformatter()
    with _open(path) as container:
        stream = _video_stream(container, path)
        container.seek(int(lo / fps / stream.time_base), stream=stream, backward=True, any_frame=False)
        try:
            for f in container.decode(stream):
                n = round(float(f.time) * fps)
                if n in wanted:
                    got[n] = rgb.reformat(f, format="rgb24").to_ndarray()
                if n >= hi:
                    break
        except av.error.FFmpegError as e:
            raise CorruptFileError(f"video file {path} is corrupt near frame {lo} ({e}). {remedy(path)}") from e
    missing = sorted(set(want.tolist()) - set(got))
    if missing:
        raise CorruptFileError(f"video file {path} lacks frame(s) {missing[:5]} (of {len(want)} asked); it is "
                               f"truncated or its timestamps disagree with meta/episodes. {remedy(path)}")
    return np.stack([got[int(n)] for n in want])
