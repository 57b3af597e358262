"""InternVLA-A1 measurements beyond the MT10 success rate: autoencoder PSNR, foresight quality, latency.

    python benchmarks/bench_internvla_a1.py --checkpoint runs/bench/internvla_a1_tiny/checkpoints/last \
        --heldout data/mt10_64_heldout

Held-out data: episodes the policy never trained on (collection seeds 5,000+; training used 0..~60,
evaluation uses 10,000+): `vlaforge collect metaworld --tasks mt10 --episodes-per-task 3 --seed-start 5000
--out data/mt10_64_heldout`.
- autoencoder: reconstruction PSNR of held-out frames;
- foresight: latent MSE and decoded PSNR of the predicted frame t+m against the true one, with the
  copy-the-current-frame baseline (latent of t, frame t), and an image grid current / true / predicted;
- chunk latency at batch 1, with and without the prefix cache (median of 30, 2 threads, the precision 'auto' picks).
Writes benchmarks/results/internvla_a1/foresight.json and foresight_grid.png.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from vlaforge.core.checkpoint import load_policy
from vlaforge.core.keys import FUTURE_PREFIX, IMAGE_PREFIX
from vlaforge.data.dataset import LeRobotDataset
from vlaforge.tokenizers.image_vq import psnr
from vlaforge.train.trainer import resolve_precision

BF16 = resolve_precision("auto") == "bf16"  # bf16 only where the CPU has native bf16 matmuls


def foresight(policy, root: str, samples: int, out: Path) -> dict:
    c = policy.config
    m = c.obs_stride
    ds = LeRobotDataset(root, n_obs_steps=2, obs_stride=m, chunk_size=c.chunk_size, cameras=tuple(c.cameras),
                        future_offsets=(m,))
    b_all = ds.get_batch(np.arange(len(ds)))
    fi = b_all["frame_index"].numpy()
    ok = ~(b_all["observation.is_pad"].numpy().any(1) | b_all["future.is_pad"].numpy().any(1))  # full windows
    pick = np.random.default_rng(0).choice(np.nonzero(ok)[0], min(samples, int(ok.sum())), replace=False)
    rows = {"mse_pred": [], "mse_copy": [], "psnr_pred": [], "psnr_copy": [], "psnr_ae": []}
    grid = None
    for s in range(0, len(pick), 32):
        b = ds.get_batch(pick[s:s + 32])
        obs = {k: v for k, v in b.items() if k.startswith(IMAGE_PREFIX)}
        obs.update(task=b["task"], embodiment=b["embodiment"], **{"observation.state": b["observation.state"]})
        pred = policy.predict_future(obs)
        for v, cam in enumerate(c.cameras):
            cur, fut = b[IMAGE_PREFIX + cam][:, -1], b[FUTURE_PREFIX + cam][:, 0]  # (B, 3, H, W)
            z_cur, z_fut = policy.latents(cur), policy.latents(fut)
            z_pred = pred["future.latent"][:, v]
            rows["mse_pred"].append(float(((z_pred - z_fut) ** 2).mean()))
            rows["mse_copy"].append(float(((z_cur - z_fut) ** 2).mean()))
            tgt = policy.ae.to_float(fut)
            rows["psnr_pred"].append(psnr(policy.ae.decode(z_pred), tgt))
            rows["psnr_copy"].append(psnr(policy.ae.to_float(cur), tgt))
            rows["psnr_ae"].append(psnr(policy.ae.decode(z_fut), tgt))
            if grid is None and v == 0:
                grid = [cur[:8], fut[:8], pred[FUTURE_PREFIX + cam][:8, 0]]
    _grid(grid, out / "foresight_grid.png", ["current t", f"true t+{m}", f"predicted t+{m}"])
    return {"dataset": root, "samples": int(len(pick)), "horizon_frames": m, "frame_index_range": [int(fi.min()), int(fi.max())],
            **{k: float(np.mean(v)) for k, v in rows.items()}, "grid_png": str(out / "foresight_grid.png")}


def _grid(rows, path: Path, labels) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = rows[0].shape[0]
    fig, axes = plt.subplots(len(rows), n, figsize=(1.5 * n, 1.6 * len(rows)), squeeze=False)
    for r, (row, label) in enumerate(zip(rows, labels)):
        for j in range(n):
            axes[r][j].imshow(row[j].permute(1, 2, 0).numpy())
            axes[r][j].set_xticks([]), axes[r][j].set_yticks([])
        axes[r][0].set_ylabel(label, fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def latency(policy, reps: int = 30) -> dict:
    from vlaforge.testing import fake_batch, observation

    obs = observation(fake_batch(policy.config, list(policy.embodiments.values()), 1))
    out = {}
    for cache in (True, False):
        times = []
        for i in range(reps + 3):
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=BF16):
                policy.predict_action_chunk(obs, generator=torch.Generator().manual_seed(i), use_cache=cache)
            times.append(time.perf_counter() - t0)
        out["cached_ms" if cache else "uncached_ms"] = round(1000 * statistics.median(times[3:]), 2)
    out["speedup"] = round(out["uncached_ms"] / out["cached_ms"], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--heldout", default="data/mt10_64_heldout")
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/internvla_a1")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    policy = load_policy(a.checkpoint).eval()
    res = {"checkpoint": a.checkpoint, "date": time.strftime("%Y-%m-%d %H:%M"),
           "command": f"python benchmarks/bench_internvla_a1.py --checkpoint {a.checkpoint} --heldout {a.heldout}",
           "latency_batch1": latency(policy)}
    with torch.no_grad():
        if policy.config.use_generation:
            res["foresight"] = foresight(policy, a.heldout, a.samples, out)
    (out / "foresight.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
