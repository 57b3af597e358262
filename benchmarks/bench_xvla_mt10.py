"""The shared MT10 protocol for X-VLA tiny: train within the time budget, then evaluate.

    python benchmarks/bench_xvla_mt10.py                      # the real run: 45 min + eval
    python benchmarks/bench_xvla_mt10.py --minutes 1 --episodes-per-task 1   # smoke test

Data: data/mt10_64 (50 expert demos per MT10 task, corner2 + gripperPOV at 64x64;
collect with `vlaforge collect metaworld --tasks mt10 --episodes-per-task 50 --out data/mt10_64`).
Evaluation: ``episodes_per_task`` episodes per task on seeds 10,000+, at most 500 steps,
``n_action_steps`` actions executed per chunk (stated in the results).
Writes benchmarks/results/xvla_mt10/{results.json, results.md, success.png, videos/}.
"""

from __future__ import annotations

import json
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Args:
    minutes: float = 45.0
    """Training wall-time budget (the protocol's cap is 45)."""
    steps: int | None = None
    """Optional step cap (the budget alone decides by default)."""
    episodes_per_task: int = 10
    data: str = "data/mt10_64"
    run_dir: str = "runs/bench_xvla_mt10"
    """Training output (checkpoints, metrics, loss curve)."""
    out: str = "benchmarks/results/xvla_mt10"
    n_action_steps: int | None = None
    """Actions executed per predicted chunk (None: the policy config's own value)."""
    workers: int = 2
    threads: int = 2
    """torch threads for training (1 when other jobs share the cores: oversubscription is ~6x slower)."""
    seed: int = 0
    resume: bool = False
    """Continue an interrupted training run in run_dir."""
    skip_train: bool = False
    """Evaluate run_dir's last checkpoint without training."""


def train_stage(a: Args):
    from vlaforge.train.recipes import get_recipe
    from vlaforge.train.trainer import train

    cfg = get_recipe("xvla_tiny_mt10")()
    cfg.data.roots = (a.data,)
    cfg.out_dir, cfg.seed, cfg.resume, cfg.num_threads = a.run_dir, a.seed, a.resume, a.threads
    cfg.time_budget_minutes, cfg.steps = a.minutes, a.steps
    return train(cfg)


def eval_stage(a: Args, checkpoint: Path) -> dict:
    from vlaforge.data.lerobot import load_meta
    from vlaforge.sim.evaluate import run_eval

    seeds = load_meta(a.data).episodes.get("seed")
    return run_eval(str(checkpoint), "mt10", a.episodes_per_task, seed_start=10_000, max_steps=500,
                    n_action_steps=a.n_action_steps, workers=a.workers, out_dir=a.out, videos_per_task=1,
                    training_seeds=None if seeds is None else {int(s) for s in seeds})


def main(argv: list[str] | None = None) -> int:
    import tyro

    a = tyro.cli(Args, args=argv)
    t0 = time.perf_counter()
    if a.skip_train:
        from vlaforge.train.trainer import last_checkpoint

        ckpt = last_checkpoint(a.run_dir)
        summary = json.loads((Path(a.run_dir) / "train_summary.json").read_text())
    else:
        result = train_stage(a)
        ckpt, summary = result.checkpoint, result.summary
    results = eval_stage(a, ckpt)
    results["benchmark"] = {
        "protocol": "MT10, 50 demos/task, corner2+gripperPOV 64x64, <=45 min training, 10 eps/task from seed 10000",
        "family": "xvla", "preset": "tiny", "command": "python " + " ".join(shlex.quote(x) for x in sys.argv),
        "args": asdict(a), "train": summary, "train_minutes": round(summary["train_seconds"] / 60, 2),
        "machine": f"{platform.processor() or platform.machine()}, 2-core CPU, no GPU",
        "total_minutes": round((time.perf_counter() - t0) / 60, 2), "date": time.strftime("%Y-%m-%d %H:%M")}
    from vlaforge.sim.report import write_outputs

    write_outputs(results, a.out)
    _print(results)
    return 0


def _print(results: dict) -> None:
    b = results["benchmark"]
    print(f"\nX-VLA tiny, MT10, {results['episodes_per_task']} episodes/task from seed {results['seed_start']}, "
          f"{results['n_action_steps']} actions per chunk")
    for task, r in results["per_task"].items():
        print(f"  {task:<28} {100 * r['success_rate']:5.1f}%")
    print(f"  {'mean':<28} {100 * results['mean_success']:5.1f}%")
    print(f"training: {b['train']['steps']} steps in {b['train_minutes']:.1f} min; total {b['total_minutes']:.1f} min")
    print(f"results: {b['args']['out']}/results.json")


if __name__ == "__main__":
    sys.exit(main())
