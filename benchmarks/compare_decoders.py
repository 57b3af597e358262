"""PyAV against the OpenCV fallback of ``data/video.py`` on every video file of a dataset: frame numbers and pixels.

    python benchmarks/compare_decoders.py data/aloha_96 [--out benchmarks/results/decoders_aloha96.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from vlaforge.data.video import decode_all


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    fps = json.loads((a.root / "meta" / "info.json").read_text())["fps"]
    files = sorted((a.root / "videos").rglob("*.mp4"))
    if not files:
        raise SystemExit(f"no videos under {a.root / 'videos'}")
    frames = differing = 0
    max_diff = 0
    for f in files:
        ref, ref_numbers = decode_all(f, fps)
        sys.modules["av"] = None  # `import av` raises: decode_all takes the OpenCV path
        try:
            got, numbers = decode_all(f, fps)
        finally:
            del sys.modules["av"]
        if not np.array_equal(numbers, ref_numbers):
            raise SystemExit(f"{f}: frame numbers differ between PyAV and OpenCV")
        d = np.abs(got.astype(np.int16) - ref.astype(np.int16)).reshape(len(ref), -1).max(axis=1)  # (N,)
        frames += len(ref)
        differing += int((d > 0).sum())
        max_diff = max(max_diff, int(d.max()))
    result = {"dataset": str(a.root), "files": len(files), "frames": frames, "frames_differing": differing,
              "max_abs_pixel_diff": max_diff, "date": time.strftime("%Y-%m-%d %H:%M"),
              "command": "python benchmarks/compare_decoders.py " + " ".join(argv or sys.argv[1:])}
    print(json.dumps(result))
    if a.out:
        a.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
