r"""The curvature matrices of docs/theory.md §3 at :math:`\theta^*`, dense or matrix-free.

:math:`A = -E_{data}[\nabla^2_\theta \log p_{\theta^*}(x)]` and
:math:`B = -E_{p_{\theta^*}}[\nabla^2_\theta \log p_{\theta^*}(x)]` (the Fisher information), with
the expectations of :mod:`.expectations`. ``dense_curvature`` forms them with autograd Hessians
(small d). ``MatrixFreeCurvature`` only applies them to vectors (Hessian-vector products by
double back-propagation, one backward pass each) and finds

- :math:`\gamma_{max}` of :math:`B v = \gamma A v` by LOBPCG (Knyazev 2001; ``scipy.sparse.linalg.lobpcg``
  with :math:`A` as its mass operator, so no inner solves), hence
  ``rate_exact`` :math:`= \lambda\gamma_{max}/(1+\lambda\gamma_{max})`;
- :math:`\alpha = \lambda_{min}(A)` by LOBPCG on :math:`A`;
- :math:`A^{-1}b` (``solve_A``) by conjugate gradients,

without forming a d x d matrix. Both LOBPCG runs and CG are preconditioned (Jacobi) by the inverse
diagonal of the empirical Fisher matrix of the data, :math:`\mathrm{diag}\,E_{data}[g g^T]`
with per-point scores :math:`g = \nabla_\theta \log p_{\theta^*}(x)` (``fisher_diagonal``,
one vectorised per-sample-gradient pass, ``torch.func.vmap``). It is a proxy for the scale of
:math:`A` along each coordinate (equal to ``diag A`` for a well-specified model in expectation,
the information identity); it assumes nothing about the structure of the model, and only changes
how fast the iterations converge, not what they converge to. A model whose ``log_prob`` cannot be
vmapped is run without a preconditioner (reported in the result's message).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse import linalg as splinalg

from .._domains import check
from .expectations import fisher_diagonal
from .optim import DTYPE

__all__ = ["MatrixFreeCurvature", "SpectrumResult", "dense_curvature"]

# LOBPCG residual tolerance (relative to the eigenvalue): for a symmetric pencil the Ritz value's
# error is at most residual^2 / spectral gap (Knyazev 2001), i.e. ~1e-12 / gap here.
EIG_TOL = 1e-6
BLOCK = 3  # LOBPCG block size: a few vectors make convergence robust to close top eigenvalues
MAXITER = 500
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


def _jacobi(diag: torch.Tensor) -> splinalg.LinearOperator:
    """v -> v / diag, with entries below 1e-12 x the largest raised to it (parameters the data barely moves)."""
    dg = diag.numpy()
    inv = 1.0 / np.maximum(dg, 1e-12 * max(float(dg.max()), 1e-300))
    d = inv.size

    def mv(v):
        v = np.asarray(v)
        return v * (inv if v.ndim == 1 else inv[:, None])

    return splinalg.LinearOperator((d, d), matvec=mv, matmat=mv, rmatvec=mv, dtype=float)


@dataclass(frozen=True)
class SpectrumResult:
    """An eigenvalue from LOBPCG with its cost: matrix-vector products (HVPs) and seconds."""

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

    def matmat(self, V: np.ndarray) -> np.ndarray:
        """-Hessian times the columns of V, in one batched backward pass."""
        self.count += V.shape[1]
        Vt = torch.as_tensor(np.ascontiguousarray(V.T), dtype=DTYPE)
        (hv,) = torch.autograd.grad(self.g, self.theta, grad_outputs=Vt, retain_graph=True, is_grads_batched=True)
        return -hv.numpy().T

    def operator(self) -> splinalg.LinearOperator:
        return splinalg.LinearOperator(
            (self.d, self.d), matvec=self, rmatvec=self, matmat=self.matmat, dtype=float
        )  # fmt: skip


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

    def __init__(self, problem, *, seed: int = 0, precondition: bool = True):
        self.problem = problem
        ex, model = problem.expectations, problem.model
        th = _theta(problem)
        with torch.no_grad():
            w = ex.model_weights(model, th)
        self.A = _HVP(lambda t: ex.data_mean(model, t), th)
        self.B = _HVP(lambda t: ex.model_mean(model, w, t), th)
        self.d = th.numel()
        self._seed = seed
        self._gamma: SpectrumResult | None = None
        self.precond: splinalg.LinearOperator | None = None
        self.precond_note = "no preconditioner"
        if precondition:
            try:
                diag = fisher_diagonal(model, ex.x_data, ex.w_data, th)
            except Exception as e:  # noqa: BLE001 - a log_prob torch.func cannot transform
                self.precond_note = f"no preconditioner (per-sample gradients failed: {type(e).__name__})"
            else:
                if bool(torch.all(torch.isfinite(diag))) and float(diag.max()) > 0:
                    self.precond = _jacobi(diag)
                    self.precond_note = "Jacobi preconditioner diag E_data[g g^T]"

    def _count(self) -> int:
        return self.A.count + self.B.count

    def solve_A(self, b: np.ndarray) -> np.ndarray:
        """:math:`A^{-1} b` by conjugate gradients (raises if CG fails: A is then not SPD)."""
        x, info = splinalg.cg(self.A.operator(), b, rtol=CG_RTOL, atol=0.0, maxiter=10 * self.d, M=self.precond)
        if info != 0:
            raise np.linalg.LinAlgError(f"conjugate gradients on A did not converge (info={info}); A may be singular")
        return x

    def _lobpcg(self, op, M, largest: bool) -> tuple[float, int, bool, str]:
        X = np.random.default_rng(self._seed).standard_normal((self.d, min(BLOCK, self.d)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # non-convergence is reported below instead
            out = splinalg.lobpcg(
                op,
                X,
                B=M,
                M=self.precond,
                largest=largest,
                tol=EIG_TOL,
                maxiter=MAXITER,
                retResidualNormsHistory=True,
            )
        vals = out[0]
        i = int(np.argmax(vals) if largest else np.argmin(vals))
        if len(out) == 2:  # small problems: scipy solves them densely from the operators
            return float(vals[i]), 0, True, "LOBPCG fell back to a dense solve (small d)"
        hist = out[2]
        res = float(np.atleast_1d(hist[-1])[i]) if len(hist) else math.nan
        ok = res <= EIG_TOL * max(abs(float(vals[i])), 1.0) * 10
        msg = f"LOBPCG: {len(hist)} iterations, residual {res:.1e}; {self.precond_note}"
        return float(vals[i]), len(hist), ok, msg

    def gamma_max(self) -> SpectrumResult:
        r"""Largest generalised eigenvalue of :math:`Bv = \gamma Av` (LOBPCG with B-operator A)."""
        if self._gamma is not None:
            return self._gamma
        n0, t0 = self._count(), time.perf_counter()
        val, _, ok, msg = self._lobpcg(self.B.operator(), self.A.operator(), True)
        self._gamma = SpectrumResult(max(val, 0.0), self._count() - n0, time.perf_counter() - t0, ok, msg)
        return self._gamma

    def rate_exact(self, lambda_) -> float:
        r""":math:`\lambda\gamma_{max}/(1+\lambda\gamma_{max})` (see ``gamma_max().converged``)."""
        lam = float(check("lambda_", lambda_))
        g = self.gamma_max().value
        if math.isinf(lam):
            return 1.0 if g > 0 else 0.0
        return lam * g / (1 + lam * g)

    def alpha(self) -> SpectrumResult:
        """Smallest eigenvalue of A (LOBPCG)."""
        n0, t0 = self._count(), time.perf_counter()
        val, _, ok, msg = self._lobpcg(self.A.operator(), None, False)
        return SpectrumResult(val, self._count() - n0, time.perf_counter() - t0, ok, msg)
