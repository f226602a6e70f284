r"""docs/theory.md §4: Theorem 1 (Bertrand et al. 2024) and its sharper form (Ferbach et al. 2024).

With :math:`s = \lambda(\alpha + \varepsilon L)` and :math:`\kappa = L\varepsilon/\alpha`:
:math:`\rho_{paper} = s/(\alpha - s)`, :math:`\rho_{sharp} = s/(\alpha + \lambda(\alpha - \varepsilon L))`.
The checks verify the algebra symbolically and the toolkit's :func:`stability.bounds.bound`,
:func:`~stability.bounds.sharp_bound` and :func:`~stability.bounds.max_lambda` against exact
rational arithmetic, then the Neumann-series and Kantorovich–Rubinstein steps.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath as mp
import numpy as np
import sympy as sp

from stability import bounds, jacobian, report

from ._random import random_pair
from ._util import exact_function, expect_true, expect_zero, worst_case
from .registry import Outcome, check, combine

__all__ = [
    "check_kantorovich_rubinstein",
    "check_neumann_series",
    "check_norm_ordering",
    "check_paper_condition",
    "check_sharp_condition",
    "check_sharp_le_paper",
    "check_toolkit_paper",
    "check_toolkit_sharp",
]

RESULT = "theorem1"

lam, eps, alpha, L = sp.symbols("lambda epsilon alpha L", positive=True)
S = lam * (alpha + eps * L)
RHO_PAPER = S / (alpha - S)
RHO_SHARP = S / (alpha + lam * (alpha - eps * L))
ARGS = (lam, eps, alpha, L)
# The symbolic results, compiled to exact rational functions: the references for the toolkit.
rho_paper_exact = exact_function(ARGS, RHO_PAPER)
rho_sharp_exact = exact_function(ARGS, RHO_SHARP)


def _threshold(rho):
    """The λ at which ``rho`` = 1, solved by sympy (must be unique)."""
    sol = sp.solve(rho - 1, lam)
    if len(sol) != 1:
        raise ArithmeticError(f"expected one root of rho = 1 in lambda, got {sol}")
    return sol[0]


LAMBDA_PAPER = _threshold(RHO_PAPER)  # α/(2(α + εL))
LAMBDA_SHARP = _threshold(RHO_SHARP)  # α/(2εL)
RHO_SHARP_INF = sp.limit(RHO_SHARP, lam, sp.oo)  # (α + εL)/(α - εL)
lambda_paper_exact = exact_function((eps, alpha, L), LAMBDA_PAPER)
lambda_sharp_exact = exact_function((eps, alpha, L), LAMBDA_SHARP)
rho_sharp_inf_exact = exact_function((eps, alpha, L), RHO_SHARP_INF)

# Each bound is a few floating-point operations; near the pole (s -> alpha) the relative error of
# s / (alpha - s) is amplified by alpha / (alpha - s). Errors are divided by that condition number,
# after which a correct implementation is within ~4 ulps (1e-15); 1e-13 leaves a margin.
TOL_ULPS = 1e-13
N_POINTS = 1500


def _dyadic(rng: np.random.Generator, n: int, lo: int, hi: int) -> list[Fraction]:
    """Rationals k / 2^6 in [lo, hi]: exactly representable, so float inputs are exact."""
    return [Fraction(int(k), 64) for k in rng.integers(lo * 64, hi * 64 + 1, size=n)]


def _points(seed: int):
    rng = np.random.default_rng(seed)
    lam_ = _dyadic(rng, N_POINTS, 0, 1)
    eps_ = _dyadic(rng, N_POINTS, 0, 2)
    alpha_ = [a if a > 0 else Fraction(1, 64) for a in _dyadic(rng, N_POINTS, 0, 3)]
    L_ = _dyadic(rng, N_POINTS, 0, 2)
    pts = list(zip(lam_, eps_, alpha_, L_, strict=True))
    # Exact boundary points: lambda (1 + kappa) = 1/2 and 2 lambda eps L = alpha, all dyadic.
    pts += [
        (Fraction(3, 8), Fraction(1, 4), Fraction(3, 4), Fraction(1)),
        (Fraction(1, 4), Fraction(1), Fraction(1), Fraction(1)),
        (Fraction(1, 2), Fraction(0), Fraction(1), Fraction(1)),
        (Fraction(2), Fraction(1, 8), Fraction(1, 2), Fraction(1)),
    ]
    return pts


@check(RESULT, "§4: ρ_paper < 1 ⇔ λ(1 + Lε/α) < 1/2", "symbolic")
def check_paper_condition() -> Outcome:
    r"""§4: Theorem 1 gives ‖θ_t - θ*‖ ≤ ρ^t ‖θ_0 - θ*‖, ρ_paper = λ(α+εL)/(α - λ(α+εL)), under
    λ(1 + Lε/α) < 1/2; between 1/2 and 1 the factor exists but is at least one, so nothing contracts.

    :math:`\rho_{paper} - 1 = (2s - \alpha)/(\alpha - s)` and :math:`(2s-\alpha)/(2\alpha) =
    \lambda(1+\kappa) - 1/2`; with :math:`\alpha - s > 0` (:math:`\lambda(1+\kappa) < 1`) the sign of
    :math:`\rho - 1` is that of :math:`\lambda(1+\kappa) - 1/2`. sympy's
    ``solve_univariate_inequality`` confirms the solution set :math:`[0, \alpha/(2(\alpha+\varepsilon L)))`
    at three rational :math:`(\varepsilon, \alpha, L)`.
    """
    kappa = L * eps / alpha
    outs = [
        expect_zero(RHO_PAPER - 1 - (2 * S - alpha) / (alpha - S), "ρ_paper - 1 - (2s-α)/(α-s)"),
        expect_zero(
            (2 * S - alpha) / (2 * alpha) - (lam * (1 + kappa) - sp.Rational(1, 2)), "(2s-α)/(2α) - (λ(1+κ) - 1/2)"
        ),
        expect_zero((alpha - S) / alpha - (1 - lam * (1 + kappa)), "(α-s)/α - (1 - λ(1+κ))"),
    ]
    x = sp.Symbol("x", nonnegative=True)
    for e_, a_, l_ in [
        (sp.Rational(1, 3), sp.Integer(1), sp.Integer(2)),
        (sp.Rational(3, 7), sp.Rational(5, 2), sp.Integer(1)),
        (sp.Integer(0), sp.Integer(2), sp.Integer(3)),
    ]:
        rho = RHO_PAPER.subs({eps: e_, alpha: a_, L: l_, lam: x})
        sol = (
            sp.solve_univariate_inequality(rho < 1, x, relational=False)
            .intersect(sp.solve_univariate_inequality(x * (a_ + e_ * l_) < a_, x, relational=False))
            .intersect(sp.Interval(0, sp.oo))
        )
        want = sp.Interval.Ropen(0, a_ / (2 * (a_ + e_ * l_)))
        outs.append(expect_true(sol == want, f"ε={e_}, α={a_}, L={l_}: {{λ: ρ<1}} = {sol}"))
    return combine(*outs)


@check(RESULT, "§4: toolkit bound / max_lambda('paper') at exact rational points", "randomized")
def check_toolkit_paper() -> Outcome:
    r"""§4: "ρ_paper(λ, ε) = λ(α + εL)/(α - λ(α + εL))", "beyond, undefined (∞)", and "the stability
    region of the paper's theorem ... is λ < α/(2(α + εL))".

    :func:`stability.bounds.bound` at 1 500 seeded dyadic points (exact in floating point) plus exact
    boundary points, against the symbolic :math:`\rho_{paper}` compiled to exact rational arithmetic
    (:func:`~proofs_check._util.exact_function`): the value (error divided by the condition number
    :math:`\alpha/(\alpha-s)`), ``inf`` exactly when :math:`s \ge \alpha`, ``bound < 1`` exactly when
    :math:`\lambda(1+\kappa) < 1/2`, and ``max_lambda(form="paper")`` against the root of
    :math:`\rho_{paper} = 1` solved by sympy.
    """
    val, agree, inf_ok, ml = [], [], [], []
    for lm, e, a, l in _points(10):
        s = lm * (a + e * l)
        got = bounds.bound(float(lm), float(e), float(a), float(l))
        if s >= a:
            inf_ok.append(got == np.inf)
        else:
            ref = rho_paper_exact(lm, e, a, l)
            cond = a / (a - s)
            val.append(abs(got - float(ref)) / (float(ref) * float(cond)) if ref else abs(got))
            agree.append((got < 1) == (ref < 1) == (lm * (1 + l * e / a) < Fraction(1, 2)))
        m_ref = lambda_paper_exact(e, a, l)
        ml.append(abs(bounds.max_lambda(float(e), float(a), float(l)) - float(m_ref)) / float(m_ref))
    return combine(
        worst_case(val, TOL_ULPS, "bound vs exact ρ_paper (÷ condition)"),
        expect_true(all(agree), f"bound < 1 ⇔ λ(1+κ) < 1/2 at {len(agree)} points"),
        expect_true(all(inf_ok), f"bound = inf where λ(1+κ) ≥ 1 ({len(inf_ok)} points)"),
        worst_case(ml, TOL_ULPS, "max_lambda('paper') vs α/(2(α+εL))"),
    )


@check(RESULT, "§4: ρ_sharp < 1 ⇔ λ < α/(2Lε) (Lε < α); ρ_sharp(ε=0) = λ/(1+λ)", "symbolic")
def check_sharp_condition() -> Outcome:
    r"""§4: the sharp form: ‖J‖₂ ≤ ρ_sharp(λ, ε) = λ(α + εL)/(α + λ(α - εL)) when Lε < α, below one
    for λ < α/(2Lε); at ε = 0 it is λ/(1+λ).

    :math:`\rho_{sharp} - 1 = (2\lambda\varepsilon L - \alpha)/(\alpha + \lambda(\alpha - \varepsilon L))`,
    whose denominator is positive when :math:`L\varepsilon < \alpha` (sympy decides it with
    :math:`\alpha = \varepsilon L + \delta`, :math:`\delta > 0`); the limit :math:`\lambda\to\infty`
    is :math:`(\alpha+\varepsilon L)/(\alpha-\varepsilon L)`.
    """
    delta = sp.Symbol("delta", positive=True)
    den = (alpha + lam * (alpha - eps * L)).subs(alpha, eps * L + delta)
    return combine(
        expect_zero(
            RHO_SHARP - 1 - (2 * lam * eps * L - alpha) / (alpha + lam * (alpha - eps * L)),
            "ρ_sharp - 1 - (2λεL-α)/(α+λ(α-εL))",
        ),
        expect_true(sp.expand(den).is_positive is True, "α + λ(α - εL) > 0 when εL < α"),
        expect_zero(RHO_SHARP.subs(eps, 0) - lam / (1 + lam), "ρ_sharp(ε=0) - λ/(1+λ)"),
        expect_zero(
            sp.limit(RHO_SHARP, lam, sp.oo) - (alpha + eps * L) / (alpha - eps * L), "lim_{λ→∞} ρ_sharp - (α+εL)/(α-εL)"
        ),
    )


@check(RESULT, "§4: toolkit sharp_bound / max_lambda('sharp') at exact rational points", "randomized")
def check_toolkit_sharp() -> Outcome:
    r"""§4: "ρ_sharp(λ, ε) = λ(α + εL)/(α + λ(α - εL))", "the sharp one is λ < α/(2εL)".

    :func:`stability.bounds.sharp_bound` and ``max_lambda(form="sharp")`` at the seeded dyadic points
    against the symbolic :math:`\rho_{sharp}`, its limit at :math:`\lambda=\infty` and the root of
    :math:`\rho_{sharp} = 1` (sympy), in exact rational arithmetic: value (where
    :math:`L\varepsilon < \alpha`), ``< 1`` exactly when :math:`2\lambda\varepsilon L < \alpha`, ``inf``
    when :math:`L\varepsilon \ge \alpha` and :math:`\lambda > 0`, the limit, and the threshold.
    """
    val, agree, inf_ok, ml, lim = [], [], [], [], []
    for lm, e, a, l in _points(11):
        got = bounds.sharp_bound(float(lm), float(e), float(a), float(l))
        m = bounds.max_lambda(float(e), float(a), float(l), form="sharp")
        if e * l >= a:
            if lm > 0:
                inf_ok.append(got == np.inf)
            ml.append(0.0 if m == 0 else 1.0)
            continue
        ref = rho_sharp_exact(lm, e, a, l)
        val.append(abs(got - float(ref)) / float(ref) if ref else abs(got))
        agree.append((got < 1) == (ref < 1) == (2 * lm * e * l < a))
        if e * l == 0:
            ml.append(0.0 if m == np.inf else 1.0)
        else:
            m_ref = lambda_sharp_exact(e, a, l)
            ml.append(abs(m - float(m_ref)) / float(m_ref))
        lim_ref = rho_sharp_inf_exact(e, a, l)
        lim.append(abs(bounds.sharp_bound(np.inf, float(e), float(a), float(l)) - float(lim_ref)) / float(lim_ref))
    return combine(
        worst_case(val, TOL_ULPS, "sharp_bound vs exact ρ_sharp"),
        expect_true(all(agree), f"sharp_bound < 1 ⇔ 2λεL < α at {len(agree)} points"),
        expect_true(all(inf_ok), f"sharp_bound = inf where Lε ≥ α ({len(inf_ok)} points)"),
        worst_case(ml, TOL_ULPS, "max_lambda('sharp') vs α/(2εL) (inf at εL = 0, 0 at εL ≥ α)"),
        worst_case(lim, TOL_ULPS, "sharp_bound(λ=∞) vs (α+εL)/(α-εL)"),
    )


@check(RESULT, "§4: ρ_sharp ≤ ρ_paper where both are defined", "symbolic")
def check_sharp_le_paper() -> Outcome:
    r"""§4: where both bounds are defined, the sharp one is never above the paper's.

    :math:`\rho_{paper} - \rho_{sharp} = 2\alpha\lambda s/((\alpha - s)(\alpha + \lambda(\alpha-\varepsilon L)))`,
    non-negative when :math:`s < \alpha` and :math:`\varepsilon L < \alpha` (every factor's sign is
    decided by sympy after writing :math:`\alpha = s' + \delta_1`, :math:`\alpha = \varepsilon L + \delta_2`).
    Then the toolkit: ``sharp_bound <= bound`` at the seeded dyadic points where both are finite.
    """
    diff = 2 * alpha * lam * S / ((alpha - S) * (alpha + lam * (alpha - eps * L)))
    excess = []
    for lm, e, a, l in _points(12):
        p = bounds.bound(float(lm), float(e), float(a), float(l))
        s_ = bounds.sharp_bound(float(lm), float(e), float(a), float(l))
        if np.isfinite(p) and np.isfinite(s_) and p > 0:
            excess.append(max((s_ - p) / p, 0.0))
    return combine(
        expect_zero(RHO_PAPER - RHO_SHARP - diff, "ρ_paper - ρ_sharp - 2αλs/((α-s)(α+λ(α-εL)))"),
        expect_true(sp.Mul(2, alpha, lam, S).is_nonnegative is True, "numerator 2αλs ≥ 0"),
        # both computed to ~4 ulps, so a correct ordering can look violated by at most ~1e-15.
        worst_case(excess, TOL_ULPS, "toolkit: (sharp_bound - bound)/bound, positive part"),
    )


@check(RESULT, "§4: Neumann-series step ‖J‖₂ ≤ q/(1-q) = ρ_paper, q = λ(1+κ)", "symbolic")
def check_neumann_series() -> Outcome:
    r"""§4: "ρ_paper ... (a Neumann-series bound on ‖J‖₂)" and "By Kantorovich–Rubinstein, ‖B - A‖ ≤ Lε".

    With :math:`X = \lambda A^{-1}B`: :math:`J = (I+X)^{-1}X` (generic symmetric :math:`2\times2`
    :math:`A, B`); :math:`(I+X)\sum_{k<N}(-X)^k = I - (-X)^N` (non-commutative symbol, N = 8), so
    :math:`\|(I+X)^{-1}\| \le 1/(1-\|X\|)` when :math:`\|X\| < 1`; :math:`A^{-1}B = I + A^{-1}(B-A)`
    gives :math:`\|X\| \le \lambda(1 + \|A^{-1}\|\|B-A\|) \le \lambda(1+\kappa) = q`
    (:math:`\|A^{-1}\| \le 1/\alpha`, :math:`\|B-A\| \le L\varepsilon`); and
    :math:`q/(1-q) = \rho_{paper}` (sympy), with :math:`q < 1/2 \Leftrightarrow \rho_{paper} < 1`.
    """
    a11, a12, a22, b11, b12, b22 = sp.symbols("a11 a12 a22 b11 b12 b22", real=True)
    A = sp.Matrix([[a11, a12], [a12, a22]])
    B = sp.Matrix([[b11, b12], [b12, b22]])
    X = lam * A.inv() * B
    J = lam * (A + lam * B).inv() * B
    Xn = sp.Symbol("X", commutative=False)
    N = 8
    tele = sp.expand((1 + Xn) * sum((-Xn) ** k for k in range(N)) - (1 - (-Xn) ** N))
    q = lam * (1 + L * eps / alpha)
    return combine(
        expect_zero(J - (sp.eye(2) + X).inv() * X, "J - (I+X)^{-1}X"),
        expect_zero(tele, f"(I+X)Σ_(k<{N})(-X)^k - (I - (-X)^{N})"),
        expect_zero(A.inv() * B - (sp.eye(2) + A.inv() * (B - A)), "A^{-1}B - (I + A^{-1}(B-A))"),
        expect_zero(q / (1 - q) - RHO_PAPER, "q/(1-q) - ρ_paper"),
        expect_zero((q / (1 - q) - 1) - (2 * q - 1) / (1 - q), "q/(1-q) - 1 - (2q-1)/(1-q)"),
    )


@check(RESULT, "§4: ρ_exact ≤ ‖J‖₂ ≤ ρ_sharp ≤ ρ_paper on random (A, B) with Lε = ‖B-A‖₂", "randomized")
def check_norm_ordering() -> Outcome:
    r"""§4: the chain of inequalities ρ_exact ≤ ‖J‖₂ ≤ ρ_sharp ≤ ρ_paper, where the bounds are defined.

    150 seeded random pairs (dimension 2–4, :math:`B = A + \Delta` with a random symmetric
    perturbation kept PSD), :math:`\alpha = \lambda_{min}(A)`, :math:`L = 1`,
    :math:`\varepsilon = \|B - A\|_2` (the tightest constants), :math:`\lambda` log-uniform in
    :math:`[10^{-2}, 10^2]`: ``rate_exact``, ``analyze_jacobian(...).norm2``, ``sharp_bound`` and
    ``bound`` from the toolkit. Also :math:`\|A^{-1}B\|_2 \le 1+\kappa` (the Neumann step). The worst
    ratio :math:`\|J\|_2/\rho_{sharp}` found is reported. The exact rate and norm come from
    ``stability.report.build_report`` (which runs ``analyze_jacobian``), whose bounds must equal
    ``bounds.sharp_bound`` and ``bounds.bound``.
    """
    rng = np.random.default_rng(6)
    r1, r2, r3, r4, same = [], [], [], [], []
    n = 0
    while n < 150:
        d = int(rng.integers(2, 5))
        A, _ = random_pair(rng, d)
        P = rng.normal(size=(d, d)) * rng.uniform(0, 1)
        B = A + (P + P.T) / 2
        if np.linalg.eigvalsh(B).min() < 0:
            continue
        n += 1
        lm = float(10 ** rng.uniform(-2, 2))
        al = float(np.linalg.eigvalsh(A)[0])
        e = float(np.linalg.norm(B - A, 2))
        sh = bounds.sharp_bound(lm, e, al, 1.0)
        pa = bounds.bound(lm, e, al, 1.0)
        # build_report runs jacobian.analyze_jacobian; its bounds must equal the module functions'.
        r = report.build_report(report.LocalConstants("random pair", np.zeros(d), A, B, al, 1.0, e), lm)
        same.append(r.rate_sharp == sh and r.rate_paper == pa)
        r1.append(r.rate_exact / r.norm2 - 1)
        r4.append(np.linalg.norm(np.linalg.solve(A, B), 2) / (1 + e / al) - 1)
        if np.isfinite(sh):
            r2.append(r.norm2 / sh - 1)
        if np.isfinite(sh) and np.isfinite(pa):
            r3.append(sh / pa - 1)
    # Each quantity is computed to ~1e-14 relative; a ratio above 1 + 1e-10 is a real violation.
    tol = 1e-10
    return combine(
        worst_case(np.maximum(r1, 0), tol, "ρ_exact/‖J‖₂ - 1 (must be ≤ 0)"),
        Outcome(max(r2) <= tol, f"‖J‖₂/ρ_sharp - 1: worst {max(r2):.3g} over {len(r2)} pairs (must be ≤ 0)"),
        worst_case(np.maximum(r3, 0), tol, "ρ_sharp/ρ_paper - 1 (must be ≤ 0)"),
        worst_case(np.maximum(r4, 0), tol, "‖A^{-1}B‖₂/(1+κ) - 1 (must be ≤ 0)"),
        expect_true(all(same), "build_report's rate_sharp, rate_paper = bounds.sharp_bound, bound"),
    )


# Kantorovich–Rubinstein step on the logistic location model p_θ(x) = σ'(x - θ), σ the logistic
# function. Its Hessian ∂²_θ log p_θ(x) = h(x - θ) with h(u) = -2σ(u)(1 - σ(u)) = -sech²(u/2)/2.


def _logistic_lipschitz():
    r"""L = sup |h'(u)| derived symbolically: with t = tanh(u/2), h'(u) = t(1 - t²)/2 (sympy checks
    this), maximised over t ∈ (-1, 1) at t = 1/√3, giving L = 1/(3√3)."""
    u = sp.Symbol("u", real=True)
    t = sp.Symbol("t", real=True)
    h = -2 * sp.exp(-u) / (1 + sp.exp(-u)) ** 2
    hp = sp.diff(h, u)
    ident = sp.simplify((hp - (sp.tanh(u / 2) * (1 - sp.tanh(u / 2) ** 2) / 2)).rewrite(sp.exp))
    g = t * (1 - t**2) / 2
    crit = [c for c in sp.solve(sp.diff(g, t), t) if -1 < c < 1]
    Lip = max(abs(g.subs(t, c)) for c in crit)
    return sp.nsimplify(Lip), ident, sp.lambdify(u, hp, "mpmath")


def _logistic_model(atoms, weights, Lip):
    """θ*, A, W1(p_θ*, p_data) for discrete data (all at the working precision)."""
    sig = lambda z: 1 / (1 + mp.exp(-z))  # noqa: E731
    softplus = lambda z: mp.log1p(mp.exp(z)) if z < 0 else z + mp.log1p(mp.exp(-z))  # noqa: E731
    score = lambda th: mp.fsum(w * (2 * sig(a - th) - 1) for a, w in zip(atoms, weights, strict=True))  # noqa: E731
    theta = mp.findroot(score, (min(atoms) - 1, max(atoms) + 1), solver="anderson")
    A = mp.fsum(w * 2 * sig(a - theta) * (1 - sig(a - theta)) for a, w in zip(atoms, weights, strict=True))
    # W1 = ∫ |F_model - F_data| in 1-D; F_model(x) = σ(x - θ*) has antiderivative softplus(x - θ*),
    # F_data is a step function, so each piece is integrated exactly (split where σ crosses the step).
    order = np.argsort(atoms)
    xs = [mp.mpf(atoms[i]) for i in order]
    cum = np.cumsum([weights[i] for i in order])
    W1 = softplus(xs[0] - theta)  # ∫_{-∞}^{x_1} σ
    W1 += softplus(-(xs[-1] - theta))  # ∫_{x_m}^{∞} (1 - σ)
    for j in range(len(xs) - 1):
        c = mp.mpf(cum[j])
        lo, hi = xs[j], xs[j + 1]
        cross = min(max(theta + mp.log(c / (1 - c)), lo), hi)
        # ∫_lo^cross (c - σ) + ∫_cross^hi (σ - c)
        W1 += c * (cross - lo) - (softplus(cross - theta) - softplus(lo - theta))
        W1 += (softplus(hi - theta) - softplus(cross - theta)) - c * (hi - cross)
    return theta, A, W1


@check(RESULT, "§4: Kantorovich–Rubinstein ‖A - B‖ ≤ L·W1 (logistic location, exact W1) ⇒ Theorem 1", "randomized")
def check_kantorovich_rubinstein() -> Outcome:
    r"""§4: "By Kantorovich–Rubinstein, ‖B - A‖ ≤ Lε" (A1: x ↦ ∇²_θ log p_θ(x) is L-Lipschitz; A3:
    W1(p_θ*, p_data) ≤ ε) and, chained with Theorem 1, :math:`|J| \le \rho_{sharp} \le \rho_{paper}`.

    Model: logistic location, :math:`L = 1/(3\sqrt3)` (derived symbolically; a 4 001-point grid (step 1/200) of
    :math:`|h'|` must stay below it and reach it within 1e-6). :math:`B = 1/3` (Fisher information,
    mpmath quadrature). 60 seeded random discrete data laws (1–6 atoms in [-4, 4], random weights;
    the first is a single atom): :math:`\theta^*` by root finding on the data score,
    :math:`A = -E_{data}[h(x-\theta^*)]` as a finite sum and :math:`W_1 = \int|F_{\theta^*} - F_{data}|`
    exactly (piecewise softplus antiderivatives), all at 30 digits. Checks
    :math:`|A - B| \le L W_1` (worst ratio reported) and, with the toolkit,
    ``fixed_point_jacobian([[A]], [[B]], λ) <= sharp_bound(λ, W1, A, L) <= bound(λ, W1, A, L)`` where
    finite, for :math:`\lambda \in \{0.1, 0.3, 1, 3\}`.
    """
    Lip, ident, hp = _logistic_lipschitz()
    with mp.workdps(30):
        grid = [abs(hp(mp.mpf(k) / 200)) for k in range(-2000, 2001)]
        # -h(z) p(z) = 2 p(z)², p(z) = sech²(z/2)/4 the standard logistic density.
        B = mp.quad(lambda z: 2 * (mp.sech(z / 2) ** 2 / 4) ** 2, [-mp.inf, 0, mp.inf])
        b_err = abs(B - mp.mpf(1) / 3)
        Lf = mp.mpf(sp.N(Lip, 30))
        rng = np.random.default_rng(7)
        ratios, chain, tight = [], [], []
        for i in range(60):
            m = 1 if i == 0 else int(rng.integers(1, 7))
            atoms = rng.uniform(-4, 4, size=m)
            weights = rng.dirichlet(np.ones(m))
            theta, A, W1 = _logistic_model(atoms, weights, Lf)
            ratios.append(float(abs(A - B) / (Lf * W1)))
            for lm in (0.1, 0.3, 1.0, 3.0):
                J = abs(float(jacobian.fixed_point_jacobian([[float(A)]], [[float(B)]], lm)[0, 0]))
                sh = bounds.sharp_bound(lm, float(W1), float(A), float(Lf))
                pa = bounds.bound(lm, float(W1), float(A), float(Lf))
                # J, sharp_bound and bound are each correct to ~1e-15 relative.
                if np.isfinite(sh):
                    tight.append(J / sh)
                ok = (not np.isfinite(sh) or J <= sh * (1 + 1e-12)) and (
                    not (np.isfinite(pa) and np.isfinite(sh)) or sh <= pa * (1 + 1e-12)
                )
                chain.append(ok)
    return combine(
        expect_zero(ident, "h'(u) - tanh(u/2)(1 - tanh²(u/2))/2"),
        # The grid (step 1/200) misses the maximiser by <= 1/400; |h'| is flat there to second
        # order, so the grid maximum is within ~|h'''|/2 * (1/400)^2 ~ 2e-7 of L, inside 1e-6.
        Outcome(
            bool(max(grid) <= Lf * (1 + 1e-20) and Lf - max(grid) < 1e-6),
            f"L = {Lip}; grid max |h'| = {float(max(grid)):.12f}",
        ),
        # tanh-sinh quadrature of this smooth, exponentially decaying integrand: ~1e-28 at 30 digits.
        Outcome(bool(b_err < 1e-25), f"B = ∫ p (-h) = {mp.nstr(B, 12)}, |B - 1/3| = {float(b_err):.1e}"),
        Outcome(
            max(ratios) <= 1.0, f"|A - B|/(L·W1): worst {max(ratios):.4f} over {len(ratios)} data laws (must be ≤ 1)"
        ),
        expect_true(all(chain), f"|J| ≤ ρ_sharp ≤ ρ_paper (toolkit) in all {len(chain)} cases where finite"),
        Outcome(True, f"tightness: max |J|/ρ_sharp = {max(tight):.3f} (information only)"),
    )
