"""Matrix-free curvature (Hessian-vector products, Lanczos, CG) against the dense path."""

import numpy as np
import pytest
from scipy import linalg, stats

from stability.jacobian import rate_exact
from stability.numerical.curvature import MatrixFreeCurvature, dense_curvature
from stability.numerical.models import GaussianMixture, ProductStudentT, StudentT
from stability.numerical.operator import Retraining

RNG = np.random.default_rng(7)


@pytest.mark.parametrize(
    "model, data",
    [
        (StudentT(3.0), stats.logistic(0.0, 1.0)),
        (GaussianMixture(1), np.concatenate([RNG.normal(-2, 1, 200), RNG.normal(2.5, 0.6, 150)])),
        # 20 parameters: LOBPCG iterates (scipy solves d < 5 x block size densely); Monte Carlo expectations
        (ProductStudentT(10), RNG.laplace(size=(600, 10))),
    ],
    ids=["student-t", "mixture-1d", "product-t-10d-monte-carlo"],
)
def test_matrix_free_agrees_with_dense(model, data):
    p = Retraining(model, data, n_mc=2000)
    A, B = dense_curvature(p)
    mf = MatrixFreeCurvature(p)
    g = mf.gamma_max()
    a = mf.alpha()
    assert g.converged and a.converged
    # both paths use the same weighted sums; the LOBPCG residual tolerance 1e-6 bounds the Ritz value's
    # error by residual^2 / gap ~ 1e-12 / gap, so rel 1e-7 holds for gaps above 1e-5
    assert g.value == pytest.approx(linalg.eigh(B, A, eigvals_only=True)[-1], rel=1e-7)
    assert a.value == pytest.approx(np.linalg.eigvalsh(A)[0], rel=1e-6, abs=1e-8)
    for lam in (0.3, 2.0):
        assert mf.rate_exact(lam) == pytest.approx(rate_exact(A, B, lam), rel=1e-7)
    v = RNG.standard_normal(A.shape[0])
    np.testing.assert_allclose(mf.A(v), A @ v, rtol=1e-10, atol=1e-12)  # same sums, rounding only
    np.testing.assert_allclose(mf.B(v), B @ v, rtol=1e-10, atol=1e-12)


def test_monte_carlo_route_is_reported_and_reproducible():
    data = RNG.normal(size=(300, 3))
    p1 = Retraining(ProductStudentT(3), data, n_mc=500, seed=5)
    p2 = Retraining(ProductStudentT(3), data, n_mc=500, seed=5)
    assert "Monte Carlo with common random numbers" in p1.expectations.method["model"]
    np.testing.assert_array_equal(p1.expectations.x_model.numpy(), p2.expectations.x_model.numpy())
    assert np.array_equal(p1.G(p1.theta_star + 0.01, 0.5).theta, p2.G(p2.theta_star + 0.01, 0.5).theta)
