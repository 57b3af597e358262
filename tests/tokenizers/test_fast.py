"""FAST action tokenizer: round trip within the stated quantization bound, decode failures, save/load."""

import numpy as np
import pytest

from vlaforge.tokenizers.fast import FASTConfig, FASTDecodeError, FASTTokenizer, dct_matrix

H, D, SCALE = 10, 4, 10.0


def smooth_chunks(n: int, seed: int = 0) -> np.ndarray:
    """Smooth random trajectories in [-1, 1], like normalized robot actions."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, H)[None, :, None]
    freq, phase, amp = rng.uniform(0.1, 1.0, (n, 1, D)), rng.uniform(0, 1, (n, 1, D)), rng.uniform(0.1, 1, (n, 1, D))
    return np.clip(amp * np.sin(2 * np.pi * (freq * t + phase)), -1, 1)


@pytest.fixture(scope="module")
def tok() -> FASTTokenizer:
    return FASTTokenizer(FASTConfig(vocab_size=512, scale=SCALE)).fit(smooth_chunks(1000))


def test_dct_matrix_is_orthonormal_dct2():
    m = dct_matrix(H)
    assert np.allclose(m @ m.T, np.eye(H), atol=1e-12)
    scipy_fft = pytest.importorskip("scipy.fft")
    x = np.random.default_rng(1).normal(size=(H, D))
    assert np.allclose(m @ x, scipy_fft.dct(x, axis=0, norm="ortho"))


def test_round_trip_within_quantization_bound(tok):
    chunks = smooth_chunks(200, seed=5)  # unseen chunks from the same distribution
    bound = 0.5 / SCALE * np.sqrt(H)  # per-dim L2 error over the chunk (orthonormal inverse DCT)
    tok.n_clipped = 0
    for c in chunks:
        ids = tok.encode(c)
        assert all(0 <= i < tok.vocab_size for i in ids)
        rec = tok.decode(ids, H, D)
        assert rec.shape == (H, D)
        per_dim_l2 = np.sqrt(((rec - c) ** 2).sum(axis=0))
        assert (per_dim_l2 <= bound + 1e-9).all()
        # and the coefficient symbols themselves round-trip exactly (no clipping happened)
        assert np.array_equal(tok.coefficients(rec), tok.coefficients(c))
    assert tok.n_clipped == 0


def test_bpe_compresses(tok):
    lengths = [len(tok.encode(c)) for c in smooth_chunks(100, seed=2)]
    assert np.mean(lengths) < H * D / 2  # far fewer tokens than coefficients


def test_decode_failure_is_reported_not_zeros(tok):
    ids = tok.encode(smooth_chunks(1, seed=3)[0])
    with pytest.raises(FASTDecodeError):
        tok.decode(ids[:-1], H, D)  # too few symbols
    with pytest.raises(FASTDecodeError):
        tok.decode(ids + ids, H, D)  # too many
    with pytest.raises(FASTDecodeError):
        tok.decode([tok._bpe.get_vocab_size() + 5], H, D)  # not a vocabulary id
    chunk, ok = tok.try_decode(ids[:-1], H, D)
    assert chunk is None and ok is False
    chunk, ok = tok.try_decode(ids, H, D)
    assert ok and chunk.shape == (H, D)


def test_relaxed_decode_zero_fills_high_frequencies(tok):
    c = smooth_chunks(1, seed=4)[0]
    ids = tok.encode(c)
    exact, n = tok.decode_relaxed(ids, H, D)
    assert n == 0 and np.array_equal(exact, tok.decode(ids, H, D))
    sym = tok.coefficients(c).reshape(-1)  # frequency-major symbols
    short, n = tok.decode_relaxed(ids[:-1], H, D)
    missing = H * D - tok._symbols(ids[:-1]).size
    assert n == missing > 0
    expected = sym.copy()
    expected[H * D - missing:] = 0  # only the trailing (highest-frequency) coefficients are zeroed
    assert np.array_equal(tok.coefficients(short).reshape(-1), expected)
    long, n = tok.decode_relaxed(ids + ids, H, D)
    assert n == H * D and np.array_equal(long, exact)  # extras dropped
    assert tok.decode_relaxed([], H, D) == (None, -1)
    assert tok.decode_relaxed([tok._bpe.get_vocab_size() + 5], H, D) == (None, -1)


def test_bad_input_and_unfitted():
    with pytest.raises(RuntimeError, match="not fitted"):
        FASTTokenizer().encode(np.zeros((H, D)))
    tok = FASTTokenizer(FASTConfig(vocab_size=256)).fit(smooth_chunks(50))
    with pytest.raises(ValueError, match="fitted on"):
        tok.encode(np.zeros((H + 1, D)))
    with pytest.raises(ValueError, match="NaN"):
        FASTTokenizer().fit(np.full((2, H, D), np.nan))


def test_out_of_range_coefficients_are_clipped_with_warning(tok):
    with pytest.warns(UserWarning, match="clipped"):
        ids = tok.encode(np.full((H, D), 50.0))
    assert tok.n_clipped > 0 and tok.decode(ids).shape == (H, D)


def test_save_load_round_trip(tok, tmp_path):
    tok.save(tmp_path / "fast")
    again = FASTTokenizer.load(tmp_path / "fast")
    c = smooth_chunks(3, seed=9)
    for x in c:
        assert again.encode(x) == tok.encode(x)
    assert again.config == tok.config
    with pytest.raises(FileNotFoundError, match="fit-fast"):
        FASTTokenizer.load(tmp_path / "nothing")


def test_normalize_chunks_follows_the_normalizers_device():
    """The dataset's chunks live on the CPU while the policy's normaliser may sit on a GPU (UniVLA-AR fits FAST in
    ``prepare`` after the policy moved): the chunks must go to the normaliser's device and come back as numpy.
    A stand-in normaliser checks the device it is handed (the real bug showed only on an H200)."""
    import torch

    from vlaforge.tokenizers.fast import normalize_chunks

    class Data:
        def action_chunks(self):
            return torch.ones(5, 4, 3), ["robot"] * 5, torch.tensor([True, True, False, True, True])

    class Normalizer:
        device = torch.device("meta")  # stands for "not the CPU"
        seen = []

        def index(self, names, n):
            return torch.zeros(n, dtype=torch.long, device=self.device)

        def normalize(self, key, x, idx):
            self.seen.append(x.device)
            assert x.device == idx.device, "chunks were not moved to the normaliser's device"
            return torch.full((x.shape[0], x.shape[1], 8), 2.0)  # (B, H, MAX_DIM) on the CPU, as .cpu() returns

    norm = Normalizer()
    out = normalize_chunks(Data(), norm, action_dim=3)
    assert norm.seen == [torch.device("meta")]
    assert out.shape == (4, 4, 3) and out.dtype == np.float64 and np.all(out == 2.0)
