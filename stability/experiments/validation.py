r"""Predictions of the local theory checked on a smooth normalizing flow at a true maximum θ*.

The model is :class:`~.smooth_flow.SmoothFlow` wrapped as a numerical likelihood
(:class:`~.analysis.FlowLikelihood`), on a fixed real sample :math:`x_1..x_n`. Its data objective is

.. math:: D_\beta(\theta) = \frac1n\sum_i \log p_\theta(x_i) - \frac\beta2\|\theta\|^2 ,

a Gaussian prior attached to the real-data term. Why: without it the likelihood of a tanh-conditioned flow
on moons has no maximum at finite weights (measured: 2 transforms, hidden [8] or [16], n = 1,000:
the largest weight grows 12 -> 19 -> 28 -> 35 over 40 Newton steps while the mean log-likelihood keeps
rising, -0.73 -> -0.40). Attached to the real term, the prior leaves θ* a fixed point of retraining for
every λ, and docs/theory.md §3 and §9 hold with :math:`A = -\nabla^2 D_\beta(\theta^*)` (data Hessian plus βI).

1. **Expected operator.** :math:`G_\lambda(\theta)` = the stationary point near θ of
   :math:`[D_\beta(\theta') + \lambda E_{p_\theta}\log p_{\theta'}]/(1+\lambda)`, the model expectation by the
   library's deterministic quadrature (:func:`stability.numerical.expectations.build_expectations`: a sinh
   trapezoidal rule, geometric convergence for this analytic density, mass error ~1e-11), minus the
   quadrature's residual mean score :math:`\bar g` (~1e-8) so that θ* is the exact fixed point. The issue
   suggested Monte Carlo with common random numbers (a fixed base-noise sample pushed through the flow);
   measured on the moons flow with m = 4,000 draws, that operator's own Jacobian has spectral radius 2.41
   at λ = 0.25 (rate_exact 0.83) and :math:`A+\lambda B_H` is indefinite (-0.0036): the Monte Carlo error in
   :math:`B` swamps the smallest eigenvalues of A (1e-3), and m would have to grow by orders of magnitude.
   The per-step ratio :math:`\|\theta_{t+1}-\theta^*\|/\|\theta_t-\theta^*\|` is compared with ``rate_exact``
   :math:`=\lambda\gamma_{max}/(1+\lambda\gamma_{max})` of (A, B) and with the linearisation's own ratio
   sequence :math:`\|J^{t+1}e_0\|/\|J^te_0\|`.
2. **Finite-sample process** (refit to a maximum each round; :math:`k=\lfloor\lambda n\rfloor` fresh flow
   samples; :func:`stability.retrain_chains` with ``prior_precision`` β): stationary excess of :math:`D_\beta` on
   the real sample against :func:`stability.stationary.stationary`. The excess is the quantity to compare:
   :math:`E\|\theta_t-\theta^*\|_A^2` is not, because single chains jump in one round to a neighbouring
   near-maximum (an almost flat, curved ridge of :math:`D_\beta`) where the quadratic form at θ* measures the
   chord, not the loss (measured: ``results/cpu/README.md``).
3. **Fixed budget** (the paper's deep-model protocol): each round fine-tunes a fixed number of Adam steps
   from the current weights instead of refitting; its stationary error is measured, not assumed.

Curvature. A: autograd Hessian of :math:`D_\beta`. B by quadrature of :math:`p_{\theta^*}` in two forms, Fisher
(``B``, positive semi-definite by construction, used by the predictions) and Hessian (``B_hess``); they agree
to the quadrature error for this :math:`C^2` density.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..numerical.operator import OptimResult, maximize
from ..numerical.optim import ARMIJO, DTYPE, EIG_FLOOR

__all__ = [
    "FlowProblem",
    "GRAD_REL",
    "budget_chains",
    "contraction",
    "curvature",
    "data_term",
    "excess_nll",
    "fit_theta_star",
    "flow_problem",
    "push",
    "refit",
    "refit_chains",
    "stationary_se",
    "theorem_constants",
]

# theta* must satisfy ||grad||_2 <= GRAD_REL x (RMS per-point score norm): the gradient of the mean
# log-likelihood is then 1e-7 of what a single point contributes (the "1e-7 relative").
GRAD_REL = 1e-7
# Eigenvalues below this fraction of the largest count as zero when the spectra of A and B are
# classified (autograd Hessians are accurate to ~1e-13 relative; a true symmetry sits there).
NULL_RTOL = 1e-9
# Gradient tolerance (sup norm) of every refit: objectives are means of log-densities of order one,
# whose gradients carry rounding ~1e-14; 1e-11 leaves an error in theta of 1e-11 / alpha, far below
# the per-step changes measured.
REFIT_GTOL = 1e-11
# Gradient tolerance (sup norm) of the finite-sample refits of prediction 2 (retrain_chains' default): measured,
# a few of 8 chains at lambda = 0.25 stall at 6e-11 after 50 Newton steps (rounding of a sum over n + k
# points); 1e-10 moves theta by at most 1e-10 / alpha ~ 1e-7, against per-round moves ~ 1e-2.
CHAIN_GTOL = 1e-10


def _t(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=float), dtype=DTYPE)


def data_term(model, x: torch.Tensor, theta: torch.Tensor, beta: float) -> torch.Tensor:
    r"""The real-data objective :math:`D_\beta(\theta) = \hat E_{data}\log p_\theta(x) - \tfrac\beta2\|\theta\|^2`."""
    out = model.log_prob(theta, x).mean()
    return out - 0.5 * beta * (theta * theta).sum() if beta else out


class _Push(nn.Module):
    def __init__(self, flow):
        super().__init__()
        self.flow = flow

    def forward(self, z):
        return self.flow.push(z)


def push(model, theta, z: torch.Tensor) -> torch.Tensor:
    r"""Base noise ``z`` (m, dim) through the flow at ``theta``: :math:`f^{-1}_\theta(z)` (differentiable)."""
    mod = getattr(model, "_push_module", None)
    if mod is None:
        mod = model._push_module = _Push(model.module.flow)
    full = model.full_theta(theta)
    parts = zip(model.names, torch.split(full, model._sizes), model.shapes, strict=True)
    params = {n: t.reshape(s) for n, t, s in parts}
    return torch.func.functional_call(mod, params, (z,))


def _score_scale(model, x: torch.Tensor, theta: torch.Tensor) -> float:
    """RMS over points of the per-point score norm :math:`\\|\\nabla_\\theta \\log p_\\theta(x_i)\\|_2`."""
    S = torch.func.jacfwd(lambda t: model.log_prob(t, x))(theta)
    return float(S.pow(2).sum(1).mean().sqrt())


def fit_theta_star(
    model, x, *, beta: float = 0.0, theta0=None, adam_steps: int = 3000, lr: float = 1e-2, lbfgs_iter: int = 2000,
    newton_iter: int = 200,
) -> dict:  # fmt: skip
    r"""θ* = a strict local maximiser of :math:`D_\beta` (:func:`data_term`) on the sample ``x`` (n, dim).

    ``adam_steps`` full-batch Adam steps (``lr``) from the flow's initialisation bring θ near a maximum
    (from a random start L-BFGS and Newton stall at saddles: measured, negative Hessian eigenvalues after
    500 L-BFGS iterations); then the library's optimiser (:func:`stability.numerical.operator.maximize`):
    full-batch L-BFGS then Newton-CG (``dense=False``), then its dense modified-Newton method
    (``dense=True``) until :math:`\|\nabla\|_\infty \le 10^{-11}` or ``newton_iter`` steps. Returns a dict with
    ``theta``, the objective, ``grad_norm`` (:math:`\|\nabla\|_2`), ``grad_rel`` (over the RMS per-point score
    norm, must
    be :math:`\le` :data:`GRAD_REL`), ``converged`` and the two optimiser results.
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


def curvature(model, x, theta, ex, *, beta: float = 0.0) -> dict:
    r"""A, and B in two forms (Fisher ``B``, Hessian ``B_hess``) and the mean score ``gbar`` under the model.

    ``x``: real sample (n, dim); ``ex``: the quadrature rule of
    :func:`stability.numerical.expectations.build_expectations` (points ``x_model``, weights of
    :math:`p_\theta` from ``log_base``). See the module docstring.
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
    ``U``: orthonormal basis of the quotient (all directions but the symmetries).
    """
    ev, V = np.linalg.eigh(A)
    null = ev <= rtol * ev[-1]
    bmax = float(np.linalg.eigvalsh(B)[-1])
    vBv = np.einsum("ij,jk,ki->i", V.T, B, V)
    sym = null & (vBv <= rtol * bmax)
    eB = np.linalg.eigvalsh(B)
    return {
        "eig_A": ev,
        # directions the likelihood does not see at all (B = 0); with a prior A = beta > 0 there, so they are
        # pinned, not quotiented (gamma = 0: J = 0 along them)
        "n_B_null": int((eB <= rtol * eB[-1]).sum()),
        "n_symmetries": int(sym.sum()),
        "n_slow": int((null & ~sym).sum()),
        "n_negative": int((ev < 0).sum()),
        "U": V[:, ~sym],
    }


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
    from ..numerical.expectations import build_expectations

    if fit is None:
        fit = fit_theta_star(model, x, beta=beta, **fit_options)
    ex = build_expectations(model, np.asarray(x, float), fit["theta"], mass_tol=mass_tol)
    c = curvature(model, x, fit["theta"], ex, beta=beta)
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


def synthetic_count(n: int, lambda_: float) -> int:
    """``k = floor(lambda_ n)`` fresh points per round (``n`` when ``lambda_`` is infinite: purely synthetic)."""
    if math.isinf(lambda_):
        return int(n)
    from ..schemes import synthetic_count as sc

    return int(sc(int(n), float(lambda_)))


def _round_objective(problem, lambda_, theta, seed):
    """The mixed objective of one round: mean over the n real points and k fresh draws of p_theta."""
    model = problem.model
    n = problem.n
    k = synthetic_count(n, lambda_)
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(k, model.data_dim, generator=gen, dtype=DTYPE)
    with torch.no_grad():
        ys = push(model, _t(theta), z)
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
    from ..numerical.chains import retrain_chains

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
    from scipy import linalg

    from ..stationary import stationary

    law = stationary(A, B, lambda_, n, k=k)
    g = law.gammas
    d = lambda_ * g / (1 + lambda_ * g)
    c = lambda_**2 * g / (law.k * (1 + 2 * lambda_ * g))
    var = 0.25 * float(np.sum(2 * c**2 * (1 + d**2) / (1 - d**2))) / int(count)
    _ = linalg
    return math.sqrt(var)


def theorem_constants(problem: FlowProblem, *, pairs: int = 10, w1_points: int = 500, seed: int = 0) -> dict:
    r"""α, ε and a lower bound on L for Theorems 1 and 2 (docs/theory.md §2, §4, §5).

    ``alpha``: smallest eigenvalue of A (quotient). ``eps``: :math:`W_1` between ``w1_points`` flow samples and
    as many real points (POT, :func:`~.analysis.w1_samples`; itself a Monte Carlo estimate).
    ``L_lower``: :math:`\max \|\nabla^2_\theta\log p(x)-\nabla^2_\theta\log p(x')\|_2/\|x-x'\|` over ``pairs``
    pairs of each real point and its nearest neighbour, a *lower* bound on (A1)'s constant. Both bounds
    grow with L, so a bound that is infinite with ``L_lower`` is infinite with the true L.
    """
    from .analysis import w1_samples

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
