"""X-VLA tiny speed on CPU: training throughput and per-chunk inference latency.

    python benchmarks/bench_xvla_speed.py                 # ~2-3 minutes on 2 cores
    python benchmarks/bench_xvla_speed.py --train-steps 5 --latency-reps 10   # quick look

Training: batch 64, the tiny preset, 2 cameras at 64x64, chunk 16, AdamW step + clip 1.0,
fp32 and bf16 autocast, ``--threads`` torch threads. Inference: ``predict_action_chunk``
at batch 1 (10 Euler steps), median of ``--latency-reps`` calls, fp32 and bf16.
Prints the figures and writes benchmarks/results/xvla_speed.json. The 1-minute load
average is recorded, since other processes on a shared machine slow every figure.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from vlaforge.core.machine import describe_machine

MT10_TASKS = ("reach", "push", "pick-place", "door-open", "drawer-open", "drawer-close", "button-press-topdown",
              "peg-insert-side", "window-open", "window-close")


@dataclass
class Args:
    batch_size: int = 64
    train_steps: int = 20
    """Timed optimizer steps per precision (after 3 warm-up steps)."""
    latency_reps: int = 100
    threads: int = 2
    text_encoder: str = "minilm"
    out: str = "benchmarks/results/xvla_speed.json"


def build_policy(text_encoder: str):
    from vlaforge.core.normalize import Normalizer
    from vlaforge.embodiments import get_embodiment
    from vlaforge.models.xvla import XVLAConfig

    spec = get_embodiment("metaworld_sawyer")
    stats = {spec.name: {"observation.state": {"mean": [0.0, 0.6, 0.15, 0.5], "std": [0.1, 0.1, 0.1, 0.3]},
                         "action": {"mean": [0.0] * 4, "std": [0.5] * 4}}}
    cfg = XVLAConfig.from_preset("tiny", text_encoder=text_encoder, chunk_size=16,
                                 cameras=("corner2", "gripperPOV"), image_size=(64, 64))
    return cfg.create(Normalizer(stats, [spec]), [spec]), spec


def fake_batch(B: int, spec, H: int = 16) -> dict:
    g = torch.Generator().manual_seed(0)
    img = lambda: torch.randint(0, 256, (B, 1, 3, 64, 64), dtype=torch.uint8, generator=g)  # noqa: E731
    return {"observation.images.corner2": img(), "observation.images.gripperPOV": img(),
            "observation.state": torch.randn(B, 1, 4, generator=g),
            "action": torch.rand(B, H, 4, generator=g) * 2 - 1,
            "action_is_pad": torch.zeros(B, H, dtype=torch.bool),
            "task": [f"{MT10_TASKS[i % 10]} task" for i in range(B)],
            "embodiment": [spec.name] * B, "has_action": torch.ones(B, dtype=torch.bool)}


def autocast(bf16: bool):
    return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()


def train_throughput(policy, batch: dict, steps: int, bf16: bool) -> float:
    policy.train()
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-4, betas=(0.9, 0.95))

    def step() -> None:
        with autocast(bf16):
            loss, _ = policy(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * len(batch["task"]) / (time.perf_counter() - t0)


def chunk_latency_ms(policy, obs: dict, reps: int, bf16: bool) -> float:
    policy.eval()
    times = []
    for i in range(reps + 3):
        g = torch.Generator().manual_seed(i)
        t0 = time.perf_counter()
        with autocast(bf16):
            policy.predict_action_chunk(obs, generator=g)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times[3:])


def main(argv: list[str] | None = None) -> dict:
    import tyro

    a = tyro.cli(Args, args=argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    policy, spec = build_policy(a.text_encoder)
    n_params = sum(p.numel() for p in policy.parameters())
    batch = fake_batch(a.batch_size, spec)
    obs = {k: v[:1] for k, v in fake_batch(1, spec).items() if k not in ("action", "action_is_pad", "has_action")}
    res: dict = {"benchmark": "xvla_speed", "date": time.strftime("%Y-%m-%d %H:%M"),
                 "command": "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
                 "machine": describe_machine(),
                 "torch": torch.__version__, "threads": a.threads, "params": n_params, "args": asdict(a),
                 "load_avg_1min_before": os.getloadavg()[0]}
    for name, bf16 in (("fp32", False), ("bf16", True)):
        res[f"train_samples_per_s_{name}"] = round(train_throughput(policy, batch, a.train_steps, bf16), 1)
        res[f"chunk_latency_ms_{name}"] = round(chunk_latency_ms(policy, obs, a.latency_reps, bf16), 2)
        print(f"{name}: train {res[f'train_samples_per_s_{name}']} samples/s (batch {a.batch_size}), "
              f"inference {res[f'chunk_latency_ms_{name}']} ms per chunk (batch 1, 10 steps)", flush=True)
    res["load_avg_1min_after"] = os.getloadavg()[0]
    print(f"params {n_params / 1e6:.2f}M; load average 1 min {res['load_avg_1min_before']:.1f} -> "
          f"{res['load_avg_1min_after']:.1f}")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    print(f"wrote {out}")
    return res


if __name__ == "__main__":
    main()
