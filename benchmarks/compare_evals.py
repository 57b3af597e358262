"""Compare evaluations of several checkpoints on the same episodes, with standard errors.

    python benchmarks/compare_evals.py DIR_A DIR_B ... [--labels a,b,...] [--out chart.png]
    python benchmarks/compare_evals.py A_PROTOCOL+A_WIDE B_PROTOCOL+B_WIDE    # '+' pools evaluations of one policy
    python benchmarks/compare_evals.py A0+A0_WIDE@A1+A1_WIDE B0+B0_WIDE@B1+B1_WIDE   # '@' joins training seeds

Each DIR holds a ``results.json`` written by ``vlaforge eval`` (or ``bench_mt10.py``). One MT10 protocol run is
100 episodes, so its mean carries a standard error of ~3-5 points and two recipes 5 points apart are not yet told
apart; this script says by how much they differ on *the same seeds*. The mean's standard error is the binomial
one per task, combined over the equally weighted tasks; the difference against the first column is paired by
(task, seed), SE = std(per-episode difference) / sqrt(n), which is sharper than two independent errors because
the hard seeds are hard for every policy.

Training seeds ('@') are replicates of one recipe: their episodes pool into the per-task rates, the pairing is by
(replicate, task, seed), so replicate i of one column meets replicate i of another, and the table adds each
replicate's own mean and paired difference, because the binomial SE knows nothing of how much a second training
seed moves a recipe.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def load(spec: str) -> dict:
    """One evaluation; several of the same policy joined by '+' pooled into one (episodes of all); training-seed
    replicates joined by '@', their episodes tagged with the replicate's index ("rep") and kept in "replicates"."""
    reps = [_pool(r) for r in spec.split("@")]
    if len(reps) == 1:
        return reps[0]
    tagged = [{**r, "per_task": {t: {**v, "episodes": [{**ep, "rep": i} for ep in v["episodes"]]}
                                 for t, v in r["per_task"].items()}} for i, r in enumerate(reps)]
    return {**_pool_results(tagged), "replicates": reps, "seed_start": reps[0]["seed_start"],
            "episodes_per_task": f"{reps[0]['episodes_per_task']} (x {len(reps)} training seeds)"}


def _pool(spec: str) -> dict:
    return _pool_results([_load_one(p) for p in spec.split("+")])


def _pool_results(parts: list[dict]) -> dict:
    if len(parts) == 1:
        return parts[0]
    pooled = {**parts[0], "per_task": {}, "seed_start": "/".join(str(p["seed_start"]) for p in parts),
              "episodes_per_task": "+".join(str(p["episodes_per_task"]) for p in parts)}
    for task in parts[0]["per_task"]:
        eps = [ep for p in parts for ep in p["per_task"].get(task, {}).get("episodes", [])]
        pooled["per_task"][task] = {"episodes": eps, "n_episodes": len(eps),
                                    "success_rate": sum(float(e["success"]) for e in eps) / len(eps)}
    return pooled


def _load_one(path: str) -> dict:
    p = Path(path)
    p = p / "results.json" if p.is_dir() else p
    if not p.is_file():
        raise SystemExit(f"compare_evals: no results.json at {path}; pass an evaluation's output directory")
    return json.loads(p.read_text())


def outcomes(result: dict) -> dict[tuple[int, str, int], float]:
    """(replicate, task, seed) -> 1.0 / 0.0 for every episode (replicate 0 without training-seed replicates)."""
    return {(ep.get("rep", 0), task, ep["seed"]): float(ep["success"])
            for task, r in result["per_task"].items() for ep in r["episodes"]}


def mean_and_se(result: dict) -> tuple[float, float]:
    """The task-averaged success and its binomial standard error."""
    rates = [(r["success_rate"], r["n_episodes"]) for r in result["per_task"].values()]
    var = sum(p * (1 - p) / n for p, n in rates) / len(rates) ** 2
    return sum(p for p, _ in rates) / len(rates), math.sqrt(var)


def paired_difference(a: dict, b: dict) -> tuple[float, float, int]:
    """Mean of (b - a) over the episodes both ran (same task and seed), its standard error, and their count."""
    oa, ob = outcomes(a), outcomes(b)
    ra, rb = {k[0] for k in oa}, {k[0] for k in ob}
    if ra != rb:
        raise SystemExit(f"compare_evals: {len(ra)} training seed(s) against {len(rb)}: a paired difference needs the "
                         "same number of '@'-joined seeds in every column (compare single seeds in a separate call)")
    common = sorted(set(oa) & set(ob))
    if not common:
        raise SystemExit("compare_evals: the two evaluations share no (task, seed) episode; evaluate both on the "
                         "same --seed-start and --episodes-per-task")
    d = [ob[k] - oa[k] for k in common]
    m = sum(d) / len(d)
    sd = math.sqrt(sum((x - m) ** 2 for x in d) / max(len(d) - 1, 1))
    return m, sd / math.sqrt(len(d)), len(d)


def table(results: list[dict], labels: list[str]) -> str:
    tasks = list(results[0]["per_task"])
    head = "| task | " + " | ".join(f"`{lab}`" for lab in labels) + " |"
    rows = [head, "|---|" + "---:|" * len(labels)]
    for t in tasks:
        cells = [f"{100 * r['per_task'][t]['success_rate']:.0f}" if t in r["per_task"] else "—" for r in results]
        rows.append(f"| {t} | " + " | ".join(cells) + " |")
    stats = [mean_and_se(r) for r in results]
    rows.append("| **mean** ± SE | " + " | ".join(f"**{100 * m:.1f}%** ± {100 * s:.1f}" for m, s in stats) + " |")
    diffs = ["—"]
    for r in results[1:]:
        m, se, n = paired_difference(results[0], r)
        diffs.append(f"{100 * m:+.1f} ± {100 * se:.1f} ({n} ep.)")
    rows.append(f"| vs `{labels[0]}`, paired | " + " | ".join(diffs) + " |")
    if any("replicates" in r for r in results):
        reps = [r.get("replicates", [r]) for r in results]  # each column's training seeds (itself if one)
        rows.append("| per training seed | " + " | ".join(
            " / ".join(f"{100 * mean_and_se(x)[0]:.1f}" for x in rs) for rs in reps) + " |")
        per = ["—"] + [" / ".join(f"{100 * paired_difference(a, b)[0]:+.1f}" for a, b in zip(reps[0], rs))
                       for rs in reps[1:]]
        rows.append(f"| vs `{labels[0]}` per seed | " + " | ".join(per) + " |")
    return "\n".join(rows)


def chart(results: list[dict], labels: list[str], out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    tasks = list(results[0]["per_task"])
    x, w = np.arange(len(tasks) + 1), 0.8 / len(results)
    fig, ax = plt.subplots(figsize=(12, 4))
    for i, (r, lab) in enumerate(zip(results, labels)):
        rates = [r["per_task"][t]["success_rate"] for t in tasks]
        ses = [math.sqrt(p * (1 - p) / r["per_task"][t]["n_episodes"]) for p, t in zip(rates, tasks)]
        m, s = mean_and_se(r)
        ax.bar(x + i * w, [100 * v for v in rates + [m]], w, yerr=[100 * v for v in ses + [s]], label=lab, capsize=2)
    ax.set_xticks(x + w * (len(results) - 1) / 2, [t.removesuffix("-v3") for t in tasks] + ["mean"], rotation=30)
    ax.set_ylabel("success (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    n = results[0]["episodes_per_task"]
    ax.set_title(f"{n} episodes per task from seed {results[0]['seed_start']} (error bars: binomial SE)")
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="+", help="evaluation output directories (or results.json files)")
    ap.add_argument("--labels", help="comma-separated column names (default: the directory names)")
    ap.add_argument("--out", help="also draw a per-task bar chart with error bars to this PNG")
    a = ap.parse_args()
    labels = a.labels.split(",") if a.labels else [Path(d.split("+")[0]).name for d in a.dirs]
    if len(labels) != len(a.dirs):
        raise SystemExit(f"compare_evals: {len(labels)} labels for {len(a.dirs)} evaluations")
    results = [load(d) for d in a.dirs]
    print(table(results, labels))
    if a.out:
        chart(results, labels, a.out)
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
