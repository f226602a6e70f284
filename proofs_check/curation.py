r"""docs/theory.md §15: curated retraining (Ferbach et al. 2024), the tilt and its recursions.

Steps checked: a Gaussian tilted by a quadratic reward is the Gaussian with precision
:math:`1/v + \beta` (and a linear reward shifts the mean by :math:`vb`); the replace closed form
:math:`p_t \propto p_0e^{tr}` solves the curated recursion; the expected reward does not decrease
along it and tends to the reward's maximum; the mixed real/curated fixed point is a positive root
of §15's quartic (the quadratic root when the reward is centred at the data mean, with rate
:math:`\lambda/((1+\lambda)(1+\beta v))`), and the linear reward's fixed point and its existence
threshold; the kept point's law for finite :math:`K` (the Laplace-transform quadrature) against an
independent product rule at :math:`K = 2` and its :math:`O(1/K)` approach to the tilt; and the
toolkit's :mod:`stability.dynamics.curation` against all of these.
"""

from __future__ import annotations

import importlib
import math

import mpmath as mp
import numpy as np
import sympy as sp

from ._util import DPS, expect_true, expect_zero, worst_case
from .registry import Outcome, check, combine

__all__ = [
    "check_kept_law_limit",
    "check_linear_fixed_point",
    "check_mixed_fixed_point",
    "check_replace_closed_form",
    "check_reward_increases",
    "check_tilt",
    "check_toolkit_fixed_point",
    "check_toolkit_tilt",
    "mixed_map",
    "tilted",
]

RESULT = "curation"

# toolkit module, looked up at call time so that a test can plant an error in it
toolkit = importlib.import_module("stability.dynamics.curation")

x, m, a, md, b, delta = sp.symbols("x m a m_d b delta", real=True)
v, beta, lam, vd, s, m0, v0 = sp.symbols("v beta lambda v_d s m_0 v_0", positive=True)
t = sp.Symbol("t", nonnegative=True)

# the toolkit's float results against exact / 50-digit references: a few roundings of O(1) terms,
# through 2x2 or 3x3 solves with condition numbers below ~1e2
TOL_FLOAT = 1e-11


def tilted(m_, v_, a_, beta_):
    r"""§15's claim: the tilt of :math:`N(m, v)` by :math:`-\tfrac\beta2(x-a)^2` is
    :math:`N(\tfrac{m+\beta va}{1+\beta v}, \tfrac{v}{1+\beta v})`."""
    return (m_ + beta_ * v_ * a_) / (1 + beta_ * v_), v_ / (1 + beta_ * v_)


def mixed_map(m_, v_, md_, vd_, a_, beta_, lam_):
    r"""One round of §15's mixed recursion (one dimension): the Gaussian fit to the mixture
    :math:`\tfrac1{1+\lambda}N(m_d, v_d) + \tfrac\lambda{1+\lambda}` (the tilt of :math:`N(m, v)`)."""
    mt, vt = tilted(m_, v_, a_, beta_)
    w = lam_ / (1 + lam_)
    return (1 - w) * md_ + w * mt, (1 - w) * vd_ + w * vt + w * (1 - w) * (mt - md_) ** 2


def _cleared(expr):
    """The numerator of ``expr`` over a common denominator, expanded (zero iff ``expr`` is, where the
    denominator is nonzero): a polynomial that ``expect_zero`` decides fast."""
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(_cleared)
    return sp.expand(sp.numer(sp.together(expr)))


def _log_normal(x_, m_, v_):
    return -((x_ - m_) ** 2) / (2 * v_) - sp.log(v_) / 2


@check(RESULT, "§15: N(m, v)·e^{-β(x-a)²/2} ∝ N((m+βva)/(1+βv), v/(1+βv)); e^{bx} shifts m by vb", "symbolic")
def check_tilt() -> Outcome:
    r"""§15: "the tilt of a Gaussian by a quadratic reward is Gaussian with precision Σ⁻¹ + βI and mean
    (I+βΣ)⁻¹(μ+βΣa); a linear reward moves the mean by Σb".

    One dimension: :math:`\log p + r - \log N(\tilde m, \tilde v)` has zero derivative in :math:`x`
    (so the two densities are proportional); the same with :math:`r = bx` and :math:`N(m + vb, v)`.
    Two dimensions with a generic symmetric :math:`\Sigma`: the gradient in :math:`x` of the
    difference of the quadratic forms vanishes.
    """
    mt, vt = tilted(m, v, a, beta)
    quad = _log_normal(x, m, v) - beta * (x - a) ** 2 / 2 - _log_normal(x, mt, vt)
    lin = _log_normal(x, m, v) + b * x - _log_normal(x, m + v * b, v)
    s11, s22 = sp.symbols("s11 s22", positive=True)
    s12 = sp.Symbol("s12", real=True)
    S = sp.Matrix([[s11, s12], [s12, s22]])
    X, mu, A = (sp.Matrix(sp.symbols(f"{c}1:3", real=True)) for c in ("x", "mu", "a"))
    I2 = sp.eye(2)
    St = (S.inv() + beta * I2).inv()
    mt2 = (I2 + beta * S).inv() * (mu + beta * S * A)
    q = -(X - mu).T * S.inv() * (X - mu) / 2 - beta * (X - A).T * (X - A) / 2 + (X - mt2).T * St.inv() * (X - mt2) / 2
    grad = sp.Matrix([sp.diff(q[0, 0], xi) for xi in X])
    return combine(
        expect_zero(sp.diff(quad, x), "d/dx [log N(m,v) + r - log N(m~, v~)] (quadratic reward)"),
        expect_zero(sp.diff(lin, x), "d/dx [log N(m,v) + bx - log N(m + vb, v)] (linear reward)"),
        expect_zero(_cleared(grad), "2-D: gradient of the difference of the quadratic forms", {s12: (-0.1, 0.1)}),
    )


def _rng_cases(seed=24, count=20):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        d = int(rng.integers(1, 4))
        B = rng.standard_normal((d, d))
        S = B @ B.T + 0.3 * np.eye(d)
        yield d, rng.standard_normal(d), S, rng.standard_normal(d), float(rng.uniform(0.1, 5.0))


@check(RESULT, "§15: the toolkit's tilt = the precision form (Σ⁻¹+βI)⁻¹, at 50 digits", "high-precision numeric")
def check_toolkit_tilt() -> Outcome:
    r"""§15: the toolkit's :func:`~stability.dynamics.curation.tilt` (computed as :math:`(I+\beta\Sigma)^{-1}\Sigma`,
    no inverse of :math:`\Sigma`) against the precision form :math:`(\Sigma^{-1}+\beta I)^{-1}`,
    :math:`\tilde\mu = \tilde\Sigma(\Sigma^{-1}\mu + \beta a)` in mpmath at 50 digits, on 20 random
    cases of dimension 1–3; and the linear reward's :math:`\mu + \Sigma b`.
    """
    errs = []
    with mp.workdps(DPS):
        for d, mu, S, a_, beta_ in _rng_cases():
            Sm = mp.matrix(S.tolist())
            P = Sm**-1 + beta_ * mp.eye(d)
            St = P**-1
            mt = St * (Sm**-1 * mp.matrix(mu.tolist()) + beta_ * mp.matrix(a_.tolist()))
            gm, gS = toolkit.tilt(mu, S, toolkit.QuadraticReward(a_, beta_))
            scale = 1 + float(mp.mnorm(St, 1)) + float(mp.norm(mt))
            errs.append(max(abs(gm[i] - float(mt[i])) for i in range(d)) / scale)
            errs.append(max(abs(gS[i, j] - float(St[i, j])) for i in range(d) for j in range(d)) / scale)
            lm, lS = toolkit.tilt(mu, S, toolkit.LinearReward(a_))
            ref = mp.matrix(mu.tolist()) + Sm * mp.matrix(a_.tolist())
            errs.append(max(abs(lm[i] - float(ref[i])) for i in range(d)) / (1 + float(mp.norm(ref))))
    return worst_case(errs, TOL_FLOAT, "relative error of the toolkit's tilt")


@check(RESULT, "§15: replace: p_t = N((m₀/v₀+tβa)/(1/v₀+tβ), 1/(1/v₀+tβ)) solves p_{t+1} = tilt(p_t)", "symbolic")
def check_replace_closed_form() -> Outcome:
    r"""§15: "without real data the refit of a Gaussian is the Gaussian itself, so p_{t+1} is the tilt of
    p_t and p_t ∝ p_0 e^{t r}: precision 1/v₀ + tβ, mean (m₀/v₀ + tβa)/(1/v₀ + tβ)".

    The closed form at :math:`t+1` equals the tilt of the closed form at :math:`t` (symbolic in
    :math:`t`), equals :math:`(m_0, v_0)` at :math:`t = 0`; the linear reward's
    :math:`m_t = m_0 + tv_0b`, :math:`v_t = v_0` likewise; and the toolkit's
    :func:`~stability.dynamics.curation.curated_replace` against the closed form (1-D, 12 generations,
    three parameter sets; 2-D per eigen-direction of :math:`\Sigma_0`).
    """

    def closed(tt):
        return (m0 / v0 + tt * beta * a) / (1 / v0 + tt * beta), 1 / (1 / v0 + tt * beta)

    mt, vt = closed(t)
    step = tilted(mt, vt, a, beta)
    nxt = closed(t + 1)
    outs = [
        expect_zero(step[0] - nxt[0], "mean: tilt(p_t) = p_{t+1}"),
        expect_zero(step[1] - nxt[1], "variance: tilt(p_t) = p_{t+1}"),
        expect_zero(sp.Matrix(closed(0)) - sp.Matrix([m0, v0]), "t = 0: p_0"),
        expect_zero((m0 + (t + 1) * v0 * b) - ((m0 + t * v0 * b) + v0 * b), "linear: m_{t+1} = m_t + v b"),
    ]
    errs = []
    f = sp.lambdify((m0, v0, a, beta, t), sp.Matrix(closed(t)), "mpmath")
    for m0_, v0_, a_, b_ in ((0.0, 1.0, 2.0, 0.5), (-1.0, 3.0, 1.0, 4.0), (0.5, 0.2, -2.0, 1.0)):
        gm, gS = toolkit.curated_replace(m0_, v0_, toolkit.QuadraticReward(a_, b_), 12)
        for tt in range(13):
            ref = f(m0_, v0_, a_, b_, tt)
            errs.append(abs(gm[tt, 0] - float(ref[0])) + abs(gS[tt, 0, 0] - float(ref[1])))
    S0 = np.array([[2.0, 0.5], [0.5, 1.0]])
    gm, gS = toolkit.curated_replace(np.zeros(2), S0, toolkit.QuadraticReward([1.0, -1.0], 0.8), 5)
    e, V = np.linalg.eigh(S0)
    errs.append(float(np.max(np.abs(V.T @ gS[5] @ V - np.diag(1 / (1 / e + 5 * 0.8))))))
    errs.append(float(np.max(np.abs(V.T @ gm[5] - 5 * 0.8 * (V.T @ [1.0, -1.0]) / (1 / e + 5 * 0.8)))))
    outs.append(worst_case(errs, TOL_FLOAT, "toolkit curated_replace against the closed form"))
    return combine(*outs)


@check(RESULT, "§15: E_{tilt} r - E_p r = β/2[(m-a)²(1-1/(1+βv)²) + βv²/(1+βv)] ≥ 0; E r_t → max r", "symbolic")
def check_reward_increases() -> Outcome:
    r"""§15 (Ferbach et al.'s claim for the Gaussian case): "one curated round without real data never
    lowers the expected reward, and along the replace trajectory it rises to sup r = 0".

    With :math:`E_{N(m,v)}r = -\tfrac\beta2((m-a)^2 + v)`: the increase over one tilt equals the
    stated sum of two terms, each non-negative (sympy decides the factors' signs for positive
    :math:`\beta, v`); along the closed form :math:`E r_t \to 0` as :math:`t\to\infty`; and the
    toolkit's expected reward along :func:`~stability.dynamics.curation.curated_replace` is
    non-decreasing (40 generations, three starts) and within 1e-3 of 0 at :math:`t = 10^6`.
    """

    def Er(m_, v_):
        return -beta / 2 * ((m_ - a) ** 2 + v_)

    mt, vt = tilted(m, v, a, beta)
    sv = beta * v
    gain = Er(mt, vt) - Er(m, v)
    claimed = beta / 2 * ((m - a) ** 2 * (1 - 1 / (1 + sv) ** 2) + beta * v**2 / (1 + sv))
    f1 = sp.factor(1 - 1 / (1 + sv) ** 2)
    mt_, vt_ = (m0 / v0 + t * beta * a) / (1 / v0 + t * beta), 1 / (1 / v0 + t * beta)
    lim = sp.limit(Er(mt_, vt_), t, sp.oo)
    outs = [
        expect_zero(gain - claimed, "E_tilt r - E_p r = the claimed sum"),
        expect_true(bool(f1.is_positive) and bool((beta * v**2 / (1 + sv)).is_positive), "both factors > 0"),
        expect_zero(lim, "lim_{t->inf} E r_t = 0 = max r"),
    ]
    worst = 0.0
    for m0_, v0_, a_ in ((0.0, 1.0, 2.0), (3.0, 0.1, -1.0), (0.0, 10.0, 0.0)):
        rw = toolkit.QuadraticReward(a_, 1.3)
        gm, gS = toolkit.curated_replace(m0_, v0_, rw, 40)
        worst = max(worst, float(np.max(-np.diff(rw.expected(gm, gS)))))
        gm, gS = toolkit.curated_replace(m0_, v0_, rw, 10**6)
        outs.append(expect_true(abs(float(rw.expected(gm[-1:], gS[-1:])[0])) < 1e-3, f"E r at t = 1e6 ~ 0 ({m0_})"))
    outs.append(expect_true(worst <= 1e-15, f"toolkit E r_t non-decreasing (worst drop {worst:.1e})"))
    return combine(*outs)


@check(RESULT, "§15: mixed fixed point: m - m_d = λsδ/(1+(1+λ)s), s = βv a positive root of the quartic", "symbolic")
def check_mixed_fixed_point() -> Outcome:
    r"""§15: "at a fixed point of the mixed recursion, m - m_d = λ s δ/(1+(1+λ)s) and the tilted mean's
    offset is (1+λ)sδ/(1+(1+λ)s) (s = βv, δ = a - m_d); the variance equation times
    (1+s)(1+(1+λ)s)² is the quartic [(1+λ)s - c](1+s)(1+(1+λ)s)² - λs(1+(1+λ)s)² - λ(1+λ)κs²(1+s),
    c = βv_d, κ = βδ²; at δ = 0 it factors into (1+(1+λ)s)² times (1+λ)s² + (1-c)s - c, and the
    rate is λ/((1+λ)(1+s))".

    Symbolic: with :math:`m` from the claimed formula the mean equation holds identically; the
    variance residual :math:`\beta(1+\lambda)(v - v')(1+s)(1+(1+\lambda)s)^2` equals the quartic;
    the :math:`\delta = 0` factorisation; the Jacobian of the map at :math:`\delta = 0` is diagonal
    with eigenvalues :math:`\lambda/((1+\lambda)(1+s))` and :math:`\lambda/((1+\lambda)(1+s)^2)`.
    The toolkit's :func:`~stability.dynamics.curation.quartic_coefficients` against the symbolic
    quartic at random rational points.
    """
    c, kappa = sp.symbols("c kappa", positive=True)
    vv = s / beta
    mm = md + lam * s * delta / (1 + (1 + lam) * s)
    m1, v1 = mixed_map(mm, vv, md, c / beta, md + delta, beta, lam)
    q = 1 + (1 + lam) * s
    quartic = ((1 + lam) * s - c) * (1 + s) * q**2 - lam * s * q**2 - lam * (1 + lam) * kappa * s**2 * (1 + s)
    resid = beta * (1 + lam) * (vv - v1) * (1 + s) * q**2 - quartic.subs(kappa, beta * delta**2)
    zero_delta = quartic.subs(kappa, 0) - q**2 * ((1 + lam) * s**2 + (1 - c) * s - c)
    mp_, vp_ = sp.symbols("m_p v_p", real=True)
    F = sp.Matrix(mixed_map(mp_, vp_, md, vd, md, beta, lam))
    J = F.jacobian([mp_, vp_]).subs({mp_: md, vp_: s / beta})
    rates = sp.Matrix([[lam / ((1 + lam) * (1 + s)), 0], [0, lam / ((1 + lam) * (1 + s) ** 2)]])
    errs = []
    rng = np.random.default_rng(15)
    qpoly = sp.Poly(quartic, s)
    for _ in range(20):
        cc, ll, kk = (sp.Rational(int(rng.integers(1, 400)), 100) for _ in range(3))
        ref = [float(co.subs({c: cc, lam: ll, kappa: kk})) for co in qpoly.all_coeffs()]
        got = toolkit.quartic_coefficients(float(cc), float(ll), float(kk))
        errs.append(max(abs(g - r) for g, r in zip(got, ref, strict=True)) / max(map(abs, ref)))
    return combine(
        expect_zero(_cleared(m1 - mm), "the mean equation at m = m_d + λsδ/(1+(1+λ)s)"),
        expect_zero(_cleared(resid), "β(1+λ)(v - v')(1+s)(1+(1+λ)s)² = the quartic"),
        expect_zero(_cleared(zero_delta), "δ = 0: quartic = (1+(1+λ)s)²((1+λ)s² + (1-c)s - c)"),
        expect_zero(_cleared(J - rates), "δ = 0: Jacobian diag(λ/((1+λ)(1+s)), λ/((1+λ)(1+s)²))"),
        worst_case(errs, 1e-14, "toolkit quartic_coefficients against the symbolic quartic"),
    )


@check(
    RESULT,
    "§15: the toolkit's curated fixed point solves the map; its Jacobian = the symbolic one",
    "high-precision numeric",
)
def check_toolkit_fixed_point() -> Outcome:
    r"""§15: the toolkit's :func:`~stability.dynamics.curation.curated_gaussian` (one dimension, the
    quartic's root; and two dimensions, the iterated map with Newton) returns a point the map (the
    symbolic one, evaluated at 50 digits in one dimension) leaves unchanged, for 15 random parameter
    sets; its ``jacobian`` equals the symbolic map's derivative there; at :math:`\delta = 0` its
    ``var`` and ``rate`` are the quadratic root and :math:`\lambda/((1+\lambda)(1+s))`.
    """
    mp_, vp_ = sp.symbols("m_p v_p", real=True)
    F = sp.Matrix(mixed_map(mp_, vp_, md, vd, a, beta, lam))
    Fn = sp.lambdify((mp_, vp_, md, vd, a, beta, lam), F, "mpmath")
    Jn = sp.lambdify((mp_, vp_, md, vd, a, beta, lam), F.jacobian([mp_, vp_]), "mpmath")
    rng = np.random.default_rng(7)
    res, jac, root = [], [], []
    with mp.workdps(DPS):
        for _ in range(15):
            md_, a_ = rng.normal(0, 2, 2)
            vd_, beta_, lam_ = rng.uniform(0.2, 3.0, 3)
            g = toolkit.curated_gaussian(md_, vd_, a_, beta_, lam_)
            args = (g.mean, g.var, md_, vd_, a_, beta_, lam_)
            out = Fn(*args)
            res.append((abs(float(out[0]) - g.mean) + abs(float(out[1]) - g.var)) / (1 + abs(g.mean) + g.var))
            Jr = np.array(Jn(*args).tolist(), dtype=float)
            jac.append(float(np.max(np.abs(g.jacobian - Jr))))
            c = beta_ * vd_
            s_ = (-(1 - c) + math.sqrt((1 - c) ** 2 + 4 * (1 + lam_) * c)) / (2 * (1 + lam_))
            g0 = toolkit.curated_gaussian(md_, vd_, md_, beta_, lam_)
            root.append(abs(g0.var * beta_ - s_) / s_ + abs(g0.rate - lam_ / ((1 + lam_) * (1 + s_))))
    Sd = np.array([[1.0, 0.3], [0.3, 0.5]])
    g2 = toolkit.curated_gaussian([0.0, 1.0], Sd, [1.0, 2.0], 1.2, 2.0)
    m2, S2 = g2.step(g2.mean, g2.var)
    res.append(float(np.max(np.abs(m2 - g2.mean)) + np.max(np.abs(S2 - g2.var))))
    return combine(
        worst_case(res, TOL_FLOAT, "|map(fixed point) - fixed point| (relative)"),
        worst_case(jac, 1e-10, "toolkit jacobian against the symbolic derivative"),
        worst_case(root, TOL_FLOAT, "δ = 0: var·β = quadratic root, rate = λ/((1+λ)(1+s))"),
    )


@check(RESULT, "§15: linear reward: v = v_d + λ(1+λ)b²v², m = m_d + λvb; none if 4λ(1+λ)b²v_d > 1", "symbolic")
def check_linear_fixed_point() -> Outcome:
    r"""§15: "with r = bx and real data the fixed point solves v = v_d + λ(1+λ)b²v² (the smaller root,
    which exists iff 4λ(1+λ)b²v_d ≤ 1) and m = m_d + λvb".

    The claimed point is left unchanged by the map (the tilt :math:`N(m+vb, v)` mixed with the data)
    given the quadratic; the smaller root tends to :math:`v_d` as :math:`\lambda\to0`; the toolkit's
    fixed point (any dimension: :math:`q = b^\top\Sigma b` solves :math:`q(1-\lambda(1+\lambda)q) = b^\top\Sigma_d b`)
    against the closed form in one dimension, and its refusal past the threshold.
    """
    w = lam / (1 + lam)
    vv = sp.Symbol("vv", positive=True)
    mm = md + lam * vv * b
    mt = mm + vv * b
    m1 = (1 - w) * md + w * mt
    v1 = (1 - w) * vd + w * vv + w * (1 - w) * (mt - md) ** 2
    quad_eq = vd + lam * (1 + lam) * b**2 * vv**2
    vroot = (1 - sp.sqrt(1 - 4 * lam * (1 + lam) * b**2 * vd)) / (2 * lam * (1 + lam) * b**2)
    errs = []
    for vd_, b_, lam_ in ((1.0, 0.2, 1.0), (2.0, -0.1, 3.0), (0.5, 0.5, 0.4)):
        g = toolkit.curated_gaussian(0.0, vd_, reward=toolkit.LinearReward(b_), lambda_=lam_)
        A = lam_ * (1 + lam_) * b_**2
        ref = (1 - math.sqrt(1 - 4 * A * vd_)) / (2 * A)
        errs.append(abs(g.var - ref) / ref + abs(g.mean - lam_ * ref * b_))
    try:
        toolkit.curated_gaussian(0.0, 1.0, reward=toolkit.LinearReward(0.5), lambda_=1.0).mean  # noqa: B018
        refused = False
    except ValueError:
        refused = True
    return combine(
        expect_zero(m1 - mm, "mean: m' = m at m = m_d + λvb"),
        expect_zero(v1 - vv - (1 - w) * (quad_eq - vv), "variance: v' - v = (v_d + λ(1+λ)b²v² - v)/(1+λ)"),
        expect_zero(sp.limit(vroot, lam, 0) - vd, "smaller root -> v_d as λ -> 0"),
        expect_zero(quad_eq.subs(vv, vroot) - vroot, "the smaller root solves the quadratic", {b: (0.01, 0.2)}),
        worst_case(errs, TOL_FLOAT, "toolkit linear fixed point against the closed form"),
        expect_true(refused, "toolkit refuses 4λ(1+λ)b²v_d = 2 > 1"),
    )


def _product_rule_k2(m_, v_, rw, N=2000):
    """K = 2 by a 2-D trapezoid product rule (the logistic of r(x) - r(x')): an independent route."""
    from scipy.special import expit

    xs = np.linspace(m_ - 13 * math.sqrt(v_), m_ + 13 * math.sqrt(v_), N)
    w = np.exp(-0.5 * (xs - m_) ** 2 / v_)
    w /= w.sum()
    rr = rw(xs[:, None])
    H = 2 * expit(rr[:, None] - rr[None, :]) @ w
    mass = w @ H
    mu = (w * H) @ xs / mass
    return mu, (w * H) @ xs**2 / mass - mu**2


@check(
    RESULT,
    "§15: the kept point's law p·H_K: K = 2 against a product rule; H_K → tilt like 1/K",
    "high-precision numeric",
)
def check_kept_law_limit() -> Outcome:
    r"""§15: "a kept point has density p·H_K, with E_{pH_K} g = K ∫_0^∞ φ(u)^{K-1} E_p[g R e^{-uR}] du;
    as K → ∞, H_K → e^r/E_p e^r with an error of order 1/K".

    The toolkit's :func:`~stability.dynamics.curation.curated_point_moments` at :math:`K = 2` against
    a 2-D trapezoid product rule of :math:`2E[\sigma(r(x) - r(X'))]` (a different formula for
    :math:`H_2`; 2000 points a side, spectrally accurate: tolerance 1e-9, the quadrature's own
    tolerance); then for :math:`K = 64, 512, 4096` the distance to the tilt's moments decreases and
    :math:`K\cdot` (distance) is constant within a factor 1.5 (the :math:`1/K` rate), for a quadratic
    and a linear reward.
    """
    outs = []
    errs = []
    for m_, v_, rw in ((0.0, 1.0, toolkit.QuadraticReward(1.0, 1.0)), (0.3, 0.5, toolkit.QuadraticReward(-1.0, 3.0)),
                       (0.0, 1.0, toolkit.LinearReward(0.7))):  # fmt: skip
        ref = _product_rule_k2(m_, v_, rw)
        got = toolkit.curated_point_moments(m_, v_, rw, 2)
        errs.append(abs(got[0] - ref[0]) + abs(got[1] - ref[1]) / ref[1])
    outs.append(worst_case(errs, 1e-9, "K = 2: quadrature against the product rule"))
    for rw in (toolkit.QuadraticReward(1.0, 1.0), toolkit.LinearReward(0.5)):
        mt, St = toolkit.tilt(np.array([0.0]), np.array([[1.0]]), rw)
        d = []
        for K in (64, 512, 4096):
            mk, vk = toolkit.curated_point_moments(0.0, 1.0, rw, K)
            d.append(K * (abs(mk - mt[0]) + abs(vk - St[0, 0])))
        ok = all(1 / 1.5 < d[i + 1] / d[i] < 1.5 for i in range(2)) and d[-1] / 4096 < 1e-3
        outs.append(expect_true(ok, f"{rw.kind}: K·|moments_K - tilt| = {', '.join(f'{x:.4f}' for x in d)}"))
    return combine(*outs)
