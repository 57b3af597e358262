"""The shared MT10 protocol for any recipe: train within the budget, evaluate, record a leaderboard row.

    python benchmarks/bench_mt10.py --recipe bc_tiny_mt10                 # 45 min + eval
    python benchmarks/bench_mt10.py --recipe xvla_tiny_mt10 --tag xvla_l1 --override=--policy.objective=l1
    python benchmarks/bench_mt10.py --recipe xvla_tiny_mt10 --skip-train --tag xvla_tiny   # re-evaluate
    python benchmarks/bench_mt10.py --recipe bc_tiny_mt10 --minutes 1 --episodes-per-task 1 --tag smoke

Protocol (../shared/DESIGN.md): data/mt10_64 (50 expert demos per task, corner2 + gripperPOV 64x64),
<= 45 minutes of training wall time, 10 episodes per task on seeds 10,000+ (checked against the
dataset's seeds), <= 500 steps, the policy's own actions-per-chunk unless --n-action-steps.
Writes benchmarks/results/mt10/<tag>/{results.json, results.md, success.png, videos/}; the
``benchmark`` block of results.json is what `vlaforge leaderboard` reads.
"""

from __future__ import annotations

import json
import shlex
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from vlaforge.core.machine import describe_machine


@dataclass
class Args:
    recipe: str
    tag: str | None = None
    """Name of this run (default: the recipe name): run dir runs/bench/<tag>, results benchmarks/results/mt10/<tag>."""
    override: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """Extra `vlaforge train` flags for the recipe, each as one ``--override=--FIELD=VALUE`` (repeatable; tyro
    cannot take a value that starts with a dash after a space), e.g.
    --override=--policy.chunk-size=8 --override=--optim.lr=1e-4."""
    minutes: float = 45.0
    """Training wall-time budget (the protocol's cap is 45)."""
    steps: int | None = None
    episodes_per_task: int = 10
    data: str = "data/mt10_64"
    """Dataset root the recipe trains on; several roots joined by commas train on all of them."""
    init_from: str | None = None
    """Checkpoint of a previous stage (default: the recipe chain's predecessor run, if the recipe has one)."""
    n_action_steps: int | None = None
    temporal_ensemble: float | None = None
    """Evaluate with ACT's temporal ensembling at this k (off-protocol: the protocol queues the policy's actions per
    chunk); a chunk every --query-every steps. See ``vlaforge eval --temporal-ensemble``."""
    query_every: int = 1
    workers: int = 2
    threads: int = 2
    seed: int = 0
    resume: bool = False
    skip_train: bool = False
    """Evaluate the run's last checkpoint without training."""
    videos_per_task: int = 1
    set: tuple[str, ...] = ()
    """Inference-time config overrides for the evaluation (KEY=VALUE, as `vlaforge eval --set`)."""
    note: str = ""
    """Free text stored with the result (what this variant changes)."""
    extra: dict = field(default_factory=dict)


def data_roots(a: Args) -> tuple[str, ...]:
    """``--data`` as dataset roots: one directory, or several joined by commas (trained on together)."""
    return tuple(r for r in a.data.split(",") if r)


def train_config(a: Args, tag: str):
    from vlaforge.cli.train import parse_stage
    from vlaforge.train.recipes import get_recipe, resolve_init_from

    cfg = parse_stage(a.recipe, list(a.override))
    cfg.data.roots = data_roots(a) if cfg.data.roots and cfg.data.roots[0] == "data/mt10_64" else cfg.data.roots
    cfg.out_dir, cfg.seed, cfg.resume, cfg.num_threads = f"runs/bench/{tag}", a.seed, a.resume, a.threads
    cfg.time_budget_minutes, cfg.steps = a.minutes, a.steps
    cfg.init_from = a.init_from
    return resolve_init_from(get_recipe(a.recipe), cfg)


def chunk_latency_ms(checkpoint: Path, reps: int = 30, overrides: dict | None = None) -> float:
    """Median batch-1 ``predict_action_chunk`` time on fake observations, 2 threads, the precision
    ``auto`` picks for this CPU; ``overrides``: the evaluation's ``--set`` fields (e.g. fewer denoising steps)."""
    import torch

    from vlaforge.core.checkpoint import load_policy
    from vlaforge.testing import fake_batch, observation

    from vlaforge.train.trainer import resolve_precision

    torch.set_num_threads(2)
    bf16 = resolve_precision("auto") == "bf16"
    policy = load_policy(checkpoint, policy_overrides=overrides or None)
    specs = list(policy.embodiments.values())
    obs = observation(fake_batch(policy.config, specs, 1))
    times = []
    for i in range(reps + 3):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            policy.predict_action_chunk(obs, generator=torch.Generator().manual_seed(i))
        times.append(time.perf_counter() - t0)
    return round(1000 * statistics.median(times[3:]), 2)


def main(argv: list[str] | None = None) -> int:
    from vlaforge.cli.eval import parse_overrides
    from vlaforge.data.lerobot import load_meta
    from vlaforge.sim.evaluate import TemporalEnsemble, run_eval
    from vlaforge.sim.report import write_outputs
    from vlaforge.sim.sources import CheckpointSource
    from vlaforge.train.trainer import last_checkpoint, train

    a = tyro.cli(Args, args=argv)
    tag = a.tag or a.recipe
    out = Path("benchmarks/results/mt10") / tag
    cfg = train_config(a, tag)
    t0 = time.perf_counter()
    if a.skip_train:
        ckpt = last_checkpoint(cfg.out_dir)
        summary = json.loads((Path(cfg.out_dir) / "train_summary.json").read_text())
    else:
        result = train(cfg)
        ckpt, summary = result.checkpoint, result.summary
    metas = {r: load_meta(r) for r in data_roots(a)}
    seeds = None if any(m.episodes.get("seed") is None for m in metas.values()) else \
        [s for m in metas.values() for s in m.episodes["seed"]]
    results = run_eval(CheckpointSource(str(ckpt), parse_overrides(a.set)), "mt10", a.episodes_per_task,
                       seed_start=10_000, max_steps=500, n_action_steps=a.n_action_steps, workers=a.workers,
                       out_dir=out, videos_per_task=a.videos_per_task,
                       training_seeds=None if seeds is None else {int(s) for s in seeds},
                       ensemble=None if a.temporal_ensemble is None else TemporalEnsemble(a.temporal_ensemble,
                                                                                          a.query_every))
    results["benchmark"] = {
        "protocol": protocol_line(results, {r: m.info.get("total_episodes") for r, m in metas.items()}),
        "tag": tag, "recipe": a.recipe, "family": cfg.policy.family, "preset": cfg.policy.preset, "note": a.note,
        "command": "python benchmarks/bench_mt10.py " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:])),
        "args": asdict(a), "train": summary, "train_minutes": round(summary["train_seconds"] / 60, 2),
        "checkpoint": str(ckpt), "chunk_latency_ms": chunk_latency_ms(ckpt, overrides=parse_overrides(a.set)),
        "machine": describe_machine(a.threads),
        "total_minutes": round((time.perf_counter() - t0) / 60, 2), "date": time.strftime("%Y-%m-%d %H:%M"),
        **a.extra}
    write_outputs(results, out)
    _print(results)
    return 0


def protocol_line(results: dict, data: dict[str, int | None]) -> str:
    """The protocol as this run met it: the datasets it trained on with their episode counts (the protocol's 50
    demos per task, or those plus DART / DAgger rounds), the views' cameras and size from the evaluation (the
    protocol's 64x64, or the size an image-size ablation trained at)."""
    h, w = results.get("image_size") or (64, 64)
    cams = "+".join(results.get("cameras") or ("corner2", "gripperPOV"))
    trained = " + ".join(f"{root} ({n if n is not None else '?'} episodes)" for root, n in data.items())
    return f"MT10, trained on {trained}, {cams} {h}x{w}, <=45 min training, 10 eps/task from seed 10000"


def _print(results: dict) -> None:
    b = results["benchmark"]
    print(f"\n{b['tag']} ({b['family']}/{b['preset']}), MT10, {results['episodes_per_task']} episodes/task from seed "
          f"{results['seed_start']}, " + (f"temporal ensembling {results['temporal_ensemble']}"
                                           if results.get("temporal_ensemble") else
                                           f"{results['n_action_steps']} actions per chunk"))
    for task, r in results["per_task"].items():
        print(f"  {task:<28} {100 * r['success_rate']:5.1f}%")
    print(f"  {'mean':<28} {100 * results['mean_success']:5.1f}%")
    t = b["train"]
    print(f"training: {t['steps']} steps in {b['train_minutes']:.1f} min ({t['samples_per_s']} samples/s); "
          f"chunk {b['chunk_latency_ms']} ms; total {b['total_minutes']:.1f} min")


if __name__ == "__main__":
    sys.exit(main())
