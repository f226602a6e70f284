r"""docs/theory.md §14: self-correcting retraining (Gillman et al. 2024), its linearised and exact laws.

Steps checked: the implicit-function Jacobian of a round with a corrector, on a Gaussian model in
closed form (target the real fit: :math:`J = J_0/(1+\gamma)`; another target: the moved fixed point
and :math:`J = (1-p)\rho H^{-1}B`); the diagonal Lyapunov solution with correction and its
purely synthetic limit; the binomial split of the exact sampler against i.i.d. mixture draws (the
pooled mean and scatter, exactly, for every batch size up to 8); the exponential-family stationary
variances with correction (fixed-real, fresh-real, replace) as fixed points of the moment
recursion; and the toolkit's :func:`stability.stationary.stationary`,
:func:`~stability.dynamics.moments.stationary_closed_form` and
:func:`~stability.dynamics.moments.family_stationary` with ``correction`` against independent
evaluations.
"""

from __future__ import annotations

import importlib

import mpmath as mp
import numpy as np
import sympy as sp

from ._random import random_pair
from ._util import DPS, expect_zero, lyapunov_mp, worst_case
from .registry import Outcome, check, combine

__all__ = [
    "check_binomial_split",
    "check_diagonal_solution",
    "check_expfam_variances",
    "check_implicit_jacobian",
    "check_toolkit_moments",
    "check_toolkit_stationary",
]

RESULT = "correction"

# toolkit modules, looked up at call time so that a test can plant an error in them
toolkit_stationary = importlib.import_module("stability.stationary")
toolkit_moments = importlib.import_module("stability.dynamics.moments")

g, rho, k, n = sp.symbols("gamma rho k n", positive=True)
p = g / (1 + g)  # probability that a synthetic point is replaced by a target draw

# the toolkit's C in double precision against a 50-digit Lyapunov solve (condition numbers <= 1e2),
# as proofs_check.stationary
TOL_C = 1e-10
# closed forms / an affine solve of a few unknowns in double precision against exact rationals
TOL_FLOAT = 1e-12


def _gaussian_round(theta_new, theta, target, real, rho_, p_):
    r"""The population first-order condition of one corrected round for :math:`N(\mu, v)`, :math:`\theta = (\mu, v)`.

    Real term: the mean score of a sample with mean ``real[0]`` and variance ``real[1]``; synthetic
    term: :math:`\rho` times the expected score of :math:`\theta'` under the mixture
    :math:`(1-p)N(\theta) + pN(\text{target})`, from :math:`E y = \bar m` and
    :math:`E(y-\mu')^2 = \sum_c \pi_c (v_c + (\mu_c - \mu')^2)`.
    """
    mu1, v1 = theta_new

    def score_mean(mean, second):  # E[score] given E y and E (y - mu1)^2
        return sp.Matrix([(mean - mu1) / v1, -1 / (2 * v1) + second / (2 * v1**2)])

    real_score = score_mean(real[0], real[1] + (real[0] - mu1) ** 2)
    comps = [(1 - p_, theta), (p_, target)]
    mean = sum(w * c[0] for w, c in comps)
    second = sum(w * (c[1] + (c[0] - mu1) ** 2) for w, c in comps)
    return real_score + rho_ * score_mean(mean, second)


@check(RESULT, "§14: implicit Jacobian of a corrected round: J = J₀/(1+γ) (target θ*), (1-p)ρH⁻¹B (other)", "symbolic")
def check_implicit_jacobian() -> Outcome:
    r"""§14: "differentiating the population condition at the fixed point, ∂/∂θ' = -(A+ρB) and
    ∂/∂θ = (1-p)ρB, so J = (ρ/(1+γ))(A+ρB)^{-1}B"; with a target T ≠ θ*: "the fixed point maximises
    L + ρp E_T log p_θ and J = (1-p)ρ H^{-1}B, H = A + ρ(1-p)B + ρp A_T".

    The model :math:`N(\mu, v)` with the real sample's mean :math:`m` and variance :math:`s` (so
    :math:`\theta^* = (m, s)`, :math:`A = B = \mathrm{diag}(1/s, 1/(2s^2))`): the population condition of
    one corrected round is written from the mixture's moments (:func:`_gaussian_round`), its fixed
    point checked, and :math:`J = -F_{\theta'}^{-1}F_\theta` compared with the claimed form. For a
    target :math:`(\mu_T, v_T)` the fixed point :math:`\mu^* = (m + \rho p\mu_T)/(1+\rho p)` and
    :math:`v^* = (s + \rho p(v_T + (\mu_T-\mu^*)^2) + (m - \mu^*)^2)/(1+\rho p)` is substituted, and
    :math:`J` is compared with :math:`(1-p)\rho H^{-1}B(\theta^*)`, :math:`H = -\partial_{\theta'}F`
    built from :math:`A = -\nabla^2L`, :math:`B` the Fisher information and
    :math:`A_T = -E_T\nabla^2\log p`, in exact rationals at three seeded parameter points.
    """
    m, s, muT, vT = sp.symbols("m s mu_T v_T", positive=True)
    a, b, c, d = sp.symbols("a b c d", positive=True)  # theta' = (a, b), theta = (c, d)
    out = []
    # target = the real fit
    F = _gaussian_round((a, b), (c, d), (m, s), (m, s), rho, p)
    at = {a: m, b: s, c: m, d: s}
    Fp, Ft = F.jacobian([a, b]).subs(at), F.jacobian([c, d]).subs(at)
    J = -Fp.inv() * Ft
    A = sp.diag(1 / s, 1 / (2 * s**2))
    J0 = rho * (A + rho * A).inv() * A
    out += [
        expect_zero(F.subs(at), "fixed point θ* of the corrected round"),
        expect_zero(sp.simplify(J - J0 / (1 + g)), "J - J₀/(1+γ) (target θ*)"),
        expect_zero(sp.simplify(Fp + (A + rho * A)), "∂F/∂θ' + (A+ρB): the Hessian term is unchanged"),
    ]
    # another target: the moved fixed point and the general form, in exact rationals at seeded points
    # (the symbolic simplification of the moved fixed point is too slow for a routine check)
    rng = np.random.default_rng(29)
    for _ in range(3):
        vals = {sym: sp.Rational(int(rng.integers(1, 40)), int(rng.integers(1, 12))) for sym in (m, s, muT, vT, rho, g)}
        pv = vals[g] / (1 + vals[g])
        mu_s = (vals[m] + vals[rho] * pv * vals[muT]) / (1 + vals[rho] * pv)
        v_s = (vals[s] + (vals[m] - mu_s) ** 2 + vals[rho] * pv * (vals[vT] + (vals[muT] - mu_s) ** 2)) / (
            1 + vals[rho] * pv
        )
        F = _gaussian_round((a, b), (c, d), (vals[muT], vals[vT]), (vals[m], vals[s]), vals[rho], pv)
        at = {a: mu_s, b: v_s, c: mu_s, d: v_s}
        Fp, Ft = F.jacobian([a, b]).subs(at), F.jacobian([c, d]).subs(at)
        J = -Fp.inv() * Ft
        # A = -Hessian of the real mean log-likelihood, A_T = -E_T Hessian, B = Fisher, all at (mu*, v*)
        th = sp.Matrix([a, b])
        realL = -sp.log(b) / 2 - (vals[s] + (vals[m] - a) ** 2) / (2 * b)
        targL = -sp.log(b) / 2 - (vals[vT] + (vals[muT] - a) ** 2) / (2 * b)
        A_ = -sp.hessian(realL, th).subs({a: mu_s, b: v_s})
        AT = -sp.hessian(targL, th).subs({a: mu_s, b: v_s})
        B_ = sp.diag(1 / v_s, 1 / (2 * v_s**2))
        H = A_ + vals[rho] * (1 - pv) * B_ + vals[rho] * pv * AT
        where = ", ".join(f"{k_}={v_}" for k_, v_ in vals.items())
        out += [
            expect_zero(F.subs(at), f"moved fixed point (μ*, v*), target ≠ θ* ({where})"),
            expect_zero(-Fp - H, "-∂F/∂θ' - (A + ρ(1-p)B + ρpA_T)"),
            expect_zero(J - (1 - pv) * vals[rho] * H.inv() * B_, "J - (1-p)ρH⁻¹B"),
        ]
    return combine(*out)


@check(RESULT, "§14: c = ρ²γ_i/(k[(1+ργ_i)² - ρ²γ_i²/(1+γ)²]) solves C = JCJᵀ + Q; ρ → ∞ limit", "symbolic")
def check_diagonal_solution() -> Outcome:
    r"""§14: "d_i = ργ_i/((1+γ)(1+ργ_i)), q_i unchanged, so c_i = ρ²γ_i/(k[(1+ργ_i)² - ρ²γ_i²/(1+γ)²])";
    "the rate is exactly ρ_exact/(1+γ)"; "as ρ → ∞ (replace), c_i → (1+γ)²/(kγ_iγ(2+γ)), J → I/(1+γ)".

    On a generic diagonal pair :math:`A = \mathrm{diag}(a_1, a_2)`, :math:`B = \mathrm{diag}(b_1, b_2)`
    with :math:`J = \frac{\rho}{1+\gamma}(A+\rho B)^{-1}B`, :math:`Q = \frac{\rho^2}{k}(A+\rho B)^{-1}B(A+\rho B)^{-1}`.
    """
    a1, a2, b1, b2, x = sp.symbols("a1 a2 b1 b2 x", positive=True)
    A, B = sp.diag(a1, a2), sp.diag(b1, b2)
    Minv = (A + rho * B).inv()
    J, Q = rho / (1 + g) * Minv * B, rho**2 / k * Minv * B * Minv

    def c(gam):
        return rho**2 * gam / (k * ((1 + rho * gam) ** 2 - rho**2 * gam**2 / (1 + g) ** 2))

    C = sp.diag(c(b1 / a1) / a1, c(b2 / a2) / a2)
    lim = sp.limit(c(x), rho, sp.oo)
    return combine(
        expect_zero(sp.simplify(C - J * C * J.T - Q), "C - JCJᵀ - Q with the corrected c_i"),
        expect_zero(J[0, 0] - (rho * b1 / a1 / (1 + rho * b1 / a1)) / (1 + g), "eigenvalue of J - ργ/(1+ργ)/(1+γ)"),
        expect_zero(lim - (1 + g) ** 2 / (k * x * g * (2 + g)), "lim_{ρ→∞} c(γ_i) - (1+γ)²/(kγ_iγ(2+γ))"),
        expect_zero(sp.limit(J[0, 0], rho, sp.oo) - 1 / (1 + g), "lim_{ρ→∞} J - 1/(1+γ)"),
        expect_zero(
            (1 + x) ** 2 - x**2 / (1 + g) ** 2 - (1 + 2 * x + x**2 * g * (2 + g) / (1 + g) ** 2),
            "(1+x)² - x²/(1+γ)² - (1 + 2x + x²γ(2+γ)/(1+γ)²) (the toolkit's form)",
        ),
    )


@check(RESULT, "§14: the binomial split K_c ~ Bin(k, p), pooled, has the i.i.d. mixture's mean and scatter", "symbolic")
def check_binomial_split() -> Outcome:
    r"""§14: "the exact sampler draws K_c ~ Bin(k, p), the two parts' statistics exactly, and pools them:
    the same law as k i.i.d. points of q"; the first two moments the recursions use are checked.

    For :math:`k = 1, \dots, 8`, symbolic :math:`p`, component means :math:`\mu_1, \mu_2` and variances
    :math:`V_1, V_2` (one dimension), the expectation over :math:`K_c` of the pooled mean
    :math:`(K_m\bar y_1 + K_c\bar y_2)/k` and of the pooled scatter
    :math:`Q_1 + Q_2 + \frac{K_mK_c}{k}(\bar y_2-\bar y_1)^2` (with :math:`E Q_j = (K_j-1)V_j`,
    :math:`E(\bar y_2-\bar y_1)^2 = V_1/K_m + V_2/K_c + (\mu_2-\mu_1)^2` when both parts are non-empty)
    is compared with :math:`\mu_q = (1-p)\mu_1 + p\mu_2` and :math:`(k-1)\Sigma_q`,
    :math:`\Sigma_q = (1-p)V_1 + pV_2 + p(1-p)(\mu_1-\mu_2)^2`; and :math:`E[\bar y^2] = \mu_q^2 + \Sigma_q/k`.
    """
    pp, m1, m2, V1, V2 = sp.symbols("p mu1 mu2 V1 V2", positive=True)
    mq = (1 - pp) * m1 + pp * m2
    Sq = (1 - pp) * V1 + pp * V2 + pp * (1 - pp) * (m1 - m2) ** 2
    out = []
    for kk in range(1, 9):
        Em, Et, E2 = 0, 0, 0
        for kc in range(kk + 1):
            km = kk - kc
            wgt = sp.binomial(kk, kc) * pp**kc * (1 - pp) ** km
            mean = (km * m1 + kc * m2) / kk
            scatter = max(km - 1, 0) * V1 + max(kc - 1, 0) * V2
            if km and kc:
                scatter += sp.Rational(km * kc, kk) * (V1 / km + V2 / kc + (m2 - m1) ** 2)
            # E[ybar^2]: the pooled mean's variance (km V1 + kc V2)/k^2 plus its mean squared
            E2 += wgt * (mean**2 + (km * V1 + kc * V2) / kk**2)
            Em += wgt * mean
            Et += wgt * scatter
        out += [
            expect_zero(sp.expand(Em - mq), f"k={kk}: E[pooled mean] - μ_q"),
            expect_zero(sp.expand(Et - (kk - 1) * Sq), f"k={kk}: E[pooled scatter] - (k-1)Σ_q"),
            expect_zero(sp.expand(E2 - mq**2 - Sq / kk), f"k={kk}: E[ȳ²] - μ_q² - Σ_q/k"),
        ]
    return combine(*out)


@check(RESULT, "§14: exponential-family stationary variances with correction solve the moment recursion", "symbolic")
def check_expfam_variances() -> Outcome:
    r"""§14: with unit variance function (first order), target the real fit (fixed-real) or the data
    (fresh-real, replace): "Var(η_∞ - η̂) = w²/(k(1 - w²(1-p)²))", "fresh-real ((1-w)²/n + w²/k)/(1 - w²(1-p)²)",
    "replace (1+γ)²/(nγ(2+γ))", and at w = ρ/(1+ρ) the first equals the diagonal law's
    ρ²/(k[(1+ρ)² - ρ²/(1+γ)²]); the mean map's slope is λ/((1+λ)(1+γ)) exactly.

    Recursions (mean parameter, :math:`\delta = \eta - \hat\eta`, :math:`e = \eta - \eta_d`): one
    round :math:`\delta' = w[(1-p)\delta + \xi]`, :math:`\mathrm{Var}\,\xi = 1/k` (fixed-real);
    :math:`e' = (1-w)\varepsilon + w[(1-p)e + \xi]` with a fresh :math:`\varepsilon` of variance
    :math:`1/n` (fresh-real); :math:`e' = (1-p)e + \xi`, :math:`\mathrm{Var}\,\xi = 1/n` (replace).
    """
    w, lam, P, mu, muh, muT = sp.symbols("w lambda P mu muhat mu_T", positive=True)
    fixed = sp.solve(sp.Eq(P, w**2 * ((1 - p) ** 2 * P + 1 / k)), P)[0]
    fresh = sp.solve(sp.Eq(P, (1 - w) ** 2 / n + w**2 * ((1 - p) ** 2 * P + 1 / k)), P)[0]
    repl = sp.solve(sp.Eq(P, (1 - p) ** 2 * P + 1 / n), P)[0]
    mean_map = (muh + lam * ((1 - p) * mu + p * muT)) / (1 + lam)
    return combine(
        expect_zero(fixed - w**2 / (k * (1 - w**2 * (1 - p) ** 2)), "fixed-real P - w²/(k(1-w²(1-p)²))"),
        expect_zero(
            fixed.subs(w, rho / (1 + rho)) - rho**2 / (k * ((1 + rho) ** 2 - rho**2 / (1 + g) ** 2)),
            "at w = ρ/(1+ρ): - ρ²/(k[(1+ρ)² - ρ²/(1+γ)²])",
        ),
        expect_zero(fresh - ((1 - w) ** 2 / n + w**2 / k) / (1 - w**2 * (1 - p) ** 2), "fresh-real P - claimed form"),
        expect_zero(repl - (1 + g) ** 2 / (n * g * (2 + g)), "replace P - (1+γ)²/(nγ(2+γ))"),
        expect_zero(sp.diff(mean_map, mu) - lam / ((1 + lam) * (1 + g)), "∂μ'/∂μ - λ/((1+λ)(1+γ))"),
    )


@check(RESULT, "§14: toolkit stationary(..., correction) vs an independent Lyapunov solve; replace law", "randomized")
def check_toolkit_stationary() -> Outcome:
    r"""§14: :func:`stability.stationary.stationary` with ``correction`` against the Lyapunov equation with
    :math:`J = \frac{\rho}{1+\gamma}(A+\rho B)^{-1}B` solved in mpmath at 50 digits, 30 seeded pairs
    (``random_pair``, dimension 1–4, :math:`\lambda` in [0.1, 10], :math:`\gamma` in [0.05, 20], k from 1 to
    500); and ``lambda_ = inf`` against :math:`\frac{(1+\gamma)^2}{k\gamma(2+\gamma)}B^{-1}` (B made
    positive definite). Worst max-entry error relative to :math:`\max|C|`.
    """
    rng = np.random.default_rng(23)
    errs, where, errs_r = [], [], []
    for _ in range(30):
        d = int(rng.integers(1, 5))
        A, B = random_pair(rng, d)
        lam, gam, kk = float(10 ** rng.uniform(-1, 1)), float(10 ** rng.uniform(-1.3, 1.3)), int(rng.integers(1, 501))
        with mp.workdps(DPS):
            Am, Bm = mp.matrix(A.tolist()), mp.matrix(B.tolist())
            Minv = mp.inverse(Am + lam * Bm)
            C_ref = lyapunov_mp(lam / (1 + mp.mpf(gam)) * Minv * Bm, (mp.mpf(lam) ** 2 / kk) * Minv * Bm * Minv)
        C = toolkit_stationary.stationary(A, B, lam, 100, k=kk, correction=gam).cov
        errs.append(np.abs(C - C_ref).max() / np.abs(C_ref).max() if np.abs(C_ref).max() > 0 else np.abs(C).max())
        where.append(f"d={d}, λ={lam:.3g}, γ={gam:.3g}, k={kk}")
        Bp = B + 0.5 * np.eye(d)
        with mp.workdps(DPS):
            Binv = mp.inverse(mp.matrix(Bp.tolist()))
            fac = (1 + mp.mpf(gam)) ** 2 / (kk * mp.mpf(gam) * (2 + mp.mpf(gam)))
            R = np.array([[float(fac * Binv[i, j]) for j in range(d)] for i in range(d)])
        Cr = toolkit_stationary.stationary(A, Bp, float("inf"), 100, k=kk, correction=gam).cov
        errs_r.append(np.abs(Cr - R).max() / np.abs(R).max())
    return combine(
        worst_case(errs, TOL_C, "stationary(correction) vs 50-digit Lyapunov", where),
        worst_case(errs_r, TOL_C, "stationary(inf, correction) vs (1+γ)²B⁻¹/(kγ(2+γ))", where),
    )


@check(
    RESULT, "§14: toolkit closed form and Poisson moments with correction vs exact rationals", "high-precision numeric"
)
def check_toolkit_moments() -> Outcome:
    r"""§14: :func:`~stability.dynamics.moments.stationary_closed_form` with ``correction`` against
    :math:`c\,r` with :math:`c = \rho^2/(k[(1+\rho)^2 - \rho^2/(1+\gamma)^2])` (and the replace form), and
    :func:`~stability.dynamics.moments.family_stationary` (Poisson, rate :math:`r`, exact moments) against
    the fixed points of the recursions written here from the conditional law, solved in exact rationals:

    - replace, target the data: :math:`P' = (1-p)^2P + [(1-p)r + pr + p(1-p)P]/n` (a corrected point has
      variance :math:`(1-p)\eta_t + p r + p(1-p)(\eta_t - r)^2`, whose mean over the chain is
      :math:`r + p(1-p)P` since :math:`E\eta_t = r`);
    - fixed-real, target the chain's real fit :math:`\hat\eta = r + a`: with :math:`D = E(\eta - \hat\eta)^2`,
      :math:`E a^2 = r/n` and :math:`\delta' = w[(1-p)\delta + \xi]`, :math:`E\xi^2 = [r + p(1-p)D]/k`
      (the mixture's variance; :math:`E V(\eta_t)` and :math:`E V(\hat\eta)` are both :math:`r` for
      the Poisson), so :math:`D = w^2[(1-p)^2D + (r + p(1-p)D)/k]` and
      :math:`\mathrm{Var}(\eta_\infty) = r/n + D` (the error :math:`\delta` is uncorrelated with :math:`a`).
    """
    out = []
    cases = ((1, sp.Rational(1, 2), 40, 3), (2, 3, 25, sp.Rational(1, 2)), (sp.Rational(1, 2), 1, 60, 2))
    for lam_, gam_, n_, r_ in cases:
        kk = int(lam_ * n_)
        pq = sp.Rational(gam_) / (1 + gam_)
        P = sp.Symbol("P")
        repl = sp.solve(sp.Eq(P, (1 - pq) ** 2 * P + (r_ + pq * (1 - pq) * P) / n_), P)[0]
        wgt = sp.Rational(kk, n_ + kk)
        D = sp.solve(sp.Eq(P, wgt**2 * ((1 - pq) ** 2 * P + (r_ + pq * (1 - pq) * P) / kk)), P)[0]
        fixed = r_ / sp.Integer(n_) + D
        data = {"rate": float(r_)}
        t_repl = toolkit_moments.family_stationary(
            "poisson", n=n_, lambda_=float("inf"), scheme="replace", correction=float(gam_), data=data
        ).cov_mean[0, 0]
        t_fixed = toolkit_moments.family_stationary(
            "poisson", n=n_, lambda_=float(lam_), correction=float(gam_), data=data
        ).cov_mean[0, 0]
        rho_ = sp.Rational(lam_)
        c = rho_**2 / (kk * ((1 + rho_) ** 2 - rho_**2 / (1 + sp.Rational(gam_)) ** 2))
        t_c = toolkit_moments.stationary_closed_form("poisson", float(lam_), n_, data=data, correction=float(gam_))
        c_r = (1 + sp.Rational(gam_)) ** 2 / (n_ * sp.Rational(gam_) * (2 + sp.Rational(gam_)))
        t_r = toolkit_moments.stationary_closed_form("poisson", float("inf"), n_, data=data, correction=float(gam_))
        label = f"λ={lam_}, γ={gam_}, n={n_}, r={r_}"
        out += [
            worst_case([abs(t_repl / float(repl) - 1)], TOL_FLOAT, f"{label}: family_stationary replace"),
            worst_case([abs(t_fixed / float(fixed) - 1)], TOL_FLOAT, f"{label}: family_stationary fixed-real"),
            worst_case([abs(t_c.cov[0, 0] / float(c * r_) - 1)], TOL_FLOAT, f"{label}: stationary_closed_form"),
            worst_case([abs(t_r.cov[0, 0] / float(c_r * r_) - 1)], TOL_FLOAT, f"{label}: closed form, replace"),
        ]
    return combine(*out)
