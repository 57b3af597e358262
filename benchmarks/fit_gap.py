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
closed loop, alternating ones cancel); overall and per task. ``--reliance`` adds how far the chunk moves when a
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
        executed = signed[:, :k, list(spec.position_dims)]  # (B, k, P)
        drift = ((executed * ins_k).sum(1).abs() / ins_k.sum(1).clamp_min(1)).mean(-1)  # (B,)
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
    groups = {g for t in sums.values() for g in t}
    total = {g: sum(t[g][0] for t in sums.values() if g in t) / max(1, sum(t[g][1] for t in sums.values() if g in t))
             for g in groups}
    per_task = {task: {g: round(v[0] / max(1, v[1]), 4) for g, v in gr.items()} for task, gr in sorted(sums.items())}
    return {**{g: round(v, 4) for g, v in total.items()}, "frames": int(len(idx)), "per_task": per_task}


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
        if a.reliance:
            png = Path(a.out).with_suffix(".png")
            plot_reliance(results, png)
            print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
