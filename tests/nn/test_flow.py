"""Flow matching: time sampling, interpolation convention, targets, Euler sampler for both parameterizations."""

import pytest
import torch

from vlaforge.nn.flow import euler_sample, flow_target, interpolate, sample_time, to_velocity


@pytest.mark.parametrize("mode", ["uniform", "stratified", "beta"])
def test_time_in_range_and_reproducible(mode):
    t1 = sample_time(64, mode, generator=torch.Generator().manual_seed(3))
    t2 = sample_time(64, mode, generator=torch.Generator().manual_seed(3))
    assert t1.shape == (64,) and torch.equal(t1, t2)
    assert t1.min() >= 0.001 - 1e-6 and t1.max() <= 0.999 + 1e-6


def test_stratified_covers_unit_interval_evenly():
    t = sample_time(10, "stratified", generator=torch.Generator().manual_seed(0))
    bins = torch.floor((t - 0.001) / 0.998 * 10).long().clamp(0, 9)
    assert sorted(bins.tolist()) == list(range(10))   # exactly one time per tenth


def test_beta_favours_noisy_end():
    t = sample_time(20000, "beta", generator=torch.Generator().manual_seed(0))
    # Beta(1.5, 1): mean a / (a + 1) = 0.6
    assert abs(t.mean().item() - (0.001 + 0.998 * 0.6)) < 0.01


def test_interpolation_convention_and_targets():
    x0, noise = torch.randn(4, 3, 2), torch.randn(4, 3, 2)
    assert torch.allclose(interpolate(x0, noise, torch.zeros(4)), x0)
    assert torch.allclose(interpolate(x0, noise, torch.ones(4)), noise)
    assert torch.equal(flow_target(x0, noise, "clean"), x0)
    assert torch.allclose(flow_target(x0, noise, "velocity"), noise - x0)
    t = torch.rand(4) * 0.9 + 0.05
    xt = interpolate(x0, noise, t)
    assert torch.allclose(to_velocity(x0, xt, t, "clean"), noise - x0, atol=1e-4)
    with pytest.raises(ValueError, match="parameterization"):
        flow_target(x0, noise, "eps")


@pytest.mark.parametrize("param", ["clean", "velocity"])
def test_euler_with_oracle_recovers_data(param):
    """An oracle that knows x0 must bring any noise exactly to x0 (straight paths)."""
    x0 = torch.randn(3, 5, 4)
    noise = torch.randn(3, 5, 4)

    def oracle(x_t, t):
        tb = t.view(-1, 1, 1)
        eps = (x_t - (1 - tb) * x0) / tb
        return x0 if param == "clean" else eps - x0

    out = euler_sample(oracle, noise, steps=10, parameterization=param)
    assert torch.allclose(out, x0, atol=1e-4)
