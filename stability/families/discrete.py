r"""Discrete exponential families (helpers): Bernoulli, categorical and Poisson, one module each.

- **Bernoulli**: :math:`\theta = \log\frac{p}{1-p}`, :math:`T(x) = x`, :math:`A = \log(1+e^\theta)`,
  :math:`\mu = p`, Fisher :math:`p(1-p)`.
- **Categorical** on :math:`\{0, \dots, k-1\}`: :math:`\theta_j = \log(p_j/p_0)` for
  :math:`j = 1..k-1`, :math:`T(x) = (1\{x=1\}, \dots, 1\{x=k-1\})`,
  :math:`A = \log(1 + \sum_j e^{\theta_j})`, :math:`\mu = (p_1..p_{k-1})`, Fisher
  :math:`\mathrm{diag}(\mu) - \mu\mu^\top`.
- **Poisson**: :math:`\theta = \log r`, :math:`T(x) = x`, :math:`h(x) = 1/x!`, :math:`A = e^\theta`,
  :math:`\mu = r`, Fisher :math:`r`.

Bernoulli and categorical models contain every distribution on their support, so the fitted
model equals the data distribution and :math:`\varepsilon = 0` (computed, not assumed). The
categorical ground metric is the discrete metric (labels have no order), so :math:`W_1` is the
total-variation distance; Bernoulli and Poisson use :math:`|x - y|` on the integers.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .data import as_sample

__all__: list[str] = []  # helpers of bernoulli.py, categorical.py, poisson.py

# The W1 sum over the integers stops where both tails carry mass below 1e-15 (scipy's isf is
# reliable down to there); the omitted part of the sum is bounded and reported.
TAIL = 1e-15


def _scalar_theta(theta, name: str) -> np.ndarray:
    theta = np.asarray(theta, dtype=float).reshape(-1)
    if theta.shape != (1,):
        raise ValueError(f"theta must have shape (1,) for the {name} family, got {np.shape(theta)}")
    if not np.all(np.isfinite(theta)):
        raise ValueError("theta must be finite, got NaN or inf")
    return theta


# Integers above 2**53 are not all representable in float64 (uint64 data near 2**64 lose their low bits).
_EXACT_INT = 2.0**53


def _or_normal(q: float, r: float, z: float) -> float:
    """A Poisson(r) quantile from scipy, or where scipy gives NaN (rates ~1e12) the normal bound
    r + z sqrt(r) + 50 sign(z): |z| = 10 leaves tails far below 1e-15 (Chernoff)."""
    return float(q) if np.isfinite(q) else max(0.0, r + z * np.sqrt(r) + math.copysign(50.0, z))


def _integer_sample(x, lo: int, hi: float, what: str) -> np.ndarray:
    x = as_sample(x)
    if x.ndim == 2:
        if x.shape[1] != 1:
            raise ValueError(f"data must have shape (n,) or (n, 1), got {x.shape}")
        x = x[:, 0]
    if np.any(x != np.round(x)) or np.any(x < lo) or np.any(x > hi):
        raise ValueError(f"data must be {what}")
    if np.any(x > _EXACT_INT):  # float64 spaces such values more than 1 apart: counts are no longer exact
        raise ValueError(f"data must be integers <= 2**53 (exact in float64), got max {x.max():.6g}")
    return x


def _discrete_dist(data, lo: int, hi: float, what: str):
    if not isinstance(data.dist, stats.rv_discrete):
        raise ValueError(f"data distribution must be discrete with support in {what}, got {data.dist.name}")
    a, b = data.support()
    if a < lo or b > hi:
        raise ValueError(f"data distribution must have support in {what}, got [{a:g}, {b:g}]")
    return data
