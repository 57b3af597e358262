"""Data-parallel training on ``torch.distributed``: one code path for 1 and N processes.

Launch with the standard engine, ``torchrun`` (multi-node through its rendezvous flags)::

    torchrun --nproc-per-node 2 -m vlaforge.cli.main train --recipe xvla_tiny_mt10
    vlaforge train --nproc 2 --recipe xvla_tiny_mt10        # the same, exec'ing torchrun

``data.batch_size`` is per rank. Every rank reads its slice of one global sample stream (global
batch = batch_size x world size), so N ranks with batch B/N see exactly the samples one process
with batch B sees, per-source mixture weights hold globally, and resuming at step k resumes every
rank's slice. With ``dist.data_placement='lpt'`` (InternVLA-A1's Load-balanced Parallel Training)
whole datasets are assigned to ranks instead (``vlaforge.train.lpt``), each rank opening only its own.

Strategies (``dist.strategy``): DDP, or FSDP2 (``torch.distributed.fsdp.fully_shard`` per block,
optional activation checkpointing and bf16 mixed precision) for presets that do not fit one device.
Rank 0 writes the usual checkpoint directory; FSDP2 also saves the sharded optimizer through
``torch.distributed.checkpoint`` inside it (``optim_dcp/``), and ``model.safetensors`` always holds
the consolidated full weights, so serving never needs the process group.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

SHARD_UNITS = ("Block", "ExpertLayer", "ConvStem", "PretrainedImageEncoder", "HFBackbone")
"""Module classes FSDP2 shards (and checkpoints) one by one; the root gets the rest."""


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: str) -> Dist:
    """The process group torchrun describes in the environment (a no-op for one process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        atexit.register(_teardown)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.set_device(local)
    return Dist(dist.get_rank(), dist.get_world_size(), local)


def _teardown() -> None:
    """Destroy the process group before the interpreter does: left to the gloo backend's destructor at exit, a rank
    now and then aborts ("terminate called without an active exception", seen once in 9 runs of the 2-rank
    resume test) after its work is done, and torchrun reports the whole job failed."""
    if dist.is_initialized():
        dist.destroy_process_group()


def device_for(device: str, d: Dist) -> str:
    """'cuda' -> this rank's GPU; anything else unchanged."""
    return f"cuda:{d.local_rank}" if device == "cuda" and d.enabled else device


def wrap(model: nn.Module, d: Dist, strategy: str, activation_checkpointing: bool = False,
         mixed_precision: bool = False, find_unused_parameters: bool = True) -> nn.Module:
    """The module the training step calls: DDP around ``model``, or ``model`` itself sharded in place
    (FSDP2). One process: ``model`` unchanged (activation checkpointing still applies)."""
    if activation_checkpointing:
        _checkpoint_units(model)
    if not d.enabled:
        return model
    if strategy == "fsdp2":
        return shard(model, mixed_precision)
    if strategy != "ddp":
        raise ValueError(f"dist.strategy {strategy!r}: use 'ddp' or 'fsdp2'")
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [torch.cuda.current_device()] if next(model.parameters()).is_cuda else None
    return DDP(model, device_ids=ids, find_unused_parameters=find_unused_parameters)


def shard(model: nn.Module, mixed_precision: bool = False) -> nn.Module:
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    kw: dict[str, Any] = {}
    if mixed_precision:
        kw["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    for unit in _units(model):
        fully_shard(unit, **kw)
    fully_shard(model, **kw)
    return model


def _units(model: nn.Module) -> list[nn.Module]:
    units = [m for m in model.modules() if type(m).__name__ in SHARD_UNITS and any(True for _ in m.parameters())]
    outer = [u for u in units if not any(u is not o and _contains(o, u) for o in units)]  # outermost only
    return outer


def _contains(outer: nn.Module, inner: nn.Module) -> bool:
    return any(m is inner for m in outer.modules())


def _checkpoint_units(model: nn.Module) -> None:
    """Recompute each shard unit's activations in backward (memory for compute)."""
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import apply_activation_checkpointing

    apply_activation_checkpointing(model, check_fn=lambda m: type(m).__name__ in ("Block", "ExpertLayer"))


def is_sharded(model: nn.Module) -> bool:
    return any(type(p).__name__ == "DTensor" for p in model.parameters())


# ---- collectives (identity for one process) ---------------------------------------------------
def mean(value: float, d: Dist) -> float:
    if not d.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / d.world


def any_true(flag: bool, d: Dist) -> bool:
    if not d.enabled:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def broadcast_int(value: int, d: Dist) -> int:
    if not d.enabled:
        return value
    t = torch.tensor([value], dtype=torch.int64)
    dist.broadcast(t, 0)
    return int(t.item())


def gather(obj: Any, d: Dist) -> list[Any]:
    if not d.enabled:
        return [obj]
    out: list[Any] = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()


def full_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Consolidated CPU weights of a (possibly sharded) model, as ``model.state_dict()`` would be."""
    if not is_sharded(model):
        return model.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def save_sharded_optimizer(model: nn.Module, optimizer: torch.optim.Optimizer, path) -> None:
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    dcp.save({"optimizer": get_optimizer_state_dict(model, optimizer)}, checkpoint_id=str(path))


def load_sharded_optimizer(model: nn.Module, optimizer: torch.optim.Optimizer, path) -> None:
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict, set_optimizer_state_dict

    state = {"optimizer": get_optimizer_state_dict(model, optimizer)}
    dcp.load(state, checkpoint_id=str(path))
    set_optimizer_state_dict(model, optimizer, state["optimizer"])
