#!/usr/bin/env bash
# The demo figure in BENCHMARKS.md: `vlaforge demo` with its defaults (what `make demo` runs after set-up).
set -euo pipefail
cd "$(dirname "$0")/.."
exec vlaforge demo "$@"
