"""Parameter counts of every family's presets, built on the meta device (no memory, no weights).

    .venv/bin/python benchmarks/param_counts.py

Writes benchmarks/results/param_counts.json. Paper targets: X-VLA 0.9B, UniVLA (Emu3 decoder) 8.5B.
UniVLA's count is the decoder alone (its image VQ and instruction projection are excluded, as the
paper's 8.5B is Emu3's decoder).
"""

from __future__ import annotations

import datetime
import json
import platform
from pathlib import Path

import torch

from vlaforge.core.registry import get_family
from vlaforge.core.normalize import Normalizer
from vlaforge.embodiments import get_embodiment

SPEC = get_embodiment("metaworld_sawyer")
_UNIT = {"mean": [0.0] * 4, "std": [1.0] * 4, "q01": [-1.0] * 4, "q99": [1.0] * 4}
STATS = {SPEC.name: {"observation.state": _UNIT, "action": _UNIT}}
TARGETS = {("xvla", "paper"): 0.9e9, ("univla_ar", "paper"): 8.5e9}
EXCLUDE = {"univla_ar": ("vq.", "text_proj")}


def count(family: str, preset: str) -> int:
    cls = get_family(family)
    if hasattr(cls, "from_preset"):
        cfg = cls.from_preset(preset, text_encoder="hash")
    else:
        import importlib

        cfg = getattr(importlib.import_module(f"vlaforge.models.{family}.config"), preset)(text_encoder="hash")
    with torch.device("meta"):
        pol = cfg.create(Normalizer(STATS, [SPEC], cfg.norm_mode), [SPEC])
    skip = EXCLUDE.get(family, ())
    return sum(p.numel() for n, p in pol.named_parameters() if not (skip and n.startswith(skip)))


def main() -> None:
    rows = []
    for family in ("xvla", "univla_ar"):
        for preset in ("tiny", "paper"):
            n = count(family, preset)
            target = TARGETS.get((family, preset))
            dev = None if target is None else (n - target) / target
            rows.append({"family": family, "preset": preset, "params": n, "paper_target": target,
                         "deviation": dev})
            extra = "" if target is None else f"  (paper {target / 1e9:.1f}B, {dev:+.1%})"
            print(f"{family:<10} {preset:<6} {n / 1e6:>10.2f}M{extra}")
    out = {"benchmark": "param_counts", "date": datetime.date.today().isoformat(),
           "machine": f"{platform.machine()}, meta device (no weights allocated)",
           "command": ".venv/bin/python benchmarks/param_counts.py", "rows": rows}
    Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
    Path("benchmarks/results/param_counts.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
