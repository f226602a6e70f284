r"""Families on :math:`(0, \infty)` (helpers): exponential and gamma (shape and rate), one module each.

- **Exponential** with rate :math:`b`: :math:`\theta = -b < 0`, :math:`T(x) = x`,
  :math:`A = -\log(-\theta)`, :math:`\mu = 1/b`, Fisher :math:`1/\theta^2 = 1/b^2`.
- **Gamma** with shape :math:`a` and rate :math:`b`,
  :math:`p(x) = b^a x^{a-1} e^{-bx}/\Gamma(a)`: :math:`\theta = (a - 1, -b)`,
  :math:`T(x) = (\log x, x)`, :math:`A = \log\Gamma(a) - a\log b`,
  :math:`\mu = (\psi(a) - \log b,\ a/b)`, Fisher
  :math:`\begin{pmatrix}\psi'(a) & 1/b\\ 1/b & a/b^2\end{pmatrix}`.
  The mean map has no closed-form inverse: with :math:`s = \log E[x] - E[\log x] > 0` (Jensen),
  the shape solves :math:`\log a - \psi(a) = s` (:func:`solve_gamma_shape`, Newton's method in
  :math:`\log a` from Minka's 2002 initial guess) and then :math:`b = a / E[x]`.

:math:`W_1` in one dimension is exact for a sample (quantile formula with the partial means
:math:`E[Y 1\{Y\le q\}] = (a/b)\,P(a+1, bq)`, :math:`P` the regularised incomplete gamma function)
and by quadrature of :math:`|F_{data} - F_{model}|` for a distribution.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from . import samplers
from ._simulation import per_chain
from .base import MeanMapSolve
from .data import as_sample

__all__ = ["solve_gamma_shape"]  # and the helpers of exponential.py and gamma.py

# s = log E[x] - E[log x] is computed from quantities of size |log x|; below 64 ulps of rounding
# it cannot be told from zero, which happens exactly when all points are equal.
S_FLOOR = 64 * np.finfo(float).eps


def _positive_sample(x, what: str) -> np.ndarray:
    x = as_sample(x)
    if x.ndim == 2:
        if x.shape[1] != 1:
            raise ValueError(f"data must have shape (n,) or (n, 1), got {x.shape}")
        x = x[:, 0]
    if np.any(x <= 0) if what == "> 0" else np.any(x < 0):
        raise ValueError(f"data must be {what} for this family, got min {float(x.min())!r}")
    return x


def _continuous_positive(dist):
    if not isinstance(dist.dist, stats.rv_continuous):
        raise ValueError(f"data distribution must be continuous on (0, inf), got {dist.dist.name}")
    if dist.support()[0] < 0:
        raise ValueError(f"data distribution must have support in [0, inf), got lower end {dist.support()[0]:g}")
    return dist


def solve_gamma_shape(s: float, tol: float = 4 * np.finfo(float).eps, max_iter: int = 100) -> MeanMapSolve:
    r"""Solve :math:`\log a - \psi(a) = s` for the gamma shape :math:`a > 0` (``s > 0``).

    :math:`f(a) = \log a - \psi(a)` decreases from :math:`\infty` to 0, so the root is unique.
    Newton's method on :math:`u = \log a`, :math:`f'(a)\,a = 1 - a\psi'(a)`, started at Minka's
    approximation :math:`a_0 = (3 - s + \sqrt{(s-3)^2 + 24 s})/(12 s)`; stops when the step in
    :math:`u` is below ``tol`` or when :math:`|f(a) - s|` is at the rounding level of its
    evaluation, :math:`4\epsilon(|\log a| + |\psi(a)| + s)` (for large :math:`a`,
    :math:`\log a - \psi(a) \approx 1/(2a)` is a difference of nearly equal numbers, so smaller
    steps are noise). The residual is :math:`|\log a - \psi(a) - s|`.

    >>> r = solve_gamma_shape(float(np.log(2.0) - special.digamma(2.0)))
    >>> round(r.value, 12), r.converged
    (2.0, True)
    """
    s = float(s)
    if not (np.isfinite(s) and s > 0):
        raise ValueError(f"s = log E[x] - E[log x] must be > 0, got {s!r}")
    u = math.log((3.0 - s + math.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s))
    for it in range(1, max_iter + 1):  # Newton is a recursion
        a = math.exp(u)
        psi = float(special.digamma(a))
        f = math.log(a) - psi - s
        noise = 4 * np.finfo(float).eps * (abs(math.log(a)) + abs(psi) + s)
        g = 1.0 - a * float(special.polygamma(1, a))  # d f / d u < 0
        step = f / g
        u -= step
        if abs(step) <= tol or abs(f) <= noise:
            a = math.exp(u)
            return MeanMapSolve(a, it, abs(math.log(a) - special.digamma(a) - s), True)
    a = math.exp(u)
    return MeanMapSolve(a, max_iter, abs(math.log(a) - special.digamma(a) - s), False)


# Closed forms of E[log X] for scipy distributions with loc = 0 (name -> (shapes, scale) -> value).
_MEAN_LOG = {
    "gamma": lambda sh, scale: special.digamma(sh[0]) + np.log(scale),
    "expon": lambda sh, scale: special.digamma(1.0) + np.log(scale),
    "lognorm": lambda sh, scale: np.log(scale),
    "chi2": lambda sh, scale: special.digamma(sh[0] / 2) + np.log(2.0) + np.log(scale),
    "weibull_min": lambda sh, scale: np.log(scale) - np.euler_gamma / sh[0],
}


class GammaSums:
    r"""The simulator's hooks of a gamma family with known shape :math:`a` (the exponential: :math:`a = 1`).

    The mean parameter is :math:`\eta` = the mean; a sum of :math:`m` points is
    :math:`\mathrm{Gamma}(ma, \eta/a)` (drawn exactly by :func:`~stability.families.samplers.gamma_sum`), the
    variance function is :math:`V(\eta) = \eta^2/a` and the KL of the data's law from the model's is
    :math:`a(r - 1 - \log r)` with :math:`r = \eta_{data}/\eta`.
    """

    @staticmethod
    def sum_exact(rng, eta, m, shape) -> np.ndarray:
        return samplers.gamma_sum(rng, eta, shape, per_chain(m))

    @staticmethod
    def sum_points(rng, e, m, shape) -> np.ndarray:
        return rng.gamma(shape, e / shape, (e.shape[0], m)).sum(axis=1, keepdims=True)

    @staticmethod
    def sum_kl(eta_data, eta, shape) -> np.ndarray:
        e = eta[..., 0]
        ok = e > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            r = eta_data[0] / np.where(ok, e, 1.0)
            return np.where(ok, shape * (r - 1.0 - np.log(r)), np.inf)

    @staticmethod
    def variance_function(eta_mean, eta_second, shape) -> np.ndarray:
        return eta_second / shape
