r"""docs/theory.md §9: the first-order stationary law :math:`C = JCJ^\top + Q` of finite-sample retraining.

Steps checked: the diagonal solution :math:`c_i = q_i/(1-d_i^2) = \lambda^2\gamma_i/(k(1+2\lambda\gamma_i))`
(derived from :math:`J` and :math:`Q` as docs/theory.md defines them, on diagonal pairs); the
exponential-family reduction :math:`\gamma = 1, k = \lambda n`; that :math:`\tfrac12\operatorname{tr}(AC)`
is the second-order expected excess negative log-likelihood (and equals :math:`\tfrac12\sum_i c_i`
in the eigenbasis); and the toolkit's :func:`stability.stationary.stationary` against an
independent high-precision solve of the Lyapunov equation (:math:`\mathrm{vec}\,C =
(I - J\otimes J)^{-1}\mathrm{vec}\,Q` in mpmath) on seeded random pairs.
"""

from __future__ import annotations

import importlib

import mpmath as mp
import numpy as np
import sympy as sp

from ._random import random_pair
from ._util import DPS, expect_true, expect_zero, lyapunov_mp, worst_case
from .registry import Outcome, check, combine

__all__ = [
    "check_diagonal_solution",
    "check_excess_loss",
    "check_expfam_reduction",
    "check_toolkit_lyapunov",
    "jacobian_and_noise",
    "stationary_c",
]

RESULT = "stationary"

# the toolkit module (the package attribute ``stability.stationary`` is the function of that name)
toolkit = importlib.import_module("stability.stationary")

lam, k, n = sp.symbols("lambda k n", positive=True)

# The toolkit's C is a product of double-precision factors of matrices with condition number
# <= 1e2 (random_pair): relative error ~ cond * d * 1e-16 <= 1e-13; 1e-10 is what it promises.
TOL_C = 1e-10


def jacobian_and_noise(A: sp.Matrix, B: sp.Matrix, lam_, k_) -> tuple[sp.Matrix, sp.Matrix]:
    r"""§9's definitions: :math:`J = \lambda(A+\lambda B)^{-1}B`,
    :math:`Q = (\lambda^2/k)(A+\lambda B)^{-1}B(A+\lambda B)^{-1}`."""
    Minv = (A + lam_ * B).inv()
    return lam_ * Minv * B, lam_**2 / k_ * Minv * B * Minv


def stationary_c(lam_, gamma, k_):
    r"""The claimed diagonal entry :math:`c = \lambda^2\gamma/(k(1+2\lambda\gamma))` (docs/theory.md §9)."""
    return lam_**2 * gamma / (k_ * (1 + 2 * lam_ * gamma))


@check(RESULT, "§9: c_i = q_i/(1-d_i²) = λ²γ_i/(k(1+2λγ_i)) solves C = JCJᵀ + Q (diagonal case)", "symbolic")
def check_diagonal_solution() -> Outcome:
    r"""§9: "In the basis V of generalised eigenvectors ... C = V diag(c_i) Vᵀ with c_i = q_i/(1-d_i²):
    C = V diag(λ²γ_i/(k(1+2λγ_i))) Vᵀ".

    Commuting (diagonal) case, one eigen-direction at a time: :math:`A = a`, :math:`B = b` (1×1), so
    :math:`\gamma = b/a` and :math:`V = a^{-1/2}`. :math:`J, Q` are built from their definitions;
    :math:`J = d = \lambda\gamma/(1+\lambda\gamma)` and :math:`aQ = q = \lambda^2\gamma/(k(1+\lambda\gamma)^2)`;
    :math:`q/(1-d^2)` simplifies to the claimed :math:`c`; and :math:`C = c/a` satisfies
    :math:`C - JCJ^\top - Q = 0` exactly (a diagonal pair is two such directions side by side).
    """
    a, b = sp.symbols("a b", positive=True)
    J, Q = jacobian_and_noise(sp.Matrix([[a]]), sp.Matrix([[b]]), lam, k)
    g = b / a
    d, q = J[0, 0], Q[0, 0] * a  # Q = V q Vᵀ with V = a^{-1/2}
    C = stationary_c(lam, g, k) / a
    return combine(
        expect_zero(d - lam * g / (1 + lam * g), "d - λγ/(1+λγ)"),
        expect_zero(q - lam**2 * g / (k * (1 + lam * g) ** 2), "q - λ²γ/(k(1+λγ)²)"),
        expect_zero(q / (1 - d**2) - stationary_c(lam, g, k), "q/(1-d²) - c"),
        expect_zero(C - J[0, 0] * C * J[0, 0] - Q[0, 0], "C - JCJᵀ - Q"),
        expect_zero(stationary_c(lam, sp.Integer(0), k), "c at γ = 0"),
    )


@check(RESULT, "§9: exponential families (γ = 1, k = λn): c = λ/(n(1+2λ)), ½ tr(AC) < d/(4n)", "symbolic")
def check_expfam_reduction() -> Outcome:
    r"""§9: "Exponential families (A = B, all γ_i = 1): C = λ/(n(1+2λ)) A^{-1}" and "with k = λn:
    ½ Σ_i λγ_i/(n(1+2λγ_i)), below d/(4n) for every λ".

    :math:`c(\lambda, 1, \lambda n) - \lambda/(n(1+2\lambda)) = 0`; with :math:`A = B = h` (one
    direction), :math:`C = c/h` solves :math:`C = JCJ^\top + Q`; and :math:`1/4 - \lambda\gamma/(2(1+2\lambda\gamma))
    = 1/(4(1+2\lambda\gamma)) > 0`, so each eigen-direction contributes less than :math:`1/(4n)`.
    """
    g = sp.Symbol("gamma", positive=True)
    c = stationary_c(lam, sp.Integer(1), lam * n)
    h = sp.Symbol("h", positive=True)
    J, Q = jacobian_and_noise(sp.Matrix([[h]]), sp.Matrix([[h]]), lam, lam * n)
    C = c / h
    per_direction = stationary_c(lam, g, lam * n) / 2  # ½ c_i with k = λn
    gap = sp.simplify(sp.Rational(1, 4) / n - per_direction)
    return combine(
        expect_zero(c - lam / (n * (1 + 2 * lam)), "c(γ=1, k=λn) - λ/(n(1+2λ))"),
        expect_zero(C - J[0, 0] * C * J[0, 0] - Q[0, 0], "A = B: C = λ/(n(1+2λ)) A^{-1} solves C = JCJᵀ + Q"),
        expect_zero(gap - 1 / (4 * n * (1 + 2 * lam * g)), "1/(4n) - ½c_i - 1/(4n(1+2λγ))"),
        expect_true(bool(gap.is_positive), "½ c_i < 1/(4n) for all λ, γ > 0"),
    )


def _expectation(poly_expr, delta, C) -> sp.Expr:
    """E[.] of a quadratic form in ``delta``: each monomial δ_iδ_j replaced by C_ij (its expectation)."""
    out = sp.Integer(0)
    for powers, coef in sp.Poly(poly_expr, *delta).terms():
        idx = [i for i, e in enumerate(powers) for _ in range(e)]
        if len(idx) != 2:
            return sp.nan  # not a quadratic form: no second-order identity to check
        out += coef * C[idx[0], idx[1]]
    return out


@check(RESULT, "§9: ½ tr(AC) is the second-order expected excess NLL; = ½ Σ c_i in the eigenbasis", "symbolic")
def check_excess_loss() -> Outcome:
    r"""§9: to second order, the mean excess NLL of the stationary chain on the real sample is
    ½ tr(AC), and this number does not depend on how θ is parametrised.

    A concrete NLL: the Gaussian in :math:`\theta = (\mu, s = \log\sigma)` on a real sample with mean
    :math:`\hat m` and variance :math:`\hat v`, :math:`\mathcal L = s + (\hat v + (\hat m-\mu)^2)/(2e^{2s})`.
    At :math:`\theta^* = (\hat m, \tfrac12\log\hat v)` the first-order term of
    :math:`\mathcal L(\theta^*+t\delta) - \mathcal L(\theta^*)` vanishes and the second-order one is
    :math:`\tfrac12\delta^\top A\delta` with :math:`A = \nabla^2\mathcal L(\theta^*)`; its expectation
    (monomials :math:`\delta_i\delta_j \to C_{ij}`, generic symmetric :math:`C`) is
    :math:`\tfrac12\operatorname{tr}(AC)`. With :math:`V^\top AV = I` (generic 2×2 :math:`V`),
    :math:`\operatorname{tr}(AV\mathrm{diag}(c)V^\top) = \sum c_i`. The toolkit's ``excess_loss`` is
    compared with :math:`\tfrac12\operatorname{tr}(A\,\mathrm{cov})` at 20 seeded random pairs.
    """
    mu, s_, t = sp.symbols("mu s t", real=True)
    m_hat = sp.Symbol("m_hat", real=True)
    v_hat = sp.Symbol("v_hat", positive=True)
    d1, d2 = sp.symbols("delta1 delta2", real=True)
    c11, c12, c22 = sp.symbols("c11 c12 c22", real=True)
    nll = s_ + (v_hat + (m_hat - mu) ** 2) / (2 * sp.exp(2 * s_))
    star = {mu: m_hat, s_: sp.log(v_hat) / 2}
    A = sp.hessian(nll, (mu, s_)).subs(star)
    moved = nll.subs({mu: m_hat + t * d1, s_: sp.log(v_hat) / 2 + t * d2}, simultaneous=True)
    series = sp.series(moved - nll.subs(star), t, 0, 3).removeO()
    first, second = sp.simplify(series.coeff(t, 1)), sp.simplify(series.coeff(t, 2))
    delta, C = sp.Matrix([d1, d2]), sp.Matrix([[c11, c12], [c12, c22]])
    quad = sp.Rational(1, 2) * (delta.T * A * delta)[0]
    v11, v12, v21, v22, cc1, cc2 = sp.symbols("v11 v12 v21 v22 cc1 cc2", real=True)
    V = sp.Matrix([[v11, v12], [v21, v22]])
    A_V = (V * V.T).inv()  # the A for which VᵀAV = I
    rng = np.random.default_rng(7)
    errs = []
    for _ in range(20):
        dim = int(rng.integers(1, 5))
        An, Bn = random_pair(rng, dim)
        law = toolkit.stationary(An, Bn, float(10 ** rng.uniform(-1, 1)), int(rng.integers(20, 500)))
        ref = 0.5 * float(np.trace(An @ law.cov))
        errs.append(abs(law.excess_loss - ref) / max(abs(ref), 1e-300))
    return combine(
        expect_zero(first, "first-order term at θ* (gradient)"),
        expect_zero(second - quad, "second-order term - ½δᵀAδ"),
        expect_zero(_expectation(sp.expand(second), [d1, d2], C) - (A * C).trace() / 2, "E[second-order] - ½tr(AC)"),
        expect_zero(sp.simplify(V.T * A_V * V - sp.eye(2)), "VᵀAV - I"),
        expect_zero((A_V * V * sp.diag(cc1, cc2) * V.T).trace() - (cc1 + cc2), "tr(A V diag(c) Vᵀ) - Σc_i"),
        worst_case(errs, TOL_C, "toolkit excess_loss vs ½ tr(A cov)"),
    )


def _lyapunov_mp(A: np.ndarray, B: np.ndarray, lam_: float, k_: int) -> np.ndarray:
    """vec C = (I - J⊗J)^{-1} vec Q, with J and Q from §9's definitions, at :data:`DPS` digits."""
    with mp.workdps(DPS):
        Am, Bm = mp.matrix(A.tolist()), mp.matrix(B.tolist())
        Minv = mp.inverse(Am + lam_ * Bm)
        J = lam_ * Minv * Bm
        Q = (mp.mpf(lam_) ** 2 / k_) * Minv * Bm * Minv
        return lyapunov_mp(J, Q)


@check(RESULT, "§9: toolkit stationary(A, B, λ, n) vs an independent Lyapunov solve (random pairs)", "randomized")
def check_toolkit_lyapunov() -> Outcome:
    r"""§9: the stationary covariance C solves C = JCJᵀ + Q —
    :func:`stability.stationary.stationary` against :math:`\mathrm{vec}\,C = (I - J\otimes J)^{-1}\mathrm{vec}\,Q`
    solved in mpmath at 50 digits, at 40 seeded pairs (``random_pair``: A with eigenvalues in
    [0.1, 10], B PSD and rank-deficient one time in five; dimension 1–4; λ log-uniform in
    [1e-2, 1e2]; k from 1 to 500). Worst max-entry error relative to :math:`\max|C|`.
    """
    rng = np.random.default_rng(11)
    errs, where = [], []
    for _ in range(40):
        dim = int(rng.integers(1, 5))
        A, B = random_pair(rng, dim)
        lam_ = float(10 ** rng.uniform(-2, 2))
        k_ = int(rng.integers(1, 501))
        got = toolkit.stationary(A, B, lam_, 1000, k=k_).cov
        ref = _lyapunov_mp(A, B, lam_, k_)
        errs.append(np.abs(got - ref).max() / np.abs(ref).max())
        where.append(f"d={dim}, λ={lam_:.3g}, k={k_}")
    return worst_case(errs, TOL_C, "stationary(...).cov vs mpmath Lyapunov", where)
