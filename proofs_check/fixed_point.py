r"""docs/theory.md §3, first bullet: :math:`G_\lambda(\theta^*) = \theta^*` for every :math:`\lambda`.

Why: a model's score has mean zero under the model itself, so the synthetic
term of the objective is stationary at :math:`\theta' = \theta`, the data term at
:math:`\theta' = \theta^*`, so both are stationary at :math:`\theta = \theta' = \theta^*`.
"""

from __future__ import annotations

import sympy as sp

from ._util import expect_true, expect_zero
from .models import gaussian_logpdf, gaussian_map, syms, x
from .registry import Outcome, check, combine

__all__ = ["check_expfam_fixed_point", "check_expfam_mean_parameter", "check_gaussian_fixed_point"]

RESULT = "fixed_point"


@check(RESULT, "§3: G_λ(θ*) = θ* (Gaussian mean and variance)", "symbolic")
def check_gaussian_fixed_point() -> Outcome:
    r"""§3: θ* is a fixed point of G_λ at every λ (the model's score has mean zero under the model) — Gaussian.

    For :math:`p_\theta = N(m, v)` and data with any mean :math:`\mu` and variance :math:`s^2`:
    (i) :math:`\int \nabla_{(m,v)} \log N(x;m,v)\, N(x;m,v)\,dx = 0` (sympy integrates over R);
    (ii) the objective :math:`E_{data}\log p_{\theta'} + \lambda E_{p_\theta}\log p_{\theta'}` has a
    single stationary point, a maximum (Hessian negative definite there);
    (iii) at :math:`\theta = \theta^* = (\mu, s^2)` (the data MLE) that point is :math:`\theta^*`.
    """
    s = syms
    logp = gaussian_logpdf(s.m, s.v)
    dens = sp.exp(logp)
    score = [sp.integrate(sp.diff(logp, p) * dens, (x, -sp.oo, sp.oo)) for p in (s.m, s.v)]
    obj, G = gaussian_map()
    # Signs at the stationary point: write the data variance through v' = G_v(θ) > 0, so that the
    # Hessian is a function of v' and sympy can decide the signs from the assumptions.
    s2_of_v = sp.solve(G[1] - s.v_new, s.s2_data)
    hess = sp.hessian(obj, (s.m_new, s.v_new)).subs(s.m_new, G[0]).subs(s.s2_data, s2_of_v[0])
    h11 = sp.simplify(hess[0, 0])
    det = sp.factor(sp.simplify(hess.det()))
    star = {s.m: s.mu_data, s.v: s.s2_data}
    return combine(
        expect_zero(score[0], "E_θ[∂_m log p_θ]"),
        expect_zero(score[1], "E_θ[∂_v log p_θ]"),
        expect_true(h11.is_negative is True and det.is_positive is True, "Hessian at the stationary point ≺ 0"),
        expect_zero(G[0].subs(star) - s.mu_data, "m-component of G(θ*) - θ*"),
        expect_zero(G[1].subs(star) - s.s2_data, "v-component of G(θ*) - θ*"),
    )


def _expfam_symbols():
    th, thp, ths = sp.symbols("theta theta_new theta_star", real=True)
    return th, thp, ths, sp.Function("A"), sp.Symbol("mu_data", real=True)


@check(RESULT, "§3: G_λ(θ*) = θ* (exponential family, symbolic log-partition)", "symbolic")
def check_expfam_fixed_point() -> Outcome:
    r"""§3: "G_λ(θ*) = θ*" for :math:`p_\theta(x) = h(x)\exp(\theta T(x) - A(\theta))`, A symbolic.

    (i) With :math:`A(\theta) = \log\int h e^{\theta T}`: :math:`A'(\theta) = E_\theta[T]` and
    :math:`A''(\theta) = \mathrm{Var}_\theta[T] \ge 0` (differentiation under the integral, sympy);
    (ii) the objective is :math:`\theta'(\mu_{data} + \lambda A'(\theta)) - (1+\lambda)A(\theta')`
    plus terms free of :math:`\theta'`; its derivative vanishes at :math:`\theta = \theta' = \theta^*`
    when :math:`A'(\theta^*) = \mu_{data}` (moment matching), and its second derivative is
    :math:`-(1+\lambda)A''(\theta') < 0`, so the stationary point is the unique maximiser.
    """
    th, thp, ths, A, mud = _expfam_symbols()
    h, T = sp.Function("h"), sp.Function("T")
    lim = (x, -sp.oo, sp.oo)
    Z = sp.Integral(h(x) * sp.exp(th * T(x)), lim)
    ET = sp.Integral(T(x) * h(x) * sp.exp(th * T(x)), lim) / Z
    ET2 = sp.Integral(T(x) ** 2 * h(x) * sp.exp(th * T(x)), lim) / Z
    lam = syms.lam
    # log p_θ'(x) = log h(x) + θ' T(x) - A(θ'); expectations replace T by its mean, log h by a constant.
    Hd, Hm = sp.symbols("E_data_log_h E_model_log_h", real=True)
    obj = (Hd + thp * mud - A(thp)) + lam * (Hm + thp * sp.diff(A(th), th) - A(thp))
    F = sp.diff(obj, thp)
    at_star = F.subs(th, ths).subs(thp, ths).doit().subs(mud, sp.diff(A(ths), ths))
    second = sp.diff(obj, thp, 2) + (1 + lam) * sp.diff(A(thp), thp, 2)
    return combine(
        expect_zero(sp.diff(sp.log(Z), th) - ET, "A'(θ) - E_θ[T]"),
        expect_zero(sp.diff(sp.log(Z), th, 2) - (ET2 - ET**2), "A''(θ) - Var_θ[T]"),
        expect_zero(at_star, "∂_θ' objective at θ = θ' = θ*, A'(θ*) = μ_data"),
        expect_zero(second, "∂²_θ' objective + (1+λ)A''(θ')"),
    )


# Concrete families: name, log-partition A(θ), natural-parameter domain, and E_θ[T] computed from
# the density itself (a sum or an integral), so that A is checked to be the log-partition.
def _families():
    th = sp.Symbol("theta", real=True)
    tneg = sp.Symbol("theta", negative=True)
    k = sp.Symbol("k", integer=True, nonnegative=True)
    xp = sp.Symbol("x", positive=True)
    r = sp.Symbol("r", positive=True)  # the Poisson rate e^θ, so that sympy can sum the series
    pois_mean = sp.summation(k * r**k * sp.exp(-r) / sp.factorial(k), (k, 0, sp.oo)).subs(r, sp.exp(th))
    expo_mean = sp.integrate(xp * sp.exp(tneg * xp + sp.log(-tneg)), (xp, 0, sp.oo))
    bern_mean = sum(kk * sp.exp(th * kk - sp.log(1 + sp.exp(th))) for kk in (0, 1))
    return [
        ("Poisson", th, sp.exp(th), pois_mean),
        ("exponential", tneg, -sp.log(-tneg), expo_mean),
        ("Bernoulli", th, sp.log(1 + sp.exp(th)), bern_mean),
    ]


@check(RESULT, "§3: mean-parameter map μ_{t+1} = (μ_data + λμ_t)/(1+λ), μ* = E_data[T]", "symbolic")
def check_expfam_mean_parameter() -> Outcome:
    r"""§3: for μ = ∇A(θ) one step is the averaging μ_{t+1} = (μ_data + λ μ_t)/(1+λ) on the whole
    parameter space, with the moment-matching fixed point μ* = E_data[T(x)].

    For Poisson, exponential and Bernoulli families: :math:`E_\theta[T]` computed from the density
    equals :math:`A'(\theta)`; ``sympy.solve`` of the stationarity condition gives
    :math:`G_\lambda(\theta)`, whose mean parameter is the affine map above; and
    :math:`G_\lambda(\theta^*) = \theta^*` at :math:`\theta^* = (A')^{-1}(\mu_{data})`.
    """
    lam = syms.lam
    mud = sp.Symbol("mu_data", positive=True)
    outs = []
    for name, th, A, mean_from_density in _families():
        thp = sp.Symbol("theta_new", real=th.is_real, negative=th.is_negative)
        dA = sp.diff(A, th)
        outs.append(expect_zero(mean_from_density - dA, f"{name}: E_θ[T] - A'(θ)"))
        F = mud + lam * dA - (1 + lam) * dA.subs(th, thp)
        sols = sp.solve(F, thp)
        if len(sols) != 1:
            outs.append(Outcome(False, f"{name}: expected one stationary point, got {sols}"))
            continue
        G = sols[0]
        outs.append(expect_zero(dA.subs(th, G) - (mud + lam * dA) / (1 + lam), f"{name}: μ(G(θ)) - affine map"))
        theta_star = sp.solve(dA.subs(th, thp) - mud, thp)
        if len(theta_star) != 1:
            outs.append(Outcome(False, f"{name}: expected one θ* with A'(θ*) = μ_data, got {theta_star}"))
            continue
        outs.append(expect_zero(G.subs(th, theta_star[0]) - theta_star[0], f"{name}: G(θ*) - θ*"))
    return combine(*outs)
