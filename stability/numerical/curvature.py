r"""The curvature matrices of THEORY.md §3 at :math:`\theta^*`, dense or matrix-free.

:math:`A = -E_{data}[\nabla^2_\theta \log p_{\theta^*}(x)]` and
:math:`B = -E_{p_{\theta^*}}[\nabla^2_\theta \log p_{\theta^*}(x)]` (the Fisher information), with
the expectations of :mod:`.expectations`. ``dense_curvature`` forms them with autograd Hessians
(small d). ``MatrixFreeCurvature`` only applies them to vectors (Hessian-vector products by
double back-propagation, one backward pass each) and finds

- :math:`\gamma_{max}` of :math:`B v = \gamma A v` by Lanczos (ARPACK ``eigsh``, generalised
  mode) with :math:`A^{-1}` applied by conjugate gradients, hence
  ``rate_exact`` :math:`= \lambda\gamma_{max}/(1+\lambda\gamma_{max})`;
- :math:`\alpha = \lambda_{min}(A)` by Lanczos on :math:`\sigma I - A` with :math:`\sigma` the
  largest eigenvalue of :math:`A`,

without forming a d x d matrix.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse import linalg as splinalg

from .._domains import check

__all__ = ["MatrixFreeCurvature", "SpectrumResult", "dense_curvature"]

DTYPE = torch.float64
# Lanczos / CG relative tolerances: the inner CG solve is 100x tighter than the outer Lanczos
# tolerance so that its error does not limit the Ritz value's accuracy.
EIG_TOL = 1e-8
CG_RTOL = 1e-10


def _theta(problem) -> torch.Tensor:
    return torch.as_tensor(problem.theta_star, dtype=DTYPE)


def dense_curvature(problem) -> tuple[np.ndarray, np.ndarray]:
    """``(A, B)`` at :math:`\\theta^*` of a :class:`~.operator.Retraining` problem (autograd Hessians)."""
    ex, model = problem.expectations, problem.model
    th = _theta(problem)
    with torch.no_grad():
        w = ex.model_weights(model, th)
    A = -torch.autograd.functional.hessian(lambda t: ex.data_mean(model, t), th)
    B = -torch.autograd.functional.hessian(lambda t: ex.model_mean(model, w, t), th)
    A, B = A.numpy(), B.numpy()
    return (A + A.T) / 2, (B + B.T) / 2


@dataclass(frozen=True)
class SpectrumResult:
    """A Lanczos eigenvalue with its cost: matrix-vector products (HVPs) and seconds."""

    value: float
    hvps: int
    seconds: float
    converged: bool
    message: str = ""


class _HVP:
    """v -> -Hessian(f)(theta) v by double back-propagation, the gradient graph built once."""

    def __init__(self, f, theta: torch.Tensor):
        self.theta = theta.detach().clone().requires_grad_(True)
        (self.g,) = torch.autograd.grad(f(self.theta), self.theta, create_graph=True)
        self.count = 0
        self.d = theta.numel()

    def __call__(self, v: np.ndarray) -> np.ndarray:
        self.count += 1
        vt = torch.as_tensor(np.ascontiguousarray(v).reshape(-1), dtype=DTYPE)
        (hv,) = torch.autograd.grad(self.g, self.theta, grad_outputs=vt, retain_graph=True)
        return -hv.numpy()

    def operator(self) -> splinalg.LinearOperator:
        return splinalg.LinearOperator((self.d, self.d), matvec=self, rmatvec=self, dtype=float)


class MatrixFreeCurvature:
    r"""Matrix-free :math:`A` and :math:`B` of a :class:`~.operator.Retraining` problem.

    >>> from scipy import stats
    >>> from stability.numerical.models import StudentT
    >>> from stability.numerical.operator import Retraining
    >>> mf = MatrixFreeCurvature(Retraining(StudentT(4.0), stats.norm()))
    >>> A, B = dense_curvature(mf.problem)
    >>> from stability.jacobian import generalized_eigenvalues
    >>> bool(abs(mf.gamma_max().value - generalized_eigenvalues(A, B)[-1]) < 1e-6)
    True
    """

    def __init__(self, problem, *, seed: int = 0):
        self.problem = problem
        ex, model = problem.expectations, problem.model
        th = _theta(problem)
        with torch.no_grad():
            w = ex.model_weights(model, th)
        self.A = _HVP(lambda t: ex.data_mean(model, t), th)
        self.B = _HVP(lambda t: ex.model_mean(model, w, t), th)
        self.d = th.numel()
        self._v0 = np.random.default_rng(seed).standard_normal(self.d)
        self._gamma: SpectrumResult | None = None

    def _count(self) -> int:
        return self.A.count + self.B.count

    def solve_A(self, b: np.ndarray) -> np.ndarray:
        """:math:`A^{-1} b` by conjugate gradients (raises if CG fails: A is then not SPD)."""
        x, info = splinalg.cg(self.A.operator(), b, rtol=CG_RTOL, atol=0.0, maxiter=10 * self.d)
        if info != 0:
            raise np.linalg.LinAlgError(f"conjugate gradients on A did not converge (info={info}); A may be singular")
        return x

    def gamma_max(self) -> SpectrumResult:
        r"""Largest generalised eigenvalue of :math:`Bv = \gamma Av` (Lanczos, :math:`A^{-1}` by CG)."""
        if self._gamma is not None:
            return self._gamma
        n0, t0 = self._count(), time.perf_counter()
        Minv = splinalg.LinearOperator((self.d, self.d), matvec=self.solve_A, dtype=float)
        try:
            vals = splinalg.eigsh(
                self.B.operator(), k=1, M=self.A.operator(), Minv=Minv, which="LA", tol=EIG_TOL, v0=self._v0,
                return_eigenvectors=False,
            )  # fmt: skip
            res = SpectrumResult(float(max(vals[0], 0.0)), self._count() - n0, time.perf_counter() - t0, True)
        except (splinalg.ArpackNoConvergence, np.linalg.LinAlgError) as e:
            res = SpectrumResult(math.nan, self._count() - n0, time.perf_counter() - t0, False, str(e))
        self._gamma = res
        return res

    def rate_exact(self, lambda_) -> float:
        r""":math:`\lambda\gamma_{max}/(1+\lambda\gamma_{max})` (NaN if Lanczos failed)."""
        lam = float(check("lambda_", lambda_))
        g = self.gamma_max().value
        if math.isinf(lam):
            return 1.0 if g > 0 else 0.0
        return lam * g / (1 + lam * g)

    def alpha(self) -> SpectrumResult:
        """Smallest eigenvalue of A: Lanczos for the largest of A, then of (sigma I - A)."""
        n0, t0 = self._count(), time.perf_counter()
        A = self.A.operator()
        try:
            sigma = float(splinalg.eigsh(A, k=1, which="LA", tol=EIG_TOL, v0=self._v0, return_eigenvectors=False)[0])
            shifted = splinalg.LinearOperator((self.d, self.d), matvec=lambda v: sigma * v - self.A(v), dtype=float)
            top = float(
                splinalg.eigsh(shifted, k=1, which="LA", tol=EIG_TOL, v0=self._v0, return_eigenvectors=False)[0]
            )
            return SpectrumResult(sigma - top, self._count() - n0, time.perf_counter() - t0, True)
        except splinalg.ArpackNoConvergence as e:
            return SpectrumResult(math.nan, self._count() - n0, time.perf_counter() - t0, False, str(e))
