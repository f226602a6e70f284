"""The numerical route on exponential families reproduces the closed forms (docs/theory.md §3).

In natural parameters: theta* solves moment matching grad A(theta*) = E_data[T(x)], the curvature is
A = B = grad^2 A(theta*), J = lambda/(1+lambda) I for any data, and in mean parameters one step of
G_lambda is mu' = (E_data[T] + lambda mu)/(1+lambda). Reference values below come from the data
distribution's moments (scipy) and the textbook log-partition functions, not from the code under test.
"""

import math

import numpy as np
import pytest
import torch
from scipy import optimize, special, stats

import stability
from stability.numerical.models import Bernoulli, Categorical, Exponential, Gamma, Gaussian, Poisson
from stability.numerical.operator import Retraining

LABELS = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2], dtype=float)  # frequencies 0.3, 0.2, 0.5


def _gamma_theta(mean_log, mean):
    # solve psi(a) - log(a / mean) = E[log x] for the shape a, then b = a / mean
    a = optimize.brentq(lambda a: special.digamma(a) - math.log(a / mean) - mean_log, 1e-6, 1e6, xtol=1e-14)
    return a, a / mean


def _closed_forms():
    """name -> (model, data, theta*, grad^2 A(theta*))."""
    out = {}
    t6 = stats.t(6, loc=0.5)  # mean 0.5, variance 6/4
    m, v = 0.5, 1.5
    # natural (eta, Lambda) = (m / v, 1 / v), T = (x, -x^2/2): Cov(x, -x^2/2) = -m v, Var(x^2/2) = m^2 v + v^2/2
    hess = np.array([[v, -m * v], [-m * v, m * m * v + 0.5 * v * v]])
    out["gaussian on a t density"] = (Gaussian(), t6, np.array([m / v, 1 / v]), hess)
    out["bernoulli on a bernoulli pmf"] = (Bernoulli(), stats.bernoulli(0.3), np.array([math.log(0.3 / 0.7)]), [[0.21]])
    p = np.array([0.3, 0.2, 0.5])
    out["categorical on labels"] = (  # natural theta_j = log(p_j / p_0), T_j = 1{x = j}, j = 1, 2
        Categorical(3),
        LABELS,
        np.log(p[1:] / p[0]),
        np.diag(p[1:]) - np.outer(p[1:], p[1:]),
    )
    nb = stats.nbinom(5, 0.4)  # mean 7.5: a misspecified Poisson
    out["poisson on a negative binomial pmf"] = (Poisson(), nb, np.array([math.log(nb.mean())]), [[nb.mean()]])
    g2 = stats.gamma(2.0, scale=1.5)  # mean 3
    out["exponential on a gamma density"] = (Exponential(), g2, np.array([-1 / 3.0]), [[9.0]])
    ln = stats.lognorm(0.5, scale=math.exp(0.2))  # E log x = 0.2, E x = exp(0.2 + 0.125)
    a, b = _gamma_theta(0.2, math.exp(0.325))
    out["gamma on a lognormal density"] = (
        Gamma(),
        ln,
        np.array([a - 1, -b]),
        np.array([[special.polygamma(1, a), 1 / b], [1 / b, a / b**2]]),
    )
    return out


CASES = _closed_forms()


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def case(request):
    model, data, theta, hess = CASES[request.param]
    return model, data, theta, np.asarray(hess, dtype=float), stability.numerical.local_constants(model, data)


def test_theta_star_is_moment_matching(case):
    model, data, theta, hess, c = case
    # quadrature rules are accurate to their mass error (<= 1e-9, MASS_TOL), which moves theta*
    # by about that much times the condition number of grad^2 A (below 1e3 here)
    np.testing.assert_allclose(c.theta_star, theta, rtol=1e-6, atol=1e-9)


def test_curvature_is_the_log_partition_hessian(case):
    model, data, theta, hess, c = case
    np.testing.assert_allclose(c.A, hess, rtol=1e-6, atol=1e-9)  # as above
    np.testing.assert_allclose(c.B, hess, rtol=1e-6, atol=1e-9)
    assert c.L == 0.0  # the theta-Hessian of log p does not depend on x


@pytest.mark.parametrize("lam", [0.25, 1.0, 4.0])
def test_jacobian_is_a_multiple_of_the_identity(case, lam):
    *_, c = case
    r = stability.build_report(c, lam)
    # A = B up to rounding (1e-15 relative), so J = lam/(1+lam) I up to rounding
    np.testing.assert_allclose(r.jacobian, lam / (1 + lam) * np.eye(len(c.theta_star)), atol=1e-10)
    assert r.rate_exact == pytest.approx(lam / (1 + lam), abs=1e-12)


def test_one_step_is_affine_in_mean_parameters(case):
    model, data, theta, hess, c = case
    p = Retraining(model, data)
    lam = 0.8
    start = theta + 0.05 * np.abs(theta).max() * np.linspace(-1, 1, theta.size) * (-1 if theta.size == 1 else 1)
    new = p.G(start, lam)
    assert new.converged

    def grad_A(eta):  # mean parameters from the log-partition (textbook formula in each model)
        e = torch.as_tensor(eta, dtype=torch.float64).requires_grad_(True)
        return torch.autograd.grad(model.log_partition(e), e)[0].numpy()

    mu_data = grad_A(theta)  # = E_data[T] by moment matching
    expected = (mu_data + lam * grad_A(start)) / (1 + lam)
    np.testing.assert_allclose(grad_A(new.theta), expected, rtol=1e-7, atol=1e-9)  # quadrature as above
