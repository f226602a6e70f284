r"""A trained flow as a numerical likelihood model, so :func:`stability.analyze` applies to it.

:class:`FlowLikelihood` wraps a :class:`~.models.Flow` (zuko neural spline flow) as a
:class:`~stability.numerical.models.LikelihoodModel`: ``log_prob(theta, x)`` evaluates
:math:`\log p_\theta(x)` for a flat parameter vector ``theta`` (float64) with
``torch.func.functional_call`` on a float64 copy of the flow, so autograd gives the curvature
matrices A and B of docs/theory.md §3 and the retraining operator :math:`G_\lambda` of §1.

Coordinates. zuko's masked (MADE) layers hold full weight matrices and multiply them by a fixed
0/1 mask, so the masked entries never enter :math:`\log p_\theta`: their rows and columns of
:math:`A` and :math:`B` are exactly zero and gradient training never moves them. ``theta`` is
therefore the vector of *free* entries (every bias, the unmasked weights), in the order of
:func:`~.models.parameter_vector` (``free_mask`` selects them from that vector). The masked
entries stay at the wrapped flow's values.

Where the library cannot be used as is, and what is done instead (each step reported in
``details``):

* **theta*.** The library fits :math:`\theta^*` by maximum likelihood to ``|grad| <= 1e-10``. For a
  ReLU spline flow started at the pretrained :math:`\theta` this does not converge (measured for a
  198-parameter flow, 1 transform, hidden [8, 8], 4 bins, 1,500 Adam steps on 500 moons points: the
  mean training log-likelihood keeps rising, from -1.64 to -1.30 nats after 100 Newton steps and to
  -1.33 after 1,822 L-BFGS steps, with ``|grad|_inf`` still 0.1-0.5): Adam's pretrained
  :math:`\theta` is not near a strict local maximum.
  ``fit=True`` runs the library (:func:`stability.numerical.local_constants`) and records its refusal
  (``details["refusal"]``); the analysis is then, as with ``fit=False``, *at the wrapped flow's own
  theta* (the pretrained one), which is not a fixed point of :math:`G_\lambda` (``details["grad_inf"]``).
* **Quadrature.** :math:`p_\theta` is only :math:`C^1` in :math:`x` (spline knots), so the library's
  2-D trapezoidal rule cannot reach its mass tolerance 1e-9; :data:`MASS_TOL` accepts its first rule
  and the mass error is reported.
* **B.** :math:`\log p_\theta(x)` is only piecewise smooth in :math:`\theta` (ReLU kinks, spline bin
  edges), so the average of pointwise Hessians under the model misses the terms from kinks that move
  with :math:`\theta` (as for the library's Laplace model) and is not even positive semi-definite
  here; :func:`fisher` uses the outer-product (Fisher) form instead. A is the autograd Hessian of the
  mean training log-likelihood (a finite sum: the kinks have measure zero).
* **A singular or indefinite.** At a true local maximum the ReLU rescaling symmetry (a hidden unit's
  incoming weights and bias times :math:`c > 0`, its outgoing weights over :math:`c`) gives null
  directions of A and B; at the pretrained :math:`\theta` A also has negative eigenvalues. The library
  refuses both (``ValueError``: A must be positive definite; ``quotient=False`` shows it). With
  ``quotient=True`` (default) the analysis is restricted to :math:`U`, an orthonormal basis of the
  eigenvectors of A above ``rtol`` times its largest eigenvalue: :math:`\tilde A = U^\top A U`,
  :math:`\tilde B = U^\top B U` (the curvature of :math:`z \mapsto \log p_{\theta + Uz}`). At a local
  maximum this quotients out the symmetries; at the pretrained :math:`\theta` it also drops the
  directions of negative curvature (counted in ``details["negative_A"]``), so its ``rate_exact`` is the
  rate of the positive-curvature subspace only, ``alpha`` is the smallest kept eigenvalue (a
  threshold-dependent number) and ``details["alpha_full"]`` is :math:`\lambda_{min}(A)`.

``L`` and ``eps`` are the numerical module's estimators (:func:`stability.numerical.lipschitz`, grid
maximum of :math:`\|\partial_x\nabla^2_\theta\log p_{\theta^*}(x)\|` over the data's box, and
:func:`stability.numerical.wasserstein`, exact POT transport between the data and :math:`p_{\theta^*}`
on a 40x40 grid). A sample-based :math:`W_1` (POT ``emd2`` between ``m`` flow samples and ``m``
data points) is added in ``details["eps_samples"]`` as a cross-check.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from ..numerical.models import LikelihoodModel
from ..numerical.optim import DTYPE
from ..report import LocalConstants

__all__ = ["MASS_TOL", "QUOTIENT_RTOL", "FlowLikelihood", "fisher", "flow_constants", "w1_samples"]

# Eigenvalues of A below this fraction of its largest are treated as null directions in the
# quotient analysis. Rounding in autograd Hessians is ~1e-13 relative; the symmetry directions of a
# ReLU flow sit at that level, the identifiable ones well above 1e-8 (see the report's spectrum).
QUOTIENT_RTOL = 1e-8
# Quadrature mass tolerance for p_theta on the 2-D sinh grid. A rational-quadratic spline is only C^1,
# so the flow's density has kinks at the bin edges and the trapezoidal rule converges as O(h^2), not
# geometrically: the library's 1e-9 is out of reach (1.5e-4 at h = 0.01, 5.8 million points).
# 1e-2 accepts the library's first rule (h = 0.08); the actual mass error is reported in details.
MASS_TOL = 1e-2


class _FlowCall(nn.Module):
    """``forward(x) = flow.<method>(x)`` (``log_prob``: the whole density evaluation; ``push``: base
    noise through the flow) inside one module call, the parameters named ``flow.*`` either way."""

    def __init__(self, flow, method: str):
        super().__init__()
        self.flow, self.method = flow, method

    def forward(self, x):
        return getattr(self.flow, self.method)(x)


class FlowLikelihood(LikelihoodModel):
    """A trained :class:`~.models.Flow` (or any module with ``log_prob``) as a numerical model.

    ``flow``: the trained model (copied to float64; the original is untouched). ``theta`` is the
    vector of free parameters (see the module docstring); ``theta0`` is the wrapped flow's.
    """

    name = "flow"
    support = "real"

    def __init__(
        self, flow: nn.Module, *, quotient: bool = True, rtol: float = QUOTIENT_RTOL, fit: bool = False,
        estimate_L: bool = True,
    ):  # fmt: skip
        if not hasattr(flow, "log_prob"):
            raise ValueError(f"flow must have a log_prob(x) method, got {type(flow).__name__}")
        if not (isinstance(rtol, float | int) and 0 < rtol < 1):
            raise ValueError(f"rtol must be in (0, 1), got {rtol!r}")
        self.quotient, self.rtol, self.fit, self.estimate_L = bool(quotient), float(rtol), bool(fit), bool(estimate_L)
        self.module = _FlowCall(copy.deepcopy(flow).to("cpu", DTYPE).eval(), "log_prob")
        self.names, self.shapes, masks = [], [], []
        for name, p in self.module.named_parameters():
            owner = self.module.get_submodule(name.rsplit(".", 1)[0]) if "." in name else self.module
            mask = getattr(owner, "mask", None)
            free = torch.ones(p.shape, dtype=torch.bool)
            if name.endswith("weight") and isinstance(mask, torch.Tensor) and mask.shape == p.shape:
                free = mask.to(torch.bool).cpu()
            self.names.append(name)
            self.shapes.append(tuple(p.shape))
            masks.append(free.reshape(-1))
        self.free_mask = torch.cat(masks).numpy()
        self._full0 = torch.cat([p.detach().reshape(-1) for p in self.module.parameters()])
        self._idx = torch.as_tensor(np.flatnonzero(self.free_mask))
        self.theta0 = self._full0[self._idx].numpy().copy()
        self.n_params = int(self._idx.numel())
        shape = getattr(flow, "shape", None)
        self.data_dim = int(math.prod(shape)) if shape is not None else 2
        self._sizes = [math.prod(s) for s in self.shapes]

    def full_theta(self, theta) -> torch.Tensor:
        """The full parameter vector (masked entries included) for free parameters ``theta``."""
        theta = torch.as_tensor(theta, dtype=DTYPE)
        return self._full0.index_put((self._idx,), theta)

    def free_theta(self, full) -> np.ndarray:
        """The free entries of a full parameter vector (e.g. from :func:`~.loop.flow_parameters`), ``(..., d)``."""
        return np.asarray(full, dtype=float)[..., self.free_mask]

    def _params(self, theta) -> dict:
        parts = zip(self.names, torch.split(self.full_theta(theta), self._sizes), self.shapes, strict=True)
        return {n: t.reshape(s) for n, t, s in parts}

    def log_prob(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\log p_\theta(x)`, shape ``(N,)``, differentiable in ``theta`` and ``x``."""
        return torch.func.functional_call(self.module, self._params(theta), (x.to(DTYPE),))

    def push(self, theta, z: torch.Tensor) -> torch.Tensor:
        r"""Base noise ``z`` (m, data_dim) through the flow at ``theta``: :math:`f^{-1}_\theta(z)`, differentiable
        in ``theta`` (a draw of :math:`p_\theta` when :math:`z \sim N(0, I)`: common random numbers across θ).

        Needs a wrapped flow with a ``push(z)`` method (the smooth flow of ``studies/smooth_flow.py``).
        """
        if not callable(getattr(self.module.flow, "push", None)):
            raise ValueError(f"the wrapped {type(self.module.flow).__name__} has no push(z) method")
        if getattr(self, "_push_module", None) is None:
            self._push_module = _FlowCall(self.module.flow, "push")  # shares the wrapped flow's parameters
        return torch.func.functional_call(self._push_module, self._params(theta), (z,))

    def initial_theta(self, x, w) -> np.ndarray:
        return self.theta0.copy()

    def sample(self, theta, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` draws from :math:`p_\\theta` (seeded by ``generator``), shape ``(n, data_dim)``."""
        full = self.full_theta(theta)
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
            m = copy.deepcopy(self.module)
            torch.nn.utils.vector_to_parameters(full, m.parameters())
            return m.flow.sample(int(n)).reshape(int(n), -1).to(DTYPE)

    def local_constants(self, data, *, fit: bool | None = None, seed: int = 0, w1_points: int = 1000) -> LocalConstants:
        """θ*, A, B, α, L, ε on ``data``; see :func:`flow_constants` (``fit`` defaults to ``self.fit``)."""
        fit = self.fit if fit is None else fit
        return flow_constants(self, data, fit=fit, seed=seed, w1_points=w1_points, estimate_L=self.estimate_L)

    def __repr__(self) -> str:
        return f"FlowLikelihood(n_params={self.n_params})"


def w1_samples(x: np.ndarray, y: np.ndarray) -> float:
    """Exact ``W1`` between two equal-weight point clouds (POT ``emd2``, Euclidean cost)."""
    from .._optional import require

    ot = require("ot", "W1 between samples", "experiments")

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    a, b = np.full(len(x), 1.0 / len(x)), np.full(len(y), 1.0 / len(y))
    return float(ot.emd2(a, b, ot.dist(x, y, metric="euclidean"), numItermax=10**7))


def fisher(model, ex, theta, *, chunk: int = 4096, cutoff: float = 1e-14) -> np.ndarray:
    r"""Fisher information :math:`B = \sum_i w_i(\theta) s_i s_i^\top`, :math:`s_i = \nabla_\theta \log p_\theta(x_i)`.

    The outer-product form of :math:`B` on the quadrature points ``ex.x_model`` with the weights of
    :math:`p_\theta` (points whose weight is below ``cutoff`` times the largest are skipped: their
    total weight is below ``cutoff`` times the number of points). For a flow it replaces
    :math:`-\sum_i w_i \nabla^2_\theta \log p_\theta(x_i)`: ReLU conditioners and spline bin edges make
    :math:`\log p_\theta(x)` only piecewise smooth in :math:`\theta`, and the pointwise Hessian misses the
    terms from kinks that move with :math:`\theta` (as for the Laplace model of
    :mod:`stability.numerical.nonsmooth`); the score is continuous, and the Fisher identity gives the
    curvature of :math:`\theta' \mapsto E_{p_\theta}[\log p_{\theta'}]` at :math:`\theta' = \theta`.
    """
    th = torch.as_tensor(np.asarray(theta, dtype=float), dtype=DTYPE)
    with torch.no_grad():
        w = ex.model_weights(model, th)
    keep = w > cutoff * w.max()
    x, w = ex.x_model[keep], w[keep]
    B = torch.zeros(th.numel(), th.numel(), dtype=DTYPE)
    for i in range(0, x.shape[0], chunk):
        S = torch.func.jacfwd(lambda t, xc=x[i : i + chunk]: model.log_prob(t, xc))(th)  # (m, d), forward mode
        B += S.T @ (w[i : i + chunk, None] * S)
    B = B.numpy()
    return (B + B.T) / 2


def _at(model, xs, theta, seed):
    """A problem-like object at a given theta (no fit): what the numerical estimators read."""
    from types import SimpleNamespace

    from ..numerical.expectations import build_expectations

    ex = build_expectations(model, xs, np.asarray(theta, dtype=float), seed=seed, mass_tol=MASS_TOL)
    return SimpleNamespace(model=model, data=xs, theta_star=np.asarray(theta, dtype=float), expectations=ex)


def flow_constants(
    model: FlowLikelihood, data, *, fit: bool = False, seed: int = 0, w1_points: int = 1000, estimate_L: bool = True
) -> LocalConstants:
    """θ*, A, B, α, L, ε of a wrapped flow on ``data`` (samples, shape ``(n, 2)``).

    ``fit=True`` first runs the library unchanged (:func:`stability.numerical.local_constants`, which
    fits θ* by maximum likelihood from the wrapped flow's θ and refuses a singular A); its refusal
    (``ConvergenceError`` or ``ValueError``) is recorded in ``details["refusal"]`` and the analysis
    falls back to the wrapped flow's own θ. ``fit=False`` evaluates at the wrapped flow's θ directly
    (the pretrained θ: not an exact stationary point of the training log-likelihood; its gradient
    norm is reported in ``details["grad_inf"]``). Where A is singular the quotient of the module
    docstring is analysed.
    """
    from ..numerical.constants import lipschitz, local_constants, wasserstein
    from ..numerical.operator import ConvergenceError

    xs = np.asarray(data.detach().numpy() if isinstance(data, torch.Tensor) else data, dtype=float)
    details = {"n_params": model.n_params}
    if fit:
        try:
            lc = local_constants(model, xs, seed=seed)
        except (ConvergenceError, ValueError) as err:
            details["refusal"] = f"{type(err).__name__}: {err}"
        else:
            details.update(lc.details)
            details["at"] = "theta* fitted by the library"
            details["quotient"] = "not needed: A is positive definite"
            # B in Fisher form, as on the fallback path (the library's pointwise-Hessian B misses kink terms)
            B = fisher(model, _at(model, xs, lc.theta_star, seed).expectations, lc.theta_star)
            details["A, B"] = lc.details["A, B"] + "; B replaced by the Fisher information in outer-product form"
            lc = LocalConstants(lc.model, lc.theta_star, lc.A, B, lc.alpha, lc.L, lc.eps, {})
            return _with_samples(model, xs, lc, details, seed, w1_points)
    theta = model.theta0
    problem = _at(model, xs, theta, seed)
    th = torch.as_tensor(theta, dtype=DTYPE).requires_grad_(True)
    (g,) = torch.autograd.grad(problem.expectations.data_mean(model, th), th)
    # A exactly as numerical.dense_curvature forms it (that function also forms B by Hessians on every
    # quadrature point, which is slow here and not the curvature for a piecewise-smooth flow)
    A_full = -torch.autograd.functional.hessian(lambda t: problem.expectations.data_mean(model, t), th.detach()).numpy()
    A_full = (A_full + A_full.T) / 2
    B_full = fisher(model, problem.expectations, theta)
    ev, V = np.linalg.eigh(A_full)
    keep = ev > model.rtol * ev[-1]
    if keep.all() or not model.quotient:
        U = np.eye(ev.size)
        quot = "not needed: A is positive definite" if keep.all() else "disabled (quotient=False)"
    else:
        U = V[:, keep]
        N = V[:, ~keep]
        bn = float(np.linalg.norm(B_full @ N, 2)) / max(float(np.linalg.norm(B_full, 2)), 1e-300)
        quot = (
            f"{int((~keep).sum())} of {ev.size} directions discarded (eigenvalue of A <= {model.rtol:g} x "
            f"{ev[-1]:.3g}; {int((ev < 0).sum())} of them negative); ||B V||_2 / ||B||_2 = {bn:.2e} on them"
        )
    A, B = U.T @ A_full @ U, U.T @ B_full @ U
    A, B = (A + A.T) / 2, (B + B.T) / 2
    L, L_how = lipschitz(problem) if estimate_L else (math.nan, "not estimated (estimate_L=False)")
    eps, eps_how = wasserstein(problem, seed=seed)
    details.update(
        {
            "at": "the wrapped (pretrained) flow's theta, not refitted",
            "grad_inf": float(g.abs().max()),
            "expectations": dict(problem.expectations.method),
            "A, B": (
                "A: autograd Hessian of the mean training log-likelihood; "
                "B: Fisher information in outer-product form on the quadrature points (see fisher)"
            ),
            "alpha": f"smallest eigenvalue of U^T A U, U = eigenvectors of A above {model.rtol:g} x its largest",
            "alpha_full": float(ev[0]),
            "spectrum_A": ev.tolist(),
            "negative_A": int((ev < 0).sum()),
            "quotient": quot,
            "L": L_how + " (full theta; an upper bound for the quotient since U has orthonormal columns)",
            "eps": eps_how,
        }
    )
    lc = LocalConstants("flow", np.asarray(theta), A, B, float(np.linalg.eigvalsh(A)[0]), float(L), float(eps), {})
    return _with_samples(model, xs, lc, details, seed, w1_points)


def _with_samples(model, xs, lc, details, seed, w1_points) -> LocalConstants:
    # sample-based W1 cross-check (the library's eps discretises p_theta* on a grid)
    gen = torch.Generator().manual_seed(seed)
    m = min(w1_points, xs.shape[0])
    ys = model.sample(torch.as_tensor(lc.theta_star, dtype=DTYPE), m, gen).numpy()
    sub = xs[np.random.default_rng(seed).choice(xs.shape[0], m, replace=False)]
    details["eps_samples"] = w1_samples(ys, sub)
    details["eps_samples_how"] = f"POT emd2 between {m} samples of p_theta* and {m} data points"
    return LocalConstants("flow", lc.theta_star, lc.A, lc.B, lc.alpha, lc.L, lc.eps, details)
