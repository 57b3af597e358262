"""The one trainer: every family, every stage, policies and tokenizers alike.

A "model" here is anything ``config.create(normalizer, embodiments)`` builds that has
``forward(batch) -> (loss, logs)`` and ``param_groups(weight_decay)`` and can be saved by
``vlaforge.core.checkpoint.save_checkpoint`` (``config``, ``normalizer``, ``embodiments``,
``save_assets``). ``set_stage`` and ``on_train_step`` are used when present.

Exact resume: a checkpoint stores weights, optimizer, scheduler (with the schedule's
length), EMA, the python/numpy/torch RNG states and the number of samples consumed;
the sampler's order is a pure function of (seed, position). So a run interrupted after
k steps and resumed ends bitwise where an uninterrupted one does (CPU, fp32, no workers).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import random
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from safetensors.torch import load_model

from vlaforge.core.atomic import atomic_symlink, write_json
from vlaforge.core.checkpoint import CheckpointError, check_checkpoint, load_train_state, save_checkpoint
from vlaforge.core.keys import IMAGE_PREFIX
from vlaforge.core.normalize import Normalizer
from vlaforge.core.errors import ConfigError
from vlaforge.train import distributed
from vlaforge.train.config import TrainConfig
from vlaforge.train.data import TrainData, load_train_data, make_loader
from vlaforge.train.ema import EMA
from vlaforge.train.optim import build_optimizer, build_scheduler
from vlaforge.train.progress import MetricsLogger, Progress, plot_loss_curve

REESTIMATE_EVERY = 0.1
"""With a time budget, the schedule length is re-estimated after every such fraction of it."""

Callback = Callable[["Trainer", dict], None]
"""Called after every optimizer step with the step's metrics (``trainer.step`` is already advanced)."""


@dataclass
class TrainResult:
    out_dir: Path
    checkpoint: Path
    step: int
    train_seconds: float
    final_loss: float | None
    interrupted: bool
    loss_curve: Path | None
    summary: dict = field(default_factory=dict)


class Trainer:
    def __init__(self, cfg: TrainConfig, data: TrainData | None = None, callbacks: Sequence[Callback] = ()) -> None:
        cfg.check_limits()  # a command line or a script may have set them after the config was built
        self.cfg = cfg
        self.data = data
        self.callbacks = list(callbacks)
        self.out = Path(cfg.out_dir)
        self.step = 0
        self.train_seconds = 0.0
        self.budget: dict[str, Any] = {}
        self.setup_seconds = 0.0
        self._stop_reason: str | None = None
        self.dist = distributed.Dist()  # fit() replaces these from torchrun's environment
        self.device = cfg.device

    # ---- public -------------------------------------------------------------
    def fit(self) -> TrainResult:
        cfg = self.cfg
        t_setup = time.perf_counter()
        self.dist = distributed.setup(cfg.device)
        self.device = distributed.device_for(cfg.device, self.dist)
        _seed_everything(cfg.seed)
        torch.set_num_threads(cfg.num_threads)
        self.out.mkdir(parents=True, exist_ok=True)
        resume_from = latest_checkpoint(self.out, strict=True) if cfg.resume else None
        self._build(resume_from)
        if self.dist.main:
            write_json(self.out / "config.json", {**cfg.to_dict(), "data_info": self.data.info,
                                                  "world_size": self.dist.world})
        if self._done():
            print(f"[train] {self.out} already finished at step {self.step}; nothing to do")
            return self._finish(save=False)
        with self._signals():
            self._loop(t_setup)
        return self._finish(save=True)

    def request_stop(self, reason: str = "requested") -> None:
        """Stop after the current step, saving a checkpoint (used by the SIGINT handler)."""
        self._stop_reason = reason

    # ---- setup --------------------------------------------------------------
    def _build(self, resume_from: Path | None) -> None:
        cfg = self.cfg
        spec = cfg.policy.stage(cfg.stage)  # the first stage when none is named
        self.stage = spec.name
        self._check_dist()
        self.data = self.data or load_train_data(cfg.data, cfg.policy, spec, self.dist, cfg.dist.data_placement)
        normalizer = Normalizer(self.data.norm_stats, self.data.embodiments, cfg.policy.norm_mode)
        self.model = cfg.policy.create(normalizer, list(self.data.embodiments))
        if hasattr(self.model, "set_stage"):
            self.model.set_stage(self.stage)
        self.model.to(self.device).train()
        if cfg.init_from and resume_from is None:
            _init_weights(self.model, Path(cfg.init_from))
        state = self._check_resumable(resume_from) if resume_from is not None else None
        if resume_from is not None:  # weights first: before any sharding
            _load_weights(self.model, resume_from, state.get("live_params"))
            if hasattr(self.model, "load_assets"):
                self.model.load_assets(resume_from / "assets")  # e.g. the FAST tokenizer fitted before the kill
        if hasattr(self.model, "prepare"):
            self.model.prepare(self.data)
        self._attach_feature_caches()
        d = cfg.dist
        self.forward_model = distributed.wrap(self.model, self.dist, d.strategy, d.activation_checkpointing,
                                              d.mixed_precision, d.find_unused_parameters)
        if cfg.compile:
            self.forward_model = torch.compile(self.forward_model)
        if self.dist.enabled:
            _seed_everything(cfg.seed + 1000 * self.dist.rank)  # same init everywhere, own noise per rank
        self.optimizer = build_optimizer(self.model, cfg.optim)
        total = cfg.steps or 10**9  # a time budget fixes the real length after calibration
        self.scheduler, self.schedule = build_scheduler(self.optimizer, cfg.optim, total)
        ids = {id(p) for g in self.optimizer.param_groups for p in g["params"]}
        self.ema = EMA(self.model, cfg.ema_decay, ids) if cfg.ema_decay else None
        if cfg.time_budget_minutes is not None:
            self.budget = {"time_budget_s": cfg.time_budget_minutes * 60.0, "calibrated": False}
        if resume_from is not None:
            self._restore(resume_from, state)
        self.n_params = sum(p.numel() for p in self.model.parameters())
        self.n_trainable = sum(p.numel() for g in self.optimizer.param_groups for p in g["params"])

    def _attach_feature_caches(self) -> None:
        """Frozen pretrained encoders cost nothing per step: their features come from a cache (one view per
        frame when the encoder has no shift augmentation: K identical views would only cost K times the build)."""
        encoders = self.model.frozen_image_encoders() if hasattr(self.model, "frozen_image_encoders") else {}
        if not (encoders and self.cfg.data.feature_cache):
            return
        from vlaforge.data.features import load_feature_cache

        members = getattr(self.data.dataset, "datasets", [self.data.dataset])
        for ds in members:
            if not hasattr(ds, "set_features"):
                continue
            t0 = time.perf_counter()
            pad = _shift_pad(encoders)
            slots = {k: IMAGE_PREFIX + v for k, v in ds.slot_names.items()}  # dataset camera key -> policy slot key
            mine = {k: encoders[slots[k]] for k in ds.camera_keys if slots[k] in encoders}
            feats = load_feature_cache(ds.root, ds.frames(), mine,
                                       views=self.cfg.data.feature_views if pad > 0 else 1, shift_pad=pad,
                                       progress=self.cfg.progress)
            ds.set_features(feats)
            self.data.info.setdefault("feature_cache_s", []).append(round(time.perf_counter() - t0, 1))

    def _check_dist(self) -> None:
        cfg = self.cfg
        if self.dist.enabled and cfg.dist.strategy == "fsdp2":
            if cfg.ema_decay:
                raise ConfigError("dist.strategy=fsdp2 does not keep an EMA of sharded weights yet; drop --ema-decay "
                                  "or use dist.strategy=ddp")
            if cfg.eval_every:
                raise ConfigError("periodic evaluation needs every rank under fsdp2; drop --eval-every and "
                                  "evaluate the checkpoint afterwards (`vlaforge eval`)")

    def _check_resumable(self, path: Path) -> dict:
        state = load_train_state(path)
        if state.get("stage") != self.stage:
            raise CheckpointError(f"{path} was saved in stage {state.get('stage')!r}, this run trains "
                                  f"{self.stage!r}; use a fresh --out-dir or --init-from for a new stage")
        if state["samples_per_step"] != self.cfg.samples_per_step:
            raise CheckpointError(f"{path} was trained with {state['samples_per_step']} samples/step, this run "
                                  f"uses {self.cfg.samples_per_step}; keep data.batch_size and optim.grad_accum")
        if state.get("world_size", 1) != self.dist.world:
            raise CheckpointError(f"{path} was trained by {state.get('world_size', 1)} process(es), this run has "
                                  f"{self.dist.world}; resume with the same --nproc-per-node")
        return state

    def _restore(self, path: Path, state: dict) -> None:
        if state.get("optimizer") is None and (path / "optim_dcp").is_dir():
            distributed.load_sharded_optimizer(self.model, self.optimizer, path / "optim_dcp")
        else:
            self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        self.step, self.train_seconds = state["step"], state["train_seconds"]
        saved = state.get("budget") or {}
        if self.budget:  # keep the saved calibration; the cap is this run's (it may extend the budget)
            self.budget = {**saved, "time_budget_s": self.budget["time_budget_s"]} if saved else self.budget
        if self.cfg.steps is not None:
            self.schedule.total = min(self.schedule.total, self.cfg.steps) if self.budget else self.cfg.steps
        rng = state["rng"]
        _set_rng_state(rng[self.dist.rank] if isinstance(rng, list) else rng)
        print(f"[train] resumed from {path} at step {self.step} ({self.train_seconds:.0f}s trained)")

    # ---- loop ---------------------------------------------------------------
    def _loop(self, t_setup: float) -> None:
        cfg = self.cfg
        world = self.dist.world if self.data.info.get("placement") != "lpt" else 1  # lpt: each rank its own data
        seed = cfg.seed if world > 1 or not self.dist.enabled else cfg.seed + self.dist.rank
        it = make_loader(self.data, cfg.data.batch_size, cfg.data.num_workers, seed,
                         start=self.step * cfg.samples_per_step * world, rank=self.dist.rank if world > 1 else 0,
                         world=world, pin_memory=str(self.device).startswith("cuda"))
        it = self._warm_up(it)
        self.setup_seconds = time.perf_counter() - t_setup  # data/cache/model set-up: outside the budget
        main = self.dist.main
        self.logger = MetricsLogger(self.out, cfg.tensorboard, start_step=self.step) if main else _NullLogger()
        total = cfg.steps if not self.budget else (self.schedule.total if self.budget.get("calibrated") else None)
        self.progress = Progress(total, self.step, cfg.progress and main, desc=f"train {self.stage}")
        self._print_header()
        session_start, self._last_saved = self.step, -1
        window = _Window()
        t_origin, eval_s = time.perf_counter() - self.train_seconds, 0.0
        try:
            while not distributed.any_true(self._done(), self.dist):
                t0 = time.perf_counter()
                metrics = self._train_step(it)
                window.add(metrics, time.perf_counter() - t0, cfg.samples_per_step * self.dist.world)
                self.train_seconds = time.perf_counter() - t_origin - eval_s
                self._calibrate(session_start, window)
                if self.dist.enabled:  # every rank follows rank 0's schedule length
                    self.schedule.total = distributed.broadcast_int(self.schedule.total, self.dist)
                self.progress.update(metrics["loss"], window.rate())
                if self.step % cfg.log_every == 0:
                    self.logger.log(self.step, {**window.flush(), "elapsed_s": self.train_seconds})
                for cb in self.callbacks:
                    cb(self, metrics)
                if distributed.any_true(self._stop_reason is not None, self.dist) and self._stop_reason is None:
                    self._stop_reason = "another rank stopped"
                if self.step % cfg.save_every == 0 or self._stop_reason:
                    self.save()
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    eval_s += self._periodic_eval()
                if self._stop_reason:
                    break
            if window.n:  # the last, partial logging window
                self.logger.log(self.step, {**window.flush(), "elapsed_s": self.train_seconds})
        finally:
            self.progress.close()
            self.logger.close()

    def _warm_up(self, it: Iterator[dict]) -> Iterator[dict]:
        """One no-grad forward on the first batch, with every RNG state put back afterwards.

        Lazy set-up inside a model (loading a frozen text encoder builds modules and draws
        random init weights; caches open) would otherwise consume the global RNG at the first
        step of a session, so a resumed run would draw different noise than an uninterrupted
        one. It also keeps that one-off cost out of the step-time calibration."""
        first = next(it)
        with _rng_preserved(), torch.no_grad(), self._autocast():
            self.model.eval()
            try:
                self.forward_model(_to_device(first, self.device))
            finally:
                self.model.train()
        return itertools.chain([first], it)

    def _train_step(self, it: Iterator[dict]) -> dict[str, float]:
        cfg, model = self.cfg, self.model
        if hasattr(model, "on_train_step"):
            model.on_train_step(self.step)
        accum = cfg.optim.grad_accum
        loss_sum, logs_sum = 0.0, {}
        for _ in range(accum):
            batch = _to_device(next(it), self.device)
            with self._autocast():
                loss, logs = self.forward_model(batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at step {self.step}; lower optim.lr, "
                                         "check the data's norm stats, or try --precision fp32")
            (loss / accum).backward()
            loss_sum += loss.item() / accum
            for k, v in (logs or {}).items():
                logs_sum[k] = logs_sum.get(k, 0.0) + float(v) / accum
        grad_norm = self._clip()
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update(model)
        self.step += 1
        return {**logs_sum, "loss": distributed.mean(loss_sum, self.dist), "grad_norm": grad_norm, "lr": self._lr()}

    def _clip(self) -> float:
        params = [p for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]
        if not params:
            return 0.0
        max_norm = self.cfg.optim.grad_clip if self.cfg.optim.grad_clip > 0 else math.inf
        return float(torch.nn.utils.clip_grad_norm_(params, max_norm))

    def _lr(self) -> float:
        """The learning rate of the unscaled groups (lr_scale 1), i.e. the schedule's value."""
        g = next((g for g in self.optimizer.param_groups if g.get("lr_scale", 1.0) == 1.0),
                 self.optimizer.param_groups[0])
        return g["lr"] / g.get("lr_scale", 1.0)

    def _autocast(self):
        if resolve_precision(self.cfg.precision, str(self.device)) == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=torch.bfloat16)

    def _done(self) -> bool:
        if self.cfg.steps is not None and self.step >= self.cfg.steps:
            return True
        return bool(self.budget) and self.train_seconds >= self.budget["time_budget_s"]

    def _calibrate(self, session_start: int, window: "_Window") -> None:
        """With a time budget, set the cosine schedule's length from the measured step time.

        First from the step time over ``calibration_steps`` steps; then again after every
        tenth of the budget, from the wall time per step over that tenth (checkpoint saves
        and changes in machine load included): on a shared machine the step time can change
        several-fold within minutes, and one early estimate would end the schedule far too
        early or too late. Every estimate is recorded in ``budget["estimates"]``."""
        b = self.budget
        if not b:
            return
        ests = b.setdefault("estimates", [])
        if not ests:
            if self.step - session_start < self.cfg.calibration_steps + 1:
                return
            sec_per_step = window.calib_seconds / max(window.calib_steps, 1)
            b.update(calibrated=True, at_step=self.step, sec_per_step=sec_per_step)
        else:
            last, k = ests[-1], len(ests)
            if (k >= 10 or self.train_seconds < k * REESTIMATE_EVERY * b["time_budget_s"]
                    or self.step < last["at_step"] + 5):
                return
            sec_per_step = (self.train_seconds - last["at_seconds"]) / (self.step - last["at_step"])
        remaining = b["time_budget_s"] - self.train_seconds
        total = self.step + int(0.98 * remaining / sec_per_step)
        if self.cfg.steps is not None:
            total = min(total, self.cfg.steps)
        self.schedule.total = max(total, self.step + 1)
        b["schedule_total_steps"] = self.schedule.total
        ests.append({"at_step": self.step, "at_seconds": round(self.train_seconds, 3),
                     "sec_per_step": round(sec_per_step, 5), "total_steps": self.schedule.total})
        self.progress.set_total(self.schedule.total)
        if len(ests) == 1 or abs(self.schedule.total / ests[-2]["total_steps"] - 1) > 0.1:
            self.progress.write(f"[train] time budget {b['time_budget_s'] / 60:.1f} min: {sec_per_step * 1e3:.0f} "
                                f"ms/step at step {self.step} -> cosine schedule over {self.schedule.total} steps")

    # ---- checkpoints --------------------------------------------------------
    def save(self) -> Path:
        if self._last_saved == self.step:
            return self.out / "checkpoints" / f"step_{self.step:06d}"
        path = self.out / "checkpoints" / f"step_{self.step:06d}"
        sharded = distributed.is_sharded(self.model)
        state = self._train_state(sharded)  # gathers every rank's RNG state: a collective
        extra, weights = {}, None
        if sharded:  # collectives: every rank takes part, rank 0 writes
            weights = distributed.full_state_dict(self.model)
            extra["optim_dcp"] = self.out / "checkpoints" / f".optim_dcp_step_{self.step:06d}"
            distributed.save_sharded_optimizer(self.model, self.optimizer, extra["optim_dcp"])
        if self.dist.main:
            with self.ema.applied(self.model) if self.ema is not None else contextlib.nullcontext():
                save_checkpoint(path, self.model, self.cfg.to_dict(), state, tasks=self.data.info.get("tasks"),
                                weights=weights, extra_dirs=extra)
            _point_last(path)
            _prune(self.out / "checkpoints", self.cfg.keep_checkpoints)
        distributed.barrier(self.dist)
        self._last_saved = self.step
        return path

    def _train_state(self, sharded: bool = False) -> dict[str, Any]:
        live = None
        if self.ema is not None:  # model.safetensors will hold the EMA weights; keep the live ones here
            live = {n: p.detach().clone() for n, p in self.model.named_parameters() if n in self.ema.shadow}
        rng = distributed.gather(_get_rng_state(), self.dist)
        return {"step": self.step, "stage": self.stage, "world_size": self.dist.world,
                "optimizer": None if sharded else self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "ema": self.ema.state_dict() if self.ema else None,
                "live_params": live, "rng": rng if self.dist.enabled else rng[0],
                "train_seconds": self.train_seconds,
                "samples_consumed": self.step * self.cfg.samples_per_step,
                "samples_per_step": self.cfg.samples_per_step, "seed": self.cfg.seed, "budget": self.budget}

    # ---- evaluation ---------------------------------------------------------
    def _periodic_eval(self) -> float:
        """Closed-loop evaluation with the sim runner; training RNG and time are left untouched."""
        from vlaforge.train.evaluate import evaluate_during_training

        t0 = time.perf_counter()
        with _rng_preserved(), (self.ema.applied(self.model) if self.ema else contextlib.nullcontext()):
            self.model.eval()
            try:
                out = self.out / "evals" / f"step_{self.step:06d}"
                metrics = evaluate_during_training(self.model, self.cfg.eval, out)
            finally:
                self.model.train()
        self.logger.log(self.step, metrics)
        self.progress.write(f"[train] step {self.step} eval: " + ", ".join(f"{k}={v:.3f}" for k, v in metrics.items()))
        return time.perf_counter() - t0

    # ---- the end ------------------------------------------------------------
    def _finish(self, save: bool) -> TrainResult:
        interrupted = self._stop_reason is not None and not self._done()
        ckpt = self.save() if save else last_checkpoint(self.out)
        curve = plot_loss_curve(self.out / "metrics.jsonl", self.out / "loss_curve.png",
                                title=f"{self.cfg.policy.family} {self.stage} loss") if self.dist.main else None
        summary = self._summary(ckpt, interrupted)
        if self.dist.main:
            write_json(self.out / "train_summary.json", summary)
        if interrupted:
            print(f"[train] stopped ({self._stop_reason}) at step {self.step}; checkpoint {ckpt}. "
                  f"Continue with the same command plus --resume")
        return TrainResult(self.out, ckpt, self.step, self.train_seconds, summary["final_loss"],
                           interrupted, curve, summary)

    def _summary(self, ckpt: Path, interrupted: bool) -> dict:
        from vlaforge.core.machine import describe_machine
        from vlaforge.train.progress import read_metrics

        rows = [r for r in read_metrics(self.out / "metrics.jsonl") if "loss" in r]
        return {"family": self.cfg.policy.family, "stage": self.stage, "steps": self.step,
                "train_seconds": round(self.train_seconds, 1),
                "setup_seconds": round(self.setup_seconds, 1), "samples_per_step": self.cfg.samples_per_step,
                "samples_per_s": round(self.step * self.cfg.samples_per_step * self.dist.world
                                       / max(self.train_seconds, 1e-9), 1), "world_size": self.dist.world,
                "final_loss": rows[-1]["loss"] if rows else None, "checkpoint": str(ckpt),
                "interrupted": interrupted, "budget": self.budget, "n_params": self.n_params,
                "n_trainable": self.n_trainable, "seed": self.cfg.seed,
                "precision": resolve_precision(self.cfg.precision, str(self.device)),
                "machine": describe_machine(self.cfg.num_threads)}  # samples/s depends on it

    def _print_header(self) -> None:
        cfg, d = self.cfg, self.data.info
        limit = [f"{cfg.steps} steps"] if cfg.steps else []
        limit += [f"{cfg.time_budget_minutes:g} min"] if cfg.time_budget_minutes else []
        self.progress.write(f"[train] {cfg.policy.family}/{cfg.policy.preset} stage={self.stage} "
                            f"params={self.n_params / 1e6:.2f}M (trainable {self.n_trainable / 1e6:.2f}M) "
                            f"data={d.get('sizes')} samples batch={cfg.samples_per_step} "
                            f"{resolve_precision(cfg.precision, str(self.device))} threads={cfg.num_threads} stop at {' or '.join(limit)} -> {self.out}")

    @contextlib.contextmanager
    def _signals(self):
        """SIGINT/SIGTERM: finish the step, save, exit cleanly. A second SIGINT aborts at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, frame):
            if self._stop_reason is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.request_stop(signal.Signals(signum).name)

        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)


class _NullLogger:
    """Ranks other than 0 log nothing (rank 0 logs the all-reduced loss)."""

    def log(self, step: int, metrics: dict) -> None:
        pass

    def close(self) -> None:
        pass


class _Window:
    """Running sums between two log lines, plus the step-time measurement for calibration."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.n = 0
        self.samples, self.seconds = 0, 0.0
        self.rate_ema: float | None = None
        self.calib_steps, self.calib_seconds, self._seen = 0, 0.0, 0

    def add(self, metrics: dict[str, float], seconds: float, samples: int) -> None:
        for k, v in metrics.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.n += 1
        self.samples += samples
        self.seconds += seconds
        r = samples / max(seconds, 1e-9)
        self.rate_ema = r if self.rate_ema is None else 0.9 * self.rate_ema + 0.1 * r
        self._seen += 1
        if self._seen > 1:  # the first step of a session pays for lazy init and worker start-up
            self.calib_steps += 1
            self.calib_seconds += seconds

    def rate(self) -> float:
        return self.rate_ema or 0.0

    def flush(self) -> dict[str, float]:
        out = {k: v / self.n for k, v in self.sums.items()}
        out["samples_per_s"] = self.samples / max(self.seconds, 1e-9)
        self.sums, self.n, self.samples, self.seconds = {}, 0, 0, 0.0
        return out


# ---- checkpoint directory helpers ---------------------------------------------

def latest_checkpoint(out_dir: str | Path, strict: bool = False) -> Path | None:
    """Newest complete ``step_*`` checkpoint with a train state under ``out_dir/checkpoints``.

    Broken ones are skipped with a warning; with ``strict``, finding checkpoints of which
    none is usable is an error rather than a silent fresh start."""
    root = Path(out_dir) / "checkpoints"
    candidates = sorted(root.glob("step_*"), key=lambda q: q.name, reverse=True) if root.is_dir() else []
    problems = []
    for p in candidates:
        try:
            check_checkpoint(p)
            if not (p / "train_state.pt").is_file():
                raise CheckpointError(f"{p} has no train_state.pt (a weights-only checkpoint cannot resume)")
            return p
        except CheckpointError as e:
            problems.append(str(e))
            print(f"[train] skipping {p.name}: {e}")
    if strict and problems:
        raise CheckpointError(f"no usable checkpoint in {root} to resume from: " + " | ".join(problems))
    return None


def _point_last(path: Path) -> None:
    """Atomically repoint ``checkpoints/last`` at ``path`` (a relative symlink)."""
    atomic_symlink(path.name, path.parent / "last")


def last_checkpoint(out_dir: str | Path) -> Path:
    """The checkpoint ``checkpoints/last`` points at (the newest complete one if the link is missing)."""
    out_dir = Path(out_dir)
    link = out_dir / "checkpoints" / "last"
    return link.resolve() if link.exists() else (latest_checkpoint(out_dir) or link)


def _prune(root: Path, keep: int) -> None:
    if keep <= 0:
        return
    last = (root / "last").resolve() if (root / "last").exists() else None
    steps = sorted(root.glob("step_*"), key=lambda q: q.name)
    for p in steps[:-keep]:
        if p.resolve() != last:
            shutil.rmtree(p, ignore_errors=True)


def _load_weights(model: torch.nn.Module, path: Path, live: dict | None) -> None:
    missing, unexpected = load_model(model, str(path / "model.safetensors"), strict=False)
    if missing or unexpected:
        raise CheckpointError(f"weights in {path} do not match the model: missing {sorted(missing)[:5]}, "
                              f"unexpected {sorted(unexpected)[:5]}")
    if live:
        params = dict(model.named_parameters())
        with torch.no_grad():
            for n, v in live.items():
                params[n].copy_(v)


def _init_weights(model: torch.nn.Module, path: Path) -> None:
    """Start from another run's weights (an earlier stage): matching names load, the rest stay fresh."""
    check_checkpoint(path)
    missing, unexpected = load_model(model, str(path / "model.safetensors"), strict=False)
    n_total = len(model.state_dict())
    if len(missing) >= n_total:
        raise CheckpointError(f"--init-from {path}: no weight name matches this model; is it the same family?")
    print(f"[train] initialised from {path}: {n_total - len(missing)}/{n_total} tensors loaded"
          + (f", {len(missing)} fresh (e.g. {sorted(missing)[:3]})" if missing else "")
          + (f", {len(unexpected)} ignored (e.g. {sorted(unexpected)[:3]})" if unexpected else ""))


def _shift_pad(encoders: dict) -> int:
    return max((int(getattr(e, "shift_pad", 0)) for e in encoders.values()), default=0)


def resolve_precision(precision: str, device: str = "cpu") -> str:
    """'auto' -> 'bf16' where bf16 matmuls are native (CUDA; CPUs with AVX-512 BF16 or AMX), else 'fp32'."""
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "bf16"
    cpu = torch.cpu
    fast = getattr(cpu, "_is_avx512_bf16_supported", lambda: False)() or getattr(cpu, "_is_amx_tile_supported",
                                                                                  lambda: False)()
    return "bf16" if fast else "fp32"


# ---- RNG and device helpers ------------------------------------------------------

def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _get_rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextlib.contextmanager
def _rng_preserved():
    state = _get_rng_state()
    try:
        yield
    finally:
        _set_rng_state(state)


def _to_device(batch: dict, device: str) -> dict:
    if device == "cpu":
        return batch
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def train(cfg: TrainConfig, data: TrainData | None = None, callbacks: Sequence[Callback] = ()) -> TrainResult:
    """Train one stage as ``cfg`` says; see ``Trainer``."""
    return Trainer(cfg, data, callbacks).fit()


__all__ = ["Trainer", "TrainResult", "train", "latest_checkpoint", "last_checkpoint"]
