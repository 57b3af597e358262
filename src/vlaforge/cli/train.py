"""`vlaforge train --recipe NAME [--any.field value ...]`: one stage of one model from a named recipe.

Any field of ``TrainConfig`` (and of the family's policy config) can be overridden,
e.g. ``--steps 2000 --optim.lr 1e-4 --policy.chunk-size 30 --data.roots data/a data/b``.
``--resume`` continues from the newest checkpoint in ``--out-dir``.
"""

from __future__ import annotations

import sys

from vlaforge.train.config import TrainConfig

USAGE = """usage: vlaforge train --recipe NAME [--resume] [--FIELD VALUE ...]

  --recipe NAME        a named recipe (list them with `vlaforge recipes`)
  --resume             continue from the newest checkpoint in the run's out_dir
  --print-config       print the resolved config as JSON and exit
  --FIELD VALUE        override any config field, e.g. --steps 2000 --optim.lr 1e-4
                       --policy.chunk-size 30 --time-budget-minutes 10 --out-dir runs/x

`vlaforge train --recipe NAME --help` lists every field of that recipe's config."""


def split_recipe(argv: list[str]) -> tuple[str | None, list[str]]:
    """Pull ``--recipe NAME`` / ``--recipe=NAME`` out of ``argv``; the rest goes to tyro."""
    rest, name, i = [], None, 0
    while i < len(argv):
        a = argv[i]
        if a == "--recipe":
            if i + 1 >= len(argv):
                raise SystemExit("--recipe needs a name; list them with `vlaforge recipes`")
            name, i = argv[i + 1], i + 2
            continue
        if a.startswith("--recipe="):
            name = a.split("=", 1)[1]
        else:
            rest.append(a)
        i += 1
    return name, rest


def parse_train_args(argv: list[str]) -> tuple[TrainConfig, bool]:
    """argv -> (config, print_only). Raises KeyError (with a suggestion) for an unknown recipe."""
    import tyro

    from vlaforge.train.recipes import get_recipe

    name, rest = split_recipe(argv)
    if name is None:
        raise SystemExit(USAGE + "\n\nerror: --recipe is required")
    print_only = "--print-config" in rest
    rest = [a for a in rest if a != "--print-config"]
    default = get_recipe(name)()
    cfg = tyro.cli(TrainConfig[type(default.policy)], default=default, args=rest,
                   prog=f"vlaforge train --recipe {name}")
    return cfg, print_only


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    try:
        cfg, print_only = parse_train_args(argv)
    except KeyError as e:
        print(e.args[0], file=sys.stderr)
        return 2
    if print_only:
        import json

        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    from vlaforge.train.trainer import train

    result = train(cfg)
    print(f"[train] {result.step} steps in {result.train_seconds / 60:.1f} min, final loss "
          f"{result.final_loss if result.final_loss is None else round(result.final_loss, 4)}; "
          f"checkpoint {result.checkpoint}; loss curve {result.loss_curve}")
    return 130 if result.interrupted else 0
