"""theta* of a penalised data term, A and B there, and the classification of the spectrum, against closed forms."""

import math

import numpy as np
import torch

from stability.numerical import classify_spectrum, curvature_at, data_term, fit_theta_star
from stability.numerical.expectations import build_expectations
from stability.numerical.maximum import GRAD_REL
from stability.numerical.models import LikelihoodModel


class _Normal(LikelihoodModel):
    """1-D normal in theta = (mu, log sigma), written here so that the closed forms below are independent."""

    n_params = 2
    data_dim = 1
    theta0 = np.array([0.0, 0.0])

    def log_prob(self, theta, x) -> torch.Tensor:
        z = (x[:, 0] - theta[0]) * torch.exp(-theta[1])
        return -0.5 * z * z - theta[1] - 0.5 * math.log(2 * math.pi)

    def initial_theta(self, x, w) -> np.ndarray:
        return self.theta0.copy()


def _sample():
    return 2.0 + 3.0 * np.random.default_rng(0).standard_normal((400, 1))


def test_fit_theta_star_is_the_maximum_likelihood_estimate():
    x = _sample()
    fit = fit_theta_star(_Normal(), x, adam_steps=100, lbfgs_iter=200, newton_iter=50)
    # MLE of a normal: the sample mean and the (biased) standard deviation. The fit stops at
    # |grad|_inf <= 1e-11, so theta is within 1e-11 / alpha of it, alpha = min(1/sigma^2, 2) ~ 1/9
    mle = np.array([x.mean(), math.log(x.std())])
    np.testing.assert_allclose(fit["theta"], mle, rtol=0, atol=1e-8)
    assert fit["converged"] and fit["grad_rel"] <= GRAD_REL


def test_the_prior_adds_beta_to_A_and_moves_theta_star_towards_zero():
    x = _sample()
    fit0 = fit_theta_star(_Normal(), x, adam_steps=0, lbfgs_iter=200, newton_iter=50)
    fit = fit_theta_star(_Normal(), x, beta=0.5, adam_steps=0, lbfgs_iter=200, newton_iter=50)
    assert fit["converged"]
    # stationarity of D_beta in mu: mean(x - mu) / sigma^2 = beta mu, solved for mu at the fitted sigma
    sig2 = math.exp(2 * fit["theta"][1])
    assert abs(fit["theta"][0] - x.mean() / (1 + 0.5 * sig2)) <= 1e-8
    assert abs(fit["theta"][0]) < abs(fit0["theta"][0])
    th = torch.as_tensor(fit["theta"])
    xt = torch.as_tensor(x)
    # D_beta - D_0 = -beta/2 |theta|^2 exactly
    diff = float(data_term(_Normal(), xt, th, 0.5) - data_term(_Normal(), xt, th, 0.0))
    assert abs(diff + 0.25 * float(th @ th)) <= 1e-14 * (1 + float(th @ th))


def test_curvature_at_the_mle_is_the_fisher_information_of_the_normal():
    x = _sample()
    model = _Normal()
    theta = np.array([x.mean(), math.log(x.std())])
    ex = build_expectations(model, x, theta, mass_tol=1e-9)
    c = curvature_at(model, x, theta, ex)
    sig2 = x.var()
    # at the MLE: A = diag(1 / sigma^2, 2) (the cross term is mean(x - mu) / sigma^2 = 0), and the model's
    # Fisher information in (mu, log sigma) is the same matrix; B and B_hess by quadrature (mass error
    # <= 1e-9, geometric convergence for this analytic density), A exact up to rounding
    fisher = np.diag([1 / sig2, 2.0])
    np.testing.assert_allclose(c["A"], fisher, rtol=0, atol=1e-12)
    np.testing.assert_allclose(c["B"], fisher, rtol=0, atol=1e-7)
    np.testing.assert_allclose(c["B_hess"], fisher, rtol=0, atol=1e-7)
    np.testing.assert_allclose(c["gbar"], 0.0, atol=1e-7)
    # the prior adds beta I to A only
    c2 = curvature_at(model, x, theta, ex, beta=0.3)
    np.testing.assert_allclose(c2["A"] - c["A"], 0.3 * np.eye(2), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(c2["B"], c["B"])


def test_classify_spectrum_separates_symmetries_from_slow_modes():
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((4, 4)))
    B = Q @ np.diag([1.0, 2.0, 0.5, 0.0]) @ Q.T  # B sees Q[:, 2], not Q[:, 3]
    # one null direction of A (below 1e-9 of its largest eigenvalue; an exact zero would round to +-1e-16):
    # Q[:, 3], where B is null too (a symmetry, quotiented out), or Q[:, 2], where it is not (a slow mode, kept)
    s = classify_spectrum(Q @ np.diag([3.0, 1.0, 0.7, 1e-12]) @ Q.T, B)
    assert (s["n_symmetries"], s["n_slow"], s["n_B_null"], s["n_negative"]) == (1, 0, 1, 0)
    # U spans everything but the symmetry: U U^T is the projector onto Q[:, :3]
    np.testing.assert_allclose(s["U"] @ s["U"].T, np.eye(4) - np.outer(Q[:, 3], Q[:, 3]), atol=1e-9)
    s = classify_spectrum(Q @ np.diag([3.0, 1.0, 1e-12, 0.7]) @ Q.T, B)
    assert (s["n_symmetries"], s["n_slow"], s["U"].shape) == (0, 1, (4, 4))
    s = classify_spectrum(Q @ np.diag([3.0, 1.0, -0.5, 0.7]) @ Q.T, B)
    assert (s["n_negative"], s["n_symmetries"]) == (1, 0)
