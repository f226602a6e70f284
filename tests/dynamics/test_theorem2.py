"""Theorem 2 (Bertrand et al. 2024) against exact simulation of the known-variance Gaussian."""

import numpy as np
import pytest
from scipy.stats import chi2

from stability import finite_sample_bound
from stability.dynamics import gaussian_stat_err, theorem2_check

Z = 5.0  # Monte Carlo standard errors allowed for a binomial frequency (fixed seeds)


def test_stat_err_closed_form():
    """a(delta)/sqrt(n) = sigma sqrt(((1-w)^2/n + w^2/k) chi2_{d,1-delta}); here w = 1/3, k = 50."""
    e = gaussian_stat_err(n=100, lambda_=0.5, delta=0.1, dim=3, sigma=2.0)
    w = 50 / 150
    assert e == pytest.approx(2.0 * np.sqrt(((1 - w) ** 2 / 100 + w**2 / 50) * chi2.ppf(0.9, 3)), rel=1e-14)


@pytest.mark.parametrize("scheme", ["fixed-real", "fresh-real"])
def test_one_step_error_exceeds_stat_err_with_probability_delta(scheme):
    """From theta_0 = theta* the bound at t = 1 is exactly stat_err, so violations have frequency delta."""
    delta, C = 0.1, 40000
    c = theorem2_check(n=40, lambda_=0.3, delta=delta, generations=1, chains=C, dim=2, init_err=0.0, scheme=scheme)
    assert c.bound[1] == pytest.approx(c.stat_err, rel=1e-14)
    assert abs(c.violation[1] - delta) < Z * np.sqrt(delta * (1 - delta) / C)


@pytest.mark.parametrize("scheme", ["fixed-real", "fresh-real"])
@pytest.mark.parametrize("lambda_", [0.1, 0.3, 0.44])  # lambda n integer: k/n = lambda
def test_violation_frequency_within_theorem(scheme, lambda_):
    c = theorem2_check(n=50, lambda_=lambda_, delta=0.05, generations=25, chains=20000, dim=3, scheme=scheme, seed=4)
    assert c.holds, (c.violation, c.allowed)
    t = np.arange(26)
    np.testing.assert_allclose(c.bound, finite_sample_bound(t, lambda_, 0.0, c.stat_err, 1.0), rtol=1e-14)
    assert c.rho == pytest.approx(lambda_ / (1 - lambda_), rel=1e-12)  # rho_paper(lambda, 0)


def test_too_small_statistical_term_is_caught():
    """Planted error: a(delta) from the real-sample term alone, (1-w)^2/n, ignoring the synthetic noise."""
    n, lam, delta, d = 50, 0.1, 0.05, 3
    k = 5
    w = k / (n + k)
    wrong = np.sqrt((1 - w) ** 2 / n * chi2.ppf(1 - delta, d))
    kw = dict(n=n, lambda_=lam, delta=delta, generations=5, chains=20000, dim=d, init_err=0.0, seed=1)
    assert theorem2_check(**kw).holds
    c = theorem2_check(**kw, stat_err=wrong)
    assert not c.holds


def test_bad_input():
    with pytest.raises(ValueError, match=r"Theorem 2 needs rho_paper < 1"):
        theorem2_check(n=10, lambda_=0.5, delta=0.1, generations=2, chains=2)
    with pytest.raises(ValueError, match="lambda_ must be finite"):
        gaussian_stat_err(n=10, lambda_=float("inf"), delta=0.1)
    with pytest.raises(ValueError, match=r"delta must be in \(0, 1\)"):
        theorem2_check(n=10, lambda_=0.1, delta=1.0, generations=2, chains=2)
    with pytest.raises(ValueError, match="scheme must be one of"):
        theorem2_check(n=10, lambda_=0.1, delta=0.1, generations=2, chains=2, scheme="replace")
