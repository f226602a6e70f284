r"""docs/theory.md §3: spectrum of :math:`J`, rate below one, self-adjointness.

What is checked: with γ_i the roots of B v = γ A v, J has the eigenvalues λγ_i/(1+λγ_i); hence
ρ_exact = λγ_max/(1+λγ_max) stays below one at any finite λ when A ≻ 0 and B ⪰ 0. Because J is
symmetric with respect to ⟨·,·⟩_{A+λB} (also ⟨·,·⟩_A and ⟨·,·⟩_B), its norm in that geometry is ρ_exact,
whereas the plain spectral norm ‖J‖₂ may go above one for a non-commuting pair.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import sympy as sp

from stability import jacobian

from ._random import generalized_eigs_mp, random_pair
from ._util import expect_true, expect_zero, worst_case
from .models import syms
from .registry import Outcome, check, combine

__all__ = [
    "check_eigenvalues",
    "check_norm_can_exceed_one",
    "check_rate_below_one",
    "check_self_adjoint",
    "check_toolkit_spectrum",
]

RESULT = "spectrum"

# eigh(B, A) is backward stable: absolute eigenvalue errors ~ d * ulp * ||A^{-1}|| ||B|| <= ~1e-12 for
# the pairs drawn (||A^{-1}|| <= 10, ||B|| <= ~50); relative to gamma_max that is <= ~1e-13.
TOL_EIG = 1e-10


@check(RESULT, "§3: eigenvalues of J are λγ_i/(1+λγ_i), B v = γ A v", "symbolic")
def check_eigenvalues() -> Outcome:
    r"""§3: the spectrum of J is {λγ_i/(1+λγ_i)}, with γ_i solving B v = γ A v.

    Every pair :math:`A \succ 0, B \succeq 0` is simultaneously diagonalisable by congruence:
    :math:`A = M^TM`, :math:`B = M^TDM` (:math:`M = D_A^{1/2}Q^T` from the eigendecomposition of
    :math:`A^{-1/2}BA^{-1/2}`). With a generic symbolic invertible :math:`2\times 2` :math:`M` and
    :math:`D = \mathrm{diag}(\gamma_1, \gamma_2)`: :math:`v_i = M^{-1}e_i` satisfies
    :math:`Bv_i = \gamma_i Av_i` and :math:`Jv_i = \lambda\gamma_i/(1+\lambda\gamma_i)\, v_i`.
    """
    lam = syms.lam
    M = sp.Matrix(2, 2, sp.symbols("m11 m12 m21 m22", real=True))
    g = sp.symbols("gamma1 gamma2", nonnegative=True)
    A = M.T * M
    B = M.T * sp.diag(*g) * M
    J = lam * (A + lam * B).inv() * B
    outs = []
    for i in range(2):
        v = M.inv() * sp.eye(2)[:, i]
        outs.append(expect_zero(B * v - g[i] * A * v, f"B v_{i + 1} - γ_{i + 1} A v_{i + 1}"))
        outs.append(expect_zero(J * v - lam * g[i] / (1 + lam * g[i]) * v, f"J v_{i + 1} - λγ/(1+λγ) v_{i + 1}"))
    return combine(*outs)


@check(RESULT, "§3: ρ_exact = λγ_max/(1+λγ_max) < 1 at any finite λ", "symbolic")
def check_rate_below_one() -> Outcome:
    r"""§3: ρ_exact = λγ_max/(1+λγ_max) is below one at any finite λ.

    :math:`1 - \lambda\gamma/(1+\lambda\gamma) = 1/(1+\lambda\gamma)`, positive for
    :math:`\lambda, \gamma \ge 0` (sympy decides the sign from the assumptions); the rate is
    increasing in :math:`\gamma` (derivative :math:`\lambda/(1+\lambda\gamma)^2 \ge 0`), so the
    largest eigenvalue of :math:`J` comes from :math:`\gamma_{max}`; and its limit as
    :math:`\lambda\to\infty` is 1 (no contraction for purely synthetic retraining).
    """
    lam = sp.Symbol("lambda", nonnegative=True)
    gam = sp.Symbol("gamma", nonnegative=True)
    rho = lam * gam / (1 + lam * gam)
    gap = sp.simplify(1 - rho)
    deriv = sp.simplify(sp.diff(rho, gam))
    return combine(
        expect_zero(gap - 1 / (1 + lam * gam), "1 - ρ - 1/(1+λγ)"),
        expect_true(gap.is_positive is True, f"1 - ρ = {gap} > 0"),
        expect_true(deriv.is_nonnegative is True, f"∂ρ/∂γ = {deriv} ≥ 0"),
        expect_zero(sp.limit(rho.subs(gam, sp.Rational(1, 3)), lam, sp.oo) - 1, "lim_{λ→∞} ρ - 1 (γ = 1/3)"),
    )


@check(RESULT, "§3: toolkit generalized_eigenvalues, rate_exact, analyze_jacobian eigenvalues", "randomized")
def check_toolkit_spectrum() -> Outcome:
    r"""§3: the spectrum λγ_i/(1+λγ_i) and ρ_exact < 1, for the toolkit — on 40 seeded random pairs
    (dimension 1–5, :math:`B` rank-deficient one time in five, :math:`\lambda` log-uniform in
    :math:`[10^{-6}, 10^6]`): ``generalized_eigenvalues`` against an mpmath route (Cholesky +
    symmetric eigensolver, 50 digits); ``rate_exact`` against :math:`\lambda\gamma_{max}/(1+\lambda\gamma_{max})`
    from those; ``rate_exact < 1``; ``analyze_jacobian(...).eigenvalues`` against the eigenvalues of
    :math:`\lambda(A+\lambda B)^{-1}B` computed directly by mpmath at 50 digits (no formula used).
    """
    rng = np.random.default_rng(3)
    g_err, r_err, j_err, below, where = [], [], [], [], []
    for _ in range(40):
        d = int(rng.integers(1, 6))
        A, B = random_pair(rng, d)
        lam = float(10 ** rng.uniform(-6, 6))
        ref = generalized_eigs_mp(A, B)
        got = jacobian.generalized_eigenvalues(A, B)
        scale = max(float(ref[-1]), 1e-300)
        g_err.append(max(abs(float(g) - float(r)) / scale for g, r in zip(got, ref, strict=True)))
        with mp.workdps(50):
            rho_ref = lam * ref[-1] / (1 + lam * ref[-1])
        rho = jacobian.rate_exact(A, B, lam)
        r_err.append(abs(rho - float(rho_ref)) / max(float(rho_ref), 1e-300))
        below.append(rho < 1)
        with mp.workdps(50):
            Am, Bm = mp.matrix(A.tolist()), mp.matrix(B.tolist())
            E, _ = mp.eig(lam * mp.inverse(Am + lam * Bm) * Bm)
            ev = sorted(mp.mpf(mp.re(e)) for e in E)
        # Condition of γ -> λγ/(1+λγ) is λ/(1+λγ)²: an absolute error δγ in γ moves the eigenvalue by
        # λδγ/(1+λγ)² (large for γ ≈ 0 and λ ≫ 1), so the error is measured in units of λγ_max/(1+λγ)².
        cond = np.array([float(lam * ref[-1] / (1 + lam * r) ** 2) for r in ref])
        tk = jacobian.analyze_jacobian(A, B, lam).eigenvalues
        j_err.append((np.abs(np.array(ev, dtype=float) - tk) / np.maximum(cond, 1e-300)).max())
        where.append(f"d={d}, λ={lam:.3g}")
    return combine(
        worst_case(g_err, TOL_EIG, "generalized_eigenvalues vs mpmath (relative to γ_max)", where),
        worst_case(r_err, TOL_EIG, "rate_exact vs λγ_max/(1+λγ_max)", where),
        expect_true(all(below), f"rate_exact < 1 in all {len(below)} cases"),
        worst_case(j_err, TOL_EIG, "analyze_jacobian.eigenvalues vs eig of J at 50 digits (÷ condition)", where),
    )


@check(RESULT, "§3: J self-adjoint in the (A+λB)-, A- and B-inner products; ‖J‖_{A+λB} = ρ_exact", "symbolic")
def check_self_adjoint() -> Outcome:
    r"""§3: J is symmetric for ⟨·,·⟩_{A+λB} (and for ⟨·,·⟩_A, ⟨·,·⟩_B), so its norm there is ρ_exact.

    Symbolic, generic symmetric :math:`2\times 2` :math:`A, B`: :math:`MJ - (MJ)^T = 0` for
    :math:`M \in \{A+\lambda B, A, B\}` (self-adjointness in :math:`\langle x,y\rangle_M`). Then on 30
    seeded random pairs, the toolkit's ``analyze_jacobian(...).norm_energy`` (the
    :math:`(A+\lambda B)`-norm) and :func:`stability.jacobian.energy_norm` in the :math:`A`- and
    :math:`B`-norms equal ``rate_exact`` (a self-adjoint operator's norm is its spectral radius).
    """
    lam = syms.lam
    a11, a12, a22, b11, b12, b22 = sp.symbols("a11 a12 a22 b11 b12 b22", real=True)
    A = sp.Matrix([[a11, a12], [a12, a22]])
    B = sp.Matrix([[b11, b12], [b12, b22]])
    J = lam * (A + lam * B).inv() * B
    outs = [
        expect_zero(M * J - (M * J).T, f"{name} J - ({name} J)^T")
        for name, M in (("(A+λB)", A + lam * B), ("A", A), ("B", B))
    ]
    rng = np.random.default_rng(4)
    errs, where = [], []
    for _ in range(30):
        d = int(rng.integers(2, 6))
        A_, B_ = random_pair(rng, d)
        B_ = B_ + 0.1 * np.eye(d)  # the B-norm needs B ≻ 0
        lam_ = float(10 ** rng.uniform(-3, 3))
        r = jacobian.analyze_jacobian(A_, B_, lam_)
        norms = [r.norm_energy, jacobian.energy_norm(r.jacobian, A_), jacobian.energy_norm(r.jacobian, B_)]
        errs.append(max(abs(n - r.rate_exact) for n in norms) / r.rate_exact)
        where.append(f"d={d}, λ={lam_:.3g}")
    # Norms via Cholesky + 2-norm: relative error ~ cond(M) * ulp <= ~1e-12 for these pairs.
    outs.append(worst_case(errs, TOL_EIG, "‖J‖ in (A+λB)-, A-, B-norms vs rate_exact", where))
    return combine(*outs)


@check(RESULT, "§3: ‖J‖₂ > 1 is possible for a non-commuting pair; ‖J‖₂ = ρ_exact for a commuting one", "randomized")
def check_norm_can_exceed_one() -> Outcome:
    r"""§3: the spectral norm ‖J‖₂ is not bounded by one once A and B fail to commute.

    A seeded search over random non-commuting :math:`2\times 2` pairs must find ``norm2 > 1`` from
    ``analyze_jacobian`` (the worst case found is reported) while ``rate_exact < 1``; for commuting
    pairs (:math:`J` symmetric) ``norm2`` must equal ``rate_exact``.
    """
    rng = np.random.default_rng(5)
    best, best_at = 0.0, ""
    for _ in range(60):
        A, B = random_pair(rng, 2)
        lam = float(10 ** rng.uniform(-1, 2))
        r = jacobian.analyze_jacobian(A, B, lam)
        if r.norm2 > best:
            best, best_at = r.norm2, f"λ={lam:.3g}, ρ_exact={r.rate_exact:.3f}"
    errs = []
    for _ in range(30):
        A, B = random_pair(rng, int(rng.integers(1, 5)), commuting=True)
        r = jacobian.analyze_jacobian(A, B, float(10 ** rng.uniform(-3, 3)))
        errs.append(abs(r.norm2 - r.rate_exact) / r.rate_exact)
    return combine(
        Outcome(best > 1, f"largest ‖J‖₂ found = {best:.4f} ({best_at})"),
        worst_case(errs, TOL_EIG, "commuting pairs: ‖J‖₂ vs ρ_exact"),
    )
