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
