"""EfficientNet-Lite0 on this CPU: forward cost per image, and which preprocessing the weights want.

    MUJOCO_GL=egl .venv/bin/python benchmarks/bench_efficientnet.py --num-threads 1 [--study]

Timing: batch 32, sizes 64/96/128, fp32 and bf16 autocast; three modes:
``frozen_s16`` / ``frozen_s32`` (no_grad forward up to the stride-16 / stride-32 map, what a
frozen encoder costs per training sample) and ``finetune_s16`` (forward + backward, train mode).

``--study``: top-1/top-5 and p(true class) of symmetric vs TF "SAME" padding and ImageNet
mean/std vs TF-Lite (x - 127) / 128 input, on 5 crops of each photograph at 224/128/96/64,
plus how well each input scaling matches the BatchNorm running statistics. Photographs:
matplotlib's Grace Hopper always; scikit-image's chelsea, coffee, rocket and motorcycle if
scikit-image is importable or its data folder is given with --skimage-data.
Writes benchmarks/results/efficientnet.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from matplotlib import cbook
from PIL import Image
from torch import nn

from vlaforge.core.machine import describe_machine
from vlaforge.nn.efficientnet import EfficientNetLite0, SameConv2d, num_parameters

OUT = Path(__file__).parent / "results" / "efficientnet.json"
PHOTOS = {"grace_hopper": [652], "chelsea": [281, 282, 285], "coffee": [967, 968, 504],
          "rocket": [812, 657, 744], "motorcycle_left": [670, 665]}


# ---- timing -------------------------------------------------------------------------------
def _step(model: EfficientNetLite0, x: torch.Tensor, mode: str) -> None:
    stride = 32 if mode.endswith("s32") else 16
    if mode.startswith("frozen"):
        with torch.no_grad():
            model.forward_features(x, strides=(stride,))
    else:
        model.forward_features(x, strides=(stride,))[stride].float().square().mean().backward()


def time_one(model: EfficientNetLite0, size: int, batch: int, mode: str, bf16: bool, repeats: int) -> float:
    """Median seconds per image over ``repeats`` batches (after one warm-up batch)."""
    model.train(mode.startswith("finetune"))
    x = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8)
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            _step(model, x, mode)
        if i:
            times.append(time.perf_counter() - t0)
        model.zero_grad(set_to_none=True)
    return statistics.median(times) / batch


def timings(sizes: list[int], batch: int, repeats: int) -> list[dict]:
    model = EfficientNetLite0(pretrained=True)
    rows = []
    for size in sizes:
        for mode in ("frozen_s16", "frozen_s32", "finetune_s16"):
            for bf16 in (False, True):
                ms = 1e3 * time_one(model, size, batch, mode, bf16, repeats)
                rows.append({"size": size, "mode": mode, "dtype": "bf16" if bf16 else "fp32", "ms_per_image": round(ms, 3)})
                print(f"{size:4d}px {mode:13s} {'bf16' if bf16 else 'fp32'}: {ms:7.2f} ms/image")
    return rows


# ---- preprocessing study ------------------------------------------------------------------
def _photo_paths(skimage_data: str | None) -> dict[str, Path]:
    paths = {"grace_hopper": Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))}
    spec = importlib.util.find_spec("skimage")
    folder = Path(skimage_data) if skimage_data else (Path(spec.origin).parent / "data" if spec else None)
    for name in list(PHOTOS)[1:]:
        hit = sorted(folder.glob(f"{name}.*")) if folder else []
        if hit:
            paths[name] = hit[0]
    return paths


def _crops(img: Image.Image, size: int) -> torch.Tensor:
    """Centre square + four 85% corner squares, resized: uint8 (5, 3, size, size)."""
    w, h = img.size
    out = []
    for frac, fx, fy in [(1.0, .5, .5), (.85, 0, 0), (.85, 1, 0), (.85, 0, 1), (.85, 1, 1)]:
        s = int(min(w, h) * frac)
        left, top = int((w - s) * fx), int((h - s) * fy)
        c = img.crop((left, top, left + s, top + s)).resize((size, size), Image.BICUBIC)
        out.append(torch.from_numpy(np.asarray(c).copy()).permute(2, 0, 1))
    return torch.stack(out)


def _variant(padding: str, norm: str) -> EfficientNetLite0:
    model = EfficientNetLite0(pretrained=True).eval()
    if norm == "imagenet":   # per-channel mean/std as floats broadcast over (1, 3, 1, 1)
        model.input_mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        model.input_std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    for m in model.modules():
        if isinstance(m, SameConv2d):
            m.same = padding == "same"
    return model


def _bn_mismatch(model: EfficientNetLite0, x: torch.Tensor) -> tuple[float, float]:
    """Median |log(batch var / running var)|: first BatchNorm, and mean over all of them."""
    errs = []

    def hook(mod, inp, out):
        ok = mod.running_var > 1e-4
        errs.append(float((inp[0].var((0, 2, 3))[ok] / mod.running_var[ok]).log().abs().median()))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        model.classify(x)
    for h in handles:
        h.remove()
    return errs[0], float(np.mean(errs))


def study(skimage_data: str | None) -> dict:
    imgs = {n: Image.open(p).convert("RGB") for n, p in _photo_paths(skimage_data).items()}
    print("photographs:", list(imgs))
    rows, bn = [], []
    for padding in ("symmetric", "same"):
        for norm in ("imagenet", "tf_lite"):
            model = _variant(padding, norm)
            for size in (224, 128, 96, 64):
                rows.append({"padding": padding, "norm": norm, "size": size, **_score(model, imgs, size)})
                print(rows[-1])
            first, mean = _bn_mismatch(model, torch.cat([_crops(im, 224) for im in imgs.values()]))
            bn.append({"padding": padding, "norm": norm, "bn_first": round(first, 3), "bn_mean": round(mean, 3)})
            print(bn[-1])
    return {"photographs": list(imgs), "crops_per_photo": 5, "accuracy": rows, "bn_stat_mismatch": bn}


def _score(model: EfficientNetLite0, imgs: dict, size: int) -> dict:
    p_true, top1, top5 = [], 0, 0
    for name, img in imgs.items():
        with torch.no_grad():
            probs = model.classify(_crops(img, size)).softmax(-1)  # (5, 1000)
        cls = PHOTOS[name]
        p_true += probs[:, cls].sum(1).tolist()
        for row in probs.topk(5).indices.tolist():
            top1 += row[0] in cls
            top5 += bool(set(row) & set(cls))
    return {"n": len(p_true), "top1": top1, "top5": top5, "mean_p_true": round(float(np.mean(p_true)), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--num-threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128])
    ap.add_argument("--study", action="store_true", help="also run the padding / normalization study")
    ap.add_argument("--skimage-data", default=None, help="scikit-image's data folder (chelsea.png, ...)")
    args = ap.parse_args()
    torch.set_num_threads(args.num_threads)
    result = {"date": datetime.now().isoformat(timespec="minutes"), "machine": describe_machine(),
              "torch": torch.__version__, "threads": args.num_threads, "batch": args.batch,
              "params": num_parameters(EfficientNetLite0(pretrained=False)),
              "timings": timings(args.sizes, args.batch, args.repeats)}
    if args.study:
        result["study"] = study(args.skimage_data)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1))
    print(f"params {result['params']:,}; wrote {OUT}")


if __name__ == "__main__":
    main()
