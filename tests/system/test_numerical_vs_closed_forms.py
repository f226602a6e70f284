"""Cross-check: the numerical route against the closed forms of ``stability.families`` (another module).

The same data, the same lambda: ``analyze("<family>")`` (closed forms) and
``analyze("<family>-numerical")`` (torch log-density, quadrature, Newton, autograd Hessians).
Bernoulli, Poisson, exponential and gamma use the same natural parameters in both, so theta*, A and B
are compared directly; the Gaussian and categorical ones are parametrised differently, so the
parametrisation-free quantities are compared (generalised spectrum, exact rate, W1).
"""

import numpy as np
import pytest
from scipy import stats

import stability

LABELS = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
CASES = {
    "gaussian": (stats.t(6, loc=0.5), {}, False),
    "bernoulli": (stats.bernoulli(0.3), {}, True),
    "categorical": (LABELS, {"k": 3}, False),
    "poisson": (stats.nbinom(5, 0.4), {}, True),
    "exponential": (stats.gamma(2.0, scale=1.5), {}, True),
    "gamma": (stats.lognorm(0.5, scale=np.exp(0.2)), {}, True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_numerical_matches_closed_form(name):
    data, options, same_parameters = CASES[name]
    closed = stability.analyze(name, data, 0.7, **options)
    numeric = stability.analyze(
        f"{name}-numerical", data.astype(float) if name == "categorical" else data, 0.7, **options
    )
    if same_parameters:
        # quadrature mass error <= 1e-9 (MASS_TOL) moves theta*, A, B by about that, relatively
        np.testing.assert_allclose(numeric.theta_star, closed.theta_star, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(numeric.A, closed.A, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(numeric.B, closed.B, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(numeric.gammas, closed.gammas, rtol=1e-7)  # A = B: all ones up to rounding
    assert numeric.rate_exact == pytest.approx(closed.rate_exact, abs=1e-10)
    # W1: the numerical route's trapezoidal rule has O(h^2) errors where the two CDFs cross
    # (h = 0.02/32; measured <= 2e-7 relative against scipy.integrate.quad)
    assert numeric.eps == pytest.approx(closed.eps, rel=1e-6, abs=1e-12)
