r"""The retraining operator :math:`G_\lambda` of docs/theory.md §1, computed numerically with autograd.

:math:`\theta^* = \mathrm{argmax}_\theta\, E_{data}[\log p_\theta(x)]` and

.. math:: G_\lambda(\theta) = \text{local-argmax}_{\theta'}\; \frac{1}{1+\lambda}
    \Big(E_{data}[\log p_{\theta'}(x)] + \lambda E_{x\sim p_\theta}[\log p_{\theta'}(x)]\Big)

(the factor :math:`1/(1+\lambda)` does not move the argmax and keeps the objective's scale, so one
gradient tolerance serves every :math:`\lambda`; at :math:`\lambda=\infty` only the model term
remains). The maximisation is warm-started at :math:`\theta` (fine-tuning, hence the *local*
argmax). Expectations are the fixed weighted sums of :mod:`.expectations`.

Optimiser: for ``n_params <= DENSE_MAX``, Newton's method with the eigenvalue-modified Hessian
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
from scipy.sparse import linalg as splinalg

from .._domains import check
from ..errors import ConvergenceError  # an optimisation needed for a reported quantity did not converge
from .expectations import as_generator, build_expectations, fisher_diagonal

__all__ = ["DENSE_MAX", "GTOL", "ConvergenceError", "OptimResult", "Retraining", "iterate_operator", "maximize"]

DTYPE = torch.float64
DENSE_MAX = 200
# Gradient tolerance: objectives are averages of log-densities (order one), whose gradients are
# computed with rounding near 1e-14; 1e-10 is reachable by Newton and makes the error of the
# maximiser (about gtol / alpha) negligible next to the tests' finite-difference tolerances.
GTOL = 1e-10
_POLISH = 10  # Newton-CG steps after L-BFGS
ROUND = float(np.finfo(float).eps)


@dataclass(frozen=True)
class OptimResult:
    """Outcome of one maximisation: the maximiser and how it was reached."""

    theta: np.ndarray
    objective: float
    grad_norm: float
    iterations: int
    converged: bool
    method: str
    message: str = ""

    def raise_if_failed(self, what: str) -> OptimResult:
        if not self.converged:
            raise ConvergenceError(
                f"{what} did not converge: {self.message} (|grad|_inf = {self.grad_norm:.3g} after "
                f"{self.iterations} iterations of {self.method})"
            )
        return self


def _newton(f, theta0: torch.Tensor, gtol: float, max_iter: int) -> OptimResult:
    th = theta0.clone()
    method = "Newton (modified Hessian) + Armijo backtracking"
    gnorm = math.inf
    val = math.nan
    for it in range(max_iter + 1):
        x = th.detach().requires_grad_(True)
        v = f(x)
        val = float(v.detach())
        if not math.isfinite(val):
            return OptimResult(th.numpy(), val, gnorm, it, False, method, "objective is NaN or infinite")
        (g,) = torch.autograd.grad(v, x)
        gnorm = float(g.abs().max())
        if not math.isfinite(gnorm):
            return OptimResult(th.numpy(), val, gnorm, it, False, method, "gradient is NaN or infinite")
        if gnorm <= gtol:
            return OptimResult(th.numpy(), val, gnorm, it, True, method, "gradient below tolerance")
        if it == max_iter:
            break
        H = torch.autograd.functional.hessian(f, th)
        if not torch.all(torch.isfinite(H)):
            return OptimResult(th.numpy(), val, gnorm, it, False, method, "Hessian is NaN or infinite")
        ev, V = torch.linalg.eigh(-(H + H.T) / 2)
        floor = 1e-8 * max(float(ev.abs().max()), 1e-300)
        ev = torch.clamp(ev.abs(), min=floor)
        p = V @ ((V.T @ g) / ev)
        slope = float(g @ p)
        step = 1.0
        while step > 1e-12:
            new = th + step * p
            with torch.no_grad():
                fv = float(f(new))
            # Armijo, with slack for rounding in the objective (8 ulps): near the optimum the gain
            # of a Newton step is below the rounding of the objective and must not stall the search
            if math.isfinite(fv) and fv >= val + 1e-4 * step * slope - 8 * ROUND * abs(val):
                break
            step /= 2
        else:
            return OptimResult(th.numpy(), val, gnorm, it, False, method, "line search found no ascent")
        th = new.detach()
    return OptimResult(th.numpy(), val, gnorm, max_iter, False, method, f"no convergence in {max_iter} iterations")


def _curvature_diagonal(diagonal, theta: torch.Tensor) -> torch.Tensor | None:
    """``diagonal(theta)`` floored at 1e-12 x its largest entry, or None if unavailable or not positive."""
    if diagonal is None:
        return None
    try:
        dg = torch.as_tensor(diagonal(theta), dtype=DTYPE).detach()
    except Exception:  # noqa: BLE001 - e.g. a log_prob torch.func cannot vmap: run unscaled
        return None
    if dg.shape != theta.shape or not bool(torch.all(torch.isfinite(dg))) or not float(dg.max()) > 0:
        return None
    return dg.clamp(min=1e-12 * float(dg.max()))


def _lbfgs(f, theta0: torch.Tensor, gtol: float, max_iter: int, diagonal=None) -> OptimResult:
    # Diagonal scaling theta = theta0 + u / sqrt(D) (D a positive curvature-diagonal estimate, e.g. the
    # empirical Fisher diagonal): L-BFGS on u sees a better-conditioned problem. Speed only: the
    # stopping test below is on the gradient in theta.
    dg = _curvature_diagonal(diagonal, theta0)
    scale = torch.ones_like(theta0) if dg is None else dg.rsqrt()
    u = torch.zeros_like(theta0).requires_grad_(True)
    opt = torch.optim.LBFGS(
        [u], lr=1.0, max_iter=max_iter, tolerance_grad=gtol, tolerance_change=0.0, history_size=20,
        line_search_fn="strong_wolfe",
    )  # fmt: skip

    def closure():
        opt.zero_grad()
        loss = -f(theta0 + scale * u)
        if torch.isfinite(loss):
            loss.backward()
        return loss

    opt.step(closure)
    n_iter = int(opt.state[opt._params[0]].get("n_iter", 0))
    method = "L-BFGS (strong Wolfe) + Newton-CG polish" + ("" if dg is None else ", diagonally preconditioned")
    x = (theta0 + scale * u).detach()
    msg = ""
    # L-BFGS stops once the objective no longer changes in floating point, which for large sums can
    # be well above gtol in the gradient; Newton steps with the Hessian applied by conjugate
    # gradients, accepted while the gradient norm decreases, finish the job.
    for k in range(_POLISH + 1):
        xg = x.clone().requires_grad_(True)
        v = f(xg)
        val = float(v.detach())
        if not math.isfinite(val):
            return OptimResult(x.numpy(), val, math.inf, n_iter + k, False, method, "objective is NaN or infinite")
        (g,) = torch.autograd.grad(v, xg, create_graph=True)
        gnorm = float(g.detach().abs().max())
        if gnorm <= gtol:
            return OptimResult(x.numpy(), val, gnorm, n_iter + k, True, method, "gradient below tolerance")
        if k == _POLISH:
            break

        def neg_hvp(u, g=g, xg=xg):
            ut = torch.as_tensor(u, dtype=DTYPE)
            return -torch.autograd.grad(g, xg, grad_outputs=ut, retain_graph=True)[0].numpy()

        op = splinalg.LinearOperator((x.numel(), x.numel()), matvec=neg_hvp, dtype=float)
        dk = None if dg is None else _curvature_diagonal(diagonal, x)
        M = None
        if dk is not None:
            q = 1.0 / dk.numpy()
            M = splinalg.LinearOperator(op.shape, matvec=lambda r, q=q: q * r, dtype=float)
        p, info = splinalg.cg(op, g.detach().numpy(), rtol=1e-8, atol=0.0, maxiter=200, M=M)
        new = x + torch.as_tensor(p, dtype=DTYPE)
        xn = new.clone().requires_grad_(True)
        vn = f(xn)
        if not torch.isfinite(vn):
            msg = "Newton-CG step gave a NaN objective"
            break
        gn = float(torch.autograd.grad(vn, xn)[0].abs().max())
        if not gn < gnorm:
            msg = f"Newton-CG step did not reduce the gradient (CG info {info})"
            break
        x = new.detach()
    return OptimResult(x.numpy(), val, gnorm, n_iter + k, False, method, msg or "no convergence")


def maximize(
    f, theta0, *, gtol: float = GTOL, max_iter: int = 100, dense: bool | None = None, diagonal=None
) -> OptimResult:
    r"""Maximise a differentiable scalar torch function ``f(theta)`` from ``theta0``.

    ``diagonal``: optional ``theta -> (d,)`` positive estimate of the diagonal of :math:`-\nabla^2 f`
    (e.g. the empirical Fisher diagonal); the large-d path uses it to scale L-BFGS and as the
    Jacobi preconditioner of the Newton-CG polish. It changes the speed, not the stopping test; if
    it raises or is not positive and finite, it is ignored.
    """
    th = torch.as_tensor(np.asarray(theta0, dtype=float), dtype=DTYPE)
    if dense is None:
        dense = th.numel() <= DENSE_MAX
    return _newton(f, th, gtol, max_iter) if dense else _lbfgs(f, th, gtol, max_iter * 10, diagonal)


def iterate_operator(G, theta0, lambda_, steps: int, *, gtol: float = GTOL) -> tuple[np.ndarray, list[OptimResult]]:
    """Iterate a retraining operator ``G(theta, lambda_, gtol=...) -> OptimResult`` ``steps`` times.

    Returns the path, shape (steps+1, d) — shorter when a step does not converge: the iteration
    stops at the first failed step, whose result is the last of the list — and the step results.
    """
    check("t", steps)
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
        a, b = 1.0 / (1.0 + lam), lam / (1.0 + lam)
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
        a, b = (0.0, 1.0) if math.isinf(lam) else (1.0 / (1.0 + lam), lam / (1.0 + lam))

        def diagonal(tp):
            out = b * fisher_diagonal(model, ex.x_model[keep], w[keep], tp)
            return out + a * fisher_diagonal(model, ex.x_data, ex.w_data, tp) if a > 0 else out

        return diagonal

    def iterate(self, theta0, lambda_, steps: int, *, gtol: float = GTOL) -> tuple[np.ndarray, list[OptimResult]]:
        """``steps`` iterates of :math:`G_\\lambda` from ``theta0``: array (steps+1, d) and the results.

        Stops early (shorter array) at the first step that does not converge.
        """
        return iterate_operator(self.G, theta0, lambda_, steps, gtol=gtol)
