"""The linear DDPM anchor (docs/theory.md §13): closed forms against published numbers, Monte Carlo
and autograd."""

import numpy as np
import pytest
import torch

from stability.numerical.linear_ddpm import (
    linear_ddpm_fixed_point,
    linear_ddpm_loss,
    linear_ddpm_moment_map,
    linear_ddpm_noise_dim,
    linear_ddpm_optimal_params,
    linear_ddpm_sample,
    linear_ddpm_sampler_moments,
    validate_betas,
)

BETAS = np.linspace(1e-3, 0.3, 10)
M_HAT, V_HAT = 0.3, 1.7


@pytest.mark.parametrize(
    "lam, moments, sampler, rate",
    [
        (1.0, (0.2370, 1.6108), (0.1740, 1.5137), (0.3533, 0.4153)),
        (4.0, (0.1510, 1.4564), None, (0.5921, 0.6685)),
    ],
)
def test_fixed_point_reproduces_reference_numbers(lam, moments, sampler, rate):
    # reference values computed independently (docs/theory.md §13), printed to 4 digits: half a unit
    # of the last digit is the tolerance
    fp = linear_ddpm_fixed_point(lam, M_HAT, V_HAT, BETAS)
    assert (fp.m, fp.v) == pytest.approx(moments, abs=5e-5)
    if sampler is not None:
        assert (fp.sampler_mean, fp.sampler_var) == pytest.approx(sampler, abs=5e-5)
    assert tuple(fp.rate) == pytest.approx(rate, abs=5e-5)
    assert fp.spectral_radius == pytest.approx(max(rate), abs=5e-5)
    # biased, yet contracting faster than the likelihood rate lambda/(1+lambda)
    assert fp.spectral_radius < lam / (1 + lam)
    # theta*_lambda is the loss minimiser for the fixed-point moments, and the map is at rest there
    np.testing.assert_allclose(fp.theta, linear_ddpm_optimal_params(fp.m, fp.v, BETAS), rtol=1e-14)
    np.testing.assert_allclose(linear_ddpm_moment_map(fp.m, fp.v, lam, M_HAT, V_HAT, BETAS), (fp.m, fp.v), rtol=1e-12)
    assert (fp.sampler_mean, fp.sampler_var) == pytest.approx(linear_ddpm_sampler_moments(fp.theta, BETAS), rel=1e-14)


def test_lambda_zero_is_the_data_and_lambda_inf_the_sampler():
    fp = linear_ddpm_fixed_point(0.0, M_HAT, V_HAT, BETAS)
    assert (fp.m, fp.v) == (M_HAT, V_HAT)
    np.testing.assert_array_equal(fp.rate, 0.0)
    inf = linear_ddpm_fixed_point(np.inf, M_HAT, V_HAT, BETAS)
    # purely synthetic: the training moments are the sampler's own
    assert (inf.m, inf.v) == pytest.approx((inf.sampler_mean, inf.sampler_var), rel=1e-12, abs=1e-12)
    assert inf.spectral_radius < 1


def test_moment_map_jacobian_matches_finite_differences():
    fp = linear_ddpm_fixed_point(0.7, M_HAT, V_HAT, BETAS)
    h = 1e-6  # central differences: error O(h^2) ~ 1e-12 times the third derivative, rounding ~ 1e-16/h
    cols = []
    for e in np.eye(2):
        plus = linear_ddpm_moment_map(fp.m + h * e[0], fp.v + h * e[1], 0.7, M_HAT, V_HAT, BETAS)
        minus = linear_ddpm_moment_map(fp.m - h * e[0], fp.v - h * e[1], 0.7, M_HAT, V_HAT, BETAS)
        cols.append((np.array(plus) - np.array(minus)) / (2 * h))
    np.testing.assert_allclose(fp.jacobian, np.column_stack(cols), atol=1e-8)


def test_moment_map_is_the_mixture_of_real_and_sampled_points():
    # independent of the closed form: fit, sample with the torch sampler, pool with real points drawn
    # from N(m_hat, v_hat) at the ratio lambda, take the pooled moments
    lam, m, v = 1.5, 0.1, 1.2
    n = 200_000
    gen = torch.Generator().manual_seed(3)
    theta = torch.as_tensor(linear_ddpm_optimal_params(m, v, BETAS))
    y = linear_ddpm_sample(theta, torch.randn(int(lam * n), 11, generator=gen, dtype=torch.float64), BETAS)[:, 0]
    x = M_HAT + np.sqrt(V_HAT) * torch.randn(n, generator=gen, dtype=torch.float64)
    pooled = torch.cat([x, y])
    mp, vp = linear_ddpm_moment_map(m, v, lam, M_HAT, V_HAT, BETAS)
    N = pooled.numel()
    # SE of the pooled mean <= sqrt(v'/N); of the variance (near-Gaussian pieces) <= v' sqrt(3/N); 5 SE
    assert float(pooled.mean()) == pytest.approx(mp, abs=5 * np.sqrt(vp / N))
    assert float(pooled.var()) == pytest.approx(vp, abs=5 * vp * np.sqrt(3 / N))


def test_torch_loss_matches_monte_carlo_over_the_noise():
    gen = torch.Generator().manual_seed(0)
    T = BETAS.size
    theta = torch.randn(2 * T, generator=gen, dtype=torch.float64)
    x = torch.tensor([-1.3, 0.0, 0.4, 2.2], dtype=torch.float64)
    ab = torch.as_tensor(np.cumprod(1 - BETAS))
    eps = torch.randn(100_000, x.numel(), T, generator=gen, dtype=torch.float64)
    xt = ab.sqrt() * x[None, :, None] + (1 - ab).sqrt() * eps
    per_draw = ((theta[:T] * xt + theta[T:] - eps) ** 2).sum(-1)  # (draws, points)
    mc, se = per_draw.mean(0), per_draw.std(0) / np.sqrt(per_draw.shape[0])
    exact = linear_ddpm_loss(theta, x, BETAS)
    assert exact.shape == (4,)
    assert torch.all((exact - mc).abs() < 5 * se), (exact, mc, se)  # 5 standard errors
    torch.testing.assert_close(linear_ddpm_loss(theta, x[:, None], BETAS), exact)


def test_torch_sampler_moments_match_the_recursion():
    gen = torch.Generator().manual_seed(1)
    T = BETAS.size
    assert linear_ddpm_noise_dim(T) == T + 1
    # an arbitrary (not fitted) parameter, and the fitted one
    for theta in (
        0.3 * torch.randn(2 * T, generator=gen, dtype=torch.float64),
        torch.as_tensor(linear_ddpm_optimal_params(-0.5, 2.0, BETAS)),
    ):
        N = 200_000
        y = linear_ddpm_sample(theta, torch.randn(N, T + 1, generator=gen, dtype=torch.float64), BETAS)
        assert y.shape == (N, 1)
        mean, var = linear_ddpm_sampler_moments(theta.numpy(), BETAS)
        # Gaussian output: SE of the mean sqrt(var/N), of the sample variance var sqrt(2/(N-1)); 5 SE
        assert float(y.mean()) == pytest.approx(mean, abs=5 * np.sqrt(var / N))
        assert float(y.var()) == pytest.approx(var, abs=5 * var * np.sqrt(2 / (N - 1)))


def test_sampler_layout_last_step_adds_no_noise():
    # z[:, 1] is the noise of the step x_1 -> x_0, where sigma_1 = 0: changing it changes nothing;
    # z[:, 0] is the start x_T, and z[:, T] the first step's noise
    T = BETAS.size
    theta = torch.as_tensor(linear_ddpm_optimal_params(0.2, 1.0, BETAS))
    z = torch.randn(5, T + 1, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    base = linear_ddpm_sample(theta, z, BETAS)
    for col, changes in ((1, False), (0, True), (T, True)):
        z2 = z.clone()
        z2[:, col] += 1.0
        assert bool((linear_ddpm_sample(theta, z2, BETAS) != base).any()) is changes


def test_optimal_params_minimise_the_expected_loss():
    # E over x ~ N(m, v) by Gauss-Hermite quadrature (exact: the loss is quadratic in x), through the
    # torch per-point loss; its autograd gradient vanishes at the closed-form minimiser
    m, v = 0.4, 2.3
    nodes, weights = np.polynomial.hermite_e.hermegauss(5)
    x = torch.as_tensor(m + np.sqrt(v) * nodes)
    w = torch.as_tensor(weights / weights.sum())

    def risk(theta):
        return (w * linear_ddpm_loss(theta, x, BETAS)).sum()

    theta = torch.as_tensor(linear_ddpm_optimal_params(m, v, BETAS)).requires_grad_(True)
    (grad,) = torch.autograd.grad(risk(theta), theta)
    assert float(grad.abs().max()) < 1e-12  # entries O(1): rounding only
    # strictly convex: any perturbation raises the risk
    gen = torch.Generator().manual_seed(4)
    for _ in range(5):
        d = 1e-3 * torch.randn(theta.numel(), generator=gen, dtype=torch.float64)
        assert float(risk(theta.detach() + d)) > float(risk(theta.detach()))


def test_torch_functions_vmap_and_differentiate():
    # the general loss code vmaps over chains and differentiates through the sampler
    T = BETAS.size
    thetas = torch.stack([torch.as_tensor(linear_ddpm_optimal_params(m, 1.0, BETAS)) for m in (0.0, 0.5, 1.0)])
    z = torch.randn(7, T + 1, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    out = torch.func.vmap(lambda th: linear_ddpm_sample(th, z, BETAS))(thetas)
    assert out.shape == (3, 7, 1)
    torch.testing.assert_close(out[1], linear_ddpm_sample(thetas[1], z, BETAS))
    jac = torch.func.jacrev(lambda th: linear_ddpm_loss(th, out[0, :, 0], BETAS).sum())(thetas[0])
    assert jac.shape == (2 * T,)


def test_validate_betas():
    np.testing.assert_array_equal(validate_betas(torch.tensor([0.1, 0.5], dtype=torch.float64)), [0.1, 0.5])
    with pytest.raises(ValueError, match=r"betas must be in \(0, 1\), got 0.0"):
        validate_betas([0.0, 0.1])
    with pytest.raises(ValueError, match="theta must have shape"):
        linear_ddpm_loss(torch.zeros(3, dtype=torch.float64), torch.zeros(2, dtype=torch.float64), BETAS)
    with pytest.raises(ValueError, match=r"z must have shape \(N, T \+ 1\)"):
        linear_ddpm_sample(torch.zeros(20, dtype=torch.float64), torch.zeros(2, 10, dtype=torch.float64), BETAS)


@pytest.mark.parametrize("lam", [0.5, 4.0, 1000.0, np.inf])
def test_fixed_point_is_where_retraining_goes_from_the_real_data(lam):
    # the map may have other fixed points (a collapsed one near v = 0 for large lambda): the one
    # returned is the limit of the rounds themselves, iterated here from (m_hat, v_hat)
    p = (M_HAT, V_HAT)
    for _ in range(3000):  # rate <= 0.9 here: 0.9^3000 is far below rounding
        p = linear_ddpm_moment_map(*p, lam, M_HAT, V_HAT, BETAS)
    fp = linear_ddpm_fixed_point(lam, M_HAT, V_HAT, BETAS)
    assert (fp.m, fp.v) == pytest.approx(p, abs=1e-12)
    assert fp.spectral_radius < 0.9
