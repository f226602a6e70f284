r"""Purely synthetic retraining of a Gaussian: the paper's warm-up (THEORY.md §6, "[sim]").

With :math:`\lambda = \infty` each generation refits a Gaussian to :math:`n` samples of the
previous one. In one dimension :math:`\sigma^2_{t+1} = \sigma^2_t\,\chi^2_{n-1}/(n-1)` with the
unbiased estimator and :math:`\sigma^2_t\,\chi^2_{n-1}/n` with the MLE, so

- unbiased: :math:`E[\sigma^2_t] = \sigma^2_0` but :math:`E[\sigma_t] = c_4(n)^t\sigma_0 \to 0`;
- MLE: :math:`E[\sigma^2_t] = ((n-1)/n)^t\sigma^2_0` and
  :math:`E[\sigma_t] = (c_4(n)\sqrt{(n-1)/n})^t\sigma_0`.

In :math:`d` dimensions :math:`\log\det\Sigma_t` is a random walk whose drift
:func:`log_det_drift` is negative, so :math:`\det\Sigma_t \to 0` almost surely.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln

from ._domains import broadcast, check, check_choice, scalar_or_array

__all__ = ["c4", "expected_sigma", "expected_variance", "log_det_drift"]

ESTIMATORS = ("unbiased", "mle")


def _log_c4(n_: np.ndarray) -> np.ndarray:
    r""":math:`\log c_4(n)`, relative error below 1e-14 for every :math:`n \ge 2`.

    With :math:`x = (n-1)/2`, :math:`c_4(n) = \Gamma(x+\tfrac12)/(\Gamma(x)\sqrt{x})`. For
    :math:`x < 20` log-gamma is used directly (its values are small, so the difference keeps full
    precision). For :math:`x \ge 20` the difference of two large log-gammas would lose
    :math:`\log_{10} x` digits, so the Stirling series of the ratio is used instead,
    :math:`\log\frac{\Gamma(x+1/2)}{\Gamma(x)\sqrt x} = \sum_k \frac{(-1)^{k+1}(B_{k+1}(1/2)-B_{k+1})}{k(k+1)x^k}
    = -\frac{1}{8x} + \frac{1}{192x^3} - \frac{1}{640x^5} + \frac{17}{14336x^7} - \frac{31}{18432x^9} + O(x^{-11})`,
    truncated where the next term is below :math:`10^{-16}` of the sum.
    """
    x = (n_ - 1.0) / 2.0
    small = x < 20.0
    xs = np.where(small, x, 20.0)
    direct = gammaln(xs + 0.5) - gammaln(xs) - 0.5 * np.log(xs)
    xl = np.where(small, 20.0, x)
    u = 1.0 / xl
    u2 = u * u
    series = u * (-1 / 8 + u2 * (1 / 192 + u2 * (-1 / 640 + u2 * (17 / 14336 + u2 * (-31 / 18432)))))
    return np.where(small, direct, series)


def c4(n: ArrayLike) -> float | np.ndarray:
    r"""The bias constant :math:`c_4(n) = \sqrt{2/(n-1)}\,\Gamma(n/2)/\Gamma((n-1)/2)`.

    :math:`E[s] = c_4(n)\sigma` for the unbiased sample standard deviation :math:`s` of :math:`n`
    Gaussian points; :math:`c_4(n) < 1` for every integer :math:`n \ge 2` and
    :math:`c_4(n) = 1 - 1/(4n) + O(n^{-2})`. Relative error below 1e-14 for any :math:`n` (see
    :func:`_log_c4`).

    Parameters
    ----------
    n : integer ``>= 2`` (scalar or array)

    Examples
    --------
    >>> round(c4(2), 10)  # sqrt(2/pi)
    0.7978845608
    >>> round(c4(10), 6)
    0.972659
    """
    n_ = check("n", n)
    return scalar_or_array(np.exp(_log_c4(n_)), n)


def _per_step_sigma(n_, estimator):
    c = np.exp(_log_c4(n_))
    return c if estimator == "unbiased" else c * np.sqrt((n_ - 1.0) / n_)


def expected_sigma(
    t: ArrayLike, n: ArrayLike, sigma0: ArrayLike = 1.0, estimator: str = "unbiased"
) -> float | np.ndarray:
    r""":math:`E[\sigma_t]` after ``t`` purely synthetic generations of ``n`` samples (1-D).

    ``unbiased``: :math:`c_4(n)^t\sigma_0`; ``mle``: :math:`(c_4(n)\sqrt{(n-1)/n})^t\sigma_0`.

    Examples
    --------
    >>> round(expected_sigma(1, 2), 10)
    0.7978845608
    >>> expected_sigma(float("inf"), 5)
    0.0
    """
    check_choice("estimator", estimator, ESTIMATORS)
    t_, n_, s0 = broadcast(t=check("t", t), n=check("n", n), sigma0=check("sigma0", sigma0))
    step = _per_step_sigma(n_, estimator)
    with np.errstate(under="ignore"):
        out = np.where(np.isinf(t_), 0.0, s0 * step ** np.where(np.isinf(t_), 0.0, t_))
    return scalar_or_array(out, t, n, sigma0)


def expected_variance(
    t: ArrayLike, n: ArrayLike, sigma0: ArrayLike = 1.0, estimator: str = "unbiased"
) -> float | np.ndarray:
    r""":math:`E[\sigma^2_t]`: :math:`\sigma_0^2` (unbiased) or :math:`((n-1)/n)^t\sigma_0^2` (MLE).

    Examples
    --------
    >>> expected_variance(3, 2, estimator="mle")
    0.125
    >>> expected_variance(100, 2)
    1.0
    """
    check_choice("estimator", estimator, ESTIMATORS)
    t_, n_, s0 = broadcast(t=check("t", t), n=check("n", n), sigma0=check("sigma0", sigma0))
    if estimator == "unbiased":
        out = s0**2 * np.ones_like(t_)
    else:
        with np.errstate(under="ignore"):
            out = np.where(np.isinf(t_), 0.0, s0**2 * ((n_ - 1.0) / n_) ** np.where(np.isinf(t_), 0.0, t_))
    return scalar_or_array(out, t, n, sigma0)


def log_det_drift(n: ArrayLike, d: ArrayLike = 1, estimator: str = "unbiased") -> float | np.ndarray:
    r"""Per-generation drift :math:`E[\log\det\Sigma_{t+1} - \log\det\Sigma_t]` (purely synthetic).

    With :math:`W \sim \mathrm{Wishart}_d(I, n-1)` and
    :math:`E[\log\det W] = \sum_{i=1}^d \psi((n-i)/2) + d\log 2`, the drift is
    :math:`E[\log\det W] - d\log(n-1)` for the unbiased covariance and
    :math:`E[\log\det W] - d\log n` for the MLE. It is negative for every :math:`n \ge d+1`
    (Jensen), so :math:`\det\Sigma_t \to 0` almost surely.

    Parameters
    ----------
    n : integer ``>= d + 1``
    d : integer ``>= 1``

    Examples
    --------
    >>> log_det_drift(10, 1) < 0
    True
    """
    check_choice("estimator", estimator, ESTIMATORS)
    n_, d_ = broadcast(n=check("n", n), d=check("d", d))
    if np.any(n_ < d_ + 1):
        raise ValueError(f"n must be >= d + 1 for a full covariance, got n={n!r}, d={d!r}")
    dmax = int(np.max(d_))
    i = np.arange(1, dmax + 1).reshape((dmax,) + (1,) * n_.ndim)
    active = i <= d_
    terms = np.where(active, digamma(np.where(active, (n_ - i) / 2.0, 1.0)), 0.0)
    e_logdet = terms.sum(axis=0) + d_ * np.log(2.0)
    out = e_logdet - d_ * np.log(n_ - 1.0 if estimator == "unbiased" else n_)
    return scalar_or_array(out, n, d)
