"""Models: the flow's density integrates to one (quadrature), DDPM's schedule, shapes, seeding, errors."""

import math

import pytest
import torch

from stability.experiments.models import DDPM, make_model, parameter_vector


def test_flow_density_integrates_to_one():
    torch.manual_seed(0)
    flow = make_model("flow", (2,), transforms=2, hidden=(16, 16))
    h = 0.04
    grid = torch.arange(-8.0, 8.0 + h / 2, h, dtype=torch.float32)
    xx, yy = torch.meshgrid(grid, grid, indexing="ij")
    with torch.no_grad():
        p = flow.log_prob(torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)).double().exp()
    # Riemann sum of a smooth density: error O(h^2) ~ 1e-3 at h=0.04, and the Gaussian tails of
    # the base beyond |x| = 8 (identity outside the spline domain [-5, 5]) hold < 1e-14
    assert float(p.sum()) * h * h == pytest.approx(1.0, abs=5e-3)


def test_ddpm_schedule_reaches_noise():
    model = make_model("ddpm", (2,), T=21)
    assert isinstance(model, DDPM)
    # rescaled linear schedule: sum of betas = T * mean(1e-4, 0.02) * 1000/T ~ 10, so abar_T <~ e^-10
    assert float(model.abar[-1]) < 1e-4
    assert torch.all(model.betas > 0) and torch.all(model.betas < 1)


@pytest.mark.parametrize("kind,shape", [("flow", (2,)), ("ddpm", (2,)), ("ddpm", (1, 8, 8))])
def test_sample_shapes_and_seeding(kind, shape):
    torch.manual_seed(1)
    model = make_model(kind, shape, **({"T": 25} if kind == "ddpm" else {}))
    torch.manual_seed(2)
    a = model.sample(4)
    torch.manual_seed(2)
    b = model.sample(4)
    assert a.shape == (4, *shape) and torch.equal(a, b)
    assert parameter_vector(model).shape == (sum(p.numel() for p in model.parameters()),)


def test_ddpm_loss_of_perfect_denoiser_is_zero_at_clean_limit():
    # with data identically zero, x_t = sqrt(1 - abar_t) eps, so eps = x_t / sqrt(1 - abar_t) exactly
    class Oracle(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.abar = None

        def forward(self, x, t):
            return x / (1.0 - self.abar[t]).sqrt()[:, None]

    net = Oracle()
    model = DDPM((3,), net, T=30)
    net.abar = model.abar
    torch.manual_seed(0)
    # float32 rounding of sqrt and division: ~1e-12 squared error
    assert float(model.loss(torch.zeros(64, 3))) < 1e-10
    assert not math.isnan(float(model.sample(8).sum()))


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="model must be one of"):
        make_model("gan", (2,))
    with pytest.raises(ValueError, match=r"options for model 'flow' must be among"):
        make_model("flow", (2,), T=3)
    with pytest.raises(ValueError, match="shape must be"):
        make_model("ddpm", (1, 7, 7))
    with pytest.raises(ValueError, match="T must be an integer >= 21"):
        make_model("ddpm", (2,), T=20)


def test_bits_per_dim_matches_quadrature_of_the_bins():
    # Independent route: integrate the flow's density over each bin [x, x + Delta)^2 (midpoint rule)
    # to get the bin's probability P; -log2(P) / D is the discrete NLL. The dequantized estimate
    # E_u[log p(x + Delta u)] + D log Delta is below log P by the Jensen gap, ~ Delta^2 |grad log p|^2 / 24
    # ~ 1e-5 here, and its Monte Carlo error over 4000 draws per point is ~ 1e-4 bits.
    torch.manual_seed(0)
    delta = 0.02
    flow = make_model("flow", (2,), transforms=2, hidden=(16, 16), dequantize=delta)
    x = torch.tensor([[0.1, -0.3], [1.0, 0.5], [-0.7, 0.2]])
    k = 50
    mid = (torch.arange(k) + 0.5) / k * delta
    cell = torch.stack(torch.meshgrid(mid, mid, indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        p_bin = torch.stack([flow.log_prob(xi + cell).double().exp().mean() * delta**2 for xi in x])
    exact = float(-torch.log2(p_bin).mean() / 2)
    torch.manual_seed(1)
    estimate = flow.bits_per_dim(x.repeat(4000, 1))
    assert estimate == pytest.approx(exact, abs=1e-3)  # 10 MC standard errors plus the Jensen gap
    assert estimate >= exact - 1e-3  # the dequantized bound is an upper bound on the discrete NLL
    with pytest.raises(ValueError, match="dequantize must be > 0"):
        make_model("flow", (2,)).bits_per_dim(x)
