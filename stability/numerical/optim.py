r"""The library's optimiser: modified Newton with Armijo backtracking, dense, batched and matrix-free.

One place for the step rule every refit uses (:mod:`.operator`, :mod:`.chains`, the loss chains of
:mod:`.losses`) and its constants:

- the Newton direction uses the eigenvalue-modified Hessian: eigenvalues of :math:`-\nabla^2 f`
  replaced by their absolute values, floored at ``EIG_FLOOR`` times the largest (negative
  curvature flipped; Nocedal & Wright 2006, §3.4);
- Armijo backtracking with constant ``ARMIJO``, halving the step at most ``HALVINGS`` times (the
  smallest step tried is :math:`2^{-39} \approx 1.8\times10^{-12}`), with a slack of 8 ulps of the
  objective for rounding (near the optimum a Newton step's gain is below the objective's rounding);
- convergence is :math:`\|\nabla f\|_\infty \le` ``GTOL``.

:func:`newton` is the dense single-problem form, :func:`batched_newton` runs many problems (chains)
at once with their values, gradients and Hessians computed in one vectorised call, and
:func:`maximize` picks :func:`newton` up to ``DENSE_MAX`` parameters and the matrix-free L-BFGS +
Newton-CG polish above; :func:`newton_root` solves equations F = 0 that are not gradients of an
objective (expected scores, the fixed point of a loss). ``DTYPE`` (float64) is the dtype of every
torch tensor of the package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import linalg
from scipy.sparse import linalg as splinalg

from ..errors import ConvergenceError  # an optimisation needed for a reported quantity did not converge

__all__ = [
    "ARMIJO",
    "DENSE_MAX",
    "DTYPE",
    "EIG_FLOOR",
    "GTOL",
    "HALVINGS",
    "REUSE_CONTRACTION",
    "ROOT_HALVINGS",
    "ROUND",
    "OptimResult",
    "batched_newton",
    "maximize",
    "newton",
    "newton_direction",
    "newton_root",
]

DTYPE = torch.float64
DENSE_MAX = 200
# Gradient tolerance: objectives are averages of log-densities (order one), whose gradients are
# computed with rounding near 1e-14; 1e-10 is reachable by Newton and makes the error of the
# maximiser (about gtol / alpha) negligible next to the tests' finite-difference tolerances.
GTOL = 1e-10
ARMIJO = 1e-4  # sufficient-increase constant of the line search
HALVINGS = 40  # backtracking: steps 1, 1/2, ..., 2**-39 ~ 1.8e-12
EIG_FLOOR = 1e-8  # modified Hessian: |eigenvalues| floored at this fraction of the largest
ROOT_HALVINGS = 34  # newton_root: steps 1, 1/2, ..., 2**-33 ~ 1.2e-10
REUSE_CONTRACTION = 4.0  # newton_root(reuse_jacobian=True): refresh the Jacobian below this contraction
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


def newton(f, theta0: torch.Tensor, gtol: float, max_iter: int) -> OptimResult:
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
        floor = EIG_FLOOR * max(float(ev.abs().max()), 1e-300)
        ev = torch.clamp(ev.abs(), min=floor)
        p = V @ ((V.T @ g) / ev)
        slope = float(g @ p)
        step = 1.0
        for _ in range(HALVINGS):
            new = th + step * p
            with torch.no_grad():
                fv = float(f(new))
            # Armijo, with slack for rounding in the objective (8 ulps): near the optimum the gain
            # of a Newton step is below the rounding of the objective and must not stall the search
            if math.isfinite(fv) and fv >= val + ARMIJO * step * slope - 8 * ROUND * abs(val):
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
    return newton(f, th, gtol, max_iter) if dense else _lbfgs(f, th, gtol, max_iter * 10, diagonal)


def newton_direction(H: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Ascent direction from the eigenvalue-modified Hessian (as :func:`newton`), batched over leading axes."""
    ev, V = torch.linalg.eigh(-(H + H.transpose(-1, -2)) / 2)
    floor = EIG_FLOOR * ev.abs().amax(-1, keepdim=True).clamp(min=1e-300)
    ev = torch.maximum(ev.abs(), floor)
    return (V @ ((V.transpose(-1, -2) @ g[..., None])[..., 0] / ev)[..., None])[..., 0]


def _finite(v, g, H):
    return torch.isfinite(v) & torch.isfinite(g).all(-1) & torch.isfinite(H).flatten(1).all(-1)


def batched_newton(
    obj, theta0: torch.Tensor, y: torch.Tensor, gtol: float, max_iter: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batched Newton + Armijo from theta0 (C, d): (theta, grad_norm, iterations, converged).

    ``obj(theta, y) -> (values (C,), gradients (C, d), Hessians (C, d, d))`` of the objective to
    maximise, ``y`` a per-chain tensor (C, ...) passed along (the chains' synthetic points). The
    step rule is :func:`newton` 's, row by row; chains that reached ``gtol`` leave the active set and
    the line search re-evaluates only the chains whose trial point failed.
    """
    th = theta0.clone()
    v, g, H = obj(th, y)
    gnorm = g.abs().amax(-1)
    iters = torch.zeros(th.shape[0], dtype=torch.long)
    ok = _finite(v, g, H)
    done = ok & (gnorm <= gtol)
    failed = ~ok
    for _ in range(max_iter):
        act = torch.nonzero(~done & ~failed)[:, 0]
        if act.numel() == 0:
            break
        p = newton_direction(H[act], g[act])
        slope = (g[act] * p).sum(-1)
        step = torch.ones(act.numel(), dtype=DTYPE)
        pend = torch.arange(act.numel())
        for _ in range(HALVINGS):
            idx = act[pend]
            trial = th[idx] + step[pend, None] * p[pend]
            vn, gn, Hn = obj(trial, y[idx])
            v0 = v[idx]
            good = _finite(vn, gn, Hn) & (vn >= v0 + ARMIJO * step[pend] * slope[pend] - 8 * ROUND * v0.abs())
            acc = idx[good]
            th[acc], v[acc], g[acc], H[acc] = trial[good], vn[good], gn[good], Hn[good]
            pend = pend[~good]
            if pend.numel() == 0:
                break
            step[pend] /= 2
        failed[act[pend]] = True  # line search found no ascent (empty unless it ran out of halvings)
        iters[act] += 1
        gnorm[act] = g[act].abs().amax(-1)
        done[act] = gnorm[act] <= gtol
    return th, gnorm, iters, done & ~failed


def newton_root(
    F,
    jacobian,
    theta0: np.ndarray,
    tol: float,
    max_iter: int,
    *,
    what: str = "residual",
    method: str | None = None,
    reuse_jacobian: bool = False,
) -> OptimResult:
    r"""Newton's method for a root of ``F`` (numpy (d,) -> (d,)), backtracking on :math:`\|F\|_\infty`.

    Each step solves ``jacobian(theta) p = -F(theta)`` and halves the step (at most ``ROOT_HALVINGS``
    times, smallest :math:`2^{-33} \approx 1.2\times10^{-10}`) until :math:`\|F\|_\infty` decreases;
    converged when :math:`\|F\|_\infty \le` ``tol``. Used for the expected score of a non-smooth
    likelihood (:mod:`.nonsmooth`) and the fixed point of retraining with a loss (:mod:`.losses`),
    which are roots, not maxima. ``what`` names F in the messages. ``reuse_jacobian``: keep the
    last factorised Jacobian while full steps still shrink :math:`\|F\|_\infty` at least
    ``REUSE_CONTRACTION``-fold (Shamanskii's variant: for expensive Jacobians; the stopping test is
    unchanged).
    """
    method = method or "Newton on F = 0 + backtracking"
    th = np.array(theta0, dtype=float)
    gnorm = math.inf
    lu, fresh = None, True  # the (factorised) Jacobian in use; fresh: evaluated at the current point
    for it in range(max_iter + 1):
        f = F(th)
        gnorm = float(np.abs(f).max())
        if not np.isfinite(gnorm):
            return OptimResult(th, math.nan, gnorm, it, False, method, f"{what} is NaN or infinite")
        if gnorm <= tol:
            return OptimResult(th, math.nan, gnorm, it, True, method, f"{what} below tolerance")
        if it == max_iter:
            break
        try:
            if not reuse_jacobian or lu is None:
                lu = linalg.lu_factor(jacobian(th)) if reuse_jacobian else jacobian(th)
                fresh = True
            p = -(linalg.lu_solve(lu, f) if reuse_jacobian else np.linalg.solve(lu, f))
        except (np.linalg.LinAlgError, ValueError):
            return OptimResult(th, math.nan, gnorm, it, False, method, f"singular Jacobian of the {what}")
        step = 1.0
        for _ in range(ROOT_HALVINGS):
            new = th + step * p
            fn = F(new)
            if np.all(np.isfinite(fn)) and np.abs(fn).max() < gnorm:
                break
            step /= 2
        else:
            if reuse_jacobian and lu is not None and not fresh:  # a stale Jacobian: refresh it and retry
                lu, fresh = None, True
                continue
            return OptimResult(th, math.nan, gnorm, it, False, method, f"no step reduces the {what}")
        if reuse_jacobian:
            fresh = False
            if step < 1.0 or np.abs(fn).max() > gnorm / REUSE_CONTRACTION:
                lu = None  # the old Jacobian no longer gives fast progress
        th = new
    return OptimResult(th, math.nan, gnorm, max_iter, False, method, f"no convergence in {max_iter} iterations")
