"""UniVLA-AR inference latency per action chunk at batch 1, with and without the KV cache.

The tiny preset (random weights: latency does not depend on training) with two 64x64
views and one history frame (2 x 130 image tokens + 4 prefix tokens), a FAST tokenizer
fitted on synthetic smooth chunks. Decoding is forced to a fixed number of action tokens
(``--tokens``, about FAST's mean length for MT10 chunks, + eoa) so both modes do the
same work; ``predict_action_chunk`` end to end (VQ encode + decoding + FAST decode) is
timed too. The KV cache is timed preallocated (``kv_cache``, the default: each token written in place) and
growing by concatenation (``kv_cache_growing``, before session 19). Writes benchmarks/results/univla_ar_latency.json.

    .venv/bin/python benchmarks/bench_univla_ar_latency.py [--tokens 20 --repeats 10 --threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from vlaforge.core.machine import describe_machine
from vlaforge.core.normalize import Normalizer
from vlaforge.embodiments import get_embodiment
from vlaforge.models.univla_ar import UniVLAARConfig
from vlaforge.tokenizers.fast import FASTConfig, FASTTokenizer

sys.path.insert(0, str(Path(__file__).parent))
from profile_xvla import profile_table  # noqa: E402  (torch.profiler's top ops of one call)

RESULTS = Path(__file__).parent / "results" / "univla_ar_latency.json"


def build(text_encoder: str):
    spec = get_embodiment("metaworld_sawyer")
    stats = {spec.name: {k: {"mean": [0.0] * 4, "std": [1.0] * 4, "q01": [-1.0] * 4, "q99": [1.0] * 4}
                         for k in ("observation.state", "action")}}
    cfg = UniVLAARConfig.from_preset("tiny", text_encoder=text_encoder)
    policy = cfg.create(Normalizer(stats, [spec], cfg.norm_mode), [spec]).eval()
    rng = np.random.default_rng(0)
    chunks = np.clip(rng.normal(0, 0.1, (4000, cfg.chunk_size, 4)).cumsum(axis=1), -1, 1)
    policy.set_fast(FASTTokenizer(FASTConfig(vocab_size=cfg.fast_vocab)).fit(chunks))
    return policy, spec


def observation(policy, spec) -> dict:
    c = policy.config
    obs = {f"observation.images.{cam}": torch.randint(0, 256, (1, c.n_obs_steps, 3, 64, 64), dtype=torch.uint8)
           for cam in c.cameras}
    return {**obs, "task": ["push the puck to the goal"], "embodiment": [spec.name]}


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up (allocations, text-encoder cache)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=20, help="action tokens decoded per chunk (forced)")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--text-encoder", default="hash", help="'hash' (no model) or 'minilm' (cached after the first call)")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast, as the trainer's precision='auto' on a bf16 CPU")
    ap.add_argument("--profile", action="store_true", help="also store torch.profiler's top ops of one decoding")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    policy, spec = build(args.text_encoder)
    obs = observation(policy, spec)
    ids = policy._prompt(obs)
    boa = ids.new_full((1, 1), policy.config.special["boa"])
    prompt = torch.cat([ids, boa], 1)
    allowed = policy.allowed_ids("action")
    res = {}
    precision = torch.autocast("cpu", dtype=torch.bfloat16) if args.bf16 else contextlib.nullcontext()
    with torch.no_grad(), precision:
        if args.profile:
            res["profile_decode_top_ops"] = profile_table(
                lambda: policy.generate(obs["task"], prompt, allowed, args.tokens), rows=15).splitlines()
        for name, cache, static in (("kv_cache", True, True), ("kv_cache_growing", True, False),
                                    ("no_cache", False, False)):
            ms = timed(lambda: policy.generate(obs["task"], prompt, allowed, args.tokens, use_cache=cache,
                                               static_cache=static), args.repeats)
            res[name] = {"median_ms_per_chunk": statistics.median(ms), "min_ms": min(ms),
                         "ms_per_token": statistics.median(ms) / args.tokens}
        e2e = timed(lambda: policy.predict_action_chunk(obs), args.repeats)
    c = policy.config
    res["predict_action_chunk_kv_cache_ms"] = statistics.median(e2e)
    res["predict_action_chunk_note"] = (f"VQ-encodes {2 * c.n_obs_steps} frames, decodes until eoa or "
                                        f"{c.max_action_tokens} tokens (random weights rarely emit eoa), FAST-decodes")
    res["speedup_kv_cache"] = res["no_cache"]["median_ms_per_chunk"] / res["kv_cache"]["median_ms_per_chunk"]
    res["speedup_static_over_growing_cache"] = (res["kv_cache_growing"]["median_ms_per_chunk"]
                                                / res["kv_cache"]["median_ms_per_chunk"])
    result = {
        "benchmark": "univla_ar inference latency per action chunk, batch 1",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": describe_machine(args.threads),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "precision": "bf16" if args.bf16 else "fp32",
        "command": "python benchmarks/bench_univla_ar_latency.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "model": {"preset": c.preset, "dim": c.dim, "depth": c.depth, "heads": c.heads, "vocab": c.vocab_size,
                  "params_decoder_M": sum(p.numel() for n, p in policy.named_parameters()
                                          if not n.startswith("vq.")) / 1e6,
                  "prompt_tokens": int(prompt.shape[1] + c.n_text_tokens), "action_tokens": args.tokens},
        **res,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
