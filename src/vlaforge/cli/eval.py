"""`vlaforge eval --policy {expert,random,CHECKPOINT} --suite mt10 [--server ws://host:port] ...`

Closed-loop evaluation on the simulator that knows the suite (mt10 -> Meta-World, aloha ->
ALOHA); writes results.json, results.md, success.png and rollout MP4s under ``--out``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from vlaforge.core.errors import ConfigError
from vlaforge.core.registry import unknown_name_message
from vlaforge.sim.sources import BASELINE_NAMES, BaselineSource, CheckpointSource, RemoteSource
from vlaforge.sim.tasks import EVAL_SEED_START


@dataclass
class EvalArgs:
    """Evaluate a checkpoint, a policy server or a baseline in simulation."""

    policy: str = "expert"
    """'expert' (privileged scripted expert), 'random', or a checkpoint directory."""
    suite: str = "mt10"
    """Meta-World: mt10, mt50, mt40, easy/medium/hard/very_hard, a task, or a comma list; ALOHA: aloha or a task."""
    episodes_per_task: int = 10
    seed_start: int = EVAL_SEED_START
    max_steps: int | None = None
    """Episode cap (default: the simulator's, 500 for Meta-World)."""
    n_action_steps: int | None = None
    """Actions executed per predicted chunk (default: the policy's own setting)."""
    workers: int = 2
    out: str | None = None
    """Output directory (default: runs/eval/<policy>-<suite>-<time>)."""
    server: str | None = None
    """Evaluate a policy served at this websocket URL (ws://host:port) instead of --policy."""
    image_size: int | None = None
    """Observation size (default: the checkpoint's, else 64)."""
    cameras: str | None = None
    """Comma-separated cameras (default: the checkpoint's, else corner2,gripperPOV)."""
    videos_per_task: int = 1
    dataset: str | None = None
    """A LeRobot dataset whose episode seeds must not be evaluation seeds (extra overlap guard)."""
    temporal_ensemble: float | None = None
    """ACT's temporal ensembling with this k (ACT: 0.01): query a chunk every --query-every steps and execute
    the exp(-k i)-weighted mean of every stored chunk's prediction for the step (i = 0 the oldest). Off by
    default (the protocol queues --n-action-steps actions per chunk). Local checkpoints only."""
    query_every: int = 1
    """With --temporal-ensemble: steps between chunk queries (ACT: 1)."""
    set: tuple[str, ...] = ()
    """Override inference-time fields of the checkpoint's policy config, KEY=VALUE (VALUE read as
    JSON, else as a string), e.g. ``--set fast_decode=relaxed``."""


def main(argv: list[str] | None = None) -> int:
    import tyro

    args = tyro.cli(EvalArgs, args=list(sys.argv[1:] if argv is None else argv), prog="vlaforge eval")
    _print(_run(args))
    return 0


def _run(args: EvalArgs) -> dict:
    from vlaforge.sim.evaluate import TemporalEnsemble, run_eval
    from vlaforge.sim.simulator import simulator_for

    simulator_for(args.suite)  # fail on a bad suite before starting workers
    ensemble = None
    if args.temporal_ensemble is not None:
        if args.server:
            raise ConfigError("--temporal-ensemble applies to a local checkpoint; a served policy ensembles on the "
                              "server (its ActionChunkBroker with smoothing='ensemble'), so drop one of the two")
        ensemble = TemporalEnsemble(args.temporal_ensemble, args.query_every)
    if args.server:  # the remote policy runs its own chunks: K goes to it, not to the runner
        source, n_action_steps = RemoteSource(args.server, args.n_action_steps), None
    else:
        source, n_action_steps = _policy_source(args.policy, parse_overrides(args.set)), args.n_action_steps
    name = "server" if args.server else Path(args.policy).name
    out = args.out or f"runs/eval/{name}-{args.suite.replace(',', '+')}-{time.strftime('%Y%m%d-%H%M%S')}"
    training_seeds = _dataset_seeds(args.dataset) if args.dataset else None
    cameras = tuple(c.strip() for c in args.cameras.split(",")) if args.cameras else None
    return run_eval(source, suite=args.suite, episodes_per_task=args.episodes_per_task, seed_start=args.seed_start,
                    max_steps=args.max_steps, n_action_steps=n_action_steps, workers=args.workers, out_dir=out,
                    image_size=args.image_size, cameras=cameras, videos_per_task=args.videos_per_task,
                    training_seeds=training_seeds, ensemble=ensemble)


def parse_overrides(items: tuple[str, ...]) -> dict:
    """``("fast_decode=relaxed", "n_action_steps=5")`` -> ``{"fast_decode": "relaxed", "n_action_steps": 5}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set fast_decode=relaxed")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def _policy_source(policy: str, overrides: dict | None = None):
    if policy in BASELINE_NAMES:
        if overrides:
            raise ConfigError(f"--set applies to checkpoints, not to the {policy!r} baseline")
        return BaselineSource(policy)
    path = Path(policy)
    if path.is_dir():
        from vlaforge.core.checkpoint import check_checkpoint, read_config
        from vlaforge.core.config import from_dict
        from vlaforge.core.registry import get_family

        check_checkpoint(path)
        if overrides:
            cfg = read_config(path)
            from_dict(get_family(cfg["family"]), {**cfg["policy"], **overrides})  # unknown keys fail here, early
        return CheckpointSource(str(path), dict(overrides or {}))
    if path.exists():
        raise ConfigError(f"--policy {policy}: a checkpoint is a directory (with config.json, model.safetensors, "
                          "norm_stats.json), not a file")
    raise ConfigError(unknown_name_message("policy", policy, list(BASELINE_NAMES)) + " Or pass an existing "
                      "checkpoint directory.")


def _dataset_seeds(root: str) -> set[int]:
    from vlaforge.data.lerobot import load_meta

    meta = load_meta(root)
    return {int(meta.episode_extra(i)["seed"]) for i in range(meta.total_episodes)
            if "seed" in meta.episode_extra(i)}


def _print(results: dict) -> None:
    from vlaforge.sim.report import markdown_table

    print()
    print(markdown_table(results))
    if "files" in results:
        print(f"wrote {', '.join(results['files'].values())}")
