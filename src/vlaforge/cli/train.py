"""`vlaforge train --recipe NAME [--any.field value ...]`: one stage of one model from a named recipe;
`vlaforge train --chain NAME`: every stage up to NAME, each from the previous one's checkpoint.

Any field of ``TrainConfig`` (and of the family's policy config) can be overridden,
e.g. ``--steps 2000 --optim.lr 1e-4 --policy.chunk-size 30 --data.roots data/a data/b``.
``--resume`` continues from the newest checkpoint in ``--out-dir`` (a chain: stage by stage).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from vlaforge.core.errors import ConfigError
from vlaforge.train.config import TrainConfig

USAGE = """usage: vlaforge train --recipe NAME [--resume] [--FIELD VALUE ...]
       vlaforge train --chain NAME [--out-root DIR] [--resume] [--FIELD VALUE ...]

  --recipe NAME        a named recipe (list them with `vlaforge recipes`); a chained stage starts
                       from its predecessor's checkpoint (or --init-from DIR)
  --chain NAME         run NAME's whole chain (stage 1 -> 2 -> ...), each stage from the previous
                       stage's last checkpoint; finished stages are skipped with --resume
  --out-root DIR       with --chain: put stage S's run in DIR/S instead of the recipe's out_dir
  --nproc N            data-parallel on N local processes (exec's torchrun; for several nodes run
                       torchrun yourself: see the README's SLURM example)
  --resume             continue from the newest checkpoint in the run's out_dir
  --print-config       print the resolved config(s) as JSON and exit
  --FIELD VALUE        override any config field (every stage of a chain), e.g. --steps 2000
                       --optim.lr 1e-4 --policy.chunk-size 30 --time-budget-minutes 10 --out-dir runs/x

`vlaforge train --recipe NAME --help` lists every field of that recipe's config."""


def _pop_option(argv: list[str], flag: str) -> tuple[str | None, list[str]]:
    """Pull ``--flag VALUE`` / ``--flag=VALUE`` out of ``argv``; the rest goes to tyro."""
    rest, value, i = [], None, 0
    while i < len(argv):
        a = argv[i]
        if a == flag:
            if i + 1 >= len(argv):
                raise ConfigError(f"{flag} needs a value; list recipes with `vlaforge recipes`")
            value, i = argv[i + 1], i + 2
            continue
        if a.startswith(flag + "="):
            value = a.split("=", 1)[1]
        else:
            rest.append(a)
        i += 1
    return value, rest


def split_recipe(argv: list[str]) -> tuple[str | None, list[str]]:
    return _pop_option(argv, "--recipe")


def parse_stage(name: str, args: list[str]) -> TrainConfig:
    """The recipe's config with ``args`` applied (tyro parses the family's own field types)."""
    import tyro

    from vlaforge.train.recipes import get_recipe

    default = get_recipe(name)()
    return tyro.cli(TrainConfig[type(default.policy)], default=default, args=args,
                    prog=f"vlaforge train --recipe {name}")


def parse_train_args(argv: list[str]) -> tuple[TrainConfig, bool]:
    """argv -> (config, print_only) for one recipe; its predecessor's checkpoint fills init_from."""
    from vlaforge.train.recipes import get_recipe, resolve_init_from

    name, rest = split_recipe(argv)
    if name is None:
        raise ConfigError("--recipe (or --chain) is required\n\n" + USAGE)
    print_only = "--print-config" in rest
    cfg = parse_stage(name, [a for a in rest if a != "--print-config"])
    if not print_only and not any(a == "--help" or a == "-h" for a in rest):
        cfg = resolve_init_from(get_recipe(name), cfg)
    return cfg, print_only


def chain_configs(name: str, args: list[str], out_root: str | None) -> list[TrainConfig]:
    """Every stage of NAME's chain with ``args`` applied; stage i starts from stage i-1's run."""
    from vlaforge.train.recipes import chain, checkpoint_of

    if any(a == "--out-dir" or a.startswith("--out-dir=") or a.startswith("--init-from") for a in args):
        raise ConfigError("--chain sets each stage's --out-dir and --init-from itself; use --out-root DIR")
    cfgs: list[TrainConfig] = []
    for recipe in chain(name):
        cfg = parse_stage(recipe.name, args)
        if out_root:
            cfg.out_dir = str(Path(out_root) / recipe.name)
        if cfgs:
            cfg.init_from = str(checkpoint_of(cfgs[-1].out_dir))
        cfgs.append(cfg)
    return cfgs


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    nproc, argv = _pop_option(argv, "--nproc")
    if nproc is not None and int(nproc) > 1 and "WORLD_SIZE" not in os.environ:
        return _exec_torchrun(int(nproc), argv)
    chain_name, rest = _pop_option(argv, "--chain")
    if chain_name is not None:
        return _run_chain(chain_name, rest)
    cfg, print_only = parse_train_args(argv)
    if print_only:
        import json

        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    return _run(cfg)


def _exec_torchrun(nproc: int, argv: list[str]) -> int:
    """Hand over to torchrun (the standard engine): N local processes running this same command."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "vlaforge.cli.main", "train", *argv]
    print("[train] " + " ".join(cmd), flush=True)
    os.execv(sys.executable, cmd)
    return 0  # pragma: no cover - execv does not return


def _run_chain(name: str, argv: list[str]) -> int:
    import json

    out_root, rest = _pop_option(argv, "--out-root")
    print_only = "--print-config" in rest
    cfgs = chain_configs(name, [a for a in rest if a != "--print-config"], out_root)
    if print_only:
        print(json.dumps([c.to_dict() for c in cfgs], indent=2))
        return 0
    for i, cfg in enumerate(cfgs, 1):
        print(f"[train] chain {name}: stage {i}/{len(cfgs)} -> {cfg.out_dir}")
        code = _run(cfg)
        if code:
            return code
    return 0


def _run(cfg: TrainConfig) -> int:
    from vlaforge.train.trainer import train

    result = train(cfg)
    print(f"[train] {result.step} steps in {result.train_seconds / 60:.1f} min, final loss "
          f"{result.final_loss if result.final_loss is None else round(result.final_loss, 4)}; "
          f"checkpoint {result.checkpoint}; loss curve {result.loss_curve}")
    return 130 if result.interrupted else 0
