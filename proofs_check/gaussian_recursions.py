r"""THEORY.md §6: the finite-sample Gaussian recursions (conditional mean and covariance).

"Real sample of size n with MLE mean m̂, covariance Ŝ; k = ⌊λn⌋ synthetic points per round;
w = k/(n+k). With ȳ ~ N(μ_t, Σ_t/k) and k S_y ~ Wishart(Σ_t, k-1) independent (MLE S_y):
μ_{t+1} = (1-w) m̂ + w ȳ; Σ_{t+1} = (1-w) Ŝ + w S_y + w(1-w)(ȳ - m̂)(ȳ - m̂)ᵀ.
Conditional moments: E[μ_{t+1}] = (1-w) m̂ + w μ_t;
E[Σ_{t+1}] = (1-w) Ŝ + w (k-1)/k Σ_t + w(1-w)[(m̂-μ_t)(m̂-μ_t)ᵀ + Σ_t/k]."

The simulator implementing these lives on another branch; these checks derive the formulas
(d = 2, symbolic entries) and test them by a seeded naive refit, so the simulator can be checked
against them once merged.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._util import expect_true, expect_zero
from .models import gaussian_map, syms
from .registry import Outcome, check, combine

__all__ = [
    "check_conditional_moments",
    "check_infinite_sample_limit",
    "check_moment_recursion",
    "check_naive_refit_monte_carlo",
    "check_pooled_update",
    "conditional_moments",
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
    """The update of THEORY.md §6, as written there."""
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
            "E[Σ_{t+1}] - THEORY.md formula",
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
    r"""§6: "These give linear recursions for the first two moments (and their stationary values)".

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
    """The conditional moments of THEORY.md §6 in numpy (what the Monte Carlo check compares with)."""
    w = k_syn / (n_real + k_syn)
    dm = np.subtract(m_hat, mu_t)[:, None]
    E_mu = (1 - w) * np.asarray(m_hat) + w * np.asarray(mu_t)
    E_Sig = (1 - w) * S_hat + w * (k_syn - 1) / k_syn * Sig_t + w * (1 - w) * (dm @ dm.T + Sig_t / k_syn)
    return E_mu, E_Sig


@check(RESULT, "§6: conditional moments against a naive refit (draw k points, refit), seeded", "randomized")
def check_naive_refit_monte_carlo() -> Outcome:
    r"""§6: "Drawing the k points and refitting (O(k d²)) is the naive reference it must agree with"
    and the conditional-moment formulas. 40 000 seeded replicates of one round in d = 2 (n = 12 real
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
