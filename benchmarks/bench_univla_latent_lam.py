"""What do UniVLA's task-centric latent actions carry? Codebook usage, the end-effector probe, a code grid.

    python benchmarks/bench_univla_latent_lam.py --checkpoint runs/univla_latent_lam2/checkpoints/last \
        --train data/mt10_64 --heldout data/mt10_64_heldout

For transitions (frame t-k -> frame t, k = the LAM's horizon) of the third-person camera:
- usage: fraction of the 16 task-centric codes used and the perplexity of their histogram (held-out);
- probe: a ridge regressor from the 4 task-centric codes (one-hot, 4 x 16) to the true end-effector delta
  state[t][:3] - state[t-k][:3], fit on training windows and scored (R^2) on held-out episodes; the same
  probe on a randomly initialised LAM (same architecture) is the control;
- grid: for the most frequent codes of latent token 0, transitions from several tasks that got that code
  (do the same codes mean the same motion across tasks?).
Writes benchmarks/results/univla_latent/lam.json and lam_code_grid.png.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vlaforge.core.checkpoint import load_policy
from vlaforge.core.keys import IMAGE_PREFIX, STATE, TASK
from vlaforge.data.dataset import LeRobotDataset
from vlaforge.nn.vq import usage

from probes import ridge_probe  # benchmarks/probes.py, beside this script


def transitions(policy, root: str, n: int, seed: int):
    """``n`` random full windows (t-k, t) of ``root``; the LAM reads their two frames."""
    c = policy.config
    ds = LeRobotDataset(root, n_obs_steps=2, obs_stride=c.foresight_k, chunk_size=c.chunk_size,
                        cameras=tuple(c.cameras))
    pad = ds.get_batch(np.arange(len(ds)))["observation.is_pad"].numpy().any(1)
    idx = np.nonzero(~pad)[0]
    return ds, np.random.default_rng(seed).choice(idx, min(n, len(idx)), replace=False)


@torch.no_grad()
def codes(policy, ds, idx) -> dict:
    out: dict[str, list] = {"codes": [], "delta": [], "task": [], "img0": [], "img1": []}
    for s in range(0, len(idx), 64):
        b = ds.get_batch(idx[s:s + 64])
        f0, f1 = policy.features(b, 0, "obs", 0), policy.features(b, 0, "obs", 1)
        out["codes"].append(policy.latent_actions(b, f0, f1))  # (B, 4)
        st = b[STATE].float()
        out["delta"].append(st[:, 1, :3] - st[:, 0, :3])
        out["task"] += list(b[TASK])
        img = b[IMAGE_PREFIX + policy.config.cameras[0]]
        out["img0"].append(img[:, 0])
        out["img1"].append(img[:, 1])
    return {k: (torch.cat(v) if isinstance(v[0], torch.Tensor) else v) for k, v in out.items()}


def one_hot(c: torch.Tensor, k: int) -> torch.Tensor:
    return F.one_hot(c.long(), k).flatten(1).double()  # (B, 4 * k)


def probe(tr: dict, te: dict, k: int) -> dict:
    return ridge_probe(one_hot(tr["codes"], k), tr["delta"].double(), one_hot(te["codes"], k), te["delta"].double(),
                       (1e-2, 1e-1, 1.0, 10.0, 100.0))


def grid(te: dict, path: Path, n_codes: int = 6, per_code: int = 6) -> list:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = te["codes"][:, 0].tolist()
    top = [c for c, _ in Counter(first).most_common(n_codes)]
    fig, axes = plt.subplots(len(top), per_code, figsize=(2.2 * per_code, 1.4 * len(top)), squeeze=False)
    rows = []
    for r, code in enumerate(top):
        picks, seen = [], set()
        for i in np.nonzero(np.asarray(first) == code)[0]:  # prefer one example per task
            if te["task"][i] not in seen:
                picks.append(i)
                seen.add(te["task"][i])
        picks = (picks + [i for i in np.nonzero(np.asarray(first) == code)[0] if i not in picks])[:per_code]
        rows.append({"code": int(code), "tasks": [te["task"][i] for i in picks]})
        for j in range(per_code):
            ax = axes[r][j]
            ax.set_xticks([]), ax.set_yticks([])
            if j < len(picks):
                i = picks[j]
                pair = torch.cat([te["img0"][i], te["img1"][i]], dim=2)  # (3, H, 2W): t-k | t
                ax.imshow(pair.permute(1, 2, 0).numpy())
                d = te["delta"][i].numpy() * 100
                ax.set_title(f"{te['task'][i][:18]}\nd=({d[0]:.0f},{d[1]:.0f},{d[2]:.0f})cm", fontsize=6)
        axes[r][0].set_ylabel(f"code {code}", fontsize=8)
    fig.suptitle("transitions (t-k | t) grouped by task-centric latent token 0", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--train", default="data/mt10_64")
    ap.add_argument("--heldout", default="data/mt10_64_heldout")
    ap.add_argument("--n-train", type=int, default=3000)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/univla_latent")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.time()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    trained = load_policy(a.checkpoint).eval()
    torch.manual_seed(0)
    untrained = trained.config.create(trained.normalizer, list(trained.embodiments.values())).eval()
    untrained.feats = trained.feats  # the same frozen image encoder: only the LAM differs
    ds_tr, i_tr = transitions(trained, a.train, a.n_train, 0)
    ds_te, i_te = transitions(trained, a.heldout, a.n_test, 1)
    k = trained.config.latent_codes
    res: dict = {"command": "python benchmarks/bench_univla_latent_lam.py " + " ".join(
                     f"--{n.replace('_', '-')} {v}" for n, v in vars(a).items()),
                 "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "checkpoint": a.checkpoint,
                 "horizon_k": trained.config.foresight_k, "n_train": int(len(i_tr)), "n_heldout": int(len(i_te))}
    for name, pol in (("trained", trained), ("untrained", untrained)):
        tr, te = codes(pol, ds_tr, i_tr), codes(pol, ds_te, i_te)
        res[name] = {"usage": usage(te["codes"], k), "probe_codes_to_ee_delta": probe(tr, te, k)}
        if name == "trained":
            res[name]["grid"] = grid(te, out / "lam_code_grid.png")
        print(name, json.dumps({x: y for x, y in res[name].items() if x != "grid"}), flush=True)
    res["minutes"] = round((time.time() - t0) / 60, 2)
    (out / "lam.json").write_text(json.dumps(res, indent=1))
    print(f"wrote {out / 'lam.json'} and {out / 'lam_code_grid.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
