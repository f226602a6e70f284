r"""The Jacobian of the retraining map at its fixed point (docs/theory.md §3, "[exact]").

With :math:`A = -E_{data}[\nabla^2_\theta \log p_{\theta^*}] \succ 0` and
:math:`B = -E_{p_{\theta^*}}[\nabla^2_\theta \log p_{\theta^*}] = I(\theta^*) \succeq 0`, the implicit
function theorem gives

.. math:: J = \lambda (A + \lambda B)^{-1} B,

whose eigenvalues are :math:`\lambda\gamma_i/(1+\lambda\gamma_i)` for the generalised eigenvalues
:math:`B v = \gamma A v`. The exact local contraction rate is
:math:`\rho_{exact} = \lambda\gamma_{max}/(1+\lambda\gamma_{max}) < 1` for every finite
:math:`\lambda`. :math:`J` is self-adjoint in the :math:`(A+\lambda B)`-inner product, where its norm
equals :math:`\rho_{exact}`; its Euclidean norm can be larger.

Any per-point loss (docs/theory.md §13): :func:`loss_jacobian` gives the general, non-symmetric
:math:`J = -\lambda(A+\lambda H)^{-1}M` (M the cross derivative through the sampler), whose
eigenvalues may be complex; the likelihood is the case :math:`H = B`, :math:`M = -B`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg

from ._domains import check

__all__ = [
    "JacobianAnalysis",
    "LossJacobian",
    "analyze_jacobian",
    "check_psd",
    "check_spd",
    "energy_norm",
    "fixed_point_jacobian",
    "generalized_eigenvalues",
    "loss_jacobian",
    "rate_exact",
]

# Symmetry and semi-definiteness are judged relative to the matrix scale: rounding in a computed
# Hessian or Fisher matrix leaves asymmetries and negative eigenvalues of order 1e-13 * ||M||, and
# 1e-8 * ||M|| separates those from a genuinely wrong input.
SYM_RTOL = 1e-8


def _square(name: str, m) -> np.ndarray:
    if isinstance(m, complex) or (not isinstance(m, (str, bytes)) and np.iscomplexobj(m)):
        raise ValueError(f"{name} must be a real matrix, got complex values (pass .real explicitly)")
    m = np.asarray(m, dtype=float)
    if m.ndim == 0:
        m = m.reshape(1, 1)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square matrix, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name} must be finite, got a matrix containing NaN or inf")
    scale = max(np.abs(m).max(), np.finfo(float).tiny)
    if np.abs(m - m.T).max() > SYM_RTOL * scale:
        raise ValueError(f"{name} must be symmetric, got max |{name} - {name}^T| = {np.abs(m - m.T).max():.3g}")
    return (m + m.T) / 2


def check_spd(name: str, m) -> np.ndarray:
    """Return the symmetrised matrix, or raise if it is not symmetric positive definite."""
    m = _square(name, m)
    try:
        linalg.cholesky(m, lower=True)
    except linalg.LinAlgError:
        lo = np.linalg.eigvalsh(m).min()
        raise ValueError(f"{name} must be positive definite, got smallest eigenvalue {lo:.3g}") from None
    return m


def check_psd(name: str, m) -> np.ndarray:
    """Return the symmetrised matrix, or raise if it is not symmetric positive semi-definite."""
    m = _square(name, m)
    lo = np.linalg.eigvalsh(m).min()
    if lo < -SYM_RTOL * max(np.abs(m).max(), np.finfo(float).tiny):
        raise ValueError(f"{name} must be positive semi-definite, got smallest eigenvalue {lo:.3g}")
    return m


def _pair(A, B) -> tuple[np.ndarray, np.ndarray]:
    A = check_spd("A", A)
    B = check_psd("B", B)
    if A.shape != B.shape:
        raise ValueError(f"A and B must have the same shape, got {A.shape} and {B.shape}")
    return A, B


def generalized_eigenvalues(A: ArrayLike, B: ArrayLike) -> np.ndarray:
    r"""Generalised eigenvalues :math:`\gamma` of :math:`B v = \gamma A v`, ascending, clipped at 0.

    Negative values of order rounding (B is only semi-definite) are set to zero.

    >>> generalized_eigenvalues(np.eye(2), np.diag([2.0, 0.5]))
    array([0.5, 2. ])
    """
    A, B = _pair(A, B)
    return np.clip(linalg.eigh(B, A, eigvals_only=True), 0.0, None)


def _rate(gamma: np.ndarray, lam: float) -> np.ndarray:
    if math.isinf(lam):
        return (gamma > 0).astype(float)
    return lam * gamma / (1.0 + lam * gamma)


def fixed_point_jacobian(A: ArrayLike, B: ArrayLike, lambda_: float) -> np.ndarray:
    r""":math:`J = \lambda(A+\lambda B)^{-1}B` by a Cholesky solve (no explicit inverse).

    :math:`\lambda = \infty` gives the limit :math:`V\,\mathrm{diag}(1_{\gamma_i>0})V^\top A` (the
    identity when :math:`B \succ 0`): purely synthetic retraining does not contract.

    >>> fixed_point_jacobian(np.eye(2), np.eye(2), 1.0)
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    lam = float(check("lambda_", lambda_))
    A, B = _pair(A, B)
    if math.isinf(lam):
        gamma, V = linalg.eigh(B, A)
        return (V * _rate(np.clip(gamma, 0, None), lam)) @ V.T @ A
    if lam == 0:
        return np.zeros_like(A)
    factor = linalg.cho_factor(A + lam * B, lower=True)
    return linalg.cho_solve(factor, lam * B)


def rate_exact(A: ArrayLike, B: ArrayLike, lambda_: float) -> float:
    r"""Exact local contraction rate :math:`\lambda\gamma_{max}/(1+\lambda\gamma_{max})`.

    Below one for every finite :math:`\lambda`; one at :math:`\lambda=\infty` unless :math:`B = 0`.

    >>> rate_exact(np.eye(3), np.eye(3), 1.0)
    0.5
    """
    lam = float(check("lambda_", lambda_))
    return float(_rate(generalized_eigenvalues(A, B)[-1:], lam)[0])


def energy_norm(J, M) -> float:
    r"""Operator norm of ``J`` in the inner product :math:`\langle x, y\rangle_M = x^\top M y`.

    :math:`\|J\|_M = \|R J R^{-1}\|_2` with :math:`M = R^\top R` (Cholesky, triangular solves).
    """
    M = check_spd("M", M)
    J = np.asarray(J, dtype=float)
    if J.shape != M.shape:
        raise ValueError(f"J must have the shape of M {M.shape}, got {J.shape}")
    R = linalg.cholesky(M, lower=False)
    RJ = R @ J
    # (R J) R^{-1} = solve(R^T, (R J)^T)^T
    K = linalg.solve_triangular(R, RJ.T, trans="T", lower=False).T
    return float(np.linalg.norm(K, 2))


@dataclass(frozen=True)
class JacobianAnalysis:
    """Everything about :math:`J = \\lambda(A+\\lambda B)^{-1}B` at one :math:`\\lambda`.

    ``norm_energy`` is the norm in the :math:`(A+\\lambda B)`-inner product (the :math:`A`-inner
    product at :math:`\\lambda=\\infty`); it equals ``rate_exact`` up to rounding.
    """

    lambda_: float
    jacobian: np.ndarray
    gammas: np.ndarray
    eigenvalues: np.ndarray
    rate_exact: float
    norm2: float
    norm_energy: float
    alpha: float


def analyze_jacobian(A: ArrayLike, B: ArrayLike, lambda_: float) -> JacobianAnalysis:
    """Jacobian, generalised spectrum, exact rate and norms for the pair (A, B) at ``lambda_``.

    >>> r = analyze_jacobian(np.diag([1.0, 4.0]), np.diag([2.0, 4.0]), 1.0)
    >>> round(r.rate_exact, 6), round(r.norm2, 6)
    (0.666667, 0.666667)
    """
    lam = float(check("lambda_", lambda_))
    A, B = _pair(A, B)
    gammas = np.clip(linalg.eigh(B, A, eigvals_only=True), 0.0, None)
    J = fixed_point_jacobian(A, B, lam)
    eig = _rate(gammas, lam)
    M = A if math.isinf(lam) else A + lam * B
    return JacobianAnalysis(
        lambda_=lam,
        jacobian=J,
        gammas=gammas,
        eigenvalues=eig,
        rate_exact=float(eig[-1]),
        norm2=float(np.linalg.norm(J, 2)),
        norm_energy=energy_norm(J, M),
        alpha=float(np.linalg.eigvalsh(A)[0]),
    )


@dataclass(frozen=True)
class LossJacobian:
    r""":math:`J = -\lambda(A+\lambda H)^{-1}M` of retraining with any per-point loss (docs/theory.md §13).

    ``eigenvalues``: the spectrum of J (complex in general, sorted by modulus, ascending);
    ``rate_exact``: its spectral radius; ``self_consistency``: :math:`\|H+M\|_F/\|H\|_F` (0 for a
    self-consistent loss such as the likelihood, where :math:`M = -H` and J is the J of §3 with
    :math:`B \to H`; Frobenius norms); ``norm2``: :math:`\|J\|_2`.
    """

    lambda_: float
    jacobian: np.ndarray
    eigenvalues: np.ndarray
    rate_exact: float
    norm2: float
    self_consistency: float


def loss_jacobian(A: ArrayLike, H: ArrayLike, M: ArrayLike, lambda_: float) -> LossJacobian:
    r"""The Jacobian of the retraining map of a loss at its fixed point, :math:`J = -\lambda(A+\lambda H)^{-1}M`.

    ``A`` (d×d, symmetric): Hessian of the real-data loss; ``H`` (symmetric):
    :math:`\partial^2_{\theta\theta} g`; ``M`` (any square matrix): the cross derivative
    :math:`\partial^2_{\theta\theta'} g` through the sampler, :math:`g(\theta, \theta') = E_z\,\ell(\theta,
    T_{\theta'}(z))`; ``lambda_`` finite and ``>= 0``.

    What must be positive definite is :math:`A + \lambda H`, the Hessian in θ of a round's objective
    :math:`R_n(\theta) + \lambda g(\theta, \theta')` at the fixed point: the round then has a strict local
    minimum there and the implicit function theorem gives J. ``A`` alone need not be (docs/theory.md §13:
    off self-consistency :math:`\theta^*_\lambda` is not the minimiser of :math:`R_n` and can sit where
    :math:`R_n` curves down in some direction); at λ = 0 the condition is :math:`A \succ 0`.
    The likelihood is :math:`H = B`, :math:`M = -B`:

    >>> r = loss_jacobian(np.eye(2), np.eye(2), -np.eye(2), 1.0)
    >>> r.rate_exact, r.self_consistency
    (0.5, 0.0)
    >>> float(loss_jacobian(np.eye(1), np.eye(1), -0.5 * np.eye(1), 1.0).rate_exact)  # not self-consistent
    0.25
    >>> float(loss_jacobian(-np.eye(1), 2 * np.eye(1), -0.5 * np.eye(1), 1.0).rate_exact)  # A < 0 < A + H
    0.5
    """
    lam = float(check("lambda_", lambda_))
    if math.isinf(lam):
        raise ValueError("lambda_ must be finite for the Jacobian of a loss, got inf")
    A = _square("A", A)
    H = _square("H", H)
    M = np.asarray(M, dtype=float)
    if M.shape != A.shape or H.shape != A.shape:
        raise ValueError(f"A, H and M must have the same shape, got {A.shape}, {H.shape} and {M.shape}")
    if not np.all(np.isfinite(M)):
        raise ValueError("M must be finite, got a matrix containing NaN or inf")
    K = check_spd("A + lambda_ H", A + lam * H)  # the round's Hessian (A itself may be indefinite)
    J = -lam * linalg.cho_solve(linalg.cho_factor(K, lower=True), M)
    ev = np.linalg.eigvals(J)
    ev = ev[np.argsort(np.abs(ev), kind="stable")]
    if np.all(np.abs(ev.imag) <= 1e-12 * max(float(np.abs(ev).max()), 1e-300)):
        ev = ev.real
    hn = float(np.linalg.norm(H, "fro"))
    sc = float(np.linalg.norm(H + M, "fro")) / hn if hn > 0 else math.inf
    return LossJacobian(lam, J, ev, float(np.abs(ev).max()), float(np.linalg.norm(J, 2)), sc)
