r"""Wasserstein-1 distances :math:`\varepsilon = W_1(p_{\theta^*}, p_{data})` (assumption A3).

Four routes, each stating its error:

- :func:`w1_sample_continuous`: a sample against a continuous 1-D model, **exact** up to rounding.
  With :math:`F_n` the empirical cdf, :math:`W_1 = \int_0^1 |F_n^{-1}(u) - G^{-1}(u)|\,du
  = \sum_i \int_{(i-1)/n}^{i/n} |x_{(i)} - G^{-1}(u)|\,du`, and each piece is closed form given the
  model's partial mean :math:`M(q) = E[Y 1\{Y \le q\}]`, because
  :math:`\int_{u_1}^{u_2} G^{-1}(u)\,du = M(G^{-1}(u_2)) - M(G^{-1}(u_1))`.
- :func:`w1_cdf_quadrature`: two 1-D continuous distributions, :math:`\int |F - G|\,dx` by
  adaptive quadrature (``scipy.integrate.quad``; its error estimate is returned).
- :func:`w1_integer`: two distributions on the integers, :math:`\sum_k |F(k) - G(k)|`, exact on
  the summed range; the truncated tails are bounded and returned.
- :func:`w1_pot`: samples in :math:`d \ge 2` dimensions, the exact optimal-transport cost between
  two empirical measures (``ot.emd2``, Euclidean ground cost). It estimates the population
  :math:`W_1` with a plug-in bias of order :math:`n^{-1/d}`; the sample sizes are reported.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from scipy import integrate

__all__ = ["w1_cdf_quadrature", "w1_integer", "w1_pot", "w1_sample_continuous"]


def w1_sample_continuous(
    sample: np.ndarray,
    cdf: Callable[[np.ndarray], np.ndarray],
    ppf: Callable[[np.ndarray], np.ndarray],
    partial_mean: Callable[[np.ndarray], np.ndarray],
    mean: float,
) -> float:
    r""":math:`W_1` between the empirical measure of ``sample`` (shape ``(n,)``) and a continuous
    model with the given ``cdf``, quantile function ``ppf`` and partial mean
    :math:`M(q) = E[Y 1\{Y\le q\}]` (``mean`` = :math:`E[Y]`). Exact up to rounding.

    >>> from scipy import stats
    >>> g = stats.norm(0, 1)
    >>> pm = lambda q: -g.pdf(q)  # E[Y 1{Y <= q}] for N(0, 1)
    >>> round(w1_sample_continuous(np.array([0.0]), g.cdf, g.ppf, pm, 0.0), 12)  # E|Y| = sqrt(2/pi)
    0.797884560803
    """
    x = np.sort(np.asarray(sample, dtype=float))
    n = x.size
    u = np.arange(n + 1) / n
    q = ppf(u)
    with np.errstate(invalid="ignore"):
        mq = np.where(u == 0, 0.0, np.where(u == 1, mean, partial_mean(np.where(np.isfinite(q), q, 0.0))))
    lo, hi = u[:-1], u[1:]
    inside = (q[:-1] <= x) & (x <= q[1:])
    uc = np.clip(cdf(x), lo, hi)
    m_lo, m_hi = mq[:-1], mq[1:]
    m_c = np.where(inside, partial_mean(x), np.where(x < q[:-1], m_lo, m_hi))
    uc = np.where(inside, uc, np.where(x < q[:-1], lo, hi))
    pieces = x * (uc - lo) - (m_c - m_lo) + (m_hi - m_c) - x * (hi - uc)
    return float(np.sum(pieces))


def w1_cdf_quadrature(cdf_a, cdf_b, points=()) -> tuple[float, float]:
    r""":math:`\int_{-\infty}^{\infty} |F_a(x) - F_b(x)|\,dx` by ``scipy.integrate.quad``.

    ``points``: finite break points (e.g. the two means) where the integral is split. Returns the
    value and quad's absolute error estimate (summed over the pieces); raises ``ValueError`` when
    quad reports that it did not converge (e.g. heavy tails without a first moment).

    >>> from scipy import stats
    >>> v, err = w1_cdf_quadrature(stats.norm(0, 1).cdf, stats.norm(0.5, 1).cdf, [0.0, 0.5])
    >>> round(v, 8), err < 1e-8  # a shift: W1 = |0.5 - 0|
    (0.5, True)
    """
    pts = sorted({float(p) for p in points} | {0.0})
    edges = [-np.inf, *pts, np.inf]
    total, err = 0.0, 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", integrate.IntegrationWarning)
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            try:
                v, e = integrate.quad(lambda t: abs(float(cdf_a(t)) - float(cdf_b(t))), a, b, limit=200)
            except integrate.IntegrationWarning as w:
                raise ValueError(
                    f"W1 quadrature did not converge on [{a:g}, {b:g}] (a distribution without a finite "
                    f"mean has W1 = inf): {str(w).splitlines()[0]}"
                ) from None
            total += v
            err += e
    return total, err


def w1_integer(cdf_a, cdf_b, lo: int, hi: int, tail_bound: float = 0.0) -> tuple[float, float]:
    r""":math:`\sum_{k=lo}^{hi-1} |F_a(k) - F_b(k)|` for distributions on the integers.

    Exact when both distributions put no mass outside ``[lo, hi]``; otherwise the caller passes
    ``tail_bound``, a bound on the omitted terms, which is returned with the value.

    >>> from scipy import stats
    >>> round(w1_integer(stats.poisson(2).cdf, stats.poisson(3).cdf, 0, 60)[0], 10)  # shift in mean
    1.0
    """
    from ..errors import check_memory

    # k, the two CDFs and their difference: 4 arrays of hi - lo numbers
    check_memory(8.0 * 4 * (hi - lo), f"the exact W1 sum over {hi - lo} integers", "the data span too many integers")
    k = np.arange(lo, hi)
    return float(np.sum(np.abs(cdf_a(k) - cdf_b(k)))), float(tail_bound)


def w1_pot(x: np.ndarray, y: np.ndarray) -> float:
    """Exact optimal-transport cost between the uniform empirical measures of ``x`` ``(n, d)`` and
    ``y`` ``(m, d)`` with Euclidean ground cost (``ot.emd2``; memory and time O(n m) and about
    O(n^3) for the network simplex, so keep n, m to a few thousand). Needs POT: the ``ot`` extra."""
    from .._optional import require

    ot = require("ot", "W1 between samples in d >= 2")

    x = np.asarray(x, dtype=float).reshape(len(x), -1)
    y = np.asarray(y, dtype=float).reshape(len(y), -1)
    cost = ot.dist(x, y, metric="euclidean")
    a = np.full(len(x), 1.0 / len(x))
    b = np.full(len(y), 1.0 / len(y))
    return float(ot.emd2(a, b, cost, numItermax=10_000_000))
