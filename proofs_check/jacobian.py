r"""docs/theory.md §3: the Jacobian :math:`J = \lambda(A+\lambda B)^{-1}B` at the fixed point.

Implicit-function-theorem derivation: with :math:`F(\theta', \theta) = \nabla_{\theta'}[E_{data}
\log p_{\theta'} + \lambda E_{p_\theta}\log p_{\theta'}]` and :math:`F(G(\theta), \theta) = 0`,
:math:`DG = -(\partial_{\theta'}F)^{-1}\partial_\theta F`, where at :math:`\theta=\theta'=\theta^*`
:math:`\partial_{\theta'}F = -(A+\lambda B)` and :math:`\partial_\theta F = \lambda B` (Fisher
identity). Checked on the Gaussian (mean, variance), on exponential families with a symbolic
log-partition, and on a non-exponential model (Cauchy location, misspecified data), and the
toolkit's :func:`stability.jacobian.fixed_point_jacobian` is compared with the results.
"""

from __future__ import annotations

from functools import lru_cache

import mpmath as mp
import numpy as np
import sympy as sp

from stability import jacobian

from ._util import DPS, expect_true, expect_zero, rational, worst_case
from .models import expect_quadratic, gaussian_logpdf, gaussian_map, syms, x
from .registry import Outcome, check, combine

__all__ = [
    "check_cauchy_ift",
    "check_cauchy_numeric_ift",
    "check_expfam_ift",
    "check_gaussian_ift",
    "check_toolkit_expfam",
    "check_toolkit_gaussian",
]

RESULT = "jacobian"

# fixed_point_jacobian is a Cholesky solve: its relative error is about cond(A + λB) * d * ulp.
# The matrices drawn below have condition numbers <= 1e2, so errors are <= ~1e-13; 1e-11 keeps a
# margin and still catches any wrong factor.
TOL_SOLVE = 1e-11


@lru_cache(maxsize=1)
def _gaussian_jacobians():
    s = syms
    obj, G = gaussian_map()
    th, thp = [s.m, s.v], [s.m_new, s.v_new]
    star = {s.m: s.mu_data, s.v: s.s2_data}
    at = {s.m_new: s.mu_data, s.v_new: s.s2_data}
    DG = sp.Matrix(G).jacobian(th).subs(star)
    F = sp.Matrix([sp.diff(obj, p) for p in thp])
    dF_new = F.jacobian(thp).subs(at).subs(star)
    dF_old = F.jacobian(th).subs(at).subs(star)
    hess = sp.hessian(gaussian_logpdf(s.m, s.v), th)
    A = -hess.applyfunc(lambda e: expect_quadratic(e, s.mu_data, s.s2_data)).subs(star)
    B = -hess.applyfunc(lambda e: expect_quadratic(e, s.m, s.v)).subs(star)
    return DG, dF_new, dF_old, sp.simplify(A), sp.simplify(B)


@check(RESULT, "§3: IFT gives J = λ(A+λB)^{-1}B = λ/(1+λ) I (Gaussian mean, variance)", "symbolic")
def check_gaussian_ift() -> Outcome:
    r"""§3: implicit differentiation of the stationarity condition at θ* gives J = λ(A+λB)^{-1}B, which
    reduces to λ/(1+λ) I for an exponential family under any data law — 1-D Gaussian in (m, v).

    The map :math:`G_\lambda(m, v)` is solved in closed form (data of any law with mean
    :math:`\mu`, variance :math:`s^2`) and differentiated directly; this equals the IFT expression
    :math:`-(\partial_{\theta'}F)^{-1}\partial_\theta F`, with :math:`\partial_{\theta'}F = -(A+\lambda B)`,
    :math:`\partial_\theta F = \lambda B`, :math:`A = -E_{data}[\nabla^2\log p_{\theta^*}]`,
    :math:`B = -E_{p_{\theta^*}}[\nabla^2\log p_{\theta^*}]`, and with :math:`\lambda/(1+\lambda) I`.
    """
    lam = syms.lam
    DG, dF_new, dF_old, A, B = _gaussian_jacobians()
    J = lam * (A + lam * B).inv() * B
    return combine(
        expect_zero(DG - (-dF_new.inv() * dF_old), "DG - IFT expression"),
        expect_zero(dF_new + (A + lam * B), "∂_θ'F + (A + λB)"),
        expect_zero(dF_old - lam * B, "∂_θF - λB"),
        expect_zero(DG - J, "DG - λ(A+λB)^{-1}B"),
        expect_zero(DG - lam / (1 + lam) * sp.eye(2), "DG - λ/(1+λ) I"),
    )


@check(RESULT, "§3: toolkit fixed_point_jacobian / analyze_jacobian on the Gaussian (A, B)", "high-precision numeric")
def check_toolkit_gaussian() -> Outcome:
    r"""§3: "J = λ(A+λB)^{-1}B" — :func:`stability.jacobian.fixed_point_jacobian` against the
    symbolic Jacobian of the Gaussian map, and ``analyze_jacobian(...).rate_exact`` against
    :math:`\lambda/(1+\lambda)`, at 30 seeded rational points :math:`(\mu, s^2, \lambda)`,
    reference evaluated at 50 digits. Worst error relative to :math:`\|J\|_{max}`.
    """
    s = syms
    DG, _, _, A, B = _gaussian_jacobians()
    rng = np.random.default_rng(1)
    errs, rate_errs, where = [], [], []
    for _ in range(30):
        pt = {
            s.mu_data: rational(rng.uniform(-3, 3)),
            s.s2_data: rational(rng.uniform(0.3, 3)),
            s.lam: rational(10 ** rng.uniform(-2, 2)),
        }
        An = np.array(A.subs(pt).evalf(DPS), dtype=float)
        Bn = np.array(B.subs(pt).evalf(DPS), dtype=float)
        lam = float(pt[s.lam])
        ref = np.array(DG.subs(pt).evalf(DPS), dtype=float)
        got = jacobian.fixed_point_jacobian(An, Bn, lam)
        errs.append(np.abs(got - ref).max() / np.abs(ref).max())
        r = jacobian.analyze_jacobian(An, Bn, lam).rate_exact
        rate_errs.append(abs(r - lam / (1 + lam)) / (lam / (1 + lam)))
        where.append(f"λ={lam:.3g}")
    return combine(
        worst_case(errs, TOL_SOLVE, "fixed_point_jacobian vs symbolic J", where),
        worst_case(rate_errs, TOL_SOLVE, "analyze_jacobian.rate_exact vs λ/(1+λ)", where),
    )


@check(RESULT, "§3: J = λ/(1+λ) I for exponential families (IFT, symbolic log-partition)", "symbolic")
def check_expfam_ift() -> Outcome:
    r"""§3: for p_θ(x) = h(x) exp(θ·T(x) - A(θ)) the log-density's Hessian is free of x, whence L = 0,
    A = B = ∇²A(θ*) and J = λ/(1+λ) I whatever the data law.

    One parameter, :math:`A` an undefined function: :math:`\partial^2_\theta \log p_\theta(x) =
    -A''(\theta)` is free of :math:`x`; implicit differentiation of
    :math:`(1+\lambda)A'(G(\theta)) = \mu_{data} + \lambda A'(\theta)` gives
    :math:`G'(\theta^*) = \lambda/(1+\lambda)`, equal to :math:`\lambda A''/(A''+\lambda A'')`.
    Two parameters, generic Hessian :math:`H`: :math:`(1+\lambda) H\, DG = \lambda H` solved for
    :math:`DG`, and :math:`\lambda(H+\lambda H)^{-1}H`, both equal :math:`\lambda/(1+\lambda)I`.
    """
    lam = syms.lam
    th, ths = sp.symbols("theta theta_star", real=True)
    A, T, h = sp.Function("A"), sp.Function("T"), sp.Function("h")
    mud = sp.Symbol("mu_data", real=True)
    logp = sp.log(h(x)) + th * T(x) - A(th)
    d2 = sp.diff(logp, th, 2)
    Gf = sp.Function("G")(th)
    identity = (1 + lam) * sp.diff(A(th), th).subs(th, Gf) - mud - lam * sp.diff(A(th), th)
    dG = sp.solve(sp.diff(identity, th), sp.Derivative(Gf, th))
    at_star = dG[0].subs(Gf, ths).subs(th, ths).doit() if len(dG) == 1 else sp.nan
    a2 = sp.diff(A(ths), ths, 2)
    h11, h12, h22 = sp.symbols("h11 h12 h22", real=True)
    H = sp.Matrix([[h11, h12], [h12, h22]])
    D = sp.Matrix(2, 2, sp.symbols("d0:4"))
    sol = sp.solve(list((1 + lam) * H * D - lam * H), list(D), dict=True)
    DG2 = D.subs(sol[0]) if len(sol) == 1 else sp.Matrix([[sp.nan] * 2] * 2)
    return combine(
        expect_zero(sp.diff(d2, x), "∂_x ∂²_θ log p_θ(x)"),
        expect_zero(d2 + sp.diff(A(th), th, 2), "∂²_θ log p_θ + A''(θ)"),
        expect_zero(at_star - lam / (1 + lam), "G'(θ*) - λ/(1+λ) (implicit differentiation)"),
        expect_zero(lam * a2 / (a2 + lam * a2) - lam / (1 + lam), "λA''/(A''+λA'') - λ/(1+λ)"),
        expect_zero(DG2 - lam / (1 + lam) * sp.eye(2), "2-D: DG - λ/(1+λ) I"),
        expect_zero(lam * (H + lam * H).inv() * H - lam / (1 + lam) * sp.eye(2), "2-D: λ(H+λH)^{-1}H - λ/(1+λ)I"),
    )


@check(RESULT, "§3: toolkit fixed_point_jacobian(H, H, λ) = λ/(1+λ) I (random SPD H)", "randomized")
def check_toolkit_expfam() -> Outcome:
    r"""§3: "A = B = ∇²A(θ*), J = λ/(1+λ) I exactly" — :func:`fixed_point_jacobian` with
    :math:`A = B = H` for 40 seeded random SPD :math:`H` (dimension 1–5, condition number
    :math:`\le 10^2`), :math:`\lambda` log-uniform in :math:`[10^{-3}, 10^3]` and :math:`\lambda=\infty`
    (the limit :math:`I`). Worst max-entry error against :math:`\lambda/(1+\lambda) I`.
    """
    rng = np.random.default_rng(2)
    errs, where = [], []
    for i in range(40):
        d = int(rng.integers(1, 6))
        Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        H = (Q * 10 ** rng.uniform(-1, 1, size=d)) @ Q.T
        lam = np.inf if i % 10 == 0 else float(10 ** rng.uniform(-3, 3))
        ref = 1.0 if np.isinf(lam) else lam / (1 + lam)
        J = jacobian.fixed_point_jacobian(H, H, lam)
        errs.append(np.abs(J - ref * np.eye(d)).max() / ref)
        where.append(f"d={d}, λ={lam:.3g}")
    return worst_case(errs, TOL_SOLVE, "fixed_point_jacobian(H, H, λ) vs λ/(1+λ) I", where)


# Non-exponential model: Cauchy location (scale 1), data Cauchy(0, 2) (misspecified). Every
# integral below has a rational integrand, which sympy integrates exactly over R. (sympy 1.14
# returns a wrong closed form for A when the data scale is left symbolic, so it is fixed to 2 and
# every integral is cross-checked by mpmath quadrature.)
DATA_SCALE = sp.Integer(2)


def _cauchy():
    th = sp.Symbol("theta", real=True)
    model = 1 / (sp.pi * (1 + (x - th) ** 2))
    data = DATA_SCALE / (sp.pi * (DATA_SCALE**2 + x**2))
    ell = sp.log(model)
    return th, model, data, ell


def _integrate_checked(expr, label):
    """sympy's integral over R and an mpmath quadrature of the same integrand (both reported)."""
    exact = sp.simplify(sp.integrate(expr, (x, -sp.oo, sp.oo)))
    f = sp.lambdify(x, expr, "mpmath")
    with mp.workdps(30):
        quad = mp.quad(f, [-mp.inf, -1, 0, 1, mp.inf])
        diff = abs(quad - sp.N(exact, 30))
    # tanh-sinh quadrature of these smooth rational integrands is accurate to ~1e-25 at 30 digits.
    return exact, Outcome(bool(diff < 1e-20), f"{label} = {exact} (mpmath quadrature differs by {float(diff):.1e})")


@lru_cache(maxsize=1)
def _cauchy_constants():
    th, model, data, ell = _cauchy()
    score = sp.diff(ell, th).subs(th, 0)
    hess = sp.diff(ell, th, 2).subs(th, 0)
    p0 = model.subs(th, 0)
    outs = []
    e_score, o = _integrate_checked(data * score, "E_data[∂_θ log p_0]")
    outs.append(o)
    A, o = _integrate_checked(-data * hess, "A = -E_data[∂²_θ log p_0]")
    outs.append(o)
    B, o = _integrate_checked(-p0 * hess, "B = -E_p0[∂²_θ log p_0]")
    outs.append(o)
    fisher, o = _integrate_checked(p0 * score**2, "E_p0[(∂_θ log p_0)²]")
    outs.append(o)
    # ∂_θ F at θ = θ' = 0: the synthetic term λ ∫ p(x-θ) ∂_θ' log p(x-θ') dx differentiated in θ.
    dF_old, o = _integrate_checked(sp.diff(model, th).subs(th, 0) * score, "∂_θ ∫ p_θ ∂_θ' log p_θ'")
    outs.append(o)
    return e_score, A, B, fisher, dF_old, outs


@check(RESULT, "§3: IFT on a non-exponential model (Cauchy location, Cauchy(0,2) data)", "symbolic")
def check_cauchy_ift() -> Outcome:
    r"""§3: the implicit-differentiation formula J = λ(A+λB)^{-1}B — on the Cauchy location family
    (scale 1) with data Cauchy(0, 2), a misspecified model whose Hessian depends on :math:`x`.

    How A and B are obtained: sympy integrates the rational integrands over R exactly
    (:math:`E_{data}[\partial_\theta\log p_0] = 0`, so :math:`\theta^* = 0`; :math:`A = 2/9`;
    :math:`B = 1/2`), each cross-checked by mpmath quadrature at 30 digits. The IFT pieces:
    :math:`\partial_{\theta'}F = -(A + \lambda B)` by definition, and :math:`\partial_\theta F =
    \lambda\int \partial_\theta p_\theta\,\partial_{\theta'}\log p_{\theta'} = \lambda E[(\partial\log p)^2]
    = \lambda B` (Fisher identity; differentiation under the integral is dominated by
    :math:`C/(1+x^2)`), so :math:`J = \lambda B/(A + \lambda B)`.
    """
    e_score, A, B, fisher, dF_old, outs = _cauchy_constants()
    lam = syms.lam
    J = -(lam * dF_old) / (-(A + lam * B))
    return combine(
        *outs,
        expect_zero(e_score, "θ* = 0: E_data[score]"),
        expect_true(A.is_positive is True, "A > 0 (A2)"),
        expect_zero(fisher - B, "Fisher identity E[score²] - B"),
        expect_zero(dF_old - B, "∂_θF/λ - B"),
        expect_zero(J - lam * B / (A + lam * B), "IFT J - λB/(A+λB)"),
        expect_true(A != B, f"misspecified: A = {A} ≠ B = {B}"),
    )


def _cauchy_map(theta, lam, guess):
    """G_λ(θ) for the Cauchy model by root finding on F(θ', θ) = 0, integrals by quadrature."""
    psi = lambda u: 2 * u / (1 + u**2)  # noqa: E731  (∂_θ log p(x - θ) at u = x - θ)
    data = lambda z: 2 / (mp.pi * (4 + z**2))  # noqa: E731
    model = lambda z: 1 / (mp.pi * (1 + (z - theta) ** 2))  # noqa: E731

    def F(tp):
        pts = [-mp.inf, min(tp, theta, 0), max(tp, theta, 0), mp.inf]
        return mp.quad(lambda z: (data(z) + lam * model(z)) * psi(z - tp), pts)

    return mp.findroot(F, guess, tol=mp.mpf(10) ** (-2 * mp.mp.dps // 3))


@check(RESULT, "§3: G_λ differentiated numerically = λB/(A+λB) = toolkit J (Cauchy)", "high-precision numeric")
def check_cauchy_numeric_ift() -> Outcome:
    r"""§3: "J = λ(A+λB)^{-1}B" on the Cauchy model, by a second route: :math:`G_\lambda(\theta)` is
    computed by root finding with quadrature integrals (30 digits) at :math:`\theta = \pm h`,
    :math:`h = 10^{-6}`, and differentiated by a central difference (truncation
    :math:`O(h^2) \approx 10^{-12}`); it must equal the symbolic :math:`\lambda B/(A+\lambda B)` and
    :func:`stability.jacobian.fixed_point_jacobian` on ``[[A]], [[B]]``, for
    :math:`\lambda \in \{1/4, 1, 4\}`.
    """
    _, A, B, _, _, _ = _cauchy_constants()
    outs = []
    with mp.workdps(30):
        h = mp.mpf("1e-6")
        for lam in (sp.Rational(1, 4), sp.Integer(1), sp.Integer(4)):
            J_sym = lam * B / (A + lam * B)
            g = mp.mpf(float(J_sym))
            fd = (_cauchy_map(h, mp.mpf(lam), g * h) - _cauchy_map(-h, mp.mpf(lam), -g * h)) / (2 * h)
            tk = jacobian.fixed_point_jacobian([[float(A)]], [[float(B)]], float(lam))[0, 0]
            # Central difference: error ~ h²·|G'''|/6 ~ 1e-12 (G''' = O(1) here); 1e-9 is a safe bound.
            outs.append(worst_case([abs(fd - sp.N(J_sym, 30))], 1e-9, f"λ={lam}: finite-difference DG vs λB/(A+λB)"))
            outs.append(worst_case([abs(tk - float(J_sym)) / float(J_sym)], TOL_SOLVE, f"λ={lam}: toolkit J"))
    return combine(*outs)
