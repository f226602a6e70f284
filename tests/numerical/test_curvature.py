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


def test_fisher_diagonal_matches_a_loop_over_points():
    # independent route: one autograd gradient per point in a Python loop (test only)
    import torch

    from stability.numerical.expectations import fisher_diagonal

    model = ProductStudentT(4)
    x = torch.as_tensor(RNG.laplace(size=(30, 4)))
    w = torch.as_tensor(RNG.dirichlet(np.ones(30)))
    th = torch.as_tensor(RNG.normal(size=8) * 0.3)
    ref = torch.zeros(8, dtype=torch.float64)
    for xi, wi in zip(x, w, strict=True):
        t = th.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model.log_prob(t, xi[None])[0], t)
        ref += wi * g * g
    # same arithmetic in a different order: rounding only
    np.testing.assert_allclose(fisher_diagonal(model, x, w, th).numpy(), ref.numpy(), rtol=1e-12)


def test_preconditioned_and_plain_lobpcg_agree():
    # 40 parameters, Monte Carlo model expectations: LOBPCG iterates with and without the Jacobi preconditioner
    p = Retraining(ProductStudentT(20), RNG.laplace(size=(400, 20)) * np.linspace(0.5, 2, 20), n_mc=1000)
    pre, plain = MatrixFreeCurvature(p), MatrixFreeCurvature(p, precondition=False)
    assert pre.precond is not None and plain.precond is None
    assert "Jacobi preconditioner" in pre.gamma_max().message and "no preconditioner" in plain.gamma_max().message
    A, B = dense_curvature(p)
    # residual tolerance 1e-6 -> Ritz value error ~ residual^2 / gap ~ 1e-12 / gap (see above)
    for mf in (pre, plain):
        assert mf.gamma_max().converged and mf.alpha().converged
        assert mf.gamma_max().value == pytest.approx(linalg.eigh(B, A, eigvals_only=True)[-1], rel=1e-7)
        assert mf.alpha().value == pytest.approx(np.linalg.eigvalsh(A)[0], rel=1e-7)
    b = RNG.standard_normal(A.shape[0])
    # CG relative residual 1e-10 times cond(A) (below 1e3 here) bounds the relative error
    np.testing.assert_allclose(pre.solve_A(b), np.linalg.solve(A, b), rtol=1e-6, atol=1e-9)


def test_model_that_cannot_be_vmapped_runs_unpreconditioned():
    import torch

    from stability.numerical.models import FunctionModel

    def log_prob(th, x):  # data-dependent Python control flow: fine for autograd, refused by vmap
        scale = 1.0 if bool((x > -1e300).all()) else 2.0
        return -0.5 * ((x[:, 0] - th[0]) * torch.exp(-th[1])) ** 2 * scale - th[1] - 0.5 * np.log(2 * np.pi)

    p = Retraining(FunctionModel(log_prob, [0.1, 0.2]), RNG.normal(1.0, 2.0, 500))
    mf = MatrixFreeCurvature(p)
    assert mf.precond is None and "per-sample gradients failed" in mf.precond_note
    A, _ = dense_curvature(p)
    assert mf.alpha().value == pytest.approx(np.linalg.eigvalsh(A)[0], rel=1e-7)  # dense solve for d = 2
