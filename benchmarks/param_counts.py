"""Parameter counts of every registered family's presets, built on the meta device (no memory, no weights).

    .venv/bin/python benchmarks/param_counts.py

Writes benchmarks/results/param_counts.json. Each family's ``paper`` target is its config's
``PAPER_PARAMS`` (count and source); the contract tests assert the same 10% bound.
"""

from __future__ import annotations

import datetime
import json
import platform
from pathlib import Path

import torch

from vlaforge.core.normalize import Normalizer
from vlaforge.core.registry import FAMILIES
from vlaforge.embodiments import get_embodiment
from vlaforge.testing import fake_stats

SPECS = [get_embodiment("metaworld_sawyer")]


def count(cls, preset: str) -> int:
    cfg = cls.from_preset(preset, text_encoder="hash")
    with torch.device("meta"):
        pol = cfg.create(Normalizer(fake_stats(SPECS), SPECS, cfg.norm_mode), SPECS)
    return sum(p.numel() for p in pol.parameters())


def main() -> None:
    rows = []
    for family, cls in FAMILIES.items():
        if not cls.__module__.startswith("vlaforge.models."):
            continue
        for preset in cls.PRESETS:
            n = count(cls, preset)
            target, source = cls.PAPER_PARAMS if preset == "paper" and cls.PAPER_PARAMS else (None, None)
            dev = None if target is None else (n - target) / target
            rows.append({"family": family, "preset": preset, "params": n, "paper_target": target,
                         "target_source": source, "deviation": dev})
            extra = "" if target is None else f"  (target {target / 1e9:.2f}B, {dev:+.1%}: {source})"
            print(f"{family:<10} {preset:<6} {n / 1e6:>10.2f}M{extra}")
    out = {"benchmark": "param_counts", "date": datetime.date.today().isoformat(),
           "machine": f"{platform.machine()}, meta device (no weights allocated)",
           "command": ".venv/bin/python benchmarks/param_counts.py", "rows": rows}
    Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
    Path("benchmarks/results/param_counts.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
