#!/usr/bin/env bash
# Build a separate interpreter where LeRobot's dataset loader imports, for
# benchmarks/check_lerobot_compat.py. LeRobot 0.4.4 pins torch<2.11 and torchvision,
# so it cannot live in vlaforge's .venv (torch 2.13, no torchvision): install it with
# --no-deps and add only what lerobot.datasets.lerobot_dataset imports. torchvision is
# replaced at run time by a stand-in inside benchmarks/lerobot_compat_probe.py.
#
#   bash benchmarks/setup_lerobot_venv.sh [VENV_DIR] [--torchcodec]
#
# --torchcodec also installs torchcodec (LeRobot's default video decoder on Linux) and
# FFmpeg 5.1 shared libraries from Debian (apt-get, needs root); without it only
# LeRobot's "pyav" backend is checked.
# TORCH_SPEC overrides the torch requirement; the default resolves to the CPU wheel
# that this machine's pip config finds locally (an unpinned torch pulls CUDA wheels).
set -euo pipefail

VENV=/tmp/lerobot-venv
TORCHCODEC=0
for arg in "$@"; do
  case "$arg" in
    --torchcodec) TORCHCODEC=1 ;;
    -*) echo "unknown option $arg; usage: $0 [VENV_DIR] [--torchcodec]" >&2; exit 2 ;;
    *) VENV=$arg ;;
  esac
done
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}

python3 -m venv "$VENV"
PIP=("$VENV/bin/pip" install -q --disable-pip-version-check)
CONSTRAINTS=$(mktemp)
trap 'rm -f "$CONSTRAINTS"' EXIT
printf '%s\n' "$TORCH_SPEC" > "$CONSTRAINTS"

"${PIP[@]}" "$TORCH_SPEC"
"${PIP[@]}" --no-deps lerobot==0.4.4
# What `import lerobot.datasets.lerobot_dataset` needs (found by listing sys.modules after
# the import), at the versions the check passed with. Transitive deps resolve freely
# under the torch constraint.
"${PIP[@]}" -c "$CONSTRAINTS" \
  datasets==4.8.5 huggingface-hub==0.35.3 accelerate==1.15.0 av==15.1.0 packaging==25.0 \
  pillow==13.0.0 pandas==3.1.1 pyarrow==26.0.1 numpy==2.4.6 fsspec==2026.2.0

if [ "$TORCHCODEC" = 1 ]; then
  apt-get install -y -q --no-install-recommends libavutil57 libavcodec59 libavformat59 libavdevice59 \
    libavfilter8 libswscale6 libswresample4 >/dev/null
  "${PIP[@]}" --no-deps torchcodec==0.13.0   # the release built against torch 2.13
fi

# Smoke test: LeRobot's loader imports (with the probe's torchvision stand-in).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HF_HUB_OFFLINE=1 "$VENV/bin/python" -c "
import sys; sys.path.insert(0, '$HERE')
from lerobot_compat_probe import install_torchvision_stub
install_torchvision_stub()
from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata
"
echo "built $VENV; run: .venv/bin/python benchmarks/check_lerobot_compat.py --lerobot-python $VENV/bin/python"
