"""`vlaforge collect metaworld --tasks mt10 --episodes-per-task 50 --out DIR ...`

Records scripted-expert demonstrations (successful episodes only) as a LeRobot v3 dataset.
"""

from __future__ import annotations

import sys

from vlaforge.core.registry import unknown_name_message

SIMULATORS = ("metaworld",)


def main(argv: list[str] | None = None) -> int:
    import tyro

    from vlaforge.sim.collect import CollectConfig, collect

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: vlaforge collect metaworld [--help] [options]\n\nsimulators: " + ", ".join(SIMULATORS))
        return 0 if argv else 2
    sim, rest = argv[0], argv[1:]
    if sim not in SIMULATORS:
        print(unknown_name_message("simulator", sim, list(SIMULATORS)), file=sys.stderr)
        return 2
    cfg = tyro.cli(CollectConfig, args=rest, prog="vlaforge collect metaworld",
                   description="Record successful scripted-expert episodes as a LeRobot v3 dataset.")
    from vlaforge.data.errors import DatasetError

    try:
        summary = collect(cfg)
    except (KeyError, ValueError, DatasetError) as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    _print_summary(summary)
    return 0


def _print_summary(summary: dict) -> None:
    print(f"\n{'task':<28} {'kept':>5} {'failed':>6} {'mean len':>9}")
    for task, r in summary["per_task"].items():
        kept = r["successes"] + len(r.get("resumed_seeds", []))
        print(f"{task:<28} {kept:>5} {r['failures']:>6} {r['mean_length']:>9.1f}")
    print(f"{summary['episodes']} episodes kept, {summary['failures']} failed, {summary['env_steps']} env steps in "
          f"{summary['elapsed_s']:.0f} s: {summary['steps_per_s']:.0f} steps/s, "
          f"{summary['images_per_s']:.0f} images/s -> {summary['config']['out']}")
    if "warning" in summary:
        print("warning: " + summary["warning"], file=sys.stderr)
