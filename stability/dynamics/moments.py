r"""Closed-form first and second moments of the retraining chains (docs/theory.md §6), iterated and stationary.

These are the *unconditional* moments over chains (the real sample is random too), which is what
:func:`~stability.dynamics.simulate` estimates; they follow from the conditional moments of
docs/theory.md §6 by the tower rule. Notation: :math:`e_t = \mu_t - \mu_d` (Gaussian mean; for the
other families the mean parameter :math:`\eta_t - \eta_d`), :math:`a = \hat m - \mu_d` the real
sample's error, :math:`A = \mathrm{Cov}(a) = V_d/n`, :math:`w = k/(n+k)`, and

.. math:: S_t = E[\Sigma_t],\quad P_t = E[e_te_t^\top],\quad C_t = E[e_ta^\top],\quad m_t = E[e_t].

**Gaussian, fixed-real** (the conditional law :math:`\bar y \sim N(\mu_t, \Sigma_t/k)`,
:math:`kS_y \sim W(\Sigma_t, k-1)`,
:math:`\Sigma_{t+1} = c[(1-w)\hat S + wS_y + w(1-w)(\bar y-\hat m)(\bar y-\hat m)^\top]`,
:math:`c = N/(N-1)` for the unbiased estimator, else 1, :math:`N = n+k`):

.. math::
    S_{t+1} &= c\big[(1-w)\tfrac{n-1}{n}\Sigma_d + w\tfrac{k-1}{k}S_t + w(1-w)(P_t - 2C_t + A + S_t/k)\big] \\
    P_{t+1} &= (1-w)^2A + w^2P_t + 2w(1-w)C_t + w^2S_t/k, \qquad C_{t+1} = (1-w)A + wC_t

(:math:`C_t` stays symmetric from :math:`C_0 = 0`). **fresh-real**: the same with :math:`C_t = 0`
(the real sample is new each round). **fresh-fraction** (docs/theory.md §11): fresh-real with
:math:`n_r = \lfloor an\rfloor` real points (:math:`A = \Sigma_d/n_r`) and :math:`k = n - n_r`.
**replace** (:math:`w=1`, :math:`n` points):
:math:`S_{t+1} = c\frac{n-1}{n}S_t`, :math:`P_{t+1} = P_t + S_t/n` (the collapse laws of
:mod:`stability.collapse`). **accumulate** and **accumulate-subsample** (docs/theory.md §11): the
pool mean :math:`P_t`, its scatter :math:`T_t` and size :math:`N_t = n + tk` follow an exact recursion with time-varying
coefficients (:func:`_pool_moments`), :math:`\pi_t = E[(P_t-\mu_d)(P_t-\mu_d)^\top]`,
:math:`\tau_t = E[T_t]`; the model is the pool's fit (accumulate) or a subsample's (its mean
:math:`P_t + u_t`, :math:`E[u_tu_t^\top] = \upsilon_t = \tau_t(1/n - 1/N_t)/(N_t-1)`, the
finite-population correction).

**Other families** (natural exponential families with quadratic variance function
:math:`V(\eta) = \mathrm{Cov}(T\mid\eta)`): replace :math:`S_t/k` by :math:`E[V(\eta_t)]/k`, which is
linear in :math:`(m_t, P_t)` because V is at most quadratic; there is no covariance recursion.

Stationary values (``w < 1``) solve the linear fixed-point equations exactly.

**Self-correction** (``correction`` :math:`\gamma`, docs/theory.md §14): the synthetic points are
i.i.d. from the mixture :math:`(1-p)p_{\theta_t} + p\,p_T`, :math:`p = \gamma/(1+\gamma)`, and the
recursions above use the batch only through its mean's first two moments and its expected scatter, so
they hold exactly with the model's moments replaced by the mixture's (:func:`_mixture_moments`);
not for the accumulating schemes.

**Weighted mixing** (``synthetic_weight`` :math:`w`, docs/theory.md §10): the same recursions hold
with :math:`w` in place of :math:`k/(n+k)`, since the weighted fit is
:math:`\mu_{t+1} = (1-w)\hat m + w\bar y`,
:math:`\Sigma_{t+1} = c[(1-w)\hat S + wS_y + w(1-w)(\bar y-\hat m)(\bar y-\hat m)^\top]`, with
:math:`c = 1/(1-(1-w)^2/n-w^2/k)` for the unbiased (reliability-weights) estimator of
:func:`~stability.dynamics.simulate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._domains import check, check_choice
from .._domains import count as _count
from ..families import FAMILIES, Gaussian, simulated_families
from ..families.gaussian import gaussian_params as _gaussian_params
from ..schemes import SCHEMES, Scheme, as_scheme
from ..stationary import StationaryLaw, _ratio_and_counts, _weight_ratio
from ..weights import check_synthetic_weight
from .regression import REGRESSION, RegressionPrediction
from .simulator import ESTIMATORS, _check_recursion

__all__ = [
    "MomentPrediction",
    "family_moments",
    "family_stationary",
    "gaussian_moments",
    "fraction_stationary",
    "gaussian_stationary",
    "pool_error",
    "pool_stationary",
    "stationary_closed_form",
]

CLOSED_FORM_SCHEMES = tuple(name for name, s in SCHEMES.items() if s.has_moment_recursion)


@dataclass(frozen=True, eq=False)
class MomentPrediction:
    r"""Predicted moments per generation (leading axis ``generations + 1``, or none for stationary values).

    ``mean``: :math:`E[\mu_t]` (p,); ``cov_mean``: :math:`\mathrm{Cov}(\mu_t)` (p, p); ``expected_cov``:
    :math:`E[\Sigma_t]` (d, d) for the Gaussian, ``None`` otherwise.
    """

    mean: np.ndarray
    cov_mean: np.ndarray
    expected_cov: np.ndarray | None


def _setup(
    n, lambda_, scheme, generations=None, synthetic_weight=None, real_fraction=None
) -> tuple[int, int | None, Scheme, int, float]:
    r"""Real points per round, ``generations``, the scheme run (:meth:`~stability.schemes.Scheme.resolve`), ``k``
    and ``w`` (``synthetic_weight`` when given, else the natural share). The first is ``n`` except under
    ``fresh-fraction`` (:math:`\lfloor an\rfloor`)."""
    declared = as_scheme(scheme, real_fraction=real_fraction)
    n = int(check("n", n))
    G = None if generations is None else int(check("generations", generations))
    run = declared.resolve(lambda_)
    k = run.synthetic(n, lambda_)
    w = check_synthetic_weight(synthetic_weight, run, k)
    if w is not None and run.accumulate:
        raise ValueError(
            f"synthetic_weight must be None for the moments of scheme {run.name!r}: its pool recursion "
            "(docs/theory.md §11) is unweighted; simulate the weighted chain instead"
        )
    return run.real_size(n), G, run, k, run.weight(n, k) if w is None else w


def _gaussian_step(S, P, C, m, *, Sd, A, n, k, w, c, scheme, corr=None):
    if corr is not None:  # the synthetic points come from the corrected mixture (docs/theory.md §14)
        S, P, C, m = _mixture_moments(S, P, C, m, **corr)
    inv_k = 1.0 / k if k else 0.0
    if scheme.synthetic_only:
        return c * (n - 1) / n * S, P + S / n, C, m
    if not scheme.keeps_real:  # a new real sample each round: uncorrelated with the model's error
        C = np.zeros_like(C)
    S1 = c * ((1 - w) * (n - 1) / n * Sd + w * (k - 1) * inv_k * S + w * (1 - w) * (P - 2 * C + A + S * inv_k))
    P1 = (1 - w) ** 2 * A + w**2 * P + 2 * w * (1 - w) * C + w**2 * S * inv_k
    C1 = (1 - w) * A + w * C if scheme.keeps_real else C
    return S1, P1, C1, w * m


def _gaussian_consts(n, k, w, scheme, estimator, Sd, weighted=False):
    check_choice("estimator", estimator, ESTIMATORS)
    N = n if scheme.synthetic_only else n + k  # n: the real points per round
    c = N / (N - 1) if estimator == "unbiased" else 1.0
    if weighted and estimator == "unbiased":  # 1/(1 - sum of squared normalised weights)
        c = 1.0 / (1.0 - (1 - w) ** 2 / n - (w * w / k if k else 0.0))
    return dict(Sd=Sd, A=Sd / n, n=n, k=k, w=w, c=c, scheme=scheme)


def gaussian_moments(
    *,
    n,
    lambda_=None,
    generations,
    scheme="fixed-real",
    estimator="mle",
    data=None,
    init=None,
    dim=None,
    synthetic_weight=None,
    real_fraction=None,
    correction=0.0,
    correction_target=None,
) -> MomentPrediction:
    r"""Iterate the Gaussian moment recursions (module docstring) for ``generations`` rounds.

    Parameters are those of :func:`~stability.dynamics.simulate` (``correction`` and
    ``correction_target``: docs/theory.md §14, not for the accumulating schemes). The accumulating schemes follow
    the exact pool recursion of :func:`_pool_step` (docs/theory.md §11).

    Examples
    --------
    >>> p = gaussian_moments(n=10, lambda_=float("inf"), generations=2, scheme="replace")
    >>> p.expected_cov[:, 0, 0].round(4)  # ((n-1)/n)^t, the MLE collapse law
    array([1.  , 0.9 , 0.81])
    >>> p.cov_mean[:, 0, 0].round(4)  # 0, 1/n, 1/n + 0.9/n: the mean is a martingale
    array([0.  , 0.1 , 0.19])
    """
    n, G, scheme, k, w = _setup(n, lambda_, scheme, generations, synthetic_weight, real_fraction)
    mu_d, Sd = _gaussian_params(data, dim, "data")
    mu0, S0 = _gaussian_params({"mean": mu_d, "cov": Sd} | dict(init or {}), mu_d.size, "init")
    _check_recursion(G, mu_d.size, "gaussian_moments")
    corr = _gaussian_corr(correction, correction_target, scheme, mu_d, Sd, n)
    if scheme.accumulate:
        check_choice("estimator", estimator, ESTIMATORS)
        div = (lambda N: N) if estimator == "mle" else (lambda N: N - 1)

        def model_var(mP, second, tau, N):
            return (n - 1) * tau / ((N - 1) * div(n)) if scheme.subsample else tau / div(N)

        ms, Ps, Ss = _pool_moments(G, n, k, scheme.subsample, Sd, S0, mu0 - mu_d, model_var)
        return MomentPrediction(mu_d + ms, Ps - ms[:, :, None] * ms[:, None, :], Ss)
    consts = _gaussian_consts(n, k, w, scheme, estimator, Sd, synthetic_weight is not None) | dict(corr=corr)
    e0 = mu0 - mu_d
    S, P, C, m = S0, np.outer(e0, e0), np.zeros_like(Sd), e0
    Ss, Ps, ms = [S], [P], [m]
    for _ in range(G):
        S, P, C, m = _gaussian_step(S, P, C, m, **consts)
        Ss.append(S)
        Ps.append(P)
        ms.append(m)
    ms, Ps = np.array(ms), np.array(Ps)
    return MomentPrediction(mu_d + ms, Ps - ms[:, :, None] * ms[:, None, :], np.array(Ss))


def gaussian_stationary(
    *,
    n,
    lambda_=None,
    scheme="fixed-real",
    estimator="mle",
    data=None,
    dim=None,
    synthetic_weight=None,
    real_fraction=None,
    correction=0.0,
    correction_target=None,
) -> MomentPrediction:
    r"""Stationary :math:`E[\Sigma_\infty]`, :math:`\mathrm{Cov}(\mu_\infty)` (every scheme but ``replace``).

    With a ``correction`` :math:`\gamma > 0` (docs/theory.md §14; ``replace`` included, which then
    has a stationary law) the exact recursion's fixed point is solved as an affine system in
    :math:`(S, P, C, m)`; :math:`m_\infty \ne 0` when the target's mean differs from the data's.

    ``fresh-fraction``: the fixed point below with :math:`n_r` real points; in closed form
    :math:`\mathrm{Cov}(\mu_\infty) = \Sigma_d/(n a'(2-a') + 1 - a')`, :math:`a' = n_r/n`, and
    :math:`E[\Sigma_\infty] = \Sigma_d - \mathrm{Cov}(\mu_\infty)` (MLE). The accumulating schemes:
    :func:`pool_stationary` (``estimator="mle"``; exact for ``accumulate``, first order for
    ``accumulate-subsample``; docs/theory.md §11).

    At stationarity every moment is a multiple of :math:`\Sigma_d`,
    :math:`(S, P, C) = (s, p, q)\Sigma_d`, and the recursions become a 3×3 linear system in
    :math:`(s, p, q)`, solved exactly; :math:`m_\infty = 0` since :math:`w < 1`.

    Examples
    --------
    >>> st = gaussian_stationary(n=100, lambda_=0.0)  # real data only: Cov(mu) = 1/n, E[Sigma] = (n-1)/n
    >>> float(st.cov_mean[0, 0]), float(st.expected_cov[0, 0])
    (0.01, 0.99)
    """
    n, _, scheme, k, w = _setup(n, lambda_, scheme, None, synthetic_weight, real_fraction)
    mu_d, Sd = _gaussian_params(data, dim, "data")
    corr = _gaussian_corr(correction, correction_target, scheme, mu_d, Sd, n)
    if corr is not None:
        consts = _gaussian_consts(n, k, w, scheme, estimator, Sd, synthetic_weight is not None) | dict(corr=corr)
        d = Sd.shape[0]

        def F(x):
            S, P, C = (x[i * d * d : (i + 1) * d * d].reshape(d, d) for i in range(3))
            return np.concatenate([o.ravel() for o in _gaussian_step(S, P, C, x[3 * d * d :], **consts)])

        x = _affine_fixed_point(F, 3 * d * d + d)
        m, P = x[3 * d * d :], x[d * d : 2 * d * d].reshape(d, d)
        return MomentPrediction(mu_d + m, P - np.outer(m, m), x[: d * d].reshape(d, d))
    if scheme.synthetic_only:
        raise ValueError("scheme 'replace' (w = 1) has no stationary law: Sigma_t -> 0 almost surely")
    _no_real_weight(w)
    if scheme.accumulate:
        if estimator == "mle" and not scheme.subsample:
            e = pool_stationary(n, k, subsample=False, v2=-1.0)
            return MomentPrediction(mu_d.copy(), e * Sd, (1.0 - e) * Sd)
        G = POOL_GENERATIONS
        p = gaussian_moments(n=n, lambda_=lambda_, generations=G, scheme=scheme, estimator=estimator, data=data)
        tail = _pool_tail(n, k, scheme.subsample, G) * Sd
        return MomentPrediction(mu_d.copy(), p.cov_mean[-1] + tail, p.expected_cov[-1] - tail)
    c = _gaussian_consts(n, k, w, scheme, estimator, Sd, synthetic_weight is not None)["c"]
    a = 1.0 / n
    ik = 1.0 / k if k else 0.0
    fixed = scheme.keeps_real
    M = np.array(
        [
            [1 - c * w * (k - 1) * ik - c * w * (1 - w) * ik, -c * w * (1 - w), 2 * c * w * (1 - w) * fixed],
            [-(w**2) * ik, 1 - w**2, -2 * w * (1 - w) * fixed],
            [0.0, 0.0, 1.0],
        ]
    )
    b = np.array([c * (1 - w) * (n - 1) / n + c * w * (1 - w) * a, (1 - w) ** 2 * a, a if fixed else 0.0])
    s, p, _ = np.linalg.solve(M, b)
    return MomentPrediction(mu_d.copy(), p * Sd, s * Sd)


def _mixture_moments(S, P, C, m, *, p, beta, b, ST, A):
    r"""Moments of the corrected mixture :math:`q = (1-p)\,p_{\theta_t} + p\,p_T` (docs/theory.md §14).

    In: :math:`S = E[\mathrm{Var}_{\theta_t}]` (Gaussian :math:`E\Sigma_t`; families :math:`E V(\eta_t)`),
    :math:`P = E[ee^\top]`, :math:`C = E[ea^\top]`, :math:`m = E[e]`. The target's error is
    :math:`e_T = \beta a + b` (``beta`` 1: the chain's real-sample fit, :math:`a` its error; 0: a fixed
    target at offset ``b`` from the data), :math:`E\,\mathrm{Var}_T` = ``ST``. Out: the same four for
    the mixture, :math:`e_q = (1-p)e + pe_T`, :math:`\mathrm{Var}_q = (1-p)\mathrm{Var}_{\theta_t} +
    p\mathrm{Var}_T + p(1-p)(e - e_T)(e - e_T)^\top`; every recursion of this module then holds with
    them in place of the model's.
    """
    X = beta * C + np.outer(m, b)  # E[e e_T^T]
    PT = beta * A + np.outer(b, b)  # E[e_T e_T^T]
    Pq = (1 - p) ** 2 * P + p * p * PT + p * (1 - p) * (X + X.T)
    Sq = (1 - p) * S + p * ST + p * (1 - p) * (P - X - X.T + PT)
    return Sq, Pq, (1 - p) * C + p * beta * A, (1 - p) * m + p * b


def _correction(correction, correction_target, scheme, family, *, A, eta_d, real_var, fixed_target):
    """The ``corr`` constants of the steps (``None`` without a corrector), the target as in
    :mod:`~stability.dynamics.correction`: the chain's real-sample fit (error :math:`a`, expected
    variance ``real_var``) under a scheme that keeps its real sample, else ``fixed_target(correction_target)``
    = (its mean parameter, its variance), ``None`` meaning the data distribution."""
    from .correction import check_correction, replaced_probability

    g = check_correction(correction, scheme, family, correction_target)
    if g == 0.0:
        return None
    if scheme.accumulate:
        raise ValueError(
            f"correction must be 0 for the moments of scheme {scheme.name!r} (the pool recursion of "
            "docs/theory.md §11 is uncorrected); simulate the corrected chain instead"
        )
    p = replaced_probability(g)
    if correction_target is None and scheme.keeps_real:
        return dict(p=p, beta=1.0, b=np.zeros_like(eta_d), ST=real_var, A=A)
    mean_T, var_T = fixed_target(correction_target)
    return dict(p=p, beta=0.0, b=mean_T - eta_d, ST=var_T, A=A)


def _gaussian_corr(correction, correction_target, scheme, mu_d, Sd, n):
    """:func:`_correction` for the Gaussian (the real-sample fit's expected covariance is (n-1)/n Sigma_d)."""

    def fixed(ct):
        return (mu_d, Sd) if ct is None else _gaussian_params(ct, mu_d.size, "correction_target")

    return _correction(
        correction, correction_target, scheme, Gaussian, A=Sd / n, eta_d=mu_d, real_var=(n - 1) / n * Sd,
        fixed_target=fixed,
    )  # fmt: skip


def _no_regression_correction(correction) -> None:
    from .correction import check_correction

    check_correction(correction, None, FAMILIES[REGRESSION])


def _family_corr(correction, correction_target, scheme, family, spec, A):
    """:func:`_correction` for a non-Gaussian family (variances from its variance function)."""
    from .correction import correction_target_params

    eta_d = spec.eta_data

    def fixed(ct):
        eta = eta_d if ct is None else correction_target_params(family, ct, spec=spec)
        return eta, spec.variance(eta, np.outer(eta, eta))

    real_var = spec.variance(eta_d, A + np.outer(eta_d, eta_d))
    return _correction(
        correction, correction_target, scheme, family, A=A, eta_d=eta_d, real_var=real_var, fixed_target=fixed
    )


def _affine_fixed_point(F, dim: int) -> np.ndarray:
    """The fixed point of an affine map ``F`` of R^dim: :math:`(I - M)x = b`, M and b read off exactly."""
    b = F(np.zeros(dim))
    M = np.stack([F(e) - b for e in np.eye(dim)], axis=1)
    return np.linalg.solve(np.eye(dim) - M, b)


def _no_real_weight(w: float) -> None:
    if w == 1.0:
        raise ValueError(
            "synthetic_weight must be < 1 for a stationary law, got 1: the real data get no weight, so the "
            "chain drifts (as under scheme 'replace')"
        )


def _family_step(state, spec, *, A, n, k, w, scheme, corr=None):
    m, P, C = state
    eta_d = spec.eta_data
    EV = spec.variance(eta_d + m, P + np.outer(eta_d, m) + np.outer(m, eta_d) + np.outer(eta_d, eta_d))
    if corr is not None:  # E Var of a corrected point, and the moments of its mean (docs/theory.md §14)
        EV, P, C, m = _mixture_moments(EV, P, C, m, **corr)
    if scheme.synthetic_only:
        return m, P + EV / n, C
    inv_k = 1.0 / k if k else 0.0
    if not scheme.keeps_real:
        C = np.zeros_like(C)
    P1 = (1 - w) ** 2 * A + w**2 * P + w * (1 - w) * (C + C.T) + w**2 * EV * inv_k
    C1 = (1 - w) * A + w * C if scheme.keeps_real else C
    return w * m, P1, C1


def _regression(predict, n, data, real_fraction, **kw) -> RegressionPrediction:
    """``family = "linear-regression"``: the exact predictions of :mod:`.regression` (docs/theory.md §12)."""
    if real_fraction is not None:
        raise ValueError(f"real_fraction is for the scheme 'fresh-fraction', which {REGRESSION!r} does not run")
    rows = np.shape((data or {}).get("X", ())) if isinstance(data, dict) else ()
    if len(rows) == 2 and rows[0] != n:
        raise ValueError(f"n must equal data['X'].shape[0] = {rows[0]} for {REGRESSION!r}, got {n}")
    return predict(data=data, **kw)


def _sum_families() -> tuple[str, ...]:
    """The families whose moment recursions are those of a sum of statistics (module docstring)."""
    return tuple(n for n in simulated_families() if getattr(FAMILIES[n], "sum_statistic", False))


def _exponential_families() -> tuple[str, ...]:
    """The exponential families the simulator runs (every family but those with their own dynamics)."""
    return simulated_families(own_dynamics=False)


def _own_families() -> tuple[str, ...]:
    """The families with their own moments (linear regression, :mod:`.regression`)."""
    return tuple(n for n in simulated_families() if FAMILIES[n].moments is not None)


def _family_setup(
    family, n, lambda_, scheme, data, generations=None, synthetic_weight=None, real_fraction=None, options=None
):
    check_choice("family", family, _sum_families() + _own_families())
    if options:
        raise ValueError(f"{sorted(options)} are for family {REGRESSION!r} only, got family {family!r}")
    n, G, scheme, k, w = _setup(n, lambda_, scheme, generations, synthetic_weight, real_fraction)
    spec = FAMILIES[family].simulation(data)
    A = spec.variance(spec.eta_data, np.outer(spec.eta_data, spec.eta_data)) / n
    return spec, G, dict(A=A, n=n, k=k, w=w, scheme=scheme)


def _init_mean(family, spec, init) -> np.ndarray:
    """``init`` as a mean parameter of ``family``: checked like ``data`` (a Poisson rate > 0, a Bernoulli
    mean in (0, 1), a probability vector on the simplex), since the recursions are meaningless outside."""
    if init is None:
        return spec.eta_data
    if isinstance(init, complex) or np.iscomplexobj(init):
        raise ValueError(f"init must be real numbers, got complex values {init!r}")
    try:
        eta0 = np.atleast_1d(np.asarray(init, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"init must be a number or a probability vector, got {init!r:.100}") from None
    if eta0.shape != spec.eta_data.shape:
        raise ValueError(f"init must have shape {spec.eta_data.shape}, got {eta0.shape}")
    (key,) = set(spec.family.keys()) - set(spec.family.known)  # the fitted parameter
    try:
        spec.with_params(spec.params() | spec.family.params_from_mean(eta0, spec.shape))
    except ValueError as err:
        raise ValueError(f"init: {err}".replace(f"data[{key!r}]", f"the mean parameter {key!r}")) from None
    return eta0


def family_moments(
    family,
    *,
    n,
    lambda_=None,
    generations,
    scheme="fixed-real",
    data=None,
    init=None,
    synthetic_weight=None,
    real_fraction=None,
    correction=0.0,
    correction_target=None,
    **regression_options,
) -> MomentPrediction | RegressionPrediction:
    r"""Iterate the mean-parameter moment recursions of a non-Gaussian family (module docstring).

    ``correction``, ``correction_target``: self-correction (docs/theory.md §14; not for the
    accumulating schemes nor ``linear-regression``).

    ``init`` is the generation-0 mean parameter (a number, or a probability vector), default the data's.
    ``family="linear-regression"`` returns :func:`~stability.dynamics.regression_moments` (exact;
    ``noise_scale`` and ``estimator`` pass through ``regression_options``; ``n`` must be the rows of
    ``data["X"]``).

    Examples
    --------
    >>> p = family_moments("bernoulli", n=10, lambda_=float("inf"), generations=2, scheme="replace")
    >>> (p.cov_mean[:, 0, 0] / 0.21).round(4)  # Wright-Fisher: Var(p_t) = p(1-p)(1 - (1-1/n)^t)
    array([0.  , 0.1 , 0.19])
    """
    if family in _own_families():
        _no_regression_correction(correction)
        return _regression(
            FAMILIES[family].moments,
            n,
            data,
            real_fraction,
            lambda_=lambda_,
            generations=generations,
            scheme=scheme,
            init=init,
            synthetic_weight=synthetic_weight,
            **regression_options,
        )
    spec, G, consts = _family_setup(
        family, n, lambda_, scheme, data, generations, synthetic_weight, real_fraction, regression_options
    )
    consts["corr"] = _family_corr(correction, correction_target, consts["scheme"], family, spec, consts["A"])
    eta0 = _init_mean(family, spec, init)
    _check_recursion(G, spec.p, f"family_moments({family!r})")
    m = eta0 - spec.eta_data
    run = consts["scheme"]
    if run.accumulate:
        eta_d = spec.eta_data

        def model_var(mP, second, tau, N):
            return spec.variance(
                eta_d + mP, second + np.outer(eta_d, mP) + np.outer(mP, eta_d) + np.outer(eta_d, eta_d)
            )

        V0 = spec.variance(eta0, np.outer(eta0, eta0))
        ms, Ps, _ = _pool_moments(
            G, consts["n"], consts["k"], run.subsample, consts["A"] * consts["n"], V0, m, model_var
        )
        return MomentPrediction(eta_d + ms, Ps - ms[:, :, None] * ms[:, None, :], None)
    state = (m, np.outer(m, m), np.zeros((spec.p, spec.p)))
    ms, Ps = [state[0]], [state[1]]
    for _ in range(G):
        state = _family_step(state, spec, **consts)
        ms.append(state[0])
        Ps.append(state[1])
    ms, Ps = np.array(ms), np.array(Ps)
    return MomentPrediction(spec.eta_data + ms, Ps - ms[:, :, None] * ms[:, None, :], None)


def family_stationary(
    family,
    *,
    n,
    lambda_=None,
    scheme="fixed-real",
    data=None,
    synthetic_weight=None,
    real_fraction=None,
    correction=0.0,
    correction_target=None,
    **regression_options,
) -> MomentPrediction | RegressionPrediction:
    r"""Stationary mean and covariance of the mean parameter (every scheme but ``replace``, finite λ).

    With a ``correction`` :math:`\gamma > 0` (docs/theory.md §14) ``replace`` has a stationary law too.

    ``family="linear-regression"`` returns :func:`~stability.dynamics.regression_stationary` (exact,
    docs/theory.md §12; ``noise_scale`` and ``estimator`` pass through ``regression_options``).

    ``fresh-fraction``: in closed form :math:`\mathrm{Cov}(\eta_\infty) = V(\eta_d)/(n a'(2-a') - (1-a')v_2)`,
    :math:`a' = n_r/n`, :math:`v_2` the quadratic coefficient of the variance function (docs/theory.md
    §11); the solve below gives the same. The accumulating schemes: :func:`pool_stationary`.

    The one-step map of :func:`family_moments` is affine in the flattened state
    :math:`x = (m, P, C)`; its matrix :math:`M` and offset :math:`b` are read off by evaluating it at
    0 and at the unit vectors (exact, since the map is affine), and :math:`(I - M)x = b` is solved.

    Examples
    --------
    >>> st = family_stationary("poisson", n=50, lambda_=0.0, data={"rate": 2.0})
    >>> float(st.cov_mean[0, 0])  # real data only: rate / n
    0.04
    """
    if family in _own_families():
        _no_regression_correction(correction)
        return _regression(
            FAMILIES[family].stationary,
            n,
            data,
            real_fraction,
            lambda_=lambda_,
            scheme=scheme,
            synthetic_weight=synthetic_weight,
            **regression_options,
        )
    spec, _, consts = _family_setup(
        family, n, lambda_, scheme, data, None, synthetic_weight, real_fraction, regression_options
    )
    consts["corr"] = _family_corr(correction, correction_target, consts["scheme"], family, spec, consts["A"])
    if consts["corr"] is None and consts["scheme"].synthetic_only:
        raise ValueError("scheme 'replace' (w = 1) has no stationary law: the chain is absorbed or drifts")
    if consts["corr"] is None:
        _no_real_weight(consts["w"])
    p = spec.p
    run = consts["scheme"]
    if run.accumulate:
        V, n_, k = consts["A"] * consts["n"], consts["n"], consts["k"]
        if not run.subsample:
            return MomentPrediction(
                spec.eta_data.copy(), pool_stationary(n_, k, subsample=False, v2=_v2(spec)) * V, None
            )
        G = POOL_GENERATIONS
        pr = family_moments(family, n=n, lambda_=lambda_, generations=G, scheme=run, data=data)
        return MomentPrediction(spec.eta_data.copy(), pr.cov_mean[-1] + _pool_tail(n_, k, True, G) * V, None)
    sizes = [p, p * p, p * p]

    def F(x):
        m, P, C = np.split(x, np.cumsum(sizes)[:-1])
        out = _family_step((m, P.reshape(p, p), C.reshape(p, p)), spec, **consts)
        return np.concatenate([o.ravel() for o in out])

    x = _affine_fixed_point(F, sum(sizes))
    m, P = x[:p], x[p : p + p * p].reshape(p, p)
    return MomentPrediction(spec.eta_data + m, P - np.outer(m, m), None)


def _v2(spec) -> float:
    r"""Quadratic coefficient :math:`v_2` of the variance function.

    :math:`E V(\eta) = V(E\eta) + v_2\mathrm{Cov}(\eta)` (read off the family's ``variance``)."""
    eta = spec.eta_data
    V = spec.variance(eta, np.outer(eta, eta))
    return float((spec.variance(eta, np.outer(eta, eta) + V) - V)[0, 0] / V[0, 0])


def _pool_moments(G, n, k, subsample, Vd, V0, m0, model_var):
    r"""Exact moments of the accumulating schemes per generation (docs/theory.md §11).

    State after round :math:`t \ge 1`: the pool's mean offset :math:`m_P = E[P_t-\mu_d]` (constant
    from round 1: the pool mean is a martingale), :math:`\pi_t = E[(P_t-\mu_d)(P_t-\mu_d)^\top]`,
    :math:`\tau_t = E[T_t]` and :math:`N_t = n + tk`. The model of generation :math:`t` has mean
    :math:`P_t + u_t` with :math:`E[u_tu_t^\top] = \upsilon_t = \tau_t(1/n-1/N_t)/(N_t-1)` when
    subsampling (else 0) and expected variance :math:`\sigma_t` = ``model_var(m_P, π+υ, τ, N)``; then

    .. math:: \pi_{t+1} = \pi_t + (k/N_{t+1})^2(\upsilon_t + \sigma_t/k),\quad
              \tau_{t+1} = \tau_t + (k-1)\sigma_t + \tfrac{N_tk}{N_{t+1}}(\upsilon_t + \sigma_t/k).

    Round 1 draws from generation 0 (mean offset ``m0``, variance ``V0``) and pools with the real
    sample (:math:`E[(P_0-\mu_d)(P_0-\mu_d)^\top] = V_d/n`, :math:`E T_0 = (n-1)V_d`).
    Returns per generation: the mean offset, :math:`E[e_te_t^\top]` and :math:`\sigma_t`.
    """
    p = Vd.shape[0]
    ms, seconds, sigmas = [m0], [np.outer(m0, m0)], [V0]
    N = n + k
    mP = k * m0 / N
    pi = (n * Vd + k * V0 + k * k * np.outer(m0, m0)) / N**2
    tau = (n - 1) * Vd
    if k:
        tau = tau + (k - 1) * V0 + (n * k / N) * (np.outer(m0, m0) + Vd / n) + (n / N) * V0
    for _ in range(G):
        ups = tau * (1.0 / n - 1.0 / N) / (N - 1) if subsample else np.zeros((p, p))
        sigma = model_var(mP, pi + ups, tau, N)
        ms.append(mP)
        seconds.append(pi + ups)
        sigmas.append(sigma)
        if k:
            N1 = N + k
            pi = pi + (k / N1) ** 2 * (ups + sigma / k)
            tau = tau + (k - 1) * sigma + (N * k / N1) * (ups + sigma / k)
            N = N1
    return np.array(ms[: G + 1]), np.array(seconds[: G + 1]), np.array(sigmas[: G + 1])


# accumulate-subsample's stationary moments: the exact recursion for this many generations, then the
# first-order tail c psi'(x + G + 1) (relative error O(1/n) of a tail that is itself O(1/(k G)) of the total)
POOL_GENERATIONS = 4000


def _pool_tail(n: int, k: int, subsample: bool, G: int) -> float:
    r"""First-order tail: :math:`(E[e_\infty^2] - E[e_G^2])/V_d = c\,\psi'(x+G+1)`; c = 1/n+2/k or 1/k."""
    from scipy.special import polygamma

    if k == 0:
        return 0.0
    c = (1.0 / n + 2.0 / k) if subsample else 1.0 / k
    return c * float(polygamma(1, n / k + G + 1))


def pool_error(n: int, k: int, t: int, *, subsample: bool) -> float:
    r"""First-order :math:`E[(\eta_t-\eta_d)^2]/V(\eta_d)` at generation :math:`t \ge 1` (docs/theory.md §11).

    ``accumulate``: :math:`1/(n+k) + \Delta_t/k`; ``accumulate-subsample``:
    :math:`1/n + (1/n + 2/k)\Delta_t`, with :math:`\Delta_t = \psi'(x+2) - \psi'(x+t+1)`, :math:`x = n/k`
    (generation 0 the data distribution).

    >>> pool_error(100, 100, 1, subsample=True)  # one subsample of n out of n + k fresh points: 1/n
    0.01
    """
    from scipy.special import polygamma

    if k == 0:
        return 1.0 / n
    x = n / k
    delta = float(polygamma(1, x + 2) - polygamma(1, x + t + 1))
    return 1.0 / n + (1.0 / n + 2.0 / k) * delta if subsample else 1.0 / (n + k) + delta / k


def pool_stationary(n: int, k: int, *, subsample: bool, v2: float = 0.0) -> float:
    r"""Limit :math:`E[(\eta_\infty-\eta_d)^2]/V(\eta_d)` under ``accumulate`` / ``accumulate-subsample``.

    Generation 0 is the data distribution; :math:`x = n/k`, :math:`\psi'` the trigamma function
    (docs/theory.md §11):

    - ``accumulate`` (exact for the simulator's families and the Gaussian MLE, whose fits conserve
      :math:`E V(\eta_t) = V_d + v_2\pi_t`): with :math:`v_2 = 0`,
      :math:`1/(n+k) + \psi'(x+2)/k`; else :math:`(g_\infty/V_d - 1)/v_2` with
      :math:`g_\infty = V_d(1+v_2/(n+k))\,\Gamma(x+2)^2/(\Gamma(x+2-c)\Gamma(x+2+c))`,
      :math:`c = \sqrt{-v_2/k}` (complex when :math:`v_2 > 0`).
    - ``accumulate-subsample`` (first order: the pool's variance taken as :math:`V_d`, relative error
      :math:`O(1/n)`): :math:`1/n + (1/n + 2/k)\,\psi'(x+2)`.

    ``v2``: the variance function's quadratic coefficient (Gaussian mean with its MLE variance:
    :math:`-1`; Bernoulli, categorical :math:`-1`; Poisson 0; gamma with shape :math:`a`: :math:`1/a`).

    >>> round(pool_stationary(100, 100, subsample=False), 6)  # 1/200 + psi'(3)/100
    0.008949
    """
    from scipy.special import loggamma, polygamma

    if k == 0:
        return 1.0 / n
    x = n / k
    tri = float(polygamma(1, x + 2))
    if subsample:
        return 1.0 / n + (1.0 / n + 2.0 / k) * tri
    if v2 == 0.0:
        return 1.0 / (n + k) + tri / k
    c = np.sqrt(complex(-v2 / k))
    log_prod = 2 * loggamma(x + 2) - loggamma(x + 2 - c) - loggamma(x + 2 + c)
    g = (1.0 + v2 / (n + k)) * float(np.exp(log_prod).real)
    return (g - 1.0) / v2


def fraction_stationary(n: int, n_real: int, v2: float = 0.0) -> float:
    r"""Stationary :math:`\mathrm{Var}(\eta_\infty)/V(\eta_d)` under ``fresh-fraction``.

    :math:`1/(na'(2-a') - (1-a')v_2)`.
    :math:`a' = n_r/n`; exact for the simulator's families and the Gaussian mean with its MLE
    variance (:math:`v_2 = -1`), docs/theory.md §11.

    >>> round(fraction_stationary(100, 30, v2=0.0) * 100, 6)  # 1/(a'(2-a')) with a' = 0.3
    1.960784
    """
    a = n_real / n
    return 1.0 / (n * a * (2.0 - a) - (1.0 - a) * v2)


def stationary_closed_form(
    family: str,
    lambda_: float,
    n: int,
    *,
    data: dict | None = None,
    k: int | None = None,
    synthetic_weight: float | None = None,
    correction: float = 0.0,
) -> StationaryLaw:
    r"""The stationary law of :func:`stationary` in closed form for the simulator's families (docs/theory.md §9).

    Exponential families have :math:`A = B` (all :math:`\gamma_i = 1`), so
    :math:`C = c\,A^{-1}` with :math:`c = \lambda^2/(k(1+2\lambda))` (:math:`= \lambda/(n(1+2\lambda))`
    when :math:`k = \lambda n`). ``cov`` is given in the parametrisation of
    :func:`~stability.dynamics.simulate` (mean parameters), where :math:`A^{-1}` is the variance
    function :math:`V(\eta) = \mathrm{Cov}(T(x))` at the real sample's fit ``data``, i.e. the law of
    :math:`\eta_t - \hat\eta` at stationarity under the ``fixed-real`` scheme:

    - ``bernoulli``: :math:`c\,p(1-p)`; ``poisson``: :math:`c\,r`; ``exponential``: :math:`c\,m^2`;
      ``gamma`` (known shape :math:`a`): :math:`c\,m^2/a`;
    - ``categorical``: :math:`c(\mathrm{diag}\,\pi - \pi\pi^\top)` over all K probabilities
      (rank K-1: the K-1 free parameters);
    - ``gaussian``, coordinates :math:`(\mu, \mathrm{vech}\,\Sigma)` with
      :math:`\mathrm{vech}` the entries :math:`\Sigma_{ij}, i \le j` in ``numpy.triu_indices`` order:
      mean block :math:`c\,\Sigma`, covariance block
      :math:`\mathrm{Cov}(\Sigma_{ij}, \Sigma_{kl}) = c(\Sigma_{ik}\Sigma_{jl} + \Sigma_{il}\Sigma_{jk})`,
      cross block 0.

    Relation to the exact moments of the simulator (:func:`~stability.dynamics.moments.family_stationary`,
    :func:`~stability.dynamics.moments.gaussian_stationary`, unconditional over the real sample):
    :math:`\mathrm{Cov}(\eta_\infty) = V_d/n + E[\mathrm{Cov}(\eta_\infty-\hat\eta\mid\hat\eta)]` and the
    second term is ``cov`` (at :math:`\hat\eta = \eta_d`) times :math:`1 + O(1/n)`; the correction comes
    from the curvature of :math:`V` (it is 0 for the Poisson, whose first-order law is exact).

    ``excess_loss`` is :math:`\tfrac12 p\,c` with :math:`p` the number of free parameters (1;
    categorical K-1; Gaussian :math:`d + d(d+1)/2`), and ``rate`` is :math:`\lambda/(1+\lambda)`.

    With a ``synthetic_weight`` :math:`w` (docs/theory.md §10) :math:`\lambda` is replaced by
    :math:`\rho = w/(1-w)` throughout: :math:`c = \rho^2/(k(1+2\rho))`, rate :math:`\rho/(1+\rho)`.

    Parameters
    ----------
    family : ``"gaussian"``, ``"bernoulli"``, ``"categorical"``, ``"poisson"``, ``"exponential"``, ``"gamma"``
    lambda_ : float, ``>= 0`` and finite
    n : int, ``>= 1``, real sample size
    data : the real sample's fit, keys as ``data`` of :func:`~stability.dynamics.simulate`.
    k : int, ``>= 1``, optional; default :math:`\lfloor\lambda n\rfloor`.
    synthetic_weight : float in [0, 1), optional; default :math:`\rho = \lambda` (as :func:`stationary`).
    correction : float ``>= 0``, finite: self-correction towards the real sample's fit (docs/theory.md
        §14): :math:`c = \rho^2/(k[(1+\rho)^2 - \rho^2/(1+\gamma)^2])`, rate
        :math:`\rho/((1+\rho)(1+\gamma))`; with :math:`\gamma > 0`, ``lambda_ = inf`` (``replace``, ``k``
        default ``n``) gives :math:`c = (1+\gamma)^2/(k\gamma(2+\gamma))`, rate :math:`1/(1+\gamma)`.

    Examples
    --------
    >>> law = stationary_closed_form("bernoulli", 1.0, 100, data={"p": 0.5})
    >>> law.cov  # 1/(3n) p(1-p)
    array([[0.00083333]])
    >>> stationary_closed_form("gaussian", 1.0, 100, data={"cov": [[2.0]]}).cov.round(6)  # (mu, sigma^2)
    array([[0.006667, 0.      ],
           [0.      , 0.026667]])
    """
    from ..stationary import _check_correction, _purely_synthetic

    check_choice("family", family, _exponential_families())
    g = _check_correction(correction)
    if g > 0.0 and _purely_synthetic(lambda_, synthetic_weight):  # replace with a corrector (§14)
        lam, n_int = math.inf, int(check("n", n))
        k_int = n_int if k is None else _count("k", k)
        rho, c, rate = math.inf, (1.0 + g) ** 2 / (k_int * g * (2.0 + g)), 1.0 / (1.0 + g)
    else:
        lam, n_int, k_int = _ratio_and_counts(lambda_, n, k)
        rho = _weight_ratio(lam, k_int, synthetic_weight)
        shrink = 1.0 / (1.0 + g)
        extra = g * (2.0 + g) / (1.0 + g) ** 2  # (1+ρ)² - ρ²/(1+γ)² = 1 + 2ρ + extra·ρ² (§9's at γ = 0)
        c = 0.0 if rho == 0.0 else rho**2 / (k_int * (1.0 + 2.0 * rho + extra * rho**2))
        rate = shrink * rho / (1.0 + rho)
    V, p = FAMILIES[family].simulation(data).stationary_variance()
    relax = 0.0 if rate == 0.0 else float(-1.0 / math.log(rate))
    w = None if synthetic_weight is None else float(synthetic_weight)
    return StationaryLaw(lam, n_int, k_int, c * V, 0.5 * p * c, rate, relax, np.ones(p), "closed form", w, g)
