"""UniVLA-AR on the shared MT10 protocol, with its world-model ablation. LONG: hours on 2 cores.

    python benchmarks/bench_univla_ar_mt10.py                         # everything, one process
    # two 1-thread lanes on a 2-core machine (what BENCHMARKS.md ran); both merge into one results.json:
    python benchmarks/bench_univla_ar_mt10.py --variants wm_full wm_10demos
    python benchmarks/bench_univla_ar_mt10.py --variants scratch_full scratch_10demos
    python benchmarks/bench_univla_ar_mt10.py --vq-minutes 1 --wm-minutes 1 --policy-minutes 1 \\
        --small-data-minutes 1 --episodes-per-task 1 --variants wm_full --video-episodes-per-task 2  # smoke test

Stages (each skipped when its output exists and ``--reuse`` is on):
1. Action-free MT40 video (MT50 minus MT10), ``--video-episodes-per-task`` per task, no actions.
2. Image VQ (``vq_tiny_mt10``) on MT10 + MT40 frames; reconstruction PSNR and code usage on
   MT10 via ``vlaforge tokenizer extract-vq`` (tokens saved, memory-mapped).
3. FAST tokenizer fitted on MT10 action chunks (chunk 10, vocabulary 1024).
4. World model (``univla_ar_wm_mt40``) on the MT40 video; foresight: next-frame token accuracy
   and PSNR against the copy-the-current-frame baseline, on MT10 (tasks it never saw) and MT40,
   with an image grid PNG.
5. Policy stage from the world model vs from scratch (same VQ), on all 50 demos/task (45 min)
   and on 10 demos/task (``--small-data-minutes``); each evaluated on 10 episodes/task from seed
   10,000 with ``--fast-decode`` (relaxed: short generations are zero-filled at the highest DCT
   frequencies and counted; strict: they are failures), decode counts in the results.
The world model is trained (and its foresight measured) only when a ``wm_*`` variant is asked for.
Writes benchmarks/results/univla_ar_mt10/{results.json, results.md, foresight_*.png, eval_*/}.
"""

from __future__ import annotations

import fcntl
import json
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from vlaforge.core.machine import describe_machine

VARIANTS = ("wm_full", "scratch_full", "wm_10demos", "scratch_10demos")


@dataclass
class Args:
    data: str = "data/mt10_64"
    video: str = "data/mt40_video_64"
    video_episodes_per_task: int = 20
    vq_minutes: float = 20.0
    wm_minutes: float = 40.0
    policy_minutes: float = 45.0
    small_data_minutes: float = 35.0
    """Policy-stage budget of the 10-demos variants (less data, so fewer steps before it overfits)."""
    demos_small: int = 10
    episodes_per_task: int = 10
    fast_decode: str = "relaxed"
    n_action_steps: int = 10
    """Actions executed per predicted chunk (all 10, as in the policy-only figure of session 1)."""
    threads: int = 1
    """Torch threads per training run: 1 so two lanes can share a 2-core machine."""
    variants: tuple[str, ...] = VARIANTS
    runs: str = "runs/bench_univla_ar_mt10"
    out: str = "benchmarks/results/univla_ar_mt10"
    foresight_samples: int = 256
    foresight_only: bool = False
    """Only (re)measure the world model's foresight from its existing checkpoint."""
    workers: int = 1
    """Evaluation worker processes."""
    reuse: bool = True
    """Skip a stage whose checkpoint / file already exists."""


def collect_video(a: Args) -> None:
    from vlaforge.sim.collect import CollectConfig, collect

    if a.reuse and (Path(a.video) / "meta" / "info.json").is_file():
        return
    collect(CollectConfig(tasks="mt40", episodes_per_task=a.video_episodes_per_task, out=a.video,
                          no_actions=True, workers=a.workers, overwrite=True))


def run_recipe(a: Args, name: str, out: str, minutes: float, init_from: str | None = None,
               episodes_per_task: int | None = None, **policy_kw):
    """Train one stage from a recipe with this benchmark's paths; reuse a finished run."""
    from vlaforge.train.recipes import get_recipe
    from vlaforge.train.trainer import last_checkpoint, train

    if a.reuse and (Path(out) / "train_summary.json").is_file():
        return last_checkpoint(Path(out)), json.loads((Path(out) / "train_summary.json").read_text())
    cfg = get_recipe(name)()
    cfg.out_dir, cfg.time_budget_minutes, cfg.steps = out, minutes, None
    cfg.num_threads, cfg.data.num_workers, cfg.data.episodes_per_task = a.threads, 0, episodes_per_task
    cfg.save_every = 100  # a killed lane resumes (re-run the same command) losing at most 100 steps
    cfg.resume = True
    cfg.init_from = init_from
    for k, v in policy_kw.items():
        setattr(cfg.policy, k, v)
    if name == "vq_tiny_mt10":
        cfg.data.roots, cfg.data.action_free_roots = (a.data,), (a.video,)
    elif name == "univla_ar_wm_mt40":
        cfg.data.roots = (a.video,)
    else:
        cfg.data.roots = (a.data,)
    result = train(cfg)
    return result.checkpoint, result.summary


def foresight(a: Args, wm_ckpt: Path, root: str, tag: str) -> dict:
    """Next-frame prediction of the world model vs copying the current frame."""
    from vlaforge.core.checkpoint import load_policy
    from vlaforge.data.dataset import LeRobotDataset
    from vlaforge.tokenizers.image_vq import ImageVQ, psnr

    pol = load_policy(wm_ckpt)
    pol.set_stage("world_model")
    c, spec = pol.config, pol.stage_spec  # the world model's clip: wm_frames frames wm_stride apart
    ds = LeRobotDataset(root, n_obs_steps=spec.n_obs_steps, obs_stride=spec.obs_stride, chunk_size=spec.chunk_size,
                        cameras=tuple(c.cameras))
    frame_idx = np.asarray(ds._data["frame_index"])[ds._rows]
    valid = np.nonzero(frame_idx >= (spec.n_obs_steps - 1) * spec.obs_stride)[0]  # no padded context
    if len(valid) == 0:
        return {"dataset": root, "samples": 0, "note": "no window with a full frame context"}
    rng = np.random.default_rng(0)
    pick = rng.choice(valid, min(a.foresight_samples, len(valid)), replace=False)
    acc, acc_copy, p_pred, p_copy, p_recon, grid = [], [], [], [], [], []
    tf_acc, tf_copy = [], []
    for s in range(0, len(pick), 16):
        batch = ds.get_batch(pick[s:s + 16])
        cams = sorted(k for k in batch if k.startswith("observation.images."))
        with torch.no_grad():  # teacher-forced: every frame's tokens given the true earlier frames and tokens
            tf_acc.append(pol(batch)[1]["acc_image"])
        codes = torch.stack([pol.vq.encode(batch[k].flatten(0, 1)).flatten(1) for k in cams])  # (V, B*T, h*w)
        codes = codes.view(len(cams), batch[cams[0]].shape[0], batch[cams[0]].shape[1], -1)  # (V, B, T, h*w)
        tf_copy.append((codes[:, :, 1:] == codes[:, :, :-1]).float().mean().item())
        obs = {k: batch[k][:, :-1] for k in cams}
        obs.update(task=batch["task"], embodiment=batch["embodiment"])
        pred = pol.predict_future(obs)
        for v, k in enumerate(cams):
            target, current = batch[k][:, -1], batch[k][:, -2]  # (B, 3, H, W)
            true_codes = pol.vq.encode(target).flatten(1)
            pred_codes = pred["future.codes"][:, v].flatten(1)
            acc.append((pred_codes == true_codes).float().mean().item())
            acc_copy.append((pol.vq.encode(current).flatten(1) == true_codes).float().mean().item())
            tgt = ImageVQ.to_float(target)
            p_pred.append(psnr(ImageVQ.to_float(pred["future." + k[len("observation."):]][:, 0]), tgt))
            p_copy.append(psnr(ImageVQ.to_float(current), tgt))
            p_recon.append(psnr(pol.vq.decode(pol.vq.encode(target)), tgt))
            if s == 0 and v == 0:
                grid = [current[:6], target[:6], pred["future." + k[len("observation."):]][:6, 0]]
    png = Path(a.out) / f"foresight_{tag}.png"
    _save_grid(grid, png, ["current", "true next", "predicted next"])
    return {"dataset": root, "samples": int(len(pick)), "horizon_frames": spec.obs_stride,
            "token_accuracy": float(np.mean(acc)), "token_accuracy_copy_current": float(np.mean(acc_copy)),
            "token_accuracy_teacher_forced": float(np.mean(tf_acc)),
            "token_accuracy_teacher_forced_copy_previous": float(np.mean(tf_copy)),
            "frames_per_window": spec.n_obs_steps,
            "psnr_pred_db": float(np.mean(p_pred)), "psnr_copy_current_db": float(np.mean(p_copy)),
            "psnr_vq_recon_of_target_db": float(np.mean(p_recon)), "grid_png": str(png)}


def _save_grid(rows, path: Path, labels) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = rows[0].shape[0]
    fig, axes = plt.subplots(len(rows), n, figsize=(1.6 * n, 1.7 * len(rows)), squeeze=False)
    for r, (row, label) in enumerate(zip(rows, labels)):
        for j in range(n):
            axes[r][j].imshow(row[j].permute(1, 2, 0).numpy())
            axes[r][j].set_xticks([]), axes[r][j].set_yticks([])
        axes[r][0].set_ylabel(label, fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def evaluate(a: Args, ckpt: Path, name: str) -> dict:
    from vlaforge.data.lerobot import load_meta
    from vlaforge.sim.evaluate import run_eval
    from vlaforge.sim.sources import CheckpointSource

    seeds = load_meta(a.data).episodes.get("seed")
    return run_eval(CheckpointSource(str(ckpt), {"fast_decode": a.fast_decode}), "mt10", a.episodes_per_task, seed_start=10_000, max_steps=500, workers=a.workers,
                    n_action_steps=a.n_action_steps,
                    out_dir=Path(a.out) / f"eval_{name}", videos_per_task=1,
                    training_seeds=None if seeds is None else {int(s) for s in seeds})


def main(argv: list[str] | None = None) -> int:
    import tyro

    from vlaforge.cli.tokenizer import ExtractVQ, FitFast, extract_vq, fit_fast

    a = tyro.cli(Args, args=argv)
    t0, runs, res = time.perf_counter(), Path(a.runs), {}
    Path(a.out).mkdir(parents=True, exist_ok=True)
    if a.foresight_only:
        from vlaforge.train.trainer import last_checkpoint

        wm_ckpt = last_checkpoint(runs / "wm")
        res["foresight"] = {"mt10_unseen_tasks": foresight(a, wm_ckpt, a.data, "mt10"),
                            "mt40_training_tasks": foresight(a, wm_ckpt, a.video, "mt40")}
        _write(a, res, t0)
        return 0
    collect_video(a)
    vq_ckpt, res["vq_train"] = run_recipe(a, "vq_tiny_mt10", str(runs / "vq"), a.vq_minutes)
    fast_dir = runs / "fast_mt10"
    if not (a.reuse and (fast_dir / "fast_config.json").is_file()):
        res["fast"] = fit_fast(FitFast(dataset=a.data, out=str(fast_dir), chunk=10, vocab=1024))
    _write(a, res, t0)
    wm_ckpt = None
    if any(v.startswith("wm") for v in a.variants):  # the lane with a world model also reports the VQ
        if not (a.reuse and "vq" in _read(a)):
            res["vq"] = extract_vq(ExtractVQ(checkpoint=str(vq_ckpt), dataset=a.data,
                                             out=str(runs / "mt10_vq_tokens.npy")))
        wm_ckpt, res["wm_train"] = run_recipe(a, "univla_ar_wm_mt40", str(runs / "wm"), a.wm_minutes,
                                              init_from=str(vq_ckpt))
        if not (a.reuse and "foresight" in _read(a)):
            res["foresight"] = {"mt10_unseen_tasks": foresight(a, wm_ckpt, a.data, "mt10"),
                                "mt40_training_tasks": foresight(a, wm_ckpt, a.video, "mt40")}
        _write(a, res, t0)
    for name in a.variants:
        small = name.endswith("10demos")
        ckpt, summary = run_recipe(a, "univla_ar_tiny_mt10", str(runs / name),
                                   a.small_data_minutes if small else a.policy_minutes,
                                   init_from=str(wm_ckpt if name.startswith("wm") else vq_ckpt),
                                   episodes_per_task=a.demos_small if small else None, fast_path=str(fast_dir))
        ev = evaluate(a, ckpt, name)
        res.setdefault("policy", {})[name] = {
            "train": summary, "mean_success": ev["mean_success"], "fast_decode": a.fast_decode,
            "demos_per_task": a.demos_small if small else "all",
            "per_task": {t: r["success_rate"] for t, r in ev["per_task"].items()},
            "diagnostics": ev.get("diagnostics"), "n_action_steps": ev.get("n_action_steps"),
            "eval_minutes": round(ev["elapsed_s"] / 60, 1)}
        _write(a, res, t0)
    return 0


def _read(a: Args) -> dict:
    f = Path(a.out) / "results.json"
    return json.loads(f.read_text()) if f.is_file() else {}


def _write(a: Args, res: dict, t0: float) -> None:
    """Merge this process's results into results.json (other lanes may write too: file lock)."""
    out = Path(a.out) / "results.json"
    with open(Path(a.out) / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        merged = _read(a)
        for k, v in res.items():
            merged[k] = {**merged.get(k, {}), **v} if k == "policy" else v
        merged.setdefault("lanes", {})[" ".join(a.variants)] = {
            "command": "python " + " ".join(shlex.quote(x) for x in sys.argv), "args": asdict(a),
            "minutes": round((time.perf_counter() - t0) / 60, 2), "date": time.strftime("%Y-%m-%d %H:%M"),
            "machine": describe_machine(a.threads)}
        merged["benchmark"] = {
            "protocol": "MT10, corner2+gripperPOV 64x64, policy stage <= 45 min, 10 eps/task from seed 10000",
            "family": "univla_ar", "preset": "tiny",
            "machine": describe_machine()}
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(merged, indent=2, default=str))
        tmp.replace(out)
    _write_md(a, merged)


def _write_md(a: Args, res: dict) -> None:
    lines = ["| variant | demos/task | init | mean success | train steps | decode failures / repaired / chunks |",
             "|---|---|---|---|---|---|"]
    for name in VARIANTS:
        r = res.get("policy", {}).get(name)
        if r is None:
            continue
        d = r.get("diagnostics") or {}
        lines.append(f"| {name} | {r.get('demos_per_task')} | {'world model' if name.startswith('wm') else 'VQ only'}"
                     f" | {100 * r['mean_success']:.1f}% | {r['train'].get('steps', '?')} | "
                     f"{d.get('decode_failures', '?')} / {d.get('decode_repaired', '?')} / {d.get('action_chunks', '?')} |")
    for tag, f in res.get("foresight", {}).items():
        if not f.get("samples"):
            continue
        lines += ["", f"foresight ({tag}): next-frame token accuracy {f['token_accuracy']:.3f} vs copy-current "
                      f"{f['token_accuracy_copy_current']:.3f}; PSNR {f['psnr_pred_db']:.2f} dB vs copy-current "
                      f"{f['psnr_copy_current_db']:.2f} dB (VQ reconstruction of the target "
                      f"{f['psnr_vq_recon_of_target_db']:.2f} dB)"]
        if "token_accuracy_teacher_forced" in f:
            lines.append(f"  teacher-forced token accuracy {f['token_accuracy_teacher_forced']:.3f} vs copy-previous-frame "
                         f"{f['token_accuracy_teacher_forced_copy_previous']:.3f}")
    (Path(a.out) / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
