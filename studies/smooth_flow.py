r"""The smooth-flow study: three predictions of the local theory checked on a smooth normalizing flow at a true
maximum θ* (issue 13; behind ``figures/fig_flow_contraction.py``).

Run it as a script (``python studies/smooth_flow.py --help``) or import it with the repository root on
``sys.path`` (``from studies.smooth_flow import run``).

**The flow** (:class:`SmoothFlow`). The theory's assumption (A1) asks :math:`x \mapsto \nabla^2_\theta \log
p_\theta(x)` to be Lipschitz and the fixed-point analysis asks :math:`\theta \mapsto \log p_\theta(x)` to be
twice differentiable. zuko's neural spline flow violates both (spline bin edges, ReLU conditioners) and its
affine MAF violates them mildly (:class:`zuko.transforms.MonotonicAffineTransform` soft-clips the log-scale
with :math:`a / (1 + |a/\log s|)`, whose second derivative jumps at :math:`a = 0`). The flow here is zuko's
masked autoregressive flow with :class:`SmoothAffineTransform` (:math:`f(x) = e^{c\tanh(a/c)}x + b`, a
:math:`C^\infty` clip) and ``tanh`` conditioners, so :math:`\log p_\theta(x)` is a composition of analytic
maps. With two transforms it models moons and eight Gaussians only coarsely, which is what the theory is
about (a misspecified :math:`p_{\theta^*}`, :math:`A \ne B`). It is wrapped as a numerical likelihood
(:class:`stability.experiments.FlowLikelihood`) on a fixed real sample :math:`x_1..x_n`.

**The data term** :math:`D_\beta(\theta) = \frac1n\sum_i \log p_\theta(x_i) - \frac\beta2\|\theta\|^2`
(:func:`stability.numerical.data_term`): without the prior the likelihood of a tanh-conditioned flow on moons
has no maximum at finite weights (measured: 2 transforms, hidden [8] or [16], n = 1,000: the largest weight
grows 12 -> 19 -> 28 -> 35 over 40 Newton steps while the mean log-likelihood keeps rising, -0.73 -> -0.40).
θ*: :func:`stability.numerical.fit_theta_star`; A and B (Fisher form ``B``, used by the predictions, and
Hessian form ``B_hess``): :func:`stability.numerical.curvature_at`; symmetries:
:func:`stability.numerical.classify_spectrum`.

1. **Expected operator.** :math:`G_\lambda(\theta)` = the stationary point near θ of
   :math:`[D_\beta(\theta') + \lambda E_{p_\theta}\log p_{\theta'}]/(1+\lambda)`, the model expectation by the
   library's deterministic quadrature (:func:`stability.numerical.expectations.build_expectations`: a sinh
   trapezoidal rule, geometric convergence for this analytic density, mass error ~1e-11), minus the
   quadrature's residual mean score :math:`\bar g` (~1e-8) so that θ* is the exact fixed point. Monte Carlo
   with common random numbers (a fixed base-noise sample pushed through the flow) was measured on the moons
   flow with m = 4,000 draws: that operator's own Jacobian has spectral radius 2.41 at λ = 0.25 (rate_exact
   0.83) and :math:`A+\lambda B_H` is indefinite (-0.0036): the Monte Carlo error in :math:`B` swamps the
   smallest eigenvalues of A (1e-3). The per-step ratio :math:`\|\theta_{t+1}-\theta^*\|/\|\theta_t-\theta^*\|`
   (:func:`contraction`) is compared with ``rate_exact`` :math:`=\lambda\gamma_{max}/(1+\lambda\gamma_{max})`
   of (A, B) and with the linearisation's own ratio sequence :math:`\|J^{t+1}e_0\|/\|J^te_0\|`.
2. **Finite-sample process** (refit to a maximum each round; :math:`k=\lfloor\lambda n\rfloor` fresh flow
   samples; :func:`stability.retrain_chains` with ``prior_precision`` β, :func:`refit_chains`): stationary
   excess of :math:`D_\beta` on the real sample against :func:`stability.stationary.stationary`. The excess is
   the quantity to compare: :math:`E\|\theta_t-\theta^*\|_A^2` is not, because single chains jump in one round
   to a neighbouring near-maximum (an almost flat, curved ridge of :math:`D_\beta`) where the quadratic form at
   θ* measures the chord, not the loss (measured: ``results/cpu/README.md``).
3. **Fixed budget** (the paper's deep-model protocol, :func:`budget_chains`): each round fine-tunes a fixed
   number of Adam steps from the current weights instead of refitting; its stationary error is measured.

The purely synthetic chain (λ = ∞, the samples panel) and the fixed-budget chains keep this study's own loop
(:func:`_chains`): :func:`stability.retrain_chains` refits to a maximum of an objective with a real-data term,
and these have no real term or no refit (and their stored numbers must stay reproducible on resume).

**The stored run.** :func:`run` writes into one folder (by default ``results/cpu/flow_validation``)::

    config.json                     configuration, command, commit, machine, date
    <data>/fit.pt                   theta* and the optimiser's report
    <data>/problem.pt               A, B (three forms), spectrum summary
    <data>/contraction.json         prediction 1: per-step ratios per lambda and start
    <data>/theorem.json             alpha, eps and a lower bound on L (Theorems 1 and 2)
    <data>/chains/<kind>_<lam>.pt   predictions 2 and 3: theta_t of every chain, saved after each generation
    summary.json                    one row per (data, lambda): the headline numbers

Every file is written atomically (:mod:`stability._io`); a killed run resumes where it stopped (generation by
generation for the chains, with per-round seeds, so a resumed chain equals an uninterrupted one). Each part
is keyed by the hash of the configuration entries it depends on (:func:`stability._io.config_hash`, 16 hex
digits); a stored file whose key differs from the current one is an error, never silently reused.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import zuko
from torch import nn
from torch.distributions import constraints
from zuko.transforms import Transform

from stability._io import atomic_save, atomic_write_text, config_hash, git_commit
from stability.numerical.maximum import (
    NULL_RTOL,
    REFIT_GTOL,
    classify_spectrum,
    curvature_at,
    data_term,
    fit_theta_star,
)
from stability.numerical.operator import OptimResult, maximize
from stability.numerical.optim import ARMIJO, DTYPE, EIG_FLOOR
from stability.schemes import synthetic_count

__all__ = [
    "BOUND",
    "CHAIN_GTOL",
    "CHAIN_KEYS",
    "CONFIGS",
    "CONTRACTION_KEYS",
    "DEFAULT",
    "FAST",
    "FIT_KEYS",
    "SCALE",
    "FlowProblem",
    "SmoothAffineTransform",
    "SmoothFlow",
    "budget_chains",
    "contraction",
    "excess_nll",
    "flow_problem",
    "load_part",
    "load_problem",
    "main",
    "part_key",
    "refit",
    "refit_chains",
    "run",
    "run_hash",
    "smooth_flow",
    "stationary_se",
    "stored_chains",
    "theorem_constants",
]

# Gradient tolerance (sup norm) of the finite-sample refits of prediction 2 (retrain_chains' default): measured,
# a few of 8 chains at lambda = 0.25 stall at 6e-11 after 50 Newton steps (rounding of a sum over n + k
# points); 1e-10 moves theta by at most 1e-10 / alpha ~ 1e-7, against per-round moves ~ 1e-2.
CHAIN_GTOL = 1e-10


def _t(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=float), dtype=DTYPE)


# ----------------------------------------------------------------------------------------------------------
# The flow

# Bound c of the log-scale. Large enough never to bind at a maximum (a binding clip would push the
# maximiser to infinity); it only keeps exp() finite during the first steps of an optimisation.
BOUND = 10.0


class SmoothAffineTransform(Transform):
    r"""The map :math:`f(x) = e^{\ell} x + b`, :math:`\ell = c\tanh(a/c)`.

    ``shift`` :math:`b` and ``scale`` :math:`a` (unconstrained) with shape ``(*,)``; ``bound`` :math:`c > 0`
    bounds the log-scale smoothly (zuko's :class:`~zuko.transforms.MonotonicAffineTransform` uses the
    :math:`C^1` clip :math:`a/(1+|a|/c)`).
    """

    domain = constraints.real
    codomain = constraints.real
    bijective = True
    sign = +1

    def __init__(self, shift: torch.Tensor, scale: torch.Tensor, bound: float = BOUND, **kwargs) -> None:
        super().__init__(**kwargs)
        self.shift = shift
        self.log_scale = bound * torch.tanh(scale / bound)
        self.scale = self.log_scale.exp()

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return (y - self.shift) / self.scale

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.log_scale.expand(x.shape)


class SmoothFlow(nn.Module):
    r"""Masked autoregressive flow with smooth affine transforms and tanh conditioners (module docstring).

    ``features``: data dimension; ``transforms``: number of autoregressive layers (their order alternates);
    ``hidden``: conditioner widths. ``log_prob(x)`` is :math:`\log p_\theta(x)`, shape ``(m,)``;
    ``sample(m)`` draws ``(m, features)``; ``push(z)`` maps base noise ``z`` ``(m, features)`` to
    :math:`x = f_\theta^{-1}(z)` (a draw of :math:`p_\theta` when :math:`z\sim\mathcal N(0, I)`).
    """

    def __init__(self, features: int = 2, transforms: int = 2, hidden=(16, 16)):
        super().__init__()
        if not (isinstance(features, int) and features >= 2):
            raise ValueError(f"features must be an integer >= 2, got {features!r}")
        if not (isinstance(transforms, int) and transforms >= 1):
            raise ValueError(f"transforms must be an integer >= 1, got {transforms!r}")
        self.shape = (features,)
        self.flow = zuko.flows.MAF(
            features, transforms=transforms, hidden_features=tuple(hidden), univariate=SmoothAffineTransform,
            activation=nn.Tanh,
        )  # fmt: skip

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.flow().log_prob(x)

    def push(self, z: torch.Tensor) -> torch.Tensor:
        return self.flow().transform.inv(z)

    @torch.no_grad()
    def sample(self, m: int) -> torch.Tensor:
        return self.flow().sample((int(m),))


def smooth_flow(features: int = 2, transforms: int = 2, hidden=(16, 16), *, seed: int = 0) -> SmoothFlow:
    """A float64 :class:`SmoothFlow` with zuko's initialisation drawn from ``torch.manual_seed(seed)``.

    >>> from stability.experiments.analysis import FlowLikelihood
    >>> FlowLikelihood(smooth_flow(hidden=(8,), seed=0), estimate_L=False).n_params
    72
    """
    with torch.random.fork_rng():
        torch.manual_seed(int(seed))
        flow = SmoothFlow(features, transforms, hidden)
    return flow.to(torch.float64)


# ----------------------------------------------------------------------------------------------------------
# The flow at theta*: fit, quadrature rule, curvature


@dataclass
class FlowProblem:
    """A wrapped flow, its real sample ``x``, θ*, the quadrature rule ``ex`` for the model, the curvature and
    the fit report."""

    model: object
    x: np.ndarray
    theta_star: np.ndarray
    ex: object
    A: np.ndarray
    B: np.ndarray
    B_hess: np.ndarray
    gbar: np.ndarray
    fit: dict
    spectrum: dict
    beta: float = 0.0

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    def reduced(self) -> tuple[np.ndarray, np.ndarray]:
        """(A, B) on the quotient ``U`` (symmetries removed): what :func:`stability.stationary` receives."""
        U = self.spectrum["U"]
        A, B = U.T @ self.A @ U, U.T @ self.B @ U
        return (A + A.T) / 2, (B + B.T) / 2

    def rate_exact(self, lambda_: float) -> float:
        r""":math:`\lambda\gamma_{max}/(1+\lambda\gamma_{max})`, :math:`\gamma_{max}` of :math:`Bv=\gamma Av` (quotient)."""  # noqa: E501
        from scipy import linalg

        A, B = self.reduced()
        g = float(linalg.eigh(B, A, eigvals_only=True)[-1])
        return lambda_ * g / (1 + lambda_ * g)

    def rate_crn(self, lambda_: float) -> float:
        r"""Spectral radius of the quadrature operator's exact Jacobian.

        The Jacobian is :math:`\lambda(A+\lambda B_H)^{-1}(B-\bar g\bar g^\top)`.

        Differentiating :math:`\sum_i w_i(\theta)\nabla\log p_{\theta'}(x_i)` in θ gives the weighted covariance of
        the scores; it and :math:`B_H` equal B up to the quadrature error, so this equals ``rate_exact`` up to it.
        """
        U = self.spectrum["U"]
        C = self.B - np.outer(self.gbar, self.gbar)
        J = lambda_ * np.linalg.solve(U.T @ (self.A + lambda_ * self.B_hess) @ U, U.T @ C @ U)
        return float(np.abs(np.linalg.eigvals(J)).max())

    def slowest(self) -> np.ndarray:
        """Unit generalised eigenvector of (B, A) with the largest eigenvalue (the slowest mode of J)."""
        from scipy import linalg

        A, B = self.reduced()
        _, W = linalg.eigh(B, A)
        v = self.spectrum["U"] @ W[:, -1]
        return v / np.linalg.norm(v)


def flow_problem(model, x, *, beta: float = 0.0, mass_tol: float = 1e-6, fit=None, **fit_options) -> FlowProblem:
    """Fit θ* (:func:`fit_theta_star`, unless a stored ``fit`` is given), build the quadrature rule for
    :math:`p_{\theta^*}` (mass error at most ``mass_tol``) and form the curvature."""
    from stability.numerical.expectations import build_expectations

    if fit is None:
        fit = fit_theta_star(model, x, beta=beta, **fit_options)
    ex = build_expectations(model, np.asarray(x, float), fit["theta"], mass_tol=mass_tol)
    c = curvature_at(model, x, fit["theta"], ex, beta=beta)
    spec = classify_spectrum(c["A"], c["B"])
    spec["quadrature"] = ex.method["model"]
    return FlowProblem(model, np.asarray(x, float), fit["theta"], ex, c["A"], c["B"], c["B_hess"], c["gbar"], fit,
                       spec, float(beta))  # fmt: skip


# ----------------------------------------------------------------------------------------------------------
# Refits: preconditioned Newton-CG on the mixed objective


def refit(f, theta0, P, *, gtol: float = REFIT_GTOL, max_newton: int = 30, inner: int = 300) -> OptimResult:
    r"""The stationary point of ``f`` reached from ``theta0`` by Newton's method on :math:`\nabla f = 0`.

    Each Newton system :math:`-\nabla^2 f\,p = \nabla f` is solved by MINRES (Hessian-vector products,
    preconditioned by the Cholesky factor ``P`` of a positive definite approximation of :math:`-\nabla^2 f`,
    here :math:`(A+\lambda B)/(1+\lambda)`); steps are halved until :math:`\|\nabla f\|_2` decreases.
    Converged when :math:`\|\nabla f\|_\infty \le` ``gtol``.

    Why a stationary point and not a maximum: on finitely many model draws the Hessian form
    :math:`B_H` need not be positive semi-definite, and :math:`A + \lambda B_H` was measured indefinite
    (smallest eigenvalue -0.0055, tiny test flow, m = 2000), so the mixed objective can have a saddle
    where the theory has its maximum. The implicit-function linearisation of docs/theory.md §3 describes
    the stationary point continued from θ*, which is what Newton's method on the gradient finds.
    """
    from scipy.linalg import cho_solve
    from scipy.sparse import linalg as splinalg

    th = _t(theta0)
    d = th.numel()
    method = "Newton (MINRES, preconditioned by the curvature at theta*) on grad f = 0"
    Minv = splinalg.LinearOperator((d, d), matvec=lambda r: cho_solve(P, r), dtype=float)

    def grad(t):
        t = t.clone().requires_grad_(True)
        v = f(t)
        (g,) = torch.autograd.grad(v, t, create_graph=True)
        return t, v, g

    x, v, g = grad(th)
    for it in range(max_newton + 1):
        gd = g.detach()
        gnorm, val = float(gd.abs().max()), float(v.detach())
        if not math.isfinite(val) or not math.isfinite(gnorm):
            return OptimResult(th.numpy(), val, gnorm, it, False, method, "objective or gradient not finite")
        if gnorm <= gtol:
            return OptimResult(th.numpy(), val, gnorm, it, True, method, "gradient below tolerance")
        if it == max_newton:
            break

        def mv(u, g=g, x=x):
            ut = torch.as_tensor(np.asarray(u).reshape(-1), dtype=DTYPE)
            return -torch.autograd.grad(g, x, grad_outputs=ut, retain_graph=True)[0].numpy()

        op = splinalg.LinearOperator((d, d), matvec=mv, dtype=float)
        p, _ = splinalg.minres(op, gd.numpy(), M=Minv, rtol=1e-12, maxiter=inner)
        p = _t(p)
        g2 = float(gd.norm())
        step = 1.0
        while step > 1e-6:
            xn, vn, gn = grad(th + step * p)
            if math.isfinite(float(vn.detach())) and float(gn.detach().norm()) < g2:
                break
            step /= 2
        else:
            return OptimResult(th.numpy(), val, gnorm, it, False, method, "no step reduced the gradient")
        th, x, v, g = xn.detach(), xn, vn, gn
    return OptimResult(th.numpy(), val, gnorm, max_newton, False, method, f"no convergence in {max_newton} steps")


def _chol(M):
    from scipy.linalg import cho_factor

    M = (M + M.T) / 2
    # the symmetry directions of the quotient (if any) get the largest curvature, so steps never move them
    return cho_factor(M, lower=True)


def _precondition(problem: FlowProblem, lambda_: float):
    A, B = problem.A, problem.B
    M = (A + lambda_ * B) / (1 + lambda_)
    ev, V = np.linalg.eigh(M)
    floor = NULL_RTOL * ev[-1]
    if ev[0] <= floor:
        M = (V * np.maximum(ev, floor)) @ V.T
    return _chol(M)


# ----------------------------------------------------------------------------------------------------------
# Prediction 1: the common-random-number operator from theta* + delta


def contraction(problem: FlowProblem, lambda_: float, delta, steps: int, *, gtol: float = REFIT_GTOL) -> dict:
    r"""Iterate the common-random-number :math:`G_\lambda` (module docstring) ``steps`` times from θ* + ``delta``.

    Returns ``dist`` (:math:`\|\theta_t-\theta^*\|_2`, t = 0..steps), ``ratio`` (per-step ratios),
    ``rate_exact``, ``rate_crn`` and each refit's gradient norm and Newton iterations.
    """
    model, ex = problem.model, problem.ex
    xt = _t(problem.x)
    gbar = _t(problem.gbar)
    lam = float(lambda_)
    P = _precondition(problem, lam)
    th_star = _t(problem.theta_star)
    th = th_star + _t(delta)
    dist = [float((th - th_star).norm())]
    grads, iters = [], []
    for _ in range(int(steps)):
        with torch.no_grad():
            w = ex.model_weights(model, th)
        keep = w > 1e-16 * w.max()
        xs, w = ex.x_model[keep], w[keep]

        def f(tp, xs=xs, w=w):
            model_term = (w * model.log_prob(tp, xs)).sum() - gbar @ tp
            return (data_term(model, xt, tp, problem.beta) + lam * model_term) / (1 + lam)

        r = refit(f, th, P, gtol=gtol)
        r.raise_if_failed(f"G_lambda step (lambda = {lam:g})")
        th = _t(r.theta)
        grads.append(r.grad_norm)
        iters.append(r.iterations)
        dist.append(float((th - th_star).norm()))
    d = np.array(dist)
    # the linearisation's own prediction of every ratio: e_{t+1} = J e_t, J = lambda (A + lambda B)^{-1} B
    J = lam * np.linalg.solve(problem.A + lam * problem.B, problem.B)
    e = [np.asarray(delta, dtype=float)]
    for _ in range(int(steps)):
        e.append(J @ e[-1])
    dp = np.linalg.norm(np.array(e), axis=1)
    return {
        "lambda": lam,
        "dist": d.tolist(),
        "ratio": (d[1:] / d[:-1]).tolist(),
        "ratio_linear": (dp[1:] / dp[:-1]).tolist(),
        "rate_exact": problem.rate_exact(lam),
        "rate_crn": problem.rate_crn(lam),
        "grad_inf": grads,
        "newton_steps": iters,
    }


# ----------------------------------------------------------------------------------------------------------
# Predictions 2 and 3: finite-sample chains


def _round_seed(seed: int, chain: int, gen: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(chain), int(gen)]).generate_state(1, np.uint64)[0] >> 2)


def _round_objective(problem, lambda_, theta, seed):
    """The mixed objective of one round: mean over the n real points and k fresh draws of p_theta."""
    model = problem.model
    n = problem.n
    k = n if math.isinf(lambda_) else synthetic_count(n, lambda_)  # purely synthetic: n fresh points
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(k, model.data_dim, generator=gen, dtype=DTYPE)
    with torch.no_grad():
        ys = model.push(_t(theta), z)
    xt, beta = _t(problem.x), problem.beta
    if math.isinf(lambda_):  # synthetic only; the prior stays (it keeps the maximiser finite)
        return lambda tp: data_term(model, ys, tp, beta)
    return lambda tp: (n * data_term(model, xt, tp, beta) + model.log_prob(tp, ys).sum()) / (n + k)


class _AtMaximum:
    """The flow wrapper as :func:`stability.retrain_chains` takes it: the same log-density and exact sampler,
    started at θ* (``initial_theta``), so the library's fit of θ* stops at once (its gradient is already below
    the tolerance) instead of refitting from the flow's initialisation (where its optimiser stalls at saddles)."""

    def __init__(self, model, theta_star):
        self._model, self._theta = model, np.asarray(theta_star, dtype=float)

    def __getattr__(self, name):
        return getattr(self._model, name)

    def initial_theta(self, x, w) -> np.ndarray:
        return self._theta.copy()

    def __repr__(self) -> str:
        return f"{self._model!r} at theta*"


def refit_chains(problem: FlowProblem, lambda_: float, generations: int, chains: int, seed: int, *, history=None,
                 on_generation=None, gtol: float = CHAIN_GTOL, max_iter: int = 50) -> np.ndarray:  # fmt: skip
    r"""Finite-sample retraining refitted to convergence each round (prediction 2), all chains from θ*.

    Each generation is one call of :func:`stability.retrain_chains` (``generations=1``, all chains at once,
    ``prior_precision`` = ``problem.beta``, ``gtol``, ``max_iter`` Newton steps) from the current parameters, seeded by
    ``(seed, generation)``, so a resumed run reproduces the same numbers. Round t draws
    :math:`k=\lfloor\lambda n\rfloor` points of :math:`p_{\theta_t}` (zuko's sampler) and refits
    :math:`\frac{1}{1+\lambda}(D_\beta + \lambda\,\frac1k\sum_j\log p_\theta(y_j))` by batched modified Newton.
    ``lambda_ = inf`` (synthetic only, which ``retrain_chains`` excludes: no real term) keeps the former
    per-chain loop (:func:`_chord`). Returns :math:`\theta_t`, shape (chains, generations+1, d).
    ``history``: stored generations 0..t0 (chains, t0+1, d) to resume from; ``on_generation(t, thetas)``
    is called after each generation with generations 0..t (checkpointing).
    """
    from stability.numerical.chains import retrain_chains

    lam = float(lambda_)
    if math.isinf(lam):

        def step(f, th):
            r = _chord(f, th)
            if not r.converged:  # the library's dense modified Newton from where the chord method stopped
                r = maximize(f, r.theta, gtol=REFIT_GTOL, max_iter=200, dense=True)
            return r.raise_if_failed(f"refit (lambda = {lam:g})").theta

        return _chains(problem, lam, generations, chains, seed, history, on_generation, step)
    model = _AtMaximum(problem.model, problem.theta_star)
    d = problem.theta_star.size
    out = np.empty((int(chains), int(generations) + 1, d))
    out[:, 0] = problem.theta_star
    t0 = 0
    if history is not None:
        history = np.asarray(history, dtype=float)
        t0 = history.shape[1] - 1
        out[:, : t0 + 1] = history
    for t in range(t0, int(generations)):
        r = retrain_chains(model, problem.x, lam, generations=1, chains=int(chains), seed=_round_seed(seed, 0, t),
                           theta0=out[:, t], gtol=gtol, max_iter=max_iter, prior_precision=problem.beta)  # fmt: skip
        out[:, t + 1] = r.theta[1]
        if on_generation is not None:
            on_generation(t + 1, out[:, : t + 2])
    return out


def _chord(f, theta0, *, gtol: float = REFIT_GTOL, max_iter: int = 40) -> OptimResult:
    """Newton's method with the (eigenvalue-modified) Hessian of the start kept fixed (the chord method), Armijo
    backtracking. One Hessian per refit: a round moves θ by O(1/sqrt(k)), so the start's curvature is close."""
    th = _t(theta0)
    H = torch.autograd.functional.hessian(f, th)
    ev, V = torch.linalg.eigh(-(H + H.T) / 2)
    ev = ev.abs().clamp(min=EIG_FLOOR * float(ev.abs().max()))
    method = "chord Newton (Hessian of the start, modified) + Armijo"
    gnorm, val = math.inf, math.nan
    for it in range(max_iter + 1):
        x = th.clone().requires_grad_(True)
        v = f(x)
        (g,) = torch.autograd.grad(v, x)
        val, gnorm = float(v.detach()), float(g.abs().max())
        if not (math.isfinite(val) and math.isfinite(gnorm)):
            return OptimResult(th.numpy(), val, gnorm, it, False, method, "objective or gradient not finite")
        if gnorm <= gtol:
            return OptimResult(th.numpy(), val, gnorm, it, True, method, "gradient below tolerance")
        if it == max_iter:
            break
        p = V @ ((V.T @ g) / ev)
        slope, step = float(g @ p), 1.0
        while step > 1e-8:
            with torch.no_grad():
                fv = float(f(th + step * p))
            if math.isfinite(fv) and fv >= val + ARMIJO * step * slope - 8 * 2.2e-16 * abs(val):
                break
            step /= 2
        else:
            return OptimResult(th.numpy(), val, gnorm, it, False, method, "line search found no ascent")
        th = (th + step * p).detach()
    return OptimResult(th.numpy(), val, gnorm, max_iter, False, method, f"no convergence in {max_iter} steps")


def budget_chains(problem: FlowProblem, lambda_: float, generations: int, chains: int, seed: int, *,
                  steps: int = 100, lr: float = 1e-3, history=None, on_generation=None) -> np.ndarray:  # fmt: skip
    r"""The paper's protocol (prediction 3): each round runs ``steps`` full-batch Adam steps (``lr``, fresh
    optimiser state) on the round's mixed objective from the current weights, instead of refitting.
    Round t of chain c pushes base noise seeded by ``(seed, c, t)`` through the flow (its own draws, not those of
    :func:`refit_chains`); returns (chains, generations+1, d).
    """

    def adam(f, th):
        p = torch.tensor(np.asarray(th, dtype=float), dtype=DTYPE, requires_grad=True)  # a copy: Adam works in place
        opt = torch.optim.Adam([p], lr=lr)
        for _ in range(int(steps)):
            opt.zero_grad()
            (-f(p)).backward()
            opt.step()
        return p.detach().numpy()

    return _chains(problem, float(lambda_), generations, chains, seed, history, on_generation, adam)


def _chains(problem, lam, generations, chains, seed, history, on_generation, step):
    d = problem.theta_star.size
    out = np.empty((int(chains), int(generations) + 1, d))
    t0 = 0
    out[:, 0] = problem.theta_star
    if history is not None:  # resume: the stored generations 0..t0
        history = np.asarray(history, dtype=float)
        t0 = history.shape[1] - 1
        out[:, : t0 + 1] = history
    for t in range(t0, int(generations)):
        for c in range(int(chains)):
            f = _round_objective(problem, lam, out[c, t], _round_seed(seed, c, t))
            out[c, t + 1] = step(f, out[c, t])
        if on_generation is not None:
            on_generation(t + 1, out[:, : t + 2])
    return out


def excess_nll(problem: FlowProblem, thetas) -> np.ndarray:
    r"""Excess of the real-data objective, :math:`D_\beta(\theta^*) - D_\beta(\theta)`, for ``thetas`` (..., d).

    With the prior (``problem.beta > 0``) this is the excess negative log-posterior per real point; the
    first-order law predicts it as :math:`\tfrac12\operatorname{tr}(AC)` with A its curvature."""
    model = problem.model
    xt = _t(problem.x)
    th = np.asarray(thetas, dtype=float)
    flat = th.reshape(-1, th.shape[-1])
    with torch.no_grad():
        ref = float(data_term(model, xt, _t(problem.theta_star), problem.beta))
        vals = np.array([ref - float(data_term(model, xt, _t(t), problem.beta)) for t in flat])
    return vals.reshape(th.shape[:-1])


def stationary_se(A, B, lambda_: float, n: int, count: int, *, k: int | None = None) -> float:
    r"""Standard error of the mean stationary excess NLL over ``count`` = chains × generations, with the
    autocorrelation the first-order law gives (docs/theory.md §9).

    In the coordinates :math:`u = V^{-1}(\theta-\theta^*)` (:math:`BV = AV\Gamma`, :math:`V^\top AV = I`) the
    components are independent AR(1) processes with coefficients :math:`d_i = \lambda\gamma_i/(1+\lambda\gamma_i)`
    and stationary variances :math:`c_i`, and the excess is :math:`\frac12\sum_i u_i^2`. Then
    :math:`\mathrm{Cov}(u_{i,t}^2, u_{i,t+\tau}^2) = 2c_i^2 d_i^{2\tau}`, so the variance of a long time
    average over ``count`` terms is :math:`\frac{1}{4\,count}\sum_i 2c_i^2(1+d_i^2)/(1-d_i^2)`.
    """
    from stability.stationary import stationary

    law = stationary(A, B, lambda_, n, k=k)
    g = law.gammas
    d = lambda_ * g / (1 + lambda_ * g)
    c = lambda_**2 * g / (law.k * (1 + 2 * lambda_ * g))
    var = 0.25 * float(np.sum(2 * c**2 * (1 + d**2) / (1 - d**2))) / int(count)
    return math.sqrt(var)


def theorem_constants(problem: FlowProblem, *, pairs: int = 10, w1_points: int = 500, seed: int = 0) -> dict:
    r"""α, ε and a lower bound on L for Theorems 1 and 2 (docs/theory.md §2, §4, §5).

    ``alpha``: smallest eigenvalue of A (quotient). ``eps``: :math:`W_1` between ``w1_points`` flow samples and
    as many real points (POT, :func:`stability.experiments.analysis.w1_samples`; itself a Monte Carlo estimate).
    ``L_lower``: :math:`\max \|\nabla^2_\theta\log p(x)-\nabla^2_\theta\log p(x')\|_2/\|x-x'\|` over ``pairs``
    pairs of each real point and its nearest neighbour, a *lower* bound on (A1)'s constant. Both bounds
    grow with L, so a bound that is infinite with ``L_lower`` is infinite with the true L.
    """
    from stability.experiments.analysis import w1_samples

    model = problem.model
    th = _t(problem.theta_star)
    Ar, _ = problem.reduced()
    alpha = float(np.linalg.eigvalsh(Ar)[0])
    rng = np.random.default_rng(seed)
    x = problem.x
    idx = rng.choice(x.shape[0], min(pairs, x.shape[0]), replace=False)
    L = 0.0
    for i in idx:
        dist = np.linalg.norm(x - x[i], axis=1)
        dist[i] = np.inf
        j = int(np.argmin(dist))
        H = [torch.autograd.functional.hessian(lambda t, p=p: model.log_prob(t, _t(x[p][None]))[0], th).numpy()
             for p in (i, j)]  # fmt: skip
        L = max(L, float(np.linalg.norm(H[0] - H[1], 2)) / float(dist[j]))
    m = min(w1_points, x.shape[0])
    ys = model.sample(th, m, torch.Generator().manual_seed(seed)).numpy()
    eps = w1_samples(ys, x[rng.choice(x.shape[0], m, replace=False)])
    return {"alpha": alpha, "eps": eps, "L_lower": L, "kappa_lower": L * eps / alpha}


# ----------------------------------------------------------------------------------------------------------
# The stored, resumable run

DEFAULT = {
    "data": ["moons", "eight_gaussians"],
    "n": 500,
    "data_seed": 1,
    "transforms": 2,
    "hidden": [4],
    "flow_seed": 0,
    "beta": 1e-2,
    # quadrature mass tolerance per data set: eight Gaussians' sharp modes need 5.8 million points for 1e-6
    # (h = 0.01); 1e-3 keeps its rule small, and the rule's error shows in rate_crn - rate_exact
    "mass_tol": {"moons": 1e-6, "eight_gaussians": 1e-3},
    "fit": {"adam_steps": 1000, "lr": 1e-2, "lbfgs_iter": 1000, "newton_iter": 100},
    "contraction_lambdas": [0.25, 1.0, 4.0],
    "delta": 1e-3,
    "steps_slowest": 4,
    "steps_random": 30,
    "lambdas": [0.25, 0.5, 1.0, 2.0, 4.0],
    "chains": 5,
    "generations": 14,
    "burn_in": 2,
    # a refit that hops to a neighbouring near-maximum takes > 50 Newton steps (measured, moons lambda = 1)
    "refit": {"gtol": 1e-10, "max_iter": 200},
    "budget": {"steps": 50, "lr": 1e-3},
    "synthetic_generations": 50,
    "seed": 0,
}
FAST = {**DEFAULT, "data": ["moons"], "n": 200, "transforms": 1, "hidden": [4], "lambdas": [1.0],
        "contraction_lambdas": [1.0],
        "fit": {"adam_steps": 500, "lr": 1e-2, "lbfgs_iter": 500, "newton_iter": 50}, "steps_slowest": 2,
        "steps_random": 3, "chains": 1, "generations": 3, "burn_in": 1, "synthetic_generations": 3,
        "budget": {"steps": 10, "lr": 1e-3}}  # fmt: skip
# The scale check (issue 13): d = 204 (3 transforms, hidden [16]) on n = 1,000 moons. With beta = 1e-2 the round
# objective is not concave at theta* and refits jump far; with beta >= 0.5 theta* = 0 (the flow is the standard
# Gaussian). beta = 0.1 (measured, results/cpu/README.md): min eig(A) 0.052, first Newton steps of norm 0.04-0.06,
# refits land in the quadratic region (2 x excess = ||e||_A^2 to 5 %). Prediction 1 costs seconds (a G_lambda step is
# 2 Newton steps); a chain generation 25 s (lambda = 0.25) to 3 min (lambda = 4) on the shared 2-core CPU. No budget
# chains (budget None) and no purely synthetic chain (synthetic_generations 0): time.
SCALE = {**DEFAULT, "data": ["moons"], "n": 1000, "transforms": 3, "hidden": [16], "beta": 0.1,
         "contraction_lambdas": [0.25, 1.0, 4.0], "steps_slowest": 4, "steps_random": 30,
         "lambdas": [0.25, 1.0, 4.0], "chains": 4, "generations": 10, "burn_in": 2, "budget": None,
         "synthetic_generations": 0}  # fmt: skip


FIT_KEYS = ("n", "data_seed", "transforms", "hidden", "flow_seed", "beta", "fit")
# Not "generations" (nor "burn_in", used only when summarising): a chain's generations 0..t do not depend on how
# many follow (per-round seeds), so a stored shorter run is a prefix that a longer one resumes.
CHAIN_KEYS = (*FIT_KEYS, "lambdas", "chains", "refit", "budget", "synthetic_generations", "seed")
CONTRACTION_KEYS = (*FIT_KEYS, "mass_tol", "contraction_lambdas", "delta", "steps_slowest", "steps_random", "seed")
ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"default": (DEFAULT, "results/cpu/flow_validation"), "scale": (SCALE, "results/cpu/flow_validation_scale"),
           "fast": (FAST, "runs/smooth_flow_fast")}  # fmt: skip


def part_key(cfg: dict, keys=CHAIN_KEYS) -> str:
    """The key of a stored part that depends on the entries ``keys`` of ``cfg`` (:data:`FIT_KEYS`: θ*;
    :data:`CHAIN_KEYS`: the chains and ``problem.pt``; :data:`CONTRACTION_KEYS`: prediction 1)."""
    return config_hash({k: cfg[k] for k in keys}, digits=16)


def run_hash(cfg: dict) -> str:
    """The hash of a whole run's configuration (all but the data sets), recorded in ``config.json``."""
    return config_hash(cfg, omit=("data",), digits=16)


def _data(cfg, name):
    from stability.experiments.data import make_2d

    x = make_2d(name, cfg["n"], seed=cfg["data_seed"])
    return (x - x.mean(0)) / x.std(0)  # standardised: the flow's base is N(0, I)


def _model(cfg):
    from stability.experiments.analysis import FlowLikelihood

    flow = smooth_flow(2, cfg["transforms"], tuple(cfg["hidden"]), seed=cfg["flow_seed"])
    return FlowLikelihood(flow, estimate_L=False)


def load_part(path, key: str) -> dict:
    """The stored part ``path`` (a ``.pt`` file), checked to belong to the configuration ``key`` (else a
    ``ValueError``)."""
    obj = torch.load(path, weights_only=False)
    if obj.get("config") != key:
        raise ValueError(f"{path} belongs to another configuration (hash {obj.get('config')}, expected {key}); "
                         "remove it or use another folder")  # fmt: skip
    return obj


def load_problem(out, name: str, cfg: dict | None = None, *, log=print) -> FlowProblem:
    """The :class:`FlowProblem` of data set ``name``: θ* fitted (or loaded from ``fit.pt``)."""
    cfg = DEFAULT if cfg is None else cfg
    key = part_key(cfg, FIT_KEYS)  # theta* depends on these only
    folder = Path(out) / name
    model, x = _model(cfg), _data(cfg, name)
    path = folder / "fit.pt"
    fit = load_part(path, key)["fit"] if path.exists() else None
    if fit is None:
        log(f"[{name}] fitting theta* ...")
    tol = cfg["mass_tol"][name] if isinstance(cfg["mass_tol"], dict) else cfg["mass_tol"]
    problem = flow_problem(model, x, beta=cfg["beta"], mass_tol=tol, fit=fit, **cfg["fit"])
    if fit is None:
        atomic_save({"config": key, "fit": problem.fit}, path)
    return problem


def stored_chains(
    problem, folder, kind: str, lambda_: float, *, generations: int, chains: int, seed: int, key: str,
    budget: dict | None = None, refit: dict | None = None, log=print, compute: bool = True,
) -> np.ndarray | None:  # fmt: skip
    """Chains of ``kind`` ``"refit"`` (prediction 2) or ``"budget"`` (prediction 3) stored in
    ``folder/chains/<kind>_<lambda>.pt`` after every generation, resumed from there; ``key`` identifies the
    configuration (a stored file with another key is an error). Returns (chains, generations+1, d); with
    ``compute=False`` only what is stored, and ``None`` where fewer than ``generations`` are stored."""
    lam = float(lambda_)
    path = Path(folder) / "chains" / f"{kind}_{lam:g}.pt"
    history = None
    if path.exists():
        history = load_part(path, key)["thetas"]
        if history.shape[0] != chains:
            raise ValueError(f"{path} holds {history.shape[0]} chains, not {chains}")
        if history.shape[1] - 1 >= generations:
            return history[:, : generations + 1]
        if not compute:
            return None
        log(f"  resuming {kind} lambda={lam:g} at generation {history.shape[1] - 1}")
    elif not compute:
        return None

    def save(t, thetas):
        atomic_save({"config": key, "thetas": np.array(thetas)}, path)

    if kind == "budget":
        return budget_chains(problem, lam, generations, chains, seed, history=history, on_generation=save,
                             **(budget or {}))  # fmt: skip
    if kind != "refit":
        raise ValueError(f"kind must be 'refit' or 'budget', got {kind!r}")
    return refit_chains(problem, lam, generations, chains, seed, history=history, on_generation=save,
                        **({} if math.isinf(lam) else (refit or {})))  # fmt: skip


def run(out="results/cpu/flow_validation", cfg: dict | None = None, *, log=print, compute: bool = True) -> list[dict]:
    """Run (or resume) every part for every data set of ``cfg`` (default :data:`DEFAULT`); returns the summary rows.

    ``compute=False`` summarises what is stored (θ*, A, B and the theorem constants are still formed) and
    leaves ``None`` where a part is missing or incomplete."""
    from stability.bounds import bound
    from stability.stationary import stationary

    cfg = DEFAULT if cfg is None else cfg
    key = part_key(cfg, CHAIN_KEYS)  # the chains' key; each part is keyed by what it depends on
    out = Path(out)
    cfg_path = out / "config.json"
    if cfg_path.exists():
        stored = json.loads(cfg_path.read_text())
        if stored.get("hash") != run_hash(cfg):
            raise ValueError(f"{out} holds a run with another configuration (hash {stored.get('hash')}, now {key})")
    else:
        meta = {
            "hash": run_hash(cfg),
            "config": cfg,
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "commit": git_commit() or "unknown",
            "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''} torch {torch.__version__}",
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        atomic_write_text(json.dumps(meta, indent=1), cfg_path)
    rows = []
    for name in cfg["data"]:
        folder = out / name
        problem = load_problem(out, name, cfg, log=log)
        fit = problem.fit
        spec = problem.spectrum
        log(f"[{name}] theta*: |grad|_2 = {fit['grad_norm']:.2e} (relative {fit['grad_rel']:.2e}), "
            f"{spec['n_symmetries']} symmetries, {spec['n_slow']} slow modes, {spec['n_negative']} negative, "
            f"{spec['n_B_null']} null directions of B (pinned by the prior)")  # fmt: skip
        Ar, Br = problem.reduced()
        prob_path = folder / "problem.pt"
        if not prob_path.exists():
            from scipy import linalg

            atomic_save({"config": key, "theta_star": problem.theta_star, "A": problem.A, "B": problem.B,
                         "B_hess": problem.B_hess, "gbar": problem.gbar, "quadrature": spec["quadrature"],
                         "eig_A": spec["eig_A"], "gammas": linalg.eigh(Br, Ar, eigvals_only=True),
                         "n_symmetries": spec["n_symmetries"], "n_slow": spec["n_slow"]}, prob_path)  # fmt: skip
        # prediction 1
        c_path = folder / "contraction.json"
        ckey = part_key(cfg, CONTRACTION_KEYS)
        contr = json.loads(c_path.read_text()) if c_path.exists() else {"config": ckey, "runs": {}}
        if contr["config"] != ckey:
            raise ValueError(f"{c_path} belongs to another configuration")
        rng = np.random.default_rng(cfg["seed"])
        rand = problem.spectrum["U"] @ rng.standard_normal(problem.spectrum["U"].shape[1])
        starts = {"slowest": (problem.slowest(), cfg["steps_slowest"]), "random": (rand / np.linalg.norm(rand),
                                                                                     cfg["steps_random"])}  # fmt: skip
        for lam in cfg["contraction_lambdas"]:
            for label, (v, steps) in starts.items():
                k = f"{lam:g}/{label}"
                if k not in contr["runs"] and compute:
                    log(f"[{name}] prediction 1: lambda={lam:g}, start {label}")
                    contr["runs"][k] = contraction(problem, lam, cfg["delta"] * v, steps)
                    atomic_write_text(json.dumps(contr, indent=1), c_path)
        # Theorem 1 / 2 constants
        t_path = folder / "theorem.json"
        if t_path.exists():
            tc = json.loads(t_path.read_text())
        else:
            log(f"[{name}] alpha, eps, L for Theorems 1 and 2")
            tc = theorem_constants(problem, seed=cfg["seed"])
            atomic_write_text(json.dumps(tc, indent=1), t_path)
        alpha, eps, L = tc["alpha"], tc["eps"], tc["L_lower"]
        # predictions 2 and 3
        for lam in cfg["lambdas"]:
            law = stationary(Ar, Br, lam, problem.n)
            obs = {}
            for kind in ("refit", "budget"):
                if kind == "budget" and not cfg["budget"]:  # no budget chains in this configuration
                    obs[kind] = (None, None, None)
                    continue
                log(f"[{name}] {kind} chains: lambda={lam:g}")
                th = stored_chains(problem, folder, kind, lam, generations=cfg["generations"], chains=cfg["chains"],
                                   seed=cfg["seed"], key=key, budget=cfg["budget"], refit=cfg.get("refit"),
                                   log=log, compute=compute)  # fmt: skip
                if th is None:
                    obs[kind] = (None, None, None)
                    continue
                ex = excess_nll(problem, th[:, cfg["burn_in"] + 1 :])
                E = th[:, cfg["burn_in"] + 1 :] - problem.theta_star
                q = np.einsum("...i,ij,...j->...", E, problem.A, E)
                # outside the quadratic region 2 x excess and ||e||_A^2 part (a chain that wandered along a
                # curved, nearly flat ridge of D_beta: ||e||_A^2 >> 2 x excess); fraction of such states
                far = np.abs(2 * ex - q) > 0.5 * np.maximum(q, 1e-300)
                obs[kind] = (float(ex.mean()), float(q.mean()), float(far.mean()))
            count = cfg["chains"] * (cfg["generations"] - cfg["burn_in"])
            # first-order mean over the same window, from theta_0 = theta*: 1/2 sum_i c_i (1 - d_i^(2t))
            g = np.clip(law.gammas, 0, None)
            d_i, c_i = lam * g / (1 + lam * g), lam**2 * g / (law.k * (1 + 2 * lam * g))
            ts = np.arange(cfg["burn_in"] + 1, cfg["generations"] + 1)
            window = float(np.mean([0.5 * np.sum(c_i * (1 - d_i ** (2 * t))) for t in ts]))
            se = stationary_se(Ar, Br, lam, problem.n, count)
            c1 = contr["runs"].get(f"{lam:g}/random")
            c0 = contr["runs"].get(f"{lam:g}/slowest")
            rows.append({
                "data": name, "lambda": lam, "n": problem.n, "d": int(problem.theta_star.size),
                "grad_norm": fit["grad_norm"], "grad_rel": fit["grad_rel"],
                "rate_exact": law.rate, "rate_crn": c1["rate_crn"] if c1 else None,
                "observed_ratio": c1["ratio"][-1] if c1 else None,
                "observed_ratio_slowest": c0["ratio"][-1] if c0 else None,
                "linear_ratio": c1["ratio_linear"][-1] if c1 and "ratio_linear" in c1 else None,
                "contraction_steps": len(c1["ratio"]) if c1 else None,
                "excess_pred": law.excess_loss, "excess_pred_window": window, "excess_obs": obs["refit"][0],
                "excess_se": se,
                "A_norm_pred": 2 * law.excess_loss, "A_norm_obs": obs["refit"][1],
                "nonquadratic_frac": obs["refit"][2],
                "excess_obs_budget": obs["budget"][0], "A_norm_obs_budget": obs["budget"][1],
                "alpha": alpha, "eps": eps, "L_lower": L,
                "theorem1_rate": _finite(bound(lam, eps, alpha, L)),
                "theorem2_excess": _theorem2_excess(Ar, Br, lam, problem.n, eps, alpha, L),
            })  # fmt: skip
        # purely synthetic chain, for the samples panel (none when synthetic_generations is 0)
        if cfg["synthetic_generations"]:
            stored_chains(problem, folder, "refit", math.inf, generations=cfg["synthetic_generations"], chains=1,
                          seed=cfg["seed"], key=key, log=log, compute=compute)  # fmt: skip
    atomic_write_text(json.dumps(rows, indent=1), out / "summary.json")
    return rows


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _theorem2_excess(A, B, lam, n, eps, alpha, L) -> float | None:
    r"""Theorem 2's radius in excess-NLL units, :math:`\tfrac12\lambda_{max}(A)\,(e/(1-\rho_{paper}))^2`, with
    the one-step error :math:`e = \sqrt{\operatorname{tr} Q}` of the first-order law (RMS, not a
    high-probability constant); ``None`` where :math:`\rho_{paper} \ge 1` (no guarantee)."""
    from stability.bounds import finite_sample_bound

    k = synthetic_count(n, lam)
    M = np.linalg.inv(A + lam * B)
    e = math.sqrt(max(float(np.trace(lam**2 / k * M @ B @ M)), 0.0))
    r = float(finite_sample_bound(math.inf, lam, eps, e, 0.0, alpha, L))
    return _finite(0.5 * float(np.linalg.eigvalsh(A)[-1]) * r**2)


def main(argv=None) -> list[dict]:
    """The command line: run (or resume) the study, or summarise what is stored (``--stored``)."""
    parser = argparse.ArgumentParser(
        prog="python studies/smooth_flow.py",
        description="The smooth-flow study: predictions 1-3 of the local theory on a smooth MAF flow at its "
        "penalised maximum (resumable; each part is stored as it is computed).",
    )
    parser.add_argument(
        "--config", choices=sorted(CONFIGS), default="default",
        help="default: moons and eight Gaussians, d = 40 (tens of minutes on 2 cores); scale: moons, d = 204 "
        "(hours); fast: a tiny run (a minute)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, help="the run's folder (default: results/cpu/flow_validation, "
                        "results/cpu/flow_validation_scale or runs/smooth_flow_fast)")  # fmt: skip
    parser.add_argument("--stored", action="store_true", help="compute nothing: summarise the stored parts")
    args = parser.parse_args(argv)
    cfg, default_out = CONFIGS[args.config]
    out = args.out if args.out is not None else ROOT / default_out
    rows = run(out, cfg, compute=not args.stored)
    print(f"{'data':16} {'lambda':>6} {'rate_exact':>10} {'ratio':>8} {'excess law':>10} {'excess obs':>10} {'SE':>9}")
    for r in rows:
        cells = [r["rate_exact"], r["observed_ratio"], r["excess_pred_window"], r["excess_obs"], r["excess_se"]]
        print(f"{r['data']:16} {r['lambda']:6g} " + " ".join(
            f"{'-' if v is None else format(v, '.4g'):>{w}}" for v, w in zip(cells, (10, 8, 10, 10, 9), strict=True)
        ))  # fmt: skip
    print(f"wrote {out / 'summary.json'}")
    return rows


if __name__ == "__main__":
    main()
