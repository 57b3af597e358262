"""Where X-VLA tiny's time goes, and what each speed change buys (issue 15, section 2).

    python benchmarks/profile_xvla.py                 # profile + variants, ~5 min on 2 cores
    python benchmarks/profile_xvla.py --quick         # fewer repetitions
    python benchmarks/profile_xvla.py --only FiLM --out benchmarks/results/profile_xvla_keypoints.json
                                                      # the variants whose name holds FiLM (session 23's keypoints)

1. torch.profiler summaries (top ops by self CPU time) of one training step (batch 32, bf16
   autocast) and one ``predict_action_chunk`` at batch 1.
2. Training samples/s and batch-1 chunk latency for variants that change one thing:
   precision, denoising steps, inference mode, tokens per view, one-pass regression, and prefix
   attention (the context's keys/values cached across denoising steps), SDPA against the explicit bf16
   attention path, and the ``xvla_fast_mt10`` stem.
   Each variant's chunk is compared with the default's on the same noise (max abs difference).
Writes benchmarks/results/profile_xvla.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from vlaforge.core.machine import describe_machine
from vlaforge.core.normalize import Normalizer
from vlaforge.embodiments import get_embodiment
from vlaforge.models.xvla import XVLAConfig
from vlaforge.nn import attention
from vlaforge.testing import fake_batch, fake_stats, observation
from vlaforge.train.trainer import resolve_precision

BF16 = resolve_precision("auto") == "bf16"  # what the trainer's precision='auto' uses on this CPU

SPECS = [get_embodiment("metaworld_sawyer")]
FAST_STEM = (16, 32, 64, 128, 128)  # the xvla_fast_mt10 recipe's stem


def build(seed: int = 0, **kw):
    torch.manual_seed(seed)
    cfg = XVLAConfig.from_preset("tiny", text_encoder="minilm", **kw)
    return cfg.create(Normalizer(fake_stats(SPECS), SPECS, cfg.norm_mode), SPECS)


def autocast(bf16: bool):
    return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def train_rate(policy, batch_size: int, bf16: bool, steps: int) -> float:
    policy.train()
    opt = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], 1e-4)
    b = fake_batch(policy.config, SPECS, batch_size, seed=1)
    times = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        with autocast(bf16):
            loss, _ = policy(b)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    return batch_size / statistics.median(times[2:])


def chunk_ms(policy, bf16: bool, reps: int, inference_mode: bool = False) -> tuple[float, torch.Tensor]:
    policy.eval()
    obs = observation(fake_batch(policy.config, SPECS, 1, seed=2))
    ctx = torch.inference_mode() if inference_mode else torch.no_grad()
    times, out = [], None
    with ctx:
        for i in range(reps + 3):
            t0 = time.perf_counter()
            with autocast(bf16):
                out = policy.predict_action_chunk(obs, generator=torch.Generator().manual_seed(0))
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times[3:]), out


def profile_table(fn, rows: int = 12) -> str:
    from torch.profiler import ProfilerActivity, profile

    fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/profile_xvla.json")
    ap.add_argument("--only", default="", help="run only the variants whose name contains this string")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    steps, reps = (4, 10) if a.quick else (10, 30)
    res: dict = {"precision_auto": "bf16" if BF16 else "fp32", "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                 "command": "python benchmarks/profile_xvla.py " + " ".join(sys.argv[1:]),
                 "date": time.strftime("%Y-%m-%d %H:%M"), "threads": a.threads,
                 "machine": describe_machine()}

    pol = build()
    b = fake_batch(pol.config, SPECS, 32, seed=1)

    def train_step():
        pol.train()
        with autocast(BF16):
            loss, _ = pol(b)
        loss.backward()
        pol.zero_grad(set_to_none=True)

    obs = observation(fake_batch(pol.config, SPECS, 1, seed=2))

    def chunk():
        pol.eval()
        with torch.no_grad(), autocast(BF16):
            pol.predict_action_chunk(obs, generator=torch.Generator().manual_seed(0))

    res["profile_train_step_bf16_b32"] = profile_table(train_step)
    res["profile_chunk_bf16_b1"] = profile_table(chunk)
    print(res["profile_train_step_bf16_b32"])
    print(res["profile_chunk_bf16_b1"])

    ref_ms, ref = chunk_ms(build(), BF16, reps)
    p = "bf16" if BF16 else "fp32"
    variants = {
        f"default ({p}, 10 steps)": dict(bf16=BF16),
        "bf16 autocast" if not BF16 else "fp32": dict(bf16=not BF16),
        f"{p}, inference_mode": dict(bf16=BF16, inference_mode=True),
        f"{p}, 5 denoising steps": dict(bf16=BF16, cfg=dict(num_inference_steps=5)),
        f"{p}, 3 denoising steps": dict(bf16=BF16, cfg=dict(num_inference_steps=3)),
        f"{p}, 4 tokens per view (5 stem stages)": dict(bf16=BF16, cfg=dict(stem_channels=(32, 64, 128, 256, 256))),
        f"{p}, regression objective (one pass)": dict(bf16=BF16, cfg=dict(objective="regression")),
        f"{p}, regression + 4 tokens per view": dict(bf16=BF16, cfg=dict(objective="regression",
                                                                        stem_channels=(32, 64, 128, 256, 256))),
        f"{p}, prefix attention (context cached)": dict(bf16=BF16, cfg=dict(attention="prefix")),
        f"{p}, prefix + 4 tokens per view": dict(bf16=BF16, cfg=dict(attention="prefix",
                                                                    stem_channels=(32, 64, 128, 256, 256))),
        f"{p}, prefix + 4 tokens + 3 steps": dict(bf16=BF16, cfg=dict(attention="prefix", num_inference_steps=3,
                                                                     stem_channels=(32, 64, 128, 256, 256))),
        f"{p}, prefix + 4 tokens + 2 steps": dict(bf16=BF16, cfg=dict(attention="prefix", num_inference_steps=2,
                                                                     stem_channels=(32, 64, 128, 256, 256))),
        f"{p}, SDPA attention (not the explicit bf16 path)": dict(bf16=BF16, explicit_attention=False),
        f"{p}, fast stem (16..128, 4 tokens per view)": dict(bf16=BF16, cfg=dict(stem_channels=FAST_STEM)),
        f"{p}, fast stem + SDPA attention": dict(bf16=BF16, explicit_attention=False,
                                                 cfg=dict(stem_channels=FAST_STEM)),
        f"{p}, fast stem + prefix + 5 steps": dict(bf16=BF16, cfg=dict(stem_channels=FAST_STEM, attention="prefix",
                                                                       num_inference_steps=5)),
        f"{p}, fast stem + regression (one pass)": dict(bf16=BF16, cfg=dict(stem_channels=FAST_STEM,
                                                                            objective="regression")),
        f"{p}, fast stem + FiLM": dict(bf16=BF16, cfg=dict(stem_channels=FAST_STEM, instruction_film=True)),
        f"{p}, fast stem + FiLM + 32 keypoints": dict(bf16=BF16, cfg=dict(stem_channels=FAST_STEM,
                                                                          instruction_film=True, stem_keypoints=32)),
    }
    variants = {k: v for k, v in variants.items() if a.only in k}
    rows = {}
    for name, v in variants.items():
        pol_v = build(**v.get("cfg", {}))
        attention.EXPLICIT_CPU_BF16 = v.get("explicit_attention", True)
        ms, out = chunk_ms(pol_v, v["bf16"], reps, v.get("inference_mode", False))
        same_net = not ({"stem_channels", "objective", "attention", "instruction_film", "stem_keypoints"}
                        & set(v.get("cfg", {})))
        rows[name] = {"chunk_ms": round(ms, 2), "train_samples_per_s": round(train_rate(pol_v, 64, v["bf16"], steps), 1),
                      "max_abs_diff_vs_default": float((out - ref).abs().max()) if same_net else None}
        print(f"{name:<42} chunk {ms:6.1f} ms   train {rows[name]['train_samples_per_s']:6.1f} samples/s   "
              f"diff {rows[name]['max_abs_diff_vs_default']}", flush=True)
        attention.EXPLICIT_CPU_BF16 = True
    res["variants"] = rows
    res["reference_chunk_ms"] = round(ref_ms, 2)
    Path(a.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
