r"""docs/theory.md §5: Theorem 2 (finite samples), the unrolled recursion and its geometric sum.

The statement checked: on an event of probability ≥ (1-δ)^t the error after t rounds is at most
c(1 - ρ^t)/(1 - ρ) + ρ^t ‖θ^n_0 - θ*‖ with c = ε_OPT + a(δ)/√n, a bound that tends to c/(1 - ρ) as
t grows. The one-step inequality is :math:`e_{t+1} \le \rho e_t + c` (contraction of :math:`G_\lambda` plus A4,
:math:`c = \varepsilon_{OPT} + a(\delta)/\sqrt n`); unrolling it gives the bound.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath as mp
import numpy as np
import sympy as sp

from stability import bounds

from ._util import expect_true, expect_zero, worst_case
from .registry import Outcome, check, combine
from .theorem1 import rho_paper_exact, rho_sharp_exact

__all__ = ["check_toolkit_finite_sample_bound", "check_unrolled_recursion"]

RESULT = "theorem2"


@check(RESULT, "§5: e_{t+1} ≤ ρe_t + c unrolls to c(1-ρ^t)/(1-ρ) + ρ^t e_0 → c/(1-ρ)", "symbolic")
def check_unrolled_recursion() -> Outcome:
    r"""§5: the unrolled bound c(1 - ρ^t)/(1 - ρ) + ρ^t ‖θ^n_0 - θ*‖ with c = ε_OPT + a(δ)/√n, its limit
    c/(1 - ρ), and the probability (1-δ)^t of the t one-step events together.

    :math:`u_t = c(1-\rho^t)/(1-\rho) + \rho^t e_0` satisfies :math:`u_0 = e_0` and
    :math:`u_{t+1} = \rho u_t + c` (symbolic :math:`t`), and ``rsolve`` of that recursion returns
    :math:`u_t`; by induction (:math:`\rho \ge 0` keeps the inequality) :math:`e_t \le u_t`. The
    geometric sum :math:`\sum_{k<t}\rho^k = (1-\rho^t)/(1-\rho)` by ``summation``; the limit
    :math:`t\to\infty` at :math:`\rho = 2/5` is :math:`c/(1-\rho)`. If each of the :math:`t` steps
    fails independently with probability :math:`\le\delta`, all hold with probability
    :math:`\ge(1-\delta)^t`; :math:`(1-\delta)^t \ge 1 - t\delta` (Bernoulli) is checked at :math:`t = 1..6`.
    """
    rho = sp.Symbol("rho", positive=True)
    c, e0, delta = sp.symbols("c e0 delta", positive=True)
    t, k = sp.symbols("t k", integer=True, nonnegative=True)
    u = c * (1 - rho**t) / (1 - rho) + rho**t * e0
    f = sp.Function("u")
    sol = sp.rsolve(f(t + 1) - rho * f(t) - c, f(t), {f(0): e0})
    geo = sp.summation(rho**k, (k, 0, t - 1))
    geo = geo.args[-1][0] if isinstance(geo, sp.Piecewise) else geo  # the branch ρ ≠ 1
    lim = sp.limit(u.subs(rho, sp.Rational(2, 5)), t, sp.oo)
    bern = [sp.expand((1 - delta) ** n - (1 - n * delta)) for n in range(1, 7)]
    # (1-δ)^n - (1 - nδ) = Σ_{j≥2} C(n,j)(-δ)^j; it is δ² times a polynomial with no root in (0, 1) and positive at 1/2.
    bern_ok = all(
        sp.count_roots(sp.Poly(sp.cancel(b / delta**2), delta), 0, 1) == 0 and b.subs(delta, sp.Rational(1, 2)) > 0
        for b in bern
        if b != 0
    )
    return combine(
        expect_zero(u.subs(t, 0) - e0, "u_0 - e_0"),
        expect_zero(u.subs(t, t + 1) - (rho * u + c), "u_{t+1} - (ρ u_t + c)"),
        expect_zero(sol - u, "rsolve(u_{t+1} = ρu_t + c) - u_t"),
        expect_zero(geo - (1 - rho**t) / (1 - rho), "Σ_{k<t} ρ^k - (1-ρ^t)/(1-ρ)"),
        expect_zero(lim - c / (1 - sp.Rational(2, 5)), "lim_{t→∞} u_t - c/(1-ρ) at ρ = 2/5"),
        expect_true(bern_ok, "(1-δ)^t ≥ 1 - tδ on (0, 1), t = 1..6 (no root of the quotient by δ² in (0,1))"),
    )


@check(RESULT, "§5: toolkit finite_sample_bound against direct iteration of the recursion", "high-precision numeric")
def check_toolkit_finite_sample_bound() -> Outcome:
    r"""§5: "‖θ^n_t - θ*‖ ≤ (ε_OPT + a(δ)/√n)(1 - ρ^t)/(1 - ρ) + ρ^t ‖θ^n_0 - θ*‖" with ρ = ρ_paper
    (or ρ_sharp), "radius of stability" for :math:`t = \infty`.

    :func:`stability.bounds.finite_sample_bound` at 200 seeded rational points, both forms,
    :math:`t \in \{0, 1, 2, 5, 17, 50, \infty\}`, against the reference obtained by *iterating*
    :math:`u_{k+1} = \rho u_k + c` from :math:`u_0 = e_0` in mpmath at 50 digits (a different route
    from the closed form), :math:`\rho` from the symbolic :math:`\rho_{paper}`, :math:`\rho_{sharp}`
    in exact rationals; ``inf`` exactly where :math:`\rho \ge 1`.
    """
    rng = np.random.default_rng(8)
    errs, where, inf_ok = [], [], []
    ts = [0, 1, 2, 5, 17, 50, np.inf]
    with mp.workdps(50):
        for _ in range(200):
            lm, e, a, l = (Fraction(int(v), 64) for v in rng.integers([0, 0, 1, 0], [48, 64, 128, 128]))
            c, e0 = Fraction(int(rng.integers(0, 64)), 64), Fraction(int(rng.integers(0, 256)), 64)
            for form in ("paper", "sharp"):
                # ρ from the symbolic results of theorem1, where their hypotheses hold.
                if form == "paper":
                    rho = rho_paper_exact(lm, e, a, l) if lm * (a + e * l) < a else None
                else:
                    rho = rho_sharp_exact(lm, e, a, l) if e * l < a else (Fraction(0) if lm == 0 else None)
                got = bounds.finite_sample_bound(
                    np.array(ts), float(lm), float(e), float(c), float(e0), float(a), float(l), form=form
                )
                if rho is None or rho >= 1:
                    inf_ok.append(bool(np.all(np.isinf(got))))
                    continue
                r = mp.mpf(rho.numerator) / rho.denominator
                u, refs = mp.mpf(e0.numerator) / e0.denominator, {}
                cc = mp.mpf(c.numerator) / c.denominator
                for k in range(51):
                    if k in ts:
                        refs[k] = u
                    u = r * u + cc
                refs[np.inf] = cc / (1 - r)
                for t_, g in zip(ts, got, strict=True):
                    ref = refs[t_]
                    errs.append(float(abs(g - ref) / ref) if ref else abs(float(g)))
                    where.append(f"{form}, t={t_}, ρ={float(rho):.3g}")
    # ρ^t with t <= 50 and a few more flops: relative error <= ~60 ulps ~ 1.3e-14; the division by
    # 1 - ρ adds a factor 1/(1-ρ) to the rounding of ρ, bounded here by 64 (ρ <= 63/64 on this grid).
    return combine(
        worst_case(errs, 1e-11, "finite_sample_bound vs iterated recursion", where),
        expect_true(all(inf_ok), f"finite_sample_bound = inf where ρ ≥ 1 or undefined ({len(inf_ok)} cases)"),
    )


@check(
    RESULT,
    "§5: the exact A4 term a(δ)/√n of the known-variance Gaussian (simulator's gaussian_stat_err)",
    "high-precision numeric",
)
def check_gaussian_a4_term() -> Outcome:
    r"""§5: the statistical term of A4 is an input of the bound; for Gaussians the toolkit derives
    it exactly from the distribution of the fitted mean.

    Known-variance Gaussian :math:`N(\mu, \sigma^2 I_d)`: :math:`G^n_\lambda(\mu) - G_\lambda(\mu) =
    (1-w)(\hat m - \mu^*) + w(\bar y - \mu)` (symbolic, from :math:`G^n = (1-w)\hat m + w\bar y` and
    :math:`G = (1-w)\mu^* + w\mu`), whose per-coordinate variance is
    :math:`\sigma^2((1-w)^2/n + w^2/k)` (independent terms; symbolic), so
    :math:`a(\delta)/\sqrt n = \sigma\sqrt{((1-w)^2/n + w^2/k)\,\chi^2_{d,1-\delta}}`. The toolkit's
    :func:`stability.dynamics.theorem2.gaussian_stat_err` is compared with this, the
    :math:`\chi^2_d` quantile found by mpmath root finding on the regularised incomplete gamma
    function at 30 digits, for :math:`d \in \{1, 2, 5\}`, :math:`n \in \{10, 100\}`,
    :math:`\lambda \in \{0, 1/5, 2/5\}`, :math:`\delta \in \{0.01, 0.05, 0.3\}`, :math:`\sigma = 3/2`.
    """
    from stability.dynamics import theorem2 as tk_theorem2

    w, m_hat, mu_star, ybar, mu, s2, nn, kk = sp.symbols("w m_hat mu_star ybar mu sigma2 n k", positive=True)
    diff = ((1 - w) * m_hat + w * ybar) - ((1 - w) * mu_star + w * mu)
    a, z = sp.symbols("a z", real=True)  # a = m̂ - μ*, z = ȳ - μ: independent, mean 0
    lin = sp.expand(diff.subs({m_hat: mu_star + a, ybar: mu + z}))
    moments = {(0, 0): 1, (1, 0): 0, (0, 1): 0, (2, 0): s2 / nn, (0, 2): s2 / kk, (1, 1): 0}
    var = sum(c * moments[mon] for mon, c in sp.Poly(sp.expand(lin**2), a, z).terms())
    errs, where = [], []
    with mp.workdps(30):
        for d in (1, 2, 5):
            for delta in (0.01, 0.05, 0.3):
                q = mp.findroot(
                    lambda x, d=d, dl=delta: mp.gammainc(mp.mpf(d) / 2, 0, x / 2, regularized=True) - (1 - mp.mpf(dl)),
                    d,
                )
                for n_ in (10, 100):
                    for lam in (Fraction(0), Fraction(1, 5), Fraction(2, 5)):
                        k_ = int(lam * n_)
                        w_ = mp.mpf(k_) / (n_ + k_)
                        v = (1 - w_) ** 2 / n_ + (w_**2 / k_ if k_ else 0)
                        ref = mp.mpf(1.5) * mp.sqrt(v * q)
                        got = tk_theorem2.gaussian_stat_err(n=n_, lambda_=float(lam), delta=delta, dim=d, sigma=1.5)
                        errs.append(float(abs(got - ref) / ref))
                        where.append(f"d={d}, δ={delta}, n={n_}, λ={lam}")
    return combine(
        expect_zero(lin - ((1 - w) * a + w * z), "G^n(μ) - G(μ) - ((1-w)(m̂-μ*) + w(ȳ-μ))"),
        expect_zero(var - s2 * ((1 - w) ** 2 / nn + w**2 / kk), "Var - σ²((1-w)²/n + w²/k)"),
        # scipy's gammaincinv is accurate to ~1e-14 relative; a square root halves that.
        worst_case(errs, 1e-11, "gaussian_stat_err vs mpmath χ² quantile", where),
    )
