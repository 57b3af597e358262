"""Training throughput through the real trainer (data loading, optimizer, EMA, clipping included).

    python benchmarks/bench_train_throughput.py                      # every variant, ~10 min on 2 cores
    python benchmarks/bench_train_throughput.py --variants tiny16 fast
    python benchmarks/bench_train_throughput.py --variants fast_film fast_film_kp32 fast_film fast_film_kp32 \
        --steps 400 --out benchmarks/results/train_throughput_keypoints.json   # a repeated variant: rows name#2
    git worktree add /tmp/before 9cb70fb && python benchmarks/bench_train_throughput.py --variants tiny16 \
        --src /tmp/before/src --label before --out benchmarks/results/train_throughput_before.json

Each variant runs ``vlaforge train --recipe RECIPE --steps N`` on data/mt10_64 into a scratch run directory and
reads ``samples_per_s`` (the trainer's own figure: optimizer steps x batch / train seconds, set-up excluded) from
``train_summary.json``. Issue 15's goal is measured against the ``tiny16`` row (the X-VLA tiny preset as it was
before session 10: 16 tokens per view, 32..256-channel stem). ``--src`` runs the same recipes with another
checkout's package (e.g. the commit before the speed work), so "before" and "after" rows come from one script on
one machine. Writes benchmarks/results/train_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

VARIANTS: dict[str, tuple[str, list[str]]] = {
    "tiny16": ("xvla_tiny_mt10", []),
    "tiny16_fp32": ("xvla_tiny_mt10", ["--precision", "fp32"]),
    "tiny4": ("xvla_tiny4_lr1e3_mt10", []),
    "fast": ("xvla_fast_mt10", []),
    "fast_fp32": ("xvla_fast_mt10", ["--precision", "fp32"]),
    "bc": ("bc_tiny_mt10", []),
    "fast_film": ("xvla_fast_film_mt10", []),
    "fast_film_kp32": ("xvla_fast_film_mt10", ["--policy.stem-keypoints", "32"]),  # session 23's keypoint token
}


def run(name: str, steps: int, scratch: Path, src: str | None = None) -> dict:
    recipe, extra = VARIANTS[name]
    out = scratch / name
    env = dict(os.environ)
    if src:  # another checkout's package first on the path (its recipes and its trainer)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(src).resolve()), env.get("PYTHONPATH")]))
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "vlaforge.cli.main", "train", "--recipe", recipe, "--steps", str(steps),
           "--out-dir", str(out), "--save-every", str(10 * steps), "--no-progress", *extra]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    s = json.loads((out / "train_summary.json").read_text())
    cfg = json.loads((out / "config.json").read_text())
    return {"recipe": recipe, "extra": extra, "steps": s["steps"], "batch": s["samples_per_step"],
            "samples_per_s": s["samples_per_s"], "precision": cfg.get("precision"), "command": " ".join(cmd[1:]),
            "src": src}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--scratch", default="runs/throughput")
    ap.add_argument("--out", default="benchmarks/results/train_throughput.json")
    ap.add_argument("--src", default=None, help="a checkout's src/ to import vlaforge from (default: this one)")
    ap.add_argument("--label", default="", help="suffix of the row names, e.g. 'before' with --src")
    a = ap.parse_args()
    res = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, 2-core CPU, no GPU",
           "command": "python benchmarks/bench_train_throughput.py " + " ".join(sys.argv[1:]), "rows": {}}
    seen: dict[str, int] = {}
    for name in a.variants:
        row = f"{name}@{a.label}" if a.label else name
        seen[row] = seen.get(row, 0) + 1
        row = row if seen[row] == 1 else f"{row}#{seen[row]}"  # a repeated variant: name#2, name#3, ...
        res["rows"][row] = run(name, a.steps, Path(a.scratch), a.src)
        print(f"{row:<18} {res['rows'][row]['samples_per_s']:7.1f} samples/s  ({res['rows'][row]['recipe']})",
              flush=True)
    Path(a.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
