r"""docs/theory.md §11: the fresh-fraction and accumulate(-subsample) set-ups in closed form.

Steps checked: the fresh-fraction stationary variance as the fixed point of its recursion (and the
Gaussian's conservation of :math:`E\Sigma_t + \mathrm{Var}\,\mu_t`); the finite-population identities
of a uniform subsample without replacement (by enumerating every subset of a symbolic pool); the
telescoping of the accumulate-subsample series into the per-generation formula; the trigamma
series and the gamma-function product of the limits (mpmath at 50 digits); and the toolkit's
:func:`~stability.dynamics.moments.pool_stationary` / :func:`~stability.dynamics.moments.fraction_stationary`
against those independent evaluations.
"""

from __future__ import annotations

import itertools

import mpmath as mp
import sympy as sp

from ._util import DPS, expect_true, expect_zero, worst_case
from .registry import Outcome, check, combine

__all__ = [
    "check_fraction_fixed_point",
    "check_pool_conservation",
    "check_subsample_moments",
    "check_telescoping",
    "check_toolkit_limits",
    "check_trigamma_series",
]

RESULT = "setups"

n, k, a, V, v2, p, x = sp.symbols("n k a V v_2 p x", positive=True)


def fraction_variance(n_, a_, v2_, V_=1):
    r"""The claimed fresh-fraction stationary variance :math:`V/(n a(2-a) - (1-a)v_2)` (docs/theory.md §11)."""
    return V_ / (n_ * a_ * (2 - a_) - (1 - a_) * v2_)


@check(RESULT, "§11: fresh-fraction Var(η_∞) = V/(na'(2-a') - (1-a')v₂) is the recursion's fixed point", "symbolic")
def check_fraction_fixed_point() -> Outcome:
    r"""§11: "e_{t+1} = a'ε_t + (1-a')(e_t + η_t), Var ε_t = V/n_r, E Var η_t = (V + v₂ Var e_t)/k, so
    Var(η_∞) = V/(n a'(2-a') - (1-a')v₂)"; with v₂ = 0 it is the sketch V/(n a'(2-a')); the Gaussian
    (v₂ = -1) has E Σ_∞ = σ² - Var(μ_∞).

    With :math:`n_r = an`, :math:`k = (1-a)n`: the claimed value solves
    :math:`p = a^2V/n_r + (1-a)^2(p + (V+v_2p)/k)`; for the Gaussian, :math:`s = 1 - p` (in units of
    :math:`\sigma^2`) solves the §6 covariance recursion of fresh-real with :math:`n_r` real and
    :math:`k` synthetic points, :math:`s = (1-w)\frac{n_r-1}{n_r} + w\frac{k-1}{k}s + w(1-w)(p + 1/n_r + s/k)`,
    :math:`w = k/n`.
    """
    nr, kk = a * n, (1 - a) * n
    claimed = fraction_variance(n, a, v2, V)
    residual = claimed - (a**2 * V / nr + (1 - a) ** 2 * (claimed + (V + v2 * claimed) / kk))
    pg = fraction_variance(n, a, -1)
    s = 1 - pg
    w = kk / n
    s_eq = s - ((1 - w) * (nr - 1) / nr + w * (kk - 1) / kk * s + w * (1 - w) * (pg + 1 / nr + s / kk))
    p_eq = pg - ((1 - w) ** 2 / nr + w**2 * pg + w**2 * s / kk)
    return combine(
        expect_zero(residual, "p - (a²V/n_r + (1-a)²(p + (V + v₂p)/k))", {a: (0.05, 0.95), v2: (-1, 1)}),
        expect_zero(fraction_variance(n, a, 0) - 1 / (n * a * (2 - a)), "v₂ = 0: the sketch 1/(na(2-a))"),
        expect_zero(s_eq, "Gaussian: s = 1 - p solves the §6 covariance recursion", {a: (0.05, 0.95)}),
        expect_zero(p_eq, "Gaussian: p solves the §6 mean recursion", {a: (0.05, 0.95)}),
    )


@check(RESULT, "§11: E[Σ_t] + E[(μ_t-μ)²] = σ² for the MLE fits of the pool schemes (conservation)", "symbolic")
def check_pool_conservation() -> Outcome:
    r"""§11: "the MLE fit conserves the total second moment: Σ̂ + (μ̂-μ)² = mean of (x_i-μ)² over the
    points fitted; so q_t = E Σ_t + E(μ_t-μ)² satisfies N_t q_t = nσ² + k Σ_{s<t} q_s, hence q_t = σ²".

    The algebraic identity for 4 symbolic points; the recursion's solution :math:`q_t = \sigma^2` by
    substitution (:math:`N_t = n + tk`); and the ``accumulate`` limit
    :math:`\rho_{t+1} = \rho_t(1 - k/N_{t+1}^2)`, :math:`\rho = \sigma^2 - \pi`, that follows from
    :math:`\pi_{t+1} = \pi_t + (k/N_{t+1})^2(\sigma^2-\pi_t)/k`.
    """
    xs = sp.symbols("x1:5", real=True)
    mu = sp.Symbol("mu", real=True)
    m = sum(xs) / 4
    ident = sum((xi - mu) ** 2 for xi in xs) / 4 - (sum((xi - m) ** 2 for xi in xs) / 4 + (m - mu) ** 2)
    t, sigma2, pi = sp.symbols("t sigma2 pi", positive=True)
    N = n + t * k
    rec = N * sigma2 - (n * sigma2 + k * t * sigma2)  # N_t q_t - (n σ² + k Σ_{s<t} q_s) at q ≡ σ²
    N1 = n + (t + 1) * k
    pi1 = pi + (k / N1) ** 2 * (sigma2 - pi) / k
    return combine(
        expect_zero(ident, "mean (x-μ)² = MLE variance + (mean - μ)²"),
        expect_zero(rec, "q_t = σ² solves N_t q_t = nσ² + kΣ_{s<t} q_s"),
        expect_zero((sigma2 - pi1) - (sigma2 - pi) * (1 - k / N1**2), "σ² - π_{t+1} = (σ² - π_t)(1 - k/N²)"),
    )


@check(RESULT, "§11: a subsample of m of N points: E(ū-P)² = S²(1/m - 1/N), E scatter = (m-1)S²", "symbolic")
def check_subsample_moments() -> Outcome:
    r"""§11: "given the pool, the subsample mean is P_t + u_t with E[u_t²] = S²(1/n - 1/N_t),
    S² = T_t/(N_t - 1) (the finite-population correction), and its scatter has mean (n-1)S²".

    Exact: the average over all :math:`\binom{N}{m}` subsets of a pool of :math:`N` symbolic points,
    for :math:`(N, m) = (5, 2), (5, 3), (6, 4)`.
    """
    outs = []
    for N_, m_ in ((5, 2), (5, 3), (6, 4)):
        xs = sp.symbols(f"y1:{N_ + 1}", real=True)
        P = sum(xs) / N_
        S2 = sum((xi - P) ** 2 for xi in xs) / (N_ - 1)
        subsets = list(itertools.combinations(xs, m_))
        mean_sq = sum((sum(c) / m_ - P) ** 2 for c in subsets) / len(subsets)
        scatter = sum(sum((ci - sum(c) / m_) ** 2 for ci in c) for c in subsets) / len(subsets)
        outs.append(expect_zero(mean_sq - S2 * (sp.Rational(1, m_) - sp.Rational(1, N_)), f"FPC (N, m) = ({N_}, {m_})"))
        outs.append(expect_zero(scatter - (m_ - 1) * S2, f"E scatter (N, m) = ({N_}, {m_})"))
    return combine(*outs)


@check(RESULT, "§11: the accumulate-subsample series telescopes to 1/n + (1/n + 2/k)Δ_t", "symbolic")
def check_telescoping() -> Outcome:
    r"""§11: "Σ_{s=1}^{t-1} 1/((x+s)(x+s+1)²) = 1/(x+1) - 1/(x+t) - Δ_t, Δ_t = Σ_{s=1}^{t-1} 1/(x+s+1)²,
    so E e_t²/V = 1/(n+k) + Σ_{s=1}^{t-1}(k/N_{s+1})²(1/n - 1/N_s + 1/k) + 1/n - 1/N_t = 1/n + (1/n+2/k)Δ_t".

    The partial fractions of :math:`1/(y(y+1)^2)`; the telescoped sum by induction on :math:`t` (the
    step :math:`t \to t+1` adds the same term to both sides; at :math:`t = 1` both are 0 by inspection); then the
    per-generation formula with :math:`n = kx`, :math:`N_t = k(x+t)`, :math:`(k/N_{s+1})^2 = 1/(x+s+1)^2`
    and :math:`\Delta` kept as a symbol.
    """
    y, t, D = sp.symbols("y t Delta", positive=True)
    pf = 1 / (y * (y + 1) ** 2) - (1 / y - 1 / (y + 1) - 1 / (y + 1) ** 2)
    step = 1 / ((x + t) * (x + t + 1) ** 2) - ((1 / (x + t) - 1 / (x + t + 1)) - 1 / (x + t + 1) ** 2)
    nn = k * x
    Nt = k * (x + t)
    telescoped = 1 / (x + 1) - 1 / (x + t) - D  # the sum of 1/((x+s)(x+s+1)^2)
    series = (1 / nn + 1 / k) * D - telescoped / k  # Σ (1/(x+s+1)²)(1/n + 1/k - 1/(k(x+s)))
    per_gen = 1 / (nn + k) + series + 1 / nn - 1 / Nt
    acc = 1 / (nn + k) + D / k  # accumulate: increments (k/N)^2 σ²/k, no u_t
    return combine(
        expect_zero(pf, "1/(y(y+1)²) = 1/y - 1/(y+1) - 1/(y+1)²"),
        expect_zero(step, "induction step of the telescoped sum"),
        expect_zero(per_gen - (1 / nn + (1 / nn + 2 / k) * D), "E e_t²/V = 1/n + (1/n + 2/k)Δ_t"),
        expect_zero(acc.subs(D, 0) - 1 / (nn + k), "accumulate, t = 1: 1/(n+k)"),
    )


@check(
    RESULT,
    "§11: Σ_{j≥2} 1/(x+j)² = ψ'(x+2); Π_{j≥2}(1-c²/(x+j)²) = Γ(x+2)²/(Γ(x+2-c)Γ(x+2+c))",
    "high-precision numeric",
)
def check_trigamma_series() -> Outcome:
    r"""§11: "Σ_{j≥2} 1/(x+j)² = ψ'(x+2)" (the limits' series) and "Π_{j≥2}(1 - c²/(x+j)²) =
    Γ(x+2)²/(Γ(x+2-c)Γ(x+2+c))" (the accumulate limit with v₂ ≠ 0, c² = -v₂/k).

    mpmath ``nsum`` / ``nprod`` at 50 digits against ``psi(1, .)`` and ``gamma``, at x = n/k in
    {0.1, 1/3, 1, 2.5, 10} and c² in {1/100, -1/200, 1/3}; tolerance 1e-30 relative.
    """
    errs, where = [], []
    with mp.workdps(DPS):
        for xv in (mp.mpf("0.1"), mp.mpf(1) / 3, mp.mpf(1), mp.mpf("2.5"), mp.mpf(10)):
            s = mp.nsum(lambda j, xv=xv: 1 / (xv + j) ** 2, [2, mp.inf])
            errs.append(float(abs(s / mp.psi(1, xv + 2) - 1)))
            where.append(f"series x={float(xv):g}")
            for c2 in (mp.mpf(1) / 100, -mp.mpf(1) / 200, mp.mpf(1) / 3):
                c = mp.sqrt(c2)  # imaginary when c2 < 0
                prod = mp.nprod(lambda j, xv=xv, c2=c2: 1 - c2 / (xv + j) ** 2, [2, mp.inf])
                closed = mp.gamma(xv + 2) ** 2 / (mp.gamma(xv + 2 - c) * mp.gamma(xv + 2 + c))
                errs.append(float(abs(prod / closed - 1)))
                where.append(f"product x={float(xv):g}, c²={float(c2):g}")
    return worst_case(errs, 1e-30, "series and product vs closed forms", where)


def _accumulate_limit_mp(n_, k_, v2_):
    """Var(η_∞)/V of accumulate by the recursion π_{t+1} = π_t + (k/N²)(1 + v₂π_t), summed in mpmath (nsum of logs)."""
    xv = mp.mpf(n_) / k_
    g1 = 1 + mp.mpf(v2_) / (n_ + k_)
    if v2_ == 0:
        return 1 / mp.mpf(n_ + k_) + mp.nsum(lambda j: 1 / (xv + j) ** 2, [2, mp.inf]) / k_
    logp = mp.nsum(lambda j: mp.log(1 + mp.mpf(v2_) / (k_ * (xv + j) ** 2)), [2, mp.inf])
    return (g1 * mp.exp(logp) - 1) / v2_


@check(
    RESULT, "§11: toolkit pool_stationary / fraction_stationary vs independent evaluations", "high-precision numeric"
)
def check_toolkit_limits() -> Outcome:
    r"""§11: the toolkit's closed forms: "accumulate: Var(η_∞)/V = 1/(n+k) + ψ'(x+2)/k (v₂ = 0), else
    (g_∞/V - 1)/v₂", "accumulate-subsample (first order): 1/n + (1/n+2/k)ψ'(x+2)", and the fresh-fraction
    variance.

    :func:`~stability.dynamics.moments.pool_stationary` against the recursion's product summed in
    mpmath (a series of logs, not the gamma form it uses) for v₂ ∈ {-1, 0, 1/2} and (n, k) ∈
    {(10, 3), (50, 50), (100, 300)}; the subsample form against mpmath's trigamma;
    :func:`~stability.dynamics.moments.fraction_stationary` against the checked symbolic value.
    Tolerance 1e-10 relative: double precision, amplified ~100x where :math:`(g_\infty - 1)/v_2` cancels
    the leading digits of :math:`g_\infty \approx 1`.
    """
    from stability.dynamics.moments import fraction_stationary, pool_stationary

    errs, where = [], []
    with mp.workdps(DPS):
        for n_, k_ in ((10, 3), (50, 50), (100, 300)):
            for v2_ in (-1.0, 0.0, 0.5):
                ref = _accumulate_limit_mp(n_, k_, v2_)
                errs.append(float(abs(pool_stationary(n_, k_, subsample=False, v2=v2_) / ref - 1)))
                where.append(f"accumulate n={n_}, k={k_}, v2={v2_}")
            ref = 1 / mp.mpf(n_) + (1 / mp.mpf(n_) + 2 / mp.mpf(k_)) * mp.psi(1, mp.mpf(n_) / k_ + 2)
            errs.append(float(abs(pool_stationary(n_, k_, subsample=True) / ref - 1)))
            where.append(f"subsample n={n_}, k={k_}")
        for n_, nr_, v2_ in ((20, 6, -1.0), (100, 30, 0.0), (50, 49, 0.5)):
            ref = fraction_variance(sp.Integer(n_), sp.Rational(nr_, n_), sp.Float(v2_))
            errs.append(float(abs(fraction_stationary(n_, nr_, v2_) / float(ref) - 1)))
            where.append(f"fraction n={n_}, n_r={nr_}, v2={v2_}")
    return combine(
        worst_case(errs, 1e-10, "toolkit closed forms", where),
        expect_true(pool_stationary(50, 50, subsample=True) > pool_stationary(50, 50, subsample=False), "sub > acc"),
    )
