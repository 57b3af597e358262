"""GPU figures for every family (issue 13): training samples/s, peak memory and chunk latency on synthetic batches.

    python benchmarks/bench_gpu.py [--steps 20]      # on a machine with CUDA; see benchmarks/gpu_check.sh

For each registered family: the ``tiny`` preset at batch 64, a mid-size preset (~100-300M
parameters: the tiny architecture widened and deepened, stated per row), and X-VLA ``paper``'s step
time at batch 8. bf16 autocast, fused AdamW, optionally torch.compile (``--compile``). Then each family's
``tiny`` ``predict_action_chunk`` at batch 1 (bf16 autocast, CUDA-synchronised, median of 20 after 3 warm-ups):
the serving figure, against the CPU's in BENCHMARKS.md. Writes benchmarks/results/gpu.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

DEVICE = "cuda"  # --device cpu: a smoke run of this script where there is no GPU (the figures mean nothing there)


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


MID = {  # family: overrides that make a ~100-300M-parameter model of the same architecture
    "xvla": dict(width=1024, depth=12, heads=16),
    "bc": dict(hidden=4096, depth=4, token_dim=256),
    "univla_ar": dict(dim=1024, depth=12, heads=16),
    "internvla_a1": dict(und_width=1024, gen_width=768, act_width=768, depth=12, heads=16, head_dim=64),
}


def build(family: str, preset: str, overrides: dict):
    """The family's policy for its last stage on ``DEVICE``, fitted to fake data where it fits something
    (UniVLA-AR's FAST tokenizer); returns (config, specs, stage, policy)."""
    from vlaforge.core.normalize import Normalizer
    from vlaforge.core.registry import get_family
    from vlaforge.embodiments import get_embodiment
    from vlaforge.testing import fake_stats, fake_train_data

    specs = [get_embodiment("metaworld_sawyer")]
    cfg = get_family(family).from_preset(preset, text_encoder="hash", **overrides)
    policy = cfg.create(Normalizer(fake_stats(specs), specs, cfg.norm_mode), specs).to(DEVICE)
    stage = cfg.stages()[-1]
    policy.set_stage(stage.name)
    if hasattr(policy, "prepare"):
        policy.prepare(fake_train_data(cfg, specs, stage=stage.name))
    return cfg, specs, stage, policy


def median_after_warmup(times: list[float], warmup: int = 3) -> float:
    """The upper median of the timings after the warm-up calls."""
    kept = sorted(times[warmup:])
    return kept[len(kept) // 2]


def measure(family: str, preset: str, overrides: dict, batch: int, steps: int, compile_: bool) -> dict:
    from vlaforge.testing import fake_batch

    cfg, specs, stage, policy = build(family, preset, overrides)
    policy.train()
    torch._dynamo.reset()  # a fresh compile per model: no shapes carried over from the previous one
    fwd = torch.compile(policy) if compile_ else policy
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, 1e-4, fused=DEVICE == "cuda")
    b = {k: v.to(DEVICE, non_blocking=True) if torch.is_tensor(v) else v
         for k, v in fake_batch(cfg, specs, batch, stage).items()}
    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps + 3):
        sync()
        t0 = time.perf_counter()
        with torch.autocast(DEVICE, dtype=torch.bfloat16):
            loss, _ = fwd(b)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        times.append(time.perf_counter() - t0)
    step = median_after_warmup(times)
    return {"family": family, "preset": preset, "overrides": overrides, "batch": batch,
            "params_m": round(sum(p.numel() for p in policy.parameters()) / 1e6, 1),
            "step_ms": round(1000 * step, 2), "samples_per_s": round(batch / step, 1),
            "peak_mem_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if DEVICE == "cuda" else None,
            "compile": compile_}


def chunk_latency(family: str, reps: int = 20) -> dict:
    """Batch-1 ``predict_action_chunk`` time of the ``tiny`` preset on ``DEVICE``, in milliseconds."""
    from vlaforge.testing import fake_batch, observation

    cfg, specs, stage, policy = build(family, "tiny", {})
    policy.eval()
    obs = observation(fake_batch(cfg, specs, 1, stage))
    obs = {k: v.to(DEVICE) if torch.is_tensor(v) else v for k, v in obs.items()}
    times = []
    with torch.inference_mode():
        for _ in range(reps + 3):
            sync()
            t0 = time.perf_counter()
            with torch.autocast(DEVICE, dtype=torch.bfloat16):
                chunk = policy.predict_action_chunk(obs)
            sync()
            times.append(time.perf_counter() - t0)
    assert torch.isfinite(chunk.float()).all(), f"{family}: non-finite actions on {DEVICE}"
    return {"family": family, "preset": "tiny", "batch": 1, "chunk_shape": list(chunk.shape),
            "chunk_ms": round(1000 * median_after_warmup(times), 2)}


def recorded(rows: list[dict], fn, *args, **what) -> None:
    """Append ``fn(*args)``, or the error it raised with ``what`` names it: one family must not hide the others."""
    try:
        rows.append(fn(*args))
    except Exception as e:  # noqa: BLE001 - recorded, and the next one runs
        rows.append({**what, "error": repr(e)[:300]})
    print(rows[-1], flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--out", default="benchmarks/results/gpu.json")
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--families", default="", help="comma-separated family names (default: every family)")
    a = ap.parse_args()
    global DEVICE
    DEVICE = a.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run this on a GPU machine (benchmarks/gpu_check.sh)")
    from vlaforge.core.registry import FAMILIES

    names = [f for f, cls in FAMILIES.items() if cls.__module__.startswith("vlaforge.models.")]
    if a.families:
        unknown = set(a.families.split(",")) - set(names)
        if unknown:
            raise SystemExit(f"--families: unknown {sorted(unknown)}; registered: {names}")
        names = a.families.split(",")
    rows, latency = [], []
    for family in names:
        for preset, kw, batch in (("tiny", {}, 64), ("tiny", MID.get(family, {}), 32)):
            recorded(rows, measure, family, preset, kw, batch, a.steps, a.compile,
                     family=family, preset=preset, overrides=kw)
    if "xvla" in names:
        recorded(rows, measure, "xvla", "paper", {}, 8, max(5, a.steps // 4), a.compile, family="xvla", preset="paper")
    for family in names:
        recorded(latency, chunk_latency, family, family=family)
    device = torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu (smoke run)"
    info = {"device": device, "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M"),
            "command": "python benchmarks/bench_gpu.py " + " ".join(sys.argv[1:]), "rows": rows, "latency": latency}
    Path(a.out).write_text(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
