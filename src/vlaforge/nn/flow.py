"""Flow-matching utilities shared by the flow families (X-VLA, InternVLA-A1, XR-1).

Convention (pi0, X-VLA, InternVLA-A1): time runs from ``t = 0`` (data) to ``t = 1``
(pure noise) along the straight path

    x_t = t * noise + (1 - t) * x0,        velocity  v = dx_t/dt = noise - x0.

Sampling integrates from ``t = 1`` down to ``t = 0`` with Euler steps of ``1/steps``.
Two parameterizations of the network output:

- ``"clean"``: the network predicts ``x0`` (X-VLA); the implied velocity is
  ``(x_t - x0_hat) / t``, so the last Euler step lands exactly on ``x0_hat``.
- ``"velocity"``: the network predicts ``noise - x0`` (pi0, InternVLA-A1).
"""

from __future__ import annotations

from typing import Callable, Literal

import torch

Parameterization = Literal["clean", "velocity"]
TimeSampling = Literal["uniform", "stratified", "beta"]


def sample_time(batch_size: int, mode: TimeSampling = "uniform", device: torch.device | str | None = None,
                generator: torch.Generator | None = None, beta_a: float = 1.5,
                t_min: float = 0.001, t_max: float = 0.999) -> torch.Tensor:
    """Training times (B,) in [t_min, t_max].

    - ``uniform``: i.i.d. U(0, 1).
    - ``stratified``: one uniform offset plus an even grid, ``(u + i/B) mod 1`` (X-VLA):
      every batch covers [0, 1) evenly, which lowers the variance of the loss.
    - ``beta``: pi0's Beta(a, 1) with a = 1.5, density ~ t^(a-1), which favours the noisy
      end (t near 1). Drawn exactly by inverse CDF, ``u ** (1/a)``, so a generator works.

    All modes are then mapped affinely onto [t_min, t_max] (pi0: ``0.999 * t + 0.001``):
    t = 0 would make the clean parameterization's velocity undefined and t = 1 carries no signal.
    """
    dev = generator.device if generator is not None else device
    u = torch.rand(batch_size if mode != "stratified" else 1, generator=generator, device=dev)
    if mode == "uniform":
        t = u
    elif mode == "stratified":
        t = (u + torch.arange(batch_size, device=dev) / batch_size) % 1.0
    elif mode == "beta":
        t = u ** (1.0 / beta_a)
    else:
        raise ValueError(f"time sampling {mode!r}: use 'uniform', 'stratified' or 'beta'")
    return (t_min + (t_max - t_min) * t).to(device)


def _bcast(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return t.view(-1, *([1] * (like.dim() - 1))).to(like.dtype)  # (B, 1, ..., 1)


def interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``x_t = t * noise + (1 - t) * x0``; t (B,) broadcast over the other dims."""
    tb = _bcast(t, x0)
    return tb * noise + (1 - tb) * x0


def flow_target(x0: torch.Tensor, noise: torch.Tensor, parameterization: Parameterization) -> torch.Tensor:
    """What the network regresses: ``x0`` ('clean') or ``noise - x0`` ('velocity')."""
    if parameterization == "clean":
        return x0
    if parameterization == "velocity":
        return noise - x0
    raise ValueError(f"flow parameterization {parameterization!r}: use 'clean' or 'velocity'")


def to_velocity(pred: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, parameterization: Parameterization,
                t_eps: float = 1e-4) -> torch.Tensor:
    """The velocity implied by a network output, whatever its parameterization."""
    if parameterization == "velocity":
        return pred
    if parameterization == "clean":
        return (x_t - pred) / _bcast(t, x_t).clamp_min(t_eps)
    raise ValueError(f"flow parameterization {parameterization!r}: use 'clean' or 'velocity'")


@torch.no_grad()
def euler_sample(model_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], noise: torch.Tensor,
                 steps: int = 10, parameterization: Parameterization = "velocity") -> torch.Tensor:
    """Integrate from ``noise`` at t = 1 to t = 0 in ``steps`` Euler steps.

    ``model_fn(x_t, t)`` gets x_t shaped like ``noise`` and t (B,) and returns the network
    output in the given parameterization. Returns the sample at t = 0.
    """
    if steps < 1:
        raise ValueError(f"euler_sample: steps must be >= 1, got {steps}")
    x, dt = noise, 1.0 / steps
    for i in range(steps, 0, -1):
        t = torch.full((noise.shape[0],), i * dt, device=noise.device)
        pred = model_fn(x, t).to(x.dtype)
        x = x - dt * to_velocity(pred, x, t, parameterization)
    return x
