"""XR-1 stage 1 (UVMC) measurements: codebook usage, reconstruction of both decoders, and the motion probe.

    python benchmarks/bench_xr1_uvmc.py --checkpoint runs/xr1_uvmc_mt10/checkpoints/last \
        --train data/mt10_64 --heldout data/mt10_64_heldout

- usage: the fraction of the 256 codes used and the perplexity of their histogram, per branch, on held-out
  windows;
- vision decoder: PSNR of the decoded frame t+k against the true frame, with the copy-frame-t baseline;
- motion decoder: MSE (normalized action space) of the chunk the flow decoder samples from the motion codes
  and the state, against the mean-chunk baseline;
- the probe: does the *vision* code alone carry the motion? A ridge regressor from the frozen vision codes
  (quantized embeddings of every camera, flattened) to the true normalized action chunk, fit on training
  windows and scored (R^2) on held-out episodes, against the same probe on codes of an untrained UVMC
  (same architecture, fresh initialization) -- the issue's control.
Writes benchmarks/results/xr1/uvmc.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from vlaforge.core.checkpoint import load_policy
from vlaforge.core.keys import FUTURE_PREFIX, IMAGE_PREFIX
from vlaforge.data.dataset import LeRobotDataset
from vlaforge.nn.flow import euler_sample
from vlaforge.nn.vision import to_signed_unit
from vlaforge.nn.vq import usage
from vlaforge.tokenizers.image_vq import psnr

from probes import ridge_probe  # benchmarks/probes.py, beside this script


def windows(policy, root: str, n: int, seed: int) -> tuple[LeRobotDataset, np.ndarray]:
    """Windows of ``root`` whose frame t+k and whole chunk exist, ``n`` of them at random."""
    c = policy.config
    ds = LeRobotDataset(root, n_obs_steps=1, chunk_size=c.chunk_size, cameras=tuple(c.cameras),
                        future_offsets=(c.foresight_k,))
    b = ds.get_batch(np.arange(len(ds)))
    ok = ~(b["future.is_pad"].numpy().any(1) | b["action_is_pad"].numpy().any(1))
    idx = np.nonzero(ok)[0]
    return ds, np.random.default_rng(seed).choice(idx, min(n, len(idx)), replace=False)


@torch.no_grad()
def encode(policy, ds, idx, decoders: bool) -> dict:
    """Codes (indices + quantized embeddings) and targets of every window in ``idx``, batch by batch."""
    c = policy.config
    out: dict[str, list] = {k: [] for k in ("vfeat", "vidx", "midx", "target", "psnr_pred", "psnr_copy", "mse_motion")}
    for s in range(0, len(idx), 64):
        b = policy.check_batch(ds.get_batch(idx[s:s + 64]), training=True)
        row = policy.normalizer.index(b["embodiment"], len(b["task"]))
        x0, mask = policy._chunk_target(b, row)
        feats, vidx = [], []
        for i, cam in enumerate(c.cameras):
            now, fut = b[IMAGE_PREFIX + cam][:, -1], b[FUTURE_PREFIX + cam][:, 0]
            q, tok = policy.uvmc.encode_vision(now, fut, i)
            feats.append(q.quantized.flatten(1))
            vidx.append(q.indices)
            if decoders:
                pred = policy.uvmc.decode_vision(q.quantized, tok)
                out["psnr_pred"].append(psnr(pred, to_signed_unit(fut)))
                out["psnr_copy"].append(psnr(to_signed_unit(now), to_signed_unit(fut)))
        qm = policy.uvmc.encode_motion(x0 * mask)
        if decoders:
            state = policy.normalizer.normalize("observation.state", b["observation.state"][:, -1], row)
            noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(s))

            def velocity(x, t):
                return policy.uvmc.motion_velocity(qm.quantized, state, x, t)

            chunk = euler_sample(velocity, noise, c.num_inference_steps, "velocity")
            out["mse_motion"].append(float((((chunk - x0) * mask) ** 2).sum() / mask.sum()))
        out["vfeat"].append(torch.cat(feats, 1).float())
        out["vidx"].append(torch.stack(vidx, 1))
        out["midx"].append(qm.indices)
        out["target"].append((x0 * mask)[:, :, : policy.normalizer.mask("action", row).sum(-1).max()].flatten(1))
    res = {k: torch.cat(v) for k, v in out.items() if v and isinstance(v[0], torch.Tensor)}
    res.update({k: float(np.mean(v)) for k, v in out.items() if v and not isinstance(v[0], torch.Tensor)})
    return res


def probe(train: dict, test: dict) -> dict:
    """Held-out R^2 of the vision codes -> action chunk ridge probe (lambda chosen on the training windows)."""
    return ridge_probe(train["vfeat"], train["target"], test["vfeat"], test["target"], [1e-1, 1e0, 1e1, 1e2, 1e3])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--train", default="data/mt10_64")
    ap.add_argument("--heldout", default="data/mt10_64_heldout")
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--n-test", type=int, default=600)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/xr1")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.time()
    trained = load_policy(a.checkpoint).eval()
    torch.manual_seed(0)
    untrained = trained.config.create(trained.normalizer, list(trained.embodiments.values())).eval()
    ds_tr, i_tr = windows(trained, a.train, a.n_train, 0)
    ds_te, i_te = windows(trained, a.heldout, a.n_test, 1)
    res: dict = {"command": "python benchmarks/bench_xr1_uvmc.py " + " ".join(
                     f"--{k.replace('_', '-')} {v}" for k, v in vars(a).items()),
                 "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "checkpoint": a.checkpoint,
                 "n_train_windows": int(len(i_tr)), "n_heldout_windows": int(len(i_te)),
                 "foresight_k": trained.config.foresight_k}
    for name, pol in (("trained", trained), ("untrained", untrained)):
        tr, te = encode(pol, ds_tr, i_tr, decoders=False), encode(pol, ds_te, i_te, decoders=True)
        k = pol.config.codebook_size
        res[name] = {"vision_usage": usage(te["vidx"], k), "motion_usage": usage(te["midx"], k),
                     "vision_psnr_decoded": te["psnr_pred"], "vision_psnr_copy_frame_t": te["psnr_copy"],
                     "motion_mse_decoded": te["mse_motion"],
                     "motion_mse_mean_chunk": float((te["target"] - tr["target"].mean(0)).pow(2).mean()),
                     "probe_vision_codes_to_actions": probe(tr, te)}
        print(name, json.dumps(res[name], indent=1), flush=True)
    res["minutes"] = round((time.time() - t0) / 60, 2)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "uvmc.json").write_text(json.dumps(res, indent=1))
    print(f"wrote {out / 'uvmc.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
