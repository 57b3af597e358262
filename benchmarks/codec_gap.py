"""Do the policies see in the simulator what they saw in training? The video codec's gap, measured on the actions.

    MUJOCO_GL=egl python benchmarks/codec_gap.py runs/bench/bc_tiny_clean_dart_eqsamples_27462x32 \
        runs/bench/xvla_fast_clean_dart_film_regression --data data/mt10_64_heldout \
        --out benchmarks/results/fit_gap/codec_gap.json

Training frames come out of the dataset's H.264 (yuv420p: colour at half resolution, crf 18) videos; the closed-loop
evaluation feeds the renderer's RGB frames as they are. Session 17 found BC and X-VLA equally close to the
demonstrated chunks on decoded frames (``benchmarks/fit_gap.py``) and 11 points apart in closed loop. This replays
each episode of ``--data`` with its scripted expert and seed (the collection is deterministic, so the states are the
dataset's: checked on the proprio), renders the raw frames, and for every checkpoint compares the chunk predicted
from the raw frames with the one predicted from the decoded frames at the same state: their difference and each
one's error against the expert's chunk (position dims, in action stds, the first ``n_action_steps`` actions).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from fit_gap import checkpoint_dir  # the same directory: benchmarks/

from vlaforge.core.machine import describe_machine


def replay_raw_frames(root: str, max_episodes: int | None) -> list[dict]:
    """Per episode of ``root``: {'rows': dataset rows, 'frames': {camera key: (T, 3, H, W) uint8}, 'state': (T, Ds)}
    rendered by replaying the scripted expert on the episode's seed."""
    from vlaforge.core.keys import IMAGE_PREFIX, STATE
    from vlaforge.data.lerobot import load_meta
    from vlaforge.sim.simulator import get_simulator

    meta = load_meta(root)
    sim = get_simulator("metaworld")
    cams = [c for c in meta.cameras]
    size = tuple(meta.features[IMAGE_PREFIX + cams[0]]["shape"][:2])
    eps = meta.episodes
    out = []
    for i in range(len(eps["seed"]))[:max_episodes]:
        task, seed = str(eps["env"][i]), int(eps["seed"][i])
        lo, hi = int(eps["dataset_from_index"][i]), int(eps["dataset_to_index"][i])
        env, expert = sim.make_env(task, size, cams, hi - lo + 1), sim.expert(task)
        step = env.reset(seed)
        expert.reset(env, step)
        frames: dict[str, list[np.ndarray]] = {IMAGE_PREFIX + c: [] for c in cams}
        states = []
        for _ in range(hi - lo):
            for k in frames:
                frames[k].append(np.ascontiguousarray(step.obs[k]).transpose(2, 0, 1))  # (3, H, W)
            states.append(np.asarray(step.obs[STATE], np.float32))
            step = env.step(sim.embodiment.clip_action(expert.act(step)))
        env.close()
        out.append({"task": task, "seed": seed, "rows": np.arange(lo, hi),
                    "frames": {k: np.stack(v) for k, v in frames.items()}, "state": np.stack(states)})
    return out


def _predict(policy, batch: dict, n: int, seed: int, size: int = 64) -> torch.Tensor:
    """The policy's chunks (n, H, Da) for an n-sample batch, ``size`` samples per call, one noise generator."""
    gen = torch.Generator().manual_seed(seed)
    parts = [policy.predict_action_chunk({k: v[s:s + size] if torch.is_tensor(v) or isinstance(v, list) else v
                                          for k, v in batch.items()}, generator=gen) for s in range(0, n, size)]
    return torch.cat(parts).float()


def compare(policy, root: str, episodes: list[dict], seed: int) -> dict:
    """The chunk from raw frames against the chunk from decoded frames, and both against the expert's."""
    from vlaforge.core.keys import ACTION, ACTION_IS_PAD, EMBODIMENT, IMAGE_PREFIX, STATE
    from vlaforge.data.dataset import LeRobotDataset

    c = policy.config
    if c.n_obs_steps != 1:
        raise SystemExit(f"error: {c.n_obs_steps} observation steps; this probe replays single frames (n_obs_steps 1)")
    ds = LeRobotDataset(root, n_obs_steps=1, chunk_size=c.chunk_size, cameras=tuple(c.cameras), use_cache=False)
    k = c.n_action_steps
    acc = {"raw_vs_decoded": [], "decoded_vs_expert": [], "raw_vs_expert": [], "pixel_l1": [], "state_err": []}
    per_task: dict[str, dict[str, list[float]]] = {}
    for ep in episodes:
        b = ds.get_batch(ep["rows"])
        acc["state_err"].append(float((b[STATE][:, 0] - torch.from_numpy(ep["state"])).abs().max()))
        raw = dict(b)
        for cam in c.cameras:
            key = IMAGE_PREFIX + cam
            raw[key] = torch.from_numpy(ep["frames"][key]).unsqueeze(1)  # (T, 1, 3, H, W)
            acc["pixel_l1"].append(float((raw[key].float() - b[key].float()).abs().mean()))
        preds = {name: _predict(policy, batch, len(ep["rows"]), seed) for name, batch in (("decoded", b), ("raw", raw))}
        row = policy.normalizer.index(b[EMBODIMENT], len(ep["rows"]))
        spec = policy.embodiments[policy.normalizer.names[int(row[0])]]
        D, dims = preds["raw"].shape[-1], list(spec.position_dims)
        norm = {n: policy.normalizer.normalize(ACTION, p, row)[:, :k, dims] for n, p in preds.items()}
        expert = policy.normalizer.normalize(ACTION, b[ACTION][..., :D].float(), row)[:, :k, dims]
        inside = (~b[ACTION_IS_PAD][:, :k]).float()[..., None]  # (T, k, 1)
        mae = lambda x, y: float(((x - y).abs() * inside).sum() / (inside.sum() * len(dims)))  # noqa: E731
        vals = {"raw_vs_decoded": mae(norm["raw"], norm["decoded"]), "decoded_vs_expert": mae(norm["decoded"], expert),
                "raw_vs_expert": mae(norm["raw"], expert)}
        for key, v in vals.items():
            acc[key].append(v)
            per_task.setdefault(ep["task"], {}).setdefault(key, []).append(v)
    return {"raw_vs_decoded": round(float(np.mean(acc["raw_vs_decoded"])), 4),
            "decoded_vs_expert": round(float(np.mean(acc["decoded_vs_expert"])), 4),
            "raw_vs_expert": round(float(np.mean(acc["raw_vs_expert"])), 4),
            "pixel_l1_0_255": round(float(np.mean(acc["pixel_l1"])), 3),
            "max_state_mismatch": round(float(np.max(acc["state_err"])), 6),
            "per_task": {t: {kk: round(float(np.mean(v)), 4) for kk, v in d.items()} for t, d in sorted(per_task.items())}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="run directories (with checkpoints/last) or checkpoint directories")
    ap.add_argument("--data", default="data/mt10_64_heldout", help="a dataset collected by `vlaforge collect` without "
                    "action noise (its episodes are replayed from their seeds)")
    ap.add_argument("--episodes", type=int, default=None, help="at most this many episodes (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    from vlaforge.core.checkpoint import load_policy

    torch.set_num_threads(a.threads)
    paths = {run: checkpoint_dir(run) for run in a.runs}  # before the replay, which takes a minute
    t0 = time.perf_counter()
    episodes = replay_raw_frames(a.data, a.episodes)
    print(f"replayed {len(episodes)} episodes in {time.perf_counter() - t0:.0f} s")
    results = {}
    for run, path in paths.items():
        with torch.no_grad():
            r = results[Path(run).name] = compare(load_policy(path), a.data, episodes, a.seed)
        print(f"{Path(run).name:48s} raw vs decoded {r['raw_vs_decoded']:.4f}  decoded vs expert "
              f"{r['decoded_vs_expert']:.4f}  raw vs expert {r['raw_vs_expert']:.4f}  (pixels |raw - decoded| "
              f"{r['pixel_l1_0_255']:.2f} of 255, state mismatch {r['max_state_mismatch']:.1e})", flush=True)
    if a.out:
        from vlaforge.core.atomic import write_json

        args = sys.argv[1:] if argv is None else argv
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        write_json(Path(a.out), {"command": "python benchmarks/codec_gap.py " + " ".join(shlex.quote(x) for x in args),
                                 "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                 "machine": describe_machine(a.threads), "data": a.data, "runs": results})
        print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
