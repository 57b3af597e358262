"""Linear probes on frozen codes, shared by the benchmark scripts that ask "what do these codes carry?"."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def ridge_r2(xtr: torch.Tensor, ytr: torch.Tensor, xte: torch.Tensor, yte: torch.Tensor, lam: float) -> float:
    """R^2 on the test rows of a ridge fit, in float64; the dual form when there are more features than rows
    (the same solution, a smaller system)."""
    mu_x, mu_y = xtr.double().mean(0), ytr.double().mean(0)
    A, Y = xtr.double() - mu_x, ytr.double() - mu_y
    if A.shape[1] > A.shape[0]:
        w = A.T @ torch.linalg.solve(A @ A.T + lam * torch.eye(len(A), dtype=A.dtype), Y)
    else:
        w = torch.linalg.solve(A.T @ A + lam * torch.eye(A.shape[1], dtype=A.dtype), A.T @ Y)
    pred = (xte.double() - mu_x) @ w + mu_y
    y = yte.double()
    return float(1 - ((pred - y) ** 2).sum() / ((y - y.mean(0)) ** 2).sum())


def ridge_probe(xtr: torch.Tensor, ytr: torch.Tensor, xte: torch.Tensor, yte: torch.Tensor,
                lams: Sequence[float]) -> dict:
    """Choose lambda on a last-20% split of the training rows, refit on all of them, score the test rows."""
    cut = int(len(xtr) * 0.8)
    val = {lam: ridge_r2(xtr[:cut], ytr[:cut], xtr[cut:], ytr[cut:], lam) for lam in lams}
    best = max(val, key=val.get)
    return {"lambda": best, "val_r2": val[best], "heldout_r2": ridge_r2(xtr, ytr, xte, yte, best)}
