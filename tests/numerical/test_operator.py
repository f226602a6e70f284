"""G_lambda computed numerically: fixed point, implicit-function Jacobian, observed contraction, failures."""

import numpy as np
import pytest
import torch
from scipy import linalg, stats

from stability.jacobian import fixed_point_jacobian, rate_exact
from stability.numerical.curvature import dense_curvature
from stability.numerical.models import FunctionModel, GaussianMixture, Logistic, StudentT
from stability.numerical.operator import ConvergenceError, Retraining, maximize

RNG = np.random.default_rng(20240101)
BIMODAL = np.concatenate([RNG.normal(-2.0, 1.0, 300), RNG.normal(2.0, 0.7, 200)])
BIMODAL_2D = np.concatenate([RNG.normal(-2.0, 1.0, (150, 2)), RNG.normal(2.0, 0.7, (100, 2))])

CASES = {
    "student-t on a normal density": (StudentT(4.0), stats.norm(0.5, 2.0)),
    "logistic on a Laplace sample": (Logistic(), RNG.laplace(0.0, 1.0, 400)),
    "mixture 1-D on a bimodal sample": (GaussianMixture(1), BIMODAL),
    "mixture 2-D on a bimodal sample": (GaussianMixture(2), BIMODAL_2D),
}


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def problem(request):
    model, data = CASES[request.param]
    p = Retraining(model, data)
    A, B = dense_curvature(p)
    return p, A, B


def test_theta_star_is_a_fixed_point(problem):
    p, A, B = problem
    for lam in (0.5, 3.0):
        r = p.G(p.theta_star, lam)
        assert r.converged
        # the score integrates to zero under the quadrature rule up to its mass error (<= 1e-9)
        np.testing.assert_allclose(r.theta, p.theta_star, atol=1e-8)


def test_implicit_function_jacobian_matches_finite_differences(problem):
    p, A, B = problem
    lam, h = 0.7, 1e-4
    d = p.theta_star.size
    J_fd = np.empty((d, d))
    for j in range(d):
        e = np.zeros(d)
        e[j] = h
        plus = p.G(p.theta_star + e, lam, gtol=1e-12)
        minus = p.G(p.theta_star - e, lam, gtol=1e-12)
        assert plus.converged and minus.converged
        J_fd[:, j] = (plus.theta - minus.theta) / (2 * h)
    J = fixed_point_jacobian(A, B, lam)
    # central differences: truncation O(h^2 |G'''|) ~ 1e-8 and solver error gtol/(alpha h) ~ 1e-7
    # (alpha >= 0.1 on these models), so 1e-6 leaves a margin of 100
    np.testing.assert_allclose(J_fd, J, atol=1e-6)


def test_observed_contraction_matches_rate_exact(problem):
    p, A, B = problem
    lam = 1.5
    gammas, V = linalg.eigh(B, A)
    v = V[:, -1] / np.linalg.norm(V[:, -1])  # J v = rate_exact v
    delta = 1e-4
    path, results = p.iterate(p.theta_star + delta * v, lam, 4, gtol=1e-12)
    assert len(results) == 4 and all(r.converged for r in results)
    dist = np.linalg.norm(path - p.theta_star, axis=1)
    ratios = dist[1:] / dist[:-1]
    # G(theta* + delta v) = theta* + rho delta v + O(delta^2): the per-step ratio deviates from rho by
    # O(delta) = 1e-4 times the curvature of G (below 10 here); 5e-3 bounds that with margin
    np.testing.assert_allclose(ratios, rate_exact(A, B, lam), atol=5e-3)


def test_random_start_contracts_at_rate_exact_in_the_energy_norm(problem):
    p, A, B = problem
    lam = 1.0
    M = A + lam * B
    u = np.random.default_rng(3).standard_normal(p.theta_star.size)
    path, results = p.iterate(p.theta_star + 1e-4 * u / np.linalg.norm(u), lam, 3, gtol=1e-12)
    err = path - p.theta_star
    energy = np.sqrt(np.einsum("ti,ij,tj->t", err, M, err))
    # J is self-adjoint in <.,.>_M with norm rate_exact: every step shrinks by at most rate_exact
    # (plus the O(delta) = 1e-4 nonlinear term, bounded by 5e-3 as above)
    assert np.all(energy[1:] / energy[:-1] <= rate_exact(A, B, lam) + 5e-3)


def test_nan_likelihood_raises():
    bad = FunctionModel(lambda th, x: th[0] * x[:, 0] * torch.nan, [0.0])
    with pytest.raises(ConvergenceError, match="NaN"):
        Retraining(bad, np.array([0.0, 1.0, 2.0]))


def test_unbounded_likelihood_does_not_converge():
    # log p = theta x is not a density: the objective theta * mean(x) has no maximum
    unbounded = FunctionModel(lambda th, x: th[0] * x[:, 0], [0.0])
    with pytest.raises(ConvergenceError, match="did not converge"):
        Retraining(unbounded, np.array([1.0, 2.0, 3.0]))
    r = Retraining(unbounded, np.array([1.0, 2.0, 3.0]), allow_failure=True)
    assert not r.fit.converged


def test_iteration_budget_is_reported():
    r = maximize(lambda th: -((th - 3.0) ** 4).sum(), [0.0], max_iter=2)
    assert not r.converged and "no convergence in 2 iterations" in r.message


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"^data must have dimension 1"):
        Retraining(StudentT(), np.zeros((10, 2)))
    with pytest.raises(ValueError, match=r"^df must be a real number > 0"):
        StudentT(-1.0)
    p = Retraining(StudentT(), stats.norm())
    with pytest.raises(ValueError, match=r"^lambda_ must be >= 0"):
        p.G(p.theta_star, -0.5)
    with pytest.raises(ValueError, match=r"^theta must have shape \(2,\)"):
        p.G(np.zeros(3), 0.5)
    with pytest.raises(ValueError, match=r"^seed must be an int"):
        Retraining(GaussianMixture(1), BIMODAL, seed="x")


def test_large_d_fit_with_and_without_diagonal_scaling_agree():
    # 220 parameters > DENSE_MAX: the L-BFGS + Newton-CG path, with the empirical Fisher diagonal
    # (scaling and Jacobi preconditioner), without it, and with a diagonal that fails (ignored)
    from stability.numerical.expectations import build_expectations, fisher_diagonal
    from stability.numerical.models import ProductStudentT

    model = ProductStudentT(110)
    ex = build_expectations(model, RNG.laplace(size=(200, 110)) * np.linspace(0.5, 2.0, 110))

    def f(th):
        return ex.data_mean(model, th)

    x0 = model.initial_theta(ex.x_data.numpy(), ex.w_data.numpy())
    plain = maximize(f, x0)
    scaled = maximize(f, x0, diagonal=lambda th: fisher_diagonal(model, ex.x_data, ex.w_data, th))
    broken = maximize(f, x0, diagonal=lambda th: th[0] / 0.0 * torch.ones_like(th))  # infinite: must be ignored
    assert plain.converged and scaled.converged and broken.converged
    assert "diagonally preconditioned" in scaled.method
    assert "preconditioned" not in plain.method and "preconditioned" not in broken.method
    # both stop at |grad|_inf <= 1e-10; the maximiser's error is <= |A^{-1}| |grad|_2 <= sqrt(220) 1e-10 / alpha,
    # with alpha (the smallest curvature, ~ 1 / (2 s_max^2) ~ 0.1 here) -> ~1.5e-8; 1e-7 leaves margin
    np.testing.assert_allclose(scaled.theta, plain.theta, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(broken.theta, plain.theta)  # same path exactly when the diagonal is ignored


def test_large_d_retraining_step_is_unchanged_by_the_scaling():
    # G_lambda for 202 parameters (> DENSE_MAX: the L-BFGS path) with its Fisher-diagonal scaling against plain maximize
    from stability.numerical.models import ProductStudentT

    p = Retraining(ProductStudentT(101), RNG.laplace(size=(150, 101)), n_mc=200, seed=3)
    start = p.theta_star + 0.05 * RNG.standard_normal(202)
    for lam in (0.5, np.inf):
        r = p.G(start, lam)
        plain = maximize(p.objective(start, lam), start)
        assert r.converged and plain.converged and "diagonally preconditioned" in r.method
        # both at |grad|_inf <= 1e-10, curvature of the mixed objective >~ 0.1: see the test above
        np.testing.assert_allclose(r.theta, plain.theta, rtol=0, atol=1e-7)
