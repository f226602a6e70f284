r"""A likelihood model at a strict local maximum θ* of its (penalised) data term, and the curvature there.

For any model of the numerical protocol (``log_prob(theta, x)``, ``theta0`` or ``initial_theta``; e.g. a
trained flow wrapped by :class:`stability.experiments.FlowLikelihood`) on a real sample :math:`x_1..x_n`,
the data term is

.. math:: D_\beta(\theta) = \frac1n\sum_i \log p_\theta(x_i) - \frac\beta2\|\theta\|^2 ,

a Gaussian prior of precision β on the real-data term (:func:`data_term`; the ``prior_precision`` of
:func:`stability.retrain_chains`). A prior is what keeps the maximum finite where the likelihood has none
(a tanh-conditioned flow on two moons: the weights grow without bound while the likelihood rises).
Attached to the real term it leaves θ* a fixed point of retraining for every λ, and docs/theory.md §3 and
§9 hold with :math:`A = -\nabla^2 D_\beta(\theta^*)` (data Hessian plus βI).

- :func:`fit_theta_star`: θ* by Adam (away from the saddles of a random start), then the library's
  optimiser (:func:`stability.numerical.operator.maximize`), to a relative gradient :data:`GRAD_REL`.
- :func:`curvature_at`: A by autograd, B by a quadrature rule of :math:`p_{\theta}`
  (:func:`stability.numerical.expectations.build_expectations`) in two forms, Fisher and Hessian, which agree
  to the quadrature error for a :math:`C^2` density; and the mean score :math:`\bar g` under the rule.
- :func:`classify_spectrum`: the null directions of A split into symmetries (B null too: quotiented out)
  and slow modes (kept).

Used by the smooth-flow study (``studies/smooth_flow.py``), which checks the local theory on a flow at θ*.
"""

from __future__ import annotations

import numpy as np
import torch

from .operator import OptimResult, maximize
from .optim import DTYPE

__all__ = ["GRAD_REL", "NULL_RTOL", "REFIT_GTOL", "classify_spectrum", "curvature_at", "data_term", "fit_theta_star"]

# theta* must satisfy ||grad||_2 <= GRAD_REL x (RMS per-point score norm): the gradient of the mean
# log-likelihood is then 1e-7 of what a single point contributes.
GRAD_REL = 1e-7
# Eigenvalues below this fraction of the largest count as zero when the spectra of A and B are
# classified (autograd Hessians are accurate to ~1e-13 relative; a true symmetry sits there).
NULL_RTOL = 1e-9
# Gradient tolerance (sup norm) of the optimiser: objectives are means of log-densities of order one,
# whose gradients carry rounding ~1e-14; 1e-11 leaves an error in theta of 1e-11 / alpha.
REFIT_GTOL = 1e-11


def _t(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=float), dtype=DTYPE)


def data_term(model, x: torch.Tensor, theta: torch.Tensor, beta: float) -> torch.Tensor:
    r"""The real-data objective :math:`D_\beta(\theta) = \hat E_{data}\log p_\theta(x) - \tfrac\beta2\|\theta\|^2`.

    ``x``: (n, dim) tensor; ``theta``: (d,) tensor; differentiable in ``theta``.
    """
    out = model.log_prob(theta, x).mean()
    return out - 0.5 * beta * (theta * theta).sum() if beta else out


def _score_scale(model, x: torch.Tensor, theta: torch.Tensor) -> float:
    """RMS over points of the per-point score norm :math:`\\|\\nabla_\\theta \\log p_\\theta(x_i)\\|_2`."""
    S = torch.func.jacfwd(lambda t: model.log_prob(t, x))(theta)
    return float(S.pow(2).sum(1).mean().sqrt())


def fit_theta_star(
    model, x, *, beta: float = 0.0, theta0=None, adam_steps: int = 3000, lr: float = 1e-2, lbfgs_iter: int = 2000,
    newton_iter: int = 200,
) -> dict:  # fmt: skip
    r"""θ* = a strict local maximiser of :math:`D_\beta` (:func:`data_term`) on the sample ``x`` (n, dim).

    ``adam_steps`` full-batch Adam steps (``lr``) from ``theta0`` (default: the model's ``theta0``) bring θ
    near a maximum (from a random start L-BFGS and Newton stall at saddles: measured on a flow, negative
    Hessian eigenvalues after 500 L-BFGS iterations); then the library's optimiser
    (:func:`stability.numerical.operator.maximize`): full-batch L-BFGS then Newton-CG (``dense=False``,
    ``lbfgs_iter // 10`` iterations), then its dense modified-Newton method (``dense=True``) until
    :math:`\|\nabla\|_\infty \le 10^{-11}` or ``newton_iter`` steps.

    Returns a dict (stored as is by the study that calls it) with ``theta``, ``objective``, ``grad_norm``
    (:math:`\|\nabla\|_2`), ``grad_inf``, ``grad_rel`` (``grad_norm`` over the RMS per-point score norm
    ``score_scale``), ``converged`` (``grad_rel`` :math:`\le` :data:`GRAD_REL`) and the reports of the two
    optimiser runs (``lbfgs``, ``newton``; ``newton`` None when the first converged).
    """
    xt = _t(x)

    def f(th):
        return data_term(model, xt, th, beta)

    th0 = model.theta0 if theta0 is None else np.asarray(theta0, dtype=float)
    if adam_steps:
        p = torch.tensor(np.asarray(th0, dtype=float), dtype=DTYPE, requires_grad=True)  # a copy
        opt = torch.optim.Adam([p], lr=lr)
        for _ in range(int(adam_steps)):
            opt.zero_grad()
            (-f(p)).backward()
            opt.step()
        th0 = p.detach().numpy()
    r1 = maximize(f, th0, gtol=REFIT_GTOL, max_iter=max(1, lbfgs_iter // 10), dense=False)
    r2 = r1 if r1.converged else maximize(f, r1.theta, gtol=REFIT_GTOL, max_iter=newton_iter, dense=True)
    th = _t(r2.theta).requires_grad_(True)
    (g,) = torch.autograd.grad(f(th), th)
    gn = float(g.norm())
    scale = _score_scale(model, xt, th.detach())
    return {
        "theta": r2.theta,
        "objective": float(r2.objective),
        "grad_norm": gn,
        "grad_inf": float(g.abs().max()),
        "grad_rel": gn / scale,
        "score_scale": scale,
        "converged": bool(gn / scale <= GRAD_REL),
        "lbfgs": _result_dict(r1),
        "newton": _result_dict(r2) if r2 is not r1 else None,
    }


def _result_dict(r: OptimResult) -> dict:
    return {k: getattr(r, k) for k in ("objective", "grad_norm", "iterations", "converged", "method", "message")}


def curvature_at(model, x, theta, ex, *, beta: float = 0.0) -> dict:
    r"""A, and B in two forms (Fisher ``B``, Hessian ``B_hess``) and the mean score ``gbar`` under the model.

    ``x``: real sample (n, dim); ``theta``: (d,); ``ex``: the quadrature rule of
    :func:`stability.numerical.expectations.build_expectations` (points ``x_model``, weights of
    :math:`p_\theta`; points whose weight is below 1e-16 of the largest are dropped, ``points`` counts the
    rest). :math:`A = -\nabla^2 D_\beta(\theta)`; :math:`B = \sum_i w_i s_i s_i^\top` with the scores
    :math:`s_i = \nabla_\theta\log p_\theta(x_i)` (positive semi-definite by construction);
    :math:`B_H = -\sum_i w_i \nabla^2_\theta\log p_\theta(x_i)`; :math:`\bar g = \sum_i w_i s_i`, the
    quadrature's residual mean score (zero for the exact expectation). Each matrix is symmetrised.
    """
    xt, th = _t(x), _t(theta)
    A = -torch.autograd.functional.hessian(lambda t: data_term(model, xt, t, beta), th).numpy()
    with torch.no_grad():
        w = ex.model_weights(model, th)
    keep = w > 1e-16 * w.max()
    xs, w = ex.x_model[keep], w[keep] / w[keep].sum()
    S = torch.func.jacfwd(lambda t: model.log_prob(t, xs))(th)
    B = (S.T @ (w[:, None] * S)).numpy()
    gbar = (w @ S).numpy()
    B_hess = -torch.autograd.functional.hessian(lambda t: (w * model.log_prob(t, xs)).sum(), th).numpy()
    sym = lambda M: (M + M.T) / 2  # noqa: E731
    return {"A": sym(A), "B": sym(B), "B_hess": sym(B_hess), "gbar": gbar, "points": int(keep.sum())}


def classify_spectrum(A, B, rtol: float = NULL_RTOL) -> dict:
    r"""Eigenvalues of A; null directions of A split into symmetries (B also null there) and slow modes.

    A direction :math:`v` (unit eigenvector of A with eigenvalue :math:`\le` ``rtol`` :math:`\lambda_{max}(A)`)
    is a symmetry if :math:`v^\top B v \le` ``rtol`` :math:`\lambda_{max}(B)`, else a slow mode (kept).
    Returns ``eig_A``, the counts ``n_B_null`` (eigenvalues of B below ``rtol`` of its largest: directions
    the likelihood does not see; with a prior A = β > 0 there, so they are pinned, not quotiented),
    ``n_symmetries``, ``n_slow``, ``n_negative`` (eigenvalues of A below 0), and ``U``: an orthonormal basis
    of the quotient (all eigenvectors of A but the symmetries).

    >>> s = classify_spectrum(np.diag([2.0, 1.0, 1e-12, 0.0]), np.diag([1.0, 0.0, 1.0, 0.0]))
    >>> s["n_symmetries"], s["n_slow"], s["n_B_null"], s["U"].shape
    (1, 1, 2, (4, 3))
    """
    ev, V = np.linalg.eigh(A)
    null = ev <= rtol * ev[-1]
    bmax = float(np.linalg.eigvalsh(B)[-1])
    vBv = np.einsum("ij,jk,ki->i", V.T, B, V)
    sym = null & (vBv <= rtol * bmax)
    eB = np.linalg.eigvalsh(B)
    return {
        "eig_A": ev,
        "n_B_null": int((eB <= rtol * eB[-1]).sum()),
        "n_symmetries": int(sym.sum()),
        "n_slow": int((null & ~sym).sum()),
        "n_negative": int((ev < 0).sum()),
        "U": V[:, ~sym],
    }
