"""`vlaforge demo`: collect a small Meta-World set, train X-VLA tiny, evaluate, write a report.

Everything lands under ``--out`` (default runs/demo): ``data/`` (LeRobot v3, reused when
complete), ``train/`` (checkpoints, metrics, loss curve) and ``report/`` (README.md with
the success table, the loss curve, the success chart and rollout videos).
Budget on a 2-core CPU: ~2-3 min collecting, 8.5 min training, ~2 min evaluating.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# Tasks the tiny policy learns from 64x64 pixels within minutes (short, visually clear motions).
DEFAULT_TASKS = "button-press-topdown,drawer-close,window-close"


@dataclass
class DemoConfig:
    """Collect -> train -> evaluate -> report, in one command."""

    out: str = "runs/demo"
    """Folder for data/, train/ and report/."""
    tasks: str = DEFAULT_TASKS
    """Meta-World tasks (comma list or a suite such as mt10)."""
    demos_per_task: int = 25
    """Scripted-expert demonstrations collected per task (seeds 0, 1, ...)."""
    train_minutes: float = 8.5
    """Wall-time budget of the training loop."""
    episodes_per_task: int = 6
    """Evaluation episodes per task, on held-out seeds 10,000+."""
    max_steps: int = 200
    """Evaluation episode cap: about twice the expert's episode length on these tasks (the MT10
    protocol's 500 is for benchmark figures; failures cost the most time here)."""
    workers: int = 2
    """Simulator processes for collection and evaluation."""
    videos_per_task: int = 1
    seed: int = 0
    recipe: str = "xvla_demo"
    """Training recipe; its data root, out dir and budget are replaced by the demo's."""


def main(argv: list[str]) -> int:
    import tyro

    cfg = tyro.cli(DemoConfig, args=argv, prog="vlaforge demo",
                   description="Collect a small Meta-World set, train X-VLA tiny, evaluate on held-out seeds, "
                               "and write a report. Needs no arguments.")
    return run_demo(cfg)


def run_demo(cfg: DemoConfig) -> int:
    out = Path(cfg.out)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    data_dir = _collect(cfg, out / "data")
    times["collect"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = _train(cfg, data_dir, out / "train")
    times["train"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    results = _evaluate(cfg, result.checkpoint, data_dir, out / "report" / "eval")
    times["eval"] = time.perf_counter() - t2
    times["total"] = time.perf_counter() - t0
    readme = write_report(out / "report", cfg, result, results, times)
    _print_table(results, times, readme)
    return 0


# ---- stages -------------------------------------------------------------------------

def _collect(cfg: DemoConfig, data_dir: Path) -> Path:
    from vlaforge.sim.collect import CollectConfig, collect

    want = CollectConfig(out=str(data_dir), tasks=cfg.tasks, episodes_per_task=cfg.demos_per_task,
                         workers=cfg.workers, overwrite=True)
    if dataset_complete(data_dir, want):
        print(f"[demo] reusing the complete dataset in {data_dir}")
        return data_dir
    print(f"[demo] collecting {cfg.demos_per_task} expert demos per task for {cfg.tasks} -> {data_dir}")
    summary = collect(want)
    if summary.get("warning"):
        print(f"[demo] warning: {summary['warning']}", file=sys.stderr)
    return data_dir


def dataset_complete(data_dir: Path, want) -> bool:
    """True when ``data_dir`` is a finalized dataset that a collection with the same settings wrote in full."""
    from vlaforge.data.errors import DatasetError
    from vlaforge.data.lerobot import load_meta
    from vlaforge.sim.simulator import get_simulator
    from vlaforge.sim.tasks import resolve_tasks

    want = want.for_simulator(get_simulator(want.simulator))
    summary_path = data_dir / "meta" / "collect_summary.json"
    if not summary_path.is_file():
        return False
    try:
        meta = load_meta(data_dir)
    except DatasetError:
        return False
    s = json.loads(summary_path.read_text())
    c = s.get("config", {})
    same = (s.get("tasks") == resolve_tasks(want.tasks) and c.get("episodes_per_task") == want.episodes_per_task
            and c.get("image_size") == want.image_size and c.get("cameras") == want.cameras
            and c.get("seed_start") == want.seed_start)
    return same and "warning" not in s and meta.total_episodes == s.get("episodes")


def _train(cfg: DemoConfig, data_dir: Path, train_dir: Path):
    from vlaforge.train.recipes import get_recipe
    from vlaforge.train.trainer import train

    tcfg = get_recipe(cfg.recipe)()
    tcfg.data.roots = (str(data_dir),)
    tcfg.out_dir = str(train_dir)
    tcfg.time_budget_minutes = cfg.train_minutes
    tcfg.seed = cfg.seed
    shutil.rmtree(train_dir, ignore_errors=True)  # a demo run always trains from scratch
    print(f"[demo] training {tcfg.policy.family}/{tcfg.policy.preset} for {cfg.train_minutes:g} min -> {train_dir}")
    result = train(tcfg)
    if result.interrupted:
        raise SystemExit(f"[demo] training was interrupted at step {result.step}; re-run `vlaforge demo`")
    return result


def _evaluate(cfg: DemoConfig, checkpoint: Path, data_dir: Path, eval_dir: Path) -> dict:
    from vlaforge.data.lerobot import load_meta
    from vlaforge.sim.evaluate import run_eval
    from vlaforge.sim.sources import CheckpointSource

    meta = load_meta(data_dir)
    seeds = meta.episodes.get("seed")
    training_seeds = set(int(s) for s in seeds) if seeds is not None else None
    print(f"[demo] evaluating {checkpoint} on {cfg.episodes_per_task} held-out seeds per task")
    shutil.rmtree(eval_dir, ignore_errors=True)
    return run_eval(CheckpointSource(str(checkpoint)), cfg.tasks, cfg.episodes_per_task, max_steps=cfg.max_steps,
                    workers=cfg.workers, out_dir=eval_dir,
                    videos_per_task=cfg.videos_per_task, training_seeds=training_seeds)


# ---- report ---------------------------------------------------------------------------

def write_report(report_dir: Path, cfg: DemoConfig, result, results: dict, times: dict[str, float]) -> Path:
    """README.md with the success table, timings, the loss curve, the success chart and video links."""
    from vlaforge.core.atomic import atomic_path

    report_dir.mkdir(parents=True, exist_ok=True)
    if result.loss_curve is not None:
        shutil.copy(result.loss_curve, report_dir / "loss_curve.png")
    summary = result.summary
    lines = ["# vlaforge demo: X-VLA tiny on Meta-World", "",
             f"Tasks `{cfg.tasks}`; {cfg.demos_per_task} expert demos per task (seeds from 0); "
             f"{summary['steps']} training steps in {summary['train_seconds'] / 60:.1f} min "
             f"({summary['samples_per_s']:.0f} samples/s); evaluated on {cfg.episodes_per_task} held-out seeds "
             f"per task from {results['seed_start']}, at most {results['max_steps']} steps, "
             f"{results['n_action_steps']} actions executed per chunk.", "",
             "| task | success | mean length |", "|---|---:|---:|"]
    for task, r in results["per_task"].items():
        lines.append(f"| {task} | {100 * r['success_rate']:.0f}% | {r['mean_length']:.0f} |")
    lines += [f"| **mean** | **{100 * results['mean_success']:.0f}%** | |", "",
              "| stage | minutes |", "|---|---:|"]
    lines += [f"| {k} | {v / 60:.1f} |" for k, v in times.items()]
    lines += ["", "## Training loss", "", "![loss curve](loss_curve.png)", "",
              "## Success per task", "", "![success](eval/success.png)", "", "## Rollouts", ""]
    for task, r in results["per_task"].items():
        for ep in r["episodes"]:
            if ep.get("video"):
                rel = Path(ep["video"]).resolve().relative_to(report_dir.resolve())
                lines.append(f"- [{task} seed {ep['seed']}]({rel}) — {'success' if ep['success'] else 'failure'}")
    lines += ["", f"Checkpoint: `{result.checkpoint}` (load with `vlaforge.core.checkpoint.load_policy`).",
              f"Reproduce: `vlaforge demo --out {cfg.out}`.", ""]
    readme = report_dir / "README.md"
    with atomic_path(readme) as tmp:
        tmp.write_text("\n".join(lines))
    return readme


def _print_table(results: dict, times: dict[str, float], readme: Path) -> None:
    print("\n task                             success")
    for task, r in results["per_task"].items():
        n_ok = sum(e["success"] for e in r["episodes"])
        print(f" {task:<32} {n_ok:>2}/{r['n_episodes']:<2} ({100 * r['success_rate']:.0f}%)")
    print(f" {'mean':<32} {100 * results['mean_success']:.0f}%")
    print("\n " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in times.items()))
    print(f" report: {readme}")
