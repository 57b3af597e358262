"""What a run shows and leaves behind: a progress bar, metrics.jsonl, TensorBoard, a loss curve."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm


class MetricsLogger:
    """Append-only ``metrics.jsonl`` (one JSON object per logged step) plus optional TensorBoard."""

    def __init__(self, out_dir: Path, tensorboard: bool = True, start_step: int = 0) -> None:
        self.path = out_dir / "metrics.jsonl"
        _truncate_after(self.path, start_step)
        self._fh = open(self.path, "a")
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(out_dir / "tb"), purge_step=start_step or None)

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        row = {"step": step, **{k: _scalar(v) for k, v in metrics.items()}}
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()
        if self._tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)):
                    self._tb.add_scalar(k if "/" in k else f"train/{k}", v, step)

    def close(self) -> None:
        self._fh.close()
        if self._tb is not None:
            self._tb.close()


def _scalar(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    return round(v, 6) if isinstance(v, float) and math.isfinite(v) else v


def _truncate_after(path: Path, step: int) -> None:
    """On resume, drop rows logged after the checkpoint so the file has no duplicated steps."""
    if not path.is_file():
        return
    rows = [ln for ln in path.read_text().splitlines() if ln.strip()]
    keep = [ln for ln in rows if json.loads(ln).get("step", 0) <= step]
    if len(keep) != len(rows):
        path.write_text("".join(ln + "\n" for ln in keep))


def read_metrics(path: Path) -> list[dict]:
    if not Path(path).is_file():
        return []
    return [json.loads(ln) for ln in Path(path).read_text().splitlines() if ln.strip()]


class Progress:
    """tqdm bar over optimizer steps: loss, samples/s, and the ETA tqdm derives from them."""

    def __init__(self, total: int | None, start: int, enabled: bool, desc: str) -> None:
        self.bar = tqdm(total=total, initial=start, disable=not enabled, desc=desc, unit="step",
                        dynamic_ncols=True, mininterval=1.0, smoothing=0.1)

    def set_total(self, total: int) -> None:
        self.bar.total = total
        self.bar.refresh()

    def update(self, loss: float, samples_per_s: float) -> None:
        self.bar.set_postfix(loss=f"{loss:.4f}", rate=f"{samples_per_s:.0f} samples/s", refresh=False)
        self.bar.update(1)

    def write(self, msg: str) -> None:
        self.bar.write(msg)

    def close(self) -> None:
        self.bar.close()


def plot_loss_curve(metrics_path: Path, png_path: Path, title: str = "training loss") -> Path | None:
    """Loss vs step (log y, raw and smoothed); None when nothing was logged."""
    rows = [r for r in read_metrics(metrics_path) if isinstance(r.get("loss"), (int, float))]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    loss = [r["loss"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=120)
    ax.plot(steps, loss, color="tab:blue", alpha=0.35, lw=1, label="loss")
    ax.plot(steps, ema_smooth(loss, min(0.9, 1.0 - 10.0 / max(len(loss), 11))), color="tab:blue", lw=2,
            label="smoothed")
    if all(v > 0 for v in loss):
        ax.set_yscale("log")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path)
    plt.close(fig)
    return png_path


def ema_smooth(xs: list[float], beta: float) -> list[float]:
    """Debiased EMA (as TensorBoard's smoothing): no pull towards the first, largest values."""
    out, m = [], 0.0
    for t, x in enumerate(xs, 1):
        m = beta * m + (1 - beta) * x
        out.append(m / (1 - beta**t))
    return out
