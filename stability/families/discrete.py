r"""Discrete exponential families: Bernoulli, categorical and Poisson.

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
from scipy import special, stats

from .._domains import check
from ..errors import check_memory
from .base import ExponentialFamily
from .data import Moments, as_sample, is_scipy_distribution
from .wasserstein import w1_integer

__all__ = ["Bernoulli", "Categorical", "Poisson"]

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


class Bernoulli(ExponentialFamily):
    """Bernoulli family on {0, 1}.

    >>> b = Bernoulli()
    >>> round(float(b.fixed_point(np.array([0, 1, 1, 1]))[0]), 12)  # logit(3/4) = log 3
    1.098612288668
    """

    name = "bernoulli"
    numerical_twin = "Bernoulli"
    dim = 1

    def check_natural(self, theta) -> np.ndarray:
        return _scalar_theta(theta, self.name)

    def natural_from(self, p) -> np.ndarray:
        p = float(check("p", p))
        return np.array([np.log(p) - np.log1p(-p)])

    def reference_point(self) -> np.ndarray:
        return np.zeros(1)

    def check_sample(self, x) -> np.ndarray:
        return _integer_sample(x, 0, 1, "0 or 1 (Bernoulli outcomes)")

    def statistic(self, x) -> np.ndarray:
        return self.check_sample(x)[:, None]

    def log_partition(self, theta) -> float:
        return float(np.logaddexp(0.0, self.check_natural(theta)[0]))

    def mean(self, theta) -> np.ndarray:
        return special.expit(self.check_natural(theta))

    def natural(self, mu) -> np.ndarray:
        p = float(np.asarray(mu, dtype=float).reshape(-1)[0])
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"probabilities must be in [0, 1], got mean {p!r}")
        if p in (0.0, 1.0):
            raise ValueError(f"data are degenerate: all points equal {int(p)}, the MLE p = {p:g} is on the boundary")
        return np.array([np.log(p) - np.log1p(-p)])

    def fisher(self, theta) -> np.ndarray:
        p = self.mean(theta)[0]
        return np.array([[p * (1.0 - p)]])

    def sample(self, theta, size: int, seed=None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return (rng.random(int(size)) < self.mean(theta)[0]).astype(float)

    def params(self, theta) -> dict:
        return {"p": float(self.mean(theta)[0])}

    def expected_statistic(self, data) -> np.ndarray:
        if isinstance(data, Moments):
            return np.atleast_1d(data.mean).astype(float).reshape(1)
        if is_scipy_distribution(data):
            return np.array([float(_discrete_dist(data, 0, 1, "{0, 1}").mean())])
        return np.array([self.check_sample(data).mean()])

    def _integrate_statistic(self, dist) -> np.ndarray:
        dist = _discrete_dist(dist, 0, 1, "{0, 1}")
        return np.array([float(np.sum(np.arange(2) * dist.pmf(np.arange(2))))])

    def w1(self, theta, data) -> tuple[float, str]:
        if isinstance(data, Moments):
            return float("nan"), "undefined: data given by moments only"
        p_data = self.expected_statistic(data)[0]
        return abs(p_data - self.mean(theta)[0]), "exact: |p_data - p*| (W1 on {0, 1} with |x - y|)"


class Categorical(ExponentialFamily):
    """Categorical family on {0, ..., k-1} (``k >= 2``).

    >>> c = Categorical(k=3)
    >>> np.round(c.mean(c.fixed_point(np.array([0, 1, 1, 2]))), 12).tolist()  # p_1, p_2
    [0.5, 0.25]
    """

    name = "categorical"
    numerical_twin = "Categorical"

    def __init__(self, k: int = 2, seed: int = 0, w1_points: int = 1000):
        super().__init__(seed=seed, w1_points=w1_points)
        self.k = int(check("k", k))
        # the Fisher information and the W1 sums are (k - 1) x (k - 1) and k-long arrays
        check_memory(
            8.0 * 4 * self.k**2,
            f"a categorical family with k = {self.k} classes",
            "use fewer classes (k, or data's labels)",
        )

    @property
    def dim(self) -> int:
        return self.k - 1

    def check_natural(self, theta) -> np.ndarray:
        theta = np.asarray(theta, dtype=float).reshape(-1)
        if theta.shape != (self.dim,):
            raise ValueError(f"theta must have shape ({self.dim},) for k = {self.k}, got {theta.shape}")
        if not np.all(np.isfinite(theta)):
            raise ValueError("theta must be finite, got NaN or inf")
        return theta

    def natural_from(self, probs) -> np.ndarray:
        """Natural parameters of the categorical distribution ``probs`` (shape ``(k,)``, in (0, 1))."""
        p = np.asarray(probs, dtype=float)
        if p.shape != (self.k,):
            raise ValueError(f"probs must have shape ({self.k},), got {p.shape}")
        check("probs", p)
        if abs(p.sum() - 1.0) > 1e-12 * self.k:  # rounding of a user-typed sum
            raise ValueError(f"probs must sum to 1, got {p.sum()!r}")
        return np.log(p[1:]) - np.log(p[0])

    def reference_point(self) -> np.ndarray:
        return np.zeros(self.dim)

    def check_sample(self, x) -> np.ndarray:
        return _integer_sample(x, 0, self.k - 1, f"integer labels in {{0, ..., {self.k - 1}}}")

    def statistic(self, x) -> np.ndarray:
        x = self.check_sample(x)
        return (x[:, None] == np.arange(1, self.k)).astype(float)

    def _probs(self, theta) -> np.ndarray:
        return special.softmax(np.concatenate([[0.0], self.check_natural(theta)]))

    def log_partition(self, theta) -> float:
        return float(special.logsumexp(np.concatenate([[0.0], self.check_natural(theta)])))

    def mean(self, theta) -> np.ndarray:
        return self._probs(theta)[1:]

    def natural(self, mu) -> np.ndarray:
        mu = np.asarray(mu, dtype=float).reshape(-1)
        if mu.shape != (self.dim,) or not np.all(np.isfinite(mu)):
            raise ValueError(f"mean parameters must be finite with shape ({self.dim},), got {mu.shape}")
        p = np.concatenate([[1.0 - mu.sum()], mu])
        # p_0 = 1 - sum is computed, so it may be off by rounding (~k * 1e-16)
        if np.any(p < -1e-12) or np.any(p > 1 + 1e-12):
            raise ValueError(f"probabilities must be in [0, 1], got {p.tolist()}")
        if np.any(p <= 1e-15):
            j = int(np.argmin(p))
            raise ValueError(
                f"data are degenerate: class {j} has probability {p[j]:.3g} (never observed), so the MLE lies "
                "on the boundary of the simplex"
            )
        return np.log(p[1:]) - np.log(p[0])

    def fisher(self, theta) -> np.ndarray:
        mu = self.mean(theta)
        return np.diag(mu) - np.outer(mu, mu)

    def sample(self, theta, size: int, seed=None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return rng.choice(self.k, size=int(size), p=self._probs(theta)).astype(float)

    def params(self, theta) -> dict:
        return {"probs": self._probs(theta)}

    def _data_probs(self, data) -> np.ndarray:
        if isinstance(data, Moments):
            p = np.atleast_1d(data.mean)
            if p.shape != (self.k,):
                raise ValueError(f"Moments.mean must be the {self.k} class probabilities, got shape {p.shape}")
            if np.any(p < 0) or np.any(p > 1):
                raise ValueError(f"probabilities must be in [0, 1], got {p.tolist()}")
            if abs(p.sum() - 1.0) > 1e-12 * self.k:
                raise ValueError(f"probabilities must sum to 1, got {p.sum()!r}")
            return p
        if is_scipy_distribution(data):
            dist = _discrete_dist(data, 0, self.k - 1, f"{{0, ..., {self.k - 1}}}")
            return dist.pmf(np.arange(self.k))
        x = self.check_sample(data)
        return np.bincount(x.astype(int), minlength=self.k) / x.size

    def expected_statistic(self, data) -> np.ndarray:
        return self._data_probs(data)[1:]

    def _integrate_statistic(self, dist) -> np.ndarray:
        dist = _discrete_dist(dist, 0, self.k - 1, f"{{0, ..., {self.k - 1}}}")
        return np.array([dist.expect(lambda x, j=j: np.asarray(x == j, dtype=float)) for j in range(1, self.k)])

    def w1(self, theta, data) -> tuple[float, str]:
        if isinstance(data, Moments):
            return float("nan"), "undefined: data given by moments only"
        tv = 0.5 * float(np.abs(self._data_probs(data) - self._probs(theta)).sum())
        return tv, "exact: total variation (W1 for the discrete metric on the labels)"


class Poisson(ExponentialFamily):
    """Poisson family on {0, 1, 2, ...}.

    >>> p = Poisson()
    >>> round(float(p.params(p.fixed_point(np.array([1, 2, 6])))["rate"]), 12)
    3.0
    """

    name = "poisson"
    numerical_twin = "Poisson"
    dim = 1

    def check_natural(self, theta) -> np.ndarray:
        return _scalar_theta(theta, self.name)

    def natural_from(self, rate) -> np.ndarray:
        return np.array([np.log(float(check("rate", rate)))])

    def reference_point(self) -> np.ndarray:
        return np.zeros(1)

    def check_sample(self, x) -> np.ndarray:
        return _integer_sample(x, 0, np.inf, "non-negative integers (Poisson counts)")

    def statistic(self, x) -> np.ndarray:
        return self.check_sample(x)[:, None]

    def log_base_measure(self, x) -> np.ndarray:
        return -special.gammaln(self.check_sample(x) + 1.0)  # h(x) = 1 / x!

    def log_partition(self, theta) -> float:
        return float(np.exp(self.check_natural(theta)[0]))

    def mean(self, theta) -> np.ndarray:
        return np.exp(self.check_natural(theta))

    def natural(self, mu) -> np.ndarray:
        r = float(np.asarray(mu, dtype=float).reshape(-1)[0])
        if not np.isfinite(r) or r < 0:
            raise ValueError(f"rate must be > 0 (a Poisson mean), got {r!r}")
        if r == 0:
            raise ValueError("data are degenerate: all points equal 0, so the MLE rate 0 lies on the boundary")
        return np.array([np.log(r)])

    def fisher(self, theta) -> np.ndarray:
        return np.array([[self.mean(theta)[0]]])

    def sample(self, theta, size: int, seed=None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return rng.poisson(self.mean(theta)[0], size=int(size)).astype(float)

    def params(self, theta) -> dict:
        return {"rate": float(self.mean(theta)[0])}

    def expected_statistic(self, data) -> np.ndarray:
        if isinstance(data, Moments):
            return np.atleast_1d(data.mean).astype(float).reshape(1)
        if is_scipy_distribution(data):
            m = float(_discrete_dist(data, 0, np.inf, "{0, 1, 2, ...}").mean())
            if not np.isfinite(m):
                raise ValueError("data distribution must have a finite mean")
            return np.array([m])
        return np.array([self.check_sample(data).mean()])

    def _integrate_statistic(self, dist) -> np.ndarray:
        dist = _discrete_dist(dist, 0, np.inf, "{0, 1, 2, ...}")
        return np.array([dist.expect(lambda x: x)])

    def w1(self, theta, data) -> tuple[float, str]:
        if isinstance(data, Moments):
            return float("nan"), "undefined: data given by moments only"
        r = self.mean(theta)[0]
        model = stats.poisson(r)
        lo, low_part = 0, 0.0
        if is_scipy_distribution(data):
            K = int(max(model.isf(TAIL), data.isf(TAIL))) + 1
            data_tail = float(data.expect(lambda x: x - K, lb=K + 1)) if data.sf(K) > 0 else 0.0
            cdf_data = data.cdf
        else:
            x = self.check_sample(data)
            K = int(max(_or_normal(model.isf(TAIL), r, 10.0), x.max())) + 1
            data_tail = 0.0
            xs = np.sort(x)
            # below the sample's minimum F_data = 0: sum_{k < lo} F_model(k) = E[(lo - Y)_+] exactly,
            # = lo P(Y <= lo - 1) - r P(Y <= lo - 2), so the sum starts where the masses are
            lo = int(max(0.0, min(_or_normal(model.ppf(TAIL), r, -10.0) - 1, xs[0])))
            if lo > 0:
                low_part = max(0.0, lo * model.cdf(lo - 1) - r * model.cdf(lo - 2))

            def cdf_data(k):
                return np.searchsorted(xs, k, side="right") / xs.size

        # E[(Y - K)_+] = r P(Y >= K) - K P(Y > K) for Y ~ Poisson(r)
        model_tail = max(0.0, r * model.sf(K - 1) - K * model.sf(K))
        v, bound = w1_integer(cdf_data, model.cdf, lo, K, data_tail + model_tail)
        return v + low_part, f"exact sum of |F_data(k) - F_model(k)| over k < {K}; omitted tail <= {bound:.1e}"
