r"""docs/theory.md §6: the finite-sample Gaussian recursions (conditional mean and covariance).

Setting: the n real points have MLE mean m̂ and covariance Ŝ; each round adds k = ⌊λn⌋ model
samples, a share w = k/(n+k) of the pooled set. Their mean ȳ ~ N(μ_t, Σ_t/k) and scatter
k S_y ~ Wishart(Σ_t, k-1) are independent, and the pooled MLE is
μ_{t+1} = (1-w) m̂ + w ȳ, Σ_{t+1} = (1-w) Ŝ + w S_y + w(1-w)(ȳ - m̂)(ȳ - m̂)ᵀ.
Given round t this has mean (1-w) m̂ + w μ_t and expected covariance
(1-w) Ŝ + w (k-1)/k Σ_t + w(1-w)[(m̂-μ_t)(m̂-μ_t)ᵀ + Σ_t/k].

These checks derive the formulas (d = 2, symbolic entries), test them against a seeded naive refit,
and derive the unconditional recursions that :mod:`stability.dynamics.moments` implements.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache

import numpy as np
import sympy as sp

from stability import collapse as tk_collapse

from ._util import exact_function, expect_true, expect_zero, worst_case
from .models import gaussian_map, syms
from .registry import Outcome, check, combine

__all__ = [
    "check_conditional_moments",
    "check_infinite_sample_limit",
    "check_moment_recursion",
    "check_naive_refit_monte_carlo",
    "check_pooled_update",
    "check_toolkit_moments",
    "check_unconditional_recursion",
    "conditional_moments",
    "unconditional_recursion",
    "update",
]

RESULT = "gaussian_recursions"

n, k = sp.symbols("n k", positive=True)
W = k / (n + k)


def _vec(name):
    return sp.Matrix(sp.symbols(f"{name}1 {name}2", real=True))


def _sym(name):
    a, b, c = sp.symbols(f"{name}11 {name}12 {name}22", real=True)
    return sp.Matrix([[a, b], [b, c]])


def update(m_hat, S_hat, ybar, S_y, w=W):
    """The update of docs/theory.md §6, as written there."""
    dvec = ybar - m_hat
    return (1 - w) * m_hat + w * ybar, (1 - w) * S_hat + w * S_y + w * (1 - w) * dvec * dvec.T


@check(RESULT, "§6: MLE on n real + k synthetic points = the (μ_{t+1}, Σ_{t+1}) update (d = 2)", "symbolic")
def check_pooled_update() -> Outcome:
    r"""§6: "μ_{t+1} = (1-w) m̂ + w ȳ", "Σ_{t+1} = (1-w) Ŝ + w S_y + w(1-w)(ȳ - m̂)(ȳ - m̂)ᵀ", w = k/(n+k).

    The Gaussian MLE of the pooled sample is :math:`(\sum x + \sum y)/(n+k)` and
    :math:`(\sum xx^T + \sum yy^T)/(n+k) - \mu'\mu'^T`; with :math:`\sum x = n\hat m`,
    :math:`\sum xx^T = n(\hat S + \hat m\hat m^T)` and the same for the synthetic points, both equal
    the update (generic symmetric :math:`2\times2` entries, symbolic :math:`n, k`).
    """
    m_hat, ybar, S_hat, S_y = _vec("m"), _vec("y"), _sym("S"), _sym("T")
    mu_new = (n * m_hat + k * ybar) / (n + k)
    second = (n * (S_hat + m_hat * m_hat.T) + k * (S_y + ybar * ybar.T)) / (n + k)
    Sig_new = second - mu_new * mu_new.T
    mu_u, Sig_u = update(m_hat, S_hat, ybar, S_y)
    return combine(
        expect_zero(mu_new - mu_u, "pooled mean - (1-w)m̂ - wȳ"),
        expect_zero(Sig_new - Sig_u, "pooled covariance - update"),
    )


def _expect(expr, ys, tees, mu, Sig, kk):
    r"""E over ȳ ~ (mean μ, covariance Σ/k) and S_y with E[S_y] = (k-1)/k Σ (independent).

    Exact for polynomials of degree <= 2 in ȳ and <= 1 in S_y, which is all the update contains.
    """
    gens = list(ys) + list(tees)
    p = sp.Poly(sp.expand(expr), *gens)
    ES = (kk - 1) / kk * Sig
    tee_mean = {0: ES[0, 0], 1: ES[0, 1], 2: ES[1, 1]}
    out = 0
    for mon, c in p.terms():
        dy, dt = mon[:2], mon[2:]
        if sum(dy) > 2 or sum(dt) > 1 or (sum(dy) and sum(dt)):
            raise ValueError(f"unexpected monomial {mon}")
        term = c
        if sum(dt):
            term *= tee_mean[dt.index(1)]
        if sum(dy) == 1:
            term *= mu[dy.index(1)]
        elif sum(dy) == 2:
            i, j = [idx for idx in (0, 1) for _ in range(dy[idx])]
            term *= mu[i] * mu[j] + Sig[i, j] / kk
        out += term
    return sp.expand(out)


@check(RESULT, "§6: conditional moments E[μ_{t+1}], E[Σ_{t+1}] (d = 2)", "symbolic")
def check_conditional_moments() -> Outcome:
    r"""§6: "E[μ_{t+1}] = (1-w) m̂ + w μ_t; E[Σ_{t+1}] = (1-w) Ŝ + w (k-1)/k Σ_t + w(1-w)[(m̂-μ_t)(m̂-μ_t)ᵀ + Σ_t/k]."

    First the two moments used: for :math:`k` i.i.d. :math:`y_i` with mean :math:`\mu`, covariance
    :math:`\Sigma`, :math:`E\bar y\bar y^T = (k(\Sigma + \mu\mu^T) + k(k-1)\mu\mu^T)/k^2 = \mu\mu^T + \Sigma/k`
    and :math:`E S_y = E[\tfrac1k\sum y_iy_i^T] - E\bar y\bar y^T = \tfrac{k-1}{k}\Sigma`. Then the
    expectation of the update, taken monomial by monomial, equals the stated moments.
    """
    mu, Sig, m_hat, S_hat = _vec("mu"), _sym("Sig"), _vec("m"), _sym("S")
    ys, S_y = _vec("y"), _sym("T")
    tees = sp.symbols("T11 T12 T22", real=True)
    Eyy = (k * (Sig + mu * mu.T) + k * (k - 1) * mu * mu.T) / k**2
    ESy = (Sig + mu * mu.T) - Eyy
    mu_u, Sig_u = update(m_hat, S_hat, ys, S_y)
    E_mu = mu_u.applyfunc(lambda e: _expect(e, ys, tees, mu, Sig, k))
    E_Sig = Sig_u.applyfunc(lambda e: _expect(e, ys, tees, mu, Sig, k))
    dm = m_hat - mu
    return combine(
        expect_zero(Eyy - (mu * mu.T + Sig / k), "E[ȳȳᵀ] - (μμᵀ + Σ/k)"),
        expect_zero(ESy - (k - 1) / k * Sig, "E[S_y] - (k-1)/k Σ"),
        expect_zero(E_mu - ((1 - W) * m_hat + W * mu), "E[μ_{t+1}] - ((1-w)m̂ + wμ_t)"),
        expect_zero(
            E_Sig - ((1 - W) * S_hat + W * (k - 1) / k * Sig + W * (1 - W) * (dm * dm.T + Sig / k)),
            "E[Σ_{t+1}] - docs/theory.md formula",
        ),
    )


@check(RESULT, "§6 vs §3: k → ∞ (w = λ/(1+λ)) recovers the infinite-sample map G_λ", "symbolic")
def check_infinite_sample_limit() -> Outcome:
    r"""§6 and §3 must agree: as :math:`k\to\infty` with :math:`w = \lambda/(1+\lambda)` fixed
    (:math:`k = \lambda n`), :math:`E[\mu_{t+1}]` and :math:`E[\sigma^2_{t+1}]` (d = 1) tend to the
    Gaussian map :math:`G_\lambda(m, v)` solved from the infinite-sample objective (data mean
    :math:`\hat m`, variance :math:`\hat S`), and the conditional variance of the mean update,
    :math:`w^2\sigma_t^2/k`, tends to 0.
    """
    s = syms
    lam = s.lam
    w = lam / (1 + lam)
    kk = sp.Symbol("k", positive=True)
    E_mu = (1 - w) * s.mu_data + w * s.m
    E_var = (1 - w) * s.s2_data + w * (kk - 1) / kk * s.v + w * (1 - w) * ((s.mu_data - s.m) ** 2 + s.v / kk)
    _, G = gaussian_map()
    return combine(
        expect_zero(E_mu - G[0], "E[μ_{t+1}] - G_m"),
        expect_zero(sp.limit(E_var, kk, sp.oo) - G[1], "lim_{k→∞} E[σ²_{t+1}] - G_v"),
        expect_zero(sp.limit(w**2 * s.v / kk, kk, sp.oo), "lim_{k→∞} Var[μ_{t+1} | t]"),
    )


@check(RESULT, "§6: linear recursions for the first two moments and their stationary values (d = 1)", "symbolic")
def check_moment_recursion() -> Outcome:
    r"""§6: taking expectations turns the conditional moments into a linear system for E[μ_t] and
    E[Σ_t], whose fixed point gives their stationary values.

    With :math:`a_t = E[\mu_t] - \hat m`, :math:`q_t = E[(\mu_t - \hat m)^2]`, :math:`s_t = E[\sigma^2_t]`,
    the tower property and the conditional moments give :math:`a_{t+1} = w a_t`,
    :math:`q_{t+1} = w^2(q_t + s_t/k)` (from :math:`E[(\bar y - \hat m)^2|t] = (\mu_t-\hat m)^2 + \sigma^2_t/k`)
    and :math:`s_{t+1} = (1-w)\hat S + w\frac{k-1}{k}s_t + w(1-w)(q_t + s_t/k)`. The stationary point
    is solved by sympy; the checks are that it is unique, that the iteration matrix has spectral
    radius < 1 at sample points (so it is attracting), and that as :math:`k = \lambda n\to\infty` it
    tends to :math:`(q, s) = (0, \hat S)`, the fixed point :math:`\theta^*` of §3.
    """
    S_hat = sp.Symbol("S_hat", positive=True)
    q, s_ = sp.symbols("q s", nonnegative=True)
    w = W
    # μ_{t+1} - m̂ = w(ȳ - m̂) and E[(ȳ-m̂)² | t] = (μ_t - m̂)² + σ²_t/k; then take expectations.
    q_next = w**2 * (q + s_ / k)
    s_next = (1 - w) * S_hat + w * (k - 1) / k * s_ + w * (1 - w) * (q + s_ / k)
    sol = sp.solve([q_next - q, s_next - s_], [q, s_], dict=True)
    M = sp.Matrix([q_next, s_next]).jacobian([q, s_])
    radius = []
    for nn, kk in ((5, 3), (20, 20), (10, 100), (2, 1)):
        ev = [abs(complex(e)) for e in M.subs({n: nn, k: kk}).eigenvals()]
        radius.append(max(ev))
    outs = [expect_true(len(sol) == 1, f"unique stationary point ({len(sol)} found)")]
    if len(sol) == 1:
        lam = syms.lam
        qs, ss = sol[0][q], sol[0][s_]
        outs.append(expect_zero(sp.limit(qs.subs(k, lam * n), n, sp.oo), "lim q*"))
        outs.append(expect_zero(sp.limit(ss.subs(k, lam * n), n, sp.oo) - S_hat, "lim s* - Ŝ"))
    outs.append(Outcome(max(radius) < 1, f"spectral radius of the iteration: max {max(radius):.4f} over 4 (n, k)"))
    return combine(*outs)


def conditional_moments(m_hat, S_hat, mu_t, Sig_t, n_real: int, k_syn: int):
    """The conditional moments of docs/theory.md §6 in numpy (what the Monte Carlo check compares with)."""
    w = k_syn / (n_real + k_syn)
    dm = np.subtract(m_hat, mu_t)[:, None]
    E_mu = (1 - w) * np.asarray(m_hat) + w * np.asarray(mu_t)
    E_Sig = (1 - w) * S_hat + w * (k_syn - 1) / k_syn * Sig_t + w * (1 - w) * (dm @ dm.T + Sig_t / k_syn)
    return E_mu, E_Sig


@check(RESULT, "§6: conditional moments against a naive refit (draw k points, refit), seeded", "randomized")
def check_naive_refit_monte_carlo() -> Outcome:
    r"""§6: the conditional-moment formulas agree with the slow route that actually draws the k points
    and refits. 40 000 seeded replicates of one round in d = 2 (n = 12 real
    points, k = 5 synthetic, non-trivial μ_t, Σ_t): every entry of the sample mean of
    :math:`\mu_{t+1}` and :math:`\Sigma_{t+1}` must be within 5 standard errors of the formula.
    """
    rng = np.random.default_rng(10)
    nn, kk, R = 12, 5, 40_000
    x = rng.normal(size=(nn, 2)) @ np.array([[1.0, 0.3], [0.0, 0.7]]) + [0.5, -1.0]
    m_hat = x.mean(0)
    S_hat = (x - m_hat).T @ (x - m_hat) / nn
    mu_t = np.array([1.5, 0.2])
    Sig_t = np.array([[2.0, -0.6], [-0.6, 0.8]])
    y = rng.normal(size=(R, kk, 2)) @ np.linalg.cholesky(Sig_t).T + mu_t
    pooled = np.concatenate([np.broadcast_to(x, (R, nn, 2)), y], axis=1)
    mu_new = pooled.mean(1)
    dev = pooled - mu_new[:, None, :]
    Sig_new = np.einsum("rki,rkj->rij", dev, dev) / (nn + kk)
    E_mu, E_Sig = conditional_moments(m_hat, S_hat, mu_t, Sig_t, nn, kk)
    z_mu = np.abs(mu_new.mean(0) - E_mu) / (mu_new.std(0, ddof=1) / np.sqrt(R))
    z_S = np.abs(Sig_new.mean(0) - E_Sig) / (Sig_new.std(0, ddof=1) / np.sqrt(R))
    z = max(z_mu.max(), z_S.max())
    return Outcome(bool(z < 5), f"largest deviation {z:.2f} standard errors over 2 + 4 entries (must be < 5)")


# ---------------------------------------------------------------- the simulator's moment recursions
# Unconditional moments over chains (the real sample is random too), as in stability.dynamics.moments:
# e_t = μ_t - μ_d, a = m̂ - μ_d with Cov(a) = A = Σ_d/n, z = ȳ - μ_t (conditional mean 0, variance Σ_t/k),
# S_t = E[Σ_t], P_t = E[e_t²], C_t = E[e_t a], m_t = E[e_t].
_a, _e, _z, _Sy, _Sh = sp.symbols("a e z S_y S_hat", real=True)
_S, _P, _C, _m, _Sd = sp.symbols("S P C m Sigma_d", real=True)
_w, _c = sp.symbols("w c", positive=True)


def _expect_chain(expr, fresh: bool):
    """E over one round: the moment table above (``fresh``: a new real sample, so E[e a] = 0)."""
    table = {
        (0, 0, 0, 0, 0): 1, (1, 0, 0, 0, 0): 0, (0, 1, 0, 0, 0): _m, (0, 0, 1, 0, 0): 0,
        (0, 0, 0, 1, 0): (k - 1) / k * _S, (0, 0, 0, 0, 1): (n - 1) / n * _Sd,
        (2, 0, 0, 0, 0): _Sd / n, (0, 2, 0, 0, 0): _P, (0, 0, 2, 0, 0): _S / k,
        (1, 1, 0, 0, 0): 0 if fresh else _C, (1, 0, 1, 0, 0): 0, (0, 1, 1, 0, 0): 0,
    }  # fmt: skip
    p = sp.Poly(sp.expand(expr), _a, _e, _z, _Sy, _Sh)
    out = 0
    for mon, coef in p.terms():
        if mon not in table:
            raise ValueError(f"no moment for monomial {mon}")
        out += coef * table[mon]
    return sp.expand(out)


@cache
def unconditional_recursion(scheme: str):
    r"""(S, P, C, m) at t+1 as expressions in (S, P, C, m) at t, derived from the update of §6.

    ``fixed-real``/``fresh-real``: :math:`e_{t+1} = (1-w)a + w(e_t + z)`,
    :math:`\Sigma_{t+1} = c[(1-w)\hat S + wS_y + w(1-w)(z + e_t - a)^2]`; ``replace`` (:math:`w = 1`,
    :math:`k = n`): :math:`e_{t+1} = e_t + z`, :math:`\Sigma_{t+1} = cS_y`. :math:`c = N/(N-1)` for
    the unbiased estimator (:math:`N` points pooled), else 1.
    """
    if scheme == "replace":
        e1 = _e + _z
        sig1 = _c * _Sy
        sub = {k: n}
    else:
        e1 = (1 - _w) * _a + _w * (_e + _z)
        sig1 = _c * ((1 - _w) * _Sh + _w * _Sy + _w * (1 - _w) * (_z + _e - _a) ** 2)
        sub = {}
    fresh = scheme == "fresh-real"
    nxt = [
        _expect_chain(sig1, fresh),
        _expect_chain(e1**2, fresh),
        _expect_chain(e1 * _a, fresh),
        _expect_chain(e1, fresh),
    ]
    if scheme != "fixed-real":
        nxt[2] = sp.Integer(0)  # C_t is not carried: a new real sample each round (or none)
    return tuple(sp.simplify(x.subs(sub)) for x in nxt)


@check(RESULT, "§6 → simulator: unconditional moment recursions derived from the conditional moments", "symbolic")
def check_unconditional_recursion() -> Outcome:
    r"""§6: the linear moment recursions, in the form implemented in :mod:`stability.dynamics.moments`:
    :math:`S_{t+1} = c[(1-w)\frac{n-1}{n}\Sigma_d + w\frac{k-1}{k}S_t + w(1-w)(P_t - 2C_t + A + S_t/k)]`,
    :math:`P_{t+1} = (1-w)^2A + w^2P_t + 2w(1-w)C_t + w^2S_t/k`, :math:`C_{t+1} = (1-w)A + wC_t`
    (fixed-real; :math:`C_t = 0` for fresh-real), and for replace :math:`S_{t+1} = c\frac{n-1}{n}S_t`,
    :math:`P_{t+1} = P_t + S_t/n`.

    Derived by taking expectations of the §6 update monomial by monomial (tower rule; the moment
    table of the real-sample error :math:`a`, the state :math:`e_t` and the synthetic noise
    :math:`z = \bar y - \mu_t`), and compared with the stated forms (here typed from the simulator's
    docstring; the numeric checks below use the derived ones).
    """
    A = _Sd / n
    S_fixed = _c * ((1 - _w) * (n - 1) / n * _Sd + _w * (k - 1) / k * _S + _w * (1 - _w) * (_P - 2 * _C + A + _S / k))
    P_fixed = (1 - _w) ** 2 * A + _w**2 * _P + 2 * _w * (1 - _w) * _C + _w**2 * _S / k
    stated = {
        "fixed-real": (S_fixed, P_fixed, (1 - _w) * A + _w * _C, _w * _m),
        "fresh-real": (S_fixed.subs(_C, 0), P_fixed.subs(_C, 0), sp.Integer(0), _w * _m),
        "replace": (_c * (n - 1) / n * _S, _P + _S / n, sp.Integer(0), _m),
    }
    outs = []
    for scheme, want in stated.items():
        got = unconditional_recursion(scheme)
        for name, g, s_ in zip(("S", "P", "C", "m"), got, want, strict=True):
            outs.append(expect_zero(g - s_, f"{scheme}: {name}_(t+1)"))
    return combine(*outs)


def _iterate(scheme, n_, k_, w_, c_, Sd, S0, e0, G):
    """Iterate the derived recursion in exact rationals; returns lists of (S, P - m², m)."""
    fns = [exact_function((_S, _P, _C, _m, _Sd, n, k, _w, _c), e) for e in unconditional_recursion(scheme)]
    S, P, C, m = S0, e0 * e0, Fraction(0), e0
    out = [(S, P - m * m, m)]
    for _ in range(G):
        S, P, C, m = (f(S, P, C, m, Sd, n_, k_, w_, c_) for f in fns)
        out.append((S, P - m * m, m))
    return out


@check(
    RESULT,
    "§6 → simulator: gaussian_moments / gaussian_stationary against the derived recursions",
    "high-precision numeric",
)
def check_toolkit_moments() -> Outcome:
    r"""§6: the linear moment recursions and their stationary values, as implemented by
    :func:`stability.dynamics.moments.gaussian_moments` and ``gaussian_stationary``.

    The derived recursions (``unconditional_recursion``) are iterated in exact rational arithmetic
    for 12 generations, 1-D, :math:`n \in \{5, 40\}`, :math:`\lambda \in \{1/5, 1, 3\}` (k = λn),
    schemes fixed-real / fresh-real / replace, both estimators, data :math:`N(1/2, 3/2)` and a
    different start :math:`N(2, 1/2)`; the toolkit's ``mean``, ``cov_mean`` and ``expected_cov``
    must match. Stationary values: the fixed point of the derived recursion, solved by sympy, against
    ``gaussian_stationary``. Replace with the MLE must reproduce :func:`stability.collapse.expected_variance`.
    """
    from stability.dynamics import moments as tk_moments

    Sd, mu_d, S0, mu0 = Fraction(3, 2), Fraction(1, 2), Fraction(1, 2), Fraction(2)
    errs, where, st_errs, st_where, col = [], [], [], [], []
    for n_ in (5, 40):
        for lam in (Fraction(1, 5), Fraction(1), Fraction(3)):
            k_ = int(lam * n_)
            for scheme in ("fixed-real", "fresh-real", "replace"):
                for est in ("mle", "unbiased"):
                    kk = n_ if scheme == "replace" else k_
                    w_ = Fraction(1) if scheme == "replace" else Fraction(k_, n_ + k_)
                    N = n_ if scheme == "replace" else n_ + k_
                    c_ = Fraction(N, N - 1) if est == "unbiased" else Fraction(1)
                    ref = _iterate(scheme, n_, kk, w_, c_, Sd, S0, mu0 - mu_d, 12)
                    got = tk_moments.gaussian_moments(
                        n=n_, lambda_=float("inf") if scheme == "replace" else float(lam), generations=12,
                        scheme=scheme, estimator=est, data={"mean": [float(mu_d)], "cov": [[float(Sd)]]},
                        init={"mean": [float(mu0)], "cov": [[float(S0)]]},
                    )  # fmt: skip
                    for t, (S, V, m) in enumerate(ref):
                        e = max(abs(got.expected_cov[t, 0, 0] - float(S)) / float(S),
                                abs(got.cov_mean[t, 0, 0] - float(V)) / max(float(V), float(S)),
                                abs(got.mean[t, 0] - float(mu_d + m)) / float(abs(mu_d) + abs(m)))  # fmt: skip
                        errs.append(e)
                        where.append(f"{scheme}, {est}, n={n_}, λ={lam}, t={t}")
                    if scheme == "replace" and est == "mle":
                        law = tk_collapse.expected_variance(np.arange(13), n_, float(S0) ** 0.5, "mle")
                        col.append(float(np.max(np.abs(got.expected_cov[:, 0, 0] - law)) / float(S0)))
                    if scheme != "replace":
                        rec = unconditional_recursion(scheme)
                        vals = {_Sd: Sd, n: n_, k: k_, _w: w_, _c: c_}
                        eqs = [r.subs(vals) - v for r, v in zip(rec, (_S, _P, _C, _m), strict=True)]
                        sol = sp.solve(eqs, [_S, _P, _C, _m], dict=True)[0]
                        data = {"mean": [float(mu_d)], "cov": [[float(Sd)]]}
                        st = tk_moments.gaussian_stationary(
                            n=n_, lambda_=float(lam), scheme=scheme, estimator=est, data=data
                        )
                        S_inf, V_inf = sol[_S], sol[_P] - sol[_m] ** 2
                        st_errs.append(max(abs(st.expected_cov[0, 0] - float(S_inf)) / float(S_inf),
                                           abs(st.cov_mean[0, 0] - float(V_inf)) / float(V_inf)))  # fmt: skip
                        st_where.append(f"{scheme}, {est}, n={n_}, λ={lam}")
    # Twelve steps of a linear recursion in double precision: <= ~100 ulps ~ 2e-14 relative.
    return combine(
        worst_case(errs, 1e-12, "gaussian_moments vs derived recursion (exact rationals)", where),
        worst_case(st_errs, 1e-12, "gaussian_stationary vs the recursion's fixed point", st_where),
        worst_case(col, 1e-12, "replace/MLE expected_cov vs collapse.expected_variance"),
    )
