"""alpha, L and eps of numerical models, the Kantorovich-Rubinstein step, and analyze() integration."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

import stability
from stability.numerical.constants import lipschitz, local_constants, wasserstein
from stability.numerical.models import FunctionModel, Gaussian, GaussianMixture, Logistic, StudentT
from stability.numerical.operator import Retraining

RNG = np.random.default_rng(11)
BIMODAL = np.concatenate([RNG.normal(-2.0, 1.0, 300), RNG.normal(2.0, 0.7, 200)])
BIMODAL_2D = np.concatenate([RNG.normal(-2.0, 1.0, (150, 2)), RNG.normal(2.0, 0.7, (100, 2))])

MODELS = {
    "student-t/normal density": (StudentT(4.0), stats.norm(0.0, 1.5)),
    "student-t/laplace sample": (StudentT(2.5), RNG.laplace(1.0, 0.5, 500)),
    "logistic/t density": (Logistic(), stats.t(3)),
    "mixture-1d/sample": (GaussianMixture(1), BIMODAL),
    "mixture-2d/sample": (GaussianMixture(2), BIMODAL_2D),
    "gaussian-natural/gamma density": (Gaussian(), stats.gamma(3.0)),
}


@pytest.fixture(scope="module", params=list(MODELS), ids=list(MODELS))
def constants(request):
    model, data = MODELS[request.param]
    return local_constants(model, data)


def test_kantorovich_rubinstein_step_holds(constants):
    """||A - B||_2 <= L W1 (docs/theory.md §4): a failure would be a bug in L or eps."""
    c = constants
    gap = np.linalg.norm(c.A - c.B, 2)
    # A and B are sums of ~1e3-1e4 terms: rounding up to 1e-12 ||A|| (matters only when L W1 = 0)
    assert gap <= c.L * c.eps + 1e-12 * np.linalg.norm(c.A, 2)


def test_constants_are_reported_with_their_method(constants):
    c = constants
    assert c.alpha == pytest.approx(np.linalg.eigvalsh(c.A)[0], rel=1e-12)
    for key in ("L", "eps", "expectations", "theta_star", "fisher"):
        assert c.details[key]
    assert math.isfinite(c.L) and math.isfinite(c.eps)


def test_report_orders_rates(constants):
    r = stability.build_report(constants, 0.2)
    # docs/theory.md §4 ordering, up to rounding of eigen-solvers (1e-12)
    assert r.rate_exact <= r.norm2 + 1e-12
    if np.isfinite(r.rate_sharp):
        assert r.norm2 <= r.rate_sharp + 1e-12
        assert r.rate_sharp <= r.rate_paper + 1e-12 or not np.isfinite(r.rate_paper)


def test_w1_matches_an_independent_quadrature():
    # Gaussian (natural parameters) fitted to a logistic density: moment matching gives N(0, pi^2/3);
    # W1 = int |F_norm - F_logistic| dx by adaptive quadrature (scipy.integrate.quad)
    p = Retraining(Gaussian(), stats.logistic())
    eps, how = wasserstein(p)
    sd = math.pi / math.sqrt(3)
    ref, err = integrate.quad(
        lambda x: abs(stats.norm.cdf(x, 0, sd) - stats.logistic.cdf(x)), -60, 60, points=[0], limit=200
    )
    # the fine trapezoidal rule resolves the kinks of |F - G| to O(h^2 s) with h = 0.02/32: ~1e-7
    assert eps == pytest.approx(ref, abs=1e-5)
    assert "1-D" in how


def test_w1_of_a_sample_matches_scipy():
    # sample data: W1(model, empirical measure); reference: scipy's exact 1-D W1 between the sample
    # and a 2e5-point inverse-CDF discretisation of the fitted Student-t (error ~ 1/2e5 * spread)
    x = RNG.normal(size=300)
    p = Retraining(StudentT(5.0), x)
    eps, _ = wasserstein(p)
    mu, s = p.theta_star[0], math.exp(p.theta_star[1])
    q = stats.t.ppf((np.arange(200_000) + 0.5) / 200_000, 5.0) * s + mu
    assert eps == pytest.approx(stats.wasserstein_distance(x, q), abs=2e-4)


def test_lipschitz_against_finite_differences_of_the_hessian():
    # a different route: slopes ||H(x_{i+1}) - H(x_i)|| / dx on a fine grid (torch.func.hessian only)
    p = Retraining(StudentT(3.0), stats.norm())
    L, how = lipschitz(p)
    th = torch.as_tensor(p.theta_star)
    xs = np.linspace(-12, 12, 24001)
    H = torch.vmap(torch.func.hessian(lambda t, x: p.model.log_prob(t, x[None, None])[0]), in_dims=(None, 0))(
        th, torch.as_tensor(xs)
    ).numpy()
    slopes = np.linalg.norm(np.diff(H, axis=0), 2, axis=(1, 2)) / np.diff(xs)
    # the maximum slope over cells of width 1e-3 is within O(width^2 * |d^3 H|) ~ 1e-6 (relative) of
    # the maximum of ||dH/dx||, which the refined grid locates to the same order
    assert L == pytest.approx(slopes.max(), rel=1e-5)
    assert "grid" in how


def test_analyze_by_registered_name():
    r = stability.analyze("student-t", stats.norm(), 0.5, df=4.0)
    assert r.model == "student-t" and 0 < r.rate_exact < 0.5 + 1e-12
    r2 = stability.analyze("gaussian-mixture", BIMODAL, 0.5, dim=1)
    assert r2.theta_star.shape == (5,) and r2.details["L"].startswith("max over")


def test_non_identifiable_model_raises():
    # N(x; theta_0 + theta_1, 1): only the sum is identifiable, so A is singular
    model = FunctionModel(lambda th, x: -0.5 * (x[:, 0] - th[0] - th[1]) ** 2 - 0.5 * math.log(2 * math.pi), [0.0, 0.0])
    with pytest.raises(ValueError, match=r"^A must be positive definite at theta\*"):
        local_constants(model, stats.norm(1.0))


def test_user_defined_model_from_a_plain_function():
    # Gaussian location-scale written by a user, theta = (mu, log sigma), fitted to a t(5) density:
    # theta* = (0, log sqrt(5/3)) (moment matching) and A = B = diag(1/sigma^2, 2) (Fisher information
    # of N(mu, sigma^2) in (mu, log sigma); A's off-diagonal E[2 (x - mu)] / sigma^2 vanishes at the mean)
    def log_prob(theta, x):
        z = (x[:, 0] - theta[0]) * torch.exp(-theta[1])
        return -0.5 * z**2 - theta[1] - 0.5 * math.log(2 * math.pi)

    model = FunctionModel(log_prob, [0.5, 0.0], name="my-gaussian")
    r = stability.analyze(model, stats.t(5), 1.0)
    var = 5 / 3
    # quadrature of the t(5) density: mass error <= 1e-9, so rtol 1e-7 with margin
    np.testing.assert_allclose(r.theta_star, [0.0, 0.5 * math.log(var)], atol=1e-8)
    np.testing.assert_allclose(r.A, np.diag([1 / var, 2.0]), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(r.B, np.diag([1 / var, 2.0]), rtol=1e-7, atol=1e-9)
    assert r.model == "my-gaussian" and r.rate_exact == pytest.approx(0.5, abs=1e-7)


def test_torch_distribution_data_matches_scipy():
    # the same density given as torch and as scipy; the torch grid is centred from a fixed-seed sample
    # (no quantile function), the scipy one from quantiles: both rules are exact to their mass error
    # (<= 1e-9), hence rtol 1e-8 (atol 1e-12 for the zero location, rounding)
    from_torch = local_constants(Gaussian(), torch.distributions.StudentT(torch.tensor(6.0, dtype=torch.float64)))
    from_scipy = local_constants(Gaussian(), stats.t(6))
    np.testing.assert_allclose(from_torch.theta_star, from_scipy.theta_star, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(from_torch.A, from_scipy.A, rtol=1e-8, atol=1e-12)
    assert from_torch.eps == pytest.approx(from_scipy.eps, rel=1e-6)
