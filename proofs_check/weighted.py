r"""docs/theory.md §10: weighted mixing, :math:`\rho = w/(1-w)`, the fresh-real variance and its optimum.

Steps checked: the weighted first-order condition gives §9's :math:`J, Q` with :math:`\rho = w/(1-w)`
in place of :math:`\lambda`, and the diagonal Lyapunov solution :math:`\rho^2\gamma/(k(1+2\rho\gamma))`;
the natural weight :math:`k/(n+k)` gives :math:`\rho = k/n` (:math:`= \lambda` when :math:`k = \lambda n`)
and the unweighted estimator; the stationary variances of the exponential-family mean parameter
under ``fixed-real`` and ``fresh-real`` solve the moment recursion; the He–Xu–Cheng real weight
:math:`a^*(\kappa)` is the unique stationary point and the minimiser of the fresh-real variance; and
the toolkit's :func:`stability.stationary.stationary`, :func:`stability.weights.stationary_mean_variance`,
:func:`stability.dynamics.moments.family_stationary` and :func:`stability.weights.optimal_synthetic_weight`
against these results.
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
    "check_natural_weight",
    "check_optimal_weight",
    "check_stationary_variances",
    "check_toolkit_optimal_weight",
    "check_toolkit_variances",
    "check_toolkit_weighted_lyapunov",
    "fresh_real_variance",
    "weighted_jacobian_and_noise",
]

RESULT = "weighted"

# toolkit modules, looked up at call time so that a test can plant an error in them
toolkit_stationary = importlib.import_module("stability.stationary")
toolkit_weights = importlib.import_module("stability.weights")
toolkit_moments = importlib.import_module("stability.dynamics.moments")

w, k, n, kappa = sp.symbols("w k n kappa", positive=True)
rho = w / (1 - w)

# as proofs_check.stationary: relative accuracy the toolkit's C promises (condition numbers <= 1e2)
TOL_C = 1e-10
# toolkit closed forms in double precision against exact rationals: a few roundings of O(1) terms
TOL_FLOAT = 1e-12
# variances from the toolkit's double-precision linear solve (family_stationary, a 3x3 system with
# condition number <= ~1/(1-w^2) ~ 25 for w <= 0.98): relative error ~ 1e-14; 1e-10 leaves room
TOL_VAR = 1e-10


def weighted_jacobian_and_noise(A: sp.Matrix, B: sp.Matrix, w_, k_) -> tuple[sp.Matrix, sp.Matrix]:
    r"""§10's linearisation of the weighted objective: with :math:`M = (1-w)A + wB`,
    :math:`J = wM^{-1}B` and :math:`Q = (w^2/k)M^{-1}BM^{-1}`."""
    Minv = ((1 - w_) * A + w_ * B).inv()
    return w_ * Minv * B, w_**2 / k_ * Minv * B * Minv


def fresh_real_variance(w_, n_, k_):
    r"""The claimed fresh-real stationary variance :math:`((1-w)^2/n + w^2/k)/(1-w^2)` (per unit variance)."""
    return ((1 - w_) ** 2 / n_ + w_**2 / k_) / (1 - w_**2)


@check(RESULT, "§10: weighted J, Q = §9's with ρ = w/(1-w); c = ρ²γ/(k(1+2ργ)) solves C = JCJᵀ + Q", "symbolic")
def check_diagonal_solution() -> Outcome:
    r"""§10: "(A+ρB)(θ_{t+1}-θ*) ≈ ρB(θ_t-θ*) + ρ·(mean of k scores), so J = ρ(A+ρB)^{-1}B,
    Q = (ρ²/k)(A+ρB)^{-1}B(A+ρB)^{-1} and C = V diag(ρ²γ_i/(k(1+2ργ_i))) Vᵀ".

    :math:`J, Q` are built from the weighted first-order condition (:math:`M = (1-w)A + wB`) on a
    generic diagonal pair :math:`A = \mathrm{diag}(a_1, a_2)`, :math:`B = \mathrm{diag}(b_1, b_2)`
    and compared entrywise with §9's :math:`J, Q` at :math:`\lambda = \rho`; then
    :math:`C = \mathrm{diag}(c(\gamma_i)/a_i)`, :math:`\gamma_i = b_i/a_i`, satisfies
    :math:`C - JCJ^\top - Q = 0`, and the rate :math:`\rho\gamma/(1+\rho\gamma)` equals :math:`J`'s eigenvalue.
    """
    a1, a2, b1, b2 = sp.symbols("a1 a2 b1 b2", positive=True)
    A, B = sp.diag(a1, a2), sp.diag(b1, b2)
    J, Q = weighted_jacobian_and_noise(A, B, w, k)
    Minv = (A + rho * B).inv()
    J9, Q9 = rho * Minv * B, rho**2 / k * Minv * B * Minv
    c = [rho**2 * g / (k * (1 + 2 * rho * g)) for g in (b1 / a1, b2 / a2)]
    C = sp.diag(c[0] / a1, c[1] / a2)
    return combine(
        expect_zero(sp.simplify(J - J9), "J(w) - J_§9(λ = ρ)"),
        expect_zero(sp.simplify(Q - Q9), "Q(w) - Q_§9(λ = ρ)"),
        expect_zero(sp.simplify(C - J * C * J.T - Q), "C - JCJᵀ - Q with c_i = ρ²γ_i/(k(1+2ργ_i))"),
        expect_zero(J[0, 0] - rho * (b1 / a1) / (1 + rho * b1 / a1), "eigenvalue of J - ργ/(1+ργ)"),
    )


@check(RESULT, "§10: natural weight k/(n+k): ρ = k/n (= λ at k = λn), N_e = n+k, unbiased factor N/(N-1)", "symbolic")
def check_natural_weight() -> Outcome:
    r"""§10: "the natural share w = k/(n+k) gives ρ = k/n, which is λ when k = λn; the Kish effective
    size 1/((1-w)²/n + w²/k) is then n+k, so the weighted unbiased estimator is the pooled T/(N-1)".

    Also: the fixed-real first-order variance :math:`w^2/(k(1-w^2))` equals :math:`\rho^2/(k(1+2\rho))`
    for every :math:`w`, and at the natural share with :math:`k = \lambda n` it is §9's
    :math:`\lambda/(n(1+2\lambda))`.
    """
    lam = sp.Symbol("lambda", positive=True)
    wn = k / (n + k)
    n_eff = 1 / ((1 - wn) ** 2 / n + wn**2 / k)
    c_fixed = w**2 / (k * (1 - w**2))
    return combine(
        expect_zero(rho.subs(w, wn) - k / n, "ρ(k/(n+k)) - k/n"),
        expect_zero(rho.subs(w, wn).subs(k, lam * n) - lam, "ρ at k = λn - λ"),
        expect_zero(n_eff - (n + k), "N_e(k/(n+k)) - (n+k)"),
        expect_zero(1 / (1 - 1 / n_eff) - (n + k) / (n + k - 1), "1/(1 - Σw_i²) - N/(N-1)"),
        expect_zero(c_fixed - rho**2 / (k * (1 + 2 * rho)), "w²/(k(1-w²)) - ρ²/(k(1+2ρ))"),
        expect_zero(c_fixed.subs(w, wn).subs(k, lam * n) - lam / (n * (1 + 2 * lam)), "at k = λn: - λ/(n(1+2λ))"),
    )


@check(
    RESULT, "§10: fixed-real 1/n + w²/(k(1-w²)), fresh-real ((1-w)²/n + w²/k)/(1-w²) solve the recursion", "symbolic"
)
def check_stationary_variances() -> Outcome:
    r"""§10: "e_{t+1} = w e_t + (1-w)ε + w η_t ... Var = [(1-w)²/n + w²/k]/(1-w²) (fresh-real),
    1/n + w²/(k(1-w²)) (fixed-real)".

    The second moments :math:`P = E[e^2]`, :math:`C = E[e\varepsilon]` (unit variance,
    :math:`\mathrm{Var}\,\varepsilon = 1/n`, :math:`\mathrm{Var}\,\eta_t = 1/k`, :math:`\eta_t`
    independent of the past) obey :math:`P' = w^2P + 2w(1-w)C + (1-w)^2/n + w^2/k`; fixed-real
    :math:`C' = wC + (1-w)/n` (the same :math:`\varepsilon` every round), fresh-real :math:`C = 0`.
    The fixed point of each is solved by sympy and compared with the claimed closed form.
    """
    P, C = sp.symbols("P C", real=True)
    step = w**2 * P + 2 * w * (1 - w) * C + (1 - w) ** 2 / n + w**2 / k
    fixed = sp.solve([sp.Eq(P, step), sp.Eq(C, w * C + (1 - w) / n)], [P, C], dict=True)[0]
    fresh = sp.solve(sp.Eq(P, step.subs(C, 0)), P)[0]
    return combine(
        expect_zero(fixed[P] - (1 / n + w**2 / (k * (1 - w**2))), "fixed-real P - (1/n + w²/(k(1-w²)))"),
        expect_zero(fresh - fresh_real_variance(w, n, k), "fresh-real P - ((1-w)²/n + w²/k)/(1-w²)"),
        expect_zero(fresh - (1 / n + rho**2 / k) / (1 + 2 * rho), "fresh-real in ρ: (1/n + ρ²/k)/(1+2ρ)"),
    )


@check(
    RESULT,
    "§10: a*(κ) = (√(κ²+4κ)-κ)/2 is the one stationary point, the minimiser, of the fresh-real variance",
    "symbolic",
)
def check_optimal_weight() -> Outcome:
    r"""§10 (He, Xu & Cheng 2025): "the fresh-real variance is minimised at the real weight
    a* = (√(κ²+4κ) − κ)/2, κ = n/k; 1 − a* = (√(1+4λ) − 1)/(√(1+4λ) + 1)".

    With :math:`a = 1-w` and :math:`k = n/\kappa`, :math:`dV/da = 2q(a)/(n a^2(2-a)^2)` with
    :math:`q(a) = a^2 + \kappa a - \kappa`; :math:`q(a^*) = 0`; :math:`q(0) = -\kappa < 0`,
    :math:`q(1) = 1 > 0` and :math:`q' = 2a + \kappa > 0`, so :math:`q` has one zero in (0, 1), which
    is :math:`a^*` (positive: :math:`a^* = 2\kappa/(\kappa+\sqrt{\kappa^2+4\kappa})`),
    :math:`V` decreases before it and increases after (the minimiser); :math:`a^*` at :math:`\kappa = 1`
    is :math:`1/\varphi`; :math:`1 - a^*(1/\lambda)` is the closed form the toolkit uses; and at the pooled
    real weight :math:`\kappa/(1+\kappa)`, :math:`q = -\kappa/(1+\kappa)^2 < 0`, so :math:`a^*` is larger
    (the optimum puts less weight on the synthetic data than pooling).
    """
    a = sp.Symbol("a", positive=True)
    lam = sp.Symbol("lambda", positive=True)
    V = fresh_real_variance(1 - a, n, n / kappa)
    q = a**2 + kappa * a - kappa
    a_star = (sp.sqrt(kappa**2 + 4 * kappa) - kappa) / 2
    r = sp.sqrt(1 + 4 * lam)
    return combine(
        expect_zero(sp.diff(V, a) - 2 * q / (n * a**2 * (2 - a) ** 2), "dV/da - 2q(a)/(n a²(2-a)²)"),
        expect_zero(q.subs(a, a_star), "q(a*)"),
        expect_true(bool(sp.simplify(q.subs(a, 0)).is_negative) and q.subs(a, 1) == 1, "q(0) = -κ < 0, q(1) = 1"),
        expect_true(bool(sp.diff(q, a).is_positive), "q' = 2a + κ > 0 (q increasing: one zero in (0, 1))"),
        expect_zero(a_star.subs(kappa, 1) - 2 / (1 + sp.sqrt(5)), "a*(1) - 1/φ"),
        expect_zero(1 - a_star.subs(kappa, 1 / lam) - (r - 1) / (r + 1), "1 - a*(1/λ) - (√(1+4λ)-1)/(√(1+4λ)+1)"),
        expect_zero(a_star - 2 * kappa / (kappa + sp.sqrt(kappa**2 + 4 * kappa)), "a* - 2κ/(κ+√(κ²+4κ))"),
        expect_true(bool((2 * kappa / (kappa + sp.sqrt(kappa**2 + 4 * kappa))).is_positive), "a* > 0"),
        expect_zero(q.subs(a, kappa / (1 + kappa)) + kappa / (1 + kappa) ** 2, "q(κ/(1+κ)) + κ/(1+κ)²"),
    )


def _weighted_lyapunov_mp(A: np.ndarray, B: np.ndarray, w_: float, k_: int) -> np.ndarray:
    """vec C = (I - J⊗J)^{-1} vec Q with J, Q from the weighted first-order condition, at :data:`DPS` digits."""
    with mp.workdps(DPS):
        Am, Bm = mp.matrix(A.tolist()), mp.matrix(B.tolist())
        wm = mp.mpf(w_)
        Minv = mp.inverse((1 - wm) * Am + wm * Bm)
        J = wm * Minv * Bm
        Q = (wm**2 / k_) * Minv * Bm * Minv
        return lyapunov_mp(J, Q)


@check(RESULT, "§10: toolkit stationary(..., synthetic_weight) vs an independent weighted Lyapunov solve", "randomized")
def check_toolkit_weighted_lyapunov() -> Outcome:
    r"""§10: "C solves C = JCJᵀ + Q with J = w M^{-1}B, Q = (w²/k) M^{-1}BM^{-1}, M = (1-w)A + wB" —
    :func:`stability.stationary.stationary` with ``synthetic_weight`` against the weighted
    Lyapunov equation solved in mpmath at 50 digits, at 30 seeded pairs (``random_pair``, dimension
    1–4, :math:`w` uniform in [0.02, 0.98], k from 1 to 500). Worst max-entry error relative to
    :math:`\max|C|`.
    """
    rng = np.random.default_rng(17)
    errs, where = [], []
    for _ in range(30):
        dim = int(rng.integers(1, 5))
        A, B = random_pair(rng, dim)
        w_ = float(rng.uniform(0.02, 0.98))
        k_ = int(rng.integers(1, 501))
        got = toolkit_stationary.stationary(A, B, 1.0, 1000, k=k_, synthetic_weight=w_).cov
        ref = _weighted_lyapunov_mp(A, B, w_, k_)
        errs.append(np.abs(got - ref).max() / np.abs(ref).max())
        where.append(f"d={dim}, w={w_:.3g}, k={k_}")
    return worst_case(errs, TOL_C, "stationary(..., synthetic_weight=w).cov vs mpmath weighted Lyapunov", where)


@check(
    RESULT,
    "§10: toolkit stationary_mean_variance, family_stationary (Poisson, exact) vs the closed forms",
    "randomized",
)
def check_toolkit_variances() -> Outcome:
    r"""§10: the fixed-real and fresh-real variances, exact for the Poisson mean (its variance
    function is linear, so :math:`E[V(\eta_t)] = V(\eta_{data})` at stationarity) —
    :func:`stability.weights.stationary_mean_variance` and the exact moment solve
    :func:`stability.dynamics.moments.family_stationary` (``poisson``, divided by the rate) against
    the sympy fixed points of :func:`check_stationary_variances` evaluated in exact rationals, at
    40 seeded points (n in [2, 500], k in [1, 500], w uniform in [0, 0.98], both schemes).
    """
    rng = np.random.default_rng(23)
    errs, where = [], []
    for _ in range(40):
        n_, k_ = int(rng.integers(2, 501)), int(rng.integers(1, 501))
        w_ = sp.Rational(int(rng.integers(0, 981)), 1000)
        rate = float(rng.uniform(0.5, 5.0))
        for scheme in ("fixed-real", "fresh-real"):
            if scheme == "fixed-real":
                exact = 1 / sp.Integer(n_) + w_**2 / (k_ * (1 - w_**2))
            else:
                exact = fresh_real_variance(w_, sp.Integer(n_), sp.Integer(k_))
            exact = float(exact)
            lam_ = k_ / n_
            got = toolkit_weights.stationary_mean_variance(n_, lam_, scheme=scheme, synthetic_weight=float(w_), k=k_)
            fam = toolkit_moments.family_stationary(
                "poisson", n=n_, lambda_=lam_, scheme=scheme, data={"rate": rate}, synthetic_weight=float(w_)
            )
            errs += [abs(got - exact) / exact, abs(fam.cov_mean[0, 0] / rate - exact) / exact]
            where += [f"stationary_mean_variance {scheme} n={n_} k={k_} w={w_}", f"family_stationary {scheme} n={n_}"]
    return worst_case(errs, TOL_VAR, "toolkit variances vs exact rationals", where)


@check(RESULT, "§10: toolkit optimal_synthetic_weight = 1 - a*(1/λ) and the grid argmin of the variance", "randomized")
def check_toolkit_optimal_weight() -> Outcome:
    r"""§10: "optimal_synthetic_weight(λ) = 1 − a*(1/λ)" — at 30 seeded λ (log-uniform in
    [1e-2, 1e2]) the toolkit's value against :math:`1-a^*` at 50 digits, and against the argmin, on a
    grid of 20001 weights (step :math:`5\times10^{-5}`: the argmin is within one step), of the
    fresh-real variance checked by :func:`check_stationary_variances` (:func:`fresh_real_variance`,
    :math:`k = \lambda n`, n = 1000).
    """
    rng = np.random.default_rng(29)
    errs, grid_errs, where = [], [], []
    grid = np.linspace(0.0, 0.999, 20001)
    for _ in range(30):
        lam_ = float(10 ** rng.uniform(-2, 2))
        with mp.workdps(DPS):
            kap = 1 / mp.mpf(lam_)
            ref = 1 - (mp.sqrt(kap**2 + 4 * kap) - kap) / 2
        got = toolkit_weights.optimal_synthetic_weight(lam_)
        errs.append(abs(got - float(ref)))
        Vg = fresh_real_variance(grid, 1000.0, lam_ * 1000.0)  # the checked expression, k = λn real-valued
        grid_errs.append(abs(grid[int(np.argmin(Vg))] - got) / (grid[1] - grid[0]))
        where.append(f"λ={lam_:.3g}")
    return combine(
        worst_case(errs, TOL_FLOAT, "optimal_synthetic_weight vs 1 - a*(1/λ) at 50 digits", where),
        worst_case(grid_errs, 1.0, "|grid argmin of V - optimal_synthetic_weight| in grid steps", where),
    )
