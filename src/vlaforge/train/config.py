"""The training config: one typed dataclass for every family and stage.

``TrainConfig`` is generic over the family config so ``tyro`` can parse overrides of
any policy field (``--policy.chunk-size 30``) with the family's own types:
``tyro.cli(TrainConfig[XVLAConfig], default=recipe())``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from vlaforge.core.config import PolicyConfig, from_dict
from vlaforge.core.errors import ConfigError
from vlaforge.core.registry import get_family

P = TypeVar("P", bound=PolicyConfig)


@dataclass
class DataConfig:
    """Where samples come from. Observation history and chunk length come from the policy config."""

    roots: tuple[str, ...] = ()
    """LeRobot v3 dataset directories with actions."""
    weights: tuple[float, ...] = ()
    """Sampling weight per root (empty: proportional to each dataset's size)."""
    action_free_roots: tuple[str, ...] = ()
    """Video-only datasets (frames + text, no actions), for families whose paper uses them."""
    action_free_weights: tuple[float, ...] = ()
    """Sampling weight per action-free root, on the same scale as ``weights``."""
    batch_size: int = 32
    """Samples per micro-batch (an optimizer step sees ``batch_size * optim.grad_accum``)."""
    num_workers: int = 0
    """DataLoader worker processes (0 = load in the training process)."""
    use_cache: bool = True
    """Decode videos once into a frame cache next to the dataset."""
    feature_cache: bool = True
    """For a policy with frozen pretrained image encoders: encode every frame once into a feature
    cache next to the dataset (``vlaforge.data.features``) and train on the cached features."""
    feature_views: int = 3
    """Augmented views per frame in the feature cache: the frame itself plus K-1 random shifts."""
    tasks: tuple[str, ...] = ()
    """Train on these tasks only (an instruction string or an episode's ``env`` name, e.g. push-v3);
    empty: every task. Normalization statistics still come from the whole dataset."""
    episodes_per_task: int | None = None
    """Train on only the first N episodes of each task of every root (data-scaling studies such as
    '10 demos per task'); normalization statistics still come from the whole dataset."""
    task_weights: tuple[str, ...] = ()
    """'TASK=WEIGHT' entries (TASK: an instruction or an episode's ``env`` name, e.g. peg-insert-side-v3=3): that
    task's samples are drawn WEIGHT times as often as the others' (which keep weight 1), in every root. Samples are
    then drawn with replacement; with ``weights`` unset each root's share grows with its up-weighted samples."""


@dataclass
class OptimConfig:
    """AdamW with linear warmup then cosine decay to ``min_lr_ratio * lr``."""

    lr: float = 3e-4
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.01
    eps: float = 1e-8
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    """Final learning rate as a fraction of ``lr``."""
    grad_clip: float = 1.0
    """Max global grad norm (0 disables clipping)."""
    grad_accum: int = 1
    """Micro-batches per optimizer step."""


@dataclass
class DistConfig:
    """Multi-process training under torchrun (``vlaforge.train.distributed``); ignored for one process."""

    strategy: Literal["ddp", "fsdp2"] = "ddp"
    """DDP (replicated weights) or FSDP2 (``fully_shard`` per block) for presets that do not fit one device."""
    activation_checkpointing: bool = False
    """Recompute each transformer block's activations in backward (saves memory, costs ~30% compute)."""
    mixed_precision: bool = False
    """FSDP2: bf16 parameters and compute, fp32 gradient reduction."""
    data_placement: Literal["global", "lpt"] = "global"
    """'global': every rank reads its slice of one global sample stream (mixture weights hold globally);
    'lpt': whole datasets assigned to ranks, largest first to the least-loaded (InternVLA-A1's LPT)."""
    find_unused_parameters: bool = True
    """DDP: tolerate parameters that get no gradient in a step (frozen heads of other robots, stages)."""


@dataclass
class EvalConfig:
    """Periodic closed-loop evaluation during training (the sim runner, a few episodes)."""

    suite: str = "mt10"
    """Task suite or comma-separated task names for ``vlaforge.sim``."""
    episodes_per_task: int = 2
    seed_start: int = 10_000
    max_steps: int = 500
    workers: int = 1
    """1 runs the live model in the training process; more spawn simulator processes (each gets a copy)."""


@dataclass
class TrainConfig(Generic[P]):
    """One run of one stage of one model. Stops at ``steps`` or ``time_budget_minutes``, whichever first."""

    policy: P
    """The family config (its registered dataclass); ``policy.create`` builds the model."""
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    steps: int | None = 1000
    """Optimizer steps (None: run until the time budget is spent)."""
    time_budget_minutes: float | None = None
    """Wall-time cap on the training loop (checkpoint saves included, periodic evals excluded)."""
    calibration_steps: int = 20
    """With a time budget, the step rate over these steps fixes the cosine schedule's length."""
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    """'bf16' autocast, plain 'fp32', or 'auto': bf16 on CUDA and on CPUs with native bf16 matmuls
    (AVX-512 BF16 or AMX), fp32 elsewhere: on an AVX2-only CPU bf16 matmuls measured ~90x slower."""
    ema_decay: float | None = None
    """Keep an exponential moving average of the weights; checkpoints then hold the EMA weights."""
    seed: int = 0
    stage: str | None = None
    """Policy stage to train (see ``Policy.stages``); None = the first."""
    init_from: str | None = None
    """Checkpoint directory to initialise weights from (multi-stage recipes)."""
    save_every: int = 1000
    """Save a checkpoint every N steps (and always at the end)."""
    keep_checkpoints: int = 2
    """Keep the newest N ``step_*`` checkpoints (0 keeps all)."""
    eval_every: int | None = None
    """Closed-loop evaluation every N steps (None: never during training)."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    dist: DistConfig = field(default_factory=DistConfig)
    log_every: int = 10
    out_dir: str = "runs/train"
    num_threads: int = 2
    """torch.set_num_threads; 2 is the sweet spot on a 2-core machine."""
    device: str = "cpu"
    """'cpu' or 'cuda' (each torchrun rank takes its LOCAL_RANK's GPU)."""
    compile: bool = False
    """torch.compile the training forward (worth it on a GPU; compiling costs minutes on a CPU)."""
    resume: bool = False
    """Continue from the newest checkpoint in ``out_dir`` (a fresh start if there is none)."""
    progress: bool = True
    """Show a progress bar."""
    tensorboard: bool = True
    """Also write TensorBoard scalars (metrics.jsonl is always written)."""

    def __post_init__(self) -> None:
        if self.steps is None and self.time_budget_minutes is None:
            raise ValueError("TrainConfig needs `steps` or `time_budget_minutes` (or both); "
                             "pass e.g. --steps 1000 or --time-budget-minutes 45")
        self.check_limits()
        if self.optim.grad_accum < 1:
            raise ValueError(f"optim.grad_accum must be >= 1, got {self.optim.grad_accum}")
        if self.data.weights and len(self.data.weights) != len(self.data.roots):
            raise ValueError(f"data.weights has {len(self.data.weights)} entries for "
                             f"{len(self.data.roots)} roots; give one weight per root or none")
        if self.data.action_free_weights and len(self.data.action_free_weights) != len(self.data.action_free_roots):
            raise ValueError("data.action_free_weights needs one weight per action-free root (or none)")

    def check_limits(self) -> None:
        """The stopping limits must let a run take a step. Checked when the config is built and again when training
        starts, since a command line or a script may set them after (a 0-minute budget would otherwise "finish" at
        step 0 and name a checkpoint it never wrote)."""
        if self.steps is not None and self.steps < 1:
            raise ConfigError(f"steps must be >= 1, got {self.steps}: pass e.g. --steps 1000")
        if self.time_budget_minutes is not None and not self.time_budget_minutes > 0:
            raise ConfigError(f"time_budget_minutes must be > 0, got {self.time_budget_minutes}: pass e.g. "
                              "--time-budget-minutes 45, or --steps N alone to train by steps")

    @property
    def samples_per_step(self) -> int:
        return self.data.batch_size * self.optim.grad_accum

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["family"] = self.policy.family
        return d


def train_config_from_dict(d: dict) -> TrainConfig:
    """Inverse of ``TrainConfig.to_dict`` (the policy type comes from the stored family name)."""
    d = dict(d)
    family = d.pop("family")
    policy = from_dict(get_family(family), d.pop("policy"))
    rest = from_dict(_TrainConfigNoPolicy, {"policy": None, **d})
    return TrainConfig(**{**{f.name: getattr(rest, f.name) for f in dataclasses.fields(TrainConfig)},
                          "policy": policy})


@dataclass
class _TrainConfigNoPolicy(TrainConfig):
    """Helper so ``from_dict`` can coerce the non-policy fields (the policy is built separately)."""

    def __post_init__(self) -> None:  # validation runs on the real config
        pass
