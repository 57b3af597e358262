"""How closely does each checkpoint reproduce the demonstrated chunks, on its training demos and on unseen ones?

    python benchmarks/fit_gap.py runs/bench/bc_tiny_clean_dart_eqsamples_27462x32 \
        runs/bench/xvla_fast_clean_dart_film_regression --data data/mt10_64 --heldout data/mt10_64_heldout \
        --frames 1000 --reliance --out benchmarks/results/fit_gap/clean.json   # (queue_session17.sh probes)

Session 16 found BC 11 points above X-VLA on MT10 at equal training samples. A policy that under-fits has a high
error on the frames it trained on; one that over-fits, a low training error and a high held-out one. For every
checkpoint (``checkpoints/last``, the weights the evaluation uses) and dataset this measures, on the same frames
(a fixed seed) for every checkpoint, the error of the chunk the policy would execute (its own sampler and
inference settings, a fixed noise seed) against the demonstrated chunk over the steps inside the episode:
position dims as mean absolute error in units of the action's std (the normalized units BC's L1 and X-VLA's
losses train in), gripper dims as mean absolute error over the gripper's range, and the drift: the signed position
error averaged over the executed steps of the chunk, then its absolute value (errors of one sign add up in
closed loop, alternating ones cancel); the progress: how far the executed chunk moves the hand along the expert's
displacement, as a fraction of it (``progress``); overall and per task. On rollouts that record each episode's
outcome (``vlaforge collect --actor``) also split by outcome and episode step (``outcome_split``, a chart beside
--out). ``--reliance`` adds how far the chunk moves when a
sample's images, or its state, are swapped for another sample's of the same task (and a bar chart next to --out).
"""

from __future__ import annotations

import argparse
import functools
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vlaforge.core.machine import describe_machine


def checkpoint_dir(run: str) -> Path:
    """A run directory's ``checkpoints/last``, or a checkpoint directory as given; a clear exit when it is neither."""
    from vlaforge.train.trainer import last_checkpoint

    path = last_checkpoint(run) if (Path(run) / "checkpoints").is_dir() else Path(run)
    if not (path / "model.safetensors").is_file():
        raise SystemExit(f"error: no checkpoint at {path}; pass a run directory written by vlaforge train "
                         "(with checkpoints/last) or a checkpoint directory")
    return path


@functools.lru_cache(maxsize=4)
def _dataset(root: str, n_obs_steps: int, obs_stride: int, chunk_size: int, cameras: tuple[str, ...]):
    """One dataset per root and window shape, shared by every measure and checkpoint that reads it."""
    from vlaforge.data.dataset import LeRobotDataset

    return LeRobotDataset(root, n_obs_steps=n_obs_steps, obs_stride=obs_stride, chunk_size=chunk_size,
                          cameras=cameras)


def sample_frames(policy, root: str, frames: int, seed: int, tasks: tuple[str, ...] = ()):
    """(dataset, sorted sample indices, the generator after drawing them): the same ``frames`` samples (all when the
    dataset has fewer) for every checkpoint with the same seed, drawn from the samples of ``tasks`` when given."""
    c = policy.config
    ds = _dataset(root, c.n_obs_steps, c.obs_stride, c.chunk_size, tuple(c.cameras))
    pool = np.arange(len(ds))
    if tasks:
        names = ds.sample_tasks()
        pool = pool[np.isin(names, tasks)]
        if not len(pool):
            raise SystemExit(f"error: {root} has no samples of tasks {list(tasks)}; its tasks are "
                             f"{sorted(set(names.tolist()))}")
    rng = np.random.default_rng(seed)
    return ds, np.sort(rng.choice(pool, size=min(frames, len(pool)), replace=False)), rng


def chunk_errors(policy, root: str, frames: int, seed: int, batch: int = 64, tasks: tuple[str, ...] = ()) -> dict:
    """{'position': err, 'gripper': err, 'frames': n, 'per_task': {task: {'position', 'gripper'}}} of ``policy`` on
    ``frames`` random samples of the dataset at ``root`` (all of them when it has fewer)."""
    from vlaforge.core.keys import ACTION, ACTION_IS_PAD, EMBODIMENT, TASK

    c = policy.config
    ds, idx, rng = sample_frames(policy, root, frames, seed, tasks)
    gen = torch.Generator().manual_seed(seed)
    sums: dict[str, dict[str, list[float]]] = {}  # task -> group -> [error sum, count]
    samples: dict[str, list] = {"task": [], "episode": [], "step": [], "position": [], "gripper": [], "along": [],
                                "norm2": []}  # one entry per sample
    for start in range(0, len(idx), batch):
        b = ds.get_batch(idx[start:start + batch])
        pred = policy.predict_action_chunk(b, generator=gen).float()  # (B, H, Da) raw units
        B, H, D = pred.shape
        row = policy.normalizer.index(b[EMBODIMENT], B)
        spec = policy.embodiments[policy.normalizer.names[int(row[0])]]
        target = b[ACTION][..., :D].float()
        inside = ~b[ACTION_IS_PAD]  # (B, H): steps before the episode's end
        signed = (policy.normalizer.normalize(ACTION, pred, row) -
                  policy.normalizer.normalize(ACTION, target, row))[..., :D]  # (B, H, Da) in stds
        norm_err = signed.abs()
        span = torch.tensor(spec.action_high) - torch.tensor(spec.action_low)
        raw_err = (pred - target).abs() / span  # (B, H, Da) as a fraction of each dim's range
        # drift: the signed position error summed over the executed steps (the net displacement a chunk's error
        # adds in closed loop: errors of one sign accumulate, alternating ones cancel), per executed step
        k = min(c.n_action_steps, H)
        ins_k = inside[:, :k, None]
        pos = list(spec.position_dims)
        executed = signed[:, :k, pos]  # (B, k, P)
        drift = ((executed * ins_k).sum(1).abs() / ins_k.sum(1).clamp_min(1)).mean(-1)  # (B,)
        # progress: the executed chunk's net hand displacement (raw units, summed over the real executed steps)
        # projected on the expert's; summed over samples as sum(pred . exp) / sum(|exp|^2) (``progress``)
        pred_disp = (pred[:, :k, pos] * ins_k).sum(1)  # (B, P)
        exp_disp = (target[:, :k, pos] * ins_k).sum(1)  # (B, P)
        samples["along"] += (pred_disp * exp_disp).sum(-1).tolist()
        samples["norm2"] += exp_disp.pow(2).sum(-1).tolist()
        for group, dims, err in (("position", spec.position_dims, norm_err), ("gripper", spec.gripper_dims, raw_err),
                                 ("drift", spec.position_dims, None)):
            if not dims:
                continue
            if err is None:  # one value per sample
                per_sample, counts = drift, torch.ones_like(drift, dtype=torch.long)
            else:
                per_sample = (err[..., list(dims)].mean(-1) * inside).sum(1)  # (B,) summed over real steps
                counts = inside.sum(1)
            for task, s, n in zip(b[TASK], per_sample.tolist(), counts.tolist()):
                acc = sums.setdefault(task, {}).setdefault(group, [0.0, 0])
                acc[0] += s
                acc[1] += n
            if group in ("position", "gripper"):
                samples[group] += (per_sample / counts.clamp_min(1)).tolist()
        samples["task"] += list(b[TASK])
        samples["episode"] += b["episode_index"].tolist()
        samples["step"] += b["frame_index"].tolist()
    groups = {g for t in sums.values() for g in t}
    total = {g: sum(t[g][0] for t in sums.values() if g in t) / max(1, sum(t[g][1] for t in sums.values() if g in t))
             for g in groups}
    per_task = {task: {g: round(v[0] / max(1, v[1]), 4) for g, v in gr.items()} for task, gr in sorted(sums.items())}
    along, norm2, names = (np.asarray(samples[key]) for key in ("along", "norm2", "task"))
    for task in per_task:
        per_task[task]["progress"] = progress(along[names == task], norm2[names == task])
    out = {**{g: round(v, 4) for g, v in total.items()}, "progress": progress(along, norm2), "frames": int(len(idx)),
           "per_task": per_task}
    by_outcome = outcome_split(ds.meta.episodes.get("success_step"), samples)
    return out | ({"by_outcome": by_outcome} if by_outcome else {})


def progress(along: np.ndarray, norm2: np.ndarray) -> float | None:
    """How far the executed chunks move the hand along the expert's displacement, as a fraction of it: sum(pred .
    exp) / sum(|exp|^2) over samples (1: as far as the expert, 0: nowhere along it, < 0: away from it). Samples where
    the expert moves most weigh most, so a policy that stalls where the expert still moves scores low even when its
    per-dim error is no larger than another's. None when the expert does not move at all."""
    total = float(norm2.sum())
    return round(float(along.sum()) / total, 4) if total > 0 else None


STEP_BINS = (0, 25, 50, 100, 150, 250)
"""Edges of the episode-step bins of ``outcome_split`` (the rollouts of ``vlaforge collect --actor`` stop at 250)."""


def step_labels() -> list[str]:
    """The bins' names: '0-25', ..., and the last open-ended ('150+')."""
    return [f"{a}-{b}" for a, b in zip(STEP_BINS[:-2], STEP_BINS[1:-1])] + [f"{STEP_BINS[-2]}+"]


def outcome_split(success_step, samples: dict[str, list]) -> dict | None:
    """Per task, the position error (mean over samples of each sample's mean over its real chunk steps, in action
    stds) and the ``progress`` of the samples from episodes that succeeded and from those that failed, the error also
    by the sample's step in its episode (``STEP_BINS``). For a policy's labelled rollouts (``vlaforge collect
    --actor`` records each episode's ``success_step``, empty when it failed): where along an episode, and in which
    episodes, a chunk parts from the expert's label; on demos (every episode succeeded) where along the expert's own
    path. None when the dataset records no ``success_step``."""
    if success_step is None or not len(samples["task"]):
        return None
    ok_episode = np.array([s is not None and s == s for s in success_step.tolist()])  # NaN != NaN: a failed one
    ok = ok_episode[np.asarray(samples["episode"])]
    task, step, err, grip, along, norm2 = (np.asarray(samples[k])
                                           for k in ("task", "step", "position", "gripper", "along", "norm2"))
    which = np.digitize(step, STEP_BINS[1:-1])  # (N,) bin of each sample's step
    labels = step_labels()

    def summary(mask: np.ndarray) -> dict:
        bins = {labels[i]: round(float(err[mask & (which == i)].mean()), 4)
                for i in range(len(labels)) if (mask & (which == i)).any()}
        gripper = {"gripper": round(float(grip[mask].mean()), 4)} if len(grip) == len(err) else {}
        return {"position": round(float(err[mask].mean()), 4), **gripper,
                "progress": progress(along[mask], norm2[mask]), "frames": int(mask.sum()), "by_step": bins}

    out: dict[str, dict] = {}
    for t in sorted(set(task.tolist())):
        here = task == t
        out[t] = {name: summary(here & m) for name, m in (("succeeded", ok), ("failed", ~ok)) if (here & m).any()}
    return out


def reliance(policy, root: str, frames: int, seed: int, batch: int = 64, tasks: tuple[str, ...] = ()) -> dict:
    """What the chunk reads: for each sample, the change of its predicted chunk (position dims, the executed steps, in
    action stds) when its images are replaced by those of another sample of the same task (state kept), and when its
    state is (images kept). A policy that reads the scene moves with the images; one that has learned to follow the
    proprio along the demonstrations' paths (which predicts the expert well on its own states) moves with the state."""
    from vlaforge.core.keys import ACTION, EMBODIMENT, IMAGE_PREFIX, STATE, TASK

    c = policy.config
    ds, idx, rng = sample_frames(policy, root, frames, seed, tasks)
    k = c.n_action_steps
    moved: dict[str, list[float]] = {"images": [], "state": []}
    for start in range(0, len(idx), batch):
        b = ds.get_batch(idx[start:start + batch])
        batch_tasks = np.asarray(b[TASK], dtype=object)
        # partner: another sample of the same task in this batch (itself when it is the only one)
        partner = np.array([rng.choice(np.flatnonzero(batch_tasks == t)) for t in batch_tasks])
        row = policy.normalizer.index(b[EMBODIMENT], len(partner))
        spec = policy.embodiments[policy.normalizer.names[int(row[0])]]
        dims = list(spec.position_dims)

        def chunk(batch_: dict) -> torch.Tensor:
            pred = policy.predict_action_chunk(batch_, generator=torch.Generator().manual_seed(seed)).float()
            return policy.normalizer.normalize(ACTION, pred, row)[:, :k, dims]  # (B, k, P)

        base = chunk(b)
        swapped_images = {**b, **{IMAGE_PREFIX + cam: b[IMAGE_PREFIX + cam][partner] for cam in c.cameras}}
        swapped_state = {**b, STATE: b[STATE][partner]}
        keep = torch.from_numpy(partner != np.arange(len(partner)))
        for name, sb in (("images", swapped_images), ("state", swapped_state)):
            moved[name] += (chunk(sb) - base).abs().mean((1, 2))[keep].tolist()
    return {f"moved_by_{n}": round(float(np.mean(v)), 4) for n, v in moved.items()} | {"pairs": len(moved["state"])}


def plot_reliance(results: dict[str, dict], path: Path) -> None:
    """Bars per checkpoint and dataset split: how far the chunk moves with swapped images and with a swapped state."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vlaforge.core.atomic import atomic_path

    labels = [f"{name}\n{split}" for name, r in results.items() for split in r if isinstance(r[split], dict)
              and "moved_by_images" in r[split]]
    vals = [(r[split]["moved_by_images"], r[split]["moved_by_state"]) for r in results.values() for split in r
            if isinstance(r[split], dict) and "moved_by_images" in r[split]]
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(labels)), 4.6), dpi=120)
    ax.bar(x - 0.2, [v[0] for v in vals], 0.4, label="another sample's images (state kept)")
    ax.bar(x + 0.2, [v[1] for v in vals], 0.4, label="another sample's state (images kept)")
    ax.set_xticks(x, labels, fontsize=6, rotation=35, ha="right")
    ax.set_ylabel("chunk change (action stds)")
    ax.set_title("What the predicted chunk reads: images or proprio", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def plot_outcomes(results: dict[str, dict], datasets: dict[str, str], path: Path) -> None:
    """One panel per task with failed episodes in any dataset (every task when none failed): the position error by
    episode step, a colour per checkpoint, a marker per dataset (``datasets``: split -> root), solid over the
    episodes that failed and dashed over those that succeeded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vlaforge.core.atomic import atomic_path

    outcomes = [(t, o) for r in results.values() for sp in datasets for t, o in r[sp].get("by_outcome", {}).items()]
    tasks = sorted({t for t, o in outcomes if "failed" in o}) or sorted({t for t, _ in outcomes})  # demos: every task
    labels = step_labels()
    cols = min(3, max(1, len(tasks)))
    rows = -(-max(1, len(tasks)) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows + 1.2), dpi=110, squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    markers = "osD^v"
    for ax, task in zip(axes.flat, tasks):
        for c, (name, r) in enumerate(results.items()):
            for m, (sp, root) in enumerate(datasets.items()):
                o = r[sp].get("by_outcome", {}).get(task, {})
                for outcome, style in (("failed", "-"), ("succeeded", "--")):
                    if outcome not in o:
                        continue
                    ys = [o[outcome]["by_step"].get(lb, np.nan) for lb in labels]
                    ax.plot(range(len(labels)), ys, style, color=colors[c % len(colors)],
                            marker=markers[m % len(markers)], ms=3,
                            label=f"{name[:36]} on {Path(root).name[:40]}, {outcome}")
        ax.set_xticks(range(len(labels)), labels, fontsize=7)
        ax.set_xlabel("episode step", fontsize=8)
        ax.set_title(f"{task[:44]}", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(tasks):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("chunk error vs expert (stds)", fontsize=8)
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=6, loc="lower center", ncol=2)
    fig.suptitle("Each checkpoint's chunk against the expert's label on rollouts, by episode step and outcome "
                 "(solid: failed episodes, dashed: succeeded)", fontsize=9)
    fig.tight_layout(rect=(0, 1.0 / (3.2 * rows + 1.2), 1, 0.96))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="run directories (each with checkpoints/last) or checkpoint directories")
    ap.add_argument("--data", default="data/mt10_64", help="a dataset the checkpoints trained on")
    ap.add_argument("--heldout", default=None, help="a dataset of episodes none of them saw (e.g. seeds 5000+)")
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                    help="policy inference overrides for every checkpoint, e.g. num_inference_steps=2")
    ap.add_argument("--reliance", action="store_true",
                    help="also measure how far the chunk moves with another sample's images vs its state")
    ap.add_argument("--tasks", default="", help="comma-separated task instructions (the dataset's tasks): draw the "
                    "frames from these tasks' samples only")
    ap.add_argument("--out", default=None, help="results JSON (default: print only)")
    a = ap.parse_args(argv)
    tasks = tuple(t for t in a.tasks.split(",") if t)
    from vlaforge.cli.eval import parse_overrides
    from vlaforge.core.checkpoint import load_policy

    torch.set_num_threads(a.threads)
    overrides = parse_overrides(tuple(a.set))
    datasets = {"train": a.data, **({"heldout": a.heldout} if a.heldout else {})}
    results: dict[str, dict] = {}
    for run in a.runs:
        path = checkpoint_dir(run)
        policy = load_policy(path, policy_overrides=overrides)
        name = Path(run).name
        results[name] = {"checkpoint": str(path)}
        for split, root in datasets.items():
            t0 = time.perf_counter()
            with torch.no_grad():
                results[name][split] = chunk_errors(policy, root, a.frames, a.seed, tasks=tasks)
            r = results[name][split]
            print(f"{name:48s} {split:8s} position {r.get('position', float('nan')):.4f} std "
                  f"(drift {r.get('drift', float('nan')):.4f}), "
                  f"gripper {r.get('gripper', float('nan')):.4f} of range ({r['frames']} frames, "
                  f"{time.perf_counter() - t0:.0f} s)", flush=True)
            print(f"{'':48s} {split:8s} progress along the expert's displacement {r.get('progress')}")
            for task, o in r.get("by_outcome", {}).items():
                print(f"{'':48s} {split:8s} {task[:36]:36s} " + ", ".join(
                    f"{k} {v['position']:.4f} / progress {v['progress']} ({v['frames']})" for k, v in o.items()))
            if a.reliance:
                with torch.no_grad():
                    r.update(reliance(policy, root, a.frames, a.seed, tasks=tasks))
                print(f"{name:48s} {split:8s} chunk moved by swapped images {r['moved_by_images']:.4f} std, by "
                      f"swapped state {r['moved_by_state']:.4f} std ({r['pairs']} pairs)")
    if a.out:
        from vlaforge.core.atomic import write_json

        args = sys.argv[1:] if argv is None else argv
        out = {"command": "python benchmarks/fit_gap.py " + " ".join(shlex.quote(x) for x in args),
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": describe_machine(a.threads),
               "datasets": datasets, "frames": a.frames, "seed": a.seed, "tasks": list(tasks), "overrides": overrides,
               "runs": results}
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        write_json(Path(a.out), out)
        print(f"wrote {a.out}")
        if any("by_outcome" in r[split] for r in results.values() for split in datasets):
            png = Path(a.out).with_name(Path(a.out).stem + "_outcomes.png")
            plot_outcomes(results, datasets, png)
            print(f"wrote {png}")
        if a.reliance:
            png = Path(a.out).with_suffix(".png")
            plot_reliance(results, png)
            print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
