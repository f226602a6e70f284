r"""docs/theory.md §3 for the toolkit's exponential families (:mod:`stability.families`).

What is checked: for p_θ(x) = h(x) exp(θ·T(x) - A(θ)) both curvature matrices equal ∇²A(θ*), so
J = λ/(1+λ) I whatever the data distribution; written for μ = ∇A(θ), one retraining step is the
averaging μ_{t+1} = (μ_data + λ μ_t)/(1+λ) everywhere (not only near θ*), and its fixed point matches
the moments, μ* = E_data[T(x)].

For each family the log-partition is *derived* by sympy from the base measure and the sufficient
statistic, :math:`A(\theta) = \log\int h(x) e^{\theta\cdot T(x)}` (a sum for discrete families), and
its derivatives are the references: the toolkit's ``log_partition``, ``mean``, ``fisher``,
``fixed_point``, ``operator``, ``jacobian``, ``local_constants`` and :func:`stability.analyze` are
checked against them at seeded points, at 50 digits, on misspecified data samples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache

import mpmath as mp
import numpy as np
import sympy as sp

import stability
from stability import families as tk_families

from ._util import DPS, expect_true, worst_case
from .registry import Outcome, check, combine

__all__ = ["FamilySpec", "check_fixed_point_operator", "check_jacobian_constants", "check_log_partition", "specs"]

RESULT = "families"

LAMBDAS = (0.25, 1.0, 9.0)


@dataclass(frozen=True)
class FamilySpec:
    """One toolkit family with its symbolic log-partition and the points it is checked at."""

    name: str
    make: Callable[[], object]
    theta: tuple[sp.Symbol, ...]
    A: sp.Expr
    T: Callable[[object], list]  # sufficient statistic of one data point (mpmath values)
    theta_point: Callable[[np.random.Generator], np.ndarray]  # a valid natural parameter
    sample: Callable[[np.random.Generator], np.ndarray]  # a data sample (not from the family)


def _log_sum(terms) -> sp.Expr:
    return sp.log(sp.Add(*terms))


def _gaussian_1d(eta, lam_):
    x = sp.Symbol("x", real=True)
    return sp.simplify(sp.log(sp.integrate(sp.exp(eta * x - lam_ * x**2 / 2), (x, -sp.oo, sp.oo))))


@lru_cache(maxsize=1)
def specs() -> tuple[FamilySpec, ...]:
    """The families and their log-partitions, derived by sympy from :math:`h` and :math:`T`."""
    th = sp.Symbol("theta", real=True)
    t1, t2 = sp.symbols("theta1 theta2", real=True)
    tneg = sp.Symbol("theta", negative=True)
    # Poisson: sum_k e^{θk}/k! with r = e^θ (so that sympy sums the series), h(k) = 1/k!
    r, k = sp.Symbol("r", positive=True), sp.Symbol("k", integer=True, nonnegative=True)
    A_pois = sp.log(sp.summation(r**k / sp.factorial(k), (k, 0, sp.oo))).subs(r, sp.exp(th))
    xp = sp.Symbol("x", positive=True)
    A_expo = sp.log(sp.integrate(sp.exp(tneg * xp), (xp, 0, sp.oo)))
    # Gamma: θ = (a - 1, -b), T = (log x, x), h = 1: ∫ x^{a-1} e^{-bx} dx with a, b > 0.
    a, b = sp.symbols("a b", positive=True)
    A_gamma = sp.log(sp.integrate(xp ** (a - 1) * sp.exp(-b * xp), (xp, 0, sp.oo))).subs({a: t1 + 1, b: -t2})
    eta1, eta2 = sp.symbols("eta1 eta2", real=True)
    L1, L2 = sp.symbols("Lambda1 Lambda2", positive=True)

    def sample_pos(rng):
        return rng.gamma(2.0, 1.0, size=40) + 0.05 * rng.uniform(size=40)

    return (
        FamilySpec("bernoulli", tk_families.Bernoulli, (th,), _log_sum([sp.exp(th * x) for x in (0, 1)]),
                   lambda x: [mp.mpf(float(x))], lambda g: g.uniform(-3, 3, 1),
                   lambda g: np.r_[0.0, 1.0, (g.uniform(size=30) < 0.3).astype(float)]),
        FamilySpec("categorical", lambda: tk_families.Categorical(k=3), (t1, t2),
                   _log_sum([sp.exp(t1 * int(x == 1) + t2 * int(x == 2)) for x in (0, 1, 2)]),
                   lambda x: [mp.mpf(float(x == 1)), mp.mpf(float(x == 2))], lambda g: g.uniform(-3, 3, 2),
                   lambda g: np.r_[0.0, 1.0, 2.0, g.integers(0, 3, 30).astype(float)]),
        FamilySpec("poisson", tk_families.Poisson, (th,), A_pois, lambda x: [mp.mpf(float(x))],
                   lambda g: g.uniform(-2, 3, 1), lambda g: g.negative_binomial(3, 0.4, 40).astype(float) + 0.0),
        FamilySpec("exponential", tk_families.Exponential, (tneg,), A_expo, lambda x: [mp.mpf(float(x))],
                   lambda g: -10 ** g.uniform(-1, 1, 1), sample_pos),
        FamilySpec("gamma", tk_families.Gamma, (t1, t2), A_gamma, lambda x: [mp.log(float(x)), mp.mpf(float(x))],
                   lambda g: np.array([10 ** g.uniform(-0.5, 1) - 1, -(10 ** g.uniform(-1, 1))]), sample_pos),
        FamilySpec("gaussian", lambda: tk_families.Gaussian(d=1), (eta1, L1), _gaussian_1d(eta1, L1),
                   lambda x: [mp.mpf(float(x)), -mp.mpf(float(x)) ** 2 / 2],
                   lambda g: np.array([g.uniform(-2, 2), 10 ** g.uniform(-1, 1)]),
                   lambda g: np.r_[g.standard_exponential(30), -g.uniform(0, 3, 10)]),
        FamilySpec("gaussian-diag", lambda: tk_families.GaussianDiag(d=2), (eta1, eta2, L1, L2),
                   _gaussian_1d(eta1, L1) + _gaussian_1d(eta2, L2),
                   lambda x: [mp.mpf(float(v)) for v in x] + [-mp.mpf(float(v)) ** 2 / 2 for v in x],
                   lambda g: np.concatenate([g.uniform(-2, 2, 2), 10 ** g.uniform(-1, 1, 2)]),
                   lambda g: np.c_[g.standard_exponential(40), g.uniform(-1, 2, 40) ** 3]),
    )  # fmt: skip


@cache
def _derivatives(name: str):
    """A, ∇A, ∇²A of family ``name`` as mpmath functions of the natural parameter vector."""
    spec = next(s for s in specs() if s.name == name)
    grad = [sp.diff(spec.A, t) for t in spec.theta]
    hess = [[sp.diff(g, t) for t in spec.theta] for g in grad]
    f = sp.lambdify(spec.theta, [spec.A, grad, hess], "mpmath")

    def at(theta):
        A, g, H = f(*[mp.mpf(float(v)) for v in theta])
        return A, mp.matrix(g), mp.matrix(H)

    return at


def _flat(ref) -> list:
    if isinstance(ref, mp.matrix):
        return [ref[i, j] for i in range(ref.rows) for j in range(ref.cols)]
    return [mp.mpf(ref)]


def _rel(got, ref) -> float:
    """max |got - ref| / max |ref|, elementwise (``ref`` an mpmath number or matrix)."""
    refv = _flat(ref)
    got = np.atleast_1d(np.asarray(got, dtype=float)).ravel()
    if got.size != len(refv):
        raise ValueError(f"shape mismatch: toolkit gave {got.size} values, the reference has {len(refv)}")
    scale = max(max(abs(v) for v in refv), mp.mpf("1e-300"))
    return float(max(abs(mp.mpf(float(g)) - v) for g, v in zip(got, refv, strict=True)) / scale)


def _data_mean(spec: FamilySpec, x: np.ndarray):
    rows = [spec.T(v) for v in x]
    return mp.matrix([mp.fsum(r[j] for r in rows) / len(rows) for j in range(len(rows[0]))])


# The toolkit evaluates closed forms in double precision (log/exp/gammaln/digamma/polygamma, each
# to a few ulps); with the moderate parameters drawn here (condition numbers <= ~1e3) the relative
# error is <= ~1e-13. 1e-11 leaves a margin and still catches any wrong term.
TOL_CLOSED = 1e-11


@check(
    RESULT,
    "§3: toolkit log_partition, mean = ∇A, fisher = ∇²A, statistic = T for every family",
    "high-precision numeric",
)
def check_log_partition() -> Outcome:
    r"""§3: the density h(x) exp(θ·T(x) - A(θ)), its mean parameter ∇A(θ) and A = B = ∇²A(θ*).

    For Bernoulli, categorical (k = 3), Poisson, exponential, gamma, Gaussian (d = 1) and diagonal
    Gaussian (d = 2): :math:`A` derived by sympy from :math:`h` and :math:`T`; at 8 seeded valid
    natural parameters each, ``log_partition``, ``mean`` and ``fisher`` against :math:`A`,
    :math:`\nabla A`, :math:`\nabla^2 A` (mpmath, 50 digits), and ``statistic`` on a data sample
    against :math:`T` (so that the toolkit's parameter order is the one differentiated).
    """
    rng = np.random.default_rng(20)
    errs, where = [], []
    with mp.workdps(DPS):
        for spec in specs():
            fam = spec.make()
            at = _derivatives(spec.name)
            for _ in range(8):
                theta = spec.theta_point(rng)
                A, g, H = at(theta)
                errs += [_rel(fam.log_partition(theta), A), _rel(fam.mean(theta), g), _rel(fam.fisher(theta), H)]
                where += [f"{spec.name} {w} at θ={np.round(theta, 3).tolist()}" for w in ("A", "∇A", "∇²A")]
            x = spec.sample(rng)
            Ttk = fam.statistic(x)
            errs.append(max(_rel(Ttk[i], mp.matrix(spec.T(v))) for i, v in enumerate(x[:10])))
            where.append(f"{spec.name} statistic")
    return worst_case(errs, TOL_CLOSED, f"{len(specs())} families vs sympy-derived A", where)


@check(
    RESULT,
    "§3: toolkit fixed_point = moment matching and operator(θ*) = θ*, for every family",
    "high-precision numeric",
)
def check_fixed_point_operator() -> Outcome:
    r"""§3: θ* is fixed by G_λ at every λ; the mean-parameter step (μ_data + λ μ_t)/(1+λ), fixed at E_data[T].

    For each family and a seeded data sample not drawn from it (misspecified): ``fixed_point(x)``
    satisfies :math:`\nabla A(\theta^*) = E_{data}[T]` (sympy :math:`\nabla A`; data mean at 50
    digits); ``operator(θ*, x, λ) = θ*`` for :math:`\lambda \in \{1/4, 1, 9\}`; and at a random
    :math:`\theta`, ``operator(θ, x, λ)`` solves the stationarity condition of §3
    (``fixed_point.expfam_fixed_point``): :math:`\nabla A(G) = (\mu_{data} + \lambda\nabla A(\theta))/(1+\lambda)`.
    """
    rng = np.random.default_rng(21)
    match, fixed, stat, where_m, where_f, where_s = [], [], [], [], [], []
    with mp.workdps(DPS):
        for spec in specs():
            fam = spec.make()
            at = _derivatives(spec.name)
            x = spec.sample(rng)
            mu_d = _data_mean(spec, x)
            theta_star = fam.fixed_point(x)
            match.append(_rel(np.array(at(theta_star)[1].tolist(), dtype=float).ravel(), mu_d))
            where_m.append(spec.name)
            for lam in LAMBDAS:
                fixed.append(_rel(fam.operator(theta_star, x, lam), mp.matrix(theta_star.tolist())))
                where_f.append(f"{spec.name}, λ={lam}")
                theta = spec.theta_point(rng)
                G = fam.operator(theta, x, lam)
                want = (mu_d + lam * at(theta)[1]) / (1 + lam)
                stat.append(_rel(np.array(at(G)[1].tolist(), dtype=float).ravel(), want))
                where_s.append(f"{spec.name}, λ={lam}")
    # The toolkit inverts ∇A in closed form, or by Newton's method to rounding level (gamma); the
    # round trip through float θ costs cond(∇²A) ulps, <= ~1e-12 for these data.
    return combine(
        worst_case(match, 1e-10, "∇A(fixed_point) vs E_data[T]", where_m),
        worst_case(fixed, 1e-10, "operator(θ*, λ) vs θ*", where_f),
        worst_case(stat, 1e-10, "∇A(operator(θ, λ)) vs (μ_data + λ∇A(θ))/(1+λ)", where_s),
    )


@check(
    RESULT,
    "§3: toolkit jacobian = λ/(1+λ) I, local_constants A = B = ∇²A, L = 0; analyze() rate",
    "high-precision numeric",
)
def check_jacobian_constants() -> Outcome:
    r"""§3: an x-free Hessian gives L = 0, A = B = ∇²A(θ*) and J = λ/(1+λ) I for every data law.

    For each family and misspecified data sample: implicit differentiation of
    :math:`\nabla A(G(\theta)) = (\mu_{data} + \lambda\nabla A(\theta))/(1+\lambda)` gives
    :math:`DG = \frac{\lambda}{1+\lambda}\nabla^2A(G)^{-1}\nabla^2A(\theta)`, which at
    :math:`\theta^*` is :math:`\lambda/(1+\lambda) I`; the toolkit's ``jacobian(x, λ)`` must equal it,
    a central difference of the toolkit's ``operator`` at :math:`\theta^*` must too (step
    :math:`h = 10^{-6}|\theta|`: truncation ~1e-12, rounding ~1e-10, so tolerance 1e-6),
    ``local_constants(x)`` must give :math:`A = B = \nabla^2A(\theta^*)` (sympy), :math:`L = 0` and
    :math:`\alpha = \lambda_{min}(\nabla^2A(\theta^*))`, and :func:`stability.analyze` must report
    ``rate_exact`` :math:`= \lambda/(1+\lambda)`.
    """
    rng = np.random.default_rng(22)
    jac, fd, consts, rates, flags, where = [], [], [], [], [], []
    with mp.workdps(DPS):
        for spec in specs():
            fam = spec.make()
            at = _derivatives(spec.name)
            x = spec.sample(rng)
            ts = fam.fixed_point(x)
            H = at(ts)[2]
            for lam in LAMBDAS:
                ref = mp.mpf(lam) / (1 + lam) * mp.eye(len(ts))
                # implicit differentiation at θ = G(θ) = θ*: λ/(1+λ) H^{-1} H
                DG = mp.mpf(lam) / (1 + lam) * mp.inverse(H) * H
                jac.append(max(_rel(fam.jacobian(x, lam), ref), _rel(np.array(DG.tolist(), dtype=float), ref)))
                h = 1e-6 * np.maximum(1.0, np.abs(ts))
                cols = [(fam.operator(ts + e, x, lam) - fam.operator(ts - e, x, lam)) / (2 * e[i])
                        for i, e in enumerate(np.diag(h))]  # fmt: skip
                fd.append(_rel(np.stack(cols, axis=1), ref))
                rates.append(abs(stability.analyze(spec.name, x, lam).rate_exact - lam / (1 + lam)) / (lam / (1 + lam)))
                where.append(f"{spec.name}, λ={lam}")
            lc = fam.local_constants(x)
            consts.append(max(_rel(lc.A, H), _rel(lc.B, H)))
            ev = mp.eigsy(H, eigvals_only=True)
            flags.append(lc.L == 0 and abs(lc.alpha - float(min(ev))) <= 1e-10 * float(max(ev)))
    return combine(
        worst_case(jac, TOL_CLOSED, "jacobian(x, λ) and implicit DG vs λ/(1+λ) I", where),
        worst_case(fd, 1e-6, "central difference of operator at θ* vs λ/(1+λ) I", where),
        worst_case(consts, 1e-10, "local_constants A, B vs ∇²A(θ*)", [s.name for s in specs()]),
        expect_true(all(flags), "local_constants L = 0 and α = λ_min(∇²A(θ*)) for every family"),
        worst_case(rates, TOL_CLOSED, "analyze(name, x, λ).rate_exact vs λ/(1+λ)", where),
    )
