"""Laplace location-scale (a kink at x = mu): closed forms on Gaussian data, G_lambda's Jacobian, failures.

Closed forms for Laplace fitted to N(m, sigma^2), theta = (mu, log s): mu* = median = m,
s* = E|x - m| = sigma sqrt(2/pi); A = diag(2 q(m) / s*, 1) = diag(1/sigma^2, 1)
(d/dmu E[sign(x - mu)] = -2 q(mu); d/dlog s of E[|z|] = -E[|z|] = -1); Fisher information
B = diag(1/s*^2, Var_Laplace|z|) = diag(pi / (2 sigma^2), 1).
"""

import math

import numpy as np
import pytest
from scipy import linalg, stats

import stability
from stability.jacobian import fixed_point_jacobian, rate_exact
from stability.numerical.models import Laplace
from stability.numerical.nonsmooth import NonSmoothRetraining, curvature_nonsmooth

M, SIGMA = 0.3, 2.0


@pytest.fixture(scope="module")
def problem():
    p = NonSmoothRetraining(Laplace(), stats.norm(M, SIGMA))
    A, B, _ = curvature_nonsmooth(p)
    return p, A, B


def test_closed_forms(problem):
    p, A, B = problem
    # expected scores by a geometrically convergent rule (~1e-13); theta* to gtol = 1e-10
    np.testing.assert_allclose(p.theta_star, [M, math.log(SIGMA * math.sqrt(2 / math.pi))], atol=1e-9)
    # A by central differences of the expected score: truncation + rounding ~1e-8 (FD_STEP = 1e-5)
    np.testing.assert_allclose(A, np.diag([1 / SIGMA**2, 1.0]), atol=1e-7)
    np.testing.assert_allclose(B, np.diag([math.pi / (2 * SIGMA**2), 1.0]), atol=1e-9)


def test_analyze_reports_undefined_L():
    r = stability.analyze("laplace", stats.norm(M, SIGMA), 1.0)
    gamma = (math.pi / (2 * SIGMA**2)) * SIGMA**2  # B_mumu / A_mumu = pi/2
    assert r.rate_exact == pytest.approx(gamma / (1 + gamma), abs=1e-7)
    assert math.isnan(r.L) and math.isnan(r.rate_paper) and "not twice differentiable" in r.details["L"]


def test_jacobian_and_contraction(problem):
    p, A, B = problem
    lam, h = 0.8, 1e-5
    assert np.allclose(p.G(p.theta_star, lam).theta, p.theta_star, atol=1e-9)
    cols = []
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        plus, minus = p.G(p.theta_star + e, lam, gtol=1e-12), p.G(p.theta_star - e, lam, gtol=1e-12)
        assert plus.converged and minus.converged
        cols.append((plus.theta - minus.theta) / (2 * h))
    # G is C^1 but not C^2 at theta* (E_{p_theta}[score_theta'] has a second-derivative jump where
    # mu' = mu: the two kinks meet), so central differences err by O(h) ~ 0.03 h = 3e-7 (measured
    # 3.4e-6 at h = 1e-4); solver error gtol / (alpha h) = 4e-7 with alpha = 0.25: 2e-6 covers both
    np.testing.assert_allclose(np.array(cols).T, fixed_point_jacobian(A, B, lam), atol=2e-6)
    v = linalg.eigh(B, A)[1][:, -1]
    path, _ = p.iterate(p.theta_star + 1e-4 * v / np.linalg.norm(v), lam, 3, gtol=1e-12)
    ratios = np.linalg.norm(path[1:] - p.theta_star, axis=1) / np.linalg.norm(path[:-1] - p.theta_star, axis=1)
    np.testing.assert_allclose(ratios, rate_exact(A, B, lam), atol=5e-3)  # O(delta) nonlinearity, as for smooth models


def test_sample_data_raises():
    with pytest.raises(ValueError, match=r"^data must be a density"):
        stability.analyze("laplace", np.random.default_rng(0).normal(size=100), 0.5)
