"""`vlaforge` entry point. Subcommands are imported only when called, so `--help` is instant."""

from __future__ import annotations

import importlib
import sys

from vlaforge.core.registry import unknown_name_message

COMMANDS = {
    "collect": ("vlaforge.cli.collect", "record scripted-expert demonstrations as a LeRobot v3 dataset"),
    "train": ("vlaforge.cli.train", "train a policy (or a tokenizer) from a named recipe"),
    "eval": ("vlaforge.cli.eval", "closed-loop evaluation of a checkpoint, a server, or a baseline"),
    "serve": ("vlaforge.cli.serve", "serve a checkpoint over openpi's websocket protocol"),
    "tokenizer": ("vlaforge.cli.tokenizer", "fit action/image tokenizers"),
    "demo": ("vlaforge.cli.demo", "collect, train, evaluate and report, in one command"),
    "recipes": ("vlaforge.cli.recipes", "list named training recipes"),
}


def _usage() -> str:
    lines = ["usage: vlaforge <command> [--help] ...", "", "commands:"]
    lines += [f"  {name:<10} {desc}" for name, (_, desc) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        print(unknown_name_message("command", cmd, list(COMMANDS)), file=sys.stderr)
        print(_usage(), file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[cmd][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
