"""The 2-D DDPM and OT-CFM loss models (stability.numerical.generative; docs/theory.md §13)."""

import math

import numpy as np
import pytest
import torch

from stability.numerical.expectations import as_generator
from stability.numerical.generative import (
    MLPDDPM,
    MLPFlowMatching,
    cfm_loss,
    cfm_sample,
    ddpm_loss,
    ddpm_sample,
    default_betas,
)
from stability.numerical.linear_ddpm import linear_ddpm_sample
from stability.numerical.losses import LossModel, analyze_loss

MU, SIG = 0.7, 1.3  # the Gaussian data N(MU, SIG^2 I) of the exact-optimum checks


@pytest.mark.parametrize("model", [MLPDDPM(hidden=3, T=5, draws=2), MLPFlowMatching(hidden=3, K=4, draws=2)])
def test_valid_loss_model(model):
    assert isinstance(model, LossModel)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(7, 2, generator=gen, dtype=torch.float64)
    xp = model.prepare(x, gen)
    th = torch.as_tensor(model.theta0)
    assert model.loss(th, xp).shape == (7,)
    z = model.noise(5, gen)
    y = model.sample(th, z)
    assert y.shape == (5, model.point_dim)
    g = torch.func.jacrev(lambda t: model.sample(t, z)[:, :2])(th)  # the sampler is differentiable in theta
    assert torch.isfinite(g).all() and g.abs().max() > 0


def test_ddpm_sampler_is_the_linear_anchor_per_coordinate():
    # with the linear predictor eps = a_t x + b_t, each coordinate follows linear_ddpm_sample (an independent code)
    T = 6
    b = default_betas(T)
    gen = torch.Generator().manual_seed(1)
    a_, b_ = torch.rand(T, generator=gen, dtype=torch.float64), torch.randn(T, generator=gen, dtype=torch.float64)

    def eps(y, tau):
        t = torch.round(tau * T).long() - 1
        return a_[t][:, None] * y + b_[t][:, None]

    z = torch.randn(9, 2 * (T + 1), generator=gen, dtype=torch.float64)
    y = ddpm_sample(eps, z, b)
    theta = torch.cat([a_, b_])
    for c in range(2):
        ref = linear_ddpm_sample(theta, z[:, c::2], b)[:, 0]
        torch.testing.assert_close(y[:, c], ref, rtol=1e-12, atol=1e-12)


def _exact_eps(b):
    ab = torch.as_tensor(np.cumprod(1.0 - b))
    T = len(b)

    def eps(y, tau):  # E[eps | x_t] for x ~ N(MU, SIG^2 I): sqrt(1-ab)(x_t - sqrt(ab) MU)/(ab SIG^2 + 1 - ab)
        a = ab[torch.round(tau * T).long() - 1][:, None]
        return torch.sqrt(1 - a) * (y - torch.sqrt(a) * MU) / (a * SIG**2 + 1 - a)

    return eps


def _exact_velocity(y, s):  # E[x - x0 | x_s] for x ~ N(MU, SIG^2 I), x0 ~ N(0, I)
    s = s[:, None]
    c = (s * SIG**2 - (1 - s)) / ((1 - s) ** 2 + s**2 * SIG**2)
    return MU + c * (y - s * MU)


@pytest.mark.parametrize("which", ["ddpm", "cfm"])
def test_losses_are_minimised_by_the_exact_predictor(which):
    # The loss is E||f(x_t) - target||^2; at the conditional mean f* the derivative along any perturbation h,
    # 2 E[h . (f* - target)], is 0. Monte Carlo over N draws: |mean| <= 5 SE (a wrong target, or a wrong x_t,
    # moves it by O(1) >> SE ~ 1/sqrt(N)).
    gen = torch.Generator().manual_seed(2)
    N = 50_000
    x = MU + SIG * torch.randn(N, 2, generator=gen, dtype=torch.float64)
    u = torch.randn(N, 3, generator=gen, dtype=torch.float64)
    b = default_betas(10)
    f = _exact_eps(b) if which == "ddpm" else _exact_velocity

    def h(y, tau):
        return torch.stack([torch.tanh(y[:, 0] + tau), y[:, 1] * tau], dim=1)

    def L(e):
        fe = lambda y, tau: f(y, tau) + e * h(y, tau)  # noqa: E731
        return ddpm_loss(fe, x, u, b) if which == "ddpm" else cfm_loss(fe, x, u)

    zero, one = torch.zeros((), dtype=torch.float64), torch.ones((), dtype=torch.float64)
    per = torch.func.jvp(L, (zero,), (one,))[1]  # (N,) per-point derivatives at e = 0 (forward mode, one pass)
    assert abs(float(per.mean())) <= 5 * float(per.std()) / math.sqrt(N)
    base, plus = L(torch.tensor(0.0)), L(torch.tensor(0.3))
    assert float(plus.mean() - base.mean()) > 0  # a perturbed predictor has a larger loss


def test_cfm_sampler_with_the_exact_velocity_is_the_gaussian_map():
    # the exact flow of N(0, I) -> N(MU, SIG^2 I) is y(s) = s MU + sqrt((1-s)^2 + s^2 SIG^2) z, so y(1) = MU + SIG z;
    # Heun (order 2) with K = 50 steps: error O(h^2) = O(4e-4) times the flow's derivatives, tolerance 1e-3
    z = torch.randn(100, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for method in ("heun", "midpoint"):
        y = cfm_sample(_exact_velocity, z, 50, method)
        torch.testing.assert_close(y, MU + SIG * z, rtol=0, atol=1e-3)
    err_coarse = (cfm_sample(_exact_velocity, z, 20) - MU - SIG * z).abs().max()
    err_fine = (cfm_sample(_exact_velocity, z, 40) - MU - SIG * z).abs().max()
    # Heun is second order: halving h divides the error by 4 (1 + O(h)); measured 5.3, 4.8, 4.5 at K = 5, 10, 20
    assert 3.5 < float(err_coarse / err_fine) < 5.0


@pytest.mark.parametrize("make", [MLPFlowMatching, MLPDDPM])
def test_theta_star_of_a_tiny_model(make):
    # theta_hat a true minimum and theta*_lambda a fixed point, rechecked here by autograd on the same prepared
    # points and bank (rebuilt from the seed in analyze_loss's order): |grad R_n(theta_hat)|_inf <= 1e-10, A > 0,
    # |grad R_n + lambda grad_theta g|_inf <= 1e-10 (1 + lambda) at theta*; a contraction (rate < 1)
    x = np.random.default_rng(0).standard_normal((60, 2)) * [1.0, 0.5]
    model = make(hidden=2, draws=2, beta=0.1, **({"K": 4} if make is MLPFlowMatching else {"T": 5}))
    lam, N = 0.25, 256
    r = analyze_loss(model, x, lam, n_noise=N, seed=0)
    gen = as_generator(0)
    xp = model.prepare(torch.as_tensor(x), gen)
    z = model.bank(N, gen)
    th_hat, ts = torch.as_tensor(r.theta_hat), torch.as_tensor(r.theta_star)
    assert float(torch.func.grad(lambda t: model.loss(t, xp).mean())(th_hat).abs().max()) <= 1e-10
    y = model.sample(ts, z)
    F = torch.func.grad(lambda t: model.loss(t, xp).mean() + lam * model.loss(t, y).mean())(ts)
    assert float(F.abs().max()) <= 1e-10 * (1 + lam)
    assert np.linalg.eigvalsh(r.A)[0] > 0
    assert np.linalg.eigvalsh(r.A + lam * r.H)[0] > 0
    assert 0 < r.rate_exact < 1
    assert r.bias_loss >= -1e-12


def test_exported_from_stability_numerical():
    import stability.numerical as sn

    assert sn.MLPDDPM is MLPDDPM and sn.MLPFlowMatching is MLPFlowMatching


@pytest.mark.slow
def test_continuation_reaches_the_fixed_point_the_rounds_reach_from_theta_hat():
    # docs/theory.md §13: theta*_lambda is the fixed point on the branch from theta_hat. Independent check: the
    # expected operator itself (each round a full minimisation of R_n + lambda g(., theta_t) over the same bank,
    # warm-started), iterated from theta_hat, converges to it. 80 rounds at a rate r shrink the start's error by
    # r^80 (r ~ 0.5 here: far below the 1e-6 asserted); each round is solved to |grad| <= 1e-12.
    from stability.numerical.optim import newton

    x = np.random.default_rng(1).standard_normal((60, 2)) * [1.0, 0.5]
    model = MLPFlowMatching(hidden=2, K=4, draws=2, beta=0.1)
    lam, N = 2.0, 256
    r = analyze_loss(model, x, lam, n_noise=N, seed=0)
    assert "lambda path 0 -> 0.5 -> 1" in r.details["theta_star"]  # steps of at most 0.5 in lambda
    assert r.rate_exact < 0.9
    gen = as_generator(0)
    xp = model.prepare(torch.as_tensor(x), gen)
    z = model.bank(N, gen)
    th = torch.as_tensor(r.theta_hat)
    for _ in range(80):
        with torch.no_grad():
            y = model.sample(th, z)
        th = torch.as_tensor(
            newton(lambda t, y=y: -(model.loss(t, xp).mean() + lam * model.loss(t, y).mean()), th, 1e-12, 50).theta
        )
    np.testing.assert_allclose(th.numpy(), r.theta_star, atol=1e-6)
