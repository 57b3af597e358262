"""`vlaforge` entry point. Subcommands are imported only when called, so `--help` is instant.

One error path for every command: a ``VlaforgeError`` (bad dataset, checkpoint, config or
name: its message says what to do) prints as ``error: ...`` and exits 2 without a
traceback; ``--debug`` (anywhere on the line) or ``VLAFORGE_DEBUG=1`` shows the traceback.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import os
import sys

from vlaforge.core.errors import VlaforgeError
from vlaforge.core.registry import unknown_name_message

COMMANDS = {
    "collect": ("vlaforge.cli.collect", "record scripted-expert demonstrations as a LeRobot v3 dataset"),
    "train": ("vlaforge.cli.train", "train a policy (or a tokenizer) from a named recipe or chain"),
    "eval": ("vlaforge.cli.eval", "closed-loop evaluation of a checkpoint, a server, or a baseline"),
    "serve": ("vlaforge.cli.serve", "serve a checkpoint over openpi's websocket protocol"),
    "tokenizer": ("vlaforge.cli.tokenizer", "fit action/image tokenizers"),
    "demo": ("vlaforge.cli.demo", "collect, train, evaluate and report, in one command"),
    "recipes": ("vlaforge.cli.recipes", "list named training recipes and their chains"),
    "leaderboard": ("vlaforge.cli.leaderboard", "gather every family's MT10-protocol results into one table"),
}


def _usage() -> str:
    lines = ["usage: vlaforge <command> [--help] [--debug] ...", "", "commands:"]
    lines += [f"  {name:<12} {desc}" for name, (_, desc) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("VLAFORGE_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        print(unknown_name_message("command", cmd, list(COMMANDS)), file=sys.stderr)
        print(_usage(), file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(COMMANDS[cmd][0])
        return int(module.main(rest) or 0)
    except VlaforgeError as e:
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        print("(run with --debug or VLAFORGE_DEBUG=1 for the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
