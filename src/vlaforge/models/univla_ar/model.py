"""UniVLA unified autoregressive policy: one causal decoder over text, image and action tokens.

Sequence per sample (``P`` instruction prefix embeddings, then token ids)::

    [text prefix] [boi img_1 eoi] ... [boi img_T eoi] [boa fast_1 .. fast_n eoa]

``img_t`` is the VQ codes of every camera of frame t (8x8 per 64^2 view, views in
sorted camera order). Stages (``set_stage``):

- ``vq``: trains the image VQ tokenizer only (reconstruction + commitment).
- ``world_model``: frames only (action-free video works), loss on the image tokens of
  every frame after the first: the model predicts the next frame given text and past frames.
- ``policy``: history frame(s) + current frame + the FAST tokens of the current chunk,
  loss on action tokens (and eoa) only. Samples without actions add no loss.

The history frames carry no action block: the data loader gives the action chunk of
the current step only, so the past chunk (the paper's ``L_a^1``) is not available at
training time; history enters as images, which Table 6b of the paper credits for the gain.

Inference decodes greedily with a KV cache, the logits masked to FAST ids + eoa, then
FAST-decodes the ids. A malformed token string is a decode failure: it is counted
(``decode_failures``), flagged per sample (``last_decode_ok``), logged, and replaced by
the configured fallback (``decode_fallback``) -- never silently.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vlaforge.core.keys import ACTION, EMBODIMENT, FUTURE_PREFIX, HAS_ACTION, IMAGE_PREFIX, MAX_DIM, OBS_IS_PAD, TASK
from vlaforge.core.errors import ConfigError
from vlaforge.core.policy import Batch, Policy
from vlaforge.models.univla_ar.config import UniVLAARConfig
from vlaforge.nn.transformer import KVCache, Transformer, causal_mask, rope_tables
from vlaforge.tokenizers.fast import FASTConfig, FASTTokenizer
from vlaforge.tokenizers.image_vq import ImageVQ

log = logging.getLogger(__name__)
IGNORE = -100


class UniVLAARPolicy(Policy):
    variable_obs_steps = True  # the world model reads whole clips
    needs_state = False  # one token stream of text, images and actions: no proprioception

    def __init__(self, config: UniVLAARConfig, normalizer, embodiments) -> None:
        super().__init__(config, normalizer, embodiments)
        c = config
        self.action_dim = max(e.action_dim for e in embodiments)
        """FAST works on the widest real action width of this policy's embodiments."""
        self.vq = ImageVQ(c.vq)
        self._text = _FrozenText(c.text_encoder)
        self.text_proj = nn.Linear(self._text.dim, c.n_text_tokens * c.dim)
        self.tok_emb = nn.Embedding(c.vocab_size, c.dim)
        self.decoder = Transformer(c.dim, c.depth, c.heads, dropout=c.dropout, kv_heads=c.kv_heads, mlp=c.mlp,
                                   mlp_hidden=c.mlp_hidden, norm=c.norm, bias=c.bias)
        self.head = nn.Linear(c.dim, c.vocab_size, bias=False)
        nn.init.normal_(self.tok_emb.weight, std=0.02)
        nn.init.normal_(self.head.weight, std=0.02)
        if c.tie_embeddings:
            self.head.weight = self.tok_emb.weight
        # A checkpoint brings its own FAST files (load_assets), so a fast_path that no longer
        # exists is only an error when actions are tokenized without them (_require_fast).
        self.fast: FASTTokenizer | None = None
        if c.fast_path and FASTTokenizer.exists(c.fast_path):
            self.set_fast(FASTTokenizer.load(c.fast_path))
        self.decode_failures = 0
        self.decode_repaired = 0
        self.decode_calls = 0
        self.last_decode_ok: torch.Tensor | None = None
        self._last_chunk: torch.Tensor | None = None
        self._codes = CodeCache(c.code_cache_size)
        self.set_stage("policy")

    # ---- stages ------------------------------------------------------------------
    def set_stage(self, stage: str) -> None:
        """'vq' trains only the VQ; later stages freeze it (see the config's stages) and train the decoder."""
        super().set_stage(stage)
        self._codes.clear()

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        self._codes.clear()  # new VQ weights invalidate memoised codes
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        batch = self.check_batch(batch, training=True)
        if self.stage == "vq":
            return self.vq(batch)
        ids, targets = self._training_sequence(batch)  # (B, L), (B, L)
        hidden = self._hidden(self._embed(batch[TASK], ids))  # (B, P + L, D)
        p = self.config.n_text_tokens
        h = hidden[:, p - 1:-1]  # (B, L, D): output at position i predicts token i + 1
        sel = targets != IGNORE
        if not sel.any():  # e.g. a policy-stage batch of action-free video only
            zero = self.head(h[:, :1]).sum() * 0.0
            return zero, {"loss": 0.0, "n_targets": 0.0}
        logits = self.head(h[sel]).float()  # (n, V)
        tgt = targets[sel]
        loss_each = F.cross_entropy(logits, tgt, reduction="none")
        return self._weighted_loss(loss_each, logits, tgt)

    def _weighted_loss(self, loss_each, logits, tgt) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.config
        is_img = (tgt >= c.image_offset) & (tgt < c.image_offset + c.codebook_size)
        w = torch.ones_like(loss_each)
        if self.stage == "policy" and c.policy_image_loss_weight > 0:
            w = torch.where(is_img, torch.full_like(w, c.policy_image_loss_weight), w)
        loss = (loss_each * w).sum() / w.sum()
        acc = (logits.argmax(-1) == tgt).float()
        logs = {"loss": float(loss.detach()), "n_targets": float(tgt.numel())}
        for name, m in (("image", is_img), ("action", ~is_img)):
            if m.any():
                logs[f"ce_{name}"] = float(loss_each[m].mean().detach())
                logs[f"acc_{name}"] = float(acc[m].mean())
        return loss, logs

    # ---- tokens ------------------------------------------------------------------
    @torch.no_grad()
    def image_codes(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, T, 3, H, W) -> VQ codes (B, T, h*w). fp32, eval mode: codes must not depend on autocast.

        Outside the 'vq' stage the VQ is frozen, so codes are memoised by frame content
        (training revisits the same frames every epoch; history frames recur in many samples)."""
        b, t = images.shape[:2]
        flat = images.reshape(b * t, *images.shape[2:])  # (B*T, 3, H, W)
        if self.stage == "vq" or self._codes.capacity == 0:
            return self._encode(flat).view(b, t, -1)
        keys = [self._codes.key(x) for x in flat]
        miss = [i for i, k in enumerate(keys) if k not in self._codes]
        if miss:
            new = self._encode(flat[miss]).view(len(miss), -1)  # (M, h*w)
            for i, row in zip(miss, new):
                self._codes.put(keys[i], row)
        return torch.stack([self._codes[k] for k in keys]).to(images.device).view(b, t, -1)  # (B, T, h*w)

    def _encode(self, flat: torch.Tensor) -> torch.Tensor:
        with torch.autocast(flat.device.type, enabled=False):
            return self.vq.encode(flat)  # (N, h, w)

    def frame_tokens(self, frames: dict[str, torch.Tensor]) -> torch.Tensor:
        """{cam: uint8 (B, T, 3, H, W)} -> ids (B, T, F): per frame [boi, codes of each view, eoi]."""
        c, sp = self.config, self.config.special
        views = [self.image_codes(frames[k]) + c.image_offset for k in sorted(frames)]  # V x (B, T, hw)
        body = torch.cat(views, dim=-1)  # (B, T, V*hw)
        b, t = body.shape[:2]
        boi = body.new_full((b, t, 1), sp["boi"])
        eoi = body.new_full((b, t, 1), sp["eoi"])
        return torch.cat([boi, body, eoi], dim=-1)  # (B, T, F)

    def action_tokens(self, batch: Batch) -> list[list[int] | None]:
        """FAST ids (in the model's vocabulary) of each sample's normalized chunk; None where no action."""
        fast = self._require_fast()
        b = len(batch[TASK])
        has = batch.get(HAS_ACTION)
        has = torch.ones(b, dtype=torch.bool) if has is None else torch.as_tensor(has).bool().cpu()
        if ACTION not in batch:
            return [None] * b
        idx = self.normalizer.index(batch[EMBODIMENT], b)
        norm = self.normalizer.normalize(ACTION, batch[ACTION], idx)[..., :self.action_dim]  # (B, H, Da)
        norm = norm.detach().float().cpu().numpy()
        off = self.config.fast_offset
        return [[off + i for i in fast.encode(norm[j])] if has[j] else None for j in range(b)]

    def _training_sequence(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids (B, L) and next-token targets (B, L) (IGNORE where no loss)."""
        frames = self._frames(batch)
        img = self.frame_tokens(frames)  # (B, T, F)
        b, t, f = img.shape
        tgt = self._image_targets(img, batch)  # (B, T, F)
        ids, targets = img.reshape(b, t * f), tgt.reshape(b, t * f)  # (B, T*F)
        if self.stage == "policy":
            act_ids, act_tgt = self._action_block(batch, img.device)
            ids, targets = torch.cat([ids, act_ids], 1), torch.cat([targets, act_tgt], 1)
        if ids.shape[1] + self.config.n_text_tokens > self.config.max_seq_len:
            raise ValueError(f"sequence of {ids.shape[1] + self.config.n_text_tokens} tokens exceeds max_seq_len "
                             f"{self.config.max_seq_len}; use fewer frames/views or raise max_seq_len")
        return ids, targets

    def _frames(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Camera -> (B, T, 3, H, W): observation frames, then future frames (world model) when present."""
        out = {}
        for cam in sorted(self.config.cameras):
            x = batch[IMAGE_PREFIX + cam]
            x = x.unsqueeze(1) if x.dim() == 4 else x  # (B, T, 3, H, W)
            fut = batch.get(FUTURE_PREFIX + cam)
            if self.stage == "world_model" and fut is not None:
                x = torch.cat([x, fut], dim=1)
            out[cam] = x
        return out

    def _image_targets(self, img: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Targets for the frame blocks: image codes of supervised frames, IGNORE elsewhere.

        World model: frames after the first (and not padding); policy: only with
        ``policy_image_loss_weight`` > 0, the frames after the first."""
        c = self.config
        b, t, f = img.shape
        tgt = torch.full_like(img, IGNORE)
        wm = self.stage == "world_model"
        if not wm and c.policy_image_loss_weight <= 0:
            return tgt
        sup = torch.ones(b, t, dtype=torch.bool, device=img.device)
        if not (wm and c.wm_loss_first_frame):
            sup[:, 0] = False
        pad = batch.get(OBS_IS_PAD)
        if pad is not None:
            pad = torch.as_tensor(pad, device=img.device).bool()
            sup[:, :pad.shape[1]] &= ~pad
        sup = sup.unsqueeze(-1).expand(b, t, f).clone()
        sup[..., 0] = False  # boi is fixed by the layout, not predicted
        sup[..., -1] = False  # eoi likewise
        return torch.where(sup, img, tgt)

    def _action_block(self, batch: Batch, device) -> tuple[torch.Tensor, torch.Tensor]:
        """[boa, fast ids, eoa] per sample, right-padded: ids (B, La) and targets (B, La)."""
        sp = self.config.special
        toks = self.action_tokens(batch)
        seqs = [[sp["boa"]] + (t + [sp["eoa"]] if t is not None else []) for t in toks]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), sp["pad"], dtype=torch.long)
        tgt = torch.full((len(seqs), width), IGNORE, dtype=torch.long)
        for j, s in enumerate(seqs):
            ids[j, :len(s)] = torch.tensor(s)
            if toks[j] is not None:
                tgt[j, 1:len(s)] = torch.tensor(s[1:])  # FAST ids + eoa; boa is given
        return ids.to(device), tgt.to(device)

    # ---- network -----------------------------------------------------------------
    def _embed(self, tasks: Sequence[str], ids: torch.Tensor) -> torch.Tensor:
        """Instruction prefix (B, P, D) followed by token embeddings (B, L, D)."""
        c = self.config
        text = self._text(list(tasks), ids.device)  # (B, Dt)
        prefix = self.text_proj(text).view(ids.shape[0], c.n_text_tokens, c.dim)  # (B, P, D)
        return torch.cat([prefix, self.tok_emb(ids)], dim=1)

    def _hidden(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Causal decoder over x (B, N, D); with a cache the positions continue after it."""
        start = cache.length if cache is not None else 0
        pos = torch.arange(start, start + x.shape[1], device=x.device)
        rope = rope_tables(pos, self.config.dim // self.config.heads, self.config.rope_base)
        if torch.is_autocast_enabled(x.device.type):  # tables in the compute dtype: no fp32 round trips
            rope = tuple(t.to(torch.get_autocast_dtype(x.device.type)) for t in rope)
        mask = None if cache is not None else causal_mask(x.shape[1], x.device)
        return self.decoder(x, mask=mask, kv_cache=cache, rope=rope)

    # ---- decoding ----------------------------------------------------------------
    @torch.no_grad()
    def generate(self, tasks: Sequence[str], ids: torch.Tensor, allowed: torch.Tensor, max_new: int,
                 stop_id: int | None = None, use_cache: bool = True, static_cache: bool = True) -> torch.Tensor:
        """Greedy decoding after prompt ``ids`` (B, L), logits restricted to ``allowed`` (V,) bool.

        ``static_cache``: the KV cache preallocated for prompt + ``max_new`` tokens and written in place (False:
        concatenated per token, the same result, ``benchmarks/bench_univla_ar_latency.py`` times both).
        Returns (B, n<=max_new) new ids; after ``stop_id`` a row is filled with pad."""
        pad = self.config.special["pad"]
        x = self._embed(tasks, ids)  # (B, P + L, D)
        cache = KVCache(capacity=x.shape[1] + max_new if static_cache else None) if use_cache else None
        logits = self.head(self._hidden(x, cache)[:, -1])  # (B, V)
        done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
        out: list[torch.Tensor] = []
        for _ in range(max_new):
            nxt = logits.float().masked_fill(~allowed, float("-inf")).argmax(-1)  # (B,)
            nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
            out.append(nxt)
            if stop_id is not None:
                done |= nxt == stop_id
            if done.all() or len(out) == max_new:
                break
            e = self.tok_emb(nxt).unsqueeze(1)  # (B, 1, D)
            if use_cache:
                logits = self.head(self._hidden(e, cache)[:, -1])
            else:
                x = torch.cat([x, e], dim=1)
                logits = self.head(self._hidden(x)[:, -1])
        return torch.stack(out, dim=1)  # (B, n)

    def allowed_ids(self, kind: str, device=None) -> torch.Tensor:
        """(V,) bool: 'action' = FAST ids + eoa; 'image' = VQ codes."""
        c = self.config
        m = torch.zeros(c.vocab_size, dtype=torch.bool, device=device)
        if kind == "action":
            m[c.fast_offset:c.text_vocab] = True
            m[c.special["eoa"]] = True
        elif kind == "image":
            m[c.image_offset:c.image_offset + c.codebook_size] = True
        else:
            raise ValueError(f"allowed_ids kind {kind!r}: use 'action' or 'image'")
        return m

    def _prompt(self, obs: Batch) -> torch.Tensor:
        """Observation frames as ids (B, T*F) (history then current)."""
        img = self.frame_tokens(self._frames({k: v for k, v in obs.items() if k.startswith(IMAGE_PREFIX)}))
        return img.reshape(img.shape[0], -1)  # (B, T*F)

    @torch.no_grad()
    def predict_action_chunk(self, obs: Batch, generator: torch.Generator | None = None,
                             use_cache: bool = True) -> torch.Tensor:
        """Raw-unit (B, H, Da) chunk. Decode failures are flagged in ``last_decode_ok``."""
        fast, c = self._require_fast(), self.config
        obs = self.check_batch(obs, training=False)
        ids = self._prompt(obs)
        b = ids.shape[0]
        tasks = obs[TASK]
        boa = ids.new_full((b, 1), c.special["boa"])
        gen = self.generate(tasks, torch.cat([ids, boa], 1), self.allowed_ids("action", ids.device),
                            c.max_action_tokens, stop_id=c.special["eoa"], use_cache=use_cache)
        chunk, ok = self._decode_actions(gen, fast)  # (B, H, Da_fast) normalized, (B,)
        emb = obs[EMBODIMENT]
        idx = self.normalizer.index(emb, b)
        dims = {self.embodiments[n].action_dim for n in emb}
        if len(dims) > 1:
            raise ValueError(f"one batch mixes action widths {sorted(dims)}; predict per embodiment")
        padded = F.pad(chunk, (0, MAX_DIM - chunk.shape[-1]))
        raw = self.normalizer.unnormalize(ACTION, padded.to(ids.device), idx, dims.pop())  # (B, H, Da)
        return self._apply_fallback(raw, ok)

    def _decode_actions(self, gen: torch.Tensor, fast: FASTTokenizer) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        chunks, ok = [], []
        eoa = c.special["eoa"]
        for row in gen.tolist():
            arr, good = self._decode_row(row, eoa, fast)
            chunks.append(arr if good else np.zeros((c.chunk_size, self.action_dim), np.float32))
            ok.append(good)
        return torch.as_tensor(np.stack(chunks)), torch.tensor(ok)

    def _decode_row(self, row: list[int], eoa: int, fast: FASTTokenizer) -> tuple[np.ndarray | None, bool]:
        """One generated row -> (chunk, ok). Strict: needs eoa and an exact decode. Relaxed: a
        row without eoa (ran to ``max_action_tokens``) or with the wrong coefficient count is
        repaired by ``FASTTokenizer.decode_relaxed`` and counted in ``decode_repaired``."""
        c = self.config
        ended = eoa in row
        toks = [t - c.fast_offset for t in (row[:row.index(eoa)] if ended else row)]
        if c.fast_decode == "strict":
            return (None, False) if not ended else fast.try_decode(toks, c.chunk_size, self.action_dim)
        arr, n_fixed = fast.decode_relaxed(toks, c.chunk_size, self.action_dim)
        if arr is None:
            return None, False
        self.decode_repaired += int(n_fixed > 0 or not ended)
        return arr, True

    def diagnostics(self) -> dict[str, int]:
        return {"action_chunks": self.decode_calls, "decode_failures": self.decode_failures,
                "decode_repaired": self.decode_repaired}

    def _apply_fallback(self, raw: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
        """Replace failed rows by the configured fallback, count and log them."""
        self.decode_calls += raw.shape[0]
        self.last_decode_ok = ok
        n_bad = int((~ok).sum())
        if n_bad:
            self.decode_failures += n_bad
            last = self._last_chunk
            use_last = (self.config.decode_fallback == "repeat_last" and last is not None
                        and last.shape == raw.shape)
            fill = last if use_last else torch.zeros_like(raw)
            raw = torch.where(ok.view(-1, 1, 1).to(raw.device), raw, fill)
            if self.decode_failures <= 3 or self.decode_failures // 100 > (self.decode_failures - n_bad) // 100:
                # the first few, then one line per 100 failures: every count is in diagnostics() anyway
                log.warning("UniVLA-AR: %d of %d action chunk(s) failed to decode (FAST); fallback=%s "
                            "(%d failures in %d chunks so far)", n_bad, len(ok),
                            "repeat_last" if use_last else "zeros", self.decode_failures, self.decode_calls)
        self._last_chunk = raw.clone()
        return raw

    @torch.no_grad()
    def predict_future(self, obs: Batch, use_cache: bool = True) -> dict[str, torch.Tensor]:
        """Generate the next frame's image tokens (all views) and decode them to pixels.

        Returns ``future.images.<cam>`` uint8 (B, 1, 3, H, W) and ``future.codes`` (B, V, h, w)."""
        c = self.config
        obs = self.check_batch(obs, training=False, any_frames=True)
        ids = self._prompt(obs)
        b = ids.shape[0]
        cams = sorted(c.cameras)
        boi = ids.new_full((b, 1), c.special["boi"])
        n = len(cams) * c.tokens_per_view
        gen = self.generate(obs[TASK], torch.cat([ids, boi], 1), self.allowed_ids("image", ids.device),
                            n, use_cache=use_cache)
        g = c.vq.grid
        codes = (gen - c.image_offset).view(b, len(cams), g, g)  # (B, V, h, w)
        out = {"future.codes": codes}
        for v, cam in enumerate(cams):
            out[FUTURE_PREFIX + cam] = ImageVQ.to_uint8(self.vq.decode(codes[:, v])).unsqueeze(1)  # (B, 1, 3, H, W)
        return out

    def reset(self) -> None:
        super().reset()
        self._last_chunk = None

    # ---- tokenizers as checkpoint assets ------------------------------------------
    def set_fast(self, tokenizer: FASTTokenizer) -> None:
        """Attach a fitted FAST tokenizer (checked against this policy's chunk and action width)."""
        cfg: FASTConfig = tokenizer.config
        c = self.config
        if (cfg.horizon, cfg.action_dim) != (c.chunk_size, self.action_dim):
            raise ValueError(f"FAST tokenizer fitted on ({cfg.horizon}, {cfg.action_dim}) chunks, the policy "
                             f"needs ({c.chunk_size}, {self.action_dim}); refit with --chunk {c.chunk_size}")
        if cfg.vocab_size > c.fast_vocab:
            raise ValueError(f"FAST vocabulary {cfg.vocab_size} exceeds the model's fast_vocab {c.fast_vocab}")
        self.fast = tokenizer

    def _require_fast(self) -> FASTTokenizer:
        if self.fast is None:
            where = f" ({self.config.fast_path!r} holds none)" if self.config.fast_path else ""
            raise ConfigError(f"UniVLA-AR needs a fitted FAST tokenizer for action tokens{where}: train the policy "
                              "stage (it fits one on its training data), or run `vlaforge tokenizer fit-fast "
                              "--dataset DIR --chunk 10 --out DIR` and set policy.fast_path to DIR")
        return self.fast

    def prepare(self, data) -> None:
        """Policy stage without a FAST tokenizer: fit one on the training data's action chunks
        (normalized as this policy normalizes them), so it travels in the checkpoint's assets."""
        if self.stage != "policy" or self.fast is not None:
            return
        from vlaforge.tokenizers.fast import fit_on_chunks, normalize_chunks

        chunks = normalize_chunks(data.dataset, self.normalizer, self.action_dim)  # (N, H, Da)
        if not len(chunks):
            raise ConfigError("UniVLA-AR policy stage: no FAST tokenizer and no action-labelled samples to fit one "
                              "on; set data.roots to a dataset with actions, or policy.fast_path to a fitted tokenizer")
        tok, info = fit_on_chunks(chunks, self.config.fast_vocab, self.config.fast_scale)
        log.warning("UniVLA-AR: fitted FAST on %d action chunks: %.1f tokens per chunk (max %d)", info["n_chunks"],
                    info["mean_tokens"], info["max_tokens"])
        self.set_fast(tok)

    def tokenizers(self) -> dict:
        return {"image_vq": self.vq, **({"fast": self.fast} if self.fast is not None else {})}

    def save_assets(self, directory) -> None:
        directory = Path(directory)
        if self.fast is not None:
            self.fast.save(directory / "fast")
        self.vq.save(directory / "vq")

    def load_assets(self, directory) -> None:
        directory = Path(directory)
        if FASTTokenizer.exists(directory / "fast"):
            self.set_fast(FASTTokenizer.load(directory / "fast"))
        # The VQ weights are part of model.safetensors; assets/vq is the standalone copy for tools.


class CodeCache:
    """Frame-content hash -> VQ codes (int16, CPU), bounded; cleared when the VQ may change."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._d: dict[bytes, torch.Tensor] = {}
        self.hits = self.misses = 0

    @staticmethod
    def key(image: torch.Tensor) -> bytes:
        return hashlib.blake2b(image.contiguous().cpu().numpy().tobytes(), digest_size=16).digest()

    def __contains__(self, k: bytes) -> bool:
        found = k in self._d
        self.hits += found
        self.misses += not found
        return found

    def __getitem__(self, k: bytes) -> torch.Tensor:
        return self._d[k].long()

    def put(self, k: bytes, codes: torch.Tensor) -> None:
        if len(self._d) >= self.capacity:
            self._d.pop(next(iter(self._d)))  # oldest first
        self._d[k] = codes.to(torch.int16 if codes.max() < 2**15 else torch.int32).cpu()

    def clear(self) -> None:
        self._d.clear()


class _FrozenText:
    """The frozen instruction encoder (``vlaforge.nn.text``, it caches per string), kept outside
    the module tree so it is neither trained, moved by ``.to`` nor saved."""

    def __init__(self, name: str) -> None:
        from vlaforge.nn.text import build_text_encoder

        self.encoder = build_text_encoder(name)
        self.dim = int(self.encoder.dim)

    def __call__(self, tasks: list[str], device) -> torch.Tensor:
        with torch.no_grad():
            return self.encoder(tasks, device).float()  # (B, Dt)
