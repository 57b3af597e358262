"""FAST action tokenizer (Pertsch et al. 2025): DCT over time, scale, round, then BPE.

Why a DCT: consecutive actions in a chunk are strongly correlated, so most of a
chunk's energy sits in a few low-frequency coefficients; after rounding, the high
frequencies are mostly zeros that BPE merges into a handful of tokens. Why BPE
over a unicode string: it is the pi0-FAST recipe, and the HF ``tokenizers`` library
trains and applies it fast and saves it as one JSON file.

Coefficients are laid out frequency-major (all dims of frequency 0, then of
frequency 1, ...), so the low frequencies come first in the token stream, as FAST
does. Every integer symbol ``s`` in ``[min_symbol, max_symbol]`` (fitted range) is
one unicode character ``chr(CHAR_OFFSET + s - min_symbol)``; the offset keeps the
alphabet clear of control and whitespace characters.

Error bound of a round trip (no clipping): each coefficient is off by at most
``0.5 / scale``; the orthonormal inverse DCT preserves L2 norms, so per action dim
the L2 error over the chunk is at most ``0.5 / scale * sqrt(H)``.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

CHAR_OFFSET = 0x100
"""First unicode code point used for symbols (Latin Extended-A onwards: printable, no whitespace)."""
CONFIG_FILE = "fast_config.json"
TOKENIZER_FILE = "fast_tokenizer.json"


class FASTDecodeError(ValueError):
    """Token ids that do not decode to a full (H, D) chunk of coefficients."""


@dataclass
class FASTConfig:
    vocab_size: int = 1024
    """BPE vocabulary size (the FAST paper and UniVLA use 1024; 1024-2048 is the useful range)."""
    scale: float = 10.0
    """DCT coefficients are multiplied by this before rounding: larger = finer, more tokens."""
    horizon: int = 0
    """Chunk length H the tokenizer was fitted on (0 = not fitted)."""
    action_dim: int = 0
    """Action width D it was fitted on (0 = not fitted)."""
    margin: int = 8
    """Symbols added beyond the fitted coefficient range on each side, so slightly larger
    unseen chunks still encode exactly instead of being clipped."""
    min_symbol: int = 0
    max_symbol: int = 0


def dct_matrix(n: int) -> np.ndarray:
    """(n, n) orthonormal DCT-II matrix M: coeffs = M @ x, x = M.T @ coeffs (scipy's norm='ortho')."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


class FASTTokenizer:
    """Fit on normalized action chunks, then ``encode`` (H, D) -> ids and ``decode`` ids -> (H, D)."""

    def __init__(self, config: FASTConfig | None = None) -> None:
        self.config = config or FASTConfig()
        self._bpe = None  # tokenizers.Tokenizer once fitted or loaded
        self.n_clipped = 0  # coefficients clipped into the fitted symbol range by encode()

    # ---- properties ------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return self._bpe is not None

    @property
    def vocab_size(self) -> int:
        """Ids are in [0, vocab_size); the model reserves this many ids for actions."""
        return self.config.vocab_size

    # ---- DCT + quantization ----------------------------------------------------
    def coefficients(self, chunks: np.ndarray) -> np.ndarray:
        """(..., H, D) actions -> (..., H, D) rounded, scaled DCT coefficients (int64)."""
        chunks = np.asarray(chunks, dtype=np.float64)
        m = dct_matrix(chunks.shape[-2])
        coeff = np.einsum("kh,...hd->...kd", m, chunks)  # (..., H, D) frequency-major rows
        return np.rint(coeff * self.config.scale).astype(np.int64)

    def inverse(self, symbols: np.ndarray) -> np.ndarray:
        """(H, D) integer coefficients -> (H, D) actions (float32)."""
        m = dct_matrix(symbols.shape[0])
        return (m.T @ (symbols.astype(np.float64) / self.config.scale)).astype(np.float32)

    # ---- fit ---------------------------------------------------------------------
    def fit(self, action_chunks: np.ndarray) -> "FASTTokenizer":
        """Train the BPE on (N, H, D) normalized chunks. Returns self."""
        from tokenizers import Tokenizer, models, trainers

        chunks = np.asarray(action_chunks, dtype=np.float64)
        if chunks.ndim != 3 or chunks.shape[0] == 0:
            raise ValueError(f"FASTTokenizer.fit expects (N, H, D) action chunks with N > 0, got {chunks.shape}")
        if not np.isfinite(chunks).all():
            raise ValueError("FASTTokenizer.fit: action chunks contain NaN/inf; clean the dataset first")
        symbols = self.coefficients(chunks)  # (N, H, D)
        cfg = self.config
        cfg.horizon, cfg.action_dim = int(chunks.shape[1]), int(chunks.shape[2])
        cfg.min_symbol, cfg.max_symbol = int(symbols.min()) - cfg.margin, int(symbols.max()) + cfg.margin
        n_alphabet = cfg.max_symbol - cfg.min_symbol + 1
        if n_alphabet > cfg.vocab_size:
            raise ValueError(f"FAST: {n_alphabet} distinct coefficient symbols exceed vocab_size {cfg.vocab_size}; "
                             "normalize the actions (quantile mode) or lower `scale`, or raise the vocabulary")
        alphabet = [self._char(s) for s in range(cfg.min_symbol, cfg.max_symbol + 1)]
        bpe = Tokenizer(models.BPE())
        trainer = trainers.BpeTrainer(vocab_size=cfg.vocab_size, initial_alphabet=alphabet, show_progress=False,
                                      min_frequency=2, max_token_length=10_000)
        bpe.train_from_iterator((self._to_string(s) for s in symbols), trainer=trainer, length=len(symbols))
        self._bpe = bpe
        return self

    # ---- encode / decode ---------------------------------------------------------
    def encode(self, chunk: np.ndarray) -> list[int]:
        """(H, D) normalized actions -> BPE ids. Coefficients outside the fitted range are
        clipped into it (counted in ``n_clipped``, with a warning): the error bound then no longer holds."""
        self._check_fitted()
        chunk = np.asarray(chunk)
        cfg = self.config
        if chunk.shape != (cfg.horizon, cfg.action_dim):
            raise ValueError(f"FAST tokenizer was fitted on ({cfg.horizon}, {cfg.action_dim}) chunks, "
                             f"got {chunk.shape}; refit it for this chunk size / action width")
        symbols = self.coefficients(chunk)
        clipped = np.clip(symbols, cfg.min_symbol, cfg.max_symbol)
        n = int((clipped != symbols).sum())
        if n:
            self.n_clipped += n
            warnings.warn(f"FAST: {n} DCT coefficient(s) outside the fitted range were clipped; "
                          "the chunk is out of the fitting distribution", stacklevel=2)
        return self._bpe.encode(self._to_string(clipped)).ids

    def encode_batch(self, chunks: np.ndarray) -> list[list[int]]:
        return [self.encode(c) for c in np.asarray(chunks)]

    def decode(self, ids: Sequence[int], horizon: int | None = None, action_dim: int | None = None) -> np.ndarray:
        """BPE ids -> (H, D) actions. Raises ``FASTDecodeError`` when the ids do not spell
        exactly H x D coefficient symbols (a malformed generation): never a silent zero chunk."""
        self._check_fitted()
        h = horizon or self.config.horizon
        d = action_dim or self.config.action_dim
        symbols = self._symbols(ids)
        if symbols.size != h * d:
            raise FASTDecodeError(f"FAST: {len(ids)} token(s) decode to {symbols.size} coefficients, "
                                  f"a ({h}, {d}) chunk needs {h * d}")
        return self.inverse(symbols.reshape(h, d))  # (H, D)

    def try_decode(self, ids: Sequence[int], horizon: int | None = None,
                   action_dim: int | None = None) -> tuple[np.ndarray | None, bool]:
        """Like ``decode`` but returns ``(chunk, True)`` or ``(None, False)`` instead of raising."""
        try:
            return self.decode(ids, horizon, action_dim), True
        except FASTDecodeError:
            return None, False

    def decode_relaxed(self, ids: Sequence[int], horizon: int | None = None,
                       action_dim: int | None = None) -> tuple[np.ndarray | None, int]:
        """Decode a generation that spells the wrong number of coefficients, as LeRobot's pi0-FAST
        ``relaxed_decoding`` does: missing trailing coefficients are set to 0, extra ones dropped.

        Symbols are frequency-major, so what is missing or extra is the highest frequencies: the
        repaired chunk is a smoothed version, not an invented one. Returns ``(chunk, n_fixed)``
        with ``n_fixed`` the number of coefficients padded or dropped (0: an exact decode), or
        ``(None, -1)`` when nothing decodes (no tokens, ids outside the vocabulary)."""
        self._check_fitted()
        h = horizon or self.config.horizon
        d = action_dim or self.config.action_dim
        try:
            symbols = self._symbols(ids)
        except FASTDecodeError:
            return None, -1
        if symbols.size == 0:
            return None, -1
        n_fixed = abs(symbols.size - h * d)
        full = np.zeros(h * d, dtype=np.int64)
        full[: min(symbols.size, h * d)] = symbols[: h * d]
        return self.inverse(full.reshape(h, d)), n_fixed

    def _symbols(self, ids: Sequence[int]) -> np.ndarray:
        cfg = self.config
        parts = []
        for i in ids:
            tok = self._bpe.id_to_token(int(i)) if 0 <= int(i) < self._bpe.get_vocab_size() else None
            if tok is None:
                raise FASTDecodeError(f"FAST: id {int(i)} is not in the fitted vocabulary "
                                      f"({self._bpe.get_vocab_size()} ids)")
            parts.append(tok)
        codes = np.array([ord(c) for c in "".join(parts)], dtype=np.int64)
        if codes.size and (codes.min() < CHAR_OFFSET or codes.max() > CHAR_OFFSET + cfg.max_symbol - cfg.min_symbol):
            raise FASTDecodeError("FAST: decoded characters fall outside the symbol alphabet")
        return codes - CHAR_OFFSET + cfg.min_symbol

    def _char(self, symbol: int) -> str:
        return chr(CHAR_OFFSET + symbol - self.config.min_symbol)

    def _to_string(self, symbols: np.ndarray) -> str:
        flat = np.asarray(symbols).reshape(-1) - self.config.min_symbol + CHAR_OFFSET  # frequency-major
        return "".join(map(chr, flat.tolist()))

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError("FAST tokenizer is not fitted: call fit(chunks), FASTTokenizer.load(dir), or "
                               "run `vlaforge tokenizer fit-fast --dataset DIR --out DIR`")

    # ---- persistence -------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CONFIG_FILE).write_text(json.dumps(asdict(self.config), indent=2))
        self._bpe.save(str(directory / TOKENIZER_FILE))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "FASTTokenizer":
        from tokenizers import Tokenizer

        directory = Path(directory)
        if not (directory / CONFIG_FILE).is_file() or not (directory / TOKENIZER_FILE).is_file():
            raise FileNotFoundError(f"{directory} holds no FAST tokenizer ({CONFIG_FILE} + {TOKENIZER_FILE}); "
                                    "fit one with `vlaforge tokenizer fit-fast`")
        tok = cls(FASTConfig(**json.loads((directory / CONFIG_FILE).read_text())))
        tok._bpe = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
        return tok

    @staticmethod
    def exists(directory: str | Path) -> bool:
        return (Path(directory) / CONFIG_FILE).is_file()


# ---- fitting on data ---------------------------------------------------------------------
def normalized_chunks(root: str, chunk: int, norm_mode: str) -> np.ndarray:
    """Every action window (N, H, D_real) of a LeRobot dataset, normalized as a policy sees it."""
    from vlaforge.core.embodiment import get_embodiment
    from vlaforge.core.normalize import Normalizer
    from vlaforge.data.dataset import LeRobotDataset
    from vlaforge.data.errors import DatasetError
    from vlaforge.data.stats import norm_stats_for

    ds = LeRobotDataset(root, n_obs_steps=1, chunk_size=chunk, cameras=(), use_cache=False)
    if not ds.meta.has_actions:
        raise DatasetError(f"{root} is an action-free dataset; fit FAST on one with actions")
    stats = norm_stats_for(ds.meta)
    specs = [get_embodiment(n) for n in stats]
    return normalize_chunks(ds, Normalizer(stats, specs, norm_mode), specs[0].action_dim)


def normalize_chunks(dataset, normalizer, action_dim: int) -> np.ndarray:
    """The action-labelled chunks (N, H, action_dim) of ``dataset`` (one with ``action_chunks()``),
    normalized by ``normalizer``."""
    from vlaforge.core.keys import ACTION

    raw, names, has = dataset.action_chunks()
    out = []
    for start in range(0, len(names), 4096):
        sl = slice(start, start + 4096)
        idx = normalizer.index(names[sl], len(names[sl]))
        y = normalizer.normalize(ACTION, raw[sl].to(idx.device), idx)[..., :action_dim].cpu()  # on the policy's device
        out.append(y[has[sl]].numpy())
    return np.concatenate(out).astype(np.float64)  # (N, H, D)


def fit_on_chunks(chunks: np.ndarray, vocab: int = 1024, scale: float = 10.0, max_chunks: int = 200_000,
                  seed: int = 0) -> tuple["FASTTokenizer", dict]:
    """Fit FAST on normalized chunks (N, H, D) (subsampled to ``max_chunks``); returns it and a report
    (token counts per chunk, the round-trip error on 2,000 probe chunks against its bound)."""
    rng = np.random.default_rng(seed)
    if len(chunks) > max_chunks:
        chunks = chunks[rng.choice(len(chunks), max_chunks, replace=False)]
    t0 = time.time()
    tok = FASTTokenizer(FASTConfig(vocab_size=vocab, scale=scale)).fit(chunks)
    fit_s = time.time() - t0
    probe = chunks[rng.choice(len(chunks), min(2000, len(chunks)), replace=False)]
    ids = [tok.encode(c) for c in probe]
    err = np.abs(np.stack([tok.decode(i) for i in ids]) - probe).max()
    info = {"n_chunks": int(len(chunks)), "fit_s": fit_s, "mean_tokens": float(np.mean([len(i) for i in ids])),
            "max_tokens": int(max(len(i) for i in ids)), "coefficients_per_chunk": int(chunks.shape[1] * chunks.shape[2]),
            "max_abs_error": float(err), "error_bound_l2_per_dim": 0.5 / scale * float(np.sqrt(chunks.shape[1]))}
    return tok, info
