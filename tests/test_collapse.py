"""Gaussian warm-up constants (docs/theory.md §6) against mpmath and Monte Carlo."""

import math

import mpmath
import numpy as np
import pytest
from scipy import stats

from stability import c4, expected_sigma, expected_variance, log_det_drift


@pytest.mark.parametrize("n", [2, 3, 5, 10, 40, 41, 42, 100, 10_000, 10**7, 10**12])
def test_c4_against_mpmath(n):
    # Reference: mpmath at 50 digits, c4 = sqrt(2/(n-1)) Gamma(n/2) / Gamma((n-1)/2)
    mpmath.mp.dps = 50
    ref = mpmath.sqrt(mpmath.mpf(2) / (n - 1)) * mpmath.gamma(mpmath.mpf(n) / 2) / mpmath.gamma(mpmath.mpf(n - 1) / 2)
    # log-gamma (x < 20) or a Stirling series truncated below 1e-16 (x >= 20), then exp:
    # a few ulps of error, so 1e-14 relative leaves a margin of ~50x
    assert c4(n) == pytest.approx(float(ref), rel=1e-14)
    assert c4(n) < 1


def test_c4_closed_form_at_two_and_asymptotics():
    assert c4(2) == pytest.approx(math.sqrt(2 / math.pi), rel=1e-15)
    n = np.array([100.0, 1000.0, 10000.0])
    # c4(n) = 1 - 1/(4n) - 7/(32 n^2) + O(n^-3)
    assert np.allclose(c4(n), 1 - 1 / (4 * n) - 7 / (32 * n**2), rtol=0, atol=1 / n**3)


@pytest.mark.parametrize("estimator", ["unbiased", "mle"])
def test_expected_sigma_and_variance_by_monte_carlo(estimator):
    """Simulate sigma_t^2 = prod chi2_{n-1} / (n-1 or n) directly (independent of the formulas)."""
    rng = np.random.default_rng(12345)
    n, t, m = 5, 4, 400_000
    denom = n - 1 if estimator == "unbiased" else n
    s2 = np.prod(rng.chisquare(n - 1, size=(m, t)) / denom, axis=1)
    s = np.sqrt(s2)
    # 5 standard errors: a false alarm has probability < 1e-6
    assert abs(s.mean() - expected_sigma(t, n, estimator=estimator)) < 5 * s.std() / math.sqrt(m)
    assert abs(s2.mean() - expected_variance(t, n, estimator=estimator)) < 5 * s2.std() / math.sqrt(m)


def test_expected_sigma_scales_with_sigma0_and_limits():
    assert expected_sigma(3, 10, sigma0=2.0) == pytest.approx(2 * c4(10) ** 3)
    assert expected_sigma(0, 10, sigma0=2.0) == 2.0
    assert expected_variance(math.inf, 10, estimator="mle") == 0.0
    assert expected_sigma(np.arange(3), 4).shape == (3,)


@pytest.mark.parametrize("d,n", [(1, 3), (2, 5), (3, 20), (5, 6)])
def test_log_det_drift_by_monte_carlo(d, n):
    rng = np.random.default_rng(7)
    m = 200_000
    w = stats.wishart(df=n - 1, scale=np.eye(d)).rvs(size=m, random_state=rng).reshape(m, d, d)
    logdet = np.linalg.slogdet(w / (n - 1))[1]
    assert abs(logdet.mean() - log_det_drift(n, d)) < 5 * logdet.std() / math.sqrt(m)
    assert log_det_drift(n, d) < 0
    assert log_det_drift(n, d, estimator="mle") == pytest.approx(log_det_drift(n, d) - d * math.log(n / (n - 1)))


def test_log_det_drift_negative_on_a_range():
    n = np.arange(2, 500)
    assert np.all(log_det_drift(n, 1) < 0)
    assert np.all(log_det_drift(n[n >= 11], 10) < 0)


def test_invalid_inputs():
    with pytest.raises(ValueError, match=r"^n must be an integer >= 2, got 1.0"):
        c4(1)
    with pytest.raises(ValueError, match=r"^n must be an integer >= 2, got 2.5"):
        c4(2.5)
    with pytest.raises(ValueError, match=r"^n must be >= d \+ 1"):
        log_det_drift(3, 3)
    with pytest.raises(ValueError, match=r"^estimator must be one of"):
        expected_sigma(1, 3, estimator="biased")
    with pytest.raises(ValueError, match=r"^sigma0 must be > 0"):
        expected_sigma(1, 3, sigma0=0.0)
