"""Carry a trained checkpoint back from a machine whose file transfer is size-capped (this workplace's GPU
machine returns at most 8 files of 16 MiB, 64 MiB in all), and restore it on this one.

    python benchmarks/ckpt_transport.py pack RUN_DIR OUT_DIR NAME [--part-mb 15]
    python benchmarks/ckpt_transport.py unpack OUT_DIR NAME DEST_RUN_DIR

``pack`` takes the run's last checkpoint (not ``train_state.pt``: the optimizer is not needed to evaluate),
stores floating-point weights as float16 (halving the size; a tensor whose values do not fit float16's range
stays float32), adds the run's ``metrics.jsonl`` / ``loss_curve.png`` / ``train_summary.json`` if present,
tars it and splits it into parts. ``unpack`` joins the parts and writes float32 ``model.safetensors`` again,
with ``transport.json`` beside it recording the round trip (the largest relative rounding error of any
tensor, relative to the tensor's largest value), so an evaluation of the restored checkpoint says it went through float16.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

FP16_MAX = 65000.0
EXTRAS = ("metrics.jsonl", "loss_curve.png", "train_summary.json", "results.json")


def _last_checkpoint(run: Path) -> Path:
    ckpt = run / "checkpoints" / "last"
    if not (ckpt / "model.safetensors").is_file():
        raise SystemExit(f"{ckpt} holds no model.safetensors; did the run save a checkpoint?")
    return ckpt.resolve()


def pack(run: Path, out: Path, name: str, part_mb: float) -> list[Path]:
    ckpt = _last_checkpoint(run)
    out.mkdir(parents=True, exist_ok=True)
    weights = load_file(str(ckpt / "model.safetensors"))
    small, kept32, rel_err = {}, [], 0.0
    for key, t in weights.items():
        if t.is_floating_point() and t.dtype == torch.float32 and t.abs().max().item() < FP16_MAX:
            h = t.half()
            if t.numel():  # rounding error relative to the tensor's largest value (tiny entries are subnormal)
                rel_err = max(rel_err, ((h.float() - t).abs().max() / t.abs().max().clamp_min(1e-12)).item())
            small[key] = h
        else:  # integers (e.g. BatchNorm's counters) as they are; floats beyond float16's range as float32
            small[key] = t
            if t.is_floating_point():
                kept32.append(key)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for f in sorted(ckpt.rglob("*")):
            if f.is_file() and f.name not in ("model.safetensors", "train_state.pt"):
                tar.add(f, arcname=f"checkpoint/{f.relative_to(ckpt)}")
        for extra in EXTRAS:
            if (run / extra).is_file():
                tar.add(run / extra, arcname=extra)
        tmp = out / f".{name}.fp16.safetensors"
        save_file(small, str(tmp), metadata={"kept_float32": json.dumps(kept32), "max_rel_err": repr(rel_err),
                                             "step_dir": ckpt.name})
        tar.add(tmp, arcname="checkpoint/model.fp16.safetensors")
        tmp.unlink()
    data, size = buf.getvalue(), int(part_mb * 2**20)
    parts = []
    for i in range(0, len(data), size):
        p = out / f"{name}.part{i // size:02d}"
        p.write_bytes(data[i:i + size])
        parts.append(p)
    print(f"packed {ckpt} -> {len(parts)} part(s), {len(data) / 2**20:.1f} MiB; "
          f"max relative float16 rounding error {rel_err:.2e}; kept float32: {len(kept32)} tensor(s)")
    return parts


def unpack(src: Path, name: str, dest: Path) -> Path:
    parts = sorted(src.glob(f"{name}.part*"))
    if not parts:
        raise SystemExit(f"no {name}.part* in {src}")
    with tarfile.open(fileobj=io.BytesIO(b"".join(p.read_bytes() for p in parts))) as tar:
        tar.extractall(dest, filter="data")
    fp16 = dest / "checkpoint" / "model.fp16.safetensors"
    with safe_open(str(fp16), "pt") as f:
        meta = f.metadata()
        weights = {k: f.get_tensor(k) for k in f.keys()}
    weights = {k: (t.float() if t.dtype == torch.float16 else t) for k, t in weights.items()}
    ckpt = dest / "checkpoints" / meta["step_dir"]
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    (dest / "checkpoint").rename(ckpt)
    save_file(weights, str(ckpt / "model.safetensors"))
    fp16_path = ckpt / "model.fp16.safetensors"
    fp16_path.unlink()
    (ckpt / "transport.json").write_text(json.dumps({
        "note": "weights carried as float16 from the machine that trained them, restored to float32",
        "max_rel_err": float(meta["max_rel_err"]), "kept_float32": json.loads(meta["kept_float32"])}))
    last = dest / "checkpoints" / "last"
    if last.is_symlink() or last.exists():
        last.unlink()
    last.symlink_to(ckpt.name)
    print(f"unpacked {len(parts)} part(s) -> {ckpt}")
    return ckpt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("run", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("name")
    p.add_argument("--part-mb", type=float, default=15.0)
    u = sub.add_parser("unpack")
    u.add_argument("src", type=Path)
    u.add_argument("name")
    u.add_argument("dest", type=Path)
    a = ap.parse_args(argv)
    if a.cmd == "pack":
        pack(a.run, a.out, a.name, a.part_mb)
    else:
        unpack(a.src, a.name, a.dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
