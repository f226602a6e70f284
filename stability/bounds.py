r"""Theorems 1 and 2 of Bertrand et al. (ICLR 2024) and the sharper form of Ferbach et al. (2024).

All functions take scalars or numpy arrays (broadcast together) and return a float when every
input is a scalar. Notation (THEORY.md §2–5): :math:`\lambda` synthetic-to-real ratio,
:math:`\varepsilon = W_1(p_{\theta^*}, p_{data})`, :math:`\alpha` strong concavity of the data
log-likelihood at :math:`\theta^*`, :math:`L` Lipschitz constant of
:math:`x \mapsto \nabla^2_\theta \log p_\theta(x)`, :math:`\kappa = L\varepsilon/\alpha`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._domains import broadcast, check, check_choice, scalar_or_array

__all__ = ["bound", "finite_sample_bound", "max_lambda", "sharp_bound"]

FORMS = ("paper", "sharp")


def _common(lambda_, eps, alpha, L):
    lam = check("lambda_", lambda_)
    e = check("eps", eps)
    a = check("alpha", alpha)
    ell = check("L", L)
    return broadcast(lambda_=lam, eps=e, alpha=a, L=ell)


def bound(lambda_: ArrayLike, eps: ArrayLike, alpha: ArrayLike = 1.0, L: ArrayLike = 1.0) -> float | np.ndarray:
    r"""Contraction factor of Theorem 1 (Bertrand et al. 2024).

    .. math:: \rho_{paper}(\lambda, \varepsilon)
        = \frac{\lambda(\alpha + \varepsilon L)}{\alpha - \lambda(\alpha + \varepsilon L)}

    a Neumann-series bound on :math:`\|J\|_2`, :math:`J = \lambda(A+\lambda B)^{-1}B`. The theorem
    guarantees local contraction iff :math:`\rho < 1 \iff \lambda(1+\kappa) < 1/2`. For
    :math:`1/2 \le \lambda(1+\kappa) < 1` the factor is finite but :math:`\ge 1` (no guarantee);
    for :math:`\lambda(1+\kappa) \ge 1` (including :math:`\lambda=\infty`) the Neumann series does
    not converge and ``inf`` is returned.

    Source: Theorem 1 of Bertrand et al., ICLR 2024 (arXiv 2310.00429), as restated by
    Gillman et al. 2024, Thm 4.3.

    Parameters
    ----------
    lambda_ : float or array, ``>= 0`` (``inf`` allowed)
    eps : float or array, ``>= 0``
    alpha : float or array, ``> 0``
    L : float or array, ``>= 0``

    Examples
    --------
    >>> round(bound(0.2, 0.0), 6)
    0.25
    >>> bound(0.3, 0.5) < 1  # lambda (1 + L eps / alpha) = 0.45 < 1/2
    True
    >>> bound(1.0, 0.1)
    inf
    """
    lam, eps_, alpha_, L_ = _common(lambda_, eps, alpha, L)
    s = lam * (alpha_ + eps_ * L_)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        rho = np.where(s < alpha_, s / (alpha_ - s), np.inf)
    return scalar_or_array(rho, lambda_, eps, alpha, L)


def sharp_bound(lambda_: ArrayLike, eps: ArrayLike, alpha: ArrayLike = 1.0, L: ArrayLike = 1.0) -> float | np.ndarray:
    r"""Sharper contraction factor of Ferbach et al. (2024, Thm 2.2).

    .. math:: \rho_{sharp}(\lambda, \varepsilon)
        = \frac{\lambda(\alpha + \varepsilon L)}{\alpha + \lambda(\alpha - \varepsilon L)}

    It needs :math:`L\varepsilon < \alpha`; contraction is guaranteed iff
    :math:`\lambda < \alpha / (2 L \varepsilon)`. With :math:`\varepsilon = 0` it equals
    :math:`\lambda/(1+\lambda)`, the exact rate of a well-specified model. Where
    :math:`L\varepsilon \ge \alpha` and :math:`\lambda > 0` the theorem does not apply and ``inf``
    is returned; at :math:`\lambda = \infty` the limit
    :math:`(\alpha+\varepsilon L)/(\alpha-\varepsilon L) \ge 1` is returned.

    Parameters are as in :func:`bound`.

    Examples
    --------
    >>> round(sharp_bound(1.0, 0.0), 6)
    0.5
    >>> round(sharp_bound(2.0, 0.1), 6)  # 2 * 1.1 / (1 + 2 * 0.9)
    0.785714
    >>> sharp_bound(0.5, 1.0)  # L eps = alpha: hypothesis fails
    inf
    """
    lam, eps_, alpha_, L_ = _common(lambda_, eps, alpha, L)
    leps = eps_ * L_
    applies = leps < alpha_
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        finite = lam * (alpha_ + leps) / (alpha_ + lam * (alpha_ - leps))
        limit = (alpha_ + leps) / (alpha_ - leps)
    rho = np.where(np.isinf(lam), limit, finite)
    rho = np.where(applies, rho, np.inf)
    rho = np.where(lam == 0, 0.0, rho)
    return scalar_or_array(rho, lambda_, eps, alpha, L)


def max_lambda(eps: ArrayLike, alpha: ArrayLike = 1.0, L: ArrayLike = 1.0, form: str = "paper") -> float | np.ndarray:
    r"""Supremum of the ratios :math:`\lambda` for which the chosen bound guarantees contraction.

    Contraction is guaranteed exactly for :math:`0 \le \lambda <` ``max_lambda``:

    - ``form="paper"``: :math:`\alpha / (2(\alpha + \varepsilon L))` (Theorem 1);
    - ``form="sharp"``: :math:`\alpha / (2 \varepsilon L)`, ``inf`` when :math:`\varepsilon L = 0`,
      and ``0`` when :math:`\varepsilon L \ge \alpha` (the theorem's hypothesis fails).

    The exact local rate (THEORY.md §3) is below one for every finite :math:`\lambda`.

    Examples
    --------
    >>> max_lambda(0.0)
    0.5
    >>> max_lambda(0.0, form="sharp")
    inf
    >>> max_lambda(0.1, form="sharp")
    5.0
    """
    check_choice("form", form, FORMS)
    e = check("eps", eps)
    a = check("alpha", alpha)
    ell = check("L", L)
    e, a, ell = broadcast(eps=e, alpha=a, L=ell)
    leps = e * ell
    with np.errstate(divide="ignore", over="ignore"):
        if form == "paper":
            out = a / (2.0 * (a + leps))
        else:
            out = np.where(leps >= a, 0.0, np.where(leps == 0, np.inf, a / (2.0 * np.where(leps == 0, 1.0, leps))))
    return scalar_or_array(out, eps, alpha, L)


def finite_sample_bound(
    t: ArrayLike,
    lambda_: ArrayLike,
    eps: ArrayLike,
    stat_err: ArrayLike,
    init_err: ArrayLike,
    alpha: ArrayLike = 1.0,
    L: ArrayLike = 1.0,
    form: str = "paper",
) -> float | np.ndarray:
    r"""Theorem 2 of Bertrand et al. (2024): distance of finite-sample iterates to :math:`\theta^*`.

    With probability at least :math:`(1-\delta)^t`,

    .. math:: \|\theta^n_t - \theta^*\| \le e\,\frac{1-\rho^t}{1-\rho} + \rho^t \|\theta^n_0-\theta^*\|,

    where :math:`e = \varepsilon_{OPT} + a(\delta)/\sqrt n` is the one-step error of assumption A4
    (``stat_err``; its constant is model-specific) and :math:`\rho` is :func:`bound` (or
    :func:`sharp_bound` with ``form="sharp"``). For ``t = inf`` this is the radius of stability
    :math:`e/(1-\rho)`. Where :math:`\rho \ge 1` the theorem gives nothing and ``inf`` is returned.

    Parameters
    ----------
    t : integer ``>= 0`` or ``inf``
    lambda_, eps, alpha, L : as in :func:`bound`
    stat_err : ``>= 0``, the one-step error :math:`\varepsilon_{OPT} + a(\delta)/\sqrt n`
    init_err : ``>= 0``, :math:`\|\theta^n_0 - \theta^*\|`

    Examples
    --------
    >>> round(finite_sample_bound(0, 0.2, 0.0, 0.01, 1.0), 6)  # t = 0: the initial error
    1.0
    >>> round(finite_sample_bound(float("inf"), 0.2, 0.0, 0.01, 1.0), 6)  # 0.01 / (1 - 0.25)
    0.013333
    """
    check_choice("form", form, FORMS)
    t_ = check("t", t)
    e = check("stat_err", stat_err)
    i0 = check("init_err", init_err)
    rho = np.asarray((bound if form == "paper" else sharp_bound)(lambda_, eps, alpha, L), dtype=float)
    t_, rho, e, i0 = broadcast(t=t_, rho=rho, stat_err=e, init_err=i0)
    ok = rho < 1
    r = np.where(ok, rho, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        rt = np.where(np.isinf(t_), 0.0, r ** np.where(np.isinf(t_), 0.0, t_))
        out = e * (1.0 - rt) / (1.0 - r) + rt * i0
    out = np.where(ok, out, np.inf)
    return scalar_or_array(out, t, lambda_, eps, stat_err, init_err, alpha, L)
