r"""docs/theory.md §12: linear regression with a fixed design, retrained on its own labels.

Steps checked: the exact law of a batch's sufficient statistics (the split of :math:`\|\zeta\|^2`
into :math:`z^\top\tilde G^+z` and an independent :math:`\chi^2_{k-r}`), symbolically and against the
toolkit's sampler; the Lyapunov solution at :math:`\lambda = 1` (:math:`J = I/2`,
:math:`C = \sigma^2G^{-1}/3`) and at integer :math:`\lambda = m`; the toolkit's stationary moments
against an independent Lyapunov solve on random designs; the conditional expectation of the pooled
RSS behind the fitted-scale recursion; the closed-form stationary noise level and error with the
fitted scale; and the growth laws under ``replace``.
"""

from __future__ import annotations

import importlib

import numpy as np
import sympy as sp

from stability.schemes import synthetic_count

from ._util import expect_zero, lyapunov_mp, worst_case
from .registry import Outcome, check, combine

__all__ = [
    "check_chi2_split",
    "check_fitted_scale_stationary",
    "check_lyapunov_lambda_one",
    "check_replace_growth",
    "check_rss_expectation",
    "check_sampler_law",
    "check_toolkit_lyapunov",
    "integer_lambda_closed_forms",
]

RESULT = "regression"

toolkit = importlib.import_module("stability.dynamics.regression")

# The toolkit solves a (2d² + 1)-dimensional linear system in double precision built from matrices of
# condition number <= ~1e3 (random designs below): relative error ~ 1e3 * 1e-16 * size; 1e-9 is ample.
TOL = 1e-9
# Monte Carlo checks: |z| <= 5 for every statistic (a false alarm has probability ~ 6e-7 per statistic).
Z_MAX = 5.0

m_, n_, d_, sig2 = sp.symbols("m n d sigma2", positive=True)


def _design() -> tuple[sp.Matrix, sp.Matrix]:
    """A small exact design: X (4 x 2), and synthetic rows that repeat row 1 (rank 1 < d = 2)."""
    X = sp.Matrix([[1, 2], [3, -1], [0, 1], [2, 2]])
    Xt = sp.Matrix([[1, 2], [1, 2], [2, 4]])  # rank 1: G~ is singular
    return X, Xt


@check(RESULT, "§12: Xᵀ(Y-Xb) = s z, ‖Y-Xb‖² = s²(zᵀG⁺z + χ²_{k-r}), the two parts independent", "symbolic")
def check_chi2_split() -> Outcome:
    r"""§12: "the synthetic statistics are :math:`\tilde X^\top\tilde y = \tilde G\beta_t + s_tz`,
    :math:`z\sim N(0,\tilde G)`, and :math:`\tilde y^\top\tilde y = \beta_t^\top\tilde G\beta_t + 2s_t\beta_t^\top z
    + s_t^2(z^\top\tilde G^+z + \chi^2_{k-\mathrm{rank}\,\tilde G})`".

    On a rank-deficient exact design (k = 3 rows of rank 1, d = 2) with symbolic :math:`\zeta, \beta, s`:
    :math:`P = \tilde X\tilde G^+\tilde X^\top` is a symmetric idempotent of trace :math:`r`;
    :math:`\zeta^\top P\zeta = z^\top\tilde G^+z` with :math:`z = \tilde X^\top\zeta`; the two raw
    statistics expand as claimed with :math:`\zeta^\top(I-P)\zeta` for the :math:`\chi^2` part;
    :math:`\mathrm{Cov}(z, (I-P)\zeta) = \tilde X^\top(I-P) = 0` (independent, jointly Gaussian), and
    :math:`I-P` is idempotent of trace :math:`k-r` (so :math:`\zeta^\top(I-P)\zeta \sim \chi^2_{k-r}`).
    """
    _, Xt = _design()
    k, d = Xt.shape
    r = Xt.rank()
    zeta = sp.Matrix(sp.symbols(f"zeta1:{k + 1}", real=True))
    beta = sp.Matrix(sp.symbols(f"beta1:{d + 1}", real=True))
    s = sp.Symbol("s", positive=True)
    Gt = Xt.T * Xt
    Gp = Gt.pinv()
    P = Xt * Gp * Xt.T
    Ik = sp.eye(k)
    z = Xt.T * zeta
    y = Xt * beta + s * zeta
    raw_yy = (
        (beta.T * Gt * beta)[0] + 2 * s * (beta.T * z)[0] + s**2 * ((z.T * Gp * z)[0] + (zeta.T * (Ik - P) * zeta)[0])
    )
    return combine(
        expect_zero(P * P - P, "P² - P"),
        expect_zero(P - P.T, "P - Pᵀ"),
        expect_zero(P.trace() - r, f"tr P - rank G~ (= {r})"),
        expect_zero((Ik - P).trace() - (k - r), "tr(I-P) - (k - r)"),
        expect_zero((zeta.T * P * zeta)[0] - (z.T * Gp * z)[0], "ζᵀPζ - zᵀG⁺z"),
        expect_zero(Xt.T * y - (Gt * beta + s * z), "X~ᵀy~ - (G~β + s z)"),
        expect_zero((y.T * y)[0] - raw_yy, "y~ᵀy~ - (βᵀG~β + 2sβᵀz + s²(zᵀG⁺z + ζᵀ(I-P)ζ))"),
        expect_zero(Xt.T * (Ik - P), "Cov(z, (I-P)ζ) = X~ᵀ(I-P)"),
    )


@check(RESULT, "§12: the toolkit's label_stats has the law of the drawn labels' statistics (seeded)", "randomized")
def check_sampler_law() -> Outcome:
    r"""§12: the exact sampler draws :math:`(S, R) = (sFw, s^2(\|w\|^2 + \chi^2_{m-r}))`, the law of
    :math:`(Z^\top(Y-Zb), \|Y-Zb\|^2)` for :math:`Y = Zb + s\zeta`.

    200,000 seeded draws of ``label_stats`` for rows of rank 2 < d = 3 (m = 5, s = 1.5) against the
    moments of the labels' law: :math:`E[R] = s^2m`, :math:`\mathrm{Var}(R) = 2s^4m` (:math:`R/s^2 \sim
    \chi^2_m`), :math:`E[SS^\top] = s^2Z^\top Z`, :math:`E[S\,R] = 0`; each as a z-score against its
    Monte Carlo standard error (from the sample), all :math:`|z| \le 5`.
    """
    rows = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 2.0], [2.0, 0.0, 2.0], [1.0, -1.0, 0.0]])
    m, N, s = rows.shape[0], 200_000, 1.5
    F = toolkit._factor(rows)
    S, R = toolkit.label_stats(np.random.default_rng(2026), F, m, np.full(N, s))
    G = rows.T @ rows

    def z(x, target):
        return abs(x.mean() - target) / (x.std(ddof=1) / np.sqrt(N))

    zs = [z(R, s**2 * m), z((R - R.mean()) ** 2, 2 * s**4 * m)]
    zs += [z(S[:, i] * S[:, j], s**2 * G[i, j]) for i in range(3) for j in range(i, 3)]
    zs += [z(S[:, i] * R, 0.0) for i in range(3)]
    return worst_case(zs, Z_MAX, "|z| of E[R], Var(R), E[SSᵀ], E[SR] (200,000 draws)")


def _reductions(Gm: sp.Matrix, mm):
    """J, K, Q1, M, tr(H⁻¹G~) from their definitions at G~ = mG."""
    Gt = mm * Gm
    Hinv = (Gm + Gt).inv()
    return Hinv * Gt, Hinv * Gm, Hinv * Gt * Hinv, Gt - Gt * Hinv * Gt, (Hinv * Gt).trace()


@check(RESULT, "§12: λ = 1: J = I/2, C = σ²G⁻¹/3 solves C = JCJᵀ + Q; λ = m; weighted: J = wI", "symbolic")
def check_lyapunov_lambda_one() -> Outcome:
    r"""§12: "with known σ ... the stationary covariance solves a discrete Lyapunov equation exactly
    (λ = 1: J = I/2)", :math:`C = \sigma^2G^{-1}/3`; for :math:`\tilde X` = :math:`m` copies of :math:`X`,
    :math:`C = \sigma^2\frac{m}{1+2m}G^{-1}`; in the generalised eigenbasis
    :math:`c_i = \sigma^2\gamma_i/(1+2\gamma_i)`.

    Generic symmetric 2×2 :math:`G` (symbolic entries): :math:`J = H^{-1}\tilde G`,
    :math:`Q = \sigma^2H^{-1}\tilde GH^{-1}` from their definitions with :math:`\tilde G = mG`; the
    claimed :math:`C` makes :math:`C - JCJ^\top - Q` vanish at :math:`m = 1` and for symbolic :math:`m`;
    the one-direction case :math:`G = 1, \tilde G = \gamma` gives :math:`\gamma/(1+2\gamma)`. Weighted
    least squares at :math:`\lambda = 1` (real rows weigh :math:`c_1`, synthetic :math:`c_2 = \frac{w}{1-w}c_1`):
    :math:`J = wI` and :math:`C = \frac{w^2}{1-w^2}\sigma^2G^{-1}`.
    """
    a, b, c = sp.symbols("g11 g12 g22", real=True)
    Gm = sp.Matrix([[a, b], [b, c]])
    out = []
    for mm in (sp.Integer(1), m_):
        J, _, Q1, _, _ = _reductions(Gm, mm)
        C = sig2 * mm / (1 + 2 * mm) * Gm.inv()
        out.append(expect_zero(sp.simplify(J - mm / (1 + mm) * sp.eye(2)), f"J - m/(1+m) I at m = {mm}"))
        out.append(expect_zero(sp.simplify(C - J * C * J.T - sig2 * Q1), f"C - JCJᵀ - Q at m = {mm}"))
    g = sp.Symbol("gamma", positive=True)
    j, q = g / (1 + g), sig2 * g / (1 + g) ** 2
    out.append(expect_zero(q / (1 - j**2) - sig2 * g / (1 + 2 * g), "q/(1-j²) - σ²γ/(1+2γ)"))
    # weighted least squares at λ = 1: real rows weigh c1, synthetic rows c2 = w/(1-w) c1 (k = n)
    w, c1 = sp.symbols("w c1", positive=True)
    c2 = w / (1 - w) * c1
    Hinv = (c1 * Gm + c2 * Gm).inv()
    Jw = Hinv * c2 * Gm
    Qw = sig2 * c2**2 * Hinv * Gm * Hinv  # Cov of H⁻¹ c2 s z, z ~ N(0, G~ = G)
    Cw = sig2 * w**2 / (1 - w**2) * Gm.inv()
    out.append(expect_zero(sp.simplify(Jw - w * sp.eye(2)), "weighted, λ = 1: J - wI"))
    out.append(expect_zero(sp.simplify(Cw - Jw * Cw * Jw.T - Qw), "weighted, λ = 1: C = w²/(1-w²) σ²G⁻¹ solves"))
    return combine(*out)


@check(RESULT, "§12: toolkit regression_stationary (known σ) vs an independent Lyapunov solve", "randomized")
def check_toolkit_lyapunov() -> Outcome:
    r"""§12: with the known noise level, :math:`\beta_{t+1}-\hat\beta = J(\beta_t-\hat\beta) + \xi_t` exactly
    (fixed-real), :math:`J = (G+\tilde G)^{-1}\tilde G`, :math:`\mathrm{Cov}\,\xi = \sigma^2(G+\tilde G)^{-1}\tilde G
    (G+\tilde G)^{-1}`; fresh-real: :math:`\beta_{t+1}-\beta = J(\beta_t-\beta) + \xi_t`,
    :math:`\mathrm{Cov}\,\xi = \sigma^2(G+\tilde G)^{-1}`.

    20 seeded random designs (n from 8 to 40, d from 1 to 4, σ in [0.5, 2], λ in [0.1, 3] including
    non-integers, so :math:`\tilde G` is not a multiple of :math:`G`): the toolkit's
    :math:`E\|\beta_\infty-\hat\beta\|^2` (fixed-real) and :math:`E\|\beta_\infty-\beta\|^2` (fresh-real)
    against :math:`\operatorname{tr}C` from :math:`\mathrm{vec}\,C = (I-J\otimes J)^{-1}\mathrm{vec}\,Q` in
    mpmath; worst relative error.
    """
    rng = np.random.default_rng(12)
    errs, where = [], []
    for _ in range(20):
        n, d = int(rng.integers(8, 41)), int(rng.integers(1, 5))
        X = rng.standard_normal((n, d))
        sigma, lam = float(rng.uniform(0.5, 2.0)), float(rng.uniform(0.1, 3.0))
        k = synthetic_count(n, lam)
        Xt = X[np.arange(k) % n]
        G, Gt = X.T @ X, Xt.T @ Xt
        Hinv = np.linalg.inv(G + Gt)
        J = Hinv @ Gt
        data = {"X": X, "beta": np.zeros(d), "sigma": sigma}
        fixed = toolkit.regression_stationary(data=data, lambda_=lam, noise_scale="known").sq_error_ols
        fresh = toolkit.regression_stationary(data=data, lambda_=lam, scheme="fresh-real", noise_scale="known")
        for got, Q in ((fixed, sigma**2 * J @ Hinv), (fresh.sq_error, sigma**2 * Hinv)):
            ref = float(np.trace(lyapunov_mp(J, Q)))
            errs.append(abs(float(got) - ref) / ref)
            where.append(f"n={n}, d={d}, λ={lam:.3g}")
    return worst_case(errs, TOL, "regression_stationary vs mpmath Lyapunov", where)


@check(RESULT, "§12: E[RSS_{t+1} | past] = ‖r‖² + δᵀMδ + s_t²(k - tr H⁻¹G~) (and fresh-real)", "symbolic")
def check_rss_expectation() -> Outcome:
    r"""§12: "E[RSS_{t+1} | β_t, s_t, y] = ‖r‖² + δ_tᵀMδ_t + s_t²(k - tr(H⁻¹G~))", :math:`r` the real
    residual, :math:`\delta_t = \beta_t-\hat\beta`, :math:`M = \tilde G - \tilde GH^{-1}\tilde G`; with fresh
    real noise the real part contributes :math:`\sigma^2(n - \operatorname{tr}H^{-1}G) = \sigma^2(n - d + a)`.

    Exact design (X 4×2, X~ 3×2 of rank 1), pooled design :math:`Z = [X; \tilde X]`,
    :math:`P_Z = ZH^{-1}Z^\top`; :math:`r` a symbolic combination of a basis of :math:`\ker X^\top`,
    :math:`\delta` symbolic: :math:`\|(I-P_Z)[r; \tilde X\delta]\|^2 - \|r\|^2 - \delta^\top M\delta = 0`;
    :math:`E\|(I-P_Z)[0; s\zeta]\|^2 = s^2\operatorname{tr}((I-P_Z)\,\mathrm{diag}(0, I_k)) = s^2(k - a)`;
    :math:`\operatorname{tr}((I-P_Z)\,\mathrm{diag}(I_n, 0)) = n - d + a`; the cross term of the
    mean and the noise has expectation 0.
    """
    X, Xt = _design()
    n, d = X.shape
    k = Xt.shape[0]
    Z = X.col_join(Xt)
    G, Gt = X.T * X, Xt.T * Xt
    H = G + Gt
    Hinv = H.inv()
    IP = sp.eye(n + k) - Z * Hinv * Z.T
    ker = X.T.nullspace()
    coef = sp.symbols(f"c1:{len(ker) + 1}", real=True)
    r = sum((ci * v for ci, v in zip(coef, ker, strict=True)), sp.zeros(n, 1))
    delta = sp.Matrix(sp.symbols(f"delta1:{d + 1}", real=True))
    mvec = r.col_join(Xt * delta)
    M = Gt - Gt * Hinv * Gt
    a = (Hinv * Gt).trace()
    real_block = sp.diag(sp.eye(n), sp.zeros(k, k))
    synth_block = sp.diag(sp.zeros(n, n), sp.eye(k))
    return combine(
        expect_zero((mvec.T * IP * mvec)[0] - (r.T * r)[0] - (delta.T * M * delta)[0], "‖(I-P_Z)m‖² - ‖r‖² - δᵀMδ"),
        expect_zero((IP * synth_block).trace() - (k - a), "tr((I-P_Z) diag(0, I_k)) - (k - a)"),
        expect_zero((IP * real_block).trace() - (n - d + a), "tr((I-P_Z) diag(I_n, 0)) - (n - d + a)"),
        expect_zero(M - G * Hinv * Gt, "M - G H⁻¹ G~ (symmetric, PSD)"),
    )


def integer_lambda_closed_forms(mm, n, d, s2, estimator="mle"):
    r"""§12's claimed stationary values at :math:`\tilde X` = :math:`m` copies of :math:`X`, fitted scale.

    Returns ``(v_fixed, ols_fixed, v_fresh, err_fresh)``, the last three of each pair per unit
    :math:`\operatorname{tr}G^{-1}`: with :math:`B = D - mn + dm/(1+2m)` (:math:`= n + dm/(1+2m)` for the
    MLE, :math:`D = (1+m)n`; :math:`D = (1+m)n - d` unbiased), :math:`v_{fixed} = \sigma^2(n-d)/B`,
    :math:`v_{fresh} = \sigma^2(n - d + 2dm/(1+2m))/B`.
    """
    D = n * (1 + mm) - (0 if estimator == "mle" else d)
    v_fixed = s2 * (n - d) / (D - n * mm + d * mm / (1 + 2 * mm))
    v_fresh = s2 * (n - d + 2 * d * mm / (1 + 2 * mm)) / (D - n * mm + d * mm / (1 + 2 * mm))
    return v_fixed, v_fixed * mm / (1 + 2 * mm), v_fresh, (s2 + v_fresh * mm) / (1 + 2 * mm)


@check(RESULT, "§12: fitted scale, λ = m: stationary E s², E‖β-β̂‖² (fixed-real), E‖β-β‖² (fresh-real)", "symbolic")
def check_fitted_scale_stationary() -> Outcome:
    r"""§12: with the fitted scale the second moments :math:`P_t = E[e_te_t^\top]`,
    :math:`C_t = E[e_ta^\top]`, :math:`v_t = E[s_t^2]` follow the exact affine recursion
    :math:`P' = JPJ^\top + KAK^\top + JCK^\top + KC^\top J^\top + vQ_1`, :math:`C' = JC + KA`,
    :math:`Dv' = \sigma^2(n-d) + \operatorname{tr}(M(P - C - C^\top + A)) + v(k-a)`; at :math:`\tilde X` =
    :math:`m` copies of :math:`X`, :math:`v_\infty = \sigma^2(n-d)/(n + dm/(1+2m))` (``mle``, fixed-real),
    :math:`E\|\beta_\infty-\hat\beta\|^2 = v_\infty\frac{m}{1+2m}\operatorname{tr}G^{-1}`; fresh-real
    :math:`v_\infty = \sigma^2(n - d/(1+2m))/(n + dm/(1+2m))`,
    :math:`E\|\beta_\infty-\beta\|^2 = \frac{\sigma^2 + mv_\infty}{1+2m}\operatorname{tr}G^{-1}`.

    Symbolic: at :math:`\tilde G = mG` (generic 2×2 :math:`G`) the matrices reduce to
    :math:`J = \frac{m}{1+m}I`, :math:`K = \frac{1}{1+m}I`, :math:`Q_1 = \frac{m}{(1+m)^2}G^{-1}`,
    :math:`M = \frac{m}{1+m}G`, :math:`a = \frac{dm}{1+m}`; with :math:`P = pG^{-1}`, :math:`C = qG^{-1}`,
    :math:`A = \sigma^2G^{-1}` the recursion is affine in :math:`(p, q, v)` with traces
    :math:`\operatorname{tr}(MG^{-1}) = dm/(1+m)`; its fixed point (sympy ``solve``) equals the claims for
    both estimators. Randomized: the toolkit's ``regression_stationary`` on 10 seeded designs at
    :math:`\lambda \in \{1, 2, 3\}` against the closed forms (relative error).
    """
    a_, b_, c_ = sp.symbols("g11 g12 g22", real=True)
    Gm = sp.Matrix([[a_, b_], [b_, c_]])
    J, K, Q1, M, a2 = _reductions(Gm, m_)
    out = [
        expect_zero(sp.simplify(J - m_ / (1 + m_) * sp.eye(2)), "J - m/(1+m) I"),
        expect_zero(sp.simplify(K - 1 / (1 + m_) * sp.eye(2)), "K - I/(1+m)"),
        expect_zero(sp.simplify(Q1 - m_ / (1 + m_) ** 2 * Gm.inv()), "Q1 - m/(1+m)² G⁻¹"),
        expect_zero(sp.simplify(M - m_ / (1 + m_) * Gm), "M - m/(1+m) G"),
        expect_zero(sp.simplify(a2 - 2 * m_ / (1 + m_)), "tr(H⁻¹G~) - dm/(1+m) at d = 2"),
    ]
    p, q, v = sp.symbols("p q v", real=True)
    j, kk, q1, mu = m_ / (1 + m_), 1 / (1 + m_), m_ / (1 + m_) ** 2, m_ / (1 + m_)  # mu = tr(M G⁻¹)/d
    a = d_ * m_ / (1 + m_)
    free = m_ * n_ - a
    for est, D in (("mle", n_ * (1 + m_)), ("unbiased", n_ * (1 + m_) - d_)):
        vf, olsf, vr, errr = integer_lambda_closed_forms(m_, n_, d_, sig2, est)
        # fixed-real: (p, q, v) -> fixed point
        eqs = [
            p - (j**2 * p + kk**2 * sig2 + 2 * j * kk * q + v * q1),
            q - (j * q + kk * sig2),
            D * v - (sig2 * (n_ - d_) + d_ * mu * (p - 2 * q + sig2) + v * free),
        ]
        sol = sp.solve(eqs, [p, q, v], dict=True)[0]
        out.append(expect_zero(sol[v] - vf, f"fixed-real v∞ ({est})"))
        out.append(expect_zero(sol[p] - 2 * sol[q] + sig2 - olsf, f"fixed-real E‖β-β̂‖²/trG⁻¹ ({est})"))
        # fresh-real: q = 0, a new real sample each round
        eqs = [p - (j**2 * p + kk**2 * sig2 + v * q1), D * v - (sig2 * (n_ - d_) + d_ * mu * (p + sig2) + v * free)]
        sol = sp.solve(eqs, [p, v], dict=True)[0]
        out.append(expect_zero(sol[v] - vr, f"fresh-real v∞ ({est})"))
        out.append(expect_zero(sol[p] - errr, f"fresh-real E‖β-β‖²/trG⁻¹ ({est})"))
    rng = np.random.default_rng(21)
    errs = []
    for _ in range(10):
        n, d = int(rng.integers(6, 40)), int(rng.integers(1, 5))
        X = rng.standard_normal((n, d))
        s2 = float(rng.uniform(0.25, 4.0))
        trg = float(np.trace(np.linalg.inv(X.T @ X)))
        data = {"X": X, "beta": rng.standard_normal(d), "sigma": np.sqrt(s2)}
        for mm in (1, 2, 3):
            for est in ("mle", "unbiased"):
                vf, olsf, vr, errr = integer_lambda_closed_forms(mm, n, d, s2, est)
                fx = toolkit.regression_stationary(data=data, lambda_=mm, estimator=est)
                fr = toolkit.regression_stationary(data=data, lambda_=mm, scheme="fresh-real", estimator=est)
                got = np.array([fx.noise_var, fx.sq_error_ols, fr.noise_var, fr.sq_error])
                ref = np.array([vf, olsf * trg, vr, errr * trg])
                errs.append(float(np.max(np.abs(got - ref) / ref)))
    out.append(worst_case(errs, TOL, "toolkit regression_stationary vs the λ = m closed forms (60 cases)"))
    return combine(*out)


@check(RESULT, "§12: replace: E s_t² = s₀²ρᵗ, E‖β_t-β‖² = ‖e₀‖² + s₀² trG⁻¹ (1-ρᵗ)/(1-ρ); known σ: linear", "symbolic")
def check_replace_growth() -> Outcome:
    r"""§12: under ``replace`` :math:`\beta_{t+1} = \beta_t + s_tG^{-1}z_t` and
    :math:`s_{t+1}^2 = s_t^2\chi^2_{n-d}/D`, so :math:`E[s_t^2] = s_0^2\rho^t`, :math:`\rho = (n-d)/D`, and
    :math:`E\|\beta_t-\beta\|^2 = \|\beta_0-\beta\|^2 + s_0^2\operatorname{tr}(G^{-1})\frac{1-\rho^t}{1-\rho}`
    (bounded by :math:`s_0^2\frac{n}{d}\operatorname{tr}G^{-1}` for the MLE; linear in :math:`t` for the
    unbiased estimator, :math:`\rho = 1`); known σ: :math:`\|\beta_0-\beta\|^2 + t\sigma^2\operatorname{tr}G^{-1}`.

    Symbolic: :math:`\sum_{u<t}\rho^u = (1-\rho^t)/(1-\rho)` by induction, and its limit :math:`D/d` at
    :math:`D = n`. Randomized: the toolkit's ``regression_moments`` (replace, 30 generations, 5 seeded
    designs, both estimators, both noise scales) against the formula, relative error.
    """
    t = sp.Symbol("t", integer=True, nonnegative=True)
    rho = sp.Symbol("rho", positive=True)

    def S(x):  # the claimed Σ_{u<x} ρᵘ
        return (1 - rho**x) / (1 - rho)

    out = [
        expect_zero(S(sp.Integer(0)), "S(0) = 0 (empty sum)"),
        expect_zero(S(t + 1) - S(t) - rho**t, "S(t+1) - S(t) - ρᵗ (so S(t) = Σ_{u<t} ρᵘ by induction)"),
        expect_zero(sp.simplify(1 / (1 - (n_ - d_) / n_) - n_ / d_), "1/(1-ρ) - n/d at D = n"),
    ]
    rng = np.random.default_rng(31)
    errs = []
    for _ in range(5):
        n, d = int(rng.integers(5, 30)), int(rng.integers(1, 4))
        X = rng.standard_normal((n, d))
        sigma = float(rng.uniform(0.5, 2.0))
        beta0 = rng.standard_normal(d)
        data = {"X": X, "beta": np.zeros(d), "sigma": sigma}
        trg = float(np.trace(np.linalg.inv(X.T @ X)))
        ts = np.arange(31)
        for est in ("mle", "unbiased"):
            r = (n - d) / (n if est == "mle" else n - d)
            for ns in ("fitted", "known"):
                p = toolkit.regression_moments(
                    data=data, lambda_=1.0, generations=30, scheme="replace", noise_scale=ns, estimator=est,
                    init={"beta": beta0},
                )  # fmt: skip
                geo = ts if (ns == "known" or r == 1.0) else (1 - r**ts) / (1 - r)
                ref = beta0 @ beta0 + sigma**2 * trg * geo
                errs.append(float(np.max(np.abs(p.sq_error - ref) / ref)))
    out.append(worst_case(errs, TOL, "toolkit regression_moments (replace) vs the growth law (20 cases)"))
    return combine(*out)
