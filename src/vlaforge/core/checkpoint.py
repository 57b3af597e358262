"""Checkpoint = a directory that holds everything needed to run the policy.

```
ckpt/
  config.json          {"family", "policy": {...}, "train": {...} | null}
  model.safetensors    weights (no optimizer state)
  norm_stats.json      {"mode", "stats": {embodiment: {key: {mean, std, q01, q99, ...}}}}
  embodiments.json     [EmbodimentSpec.to_dict(), ...]
  serving.json         client-key -> dataset-key mapping (optional)
  tasks.json           the training data's instructions (optional; the server warms up on them)
  assets/              family files: tokenizers, VQ codebooks ...
  train_state.pt       optimizer, scheduler, RNG, data position, step (resume only)
```

The whole directory is written to a temporary sibling and renamed into place, so a
killed run leaves either the previous checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from safetensors.torch import load_model, save_file, save_model

from vlaforge.core.atomic import atomic_path, _json_default
from vlaforge.core.config import from_dict
from vlaforge.core.errors import VlaforgeError
from vlaforge.core.registry import get_family
from vlaforge.core.normalize import Normalizer
from vlaforge.core.embodiment import EmbodimentSpec

REQUIRED = ("config.json", "model.safetensors", "norm_stats.json", "embodiments.json")


class CheckpointError(VlaforgeError, RuntimeError):
    """A checkpoint directory is missing something or does not match this code."""


def save_checkpoint(path: str | Path, policy, train_config: dict | None = None,
                    train_state: dict | None = None, serving: dict | None = None,
                    tasks: list[str] | None = None, weights: dict | None = None,
                    extra_dirs: dict[str, Path] | None = None) -> Path:
    """``weights``: a state dict to write instead of ``policy``'s own (consolidated sharded weights);
    ``extra_dirs``: name -> finished directory moved into the checkpoint (a sharded optimizer)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.mkdir()
        config = {"family": policy.config.family, "policy": policy.config.to_dict(), "train": train_config}
        (tmp / "config.json").write_text(json.dumps(config, indent=2, default=_json_default))
        if weights is None:
            save_model(policy, str(tmp / "model.safetensors"))
        else:
            save_file({k: v.contiguous() for k, v in weights.items()}, str(tmp / "model.safetensors"))
        (tmp / "norm_stats.json").write_text(json.dumps(policy.normalizer.to_json(), default=_json_default))
        specs = [e.to_dict() for e in policy.embodiments.values()]
        (tmp / "embodiments.json").write_text(json.dumps(specs, indent=2, default=_json_default))
        if serving is not None:
            (tmp / "serving.json").write_text(json.dumps(serving, indent=2))
        tasks = tasks if tasks is not None else getattr(policy, "known_tasks", None)
        if tasks:
            (tmp / "tasks.json").write_text(json.dumps(sorted(set(tasks)), indent=1))
        (tmp / "assets").mkdir()
        policy.save_assets(tmp / "assets")
        if train_state is not None:
            torch.save(train_state, tmp / "train_state.pt")
        for name, src in (extra_dirs or {}).items():
            shutil.move(str(src), str(tmp / name))
    return path


def read_config(path: str | Path) -> dict:
    path = Path(path)
    check_checkpoint(path)
    return json.loads((path / "config.json").read_text())


def check_checkpoint(path: Path) -> None:
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} does not exist or is not a directory; "
                              "pass the directory a `vlaforge train` run wrote (e.g. runs/NAME/checkpoints/last)")
    missing = [f for f in REQUIRED if not (path / f).is_file()]
    if "norm_stats.json" in missing:
        raise CheckpointError(f"checkpoint {path} has no norm_stats.json: a policy must never run "
                              "un-normalized. Re-save it from a training run, which writes the dataset's stats.")
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {missing}; it is incomplete or not a vlaforge checkpoint")


def load_policy(path: str | Path, map_location: str = "cpu", policy_overrides: dict | None = None):
    """Rebuild the policy from its directory alone: config, weights, stats, embodiments, assets."""
    path = Path(path)
    cfg = read_config(path)
    cls = get_family(cfg["family"])
    pdict = dict(cfg["policy"])
    pdict.update(policy_overrides or {})
    config = from_dict(cls, pdict)
    specs = [EmbodimentSpec.from_dict(d) for d in json.loads((path / "embodiments.json").read_text())]
    norm = json.loads((path / "norm_stats.json").read_text())
    normalizer = Normalizer(norm["stats"], specs, norm["mode"])
    policy = config.create(normalizer, specs)
    policy.load_assets(path / "assets")
    if (path / "tasks.json").is_file():
        policy.known_tasks = json.loads((path / "tasks.json").read_text())
    missing, unexpected = load_model(policy, str(path / "model.safetensors"), strict=False, device=map_location)
    if missing or unexpected:
        raise CheckpointError(f"weights in {path} do not match the {cfg['family']} model built from its config: "
                              f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}")
    return policy.to(map_location).eval()


def load_train_state(path: str | Path) -> dict[str, Any] | None:
    f = Path(path) / "train_state.pt"
    return torch.load(f, weights_only=False) if f.is_file() else None


def read_serving(path: str | Path) -> dict | None:
    f = Path(path) / "serving.json"
    return json.loads(f.read_text()) if f.is_file() else None
