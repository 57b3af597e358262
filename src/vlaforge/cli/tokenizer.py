"""`vlaforge tokenizer fit-fast|extract-vq ...`: fit the FAST action tokenizer on a dataset,
or turn a dataset's frames into VQ codes (and report reconstruction PSNR and code usage).

    vlaforge tokenizer fit-fast --dataset data/mt10_64 --chunk 10 --vocab 1024 --out runs/tokenizers/fast_mt10
    vlaforge tokenizer extract-vq --checkpoint runs/univla_vq_mt10/checkpoints/last \\
        --dataset data/mt10_64 --out runs/tokenizers/mt10_vq_tokens.npy

The image VQ itself is trained with the shared trainer: `vlaforge train --recipe univla_vq_mt10`.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

SUBCOMMANDS = {"fit-fast": "fit a FAST action tokenizer (DCT + BPE) on a dataset's action chunks",
               "extract-vq": "encode a dataset's frames with a trained image VQ into a .npy of codes"}


@dataclass
class FitFast:
    dataset: str
    """LeRobot v3 dataset directory with actions."""
    out: str
    """Directory to write fast_config.json + fast_tokenizer.json into."""
    chunk: int = 10
    """Action chunk length H (the policy's chunk_size)."""
    vocab: int = 1024
    """BPE vocabulary size (1024-2048)."""
    scale: float = 10.0
    """DCT coefficients x scale before rounding."""
    norm_mode: Literal["quantile", "mean_std", "identity"] = "quantile"
    """Must match the policy's norm_mode (UniVLA: quantile, q01/q99 -> [-1, 1])."""
    max_chunks: int = 200_000
    """Subsample this many chunks for fitting (all windows otherwise)."""
    seed: int = 0


@dataclass
class ExtractVQ:
    checkpoint: str
    """A univla_ar checkpoint directory (any stage after 'vq' holds the trained VQ)."""
    dataset: str
    out: str
    """Output .npy: int16 codes (N_frames, n_cameras, h, w), memory-mappable; a .json sidecar describes it."""
    batch_size: int = 256
    psnr_frames: int = 1024
    """Frames (from the start, every camera) decoded back to measure reconstruction PSNR."""


def fit_fast(cfg: FitFast) -> dict:
    from vlaforge.tokenizers.fast import FASTConfig, FASTTokenizer

    chunks = normalized_chunks(cfg.dataset, cfg.chunk, cfg.norm_mode)  # (N, H, D)
    rng = np.random.default_rng(cfg.seed)
    if len(chunks) > cfg.max_chunks:
        chunks = chunks[rng.choice(len(chunks), cfg.max_chunks, replace=False)]
    t0 = time.time()
    tok = FASTTokenizer(FASTConfig(vocab_size=cfg.vocab, scale=cfg.scale)).fit(chunks)
    fit_s = time.time() - t0
    probe = chunks[rng.choice(len(chunks), min(2000, len(chunks)), replace=False)]
    ids = [tok.encode(c) for c in probe]
    err = np.abs(np.stack([tok.decode(i) for i in ids]) - probe).max()
    tok.save(cfg.out)
    meta = {"dataset": cfg.dataset, "norm_mode": cfg.norm_mode, "n_chunks": int(len(chunks)), "fit_s": fit_s,
            "mean_tokens": float(np.mean([len(i) for i in ids])), "max_tokens": int(max(len(i) for i in ids)),
            "coefficients_per_chunk": int(chunks.shape[1] * chunks.shape[2]), "max_abs_error": float(err),
            "error_bound_l2_per_dim": 0.5 / cfg.scale * float(np.sqrt(cfg.chunk))}
    (Path(cfg.out) / "fit_info.json").write_text(json.dumps(meta, indent=2))
    return meta


def normalized_chunks(root: str, chunk: int, norm_mode: str) -> np.ndarray:
    """Every action window (H, D_real) of a dataset, normalized as the policy will see it."""
    from vlaforge.core.keys import ACTION, EMBODIMENT
    from vlaforge.data.dataset import LeRobotDataset
    from vlaforge.data.normalize import Normalizer
    from vlaforge.data.stats import norm_stats_for
    from vlaforge.embodiments import get_embodiment

    ds = LeRobotDataset(root, n_obs_steps=1, chunk_size=chunk, cameras=(), use_cache=False)
    if not ds.meta.has_actions:
        raise ValueError(f"{root} is an action-free dataset; fit FAST on one with actions")
    stats = norm_stats_for(ds.meta)
    specs = [get_embodiment(n) for n in stats]
    norm = Normalizer(stats, specs, norm_mode)
    out = []
    for start in range(0, len(ds), 4096):
        b = ds.get_batch(np.arange(start, min(start + 4096, len(ds))))
        idx = norm.index(b[EMBODIMENT], len(b[EMBODIMENT]))
        dim = specs[0].action_dim
        out.append(norm.normalize(ACTION, b[ACTION], idx)[..., :dim].numpy())
    return np.concatenate(out).astype(np.float64)  # (N, H, D)


def extract_vq(cfg: ExtractVQ) -> dict:
    import torch

    from vlaforge.core.checkpoint import load_policy
    from vlaforge.data.dataset import LeRobotDataset
    from vlaforge.tokenizers.image_vq import ImageVQ, codebook_usage, psnr

    policy = load_policy(cfg.checkpoint)
    vq = policy.vq.eval()
    ds = LeRobotDataset(cfg.dataset, n_obs_steps=1, chunk_size=1, cameras=tuple(policy.config.cameras))
    frames = ds.frames()
    keys = ds.camera_keys
    n, g = len(frames[keys[0]]), vq.config.grid
    out = np.lib.format.open_memmap(cfg.out, mode="w+", dtype=np.int16, shape=(n, len(keys), g, g))
    psnrs = []
    with torch.no_grad():
        for v, key in enumerate(keys):
            for s in range(0, n, cfg.batch_size):
                x = torch.from_numpy(np.array(frames[key][s:s + cfg.batch_size]))
                codes = vq.encode(x)  # (b, h, w)
                out[s:s + len(x), v] = codes.numpy().astype(np.int16)
                if s < cfg.psnr_frames:
                    psnrs.append(psnr(vq.decode(codes), ImageVQ.to_float(x)))
    out.flush()
    usage = codebook_usage(torch.from_numpy(np.asarray(out)).long(), vq.config.codebook_size)
    info = {"dataset": cfg.dataset, "checkpoint": cfg.checkpoint, "cameras": keys, "shape": list(out.shape),
            "psnr_db": float(np.mean(psnrs)), **usage}
    Path(cfg.out).with_suffix(".json").write_text(json.dumps(info, indent=2))
    return info


def main(argv: list[str] | None = None) -> int:
    import tyro

    from vlaforge.core.registry import unknown_name_message

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: vlaforge tokenizer <subcommand> [--help] [options]\n\nsubcommands:")
        for name, desc in SUBCOMMANDS.items():
            print(f"  {name:<11} {desc}")
        return 0 if argv else 2
    sub, rest = argv[0], argv[1:]
    if sub not in SUBCOMMANDS:
        print(unknown_name_message("tokenizer subcommand", sub, list(SUBCOMMANDS)), file=sys.stderr)
        return 2
    from vlaforge.data.errors import DatasetError

    try:
        if sub == "fit-fast":
            info = fit_fast(tyro.cli(FitFast, args=rest, prog="vlaforge tokenizer fit-fast",
                                     description=SUBCOMMANDS[sub]))
        else:
            info = extract_vq(tyro.cli(ExtractVQ, args=rest, prog="vlaforge tokenizer extract-vq",
                                       description=SUBCOMMANDS[sub]))
    except (KeyError, ValueError, FileNotFoundError, DatasetError) as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    print(json.dumps(info, indent=2))
    return 0
