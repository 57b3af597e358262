"""`vlaforge tokenizer fit-fast|extract-vq ...`: fit the FAST action tokenizer on a dataset,
or turn a dataset's frames into VQ codes (and report reconstruction PSNR and code usage).

    vlaforge tokenizer fit-fast --dataset data/mt10_64 --chunk 10 --vocab 1024 --out runs/tokenizers/fast_mt10
    vlaforge tokenizer extract-vq --checkpoint runs/vq_tiny_mt10/checkpoints/last \\
        --dataset data/mt10_64 --out runs/tokenizers/mt10_vq_tokens.npy

The image VQ itself is trained with the shared trainer: `vlaforge train --recipe vq_tiny_mt10`. A
policy stage that needs FAST and has none fits it on its own training data (``Policy.prepare``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


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
    from vlaforge.tokenizers.fast import fit_on_chunks, normalized_chunks

    chunks = normalized_chunks(cfg.dataset, cfg.chunk, cfg.norm_mode)  # (N, H, D)
    tok, info = fit_on_chunks(chunks, cfg.vocab, cfg.scale, cfg.max_chunks, cfg.seed)
    info = {"dataset": cfg.dataset, "norm_mode": cfg.norm_mode, **info}
    tok.save(cfg.out)
    (Path(cfg.out) / "fit_info.json").write_text(json.dumps(info, indent=2))
    return info


def extract_vq(cfg: ExtractVQ) -> dict:
    from vlaforge.core.checkpoint import load_policy
    from vlaforge.core.errors import ConfigError
    from vlaforge.tokenizers.image_vq import extract_codes

    policy = load_policy(cfg.checkpoint)
    vq = policy.tokenizers().get("image_vq")
    if vq is None:
        raise ConfigError(f"{cfg.checkpoint} is a {policy.config.family} checkpoint, which has no image VQ "
                          f"tokenizer (it has {sorted(policy.tokenizers()) or 'none'})")
    info = extract_codes(vq, cfg.dataset, policy.config.cameras, cfg.out, cfg.batch_size, cfg.psnr_frames)
    return {"checkpoint": cfg.checkpoint, **info}


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
