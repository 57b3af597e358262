"""One line that says which machine a figure came from, for every benchmark result.

Why: our figures come from 2-core CPUs that differ from session to session (an AMD EPYC with AVX2 only, one with
AVX-512 BF16, an Intel Xeon with AMX) and the same recipe trains 1.3x faster on one than on another, so a
samples/s, a chunk latency or a 45-minute score means little without the CPU it was measured on.
``platform.processor()`` is empty on Linux, so the model name is read from ``/proc/cpuinfo``.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

# the instruction-set flags that change what torch runs fast on a CPU (native bf16 for autocast: the first two)
_FLAGS = ("amx_bf16", "avx512_bf16", "avx512_fp16", "avx512f", "avx2")


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> tuple[str, list[str]]:
    """(model name, the speed-relevant flags of ``_FLAGS`` it has); the platform's words where there is no cpuinfo."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return platform.processor() or platform.machine(), []
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name, [f for f in _FLAGS if f in flags]


def describe_machine(threads: int | None = None) -> str:
    """E.g. 'Intel(R) Xeon(R) Processor (family 6, model 167), 2 CPUs [amx_bf16 avx512_bf16 ...], torch threads 2,
    no GPU'; the GPU's name where CUDA is available."""
    name, flags = cpu_model()
    line = f"{name}, {os.cpu_count()} CPUs"
    if flags:
        line += f" [{' '.join(flags)}]"
    line += f", torch threads {threads if threads is not None else torch.get_num_threads()}"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return line + (f", GPU {gpu}" if gpu else ", no GPU")
