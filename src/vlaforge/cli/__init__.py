"""Command line: `vlaforge <command> ...`; each command lives in its own module."""
