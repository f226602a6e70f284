r"""docs/theory.md §6, purely synthetic Gaussian warm-up: variance, standard deviation, log-determinant.

What is checked: refitting a 1-D Gaussian to n of its own samples with the unbiased variance
multiplies σ² by χ²_{n-1}/(n-1) each round, which keeps E[σ²_t] = σ²_0 but shrinks the standard
deviation in mean, E[σ_t] = c4(n)^t σ_0 with c4(n) = √(2/(n-1)) Γ(n/2)/Γ((n-1)/2) < 1; the MLE variance
gives E[σ²_t] = ((n-1)/n)^t σ²_0; in dimension d the increments of log det Σ_t are i.i.d. copies of
log det(W/(n-1)), W ~ Wishart(I, n-1), whose mean is negative. The toolkit's :mod:`stability.collapse`
is compared with each formula.
"""

from __future__ import annotations

from functools import lru_cache

import mpmath as mp
import numpy as np
import sympy as sp

from stability import collapse

from ._util import expect_true, expect_zero, worst_case
from .registry import Outcome, check, combine

__all__ = [
    "check_bartlett_monte_carlo",
    "check_c4_below_one",
    "check_log_det_drift",
    "check_sigma_recursion",
    "check_toolkit_c4_sigma",
    "check_toolkit_log_det_drift",
    "check_toolkit_variance",
    "check_variance_recursion",
]

RESULT = "collapse"

n = sp.Symbol("n", integer=True, positive=True)
k = sp.Symbol("k", positive=True)
xp = sp.Symbol("x", positive=True)
CHI2 = xp ** (k / 2 - 1) * sp.exp(-xp / 2) / (2 ** (k / 2) * sp.gamma(k / 2))  # χ²_k density


def c4_sym(nn):
    r""":math:`c_4(n) = \sqrt{2/(n-1)}\,\Gamma(n/2)/\Gamma((n-1)/2)` (docs/theory.md §6)."""
    return sp.sqrt(2 / (nn - 1)) * sp.gamma(nn / 2) / sp.gamma((nn - 1) / 2)


def c4_mp(nn: int):
    """The same at the working mpmath precision."""
    nn = mp.mpf(nn)
    return mp.sqrt(2 / (nn - 1)) * mp.exp(mp.loggamma(nn / 2) - mp.loggamma((nn - 1) / 2))


@lru_cache(maxsize=1)
def _chi2_moments():
    """E[X], E[√X], E[log X] for X ~ χ²_k, integrated by sympy with symbolic k."""
    lim = (xp, 0, sp.oo)
    return tuple(sp.simplify(sp.integrate(f * CHI2, lim)) for f in (xp, sp.sqrt(xp), sp.log(xp)))


@check(RESULT, "§6: E[σ²_{t+1} | σ²_t] = σ²_t (unbiased), ((n-1)/n) σ²_t (MLE); unrolled", "symbolic")
def check_variance_recursion() -> Outcome:
    r"""§6: "σ²_{t+1} = σ²_t χ²_{n-1}/(n-1): E[σ²_t] = σ²_0 for all t", "With the MLE,
    E[σ²_t] = ((n-1)/n)^t σ²_0."

    From first moments with symbolic :math:`n`: :math:`E\sum_i(x_i-\bar x)^2 = \sum_i E x_i^2 -
    nE\bar x^2 = n(\mu^2+\sigma^2) - n(\mu^2 + \sigma^2/n) = (n-1)\sigma^2`, where
    :math:`E\bar x^2 = (n(\mu^2+\sigma^2) + n(n-1)\mu^2)/n^2` (independence). Dividing by
    :math:`n-1` or :math:`n` gives the two estimators; :math:`E[\chi^2_k] = k` by sympy's integral
    of the density (symbolic :math:`k`). The tower property turns the conditional expectation into
    :math:`E[\sigma^2_t] = r^t\sigma^2_0`, which satisfies :math:`a_{t+1} = r a_t` (symbolic t).
    """
    mu, sig2, s0 = sp.symbols("mu sigma2 sigma0", positive=True)
    t = sp.Symbol("t", integer=True, nonnegative=True)
    Ex2 = mu**2 + sig2
    Exbar2 = (n * Ex2 + n * (n - 1) * mu**2) / n**2
    ss = n * Ex2 - n * Exbar2
    mean_chi2 = _chi2_moments()[0]
    r = (n - 1) / n
    a = r**t * s0**2
    return combine(
        expect_zero(ss - (n - 1) * sig2, "E Σ(x_i - x̄)² - (n-1)σ²"),
        expect_zero(ss / (n - 1) - sig2, "unbiased: E[σ²_{t+1}|σ²_t] - σ²_t"),
        expect_zero(ss / n - r * sig2, "MLE: E[σ²_{t+1}|σ²_t] - (n-1)/n σ²_t"),
        expect_zero(mean_chi2 - k, "E[χ²_k] - k"),
        expect_zero(a.subs(t, t + 1) - r * a, "E[σ²_{t+1}] - (n-1)/n E[σ²_t] for ((n-1)/n)^t σ0²"),
    )


@check(RESULT, "§6: toolkit expected_variance against ((n-1)/n)^t σ0² and σ0²", "high-precision numeric")
def check_toolkit_variance() -> Outcome:
    r"""§6: "E[σ²_t] = σ²_0" (unbiased), "E[σ²_t] = ((n-1)/n)^t σ²_0" (MLE).

    :func:`stability.collapse.expected_variance` on a grid :math:`n \in \{2,3,5,10,100,10^4\}`,
    :math:`t \in \{0,1,7,50,\infty\}`, :math:`\sigma_0 \in \{1/2, 1, 3\}`, against mpmath at 50 digits
    (the MLE limit :math:`t=\infty` is 0).
    """
    errs, where = [], []
    with mp.workdps(50):
        for nn in (2, 3, 5, 10, 100, 10**4):
            for t in (0, 1, 7, 50, np.inf):
                for s0 in (0.5, 1.0, 3.0):
                    for est in ("unbiased", "mle"):
                        got = collapse.expected_variance(t, nn, s0, est)
                        if est == "unbiased":
                            ref = mp.mpf(s0) ** 2
                        else:
                            ref = 0 if t == np.inf else (mp.mpf(nn - 1) / nn) ** int(t) * mp.mpf(s0) ** 2
                        errs.append(float(abs(got - ref) / ref) if ref else abs(got))
                        where.append(f"{est}, n={nn}, t={t}")
    # ((n-1)/n)^t with t <= 50: relative error <= ~50 ulps ~ 1.1e-14.
    return worst_case(errs, 1e-13, "expected_variance vs mpmath", where)


@check(RESULT, "§6: E[σ_{t+1} | σ_t] = c4(n) σ_t (unbiased), c4(n)√((n-1)/n) σ_t (MLE)", "symbolic")
def check_sigma_recursion() -> Outcome:
    r"""§6: "E[σ_t] = c4(n)^t σ_0 with c4(n) = √(2/(n-1)) Γ(n/2)/Γ((n-1)/2)" (and the MLE factor
    :math:`c_4(n)\sqrt{(n-1)/n}` in :mod:`stability.collapse`).

    sympy integrates :math:`E\sqrt{\chi^2_k} = \sqrt2\,\Gamma((k+1)/2)/\Gamma(k/2)` for symbolic
    :math:`k`; with :math:`k = n-1`, :math:`E\sqrt{\chi^2_{n-1}/(n-1)} = c_4(n)` and
    :math:`E\sqrt{\chi^2_{n-1}/n} = c_4(n)\sqrt{(n-1)/n}` (``gammasimp``). Independence of the rounds
    and the tower property give :math:`c_4(n)^t`.
    """
    e_sqrt = _chi2_moments()[1]
    es = e_sqrt.subs(k, n - 1)
    return combine(
        expect_zero(e_sqrt - sp.sqrt(2) * sp.gamma((k + 1) / 2) / sp.gamma(k / 2), "E√χ²_k - √2Γ((k+1)/2)/Γ(k/2)"),
        expect_zero(sp.gammasimp(es / sp.sqrt(n - 1) - c4_sym(n)), "E√(χ²_{n-1}/(n-1)) - c4(n)"),
        expect_zero(
            sp.gammasimp(es / sp.sqrt(n) - c4_sym(n) * sp.sqrt((n - 1) / n)), "MLE: E√(χ²_{n-1}/n) - c4√((n-1)/n)"
        ),
    )


@check(RESULT, "§6: toolkit c4 and expected_sigma against mpmath at 50 digits", "high-precision numeric")
def check_toolkit_c4_sigma() -> Outcome:
    r"""§6: "c4(n) = √(2/(n-1)) Γ(n/2)/Γ((n-1)/2)", "E[σ_t] = c4(n)^t σ_0".

    :func:`stability.collapse.c4` for every :math:`n = 2..3000` and 40 log-spaced :math:`n` up to
    :math:`10^{15}` (where the toolkit switches to its Stirling series), against log-gamma in mpmath
    at 50 digits; :func:`~stability.collapse.expected_sigma` for both estimators at
    :math:`t \in \{1, 10, 50\}`.
    """
    ns = list(range(2, 3001)) + [int(v) for v in np.unique(np.logspace(3.5, 15, 40).astype(np.int64))]
    got = collapse.c4(np.array(ns, dtype=float))
    errs, s_errs, where = [], [], []
    with mp.workdps(50):
        for nn, g in zip(ns, got, strict=True):
            errs.append(float(abs(g - c4_mp(nn)) / c4_mp(nn)))
        for nn in (2, 3, 10, 57, 1000, 10**6):
            for t in (1, 10, 50):
                for est in ("unbiased", "mle"):
                    step = c4_mp(nn) * (1 if est == "unbiased" else mp.sqrt(mp.mpf(nn - 1) / nn))
                    ref = 2 * step**t
                    s_errs.append(float(abs(collapse.expected_sigma(t, nn, 2.0, est) - ref) / ref))
                    where.append(f"{est}, n={nn}, t={t}")
    return combine(
        # For n < 41 the toolkit subtracts log-gammas of size <= 20 log 20 ~ 60, each rounded to
        # ~60 ulps absolute, so the relative error of c4 can reach ~2 * 60 * 1.1e-16 ~ 1.3e-14.
        worst_case(errs, 2e-14, "c4(n) vs mpmath", [f"n={v}" for v in ns]),
        # a per-step error of a few ulps raised to t <= 50: <= ~200 ulps ~ 5e-14.
        worst_case(s_errs, 1e-13, "expected_sigma vs mpmath", where),
    )


@check(RESULT, "§6: c4(n) < 1 for every n ≥ 2 (log-convexity of Γ) and c4(n) = 1 - 1/(4n) + O(n⁻²)", "symbolic")
def check_c4_below_one() -> Outcome:
    r"""§6: "c4(n) = √(2/(n-1)) Γ(n/2)/Γ((n-1)/2) < 1".

    Proof checked step by step, :math:`x = (n-1)/2 > 0`: (i) :math:`c_4(n) = \Gamma(x+1/2)/(\Gamma(x)\sqrt x)`
    (sympy); (ii) :math:`\log\Gamma` is strictly convex: :math:`(\log\Gamma)'' = \psi_1(x) > 0` for
    :math:`x > 0` (sympy decides ``polygamma(1, x).is_positive``); (iii) :math:`x + 1/2` is the
    midpoint of :math:`x` and :math:`x+1`, so :math:`\Gamma(x+1/2) < \Gamma(x)^{1/2}\Gamma(x+1)^{1/2}
    = \Gamma(x)\sqrt x` (:math:`\Gamma(x+1) = x\Gamma(x)`, ``gammasimp``); hence :math:`c_4 < 1`.
    Not left to sympy alone: mpmath at 50 digits confirms :math:`c_4(n) < 1` for :math:`n = 2..2000`,
    :math:`n(1 - c_4(n)) \to 1/4` (:math:`n = 10^4 .. 10^{30}`), and the toolkit's ``c4(n) < 1`` for
    :math:`n \le 10^{12}` (beyond that :math:`1 - 1/(4n)` rounds to 1 in double precision).
    """
    xs = sp.Symbol("x", positive=True)
    outs = [
        expect_zero(
            sp.gammasimp(c4_sym(2 * xs + 1) - sp.gamma(xs + sp.Rational(1, 2)) / (sp.gamma(xs) * sp.sqrt(xs))),
            "c4(2x+1) - Γ(x+1/2)/(Γ(x)√x)",
        ),
        expect_true(sp.polygamma(1, xs).is_positive is True, "ψ₁(x) = (log Γ)''(x) > 0 for x > 0"),
        expect_zero(
            sp.gammasimp(sp.sqrt(sp.gamma(xs) * sp.gamma(xs + 1)) - sp.gamma(xs) * sp.sqrt(xs)),
            "√(Γ(x)Γ(x+1)) - Γ(x)√x",
        ),
        expect_zero((xs + (xs + 1)) / 2 - (xs + sp.Rational(1, 2)), "midpoint"),
    ]
    with mp.workdps(50):
        worst_small = max(c4_mp(nn) for nn in range(2, 2001))
    # log Γ(n/2) ~ n log n / 2 must be resolved to ~1/n: 100 digits cover n = 1e30 (|log Γ| ~ 1e32).
    with mp.workdps(100):
        asym = [abs(mp.mpf(10) ** e * (1 - c4_mp(mp.mpf(10) ** e)) - mp.mpf(1) / 4) for e in (4, 8, 16, 30)]
    outs.append(Outcome(bool(worst_small < 1), f"max c4(n), n ≤ 2000 (mpmath) = {mp.nstr(worst_small, 12)}"))
    # n(1 - c4) = 1/4 + O(1/n): the deviation at n = 10^4 is ~3e-5, shrinking by 10^4 per step.
    outs.append(worst_case([float(a) for a in asym], 1e-4, "|n(1 - c4(n)) - 1/4|, n = 1e4..1e30"))
    tk = collapse.c4(np.unique(np.concatenate([np.arange(2, 2001), np.logspace(3.4, 12, 50).round()])))
    outs.append(Outcome(bool(np.all(tk < 1)), f"toolkit c4(n) < 1 for n ≤ 1e12: max {tk.max():.15f}"))
    return combine(*outs)


@check(RESULT, "§6: E[log det(W/(n-1))] = Σψ((n-i)/2) + d log(2/(n-1)) < 0 (digamma identity, Jensen)", "symbolic")
def check_log_det_drift() -> Outcome:
    r"""§6: each round adds an independent copy of log det(W/(n-1)), W ~ Wishart(I, n-1), to
    log det Σ_t; its mean is negative, hence det Σ_t → 0 almost surely.

    By the Bartlett decomposition :math:`\det W = \prod_{i=1}^d \chi^2_{n-i}` (independent; Muirhead
    1982, Thm 3.2.14; checked by simulation in ``bartlett_monte_carlo``). sympy integrates
    :math:`E\log\chi^2_k = \psi(k/2) + \log 2` (symbolic :math:`k`), so the drift is
    :math:`\sum_i[\psi((n-i)/2) + \log 2 - \log(n-1)]` (MLE: :math:`\log n`). Each term is negative by
    Jensen: :math:`\log` is strictly concave (:math:`(\log x)'' = -1/x^2 < 0`) so
    :math:`E\log\chi^2_k < \log E\chi^2_k = \log k \le \log(n-1)` for :math:`k = n-i`.
    """
    e_log = _chi2_moments()[2]
    return combine(
        expect_zero(e_log - (sp.polygamma(0, k / 2) + sp.log(2)), "E log χ²_k - (ψ(k/2) + log 2)"),
        expect_true(sp.diff(sp.log(xp), xp, 2).is_negative is True, "(log x)'' < 0 for x > 0"),
        expect_zero(_chi2_moments()[0] - k, "E χ²_k - k (Jensen's right-hand side)"),
    )


@check(RESULT, "§6: toolkit log_det_drift against the digamma sum at 50 digits; negative", "high-precision numeric")
def check_toolkit_log_det_drift() -> Outcome:
    r"""§6: "drift E[log det(W/(n-1))] < 0" — :func:`stability.collapse.log_det_drift` for
    :math:`d \in \{1,2,3,5,10\}`, :math:`n \in \{d+1, d+2, 2d+3, 50, 1000\}`, both estimators, against
    :math:`\sum_{i=1}^d\psi((n-i)/2) + d\log 2 - d\log(n-1 \text{ or } n)` in mpmath at 50 digits, and
    strictly negative.
    """
    errs, neg, where = [], [], []
    with mp.workdps(50):
        for d in (1, 2, 3, 5, 10):
            for nn in sorted({d + 1, d + 2, 2 * d + 3, 50, 1000}):
                for est in ("unbiased", "mle"):
                    ref = mp.fsum(mp.digamma(mp.mpf(nn - i) / 2) for i in range(1, d + 1)) + d * mp.log(2)
                    ref -= d * mp.log(nn - 1 if est == "unbiased" else nn)
                    got = collapse.log_det_drift(nn, d, est)
                    # absolute error relative to the sum of |terms| (digamma values can cancel log 2).
                    scale = mp.fsum(abs(mp.digamma(mp.mpf(nn - i) / 2)) + mp.log(2 * nn) for i in range(1, d + 1))
                    errs.append(float(abs(got - ref) / scale))
                    neg.append(got < 0)
                    where.append(f"{est}, d={d}, n={nn}")
    # scipy's digamma is accurate to ~1e-15 relative; summing d <= 10 terms: <= ~1e-14.
    return combine(
        worst_case(errs, 1e-13, "log_det_drift vs mpmath (÷ Σ|terms|)", where),
        expect_true(all(neg), f"log_det_drift < 0 in all {len(neg)} cases"),
    )


@check(RESULT, "§6: Bartlett step E[log det W] = Σψ((n-i)/2) + d log 2, seeded Monte Carlo", "randomized")
def check_bartlett_monte_carlo() -> Outcome:
    r"""§6: the Bartlett-decomposition step behind the drift: for :math:`W = X^TX`, :math:`X` an
    :math:`(n-1)\times d` standard Gaussian matrix (:math:`W \sim \mathrm{Wishart}(I, n-1)`),
    :math:`E\log\det W = \sum_{i=1}^d\psi((n-i)/2) + d\log 2`. 40 000 seeded draws for
    :math:`(n, d) \in \{(4, 3), (8, 2), (20, 5)\}`; the sample mean must be within 5 standard errors
    of the formula (and the toolkit's drift plus :math:`d\log(n-1)` is the formula).
    """
    rng = np.random.default_rng(9)
    outs = []
    for nn, d in ((4, 3), (8, 2), (20, 5)):
        X = rng.standard_normal((40_000, nn - 1, d))
        _, logdet = np.linalg.slogdet(np.einsum("rki,rkj->rij", X, X))
        mean, se = logdet.mean(), logdet.std(ddof=1) / np.sqrt(logdet.size)
        formula = collapse.log_det_drift(nn, d) + d * np.log(nn - 1)
        z = abs(mean - formula) / se
        outs.append(Outcome(bool(z < 5), f"n={nn}, d={d}: MC {mean:.4f} ± {se:.4f} vs {formula:.4f} ({z:.2f} SE)"))
    return combine(*outs)
