"""Rollout videos as one picture: a row of frames per video at the same steps, labelled.

    python benchmarks/rollout_strip.py --video LABEL=PATH.mp4 [--video ...] --frames 0,75,150,225,300,399 --out PNG

The evaluation runner writes one video per task (every camera side by side); this puts several policies' episodes
of the same seed under each other so where they part is visible at a glance.
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from vlaforge.data.video import decode_all  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", action="append", required=True, help="LABEL=PATH.mp4 (repeatable)")
    ap.add_argument("--frames", default="0,75,150,225,300,399", help="frame numbers; past the end: the last frame")
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    wanted = [int(x) for x in a.frames.split(",")]
    rows = []
    for item in a.video:
        if "=" not in item:
            raise SystemExit(f"--video {item!r}: expected LABEL=PATH.mp4")
        label, path = item.split("=", 1)
        frames, _ = decode_all(path, a.fps)  # (N, H, W, 3)
        rows.append((label, [(min(n, len(frames) - 1), frames[min(n, len(frames) - 1)]) for n in wanted],
                     len(frames)))
    h, w = rows[0][1][0][1].shape[:2]
    fig, axes = plt.subplots(len(rows), len(wanted), squeeze=False,
                             figsize=(len(wanted) * 0.8 * w / h + 0.5, len(rows) * 1.0 + 0.4))
    for r, (label, shots, n) in enumerate(rows):
        for c, (k, img) in enumerate(shots):
            ax = axes[r][c]
            ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"step {k}" + (" (end)" if k == n - 1 else ""), fontsize=7)
            if c == 0:
                ax.set_ylabel(label, fontsize=7)
    fig.tight_layout()
    fig.savefig(a.out, dpi=130)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
