r"""Location-scale models whose log-density has a kink (Laplace): curvature of the *expected* log-likelihood.

For :math:`\log p_\theta(x) = \log f((x-\mu)/s) - \log s` with :math:`f` not twice differentiable at
0 (Laplace: :math:`-|z|`), the pointwise Hessian misses a :math:`\delta(x-\mu)` term, so the
definitions of docs/theory.md §3 are used in their integrated form, valid when the data have a
density :math:`q`:

- expected score :math:`S_q(\theta) = E_q[\nabla_\theta \log p_\theta(x)]`, computed with a
  kink-aware rule: on each side of :math:`\mu`, :math:`x = \mu \pm s e^{t}` and the trapezoidal
  rule in :math:`t` (the integrand is analytic in :math:`t` on each side and decays exponentially
  at both ends, so the rule converges geometrically);
- :math:`\theta^*` solves :math:`S_{data}(\theta) = 0`, :math:`G_\lambda(\theta)` solves
  :math:`S_{data}(\theta') + \lambda S_{p_\theta}(\theta') = 0` near :math:`\theta` (Newton on
  the score equation, Jacobian by central differences, backtracking on its norm);
- :math:`A = -\partial_\theta S_{data}(\theta^*)` (central differences of the smooth map
  :math:`S_{data}`), :math:`B = E_{p_{\theta^*}}[\nabla\log p\,\nabla\log p^\top]` (Fisher information
  as the score covariance).

(A1) fails for such a model (``L`` is undefined, reported as NaN). Data given as a sample make
:math:`A` undefined (the empirical log-likelihood is piecewise linear in :math:`\mu`), which raises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .._domains import check
from .expectations import _density_log, build_expectations, data_kind
from .objectives import objective_weights
from .operator import GTOL, OptimResult, iterate_operator
from .optim import DTYPE, newton_root

__all__ = ["FD_STEP", "NONSMOOTH_MASS_TOL", "NonSmoothRetraining", "curvature_nonsmooth"]

_T = np.arange(-40.0, 6.0 + 1e-9, 0.02)  # t-grid: e^-40 s to e^6 s ~ 400 s from the kink
# Central differences of the expected score: truncation O(h^2 S''') ~ 1e-10 and rounding
# (quadrature accurate to ~1e-13) / h ~ 1e-8 for h = 1e-5.
FD_STEP = 1e-5
# The sinh rule (used here only for W1) converges at second order across the density's kink; with
# its refinements it reaches ~1e-7, which moves W1 by about that much relative.
NONSMOOTH_MASS_TOL = 1e-6


def _nodes(mu: float, s: float) -> tuple[np.ndarray, np.ndarray]:
    r = s * np.exp(_T)
    dv = r * 0.02
    return np.concatenate([mu - r[::-1], mu + r]), np.concatenate([dv[::-1], dv])


@dataclass
class NonSmoothRetraining:
    """θ*, G_λ and the curvature of a 1-D location-scale model with a kink (see module docstring)."""

    model: object
    data: object
    seed: int | object = 0
    theta0: np.ndarray | None = None
    allow_failure: bool = False
    fit: OptimResult = field(init=False)
    expectations: object = field(init=False, default=None)

    def __post_init__(self):
        kind = data_kind(self.data)
        if kind == "samples":
            raise ValueError(
                f"data must be a density (scipy frozen or torch distribution) for {type(self.model).__name__}: "
                "its empirical log-likelihood is piecewise linear in the location, so A is undefined"
            )
        self._kind = kind
        x0 = self.theta0
        if x0 is None:
            ex = build_expectations(self.model, self.data)
            x0 = self.model.initial_theta(ex.x_data.numpy(), ex.w_data.numpy())
        self.fit = self._solve(lambda th: self.score_data(th), np.asarray(x0, dtype=float))
        if not self.allow_failure:
            self.fit.raise_if_failed("maximum-likelihood fit of theta*")
        if self.fit.converged:  # used for W1 only: the kink of p_theta* limits the sinh rule to O(h^2)
            self.expectations = build_expectations(self.model, self.data, self.fit.theta, mass_tol=NONSMOOTH_MASS_TOL)

    @property
    def theta_star(self) -> np.ndarray:
        return self.fit.theta

    def _score_under(self, theta_prime: np.ndarray, log_q) -> np.ndarray:
        x, dv = _nodes(float(theta_prime[0]), math.exp(float(theta_prime[1])))
        w = np.exp(log_q(x)) * dv
        tp = torch.as_tensor(theta_prime, dtype=DTYPE).requires_grad_(True)
        xt = torch.as_tensor(x[:, None], dtype=DTYPE)
        (g,) = torch.autograd.grad((torch.as_tensor(w) * self.model.log_prob(tp, xt)).sum(), tp)
        return g.numpy()

    def score_data(self, theta_prime) -> np.ndarray:
        r""":math:`S_{data}(\theta') = E_{data}[\nabla \log p_{\theta'}]`."""
        return self._score_under(
            np.asarray(theta_prime, float), lambda x: _density_log(self.data, self._kind, x[:, None])
        )

    def score_model(self, theta, theta_prime) -> np.ndarray:
        r""":math:`S_{p_\theta}(\theta') = E_{p_\theta}[\nabla \log p_{\theta'}]`."""
        th = torch.as_tensor(np.asarray(theta, float), dtype=DTYPE)

        def log_q(x):
            with torch.no_grad():
                return self.model.log_prob(th, torch.as_tensor(x[:, None], dtype=DTYPE)).numpy()

        return self._score_under(np.asarray(theta_prime, float), log_q)

    def _jac(self, F, th: np.ndarray) -> np.ndarray:
        d = th.size
        J = np.empty((d, d))
        for j in range(d):
            e = np.zeros(d)
            e[j] = FD_STEP
            J[:, j] = (F(th + e) - F(th - e)) / (2 * FD_STEP)
        return J

    def _solve(self, F, th0: np.ndarray, gtol: float = GTOL, max_iter: int = 50) -> OptimResult:
        method = "Newton on the expected score (central-difference Jacobian) + backtracking"
        return newton_root(F, lambda th: self._jac(F, th), th0, gtol, max_iter, what="expected score", method=method)

    def G(self, theta, lambda_, *, gtol: float = GTOL) -> OptimResult:
        """One retraining step: the root of the mixed expected score near ``theta``."""
        lam = float(check("lambda_", lambda_))
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.model.n_params,):
            raise ValueError(f"theta must have shape ({self.model.n_params},), got {theta.shape}")
        if math.isinf(lam):
            return self._solve(lambda tp: self.score_model(theta, tp), theta, gtol)
        a, b = objective_weights(lam)
        return self._solve(lambda tp: a * self.score_data(tp) + b * self.score_model(theta, tp), theta, gtol)

    def iterate(self, theta0, lambda_, steps: int, *, gtol: float = GTOL) -> tuple[np.ndarray, list[OptimResult]]:
        """As :meth:`.operator.Retraining.iterate`."""
        return iterate_operator(self.G, theta0, lambda_, steps, gtol=gtol)


def curvature_nonsmooth(problem: NonSmoothRetraining) -> tuple[np.ndarray, np.ndarray, str]:
    """``(A, B, how)`` at θ* for a :class:`NonSmoothRetraining` problem."""
    ts = problem.theta_star
    A = -problem._jac(problem.score_data, ts)
    x, dv = _nodes(float(ts[0]), math.exp(float(ts[1])))
    th = torch.as_tensor(ts, dtype=DTYPE)
    xt = torch.as_tensor(x[:, None], dtype=DTYPE)
    S = torch.func.jacfwd(lambda t: problem.model.log_prob(t, xt))(th).numpy()  # (N, d) scores
    with torch.no_grad():
        w = np.exp(problem.model.log_prob(th, xt).numpy()) * dv
    B = (S * w[:, None]).T @ S
    how = (
        "A = -d/dtheta E_data[score] (central differences, h = 1e-5) and B = E_theta*[score score^T], "
        "with a kink-aware trapezoidal rule x = mu +- s e^t"
    )
    return (A + A.T) / 2, (B + B.T) / 2, how
