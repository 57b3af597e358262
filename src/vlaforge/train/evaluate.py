"""Closed-loop evaluation during training: a few episodes per task through the sim runner."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from vlaforge.train.config import EvalConfig


def evaluate_during_training(model: nn.Module, cfg: EvalConfig, out_dir: Path) -> dict[str, float]:
    """Run ``vlaforge.sim.evaluate.run_eval`` on the live model; return scalars for metrics.jsonl / TensorBoard.

    With ``cfg.workers == 1`` the model runs in this process (nothing is pickled); the
    executed-actions-per-chunk is the policy's own ``n_action_steps``."""
    if not hasattr(model, "select_action"):
        raise ValueError(f"{type(model).__name__} is not a closed-loop policy; drop --eval-every for it")
    import torch

    from vlaforge.sim.evaluate import run_eval
    from vlaforge.sim.sources import InProcessSource

    threads = torch.get_num_threads()
    if cfg.workers <= 1:  # spinning OpenMP threads starve the software renderer: 2 threads ran 4x slower
        torch.set_num_threads(1)
    try:
        source = InProcessSource(model, f"{model.config.family} (training)")
        results = run_eval(source, cfg.suite, cfg.episodes_per_task, seed_start=cfg.seed_start, max_steps=cfg.max_steps,
                           workers=cfg.workers, out_dir=out_dir, videos_per_task=0, progress=False)
    finally:
        torch.set_num_threads(threads)
    metrics = {"eval/success_mean": results["mean_success"]}
    metrics.update({f"eval/{t.removesuffix('-v3')}": r["success_rate"] for t, r in results["per_task"].items()})
    return metrics
