"""`vlaforge collect SIMULATOR --tasks mt10 --episodes-per-task 50 --out DIR ...`

Records scripted-expert demonstrations (successful episodes only) as a LeRobot v3 dataset;
SIMULATOR is any registered one (``vlaforge.sim.simulator``): metaworld, aloha. With ``--actor CKPT`` a trained
policy drives and the expert labels its states (DAgger; failed episodes kept).
"""

from __future__ import annotations

import sys



def main(argv: list[str] | None = None) -> int:
    import dataclasses

    import tyro

    from vlaforge.sim.collect import CollectConfig, collect
    from vlaforge.sim.simulator import SIMULATORS

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: vlaforge collect SIMULATOR [--help] [options]\n\nsimulators: " + ", ".join(SIMULATORS.names()))
        return 0 if argv else 2
    sim, rest = SIMULATORS.get(argv[0]), argv[1:]
    cfg = tyro.cli(CollectConfig, args=rest, prog=f"vlaforge collect {sim.name}",
                   description="Record successful scripted-expert episodes as a LeRobot v3 dataset (with --actor: "
                               "a trained policy's rollouts, every state labelled by the expert).")
    cfg = dataclasses.replace(cfg, simulator=sim.name)
    try:
        summary = collect(cfg)
    except (KeyError, ValueError) as e:  # bad task names, cameras, flags
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    _print_summary(summary)
    return 0


def _print_summary(summary: dict) -> None:
    print(f"\n{'task':<28} {'kept':>5} {'failed':>6} {'mean len':>9}")
    for task, r in summary["per_task"].items():
        kept = len(r["kept_seeds"]) + len(r.get("resumed_seeds", []))
        print(f"{task:<28} {kept:>5} {r['failures']:>6} {r['mean_length']:>9.1f}")
    print(f"{summary['episodes']} episodes kept, {summary['failures']} failed, {summary['env_steps']} env steps in "
          f"{summary['elapsed_s']:.0f} s: {summary['steps_per_s']:.0f} steps/s, "
          f"{summary['images_per_s']:.0f} images/s -> {summary['config']['out']}")
    if "warning" in summary:
        print("warning: " + summary["warning"], file=sys.stderr)
