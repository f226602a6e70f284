r"""The retraining operator :math:`G_\lambda` of docs/theory.md §1, computed numerically with autograd.

:math:`\theta^* = \mathrm{argmax}_\theta\, E_{data}[\log p_\theta(x)]` and

.. math:: G_\lambda(\theta) = \text{local-argmax}_{\theta'}\; \frac{1}{1+\lambda}
    \Big(E_{data}[\log p_{\theta'}(x)] + \lambda E_{x\sim p_\theta}[\log p_{\theta'}(x)]\Big)

(the factor :math:`1/(1+\lambda)` does not move the argmax and keeps the objective's scale, so one
gradient tolerance serves every :math:`\lambda`; at :math:`\lambda=\infty` only the model term
remains). The maximisation is warm-started at :math:`\theta` (fine-tuning, hence the *local*
argmax). Expectations are the fixed weighted sums of :mod:`.expectations`.

Optimiser (:mod:`.optim`): for ``n_params <= DENSE_MAX``, Newton's method with the eigenvalue-modified Hessian
(negative curvature flipped, Nocedal & Wright 2006, §3.4) and Armijo backtracking; otherwise
L-BFGS with a strong-Wolfe line search (``torch.optim.LBFGS``) in the variables
:math:`u = D^{1/2}(\theta-\theta_0)`, then Newton-CG steps with Jacobi preconditioner
:math:`D^{-1}`, where :math:`D` is the empirical Fisher diagonal of the objective
(:func:`.expectations.fisher_diagonal`; a diagonal scaling, Nocedal & Wright 2006, §7.2 and §5.1,
that speeds convergence and leaves the stopping test in :math:`\theta` unchanged). Convergence means
:math:`\|\nabla\|_\infty \le` ``gtol``. Every result says whether it converged; a NaN objective
is never accepted as a step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .._domains import check
from .expectations import as_generator, build_expectations, fisher_diagonal
from .objectives import objective_weights
from .optim import DENSE_MAX, DTYPE, GTOL, ConvergenceError, OptimResult, maximize  # the optimiser: .optim

__all__ = ["DENSE_MAX", "GTOL", "ConvergenceError", "OptimResult", "Retraining", "iterate_operator", "maximize"]


def iterate_operator(G, theta0, lambda_, steps: int, *, gtol: float = GTOL) -> tuple[np.ndarray, list[OptimResult]]:
    """Iterate a retraining operator ``G(theta, lambda_, gtol=...) -> OptimResult`` ``steps`` times.

    Returns the path, shape (steps+1, d) — shorter when a step does not converge: the iteration
    stops at the first failed step, whose result is the last of the list — and the step results.
    """
    check("steps", steps)
    path = [np.asarray(theta0, dtype=float)]
    results = []
    for _ in range(int(steps)):
        r = G(path[-1], lambda_, gtol=gtol)
        results.append(r)
        if not r.converged:
            break
        path.append(r.theta)
    return np.array(path), results


@dataclass
class Retraining:
    r"""A model, its data, :math:`\theta^*` and the operator :math:`G_\lambda` (docs/theory.md §1).

    Building it fits :math:`\theta^*` (the result is in ``fit``; a failed fit raises
    :class:`ConvergenceError` unless ``allow_failure``). ``seed`` fixes the Monte Carlo draws
    (``data_dim > 2``) so that :math:`G_\lambda` uses common random numbers across calls.

    >>> from scipy import stats
    >>> from stability.numerical.models import StudentT
    >>> r = Retraining(StudentT(5.0), stats.norm(0.0, 1.0))
    >>> bool(r.fit.converged), round(float(r.theta_star[0]), 8)
    (True, 0.0)
    """

    model: object
    data: object
    seed: int | object = 0
    n_mc: int = 4096
    theta0: np.ndarray | None = None
    allow_failure: bool = False
    fit: OptimResult = field(init=False)
    expectations: object = field(init=False)

    def __post_init__(self):
        as_generator(self.seed)  # validates the seed even where no Monte Carlo is used
        ex = build_expectations(self.model, self.data, n_mc=self.n_mc, seed=self.seed)
        x0 = self.theta0
        if x0 is None:
            x0 = self.model.initial_theta(ex.x_data.numpy(), ex.w_data.numpy())
        x0 = np.asarray(x0, dtype=float)
        if x0.shape != (self.model.n_params,):
            raise ValueError(f"theta0 must have shape ({self.model.n_params},), got {x0.shape}")
        self.fit = maximize(
            lambda th: ex.data_mean(self.model, th),
            x0,
            diagonal=lambda th: fisher_diagonal(self.model, ex.x_data, ex.w_data, th),
        )
        if not self.allow_failure:
            self.fit.raise_if_failed("maximum-likelihood fit of theta*")
        if self.fit.converged:  # the model rule is checked (and for MC drawn) at theta*
            ex = build_expectations(self.model, self.data, self.fit.theta, n_mc=self.n_mc, seed=self.seed)
        self.expectations = ex

    @property
    def theta_star(self) -> np.ndarray:
        return self.fit.theta

    def objective(self, theta, lambda_) -> Callable[[torch.Tensor], torch.Tensor]:
        """The mixed objective :math:`\\theta' \\mapsto` (data + λ model term)/(1+λ), model weights at ``theta``."""
        lam = float(check("lambda_", lambda_))
        ex, model = self.expectations, self.model
        with torch.no_grad():
            w = ex.model_weights(model, torch.as_tensor(np.asarray(theta, dtype=float), dtype=DTYPE))
        if math.isinf(lam):
            return lambda tp: ex.model_mean(model, w, tp)
        a, b = objective_weights(lam)  # the mixed objective's weights (.objectives)
        return lambda tp: a * ex.data_mean(model, tp) + b * ex.model_mean(model, w, tp)

    def G(self, theta, lambda_, *, gtol: float = GTOL) -> OptimResult:
        """One retraining step :math:`G_\\lambda(\\theta)`, warm-started at ``theta``."""
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.model.n_params,):
            raise ValueError(f"theta must have shape ({self.model.n_params},), got {theta.shape}")
        return maximize(self.objective(theta, lambda_), theta, gtol=gtol, diagonal=self._fisher(theta, lambda_))

    def _fisher(self, theta, lambda_):
        """theta' -> empirical Fisher diagonal of the mixed objective (the large-d optimiser's scaling)."""
        lam = float(check("lambda_", lambda_))
        ex, model = self.expectations, self.model
        with torch.no_grad():
            w = ex.model_weights(model, torch.as_tensor(theta, dtype=DTYPE))
        keep = w > 0
        a, b = (0.0, 1.0) if math.isinf(lam) else objective_weights(lam)

        def diagonal(tp):
            out = b * fisher_diagonal(model, ex.x_model[keep], w[keep], tp)
            return out + a * fisher_diagonal(model, ex.x_data, ex.w_data, tp) if a > 0 else out

        return diagonal

    def iterate(self, theta0, lambda_, steps: int, *, gtol: float = GTOL) -> tuple[np.ndarray, list[OptimResult]]:
        """``steps`` iterates of :math:`G_\\lambda` from ``theta0``: array (steps+1, d) and the results.

        Stops early (shorter array) at the first step that does not converge.
        """
        return iterate_operator(self.G, theta0, lambda_, steps, gtol=gtol)
