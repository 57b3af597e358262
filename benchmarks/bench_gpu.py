"""GPU figures for every family (issue 13): training samples/s and peak memory on synthetic batches.

    python benchmarks/bench_gpu.py [--steps 20]      # on a machine with CUDA; see benchmarks/gpu_check.sh

For each registered family: the ``tiny`` preset at batch 64, a mid-size preset (~100-300M
parameters: the tiny architecture widened and deepened, stated per row), and X-VLA ``paper``'s step
time at batch 8. bf16 autocast, fused AdamW, optionally torch.compile (``--compile``).
Writes benchmarks/results/gpu.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

MID = {  # family: overrides that make a ~100-300M-parameter model of the same architecture
    "xvla": dict(width=1024, depth=12, heads=16),
    "bc": dict(hidden=4096, depth=4, token_dim=256),
    "univla_ar": dict(dim=1024, depth=12, heads=16),
    "internvla_a1": dict(und_width=1024, gen_width=768, act_width=768, depth=12, heads=16, head_dim=64),
}


def measure(family: str, preset: str, overrides: dict, batch: int, steps: int, compile_: bool) -> dict:
    from vlaforge.core.normalize import Normalizer
    from vlaforge.core.registry import get_family
    from vlaforge.embodiments import get_embodiment
    from vlaforge.testing import fake_batch, fake_stats

    specs = [get_embodiment("metaworld_sawyer")]
    cfg = get_family(family).from_preset(preset, text_encoder="hash", **overrides)
    policy = cfg.create(Normalizer(fake_stats(specs), specs, cfg.norm_mode), specs).cuda().train()
    stage = cfg.stages()[-1]
    policy.set_stage(stage.name)
    if hasattr(policy, "prepare"):
        from vlaforge.testing import fake_train_data

        policy.prepare(fake_train_data(cfg, specs, stage=stage.name))
    fwd = torch.compile(policy) if compile_ else policy
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, 1e-4, fused=True)
    b = {k: v.cuda(non_blocking=True) if torch.is_tensor(v) else v
         for k, v in fake_batch(cfg, specs, batch, stage).items()}
    torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(steps + 3):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss, _ = fwd(b)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    step = sorted(times[3:])[len(times[3:]) // 2]
    return {"family": family, "preset": preset, "overrides": overrides, "batch": batch,
            "params_m": round(sum(p.numel() for p in policy.parameters()) / 1e6, 1),
            "step_ms": round(1000 * step, 2), "samples_per_s": round(batch / step, 1),
            "peak_mem_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2), "compile": compile_}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--out", default="benchmarks/results/gpu.json")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run this on a GPU machine (benchmarks/gpu_check.sh)")
    from vlaforge.core.registry import FAMILIES

    rows = []
    for family, cls in FAMILIES.items():
        if not cls.__module__.startswith("vlaforge.models."):
            continue
        for preset, kw, batch in (("tiny", {}, 64), ("tiny", MID.get(family, {}), 32)):
            try:
                rows.append(measure(family, preset, kw, batch, a.steps, a.compile))
            except Exception as e:  # noqa: BLE001 - record and go on: one family must not hide the others
                rows.append({"family": family, "preset": preset, "overrides": kw, "error": repr(e)[:300]})
            print(rows[-1], flush=True)
    rows.append(measure("xvla", "paper", {}, 8, max(5, a.steps // 4), a.compile))
    print(rows[-1], flush=True)
    info = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
            "date": time.strftime("%Y-%m-%d %H:%M"), "command": "python benchmarks/bench_gpu.py", "rows": rows}
    Path(a.out).write_text(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
